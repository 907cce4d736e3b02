package storetest

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/vigilmon/vigil/collector/store"
)

// rollupResolutions are the resolutions that hold rollup windows.
var rollupResolutions = []store.Resolution{store.Res5m, store.Res1h}

// newRollup makes a window of id at ts whose statistics all derive from v,
// so every field is checked.
func newRollup(id store.SeriesID, ts int64, v float64) store.Rollup {
	return store.Rollup{Series: id, TS: ts, Count: int64(v) + 3, Sum: v * 3, Min: v - 1, Max: v + 1,
		First: v - 0.5, Last: v + 0.5, Increase: v / 4}
}

func rollups(t *testing.T, s store.Store, res store.Resolution, id store.SeriesID, from, to int64, limit int) []store.Rollup {
	t.Helper()
	rs, err := s.ReadRollups(ctx(t), res, id, from, to, limit)
	if err != nil {
		t.Fatalf("ReadRollups(%s, %s, %d, %d, %d): %v", res, id, from, to, limit, err)
	}
	return rs
}

func writeRollups(t *testing.T, s store.Store, res store.Resolution, rs []store.Rollup) {
	t.Helper()
	if err := s.WriteRollups(ctx(t), res, rs); err != nil {
		t.Fatalf("WriteRollups(%s, %d windows): %v", res, len(rs), err)
	}
}

func sameFloat(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b)
}

func sameRollup(a, b store.Rollup) bool {
	return a.Series == b.Series && a.TS == b.TS && a.Count == b.Count &&
		sameFloat(a.Sum, b.Sum) && sameFloat(a.Min, b.Min) && sameFloat(a.Max, b.Max) &&
		sameFloat(a.First, b.First) && sameFloat(a.Last, b.Last) && sameFloat(a.Increase, b.Increase)
}

func wantRollups(t *testing.T, what string, got, want []store.Rollup) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d windows, want %d\n got: %+v\nwant: %+v", what, len(got), len(want), got, want)
		return
	}
	for i := range got {
		if !sameRollup(got[i], want[i]) {
			t.Errorf("%s: window %d = %+v, want %+v", what, i, got[i], want[i])
			return
		}
	}
}

// rollupsBetween returns the windows starting in [from, to), by start.
func rollupsBetween(rs []store.Rollup, from, to int64) []store.Rollup {
	return inWindow(rs, func(r store.Rollup) int64 { return r.TS }, from, to)
}

func testRollupsRoundTrip(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	sr := NewSeries(tenant, "a1", "network", "rx_bytes", store.Counter, "bytes", "interface", "eth0")
	other := NewSeries(tenant, "a1", "network", "tx_bytes", store.Counter, "bytes", "interface", "eth0")
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: []store.Series{sr, other},
		Points: gauge(sr.ID, tsValue, base, base+10*second)})
	for _, res := range rollupResolutions {
		w := res.Window()
		var rs []store.Rollup
		for i := int64(0); i < 6; i++ {
			rs = append(rs, newRollup(sr.ID, base+i*w, float64(i)+float64(res)*100))
		}
		// Special values survive.
		rs = append(rs, store.Rollup{Series: sr.ID, TS: base + 6*w, Count: math.MaxInt64, Sum: math.Inf(1),
			Min: math.Inf(-1), Max: math.MaxFloat64, First: math.Copysign(0, -1), Last: math.NaN(), Increase: math.SmallestNonzeroFloat64})
		// Written out of order, with another series between.
		shuffled := slices.Clone(rs)
		slices.Reverse(shuffled)
		shuffled = append(shuffled, newRollup(other.ID, base, -1))
		writeRollups(t, s, res, shuffled)
		wantRollups(t, fmt.Sprintf("%s windows", res), rollups(t, s, res, sr.ID, base, base+day, 0), rs)
		wantRollups(t, fmt.Sprintf("%s windows of the other series", res), rollups(t, s, res, other.ID, base, base+day, 0),
			[]store.Rollup{newRollup(other.ID, base, -1)})
	}
	// Resolutions do not mix, and rollups are not raw points.
	if got := rollups(t, s, store.Res5m, sr.ID, base, base+5*minute, 0); len(got) != 1 || got[0].Sum != 300 {
		t.Errorf("5m window at base = %+v, want the one written at 5m (sum 300)", got)
	}
	if got := rollups(t, s, store.Res1h, sr.ID, base, base+hour, 0); len(got) != 1 || got[0].Sum != 600 {
		t.Errorf("1h window at base = %+v, want the one written at 1h (sum 600)", got)
	}
	wantPoints(t, "raw points beside rollups", points(t, s, sr.ID, base, base+day, 0), gauge(sr.ID, tsValue, base, base+10*second))
	if got := rollups(t, s, store.Res5m, NewSeries(tenant, "a1", "x", "y", store.Gauge, "").ID, math.MinInt64, math.MaxInt64, 0); len(got) != 0 {
		t.Errorf("unknown series has %d windows", len(got))
	}
	// Raw has no rollups.
	if _, err := s.ReadRollups(ctx(t), store.Raw, sr.ID, base, base+day, 0); err == nil {
		t.Error("ReadRollups(raw) did not fail")
	}
	if err := s.WriteRollups(ctx(t), store.Raw, []store.Rollup{newRollup(sr.ID, base, 1)}); err == nil {
		t.Error("WriteRollups(raw) did not fail")
	}
}

func testRollupsRewrite(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	sr := NewSeries(tenant, "a1", "cpu", "usage_percent", store.Gauge, "percent")
	for _, res := range rollupResolutions {
		w := res.Window()
		first := []store.Rollup{newRollup(sr.ID, base, 1), newRollup(sr.ID, base+w, 2), newRollup(sr.ID, base+2*w, 3)}
		writeRollups(t, s, res, first)
		writeRollups(t, s, res, first) // a rerun of the job
		wantRollups(t, fmt.Sprintf("%s after rerun", res), rollups(t, s, res, sr.ID, base, base+day, 0), first)
		// A recomputed window (a late point) replaces the old one whole.
		again := store.Rollup{Series: sr.ID, TS: base + w, Count: 1, Sum: 7, Min: 7, Max: 7, First: 7, Last: 7}
		writeRollups(t, s, res, []store.Rollup{again})
		wantRollups(t, fmt.Sprintf("%s after recompute", res), rollups(t, s, res, sr.ID, base, base+day, 0),
			[]store.Rollup{first[0], again, first[2]})
	}
}

func testRollupsBoundaries(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	sr := NewSeries(tenant, "a1", "load", "load1", store.Gauge, "")
	nb := NewSeries(tenant, "a1", "load", "load5", store.Gauge, "")
	for _, res := range rollupResolutions {
		w, bw := res.Window(), res.BucketWidth()
		// Windows on both sides of bucket boundaries of this resolution
		// and of the others, and of the epoch.
		edges := []int64{(base/bw + 1) * bw, 0, base + day, (base/(7*day) + 1) * 7 * day, (base/(30*day) + 1) * 30 * day}
		var tss []int64
		for _, e := range edges {
			for _, d := range []int64{-2 * w, -w, 0, w} {
				if e+d >= 0 {
					tss = append(tss, e+d)
				}
			}
		}
		slices.Sort(tss)
		tss = slices.Compact(tss)
		var rs, nrs []store.Rollup
		for i, ts := range tss {
			rs = append(rs, newRollup(sr.ID, ts, float64(i)))
			nrs = append(nrs, newRollup(nb.ID, ts, -float64(i)))
		}
		writeRollups(t, s, res, append(nrs, rs...))
		wantRollups(t, fmt.Sprintf("%s all", res), rollups(t, s, res, sr.ID, math.MinInt64, math.MaxInt64, 0), rs)
		for _, e := range edges {
			for _, r := range []struct{ from, to int64 }{
				{e - w, e}, {e, e + w}, {e - 1, e + 1}, {e, e + 1}, {e - 1, e}, {e + 1, e + w},
				{e - 2*w + 1, e + 2*w}, {e - bw, e + bw}, {e + 1, e + 3*bw},
			} {
				got := rollups(t, s, res, sr.ID, r.from, r.to, 0)
				wantRollups(t, fmt.Sprintf("%s edge %d: [%d, %d)", res, e, r.from, r.to), got, rollupsBetween(rs, r.from, r.to))
			}
		}
	}
}

func testRollupsLimit(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	sr := NewSeries(tenant, "a1", "memory", "used_bytes", store.Gauge, "bytes")
	for _, res := range rollupResolutions {
		// Spread over three buckets.
		step := res.BucketWidth() / 4
		var rs []store.Rollup
		for i := int64(0); i < 12; i++ {
			rs = append(rs, newRollup(sr.ID, base+i*step, float64(i)))
		}
		writeRollups(t, s, res, rs)
		for _, limit := range []int{1, 3, 4, 5, 11, 12, 13} {
			wantRollups(t, fmt.Sprintf("%s limit %d", res, limit), rollups(t, s, res, sr.ID, base, base+12*step, limit), rs[:min(limit, len(rs))])
		}
		wantRollups(t, fmt.Sprintf("%s limit 2 from the 6th", res), rollups(t, s, res, sr.ID, base+5*step, math.MaxInt64, 2), rs[5:7])
	}
}

func testRollupsConcurrent(t *testing.T, s store.Store) {
	// Two collectors computing the same windows write the same rows.
	tenant := NewTenant(t)
	sr := NewSeries(tenant, "a1", "cpu", "usage_percent", store.Gauge, "percent")
	var rs []store.Rollup
	for i := int64(0); i < 200; i++ {
		rs = append(rs, newRollup(sr.ID, base+i*5*minute, float64(i)))
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for chunk := range slices.Chunk(rs, 25) {
				if err := s.WriteRollups(t.Context(), store.Res5m, chunk); err != nil {
					t.Errorf("WriteRollups: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	wantRollups(t, "after concurrent writers", rollups(t, s, store.Res5m, sr.ID, base, base+day, 0), rs)
}

// newSlot returns a queue slot no other test uses.
func newSlot(t *testing.T) int64 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return base - int64(binary.BigEndian.Uint32(b[:]))*store.QueueSlot
}

func pending(t *testing.T, s store.Store, res store.Resolution, slot int64) []store.Window {
	t.Helper()
	ws, err := s.Pending(ctx(t), res, slot)
	if err != nil {
		t.Fatalf("Pending(%s, %d): %v", res, slot, err)
	}
	return ws
}

func wantWindows(t *testing.T, what string, got, want []store.Window) {
	t.Helper()
	order := func(a, b store.Window) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), slices.Compare(a.Series[:], b.Series[:]))
	}
	got, want = slices.Clone(got), slices.Clone(want)
	slices.SortFunc(got, order)
	slices.SortFunc(want, order)
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}

func testQueue(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	a := NewSeries(tenant, "a1", "cpu", "usage_percent", store.Gauge, "percent")
	b := NewSeries(tenant, "a1", "cpu", "idle_percent", store.Gauge, "percent")
	slot, other := newSlot(t), newSlot(t)
	mark := func(res store.Resolution, slot int64, ws ...store.Window) {
		t.Helper()
		if err := s.MarkPending(ctx(t), res, slot, ws); err != nil {
			t.Fatalf("MarkPending(%s, %d): %v", res, slot, err)
		}
	}
	if got := pending(t, s, store.Res5m, slot); len(got) != 0 {
		t.Errorf("new slot holds %v", got)
	}
	w5 := []store.Window{{Series: a.ID, Start: base}, {Series: b.ID, Start: base}, {Series: a.ID, Start: base + 5*minute}}
	mark(store.Res5m, slot, w5...)
	mark(store.Res5m, slot, w5[0], w5[2]) // marked twice: held once
	mark(store.Res5m, slot)               // nothing
	w1h := []store.Window{{Series: a.ID, Start: base}}
	mark(store.Res1h, slot, w1h...)
	mark(store.Res5m, other, store.Window{Series: b.ID, Start: base - 5*minute})
	// Many windows in one slot (a busy minute).
	var many []store.Window
	for i := range 300 {
		many = append(many, store.Window{Series: NewSeries(tenant, "a2", "c", fmt.Sprint("m", i), store.Gauge, "").ID, Start: base + hour})
	}
	mark(store.Res1h, other, many...)

	wantWindows(t, "5m slot", pending(t, s, store.Res5m, slot), w5)
	wantWindows(t, "1h slot", pending(t, s, store.Res1h, slot), w1h)
	wantWindows(t, "other 5m slot", pending(t, s, store.Res5m, other), []store.Window{{Series: b.ID, Start: base - 5*minute}})
	wantWindows(t, "busy slot", pending(t, s, store.Res1h, other), many)
	wantWindows(t, "next slot", pending(t, s, store.Res5m, slot+store.QueueSlot), nil)

	if err := s.ClearPending(ctx(t), store.Res5m, slot); err != nil {
		t.Fatalf("ClearPending: %v", err)
	}
	wantWindows(t, "cleared slot", pending(t, s, store.Res5m, slot), nil)
	wantWindows(t, "1h slot after clearing 5m", pending(t, s, store.Res1h, slot), w1h)
	wantWindows(t, "other slot after clearing", pending(t, s, store.Res5m, other), []store.Window{{Series: b.ID, Start: base - 5*minute}})
	if err := s.ClearPending(ctx(t), store.Res5m, slot); err != nil {
		t.Fatalf("ClearPending again: %v", err)
	}
	// A slot can be used again after clearing.
	mark(store.Res5m, slot, w5[1])
	wantWindows(t, "slot after clear and mark", pending(t, s, store.Res5m, slot), w5[1:2])
}

func testCursor(t *testing.T, s store.Store) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "test-" + hex.EncodeToString(b[:])
	if _, err := s.Cursor(ctx(t), name); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Cursor(unset) error = %v, want ErrNotFound", err)
	}
	for _, v := range []int64{base, base - 1, 0, math.MinInt64, math.MaxInt64, base + store.QueueSlot} {
		if err := s.SetCursor(ctx(t), name, v); err != nil {
			t.Fatalf("SetCursor(%d): %v", v, err)
		}
		got, err := s.Cursor(ctx(t), name)
		if err != nil || got != v {
			t.Errorf("Cursor after SetCursor(%d) = %d, %v", v, got, err)
		}
	}
	if err := s.SetCursor(ctx(t), name+"/other", 7); err != nil {
		t.Fatalf("SetCursor: %v", err)
	}
	if got, err := s.Cursor(ctx(t), name); err != nil || got != base+store.QueueSlot {
		t.Errorf("Cursor after setting another = %d, %v", got, err)
	}
}

func testRetention(t *testing.T, s store.Store) {
	// What DeleteBefore keeps is the contract; what it drops, and when, is
	// the backend's (Pebble drops whole buckets; Cassandra's TTLs expire
	// rows and DeleteBefore does nothing).
	tenant := NewTenant(t)
	sr := NewSeries(tenant, "a1", "cpu", "usage_percent", store.Gauge, "percent")
	var tss []int64
	for d := int64(-20); d <= 2; d++ {
		tss = append(tss, base+d*day, base+d*day+5*minute)
	}
	ps := gauge(sr.ID, tsValue, tss...)
	result := store.CheckResult{Agent: "a1", Check: "cpu", TS: base + day, Status: store.StatusOK, Message: "fine"}
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: []store.Series{sr}, Points: ps, Results: []store.CheckResult{result}})
	var rs5, rs1 []store.Rollup
	for d := int64(-100); d <= 2; d++ {
		rs5 = append(rs5, newRollup(sr.ID, base+d*day, float64(d)))
		rs1 = append(rs1, newRollup(sr.ID, base+d*day+hour, float64(d)))
	}
	writeRollups(t, s, store.Res5m, rs5)
	writeRollups(t, s, store.Res1h, rs1)

	for _, c := range []struct {
		res    store.Resolution
		cutoff int64
	}{{store.Raw, base - 3*day + 1}, {store.Res5m, base - 30*day}, {store.Res1h, base - 60*day - 1}} {
		if err := s.DeleteBefore(ctx(t), c.res, c.cutoff); err != nil {
			t.Fatalf("DeleteBefore(%s, %d): %v", c.res, c.cutoff, err)
		}
	}
	wantPoints(t, "raw points from the cutoff on", points(t, s, sr.ID, base-3*day+1, math.MaxInt64, 0), between(ps, base-3*day+1, math.MaxInt64))
	wantRollups(t, "5m windows from the cutoff on", rollups(t, s, store.Res5m, sr.ID, base-30*day, math.MaxInt64, 0), rollupsBetween(rs5, base-30*day, math.MaxInt64))
	wantRollups(t, "1h windows from the cutoff on", rollups(t, s, store.Res1h, sr.ID, base-60*day-1, math.MaxInt64, 0), rollupsBetween(rs1, base-60*day-1, math.MaxInt64))
	got, err := s.LatestResults(ctx(t), tenant, "a1")
	if err != nil || len(got) != 1 || got[0] != result {
		t.Errorf("LatestResults after retention = %+v, %v; want [%+v] (the latest result is not history)", got, err, result)
	}
	wantSeries(t, "series after retention", series(t, s, store.SeriesFilter{Tenant: tenant}), sr)
	if err := s.DeleteBefore(ctx(t), store.Resolution(store.NumResolutions), base); err == nil {
		t.Error("DeleteBefore(unknown resolution) did not fail")
	}
}
