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

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/metrics"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/protocol"
)

// Application error codes on QUIC connections and streams.
const (
	codeOK            quic.ApplicationErrorCode = 0
	codeProtocol      quic.ApplicationErrorCode = 1
	codeShutdown      quic.ApplicationErrorCode = 2
	codeRevoked       quic.ApplicationErrorCode = 3
	streamStoreFailed quic.StreamErrorCode      = 3
	streamBadFrame    quic.StreamErrorCode      = 4
	streamRevoked     quic.StreamErrorCode      = 5
)

// Server is the QUIC ingest endpoint.
type Server struct {
	Store     store.Store
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
	// Metrics counts connections, batches and refused points; nil: none.
	Metrics *metrics.Metrics
	// Admission bounds the agent handshakes in progress.
	Admission Admission
	// Now is the clock told to agents in Welcome (default time.Now); tests
	// set it to play a collector whose clock differs from the agent's.
	Now func() time.Time

	wg          sync.WaitGroup
	storeFailed atomic.Bool // logs a store outage once, not once per batch
}

// Serve accepts connections on addr until ctx is cancelled, then waits for
// in-flight batches to be stored and acked.
func (s *Server) Serve(ctx context.Context, ln *quic.Listener) error {
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
		s.refused(log, err)
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
		timeout = 10 * time.Second
	}
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	st, err := conn.AcceptStream(hctx)
	if err != nil {
		return nil, nil, fmt.Errorf("no control stream: %w", err)
	}
	st.SetDeadline(time.Now().Add(timeout))
	var hello protocol.Hello
	if err := protocol.NewFrameReader(st, 64<<10).Read(&hello); err != nil {
		return nil, nil, fmt.Errorf("read hello: %w", err)
	}
	reject := func(code protocol.Reject_Code, retry uint32, format string, args ...any) (*session, *quic.Stream, error) {
		msg := fmt.Sprintf(format, args...)
		protocol.WriteFrame(st, &protocol.HelloReply{Reply: &protocol.HelloReply_Reject{Reject: &protocol.Reject{
			Code: code, Message: msg, RetryAfterS: retry,
		}}}, protocol.DefaultMaxFrameBytes)
		st.Close()
		return nil, nil, &helloRefused{reason: rejectReason(code), msg: fmt.Sprintf("agent %q: %s", hello.AgentId, msg)}
	}
	if retry, busy := s.Admission.busy(); busy {
		rej, err := busyReject(retry, s.Admission.pending.Load())
		protocol.WriteFrame(st, &protocol.HelloReply{Reply: &protocol.HelloReply_Reject{Reject: rej}}, protocol.DefaultMaxFrameBytes)
		st.Close()
		return nil, nil, err
	}
	if hello.ProtocolVersion != protocol.Version {
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
		return reject(protocol.Reject_CODE_UNAUTHENTICATED, 0,
			"the agent token is unknown or revoked: create a new one with `vigil-collector token create --tenant TENANT --role agent` and put it in agent.token")
	}
	if err != nil {
		log.Error("cannot check agent token", "err", err)
		return reject(protocol.Reject_CODE_UNAVAILABLE, 10, "the collector cannot check tokens right now; retrying")
	}
	if tok.Role != store.RoleAgent {
		return reject(protocol.Reject_CODE_FORBIDDEN, 0,
			"the token has role %s, but an agent needs a token with role agent", tok.Role)
	}
	if tok.Agent != "" && tok.Agent != hello.AgentId {
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

// batch reads one Batch, stores it and acks it. Store failures reset the
// stream without an Ack, so the agent keeps the batch and resends it.
func (s *Server) batch(sess *session, st *quic.Stream) {
	st.SetDeadline(time.Now().Add(60 * time.Second))
	var b protocol.Batch
	if err := protocol.NewFrameReader(st, s.MaxFrameBytes).Read(&b); err != nil {
		sess.log.Warn("bad batch frame refused", "err", err)
		st.CancelRead(streamBadFrame)
		st.CancelWrite(streamBadFrame)
		return
	}
	read := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !s.authorized(ctx, sess, st, b.Seq) {
		return
	}
	res := s.Validator.Validate(sess.tenant, sess.agent, &b)
	res.Observe(s.Metrics)
	if res.Rejected > 0 {
		sess.log.Warn("points refused", "seq", b.Seq, "rejected", res.Rejected, "first_errors", res.Errors)
	}
	if err := s.Store.Write(ctx, &res.Write); err != nil {
		s.storeFailure(sess, st, "store writes failing: batches are not acked and wait in the agents' spools",
			"store write failed; batch not acked", "seq", b.Seq, "points", len(res.Write.Points), "err", err)
		return
	}
	if s.storeFailed.Swap(false) {
		sess.log.Info("store writes succeed again")
	}
	ack := &protocol.Ack{Seq: b.Seq, Accepted: res.Accepted, Rejected: res.Rejected, Errors: res.Errors}
	if err := protocol.WriteFrame(st, ack, s.MaxFrameBytes); err != nil {
		sess.log.Warn("send ack", "seq", b.Seq, "err", err)
		return
	}
	s.Metrics.Batch("quic", len(res.Write.Points), time.Since(read))
	st.Close()
	// Drain the agent's FIN so the stream is fully closed.
	io.Copy(io.Discard, io.LimitReader(st, 1))
}

// authorized checks the session's token again before a batch is stored,
// so that revoking it takes effect on the connection that is open, not
// only on the next one: the batch is refused without an Ack (it stays in
// the agent's spool) and the connection is closed with the reason; the
// agent's reconnect is then refused at Hello. When the store cannot say,
// the batch is not acked, as when its write fails.
func (s *Server) authorized(ctx context.Context, sess *session, st *quic.Stream, seq uint64) bool {
	_, err := auth.ByHash(ctx, s.Store, sess.token)
	if err == nil {
		return true
	}
	if errors.Is(err, auth.ErrInvalidToken) {
		sess.log.Warn("agent token revoked: batch refused, connection closed", "seq", seq)
		st.CancelRead(streamRevoked)
		st.CancelWrite(streamRevoked)
		sess.conn.CloseWithError(codeRevoked, truncate(fmt.Sprintf(
			"the agent token was revoked: create a new one with `vigil-collector token create --tenant %s --role agent` and put it in agent.token",
			sess.tenant), 200))
		return false
	}
	s.storeFailure(sess, st, "cannot check agent tokens: batches are not acked and wait in the agents' spools",
		"token check failed; batch not acked", "seq", seq, "err", err)
	return false
}

// storeFailure resets a batch's stream without an Ack after the store
// failed, logging first at the first failure of an outage, then debug
// at each one until a write succeeds again.
func (s *Server) storeFailure(sess *session, st *quic.Stream, first, each string, args ...any) {
	if !s.storeFailed.Swap(true) {
		sess.log.Error(first, args...)
	} else {
		sess.log.Debug(each, args...)
	}
	st.CancelWrite(streamStoreFailed)
	st.CancelRead(streamStoreFailed)
}
