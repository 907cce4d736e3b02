package rollup

import (
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
	"github.com/vigilmon/vigil/collector/store/storetest"
)

const (
	minute = int64(60_000)
	hour   = 60 * minute
	day    = 24 * hour
	base   = 19676 * day // 2023-11-15T00:00:00Z
)

func TestAccCounterAcrossResets(t *testing.T) {
	// 10, 15, 20, reset to 3, 8: rises 5 + 5 + 3 + 5 = 18.
	var a Acc
	for _, v := range []float64{10, 15, 20, 3, math.NaN(), 8} {
		a.AddValue(v)
	}
	want := store.Rollup{Count: 5, Sum: 56, Min: 3, Max: 20, First: 10, Last: 8, Increase: 18}
	if a.R != want {
		t.Errorf("got %+v, want %+v", a.R, want)
	}
	// The same values split into windows and merged give the same result,
	// including a reset at the boundary.
	for split := 0; split <= 5; split++ {
		vals := []float64{10, 15, 20, 3, 8}
		var w1, w2, m Acc
		for _, v := range vals[:split] {
			w1.AddValue(v)
		}
		for _, v := range vals[split:] {
			w2.AddValue(v)
		}
		m.AddRollup(w1.R)
		m.AddRollup(w2.R)
		if m.R != want {
			t.Errorf("split at %d: %+v, want %+v", split, m.R, want)
		}
	}
	var empty Acc
	if !empty.Empty() {
		t.Error("zero Acc not empty")
	}
	if _, ok := FromPoints(store.SeriesID{}, 0, []store.Point{{Value: math.NaN()}}); ok {
		t.Error("a window of NaN only counted")
	}
}

// TestAccMergeProperty: any split of a series into consecutive windows
// merges to the statistics of the whole.
func TestAccMergeProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		n := 1 + r.IntN(40)
		vals := make([]float64, n)
		c := 0.0
		for i := range vals {
			if r.IntN(8) == 0 {
				c = float64(r.IntN(5)) // reset
			} else {
				c += float64(r.IntN(100))
			}
			vals[i] = c
		}
		var whole, merged Acc
		for _, v := range vals {
			whole.AddValue(v)
		}
		for i := 0; i < n; {
			k := 1 + r.IntN(5)
			var w Acc
			for _, v := range vals[i:min(n, i+k)] {
				w.AddValue(v)
			}
			merged.AddRollup(w.R)
			i += k
		}
		if merged.R != whole.R {
			t.Fatalf("values %v: merged %+v, whole %+v", vals, merged.R, whole.R)
		}
	}
}

type clock struct {
	mu sync.Mutex
	t  int64
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.UnixMilli(c.t)
}

func (c *clock) set(ms int64) {
	c.mu.Lock()
	c.t = ms
	c.mu.Unlock()
}

type fixture struct {
	st      *pebble.Store
	tracker *Tracker
	job     *Job
	clock   *clock
	tenant  string
	gauge   store.Series
	counter store.Series
	str     store.Series
}

func newFixture(t *testing.T) *fixture {
	st, err := pebble.Open(t.TempDir(), pebble.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	c := &clock{t: base}
	tenant := storetest.NewTenant(t)
	return &fixture{
		st: st, clock: c, tenant: tenant,
		tracker: &Tracker{Store: st, Now: c.now},
		job:     &Job{Store: st, Log: slog.New(slog.DiscardHandler), Now: c.now, Backfill: 2 * time.Hour},
		gauge:   storetest.NewSeries(tenant, "a1", "cpu", "usage_percent", store.Gauge, "percent"),
		counter: storetest.NewSeries(tenant, "a1", "network", "rx_bytes", store.Counter, "bytes", "interface", "eth0"),
		str:     storetest.NewSeries(tenant, "a1", "plugin.x", "state", store.String, ""),
	}
}

// write sends points of the gauge (value v(ts)), the counter and the
// string series at tss through the tracker, at the clock's time.
func (f *fixture) write(t *testing.T, v func(ts int64) float64, tss ...int64) {
	t.Helper()
	w := &store.WriteRequest{Tenant: f.tenant, Series: []store.Series{f.gauge, f.counter, f.str}}
	for _, ts := range tss {
		w.Points = append(w.Points,
			store.Point{Series: f.gauge.ID, TS: ts, Value: v(ts)},
			store.Point{Series: f.counter.ID, TS: ts, Value: counterAt(ts)},
			store.Point{Series: f.str.ID, TS: ts, Str: "s"})
	}
	if err := f.tracker.Write(t.Context(), w); err != nil {
		t.Fatal(err)
	}
}

// counterAt is a counter rising 1 per second that resets every 20 minutes.
func counterAt(ts int64) float64 { return float64((ts - base) % (20 * minute) / 1000) }

func (f *fixture) step(t *testing.T, at int64) {
	t.Helper()
	f.clock.set(at)
	if err := f.job.Step(t.Context()); err != nil {
		t.Fatalf("Step at %d: %v", at-base, err)
	}
}

// settle steps at at and again a few minutes later, when the 1h windows
// that the first step queued are due.
func (f *fixture) settle(t *testing.T, at int64) {
	t.Helper()
	f.step(t, at)
	f.step(t, at+3*minute)
}

// expected computes the windows of res of id over [from, to) straight from
// the raw points.
func (f *fixture) expected(t *testing.T, res store.Resolution, id store.SeriesID, from, to int64) []store.Rollup {
	t.Helper()
	var out []store.Rollup
	for w := from; w < to; w += res.Window() {
		ps, err := f.st.Points(t.Context(), id, w, w+res.Window(), 0)
		if err != nil {
			t.Fatal(err)
		}
		if r, ok := FromPoints(id, w, ps); ok {
			out = append(out, r)
		}
	}
	return out
}

func (f *fixture) stored(t *testing.T, res store.Resolution, id store.SeriesID, from, to int64) []store.Rollup {
	t.Helper()
	rs, err := f.st.ReadRollups(t.Context(), res, id, from, to, 0)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func sameRollups(a, b []store.Rollup) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (f *fixture) check(t *testing.T, what string, from, to int64) {
	t.Helper()
	for _, id := range []store.SeriesID{f.gauge.ID, f.counter.ID} {
		for _, res := range []store.Resolution{store.Res5m, store.Res1h} {
			got, want := f.stored(t, res, id, from, to), f.expected(t, res, id, from, to)
			if !sameRollups(got, want) {
				t.Errorf("%s: %s windows of %s:\n got %+v\nwant %+v", what, res, id, got, want)
			}
		}
	}
	if rs := f.stored(t, store.Res5m, f.str.ID, from, to); len(rs) != 0 {
		t.Errorf("%s: a string series has rollups: %+v", what, rs)
	}
}

func TestJobComputesClosedWindows(t *testing.T) {
	f := newFixture(t)
	// Two hours of points every 10 s, written as they happen.
	for ts := base; ts < base+2*hour; ts += 10_000 {
		f.clock.set(ts + 2000)
		f.write(t, func(ts int64) float64 { return float64(ts%7) + 0.5 }, ts)
		if (ts-base)%(5*minute) == 0 {
			f.step(t, ts+2000)
		}
	}
	// An open window is not computed: at 2h + 30 s, the window ending at
	// 2h is within its grace.
	f.step(t, base+2*hour+30_000)
	if rs := f.stored(t, store.Res5m, f.gauge.ID, base+2*hour-5*minute, base+2*hour); len(rs) != 0 {
		t.Errorf("window computed before its grace ran out: %+v", rs)
	}
	f.step(t, base+2*hour+3*minute)
	f.check(t, "after two hours", base, base+2*hour)
	if n := len(f.stored(t, store.Res5m, f.gauge.ID, base, base+2*hour)); n != 24 {
		t.Errorf("%d 5m windows, want 24", n)
	}
	if n := len(f.stored(t, store.Res1h, f.gauge.ID, base, base+2*hour)); n != 2 {
		t.Errorf("%d 1h windows, want 2", n)
	}
	// The counter resets every 20 minutes; each 1h window's increase is
	// still the time it counted: 3599 s minus the resets' lost second... the
	// expected value computed from raw points above already says so; check
	// it is not the naive last - first.
	rs := f.stored(t, store.Res1h, f.counter.ID, base, base+hour)
	if len(rs) != 1 || rs[0].Increase <= rs[0].Last-rs[0].First {
		t.Errorf("1h counter window %+v: increase does not count across resets", rs)
	}
	// The queue is empty and the cursors are past what was computed.
	for _, res := range []store.Resolution{store.Res5m, store.Res1h} {
		c, err := f.st.Cursor(t.Context(), CursorName(res))
		if err != nil || c < base+2*hour {
			t.Errorf("%s cursor = %d, %v", res, c-base, err)
		}
	}
}

func TestJobLatePointsRecompute(t *testing.T) {
	f := newFixture(t)
	v := func(int64) float64 { return 1 }
	var tss []int64
	for ts := base; ts < base+hour; ts += minute {
		tss = append(tss, ts)
	}
	f.clock.set(base + hour)
	f.write(t, v, tss...)
	f.settle(t, base+hour+5*minute)
	f.check(t, "on time", base, base+hour)

	// A late point (an agent's spool after an outage) in an old window,
	// and a rewrite of a point with another value.
	f.clock.set(base + 3*hour)
	f.write(t, func(int64) float64 { return 100 }, base+90_000, base+10*minute)
	f.step(t, base+3*hour+30_000) // not due yet: a minute's grace
	f.settle(t, base+3*hour+3*minute)
	f.check(t, "after late points", base, base+hour)
	rs := f.stored(t, store.Res5m, f.gauge.ID, base, base+5*minute)
	if len(rs) != 1 || rs[0].Count != 6 || rs[0].Max != 100 {
		t.Errorf("5m window with a late point: %+v", rs)
	}
	rs = f.stored(t, store.Res1h, f.gauge.ID, base, base+hour)
	if len(rs) != 1 || rs[0].Count != 61 || rs[0].Max != 100 {
		t.Errorf("1h window with late points: %+v", rs)
	}
}

func TestJobIdempotent(t *testing.T) {
	f := newFixture(t)
	var tss []int64
	for ts := base; ts < base+hour; ts += 30_000 {
		tss = append(tss, ts)
	}
	f.clock.set(base + hour)
	f.write(t, func(ts int64) float64 { return float64(ts % 13) }, tss...)
	// Mark every window again (as a second collector or a restart would)
	// and run the job twice, then a second job on the same store at once.
	if err := f.st.MarkPending(t.Context(), store.Res5m, store.Floor(base+hour+2*minute, store.QueueSlot),
		[]store.Window{{Series: f.gauge.ID, Start: base}, {Series: f.counter.ID, Start: base + 55*minute}}); err != nil {
		t.Fatal(err)
	}
	f.settle(t, base+hour+5*minute)
	before := f.stored(t, store.Res5m, f.gauge.ID, base, base+hour)
	before1h := f.stored(t, store.Res1h, f.gauge.ID, base, base+hour)
	if err := f.st.SetCursor(t.Context(), CursorName(store.Res5m), base); err != nil {
		t.Fatal(err)
	}
	f.write(t, func(ts int64) float64 { return float64(ts % 13) }, tss...) // the same batch again
	other := &Job{Store: f.st, Log: slog.New(slog.DiscardHandler), Now: f.clock.now}
	f.clock.set(base + hour + 15*minute)
	var wg sync.WaitGroup
	for _, j := range []*Job{f.job, other} {
		wg.Go(func() {
			if err := j.Step(context.Background()); err != nil {
				t.Errorf("Step: %v", err)
			}
		})
	}
	wg.Wait()
	f.settle(t, base+hour+20*minute)
	if after := f.stored(t, store.Res5m, f.gauge.ID, base, base+hour); !sameRollups(before, after) {
		t.Errorf("5m windows changed on a rerun:\nbefore %+v\nafter  %+v", before, after)
	}
	if after := f.stored(t, store.Res1h, f.gauge.ID, base, base+hour); !sameRollups(before1h, after) {
		t.Errorf("1h windows changed on a rerun:\nbefore %+v\nafter  %+v", before1h, after)
	}
	f.check(t, "after reruns", base, base+hour)
}

func TestRetain(t *testing.T) {
	f := newFixture(t)
	f.clock.set(base)
	f.write(t, func(int64) float64 { return 1 }, base-30*day, base-8*day, base-6*day, base-hour)
	for _, r := range []struct {
		res store.Resolution
		ts  []int64
	}{{store.Res5m, []int64{base - 60*day, base - 30*day}}, {store.Res1h, []int64{base - 500*day, base - 300*day}}} {
		var rs []store.Rollup
		for _, ts := range r.ts {
			rs = append(rs, store.Rollup{Series: f.gauge.ID, TS: ts, Count: 1})
		}
		if err := f.st.WriteRollups(t.Context(), r.res, rs); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.job.Retain(t.Context()); err != nil {
		t.Fatal(err)
	}
	ps, _ := f.st.Points(t.Context(), f.gauge.ID, base-100*day, base, 0)
	if len(ps) != 2 || ps[0].TS != base-6*day {
		t.Errorf("raw points after retention: %+v; want the two of the last 7 days", ps)
	}
	if rs := f.stored(t, store.Res5m, f.gauge.ID, base-100*day, base); len(rs) != 1 || rs[0].TS != base-30*day {
		t.Errorf("5m windows after retention: %+v", rs)
	}
	if rs := f.stored(t, store.Res1h, f.gauge.ID, base-1000*day, base); len(rs) != 1 || rs[0].TS != base-300*day {
		t.Errorf("1h windows after retention: %+v", rs)
	}
}

// failing fails the calls of the queue the tracker and the job make while on is set.
type failing struct {
	store.Store
	mu sync.Mutex
	on bool
}

func (f *failing) set(on bool) { f.mu.Lock(); f.on = on; f.mu.Unlock() }
func (f *failing) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.on {
		return context.DeadlineExceeded
	}
	return nil
}
func (f *failing) MarkPending(ctx context.Context, res store.Resolution, slot int64, ws []store.Window) error {
	if err := f.err(); err != nil {
		return err
	}
	return f.Store.MarkPending(ctx, res, slot, ws)
}
func (f *failing) Cursor(ctx context.Context, name string) (int64, error) {
	if err := f.err(); err != nil {
		return 0, err
	}
	return f.Store.Cursor(ctx, name)
}
func (f *failing) Pending(ctx context.Context, res store.Resolution, slot int64) ([]store.Window, error) {
	if err := f.err(); err != nil {
		return nil, err
	}
	return f.Store.Pending(ctx, res, slot)
}

func TestFailuresAreRetried(t *testing.T) {
	f := newFixture(t)
	fs := &failing{Store: f.st}
	f.tracker.Store = fs
	f.job.Store = fs
	f.clock.set(base + 5*minute)
	fs.set(true)
	w := &store.WriteRequest{Tenant: f.tenant, Series: []store.Series{f.gauge}, Points: []store.Point{{Series: f.gauge.ID, TS: base, Value: 1}}}
	if err := f.tracker.Write(t.Context(), w); err == nil {
		t.Fatal("Write succeeded while the queue failed: the batch would be acked without its window queued")
	}
	fs.set(false)
	if err := f.tracker.Write(t.Context(), w); err != nil { // the agent's retry
		t.Fatal(err)
	}
	fs.set(true)
	f.clock.set(base + 10*minute)
	if err := f.job.Step(t.Context()); err == nil {
		t.Fatal("Step succeeded while the store failed")
	}
	fs.set(false)
	f.step(t, base+10*minute)
	if rs := f.stored(t, store.Res5m, f.gauge.ID, base, base+5*minute); len(rs) != 1 || rs[0].Count != 1 {
		t.Errorf("window after recovery: %+v", rs)
	}
}

func TestRunStops(t *testing.T) {
	f := newFixture(t)
	f.job.Interval = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.job.Run(ctx) }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
}
