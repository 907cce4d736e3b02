package rollup

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/metrics"
	"github.com/vigilmon/vigil/collector/store"
)

// scrapeLag reads the rollup lag gauge, by resolution, from what m serves
// at GET /metrics.
func scrapeLag(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := make(map[string]float64)
	for line := range strings.Lines(rec.Body.String()) {
		rest, ok := strings.CutPrefix(line, metrics.RollupLagName+`{resolution="`)
		if !ok {
			continue
		}
		res, val, ok := strings.Cut(strings.TrimSpace(rest), `"} `)
		if !ok {
			t.Fatalf("unexpected line %q", line)
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out[res] = v
	}
	return out
}

// lagAtSlot records the job's lag each time it reads a slot.
type lagAtSlot struct {
	store.Store
	job  *Job
	mu   sync.Mutex
	lags map[store.Resolution][]time.Duration
}

func (l *lagAtSlot) Pending(ctx context.Context, res store.Resolution, slot int64) ([]store.Window, error) {
	lag, ok := l.job.Lag(res)
	if !ok {
		lag = -1 // unknown: the job has not read its cursor
	}
	l.mu.Lock()
	l.lags[res] = append(l.lags[res], lag)
	l.mu.Unlock()
	return l.Store.Pending(ctx, res, slot)
}

// TestLag: the lag gauge is absent until the job has read its cursor,
// falls slot by slot as the job works through a backlog, is 0 once it has
// caught up, and grows while the job does not run or fails.
func TestLag(t *testing.T) {
	f := newFixture(t)
	m := metrics.New()
	m.RollupLag(f.job.Lag)
	want := func(what string, secs float64) {
		t.Helper()
		got := scrapeLag(t, m)
		if len(got) != 2 || got["5m"] != secs || got["1h"] != secs {
			t.Errorf("%s: %s = %v, want 5m and 1h at %v", what, metrics.RollupLagName, got, secs)
		}
	}
	if got := scrapeLag(t, m); len(got) != 0 {
		t.Errorf("before the job ran: %v, want no series", got)
	}

	// An hour of points; the job has no cursor, so it starts Backfill (2 h)
	// back, at base-55m, and has two hours of slots to work through.
	now := base + hour + 5*minute
	f.clock.set(now)
	var tss []int64
	for ts := base; ts < base+hour; ts += minute {
		tss = append(tss, ts)
	}
	f.write(t, func(int64) float64 { return 1 }, tss...)
	rec := &lagAtSlot{Store: f.st, job: f.job, lags: make(map[store.Resolution][]time.Duration)}
	f.job.Store = rec
	f.step(t, now)
	for _, res := range []store.Resolution{store.Res5m, store.Res1h} {
		lags := rec.lags[res]
		// The first slot, base-55m, fell due at its end plus a minute's
		// grace, base-53m: 118 minutes before now; the last one just now.
		if len(lags) != 119 || lags[0] != 118*time.Minute || lags[len(lags)-1] != 0 {
			t.Fatalf("%s: lag at each slot %v, want 118m falling to 0 over 119 slots", res, lags)
		}
		for i := 1; i < len(lags); i++ {
			if lags[i] != lags[i-1]-time.Minute {
				t.Fatalf("%s: lag at slot %d went from %v to %v, want one slot (1m) less", res, i, lags[i-1], lags[i])
			}
		}
	}
	want("caught up", 0)

	// The oldest slot not yet computed, now-1m, falls due at now+1m: ten
	// minutes later it has waited nine.
	f.clock.set(now + 10*minute)
	want("ten minutes without a step", 540)
	f.step(t, now+10*minute)
	want("after a step", 0)

	// A failing store does not hold the gauge still: it keeps growing.
	fs := &failing{Store: f.st}
	fs.set(true)
	f.job.Store = fs
	f.clock.set(now + 20*minute)
	if err := f.job.Step(t.Context()); err == nil {
		t.Fatal("Step succeeded while the store failed")
	}
	want("store failing", 540)
	fs.set(false)
	f.step(t, now+20*minute)
	want("store back", 0)
}

// TestLagFromRunStart: a job that cannot read its cursor (the store is
// down as the collector starts) counts its lag from when Run started.
func TestLagFromRunStart(t *testing.T) {
	f := newFixture(t)
	fs := &failing{Store: f.st}
	fs.set(true)
	f.job.Store = fs
	f.job.Interval = time.Hour
	f.clock.set(base)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.job.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil once cancelled", err)
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := f.job.Lag(store.Res5m); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no lag known after Run started")
		}
		time.Sleep(time.Millisecond)
	}
	f.clock.set(base + 5*minute)
	for _, res := range []store.Resolution{store.Res5m, store.Res1h} {
		if lag, ok := f.job.Lag(res); !ok || lag != 5*time.Minute {
			t.Errorf("%s: lag %v, %v five minutes after Run started, want 5m", res, lag, ok)
		}
	}
	if _, ok := f.job.Lag(store.Raw); ok {
		t.Error("raw points have a rollup lag")
	}
}
