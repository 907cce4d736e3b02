package rules

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
)

func TestRunEvaluatesOnIntervalsAndStops(t *testing.T) {
	var mu sync.Mutex
	var times []time.Time
	q := func(_ context.Context, _ string, ts time.Time) (promql.Vector, error) {
		mu.Lock()
		defer mu.Unlock()
		times = append(times, ts)
		return nil, nil
	}
	// Below the loader's minimum interval: NewGroup takes any spec.
	iv := 20 * time.Millisecond
	g := NewGroup("t", GroupSpec{Name: "g", Interval: iv, Rules: []RuleSpec{{Name: "A", Expr: "x"}}}, q, Limits{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { Run(ctx, g, slog.New(slog.NewTextHandler(io.Discard, nil))); close(done) }()

	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(times)
		mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d evaluations in 10 s", n)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	for i, ts := range times {
		if !ts.Equal(ts.Truncate(iv)) {
			t.Errorf("evaluation %d at %v, not aligned to %v", i, ts, iv)
		}
		if i > 0 && !ts.After(times[i-1]) {
			t.Errorf("evaluation %d at %v, not after %v", i, ts, times[i-1])
		}
	}
}

// TestConcurrentReads reads the API data and state while groups evaluate
// (run with -race).
func TestConcurrentReads(t *testing.T) {
	st := newMemStore()
	g := setup(t, st, downRule, Limits{}, nil)
	for i := range 20 {
		st.add(minute(i), 0, "__name__", "up", "job", "node", "instance", "a")
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 20 {
			if err := g.Eval(context.Background(), minute(i)); err != nil {
				t.Error(err)
			}
		}
	}()
	for range 50 {
		_ = RulesData([]*Group{g})
		_ = AlertsData([]*Group{g})
		_ = g.State()
	}
	wg.Wait()
	if as := AlertsData([]*Group{g}).Alerts; len(as) != 1 || as[0].State != "firing" {
		t.Fatalf("after 20 minutes: %+v", as)
	}
}
