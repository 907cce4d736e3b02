package ingest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
	"github.com/vigilmon/vigil/protocol"
)

func selfSigned(t *testing.T) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

type fixture struct {
	addr  string
	store store.Store
	srv   *Server
	logs  *syncBuffer
}

// syncBuffer collects the server's log lines, written from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newFixture serves ingest on 127.0.0.1 over a real Pebble store; opts
// adjust the server before it starts.
func newFixture(t *testing.T, opts ...func(*Server)) *fixture {
	return newFixtureWith(t, Validator{MaxAge: time.Hour}, opts...)
}

func newFixtureWith(t *testing.T, v Validator, opts ...func(*Server)) *fixture {
	st, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	srv := &Server{Store: st, Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Name: "test",
		Validator: v, MaxInflight: 4, MaxFrameBytes: 64 << 10, HelloTimeout: time.Second}
	for _, o := range opts {
		o(srv)
	}
	ln, err := srv.Listen("127.0.0.1:0", selfSigned(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	// Serve returns nil once ctx is cancelled; anything else stopped it early.
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		ln.Close()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
		st.Close()
	})
	return &fixture{addr: ln.Addr().String(), store: st, srv: srv, logs: logs}
}

func (f *fixture) token(t *testing.T, tenant string, role store.Role, agent string) string {
	tok, _, err := auth.Create(context.Background(), f.store, tenant, role, agent)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// dial connects as an agent and returns the collector's reply to Hello.
func (f *fixture) dial(t *testing.T, hello *protocol.Hello) (*quic.Conn, *protocol.HelloReply) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(ctx, f.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{protocol.ALPN}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseWithError(0, "") })
	st, err := conn.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := protocol.WriteFrame(st, hello, protocol.DefaultMaxFrameBytes); err != nil {
		t.Fatal(err)
	}
	var reply protocol.HelloReply
	if err := protocol.NewFrameReader(st, protocol.DefaultMaxFrameBytes).Read(&reply); err != nil {
		t.Fatal(err)
	}
	return conn, &reply
}

func send(conn *quic.Conn, raw []byte) (*protocol.Ack, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	st.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := st.Write(raw); err != nil {
		return nil, err
	}
	st.Close()
	var ack protocol.Ack
	if err := protocol.NewFrameReader(st, protocol.DefaultMaxFrameBytes).Read(&ack); err != nil {
		return nil, err
	}
	return &ack, nil
}

func TestHelloRejections(t *testing.T) {
	f := newFixture(t)
	agentTok := f.token(t, "acme", store.RoleAgent, "web-1")
	readTok := f.token(t, "acme", store.RoleRead, "")
	tests := []struct {
		name  string
		hello *protocol.Hello
		code  protocol.Reject_Code
		msg   string
	}{
		{"unknown token", &protocol.Hello{ProtocolVersion: 1, AgentId: "web-1", Token: "vgl_nope"}, protocol.Reject_CODE_UNAUTHENTICATED, "token is unknown or revoked"},
		{"read token", &protocol.Hello{ProtocolVersion: 1, AgentId: "web-1", Token: readTok}, protocol.Reject_CODE_FORBIDDEN, "role read"},
		{"other agent", &protocol.Hello{ProtocolVersion: 1, AgentId: "web-2", Token: agentTok}, protocol.Reject_CODE_FORBIDDEN, `belongs to agent "web-1"`},
		{"old protocol", &protocol.Hello{ProtocolVersion: 99, AgentId: "web-1", Token: agentTok}, protocol.Reject_CODE_UNSUPPORTED_VERSION, "version 99"},
		{"bad agent id", &protocol.Hello{ProtocolVersion: 1, AgentId: "web 1", Token: agentTok}, protocol.Reject_CODE_BAD_REQUEST, "agent.id"},
		{"bad label", &protocol.Hello{ProtocolVersion: 1, AgentId: "web-1", Token: agentTok, Labels: map[string]string{"Env": "x"}}, protocol.Reject_CODE_BAD_REQUEST, "agent.labels"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, reply := f.dial(t, tt.hello)
			rej := reply.GetReject()
			if rej == nil {
				t.Fatalf("got %v, want a Reject", reply)
			}
			if rej.Code != tt.code || !strings.Contains(rej.Message, tt.msg) {
				t.Fatalf("got %s %q, want %s containing %q", rej.Code, rej.Message, tt.code, tt.msg)
			}
		})
	}
}

func TestBatchStoredAndAcked(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "acme", store.RoleAgent, "web-1")
	conn, reply := f.dial(t, &protocol.Hello{ProtocolVersion: 1, AgentId: "web-1", Token: tok, Hostname: "web-1.example"})
	w := reply.GetWelcome()
	if w == nil || w.MaxInflight != 4 || w.MaxFrameBytes != 64<<10 || w.SessionId == "" {
		t.Fatalf("welcome: %v", reply)
	}
	ts := time.Now().UnixMilli()
	batch := &protocol.Batch{Seq: 42, Results: []*protocol.CheckResult{{Check: "cpu", TimestampMs: ts, Status: protocol.Status_STATUS_OK,
		Metrics: []*protocol.Metric{gauge("usage_percent", 12.5), gauge("bad name", 1)}}}}
	raw, _ := protocol.AppendFrame(nil, batch)
	ack, err := send(conn, raw)
	if err != nil {
		t.Fatal(err)
	}
	if ack.Seq != 42 || ack.Accepted != 1 || ack.Rejected != 1 || len(ack.Errors) != 1 {
		t.Fatalf("ack: %v", ack)
	}
	// Resending the same batch (a retry) leaves one point.
	if _, err := send(conn, raw); err != nil {
		t.Fatal(err)
	}
	series, err := f.store.Series(context.Background(), store.SeriesFilter{Tenant: "acme", Agent: "web-1", Check: "cpu", Metric: "usage_percent"})
	if err != nil || len(series) != 1 {
		t.Fatalf("series %v, err %v", series, err)
	}
	pts, err := f.store.Points(context.Background(), series[0].ID, ts-1, ts+1, 0)
	if err != nil || len(pts) != 1 || pts[0].Value != 12.5 {
		t.Fatalf("points %v, err %v", pts, err)
	}
	agents, err := f.store.Agents(context.Background(), "acme")
	if err != nil || len(agents) != 1 || !agents[0].Connected || agents[0].Hostname != "web-1.example" || agents[0].Collector != "test" {
		t.Fatalf("agents %+v, err %v", agents, err)
	}
}

// A malformed or oversized batch fails only its own stream: the same agent's
// next batch and another agent's connection carry on.
func TestBadFrameIsolated(t *testing.T) {
	f := newFixture(t)
	a, _ := f.dial(t, &protocol.Hello{ProtocolVersion: 1, AgentId: "a", Token: f.token(t, "acme", store.RoleAgent, "a")})
	b, _ := f.dial(t, &protocol.Hello{ProtocolVersion: 1, AgentId: "b", Token: f.token(t, "acme", store.RoleAgent, "b")})

	oversize := binary.AppendUvarint(nil, 1<<20) // over the 64 KiB limit
	oversize = append(oversize, make([]byte, 100)...)
	if ack, err := send(a, oversize); err == nil && ack.GetRefusal() == nil {
		t.Fatal("oversized frame was acked")
	}
	garbage := binary.AppendUvarint(nil, 3)
	garbage = append(garbage, 0xff, 0xff, 0xff)
	if ack, err := send(a, garbage); err == nil && ack.GetRefusal() == nil {
		t.Fatal("undecodable frame was acked")
	}
	good, _ := protocol.AppendFrame(nil, &protocol.Batch{Seq: 1, Results: []*protocol.CheckResult{{Check: "cpu", TimestampMs: time.Now().UnixMilli(),
		Metrics: []*protocol.Metric{gauge("x", 1)}}}})
	for name, conn := range map[string]*quic.Conn{"a": a, "b": b} {
		ack, err := send(conn, good)
		if err != nil || ack.Accepted != 1 {
			t.Fatalf("agent %s after a bad frame: ack %v, err %v", name, ack, err)
		}
	}
}

func TestNoControlStream(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(ctx, f.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{protocol.ALPN}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := conn.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Write([]byte{0x05, 1}); err != nil { // a truncated Hello, then silence
		t.Fatal(err)
	}
	_, err = io.ReadAll(st)
	var appErr *quic.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("got %v, want the collector to close the connection", err)
	}
}

// TestRevokedTokenRefused: revoking an agent's token refuses its next
// batch on the connection that is open (no Ack, nothing stored) and
// closes the connection with the reason; the agent's reconnect is refused
// at Hello. Another agent's connection carries on.
func TestRevokedTokenRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, rec, err := auth.Create(ctx, f.store, "acme", store.RoleAgent, "web-1")
	if err != nil {
		t.Fatal(err)
	}
	hello := &protocol.Hello{ProtocolVersion: 1, AgentId: "web-1", Token: tok}
	conn, reply := f.dial(t, hello)
	if reply.GetWelcome() == nil {
		t.Fatalf("valid token: %v", reply)
	}
	other, _ := f.dial(t, &protocol.Hello{ProtocolVersion: 1, AgentId: "web-2", Token: f.token(t, "acme", store.RoleAgent, "web-2")})
	ts := time.Now().UnixMilli()
	batch := func(seq uint64, ts int64) []byte {
		raw, _ := protocol.AppendFrame(nil, &protocol.Batch{Seq: seq, Results: []*protocol.CheckResult{{Check: "cpu", TimestampMs: ts,
			Metrics: []*protocol.Metric{gauge("usage_percent", float64(seq))}}}})
		return raw
	}
	if ack, err := send(conn, batch(1, ts-2000)); err != nil || ack.Accepted != 1 {
		t.Fatalf("before revocation: ack %v, err %v", ack, err)
	}

	if _, err := auth.Revoke(ctx, f.store, "acme", rec.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The agent learns why its batch was refused before the connection closes.
	if ack, err := send(conn, batch(2, ts-1000)); err != nil || ack.GetRefusal().GetCode() != protocol.Refusal_CODE_REVOKED ||
		!strings.Contains(ack.GetRefusal().GetMessage(), "token was revoked") {
		t.Fatalf("batch after revocation: ack %v, err %v; want a REVOKED refusal", ack, err)
	}
	select {
	case <-conn.Context().Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the connection of a revoked token stayed open")
	}
	var appErr *quic.ApplicationError
	if cause := context.Cause(conn.Context()); !errors.As(cause, &appErr) || appErr.ErrorCode != codeRevoked ||
		!strings.Contains(appErr.ErrorMessage, "token was revoked") || !strings.Contains(appErr.ErrorMessage, "token create --tenant acme --role agent") {
		t.Fatalf("connection closed with %v, want code %d and the reason", cause, codeRevoked)
	}
	series, err := f.store.Series(ctx, store.SeriesFilter{Tenant: "acme", Agent: "web-1", Check: "cpu", Metric: "usage_percent"})
	if err != nil || len(series) != 1 {
		t.Fatalf("series %v, err %v", series, err)
	}
	if pts, err := f.store.Points(ctx, series[0].ID, ts-10_000, ts+1, 0); err != nil || len(pts) != 1 || pts[0].Value != 1 {
		t.Fatalf("points %v, err %v: want only the batch sent before revocation", pts, err)
	}

	// The agent reconnects with the same token.
	_, reply = f.dial(t, hello)
	if rej := reply.GetReject(); rej == nil || rej.Code != protocol.Reject_CODE_UNAUTHENTICATED ||
		!strings.Contains(rej.Message, "unknown or revoked") || !strings.Contains(rej.Message, "token create") {
		t.Fatalf("reconnect with a revoked token: %v, want an UNAUTHENTICATED Reject saying what to do", reply)
	}
	if ack, err := send(other, batch(3, ts)); err != nil || ack.Accepted != 1 {
		t.Fatalf("another agent after the revocation: ack %v, err %v", ack, err)
	}
}
