package ingest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/protocol"
)

// slowTokens holds every token lookup until release is closed, so Hellos
// stay in progress.
type slowTokens struct {
	Store
	release chan struct{}
}

func (s *slowTokens) TokenByHash(ctx context.Context, h store.TokenHash) (store.Token, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
	}
	return s.Store.TokenByHash(ctx, h)
}

// Past max_pending handshakes in progress, a Hello is answered at once
// with Reject UNAVAILABLE and a retry_after within 1..retry_after_max;
// below it, Hellos are welcomed.
func TestHelloAdmission(t *testing.T) {
	for _, tt := range []struct {
		name       string
		maxPending int
		wantBusy   bool
	}{
		{"over the limit", 1, true},
		{"no limit", 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			slow := &slowTokens{release: make(chan struct{})}
			f := newFixture(t, func(s *Server) {
				slow.Store = s.Store
				s.Store = slow
				s.Admission = Admission{MaxPending: tt.maxPending, RetryAfterMax: 3 * time.Second}
			})
			tok := f.token(t, "acme", store.RoleAgent, "web-1")
			tok2 := f.token(t, "acme", store.RoleAgent, "web-2")
			// The first Hello waits in the token lookup, in progress.
			first := make(chan *protocol.HelloReply, 1)
			go func() {
				_, r := f.dial(t, &protocol.Hello{ProtocolVersion: 1, AgentId: "web-1", Token: tok})
				first <- r
			}()
			deadline := time.Now().Add(5 * time.Second)
			for f.srv.Admission.pending.Load() < 1 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if !tt.wantBusy {
				close(slow.release)
			}
			_, r := f.dial(t, &protocol.Hello{ProtocolVersion: 1, AgentId: "web-2", Token: tok2})
			rej := r.GetReject()
			if tt.wantBusy {
				if rej == nil || rej.Code != protocol.Reject_CODE_UNAVAILABLE || !strings.Contains(rej.Message, "busy") {
					t.Fatalf("got %v, want a busy Reject UNAVAILABLE", r)
				}
				if rej.RetryAfterS < 1 || rej.RetryAfterS > 3 {
					t.Fatalf("retry_after_s %d, want 1 to 3", rej.RetryAfterS)
				}
				close(slow.release)
			} else if r.GetWelcome() == nil {
				t.Fatalf("got %v, want Welcome", r)
			}
			if w := (<-first).GetWelcome(); w == nil {
				t.Fatal("the Hello in progress was not welcomed")
			}
		})
	}
}

// Welcome carries the collector's clock (Server.Now), from which agents
// measure their offset.
func TestWelcomeServerTime(t *testing.T) {
	ahead := time.Now().Add(5 * time.Minute)
	f := newFixture(t, func(s *Server) { s.Now = func() time.Time { return ahead } })
	tok := f.token(t, "acme", store.RoleAgent, "web-1")
	_, r := f.dial(t, &protocol.Hello{ProtocolVersion: 1, AgentId: "web-1", Token: tok})
	if got := r.GetWelcome().GetServerTimeMs(); got != ahead.UnixMilli() {
		t.Fatalf("server_time_ms %d, want %d", got, ahead.UnixMilli())
	}
}
