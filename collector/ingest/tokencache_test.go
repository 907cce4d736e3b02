package ingest

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
	"github.com/vigilmon/vigil/protocol"
)

// stallingTokens is a real store whose token lookups hang, while stall is
// set, until the caller gives up: a store stall as the collector sees it.
type stallingTokens struct {
	store.Store
	stall atomic.Bool
}

func (s *stallingTokens) TokenByHash(ctx context.Context, h store.TokenHash) (store.Token, error) {
	if s.stall.Load() {
		<-ctx.Done()
		return store.Token{}, ctx.Err()
	}
	return s.Store.TokenByHash(ctx, h)
}

// TestStalledTokenLookupKeepsAgents: with token lookups stalled, a
// connected agent's batches are still stored and acked, and its
// reconnect is welcomed, through the token cache; a revocation through
// the cache still refuses the next batch at once.
func TestStalledTokenLookupKeepsAgents(t *testing.T) {
	pb, err := pebble.Open(t.TempDir(), pebble.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	raw := &stallingTokens{Store: pb}
	cfg := auth.CacheConfig{TTL: time.Second, LookupTimeout: 100 * time.Millisecond}
	if err := cfg.Defaults(); err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokenCache(raw, cfg, slog.New(slog.DiscardHandler), nil)
	srv := &Server{Store: tokens, Log: slog.New(slog.DiscardHandler), Name: "test",
		Validator: Validator{MaxAge: time.Hour}, MaxInflight: 4, MaxFrameBytes: 64 << 10, HelloTimeout: time.Second}
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
		pb.Close()
	})
	f := &fixture{addr: ln.Addr().String(), store: pb}

	tok, rec, err := auth.Create(ctx, pb, "acme", store.RoleAgent, "web-1")
	if err != nil {
		t.Fatal(err)
	}
	hello := &protocol.Hello{ProtocolVersion: 1, AgentId: "web-1", Token: tok}
	conn, reply := f.dial(t, hello)
	if reply.GetWelcome() == nil {
		t.Fatalf("hello: %v", reply)
	}
	ts := time.Now().UnixMilli()
	batch := func(seq uint64) []byte {
		b, _ := protocol.AppendFrame(nil, &protocol.Batch{Seq: seq, Results: []*protocol.CheckResult{{Check: "cpu",
			TimestampMs: ts - int64(100-seq)*1000, Metrics: []*protocol.Metric{gauge("usage_percent", float64(seq))}}}})
		return b
	}
	if ack, err := send(conn, batch(1)); err != nil || ack.Accepted != 1 {
		t.Fatalf("before the stall: ack %v, err %v", ack, err)
	}

	raw.stall.Store(true)
	// Past the ttl, every check asks the stalled store.
	time.Sleep(cfg.TTL + 100*time.Millisecond)
	for seq := uint64(2); seq < 6; seq++ {
		start := time.Now()
		ack, err := send(conn, batch(seq))
		if err != nil || ack.Accepted != 1 {
			t.Fatalf("batch %d while token lookups stall: ack %v, err %v", seq, ack, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("batch %d took %v with lookup_timeout %v", seq, d, cfg.LookupTimeout)
		}
	}
	conn2, reply := f.dial(t, hello)
	if reply.GetWelcome() == nil {
		t.Fatalf("reconnect while token lookups stall: %v, want Welcome", reply)
	}

	raw.stall.Store(false)
	if _, err := auth.Revoke(ctx, tokens, "acme", rec.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if ack, err := send(conn2, batch(6)); err == nil && ack.GetRefusal().GetCode() != protocol.Refusal_CODE_REVOKED {
		t.Fatalf("batch after revocation on this collector: %v, want a REVOKED refusal or a closed stream", ack)
	}
}
