package ingest

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/protocol"
)

// seriesBatch has one point of each of the metrics m<from>..m<to-1>.
func seriesBatch(seq uint64, ts int64, from, to int) *protocol.Batch {
	cr := &protocol.CheckResult{Check: "plugin.flood", TimestampMs: ts, Status: protocol.Status_STATUS_OK}
	for i := from; i < to; i++ {
		cr.Metrics = append(cr.Metrics, gauge(fmt.Sprintf("m%d", i), float64(i)))
	}
	return &protocol.Batch{Seq: seq, Results: []*protocol.CheckResult{cr}}
}

// A flood of new series over real QUIC is refused per point with
// series_limit past each limit, while the agent's active series, and
// other agents and tenants within theirs, keep being stored.
func TestSeriesLimitsQUIC(t *testing.T) {
	// Each agent's check also has its two derived series (status and
	// duration), stored after its metrics: hence the 2s.
	lim := NewSeriesLimiter(SeriesLimits{PerAgent: 50 + 2, PerTenant: 80 + 2, NewPerAgentHour: 60 + 2, Active: time.Hour}, slog.New(slog.DiscardHandler))
	f := newFixtureWith(t, Validator{MaxAge: time.Hour, Series: lim})
	connect := func(tenant, agent string) func(b *protocol.Batch) *protocol.Ack {
		conn, reply := f.dial(t, &protocol.Hello{ProtocolVersion: 1, AgentId: agent, Token: f.token(t, tenant, store.RoleAgent, agent)})
		if reply.GetWelcome() == nil {
			t.Fatalf("hello %s/%s: %v", tenant, agent, reply)
		}
		return func(b *protocol.Batch) *protocol.Ack {
			raw, _ := protocol.AppendFrame(nil, b)
			ack, err := send(conn, raw)
			if err != nil {
				t.Fatal(err)
			}
			return ack
		}
	}
	ts := time.Now().UnixMilli()
	a1 := connect("acme", "a1")
	a2 := connect("acme", "a2")
	b1 := connect("beta", "b1")
	steps := []struct {
		name               string
		send               func(*protocol.Batch) *protocol.Ack
		batch              *protocol.Batch
		accepted, rejected uint32
	}{
		{"a1 first 40 series", a1, seriesBatch(1, ts, 0, 40), 40, 0},
		{"a1 40 active + 40 new: 10 fit its limit of 50", a1, seriesBatch(2, ts+1000, 0, 80), 50, 30},
		{"a1 flood of 1000 new series", a1, seriesBatch(3, ts+2000, 100, 1100), 0, 1000},
		{"a1 active series still accepted", a1, seriesBatch(4, ts+3000, 0, 50), 50, 0},
		{"a2: the tenant's 80 leave 30", a2, seriesBatch(5, ts, 0, 40), 30, 10},
		{"other tenant unaffected", b1, seriesBatch(6, ts, 0, 50), 50, 0},
	}
	for _, s := range steps {
		ack := s.send(s.batch)
		if ack.Accepted != s.accepted || ack.Rejected != s.rejected {
			t.Fatalf("%s: accepted %d rejected %d, want %d and %d; errors %q", s.name, ack.Accepted, ack.Rejected, s.accepted, s.rejected, ack.Errors)
		}
		if s.rejected > 0 && (len(ack.Errors) == 0 || !strings.Contains(ack.Errors[0], "series_limit")) {
			t.Fatalf("%s: errors %q, want series_limit", s.name, ack.Errors)
		}
		if len(ack.Errors) > maxErrors {
			t.Fatalf("%s: %d errors in the ack", s.name, len(ack.Errors))
		}
	}
	if tenant, agent := lim.Active("acme", "a1"); tenant != 80+2 || agent != 50+2 {
		t.Fatalf("acme active %d, a1 %d; want 82 and 52", tenant, agent)
	}
}

// Series expire after Active; the hourly allowance of new series refills
// continuously and bounds churn even under the active limit.
func TestSeriesLimitsExpiryAndNewPerHour(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	lim := NewSeriesLimiter(SeriesLimits{PerAgent: 10, PerTenant: 100, NewPerAgentHour: 15, Active: time.Minute}, slog.New(slog.DiscardHandler))
	v := Validator{MaxAge: time.Hour, Now: func() time.Time { return now }, Series: lim}
	steps := []struct {
		name               string
		after              time.Duration
		from, to           int
		accepted, rejected uint32
		agentActive        int
	}{
		{"first 10", 0, 0, 10, 10, 0, 10},
		{"11th refused by the active limit", time.Second, 10, 11, 0, 1, 10},
		{"after the first expired: 5 of the hour's 15 left (and half a refill)", 2 * time.Minute, 20, 30, 5, 5, 5},
		{"an hour on: the allowance is full again", time.Hour, 40, 50, 10, 0, 10},
	}
	for _, s := range steps {
		now = now.Add(s.after)
		res := v.Validate("t", "a", seriesBatch(1, now.UnixMilli(), s.from, s.to))
		if res.Accepted != s.accepted || res.Rejected != s.rejected || res.RejectedBy[ReasonSeriesLimit] != s.rejected {
			t.Fatalf("%s: accepted %d rejected %d, want %d and %d; errors %q", s.name, res.Accepted, res.Rejected, s.accepted, s.rejected, res.Errors)
		}
		if _, agent := lim.Active("t", "a"); agent != s.agentActive {
			t.Fatalf("%s: agent has %d active series, want %d", s.name, agent, s.agentActive)
		}
	}
}
