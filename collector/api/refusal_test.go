package api

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/store"
)

// An agent token stored before agent tokens had to name their agent is
// refused by the HTTPS ingest, as at the QUIC Hello, with the way out,
// and changes no agent's record.
func TestIngestUnboundTokenRefused(t *testing.T) {
	f := newIngestFixture(t, nil)
	ctx := context.Background()
	legacy := "vgl_legacy-unbound-token-0000000000000000000000"
	if err := f.store.PutToken(ctx, store.Token{Hash: auth.Hash(legacy), ID: "0123456789ab", Tenant: "acme", Role: store.RoleAgent, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	r := f.post(t, legacy, "db-1", ProtobufType, frame(t, f.batch(1, 1)))
	if r.code != http.StatusForbidden || r.err.Error.Code != "unbound_token" ||
		!strings.Contains(r.err.Error.Message, "token create --tenant acme --role agent --agent db-1") ||
		!strings.Contains(r.err.Error.Message, "token revoke --tenant acme --id 0123456789ab") {
		t.Fatalf("unbound token: %d %s, want 403 unbound_token saying how to replace it", r.code, r.body)
	}
	if series, _ := f.store.Series(ctx, store.SeriesFilter{Tenant: "acme"}); len(series) != 0 {
		t.Fatalf("stored %v", series)
	}
	if agents, _ := f.store.Agents(ctx, "acme"); len(agents) != 0 {
		t.Fatalf("recorded %+v", agents)
	}
}

// stalledWrites is the real store whose writes wait until release is closed.
type stalledWrites struct {
	store.Store
	release chan struct{}
	once    sync.Once
}

func (s *stalledWrites) Write(ctx context.Context, w *store.WriteRequest) error {
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.Write(ctx, w)
}

// A store that stalls past the store deadline gets a fast 503 retry_later
// with Retry-After, not a request hanging past the agent's patience; the
// write completes once the store is back and the resend leaves one point.
func TestIngestStoreStallRetryLater(t *testing.T) {
	stall := &stalledWrites{release: make(chan struct{})}
	f := newIngestFixture(t, func(s store.Store) store.Store { stall.Store = s; return stall })
	f.api.StoreDeadline = 300 * time.Millisecond
	t.Cleanup(func() { stall.once.Do(func() { close(stall.release) }) })
	tok := f.token(t, "acme", store.RoleAgent, "web-1")
	begin := time.Now()
	r := f.post(t, tok, "web-1", ProtobufType, frame(t, f.batch(5, 1)))
	if took := time.Since(begin); r.code != http.StatusServiceUnavailable || r.err.Error.Code != "retry_later" || r.retryAfter != "1" ||
		!strings.Contains(r.err.Error.Message, "store deadline") || took > 2*time.Second {
		t.Fatalf("stalled store: %d %s Retry-After %q after %v, want a fast 503 retry_later", r.code, r.body, r.retryAfter, took)
	}
	stall.once.Do(func() { close(stall.release) })
	if r := f.post(t, tok, "web-1", ProtobufType, frame(t, f.batch(5, 1))); r.code != 200 || r.ack.GetSeq() != 5 {
		t.Fatalf("resend: %d %s", r.code, r.body)
	}
	series, err := f.store.Series(context.Background(), store.SeriesFilter{Tenant: "acme", Agent: "web-1"})
	if err != nil || len(series) != 1+2 { // and the check's status and duration
		t.Fatalf("series %v, %v", series, err)
	}
	if pts, err := f.store.Points(context.Background(), series[0].ID, 0, f.now.UnixMilli()+1, 0); err != nil || len(pts) != 1 {
		t.Fatalf("points %v, %v: want one", pts, err)
	}
}

// The Authorization scheme is case-insensitive (RFC 7235 §2.1).
func TestBearerSchemeCaseInsensitive(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, "acme", store.RoleRead)
	for _, tt := range []struct {
		header string
		code   int
	}{
		{"Bearer " + tok, 200},
		{"bearer " + tok, 200},
		{"BEARER " + tok, 200},
		{"Bearer   " + tok + " ", 200},
		{"Bearer" + tok, 401},
		{"Bearer ", 401},
		{"Token " + tok, 401},
	} {
		t.Run(tt.header, func(t *testing.T) {
			code, _ := f.get(t, "/v1/agents", func(r *http.Request) { r.Header.Set("Authorization", tt.header) })
			if code != tt.code {
				t.Fatalf("Authorization %q: %d, want %d", tt.header, code, tt.code)
			}
		})
	}
}
