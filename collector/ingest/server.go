// Package ingest accepts agents over QUIC: it authenticates each agent's
// Hello (and its token again before each batch, so a revocation reaches
// open connections), validates its batches and acks each one only after
// the store has durably written it.
package ingest

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"google.golang.org/protobuf/proto"

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/metrics"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/internal/lograte"
	"github.com/vigilmon/vigil/protocol"
)

// Application error codes on QUIC connections and streams.
const (
	codeOK        quic.ApplicationErrorCode = 0
	codeProtocol  quic.ApplicationErrorCode = 1
	codeShutdown  quic.ApplicationErrorCode = 2
	codeRevoked   quic.ApplicationErrorCode = 3
	streamRefused quic.StreamErrorCode      = 6 // stops the agent's sending after a refusal
)

// Defaults of the Server's limits.
const (
	DefaultHelloTimeout  = 10 * time.Second
	DefaultStoreDeadline = 2 * time.Second
	// defaultMaxPendingWrites bounds the store writes still running after
	// their batch was refused for missing the store deadline.
	defaultMaxPendingWrites = 256
	// trailerWait is how long a batch stream may stay open after its frame;
	// the agent sends its FIN with the frame.
	trailerWait = 5 * time.Second
)

// Store is what the Server needs of the store: the batches it writes, the
// records of the agents connected, and the tokens it checks.
type Store interface {
	store.Writer
	store.AgentStore
	store.TokenStore
}

// BatchObserver is told of each batch after it is durably stored, with
// the check results validation accepted (in the batch's order; the others
// were refused and must not be acted on). Stored must return at once and
// never fail ingest (the alarm evaluator queues the batch, or drops and
// counts it when its queue is full); it must not modify b or stored, and
// may keep them.
type BatchObserver interface {
	Stored(tenant, agent string, b *protocol.Batch, stored []store.CheckResult)
}

// Server is the QUIC ingest endpoint.
type Server struct {
	Store     Store
	Log       *slog.Logger
	Name      string // this collector's name, recorded on connected agents
	Validator Validator
	// MaxInflight is announced in Welcome and enforced as the peer's
	// stream limit.
	MaxInflight int
	// MaxFrameBytes is announced in Welcome and enforced on every frame.
	MaxFrameBytes int
	// HelloTimeout bounds how long a new connection may take to say Hello
	// (default 10s), so idle connections cannot pile up.
	HelloTimeout time.Duration
	// StoreDeadline bounds how long a batch waits for the store (token
	// check and write) before the agent is told to retry later (default
	// 2s). It must be shorter than the agents' ack_timeout (3s by
	// default): an agent that hears nothing takes the collector for dead
	// and reconnects, which a stalled store turns into a storm of Hellos.
	StoreDeadline time.Duration
	// MaxPendingWrites bounds the store writes still running after their
	// deadline (default 256); beyond it a batch is refused with retry
	// later at once, so a stalled store cannot pile up goroutines.
	MaxPendingWrites int
	// Metrics counts connections, batches and refused points; nil: none.
	Metrics *metrics.Metrics
	// Admission bounds the agent handshakes in progress.
	Admission Admission
	// Now is the clock told to agents in Welcome (default time.Now); tests
	// set it to play a collector whose clock differs from the agent's.
	Now func() time.Time
	// Observer, if set, is told of each batch once it is stored (alarm
	// evaluation); it must not block.
	Observer BatchObserver

	wg          sync.WaitGroup
	storeFailed atomic.Bool // logs a store outage once, not once per batch
	pending     atomic.Int64
	logs        lograte.Limiter // warnings a client can trigger
}

// Serve accepts connections on addr until ctx is cancelled, then waits for
// in-flight batches to be stored and acked.
func (s *Server) Serve(ctx context.Context, ln *quic.Listener) error {
	defer s.logs.Close()
	defer s.wg.Wait()
	for {
		conn, err := ln.Accept(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept QUIC connection: %w", err)
		}
		s.wg.Go(func() { s.handle(ctx, conn) })
	}
}

// Listen opens the QUIC listener with the protocol's settings.
func (s *Server) Listen(addr string, cert tls.Certificate) (*quic.Listener, error) {
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{protocol.ALPN},
		Certificates: []tls.Certificate{cert},
	}
	qc := &quic.Config{
		HandshakeIdleTimeout: 5 * time.Second,
		// Agents keep their connections alive and notice failures by
		// missing acks; the collector only drops connections idle for
		// longer than any agent's gap between batches.
		MaxIdleTimeout:        2 * time.Minute,
		MaxIncomingStreams:    int64(s.MaxInflight) + 1, // batches plus the control stream
		MaxIncomingUniStreams: -1,
	}
	ln, err := quic.ListenAddr(addr, tc, qc)
	if err != nil {
		return nil, fmt.Errorf("listen QUIC on %s: %w", addr, err)
	}
	return ln, nil
}

// session is one welcomed agent connection.
type session struct {
	tenant, agent string
	token         store.TokenHash // checked again before each batch
	conn          *quic.Conn
	log           *slog.Logger
	rec           store.Agent
}

func (s *Server) handle(ctx context.Context, conn *quic.Conn) {
	log := s.Log.With("remote", conn.RemoteAddr().String())
	s.Admission.begin()
	sess, ctrl, err := s.hello(ctx, conn, log)
	if err != nil {
		s.Admission.end()
		reason := "bad_hello"
		var hr *helloRefusal
		if errors.As(err, &hr) {
			reason = hr.reason
		}
		s.Metrics.HelloRefused(reason)
		s.logs.Warn(log, "agent refused", reason, "err", err)
		// Give the Reject frame time to reach the agent before closing.
		time.Sleep(100 * time.Millisecond)
		conn.CloseWithError(codeProtocol, truncate(err.Error(), 200))
		return
	}
	defer ctrl.Close()
	sess.log.Info("agent connected")
	s.record(sess, true)
	s.Admission.end()
	defer s.record(sess, false)
	s.Metrics.AgentConnected(1)
	defer s.Metrics.AgentConnected(-1)

	var streams sync.WaitGroup
	for {
		st, err := conn.AcceptStream(ctx)
		if err != nil {
			// Batches already read are stored and acked before the
			// connection closes, so a stopping collector acks what it has.
			streams.Wait()
			if ctx.Err() != nil {
				conn.CloseWithError(codeShutdown, "collector shutting down")
				sess.log.Info("agent disconnected: collector shutting down")
			} else {
				sess.log.Info("agent disconnected", "reason", err)
			}
			return
		}
		streams.Go(func() { s.batch(sess, st) })
	}
}

func (s *Server) hello(ctx context.Context, conn *quic.Conn, log *slog.Logger) (*session, *quic.Stream, error) {
	timeout := s.HelloTimeout
	if timeout == 0 {
		timeout = DefaultHelloTimeout
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := conn.AcceptStream(hctx)
	if err != nil {
		return nil, nil, &helloRefusal{"no_hello", fmt.Errorf("no control stream within %s: %w", timeout, err)}
	}
	st.SetDeadline(time.Now().Add(timeout))
	var hello protocol.Hello
	if err := protocol.NewFrameReader(st, 64<<10).Read(&hello); err != nil {
		return nil, nil, &helloRefusal{"bad_hello", fmt.Errorf("read hello: %w", err)}
	}
	reason := "bad_request"
	reject := func(code protocol.Reject_Code, retry uint32, format string, args ...any) (*session, *quic.Stream, error) {
		msg := fmt.Sprintf(format, args...)
		// The caller logs the refusal whether or not the reject arrives;
		// an agent that cannot read it sees the stream end and retries.
		_ = protocol.WriteFrame(st, &protocol.HelloReply{Reply: &protocol.HelloReply_Reject{Reject: &protocol.Reject{
			Code: code, Message: msg, RetryAfterS: retry,
		}}}, protocol.DefaultMaxFrameBytes)
		st.Close()
		return nil, nil, &helloRefusal{reason, fmt.Errorf("agent %q: %s", hello.AgentId, msg)}
	}
	if retry, busy := s.Admission.busy(); busy {
		rej, err := busyReject(retry, s.Admission.pending.Load())
		// As in reject: the refusal is logged either way.
		_ = protocol.WriteFrame(st, &protocol.HelloReply{Reply: &protocol.HelloReply_Reject{Reject: rej}}, protocol.DefaultMaxFrameBytes)
		st.Close()
		return nil, nil, err
	}
	if hello.ProtocolVersion != protocol.Version {
		reason = "unsupported_version"
		return reject(protocol.Reject_CODE_UNSUPPORTED_VERSION, 0,
			"protocol version %d is not supported; this collector speaks version %d: upgrade the agent or the collector", hello.ProtocolVersion, protocol.Version)
	}
	if err := auth.ValidAgentID(hello.AgentId); err != nil {
		return reject(protocol.Reject_CODE_BAD_REQUEST, 0, "%v: fix agent.id in the agent config", err)
	}
	if len(hello.Labels) > maxLabels {
		return reject(protocol.Reject_CODE_BAD_REQUEST, 0, "%d agent labels, at most %d allowed: fix agent.labels", len(hello.Labels), maxLabels)
	}
	for k, v := range hello.Labels {
		if err := validLabelKey(k); err != nil {
			return reject(protocol.Reject_CODE_BAD_REQUEST, 0, "agent.labels: %v", err)
		}
		if len(v) > maxLabelValueLen || !printable(v) {
			return reject(protocol.Reject_CODE_BAD_REQUEST, 0, "agent.labels.%s: value must be at most %d bytes of printable UTF-8", k, maxLabelValueLen)
		}
	}
	tok, err := auth.Authenticate(ctx, s.Store, hello.Token)
	if errors.Is(err, auth.ErrInvalidToken) {
		reason = "unauthenticated"
		return reject(protocol.Reject_CODE_UNAUTHENTICATED, 0,
			"the agent token is unknown or revoked: create a new one with `vigil-collector token create --tenant TENANT --role agent --agent %s` and put it in agent.token", hello.AgentId)
	}
	if err != nil {
		reason = "token_check_failed"
		s.logs.Log(log, slog.LevelError, "cannot check agent token", "store", "err", err)
		return reject(protocol.Reject_CODE_UNAVAILABLE, 10, "the collector cannot check tokens right now; retrying")
	}
	if tok.Role != store.RoleAgent {
		reason = "forbidden"
		return reject(protocol.Reject_CODE_FORBIDDEN, 0,
			"the token has role %s, but an agent needs a token with role agent", tok.Role)
	}
	if tok.Agent == "" {
		// Tokens made before role agent required an agent id could write
		// for, and overwrite the inventory record of, any agent of their
		// tenant. They are refused rather than bound to the first agent
		// that uses them, which could be the wrong one.
		reason = "unbound_token"
		return reject(protocol.Reject_CODE_FORBIDDEN, 0,
			"agent token %s is not bound to an agent id, so it could write for any agent of tenant %s, and this collector no longer accepts such tokens: "+
				"create one with `vigil-collector token create --tenant %s --role agent --agent %s`, put it in agent.token, "+
				"then revoke the old one with `vigil-collector token revoke --tenant %s --id %s`",
			tok.ID, tok.Tenant, tok.Tenant, hello.AgentId, tok.Tenant, tok.ID)
	}
	if tok.Agent != hello.AgentId {
		reason = "forbidden"
		return reject(protocol.Reject_CODE_FORBIDDEN, 0,
			"the token belongs to agent %q, not %q: set agent.id to %q or use this agent's own token", tok.Agent, hello.AgentId, tok.Agent)
	}
	var id [8]byte
	rand.Read(id[:])
	welcome := &protocol.HelloReply{Reply: &protocol.HelloReply_Welcome{Welcome: &protocol.Welcome{
		SessionId:     hex.EncodeToString(id[:]),
		ServerTimeMs:  s.now().UnixMilli(),
		MaxFrameBytes: uint32(s.MaxFrameBytes),
		MaxInflight:   uint32(s.MaxInflight),
	}}}
	if err := protocol.WriteFrame(st, welcome, protocol.DefaultMaxFrameBytes); err != nil {
		return nil, nil, fmt.Errorf("send welcome: %w", err)
	}
	st.SetDeadline(time.Time{})
	sess := &session{tenant: tok.Tenant, agent: hello.AgentId, token: tok.Hash, conn: conn,
		log: s.Log.With("tenant", tok.Tenant, "agent", hello.AgentId, "remote", conn.RemoteAddr().String())}
	sess.rec = store.Agent{Tenant: tok.Tenant, ID: hello.AgentId, Hostname: truncate(hello.Hostname, 255),
		Version: truncate(hello.AgentVersion, 64), Labels: hello.Labels, Collector: s.Name}
	return sess, st, nil
}

// record writes the agent's record with its connection state.
func (s *Server) record(sess *session, connected bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sess.rec.Connected = connected
	sess.rec.LastSeen = time.Now().UTC()
	if err := s.Store.UpsertAgent(ctx, sess.rec); err != nil {
		sess.log.Error("record agent", "connected", connected, "err", err)
	}
}

// helloRefusal is why a connection was refused before its session began;
// reason is a short, stable word for metrics and for rate-limiting the log.
type helloRefusal struct {
	reason string
	err    error
}

func (e *helloRefusal) Error() string { return e.err.Error() }
func (e *helloRefusal) Unwrap() error { return e.err }

// badFrame is why a batch stream's bytes are not a batch.
type badFrame struct {
	reason string // short and stable: metrics label and log key
	msg    string // for the agent's operator
}

// batchStream is the receiving side of a batch stream.
type batchStream interface {
	io.Reader
	SetReadDeadline(time.Time) error
}

// readBatch reads the one frame of a batch stream and makes sure nothing
// follows it: a second frame is refused, not dropped, since the agent
// would take its Ack for both.
func readBatch(st batchStream, maxFrame int) (*protocol.Batch, *badFrame) {
	fr := protocol.NewFrameReader(st, maxFrame)
	payload, err := fr.Next()
	switch {
	case errors.Is(err, io.EOF):
		return nil, &badFrame{"empty", "the batch stream ended before its frame"}
	case errors.Is(err, protocol.ErrFrameTooLarge):
		return nil, &badFrame{"oversized", fmt.Sprintf("batch refused: %v; split the batch", err)}
	case errors.Is(err, protocol.ErrTruncated):
		return nil, &badFrame{"truncated", fmt.Sprintf("batch refused: %v (the stream ended inside the frame)", err)}
	case err != nil:
		return nil, &badFrame{"read_error", fmt.Sprintf("batch refused: %v", err)}
	case len(payload) == 0:
		return nil, &badFrame{"empty", "batch refused: the frame is empty (0 bytes)"}
	}
	var b protocol.Batch
	if err := proto.Unmarshal(payload, &b); err != nil {
		return nil, &badFrame{"undecodable", fmt.Sprintf("batch refused: the frame is not a protobuf Batch: %v", err)}
	}
	if b.Seq == 0 {
		return nil, &badFrame{"seq_zero", "batch refused: seq 0; batch seqs start at 1 (an Ack of seq 0 is a refusal)"}
	}
	_ = st.SetReadDeadline(time.Now().Add(trailerWait)) // a quic.Stream's never fails
	switch _, err := fr.Next(); {
	case errors.Is(err, io.EOF):
		return &b, nil
	case err == nil || errors.Is(err, protocol.ErrFrameTooLarge) || errors.Is(err, protocol.ErrTruncated):
		return nil, &badFrame{"second_frame", fmt.Sprintf("batch %d refused: more bytes followed its frame; a batch stream carries exactly one frame", b.Seq)}
	default:
		return nil, &badFrame{"not_finished", fmt.Sprintf("batch %d refused: the stream was not finished within %s of its frame: %v", b.Seq, trailerWait, err)}
	}
}

// outcome is what became of a batch handed to the store.
type outcome struct {
	res     *Result
	err     error // the token check or the write failed
	revoked bool
}

// batch reads one Batch, stores it and acks it. A batch that is not
// stored is answered by a refusal saying why (an Ack of seq 0), so the
// agent keeps it and knows whether and when to resend.
func (s *Server) batch(sess *session, st *quic.Stream) {
	st.SetDeadline(time.Now().Add(60 * time.Second))
	b, bad := readBatch(st, s.MaxFrameBytes)
	if bad != nil {
		s.refuse(sess, st, protocol.Refusal_CODE_BAD_FRAME, bad.reason, bad.msg, 0)
		return
	}
	read := time.Now()
	deadline := s.StoreDeadline
	if deadline <= 0 {
		deadline = DefaultStoreDeadline
	}
	maxPending := s.MaxPendingWrites
	if maxPending <= 0 {
		maxPending = defaultMaxPendingWrites
	}
	if s.pending.Add(1) > int64(maxPending) {
		s.pending.Add(-1)
		s.refuse(sess, st, protocol.Refusal_CODE_RETRY_LATER, "store_busy",
			fmt.Sprintf("batch %d not stored: the store is still busy with %d writes that missed their deadline; resend later", b.Seq, maxPending), deadline)
		return
	}
	// The write runs on after the deadline: interrupting it could leave a
	// half-written batch, and letting it finish is safe since writes are
	// idempotent and the agent resends the batch anyway.
	done := make(chan outcome, 1)
	s.wg.Go(func() {
		defer s.pending.Add(-1)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := time.Now()
		o := s.store(ctx, sess, b)
		if took := time.Since(start); took > deadline {
			sess.log.Debug("store write finished after its deadline", "seq", b.Seq, "took", took, "err", o.err)
		}
		done <- o
	})
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	var o outcome
	select {
	case o = <-done:
	case <-timer.C:
		s.refuse(sess, st, protocol.Refusal_CODE_RETRY_LATER, "store_deadline",
			fmt.Sprintf("batch %d not stored within the collector's store deadline of %s; resend it later", b.Seq, deadline), deadline)
		return
	}
	switch {
	case o.revoked:
		msg := fmt.Sprintf("the agent token was revoked: create a new one with `vigil-collector token create --tenant %s --role agent --agent %s` and put it in agent.token",
			sess.tenant, sess.agent)
		s.refuse(sess, st, protocol.Refusal_CODE_REVOKED, "revoked", msg, 0)
		// Close once the refusal has had time to reach the agent: closing
		// the connection discards what is not yet sent.
		time.AfterFunc(200*time.Millisecond, func() { sess.conn.CloseWithError(codeRevoked, truncate(msg, 200)) })
		return
	case o.err != nil:
		s.refuse(sess, st, protocol.Refusal_CODE_RETRY_LATER, "store_failed",
			fmt.Sprintf("batch %d not stored: the collector's store failed; resend it later", b.Seq), deadline)
		return
	}
	res := o.res
	ack := &protocol.Ack{Seq: b.Seq, Accepted: res.Accepted, Rejected: res.Rejected, Errors: res.Errors}
	if err := protocol.WriteFrame(st, ack, s.MaxFrameBytes); err != nil {
		s.logs.Warn(sess.log, "send ack", "write", "seq", b.Seq, "err", err)
		return
	}
	s.Metrics.Batch("quic", len(res.Write.Points), time.Since(read))
	st.Close()
	// Drain the agent's FIN so the stream is fully closed.
	// An error means the agent reset the stream instead: closed either way.
	_, _ = io.Copy(io.Discard, io.LimitReader(st, 1))
}

// store checks the session's token again, validates the batch and writes
// it. The token is checked before each batch so that revoking it takes
// effect on the connection that is open, not only on the next one.
func (s *Server) store(ctx context.Context, sess *session, b *protocol.Batch) outcome {
	if _, err := auth.ByHash(ctx, s.Store, sess.token); err != nil {
		if errors.Is(err, auth.ErrInvalidToken) {
			return outcome{revoked: true}
		}
		s.storeFailure(sess, "cannot check agent tokens: batches are refused with retry later and wait in the agents' spools",
			"token check failed; batch refused", "seq", b.Seq, "err", err)
		return outcome{err: err}
	}
	res := s.Validator.Validate(sess.tenant, sess.agent, b)
	res.Observe(s.Metrics)
	if res.Rejected > 0 {
		s.logs.Warn(sess.log, "points refused", "validation", "seq", b.Seq, "rejected", res.Rejected, "first_errors", res.Errors)
	}
	if err := s.Store.Write(ctx, &res.Write); err != nil {
		s.storeFailure(sess, "store writes failing: batches are refused with retry later and wait in the agents' spools",
			"store write failed; batch refused", "seq", b.Seq, "points", len(res.Write.Points), "err", err)
		return outcome{err: err}
	}
	if s.storeFailed.Swap(false) {
		sess.log.Info("store writes succeed again")
	}
	if s.Observer != nil {
		s.Observer.Stored(sess.tenant, sess.agent, b, res.Write.Results)
	}
	return outcome{res: res}
}

// refuse answers a batch with a refusal instead of an Ack, then finishes
// the stream gracefully so the agent reads it (a reset would discard it)
// and stops the agent's sending of whatever is left of an oversized frame.
func (s *Server) refuse(sess *session, st *quic.Stream, code protocol.Refusal_Code, reason, msg string, retry time.Duration) {
	s.Metrics.BatchRefused("quic", reason)
	level := slog.LevelWarn
	if code == protocol.Refusal_CODE_RETRY_LATER {
		level = slog.LevelDebug // the store's own failure is logged once per outage
		if reason == "store_deadline" || reason == "store_busy" {
			level = slog.LevelWarn
		}
	}
	what := "batch refused"
	if code == protocol.Refusal_CODE_REVOKED {
		what = "agent token revoked: batch refused, connection closed"
	}
	s.logs.Log(sess.log, level, what, reason, "code", code.String(), "why", msg)
	ack := &protocol.Ack{Refusal: &protocol.Refusal{Code: code, Message: truncate(msg, 1000), RetryAfterMs: uint32(retry.Milliseconds())}}
	st.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := protocol.WriteFrame(st, ack, s.MaxFrameBytes); err != nil {
		st.CancelWrite(streamRefused)
	} else {
		st.Close()
	}
	st.CancelRead(streamRefused)
}

// storeFailure logs a failed store call: at error level at the first
// failure of an outage, then at debug level at each one until a write
// succeeds again.
func (s *Server) storeFailure(sess *session, first, each string, args ...any) {
	if !s.storeFailed.Swap(true) {
		sess.log.Error(first, args...)
	} else {
		sess.log.Debug(each, args...)
	}
}
