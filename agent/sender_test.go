package agent

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/vigilmon/vigil/agent/spool"
	"github.com/vigilmon/vigil/agent/transport"
	"github.com/vigilmon/vigil/protocol"
)

// refusingCollector is a collector on real QUIC that refuses each batch
// with the refusals in order, then acks it.
type refusingCollector struct {
	addr, caFile string
	refusals     []*protocol.Refusal
	maxFrame     atomic.Uint32 // announced in Welcome; 0: 1 MiB (set by tests while it serves)
	conns        atomic.Int32
	mu           sync.Mutex
	attempts     []time.Time // of each batch stream
}

func newRefusingCollector(t *testing.T, refusals ...*protocol.Refusal) *refusingCollector {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c := &refusingCollector{caFile: filepath.Join(t.TempDir(), "ca.pem"), refusals: refusals}
	if err := os.WriteFile(c.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := quic.ListenAddr("127.0.0.1:0", &tls.Config{NextProtos: []string{protocol.ALPN},
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			c.conns.Add(1)
			wg.Go(func() { c.serve(ctx, conn) })
		}
	})
	return c
}

func (c *refusingCollector) serve(ctx context.Context, conn *quic.Conn) {
	defer conn.CloseWithError(0, "")
	ctrl, err := conn.AcceptStream(ctx)
	if err != nil {
		return
	}
	var hello protocol.Hello
	if protocol.NewFrameReader(ctrl, 64<<10).Read(&hello) != nil {
		return
	}
	// A failed write is the connection gone (the test ending): stop, as on
	// a failed read.
	if protocol.WriteFrame(ctrl, &protocol.HelloReply{Reply: &protocol.HelloReply_Welcome{Welcome: &protocol.Welcome{
		SessionId: "s", MaxFrameBytes: cmp.Or(c.maxFrame.Load(), 1<<20), MaxInflight: 1}}}, protocol.DefaultMaxFrameBytes) != nil {
		return
	}
	for {
		st, err := conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		var b protocol.Batch
		if protocol.NewFrameReader(st, 1<<20).Read(&b) != nil {
			return
		}
		c.mu.Lock()
		n := len(c.attempts)
		c.attempts = append(c.attempts, time.Now())
		c.mu.Unlock()
		ack := &protocol.Ack{Seq: b.Seq, Accepted: 1}
		if n < len(c.refusals) {
			ack = &protocol.Ack{Refusal: c.refusals[n]}
		}
		if protocol.WriteFrame(st, ack, 1<<20) != nil {
			return
		}
		st.Close()
	}
}

// A refused batch stays spooled and is resent on the same connection:
// after the collector's retry_after_ms for RETRY_LATER, after a backoff
// for BAD_FRAME; the reason is logged.
func TestSenderResendsRefusedBatch(t *testing.T) {
	tests := []struct {
		name    string
		refusal *protocol.Refusal
		minGap  time.Duration // between the refusal and the resend
	}{
		{"retry later", &protocol.Refusal{Code: protocol.Refusal_CODE_RETRY_LATER, Message: "store deadline", RetryAfterMs: 400}, 400 * time.Millisecond},
		{"bad frame", &protocol.Refusal{Code: protocol.Refusal_CODE_BAD_FRAME, Message: "frame is empty"}, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			coll := newRefusingCollector(t, tt.refusal, tt.refusal)
			sp, err := spool.Open(t.TempDir(), spool.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sp.Close() })
			if _, _, err := sp.Append([]*protocol.CheckResult{{Check: "cpu", TimestampMs: time.Now().UnixMilli(),
				Metrics: []*protocol.Metric{{Name: "usage_percent", Type: protocol.MetricType_METRIC_TYPE_GAUGE, Value: 1}}}}); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			var logMu sync.Mutex
			s := &sender{collectors: []string{coll.addr}, tls: transport.TLSConfig{CAFile: coll.caFile},
				hello: &protocol.Hello{ProtocolVersion: protocol.Version, AgentId: "web-1", Token: "vgl_x"}, sp: sp,
				log: slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil)), ackTimeout: 3 * time.Second, probeEvery: time.Minute,
				backoffMin: 200 * time.Millisecond, backoffMax: time.Second}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { s.run(ctx); close(done) }()
			defer func() { cancel(); <-done }()
			deadline := time.Now().Add(10 * time.Second)
			for s.sent.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if s.sent.Load() != 1 {
				t.Fatal("the refused batch was never delivered")
			}
			coll.mu.Lock()
			attempts := append([]time.Time(nil), coll.attempts...)
			coll.mu.Unlock()
			if len(attempts) != 3 {
				t.Fatalf("%d attempts, want 3 (two refusals, then the ack)", len(attempts))
			}
			for i := 1; i < len(attempts); i++ {
				if gap := attempts[i].Sub(attempts[i-1]); gap < tt.minGap {
					t.Errorf("resend %d came %v after the refusal, want at least %v", i, gap, tt.minGap)
				}
			}
			if n := coll.conns.Load(); n != 1 {
				t.Errorf("%d connections, want 1: a refusal must not make the agent reconnect", n)
			}
			if st := sp.Stats(); st.Batches != 0 {
				t.Errorf("spool holds %d batches after the ack", st.Batches)
			}
			logMu.Lock()
			out := logs.String()
			logMu.Unlock()
			if !strings.Contains(out, tt.refusal.Message) || !strings.Contains(out, tt.refusal.Code.String()) || strings.Contains(out, "lost collector") {
				t.Errorf("log does not give the refusal's reason, or the session was lost:\n%s", out)
			}
		})
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// A spooled batch larger than the collector's frame limit is kept and
// retried after a backoff on the same connection, not sent, and the agent
// does not reconnect in a loop over it.
func TestSenderOversizedBatchNoHotLoop(t *testing.T) {
	coll := newRefusingCollector(t)
	coll.maxFrame.Store(16)
	sp, err := spool.Open(t.TempDir(), spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sp.Close() })
	if _, _, err := sp.Append([]*protocol.CheckResult{{Check: "cpu", TimestampMs: time.Now().UnixMilli(), Message: strings.Repeat("x", 100)}}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	s := &sender{collectors: []string{coll.addr}, tls: transport.TLSConfig{CAFile: coll.caFile},
		hello: &protocol.Hello{ProtocolVersion: protocol.Version, AgentId: "web-1", Token: "vgl_x"}, sp: sp,
		log: slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil)), ackTimeout: 3 * time.Second, probeEvery: time.Minute,
		backoffMin: 50 * time.Millisecond, backoffMax: 200 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	s.run(ctx)
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	if n := coll.conns.Load(); n != 1 {
		t.Errorf("%d connections in 1.5s, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "exceeds the collector's 16 byte limit") || strings.Contains(out, "lost collector") {
		t.Errorf("log does not say why the batch is not sent, or the session was lost:\n%s", out)
	}
	if st := sp.Stats(); st.Batches != 1 {
		t.Errorf("spool holds %d batches, want the oversized one kept", st.Batches)
	}
}
