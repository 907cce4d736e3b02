package api

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/ingest"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/protocol"
)

// The HTTPS fallback ingest (DESIGN §5, §7): the body of POST /v1/ingest is
// one framed protobuf Batch, exactly as on a QUIC batch stream, and the
// answer is its framed Ack, sent only once the store has durably written
// the batch. Anything else is a JSON error and no Ack, so the agent keeps
// the batch and sends it again.
const (
	// ProtobufType is the Content-Type of ingest requests and their Acks.
	ProtobufType = "application/x-protobuf"
	// AgentHeader names the agent a batch comes from (the QUIC side learns
	// it from Hello).
	AgentHeader = "X-Vigil-Agent"
	// MaxIngestBody is the largest request body: one frame of the
	// protocol's maximum size plus its length prefix.
	MaxIngestBody = protocol.DefaultMaxFrameBytes + binary.MaxVarintLen64

	// defaultMaxAge is used when the API's Validator has no MaxAge: the
	// collector's default raw retention.
	defaultMaxAge = 7 * 24 * time.Hour
	// seenEvery is how often an agent delivering over HTTPS has its
	// record's last_seen rewritten; between times batches skip it.
	seenEvery = 30 * time.Second
	// maxSeen bounds the memory of when agents were last recorded.
	maxSeen = 100000
)

func (a *API) ingest(r *http.Request, tok store.Token) (any, error) {
	agent := r.Header.Get(AgentHeader)
	if err := auth.ValidAgentID(agent); err != nil {
		return nil, badRequest("header %s: %v", AgentHeader, err)
	}
	if tok.Agent == "" {
		// As at the QUIC Hello: a token from before agent tokens were
		// bound to one agent could write for any agent of its tenant.
		a.refused(log0(a, tok, agent, r), "unbound_token", "token not bound to an agent")
		return nil, errorf(http.StatusForbidden, "unbound_token",
			"agent token %s is not bound to an agent id, so it could write for any agent of tenant %s, and this collector no longer accepts such tokens: "+
				"create one with `vigil-collector token create --tenant %s --role agent --agent %s`, put it in agent.token, "+
				"then revoke the old one with `vigil-collector token revoke --tenant %s --id %s`",
			tok.ID, tok.Tenant, tok.Tenant, agent, tok.Tenant, tok.ID)
	}
	if tok.Agent != agent {
		return nil, errorf(http.StatusForbidden, "forbidden",
			"the token belongs to agent %q, not %q: set agent.id to %q or use this agent's own token", tok.Agent, agent, tok.Agent)
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != ProtobufType {
		return nil, errorf(http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send the batch as Content-Type %s, not %q", ProtobufType, r.Header.Get("Content-Type"))
	}
	log := log0(a, tok, agent, r)
	tooLarge := func(err error) error {
		a.refused(log, "oversized", "oversized batch refused", "err", err)
		return errorf(http.StatusRequestEntityTooLarge, "too_large",
			"a batch may be at most %d bytes (one frame of at most %d bytes)", MaxIngestBody, protocol.DefaultMaxFrameBytes)
	}
	if r.ContentLength > MaxIngestBody {
		return nil, tooLarge(fmt.Errorf("Content-Length %d", r.ContentLength))
	}

	body := r.Body // bounded by serve to MaxIngestBody
	fr := protocol.NewFrameReader(body, protocol.DefaultMaxFrameBytes)
	var b protocol.Batch
	err := fr.Read(&b)
	if err == nil {
		// The body is one frame: anything after it is an error too.
		if _, next := fr.Next(); next != io.EOF {
			err = errSecondFrame
			if next != nil && !errors.Is(next, protocol.ErrTruncated) && !errors.Is(next, protocol.ErrFrameTooLarge) {
				err = next
			}
		}
	}
	if err == nil && b.Seq == 0 {
		err = errSeqZero
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) || errors.Is(err, protocol.ErrFrameTooLarge) {
			return nil, tooLarge(err)
		}
		reason := "undecodable"
		switch {
		case errors.Is(err, io.EOF):
			err = errors.New("the body is empty")
			reason = "empty"
		case errors.Is(err, protocol.ErrTruncated):
			reason = "truncated"
		case errors.Is(err, errSecondFrame):
			reason = "second_frame"
		case errors.Is(err, errSeqZero):
			reason = "seq_zero"
		}
		a.refused(log, reason, "bad batch refused", "err", err)
		return nil, badRequest("the body must be one length-prefixed protobuf Batch: %v", err)
	}

	v := a.Validator
	if v.MaxAge == 0 {
		v.MaxAge = defaultMaxAge
	}
	if v.Now == nil {
		v.Now = a.Now
	}
	read := time.Now()
	res := v.Validate(tok.Tenant, agent, &b)
	res.Observe(a.Metrics)
	if res.Rejected > 0 {
		a.logs.Warn(log, "points refused", "validation", "seq", b.Seq, "rejected", res.Rejected, "first_errors", res.Errors)
	}
	deadline := a.StoreDeadline
	if deadline <= 0 {
		deadline = ingest.DefaultStoreDeadline
	}
	// Logged where they arise, rate-limited: an outage refuses every batch.
	retryLater := func(reason, msg string) error {
		a.Metrics.BatchRefused("https", reason)
		e := errorf(http.StatusServiceUnavailable, "retry_later", "%s", msg).
			withHeader("Retry-After", strconv.Itoa(int(max(deadline.Round(time.Second), time.Second).Seconds())))
		e.logged = true
		return e
	}
	if err := a.writeWithin(&res.Write, deadline); err != nil {
		if errors.Is(err, errStoreDeadline) {
			a.logs.Warn(log, "batch refused", "store_deadline", "seq", b.Seq, "deadline", deadline)
			return nil, retryLater("store_deadline", fmt.Sprintf("batch %d not stored within the collector's store deadline of %s; send it again later", b.Seq, deadline))
		}
		a.logs.Log(log, slog.LevelError, "store write failed; batch not acked", "store", "seq", b.Seq, "points", len(res.Write.Points), "err", err)
		return nil, retryLater("store_failed", "the store did not accept the batch, so it was not acked; send it again later")
	}
	if a.Observer != nil {
		a.Observer.Stored(tok.Tenant, agent, &b, res.Write.Results)
	}
	ctx := r.Context()
	ack, err := protocol.AppendFrame(nil, &protocol.Ack{Seq: b.Seq, Accepted: res.Accepted, Rejected: res.Rejected, Errors: res.Errors})
	if err != nil {
		// Cannot happen for a well-formed Ack; the batch is stored and a
		// resend would be deduplicated.
		e := errorf(http.StatusInternalServerError, "internal", "the batch was stored but its ack could not be encoded")
		e.cause = fmt.Errorf("agent %s: encode the ack of batch %d: %w", agent, b.Seq, err)
		return nil, e
	}
	// The Ack first: recording the agent waits for the store.
	return reply{status: http.StatusOK, contentType: ProtobufType, body: ack, then: func() {
		a.Metrics.Batch("https", len(res.Write.Points), time.Since(read))
		a.recordSeen(ctx, tok.Tenant, agent, log)
	}}, nil
}

// errSecondFrame refuses a body that holds more than the batch's frame.
var errSecondFrame = errors.New("the body holds more than one frame")

// errSeqZero refuses a batch of seq 0 (or an empty frame): seqs start at 1.
var errSeqZero = errors.New("batch seq 0 (or an empty frame): batch seqs start at 1")

// errStoreDeadline is a store write that did not finish within the
// collector's store deadline.
var errStoreDeadline = errors.New("store write did not finish within the store deadline")

// writeWithin writes w, waiting at most deadline for the store. The write
// itself runs on afterwards, so that nothing is cut off half-way; it is
// idempotent, so the agent's resend is safe, and Wait waits for it.
func (a *API) writeWithin(w *store.WriteRequest, deadline time.Duration) error {
	done := make(chan error, 1)
	a.writes.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		done <- a.Store.Write(ctx, w)
	})
	t := time.NewTimer(deadline)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return errStoreDeadline
	}
}

// Wait waits for store writes of ingested batches that are still running
// after their request was answered. Call it after the HTTP server's
// Shutdown and before closing the store.
func (a *API) Wait() { a.writes.Wait() }

// refused counts and logs (rate-limited) a batch refused for reason.
func (a *API) refused(log *slog.Logger, reason, msg string, args ...any) {
	a.Metrics.BatchRefused("https", reason)
	a.logs.Warn(log, msg, reason, args...)
}

func log0(a *API, tok store.Token, agent string, r *http.Request) *slog.Logger {
	return a.Log.With("tenant", tok.Tenant, "agent", agent, "remote", r.RemoteAddr, "via", "https")
}

// recordSeen updates last_seen of an agent delivering over HTTPS, at most
// every seenEvery. It keeps the rest of the record (hostname, version and
// labels come from the QUIC Hello, which HTTPS has not got) and leaves
// connected as it is: that flag is about QUIC sessions. The collector is
// set to this one only while no QUIC session claims the agent.
func (a *API) recordSeen(ctx context.Context, tenant, agent string, log *slog.Logger) {
	now := a.now().UTC()
	if !a.seen.due(tenant+"/"+agent, now) {
		return
	}
	// Agents lists the whole tenant; the throttle above keeps that rare.
	list, err := a.Store.Agents(ctx, tenant)
	if err != nil {
		log.Error("record agent: list agents", "err", err)
		return
	}
	rec := store.Agent{Tenant: tenant, ID: agent}
	for _, ag := range list {
		if ag.ID == agent {
			rec = ag
			break
		}
	}
	rec.LastSeen = now
	if !rec.Connected {
		rec.Collector = a.Name
	}
	if err := a.Store.UpsertAgent(ctx, rec); err != nil {
		log.Error("record agent", "err", err)
	}
}

// seenAgents remembers when each agent was last recorded. The zero value
// is ready to use.
type seenAgents struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// due reports whether key was last recorded at least seenEvery before now,
// and if so notes now.
func (s *seenAgents) due(key string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.last[key]; ok && now.Sub(t) < seenEvery && !now.Before(t) {
		return false
	}
	if s.last == nil || len(s.last) >= maxSeen {
		s.last = map[string]time.Time{}
	}
	s.last[key] = now
	return true
}
