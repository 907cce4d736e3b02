package ingest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/metrics"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/protocol"
)

func goodBatch(seq uint64, ts int64) []byte {
	raw, _ := protocol.AppendFrame(nil, &protocol.Batch{Seq: seq, Results: []*protocol.CheckResult{{Check: "cpu", TimestampMs: ts,
		Metrics: []*protocol.Metric{gauge("usage_percent", float64(seq))}}}})
	return raw
}

// Every batch stream the collector cannot store as one batch is answered
// with a BAD_FRAME refusal saying why, and the stream is finished
// gracefully: the agent reads the reason instead of a bare reset, and
// nothing is acked or silently dropped.
func TestBatchRefusedWithReason(t *testing.T) {
	f := newFixture(t, func(s *Server) { s.Metrics = metrics.New() })
	conn, _ := f.dial(t, &protocol.Hello{ProtocolVersion: 1, AgentId: "web-1", Token: f.token(t, "acme", store.RoleAgent, "web-1")})
	ts := time.Now().UnixMilli()
	twice := append(goodBatch(7, ts), goodBatch(8, ts)...)
	tests := []struct {
		name   string
		raw    []byte
		reason string // in the refusal's message
	}{
		{"oversized", append(binary.AppendUvarint(nil, 1<<20), make([]byte, 100)...), "exceeds the 65536 byte limit"},
		{"garbage", append(binary.AppendUvarint(nil, 3), 0xff, 0xff, 0xff), "not a protobuf Batch"},
		{"truncated", append(binary.AppendUvarint(nil, 50), 0x08, 0x01), "truncated"},
		{"empty stream", nil, "ended before its frame"},
		{"empty frame", []byte{0}, "frame is empty"},
		{"seq 0", goodBatch(0, ts), "seq 0"},
		{"second frame", twice, "exactly one frame"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ack, err := send(conn, tt.raw)
			if err != nil {
				t.Fatalf("got %v, want a refusal the agent can read", err)
			}
			ref := ack.GetRefusal()
			if ack.Seq != 0 || ref.GetCode() != protocol.Refusal_CODE_BAD_FRAME || !strings.Contains(ref.GetMessage(), tt.reason) {
				t.Fatalf("got %v, want seq 0 and a BAD_FRAME refusal containing %q", ack, tt.reason)
			}
		})
	}
	// Neither frame of the stream that carried two was stored.
	if series, err := f.store.Series(context.Background(), store.SeriesFilter{Tenant: "acme", Agent: "web-1"}); err != nil || len(series) != 0 {
		t.Fatalf("series %v, err %v: want nothing stored", series, err)
	}
	// The connection carries on.
	if ack, err := send(conn, goodBatch(9, ts)); err != nil || ack.Seq != 9 || ack.Accepted != 1 {
		t.Fatalf("good batch after the refusals: ack %v, err %v", ack, err)
	}
	if got := refusedCount(t, f.srv.Metrics, "vigil_collector_batches_refused_total"); got != len(tests) {
		t.Fatalf("%d refusals counted, want %d", got, len(tests))
	}
}

func refusedCount(t *testing.T, m *metrics.Metrics, name string) int {
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, mm := range mf.GetMetric() {
				n += int(mm.GetCounter().GetValue())
			}
		}
	}
	return n
}

// stallStore is the real store whose writes block while stalled.
type stallStore struct {
	Store
	mu      sync.Mutex
	stalled chan struct{} // closed to end the stall; nil: not stalled
}

func (s *stallStore) stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stalled = make(chan struct{})
}

func (s *stallStore) resume() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.stalled)
	s.stalled = nil
}

func (s *stallStore) Write(ctx context.Context, w *store.WriteRequest) error {
	s.mu.Lock()
	ch := s.stalled
	s.mu.Unlock()
	if ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.Store.Write(ctx, w)
}

// A store that stalls longer than the store deadline gets the agent a fast
// RETRY_LATER, well within its ack timeout, instead of silence; the write
// that was waiting completes once the store is back, and the agent's resend
// leaves one point.
func TestStoreStallRetryLater(t *testing.T) {
	var stall *stallStore
	f := newFixture(t, func(s *Server) {
		stall = &stallStore{Store: s.Store}
		s.Store = stall
		s.StoreDeadline = 300 * time.Millisecond
	})
	conn, _ := f.dial(t, &protocol.Hello{ProtocolVersion: 1, AgentId: "web-1", Token: f.token(t, "acme", store.RoleAgent, "web-1")})
	ts := time.Now().UnixMilli()
	stall.stall()
	begin := time.Now()
	ack, err := send(conn, goodBatch(1, ts))
	took := time.Since(begin)
	if err != nil {
		t.Fatalf("stalled store: %v, want a RETRY_LATER refusal", err)
	}
	if ref := ack.GetRefusal(); ack.Seq != 0 || ref.GetCode() != protocol.Refusal_CODE_RETRY_LATER || ref.GetRetryAfterMs() == 0 ||
		!strings.Contains(ref.GetMessage(), "store deadline") {
		t.Fatalf("stalled store: %v, want RETRY_LATER with retry_after_ms", ack)
	}
	if took > 2*time.Second {
		t.Fatalf("refusal took %v, want about the 300ms store deadline (agents give up after 3s)", took)
	}
	stall.resume()
	ack, err = send(conn, goodBatch(1, ts))
	if err != nil || ack.Seq != 1 || ack.Accepted != 1 {
		t.Fatalf("resend after the stall: ack %v, err %v", ack, err)
	}
	series, err := f.store.Series(context.Background(), store.SeriesFilter{Tenant: "acme", Agent: "web-1", Check: "cpu", Metric: "usage_percent"})
	if err != nil || len(series) != 1 {
		t.Fatalf("series %v, err %v", series, err)
	}
	if pts, err := f.store.Points(context.Background(), series[0].ID, ts-1, ts+1, 0); err != nil || len(pts) != 1 {
		t.Fatalf("points %v, err %v: want one point from the late write and the resend", pts, err)
	}
}

// An agent token stored before tokens had to name their agent is refused
// at Hello with the way out, and cannot change another agent's inventory
// record.
func TestUnboundAgentTokenRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	legacy := "vgl_legacy-unbound-token-0000000000000000000000"
	if err := f.store.PutToken(ctx, store.Token{Hash: auth.Hash(legacy), ID: "0123456789ab", Tenant: "acme", Role: store.RoleAgent, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.UpsertAgent(ctx, store.Agent{Tenant: "acme", ID: "db-1", Hostname: "db-1.example", Version: "1.0", LastSeen: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	_, reply := f.dial(t, &protocol.Hello{ProtocolVersion: 1, AgentId: "db-1", Token: legacy, Hostname: "evil", AgentVersion: "6.6.6"})
	rej := reply.GetReject()
	if rej == nil || rej.Code != protocol.Reject_CODE_FORBIDDEN ||
		!strings.Contains(rej.Message, "not bound to an agent id") ||
		!strings.Contains(rej.Message, "token create --tenant acme --role agent --agent db-1") ||
		!strings.Contains(rej.Message, "token revoke --tenant acme --id 0123456789ab") {
		t.Fatalf("unbound token: %v, want a FORBIDDEN Reject saying how to replace the token", reply)
	}
	agents, err := f.store.Agents(ctx, "acme")
	if err != nil || len(agents) != 1 || agents[0].Hostname != "db-1.example" || agents[0].Version != "1.0" || agents[0].Connected {
		t.Fatalf("agents %+v, err %v: the record of db-1 changed", agents, err)
	}
}

// 300 connections that never send Hello yield a few log lines that
// account for all of them, not 300 warnings. (300 TLS handshakes under
// -race take seconds of CPU: the deadline leaves room for a loaded CI.)
func TestHelloFloodLogsRateLimited(t *testing.T) {
	const n = 300
	f := newFixture(t, func(s *Server) {
		s.HelloTimeout = 300 * time.Millisecond
		s.Metrics = metrics.New()
		s.logs.Window = time.Second
	})
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: udp}
	t.Cleanup(func() { tr.Close() })
	addr, err := net.ResolveUDPAddr("udp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	begin := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	errs := make(chan error, n)
	for range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			conn, err := tr.Dial(ctx, addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{protocol.ALPN}}, &quic.Config{HandshakeIdleTimeout: 10 * time.Second})
			if err != nil {
				errs <- err
				return
			}
			// Never say Hello: wait for the collector to give up.
			<-conn.Context().Done()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("dial: %v", err)
	}
	// One line per window of the flood, plus the first and the last count.
	maxLines := int(time.Since(begin)/time.Second) + 2
	// The collector counts a refusal as it closes the connection, so the
	// last ones may land just after the clients saw their close.
	for got := 0; got != n; time.Sleep(10 * time.Millisecond) {
		if got = refusedCount(t, f.srv.Metrics, "vigil_collector_hellos_refused_total"); got > n || ctx.Err() != nil {
			t.Fatalf("%d refused hellos counted, want %d", got, n)
		}
	}
	suppressed := regexp.MustCompile(`suppressed=(\d+)`)
	var lines []string
	total := 0
	for ctx.Err() == nil {
		lines, total = nil, 0
		for _, l := range strings.Split(f.logs.String(), "\n") {
			if !strings.Contains(l, `msg="agent refused`) {
				continue
			}
			lines = append(lines, l)
			total++
			if m := suppressed.FindStringSubmatch(l); m != nil {
				k, _ := strconv.Atoi(m[1])
				total += k - 1
			}
		}
		if total >= n {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if total != n || len(lines) > maxLines {
		t.Fatalf("%d log lines accounting for %d refused connections, want at most %d lines for %d:\n%s",
			len(lines), total, maxLines, n, strings.Join(lines[:min(len(lines), 20)], "\n"))
	}
	t.Logf("%d connections without Hello in %v: %d log lines", n, time.Since(begin).Round(time.Millisecond), len(lines))
	if !strings.Contains(lines[len(lines)-1], fmt.Sprintf("more like it in the last %s", time.Second)) ||
		!strings.Contains(lines[0], "reason=no_hello") {
		t.Fatalf("log lines do not say why and how many:\n%s", strings.Join(lines, "\n"))
	}
}

// readerStream is a batch stream read from memory.
type readerStream struct{ *bytes.Reader }

func (readerStream) SetReadDeadline(time.Time) error { return nil }

// FuzzReadBatch: any bytes on a batch stream give either exactly one batch
// of seq > 0 that re-encodes into the stream, or a refusal with a reason
// and a message; never a panic.
func FuzzReadBatch(f *testing.F) {
	ts := time.Now().UnixMilli()
	for _, seed := range [][]byte{nil, {0}, {0x80}, goodBatch(1, ts), goodBatch(0, ts), append(goodBatch(1, ts), 0),
		append(binary.AppendUvarint(nil, 3), 0xff, 0xff, 0xff), binary.AppendUvarint(nil, 1<<40)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, bad := readBatch(readerStream{bytes.NewReader(raw)}, 1<<10)
		switch {
		case bad != nil:
			if b != nil || bad.reason == "" || bad.msg == "" {
				t.Fatalf("refusal %+v with batch %v", bad, b)
			}
		case b == nil || b.Seq == 0:
			t.Fatalf("accepted %v", b)
		default:
			n, k := binary.Uvarint(raw)
			if k <= 0 || int(n) != len(raw)-k {
				t.Fatalf("accepted a stream of %d bytes whose frame declares %d", len(raw), n)
			}
		}
	})
}
