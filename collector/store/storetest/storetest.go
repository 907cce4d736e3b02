// Package storetest is the contract every store.Store backend passes: each
// backend's tests call Run (and RunReopen) with a function that opens it.
//
// Every subtest works in tenants of its own with random names, so a backend
// may hand out stores that share data (one Cassandra keyspace, say). Values
// of time.Time are at millisecond precision, which every backend keeps.
package storetest

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store"
)

// Time grid of the tests: base is midnight UTC, so day, hour and 5-minute
// bucket boundaries fall on base + multiples of their width.
const (
	second = int64(1000)
	minute = 60 * second
	hour   = 60 * minute
	day    = 24 * hour
	base   = 19676 * day // 2023-11-15T00:00:00Z
)

// Run runs the contract suite. open returns a store ready for use; Run
// closes it when the subtest ends.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Ping", testPing},
		{"EmptyWrite", testEmptyWrite},
		{"PointsRoundTrip", testPointsRoundTrip},
		{"PointsRange", testPointsRange},
		{"PointsLimit", testPointsLimit},
		{"PointsUnknownSeries", testPointsUnknownSeries},
		{"Rewrite", testRewrite},
		{"BucketBoundaries", testBucketBoundaries},
		{"WideRanges", testWideRanges},
		{"FloatValues", testFloatValues},
		{"StringPoints", testStringPoints},
		{"SeriesIndex", testSeriesIndex},
		{"SeriesFilter", testSeriesFilter},
		{"SeriesRedefine", testSeriesRedefine},
		{"Tenants", testTenants},
		{"Results", testResults},
		{"Agents", testAgents},
		{"Tokens", testTokens},
		{"TokensByTenant", testTokensByTenant},
		{"History", testHistory},
		{"ConcurrentWriters", testConcurrentWriters},
		{"RollupsRoundTrip", testRollupsRoundTrip},
		{"RollupsRewrite", testRollupsRewrite},
		{"RollupsBoundaries", testRollupsBoundaries},
		{"RollupsLimit", testRollupsLimit},
		{"RollupsConcurrent", testRollupsConcurrent},
		{"Queue", testQueue},
		{"Cursor", testCursor},
		{"Retention", testRetention},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// RunReopen checks that what a store has accepted survives Close and a new
// open of the same data. backend is called once per subtest and returns an
// opener that opens the same underlying data every time it is called;
// RunReopen closes what it opens.
func RunReopen(t *testing.T, backend func(t *testing.T) func() (store.Store, error)) {
	t.Run("Reopen", func(t *testing.T) { testReopen(t, backend(t)) })
}

// NewTenant returns a tenant name no other test uses.
func NewTenant(t testing.TB) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "t-" + hex.EncodeToString(b[:])
}

// NewSeries builds a series definition with its id; labels come as key,
// value pairs in any order.
func NewSeries(tenant, agent, check, metric string, typ store.MetricType, unit string, labels ...string) store.Series {
	s := store.Series{
		SeriesKey: store.SeriesKey{Tenant: tenant, Agent: agent, Check: check, Metric: metric},
		Type:      typ,
		Unit:      unit,
	}
	for i := 0; i+1 < len(labels); i += 2 {
		s.Labels = append(s.Labels, store.Label{Key: labels[i], Value: labels[i+1]})
	}
	store.SortLabels(s.Labels)
	s.ID = s.SeriesKey.ID()
	return s
}

func ctx(t *testing.T) context.Context { return t.Context() }

func write(t *testing.T, s store.Store, w *store.WriteRequest) {
	t.Helper()
	if err := s.Write(ctx(t), w); err != nil {
		t.Fatalf("Write(%d series, %d points, %d results): %v", len(w.Series), len(w.Points), len(w.Results), err)
	}
}

func points(t *testing.T, s store.Store, id store.SeriesID, from, to int64, limit int) []store.Point {
	t.Helper()
	ps, err := s.Points(ctx(t), id, from, to, limit)
	if err != nil {
		t.Fatalf("Points(%s, %d, %d, %d): %v", id, from, to, limit, err)
	}
	return ps
}

func series(t *testing.T, s store.Store, f store.SeriesFilter) []store.Series {
	t.Helper()
	ss, err := s.Series(ctx(t), f)
	if err != nil {
		t.Fatalf("Series(%+v): %v", f, err)
	}
	return ss
}

// gauge makes numeric points of id at ts with value = f(ts).
func gauge(id store.SeriesID, f func(ts int64) float64, ts ...int64) []store.Point {
	ps := make([]store.Point, len(ts))
	for i, x := range ts {
		ps[i] = store.Point{Series: id, TS: x, Value: f(x)}
	}
	return ps
}

// neighbours returns n series of sr's tenant, agent and check whose ids
// sort on both sides of sr's, with points at tss: a backend that keeps
// series apart by id (within a time bucket, say) must step over them.
func neighbours(sr store.Series, n int, tss []int64) ([]store.Series, []store.Point) {
	var below, above []store.Series
	for i := 0; len(below) < n/2 || len(above) < n-n/2; i++ {
		nb := NewSeries(sr.Tenant, sr.Agent, sr.Check, fmt.Sprint("neighbour_", i), store.Gauge, "")
		if bytes.Compare(nb.ID[:], sr.ID[:]) < 0 {
			if len(below) < n/2 {
				below = append(below, nb)
			}
		} else if len(above) < n-n/2 {
			above = append(above, nb)
		}
	}
	ss := append(below, above...)
	var ps []store.Point
	for _, nb := range ss {
		ps = append(ps, gauge(nb.ID, func(int64) float64 { return -1 }, tss...)...)
	}
	return ss, ps
}

func tsValue(ts int64) float64 { return float64(ts-base) / 1000 }

// wantPoints compares got with want, by value bits for floats.
func wantPoints(t *testing.T, what string, got, want []store.Point) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d points, want %d\n got: %v\nwant: %v", what, len(got), len(want), short(got), short(want))
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		same := g.Series == w.Series && g.TS == w.TS && g.Str == w.Str &&
			(g.Value == w.Value || math.IsNaN(g.Value) && math.IsNaN(w.Value))
		if same && g.Value == 0 && math.Signbit(g.Value) != math.Signbit(w.Value) {
			same = false
		}
		if !same {
			t.Errorf("%s: point %d = %+v, want %+v", what, i, g, w)
			return
		}
	}
}

func short(ps []store.Point) string {
	if len(ps) > 8 {
		return fmt.Sprintf("%v ... %v", ps[:4], ps[len(ps)-4:])
	}
	return fmt.Sprint(ps)
}

// between returns the points with from <= ts < to, sorted by ts.
func between(ps []store.Point, from, to int64) []store.Point {
	return inWindow(ps, func(p store.Point) int64 { return p.TS }, from, to)
}

// inWindow returns the elements of xs whose ts is in [from, to), sorted by it.
func inWindow[T any](xs []T, ts func(T) int64, from, to int64) []T {
	var out []T
	for _, x := range xs {
		if t := ts(x); from <= t && t < to {
			out = append(out, x)
		}
	}
	slices.SortFunc(out, func(a, b T) int { return cmp.Compare(ts(a), ts(b)) })
	return out
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(ctx(t)); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testEmptyWrite(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	write(t, s, &store.WriteRequest{Tenant: tenant})
	sr := NewSeries(tenant, "a1", "cpu", "usage_percent", store.Gauge, "percent")
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: []store.Series{sr}})
	if got := series(t, s, store.SeriesFilter{Tenant: tenant}); len(got) != 1 {
		t.Errorf("series defined without points: Series gives %d, want 1", len(got))
	}
	if got := points(t, s, sr.ID, math.MinInt64, math.MaxInt64, 0); len(got) != 0 {
		t.Errorf("series without points has %d points", len(got))
	}
}

func testPointsRoundTrip(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	a := NewSeries(tenant, "a1", "cpu", "usage_percent", store.Gauge, "percent")
	b := NewSeries(tenant, "a1", "cpu", "idle_percent", store.Gauge, "percent")
	// Out of order on purpose, and interleaved between series.
	tss := []int64{base + 50*second, base, base + 10*second, base + 40*second, base + 20*second, base + 30*second}
	pa := gauge(a.ID, tsValue, tss...)
	pb := gauge(b.ID, func(ts int64) float64 { return -tsValue(ts) }, tss...)
	var ps []store.Point
	for i := range pa {
		ps = append(ps, pa[i], pb[i])
	}
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: []store.Series{a, b}, Points: ps})

	wantPoints(t, "series a", points(t, s, a.ID, base, base+hour, 0), between(pa, base, base+hour))
	wantPoints(t, "series b", points(t, s, b.ID, base, base+hour, 0), between(pb, base, base+hour))

	// A second batch appends.
	more := gauge(a.ID, tsValue, base+60*second, base+70*second)
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: []store.Series{a}, Points: more})
	wantPoints(t, "series a after second batch", points(t, s, a.ID, base, base+hour, 0), between(append(pa, more...), base, base+hour))
}

func testPointsRange(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	sr := NewSeries(tenant, "a1", "load", "load1", store.Gauge, "")
	var tss []int64
	for i := int64(0); i < 60; i++ {
		tss = append(tss, base+i*10*second)
	}
	ps := gauge(sr.ID, tsValue, tss...)
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: []store.Series{sr}, Points: ps})

	for _, r := range []struct{ from, to int64 }{
		{base, base + 10*minute},               // everything
		{base, base + 590*second},              // to is exclusive: last point out
		{base, base + 590*second + 1},          // ... and in
		{base + 1, base + 10*minute},           // from is inclusive: first point out
		{base + 100*second, base + 200*second}, // middle
		{base + 105*second, base + 106*second}, // between two points
		{base - hour, base},                    // before the first point
		{base + 10*minute, base + hour},        // after the last point
		{base + 100*second, base + 100*second}, // empty range
		{base + 200*second, base + 100*second}, // inverted range
	} {
		got := points(t, s, sr.ID, r.from, r.to, 0)
		wantPoints(t, fmt.Sprintf("[%d, %d)", r.from-base, r.to-base), got, between(ps, r.from, r.to))
	}
}

func testPointsLimit(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	sr := NewSeries(tenant, "a1", "load", "load5", store.Gauge, "")
	var tss []int64
	for i := int64(0); i < 30; i++ {
		tss = append(tss, base+i*hour) // spans two days
	}
	ps := gauge(sr.ID, tsValue, tss...)
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: []store.Series{sr}, Points: ps})
	all := between(ps, base, base+2*day)
	for _, limit := range []int{1, 2, 24, 25, 29, 30, 31, 1000} {
		want := all[:min(limit, len(all))]
		wantPoints(t, fmt.Sprintf("limit %d", limit), points(t, s, sr.ID, base, base+2*day, limit), want)
	}
	// The limit counts from the start of the range.
	wantPoints(t, "limit 3 from hour 23", points(t, s, sr.ID, base+23*hour, base+2*day, 3), all[23:26])
}

func testPointsUnknownSeries(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	sr := NewSeries(tenant, "a1", "cpu", "count", store.Gauge, "")
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: []store.Series{sr}, Points: gauge(sr.ID, tsValue, base)})
	other := NewSeries(tenant, "a1", "cpu", "nothing", store.Gauge, "")
	if got := points(t, s, other.ID, math.MinInt64, math.MaxInt64, 0); len(got) != 0 {
		t.Errorf("unknown series has %d points", len(got))
	}
}

func testRewrite(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	sr := NewSeries(tenant, "a1", "memory", "used_bytes", store.Gauge, "bytes")
	req := func(v float64, ts ...int64) *store.WriteRequest {
		return &store.WriteRequest{Tenant: tenant, Series: []store.Series{sr}, Points: gauge(sr.ID, func(int64) float64 { return v }, ts...)}
	}
	write(t, s, req(1, base, base+10*second, base+20*second))
	// The same batch again (an agent's retry): still one point per ts.
	write(t, s, req(1, base, base+10*second, base+20*second))
	wantPoints(t, "after retry", points(t, s, sr.ID, base, base+minute, 0),
		gauge(sr.ID, func(int64) float64 { return 1 }, base, base+10*second, base+20*second))

	// A rewrite with other values: the later write wins.
	write(t, s, req(2, base+10*second))
	want := []store.Point{
		{Series: sr.ID, TS: base, Value: 1},
		{Series: sr.ID, TS: base + 10*second, Value: 2},
		{Series: sr.ID, TS: base + 20*second, Value: 1},
	}
	wantPoints(t, "after rewrite", points(t, s, sr.ID, base, base+minute, 0), want)
}

func testBucketBoundaries(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	sr := NewSeries(tenant, "a1", "network", "rx_bytes", store.Counter, "bytes", "interface", "eth0")
	// Around every boundary a backend might bucket by: 5 minutes, hour, day,
	// a 7-day and a 30-day grid from the epoch, and the epoch itself.
	edges := []int64{
		base + 5*minute, base + hour, base + day, base + 2*day,
		(base/(7*day) + 1) * 7 * day, (base/(30*day) + 1) * 30 * day, 0,
	}
	var tss []int64
	for _, e := range edges {
		if e > 0 {
			tss = append(tss, e-1)
		}
		tss = append(tss, e, e+1)
	}
	slices.Sort(edges) // grids may share edges
	edges = slices.Compact(edges)
	slices.Sort(tss)
	tss = slices.Compact(tss)
	ps := gauge(sr.ID, tsValue, tss...)
	nbs, nps := neighbours(sr, 4, tss)
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: append(nbs, sr), Points: append(nps, ps...)})

	wantPoints(t, "all", points(t, s, sr.ID, 0, base+100*day, 0), between(ps, 0, base+100*day))
	for _, e := range edges {
		for _, r := range []struct{ from, to int64 }{
			{e - hour, e}, {e, e + hour}, {e - 1, e + 1}, {e, e + 1}, {e - 1, e}, {e + 1, e + 2},
			{e - day, e + day}, {e - 3*day, e - 1}, {e + 1, e + 40*day},
		} {
			if r.from < 0 {
				r.from = 0
			}
			got := points(t, s, sr.ID, r.from, r.to, 0)
			wantPoints(t, fmt.Sprintf("edge %d: [%d, %d)", e, r.from, r.to), got, between(ps, r.from, r.to))
		}
	}
}

func testWideRanges(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	sr := NewSeries(tenant, "a1", "system", "uptime_seconds", store.Gauge, "seconds")
	other := NewSeries(tenant, "a1", "system", "processes", store.Gauge, "")
	// Sparse: days apart, with many days of nothing in between, and another
	// series filling the gaps.
	tss := []int64{1, base - 400*day, base, base + 3*day + 5, base + 10*day, base + 200*day}
	ps := gauge(sr.ID, tsValue, tss...)
	var fill []int64
	for d := int64(-5); d < 15; d++ {
		fill = append(fill, base+d*day+hour)
	}
	nbs, nps := neighbours(sr, 4, append(tss, fill...))
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: append(nbs, sr, other),
		Points: append(append(ps, gauge(other.ID, tsValue, fill...)...), nps...)})

	for _, r := range []struct{ from, to int64 }{
		{math.MinInt64, math.MaxInt64},
		{0, math.MaxInt64},
		{math.MinInt64, base},
		{base, math.MaxInt64},
		{base - day, base + 11*day},
		{base + 1, base + 200*day},
	} {
		got := points(t, s, sr.ID, r.from, r.to, 0)
		wantPoints(t, fmt.Sprintf("[%d, %d)", r.from, r.to), got, between(ps, r.from, r.to))
	}
	wantPoints(t, "limit 2 over everything", points(t, s, sr.ID, math.MinInt64, math.MaxInt64, 2), between(ps, 0, base)[:2])
}

func testFloatValues(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	sr := NewSeries(tenant, "a1", "plugin.odd", "value", store.Gauge, "")
	vals := []float64{0, math.Copysign(0, -1), 1, -1, math.Pi, math.MaxFloat64, -math.MaxFloat64,
		math.SmallestNonzeroFloat64, math.Inf(1), math.Inf(-1), math.NaN(), 1e-300, 123456789.123456789}
	var ps []store.Point
	for i, v := range vals {
		ps = append(ps, store.Point{Series: sr.ID, TS: base + int64(i)*second, Value: v})
	}
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: []store.Series{sr}, Points: ps})
	wantPoints(t, "special floats", points(t, s, sr.ID, base, base+hour, 0), ps)
}

func testStringPoints(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	sr := NewSeries(tenant, "a1", "plugin.http", "status_line", store.String, "")
	num := NewSeries(tenant, "a1", "plugin.http", "latency.p99", store.Gauge, "ms")
	strs := []string{"HTTP/1.1 200 OK", "", "ünïcødé ✓", "with\x00nul", string(make([]byte, 300))}
	var ps []store.Point
	for i, v := range strs {
		ps = append(ps, store.Point{Series: sr.ID, TS: base + int64(i)*10*second, Str: v})
	}
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: []store.Series{sr, num},
		Points: append(ps, store.Point{Series: num.ID, TS: base, Value: 12.5})})
	wantPoints(t, "strings", points(t, s, sr.ID, base, base+hour, 0), ps)
	wantPoints(t, "gauge beside strings", points(t, s, num.ID, base, base+hour, 0),
		[]store.Point{{Series: num.ID, TS: base, Value: 12.5}})

	// Rewrite one string: the later wins.
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: []store.Series{sr},
		Points: []store.Point{{Series: sr.ID, TS: base, Str: "HTTP/1.1 503 Service Unavailable"}}})
	ps[0].Str = "HTTP/1.1 503 Service Unavailable"
	wantPoints(t, "strings after rewrite", points(t, s, sr.ID, base, base+hour, 0), ps)
}

func sameSeries(a, b *store.Series) bool {
	return a.ID == b.ID && store.CompareKeys(&a.SeriesKey, &b.SeriesKey) == 0 && a.Type == b.Type && a.Unit == b.Unit
}

// wantSeries compares got with the definitions in want, in key order.
func wantSeries(t *testing.T, what string, got []store.Series, want ...store.Series) {
	t.Helper()
	want = slices.Clone(want)
	slices.SortFunc(want, func(a, b store.Series) int { return store.CompareKeys(&a.SeriesKey, &b.SeriesKey) })
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = sameSeries(&got[i], &want[i])
	}
	if !ok {
		t.Errorf("%s:\n got %s\nwant %s", what, seriesNames(got), seriesNames(want))
	}
}

func seriesNames(ss []store.Series) string {
	var out []string
	for _, s := range ss {
		out = append(out, fmt.Sprintf("%s/%s/%s/%s%v(%s,%q)", s.Tenant, s.Agent, s.Check, s.Metric, s.Labels, s.Type, s.Unit))
	}
	return fmt.Sprint(out)
}

// fleet is a tenant's series for the index tests.
func fleet(tenant string) []store.Series {
	return []store.Series{
		NewSeries(tenant, "web1", "cpu", "usage_percent", store.Gauge, "percent"),
		NewSeries(tenant, "web1", "cpu", "idle_percent", store.Gauge, "percent"),
		NewSeries(tenant, "web1", "filesystem", "used_bytes", store.Gauge, "bytes", "mount", "/", "device", "sda1", "fstype", "ext4"),
		NewSeries(tenant, "web1", "filesystem", "used_bytes", store.Gauge, "bytes", "mount", "/boot", "device", "sda2", "fstype", "ext4"),
		NewSeries(tenant, "web1", "filesystem", "used_bytes", store.Gauge, "bytes", "mount", "/var", "device", "sdb1", "fstype", "xfs"),
		NewSeries(tenant, "web1", "network", "rx_bytes", store.Counter, "bytes", "interface", "eth0"),
		NewSeries(tenant, "web1", "network", "rx_bytes", store.Counter, "bytes", "interface", "lo"),
		NewSeries(tenant, "web1", "plugin.http", "status", store.String, ""),
		NewSeries(tenant, "web1", "plugin.http", "latency.p99", store.Gauge, "ms", "url", "https://example.com/?a=1&b=ü"),
		NewSeries(tenant, "web10", "cpu", "usage_percent", store.Gauge, "percent"),
		NewSeries(tenant, "web2", "cpu", "usage_percent", store.Gauge, "percent"),
		NewSeries(tenant, "web2", "cpu", "usage_percent", store.Gauge, "percent", "core", "0"),
		NewSeries(tenant, "web2", "cpuinfo", "count", store.Gauge, ""),
		NewSeries(tenant, "db.1", "disk", "io_time_ms", store.Counter, "ms", "device", "nvme0n1"),
	}
}

func testSeriesIndex(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	all := fleet(tenant)
	// Points for some series, none for the others: both are listed.
	var ps []store.Point
	for i, sr := range all[:5] {
		if sr.Type != store.String {
			ps = append(ps, store.Point{Series: sr.ID, TS: base, Value: float64(i)})
		}
	}
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: all[:7], Points: ps})
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: all[5:]}) // overlaps the first batch
	got := series(t, s, store.SeriesFilter{Tenant: tenant})
	wantSeries(t, "all series", got, all...)
	for i := 1; i < len(got); i++ {
		if store.CompareKeys(&got[i-1].SeriesKey, &got[i].SeriesKey) >= 0 {
			t.Errorf("Series out of key order at %d: %s then %s", i, seriesNames(got[i-1:i]), seriesNames(got[i:i+1]))
		}
	}
	for _, sr := range got {
		if sr.ID != sr.SeriesKey.ID() {
			t.Errorf("series %s: id %s is not the hash of its key", seriesNames([]store.Series{sr}), sr.ID)
		}
	}
	if got := series(t, s, store.SeriesFilter{Tenant: NewTenant(t)}); len(got) != 0 {
		t.Errorf("empty tenant has %d series", len(got))
	}
}

func testSeriesFilter(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	all := fleet(tenant)
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: all})
	match := func(f store.SeriesFilter) []store.Series {
		var out []store.Series
		for i := range all {
			if f.Match(&all[i]) {
				out = append(out, all[i])
			}
		}
		return out
	}
	lbl := func(kv ...string) []store.Label {
		var ls []store.Label
		for i := 0; i+1 < len(kv); i += 2 {
			ls = append(ls, store.Label{Key: kv[i], Value: kv[i+1]})
		}
		return ls
	}
	for _, f := range []store.SeriesFilter{
		{Agent: "web1"},
		{Agent: "web"},   // no prefix matching of names
		{Agent: "web10"}, // and no prefix confusion with web1
		{Agent: "web1", Check: "cpu"},
		{Agent: "web2", Check: "cpu"}, // not cpuinfo
		{Agent: "web1", Check: "filesystem", Metric: "used_bytes"},
		{Check: "cpu"},
		{Metric: "usage_percent"},
		{Check: "cpu", Metric: "usage_percent"},
		{Agent: "web1", Metric: "rx_bytes"},
		{Labels: lbl("mount", "/boot")},
		{Labels: lbl("fstype", "ext4")},
		{Labels: lbl("fstype", "ext4", "mount", "/")},
		{Labels: lbl("mount", "/", "fstype", "ext4")}, // filter labels in any order
		{Labels: lbl("fstype", "xfs", "mount", "/")},  // both must match
		{Agent: "web2", Labels: lbl("core", "0")},
		{Labels: lbl("url", "https://example.com/?a=1&b=ü")},
		{Labels: lbl("core", "")}, // a missing label is not an empty one
		{Agent: "nope"},
		{Agent: "web1", Check: "nope"},
		{Agent: "web1", Check: "cpu", Metric: "nope"},
	} {
		f.Tenant = tenant
		wantSeries(t, fmt.Sprintf("filter %+v", f), series(t, s, f), match(f)...)
	}
}

func testSeriesRedefine(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	sr := NewSeries(tenant, "a1", "plugin.x", "size", store.Gauge, "bytes")
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: []store.Series{sr}, Points: gauge(sr.ID, tsValue, base)})
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: []store.Series{sr}, Points: gauge(sr.ID, tsValue, base+second)})
	wantSeries(t, "same definition twice", series(t, s, store.SeriesFilter{Tenant: tenant}), sr)

	// A plugin changes the unit: same series (the id ignores type and
	// unit), the later definition wins, the points stay.
	sr2 := sr
	sr2.Unit = "kibibytes"
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: []store.Series{sr2}, Points: gauge(sr.ID, tsValue, base+2*second)})
	wantSeries(t, "redefined unit", series(t, s, store.SeriesFilter{Tenant: tenant}), sr2)
	wantPoints(t, "points across redefinition", points(t, s, sr.ID, base, base+minute, 0),
		gauge(sr.ID, tsValue, base, base+second, base+2*second))
}

func testTenants(t *testing.T, s store.Store) {
	ta, tb := NewTenant(t), NewTenant(t)
	sa := NewSeries(ta, "web1", "cpu", "usage_percent", store.Gauge, "percent", "core", "0")
	sb := NewSeries(tb, "web1", "cpu", "usage_percent", store.Gauge, "percent", "core", "0")
	if sa.ID == sb.ID {
		t.Fatal("same series id in two tenants")
	}
	res := func(msg string) []store.CheckResult {
		return []store.CheckResult{{Agent: "web1", Check: "cpu", TS: base, Status: store.StatusOK, Message: msg}}
	}
	write(t, s, &store.WriteRequest{Tenant: ta, Series: []store.Series{sa}, Points: []store.Point{{Series: sa.ID, TS: base, Value: 1}}, Results: res("a")})
	write(t, s, &store.WriteRequest{Tenant: tb, Series: []store.Series{sb}, Points: []store.Point{{Series: sb.ID, TS: base, Value: 2}}, Results: res("b")})

	for _, f := range []store.SeriesFilter{
		{}, {Agent: "web1"}, {Agent: "web1", Check: "cpu"}, {Agent: "web1", Check: "cpu", Metric: "usage_percent"},
		{Metric: "usage_percent"}, {Labels: []store.Label{{Key: "core", Value: "0"}}},
	} {
		fa, fb := f, f
		fa.Tenant, fb.Tenant = ta, tb
		wantSeries(t, fmt.Sprintf("tenant A %+v", f), series(t, s, fa), sa)
		wantSeries(t, fmt.Sprintf("tenant B %+v", f), series(t, s, fb), sb)
	}
	wantPoints(t, "tenant A points", points(t, s, sa.ID, base, base+1, 0), []store.Point{{Series: sa.ID, TS: base, Value: 1}})
	wantPoints(t, "tenant B points", points(t, s, sb.ID, base, base+1, 0), []store.Point{{Series: sb.ID, TS: base, Value: 2}})

	for _, tn := range []struct{ tenant, host string }{{ta, "a.example"}, {tb, "b.example"}} {
		if err := s.UpsertAgent(ctx(t), store.Agent{Tenant: tn.tenant, ID: "web1", Hostname: tn.host}); err != nil {
			t.Fatalf("UpsertAgent: %v", err)
		}
	}
	for _, tn := range []struct{ tenant, host string }{{ta, "a.example"}, {tb, "b.example"}} {
		as, err := s.Agents(ctx(t), tn.tenant)
		if err != nil {
			t.Fatalf("Agents: %v", err)
		}
		if len(as) != 1 || as[0].Tenant != tn.tenant || as[0].Hostname != tn.host {
			t.Errorf("Agents(%s) = %+v, want only web1 at %s", tn.tenant, as, tn.host)
		}
	}

	for _, tn := range []struct{ tenant, msg string }{{ta, "a"}, {tb, "b"}} {
		rs, err := s.LatestResults(ctx(t), tn.tenant, "web1")
		if err != nil {
			t.Fatalf("LatestResults: %v", err)
		}
		if len(rs) != 1 || rs[0].Message != tn.msg {
			t.Errorf("LatestResults(%s) = %+v, want one with message %q", tn.tenant, rs, tn.msg)
		}
	}
}

func testResults(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	sr := NewSeries(tenant, "web1", "cpu", "usage_percent", store.Gauge, "percent")
	r := func(agent, check string, ts int64, st store.Status, msg string) store.CheckResult {
		return store.CheckResult{Agent: agent, Check: check, TS: ts, Status: st, Message: msg, DurationMS: uint32(ts % 1000)}
	}
	// Results alone, and with points.
	write(t, s, &store.WriteRequest{Tenant: tenant, Results: []store.CheckResult{
		r("web1", "cpu", base, store.StatusOK, "fine"),
		r("web1", "memory", base, store.StatusWarn, "swapping"),
	}})
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: []store.Series{sr},
		Points: []store.Point{{Series: sr.ID, TS: base + minute + 7, Value: 3}},
		Results: []store.CheckResult{
			r("web1", "cpu", base+minute+7, store.StatusCrit, "load ≥ 99%"),
			r("web2", "plugin.mysql", base+minute, store.StatusUnknown, string(make([]byte, 256))),
		}})
	// A retried old batch after a newer one, and an exact duplicate.
	write(t, s, &store.WriteRequest{Tenant: tenant, Results: []store.CheckResult{
		r("web1", "cpu", base+30*second, store.StatusOK, "old retry"),
		r("web1", "memory", base, store.StatusWarn, "swapping"),
	}})

	got, err := s.LatestResults(ctx(t), tenant, "web1")
	if err != nil {
		t.Fatalf("LatestResults: %v", err)
	}
	want := []store.CheckResult{
		r("web1", "cpu", base+minute+7, store.StatusCrit, "load ≥ 99%"),
		r("web1", "memory", base, store.StatusWarn, "swapping"),
	}
	if !slices.Equal(got, want) {
		t.Errorf("LatestResults(web1):\n got %+v\nwant %+v", got, want)
	}
	if got, err := s.LatestResults(ctx(t), tenant, "web"); err != nil || len(got) != 0 {
		t.Errorf("LatestResults(web) = %+v, %v; want none (no prefix matching)", got, err)
	}
}

func sameAgent(a, b store.Agent) bool {
	if len(a.Labels) != len(b.Labels) {
		return false
	}
	for k, v := range a.Labels {
		if w, ok := b.Labels[k]; !ok || w != v {
			return false
		}
	}
	return a.Tenant == b.Tenant && a.ID == b.ID && a.Hostname == b.Hostname && a.Version == b.Version &&
		a.LastSeen.Equal(b.LastSeen) && a.Connected == b.Connected && a.Collector == b.Collector
}

func wantAgents(t *testing.T, s store.Store, tenant string, want ...store.Agent) {
	t.Helper()
	got, err := s.Agents(ctx(t), tenant)
	if err != nil {
		t.Fatalf("Agents(%s): %v", tenant, err)
	}
	// The interface promises no order.
	sort.Slice(got, func(i, j int) bool { return got[i].ID < got[j].ID })
	sort.Slice(want, func(i, j int) bool { return want[i].ID < want[j].ID })
	ok := len(got) == len(want)
	for i := 0; ok && i < len(got); i++ {
		ok = sameAgent(got[i], want[i])
	}
	if !ok {
		t.Errorf("Agents(%s):\n got %+v\nwant %+v", tenant, got, want)
	}
}

func testAgents(t *testing.T, s store.Store) {
	ta, tb := NewTenant(t), NewTenant(t)
	seen := time.UnixMilli(base + 1234).UTC()
	a1 := store.Agent{Tenant: ta, ID: "web1.example.com", Hostname: "web1", Version: "1.0.0",
		Labels: map[string]string{"env": "prod", "role": "web", "empty": ""}, LastSeen: seen, Connected: true, Collector: "eu-1"}
	a2 := store.Agent{Tenant: ta, ID: "db_2", Hostname: "db2", Version: "1.0.1"} // never seen, no labels
	b1 := store.Agent{Tenant: tb, ID: "web1.example.com", Hostname: "other", Version: "0.9.0", LastSeen: seen}
	for _, a := range []store.Agent{a1, a2, b1} {
		if err := s.UpsertAgent(ctx(t), a); err != nil {
			t.Fatalf("UpsertAgent(%s): %v", a.ID, err)
		}
	}
	wantAgents(t, s, ta, a1, a2)
	wantAgents(t, s, tb, b1)
	wantAgents(t, s, NewTenant(t))

	// An update replaces the whole record: labels dropped, disconnected.
	a1.Connected = false
	a1.Collector = ""
	a1.LastSeen = seen.Add(90 * time.Second)
	a1.Labels = map[string]string{"env": "staging"}
	a1.Version = "1.1.0"
	a2.LastSeen = seen
	a2.Connected = true
	a2.Labels = map[string]string{"new": "label"}
	for _, a := range []store.Agent{a1, a2} {
		if err := s.UpsertAgent(ctx(t), a); err != nil {
			t.Fatalf("UpsertAgent(%s): %v", a.ID, err)
		}
	}
	wantAgents(t, s, ta, a1, a2)
	wantAgents(t, s, tb, b1)
}

func tokenHash(t *testing.T) store.TokenHash {
	var h store.TokenHash
	if _, err := rand.Read(h[:]); err != nil {
		t.Fatal(err)
	}
	return h
}

func sameToken(a, b store.Token) bool {
	return a.Hash == b.Hash && a.ID == b.ID && a.Tenant == b.Tenant && a.Role == b.Role && a.Agent == b.Agent &&
		a.Created.Equal(b.Created) && a.Revoked.Equal(b.Revoked)
}

func wantToken(t *testing.T, s store.Store, want store.Token) {
	t.Helper()
	got, err := s.TokenByHash(ctx(t), want.Hash)
	if err != nil {
		t.Fatalf("TokenByHash(%s): %v", want.ID, err)
	}
	if !sameToken(got, want) {
		t.Errorf("TokenByHash(%s):\n got %+v\nwant %+v", want.ID, got, want)
	}
}

func testTokens(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	created := time.UnixMilli(base + 5).UTC()
	toks := []store.Token{
		{Hash: tokenHash(t), ID: "tok-agent", Tenant: tenant, Role: store.RoleAgent, Agent: "web1", Created: created},
		{Hash: tokenHash(t), ID: "tok-enroll", Tenant: tenant, Role: store.RoleEnroll, Created: created},
		{Hash: tokenHash(t), ID: "tok-read", Tenant: NewTenant(t), Role: store.RoleRead, Created: created},
		{Hash: tokenHash(t), ID: "tok-admin", Tenant: tenant, Role: store.RoleAdmin, Created: created,
			Revoked: created.Add(time.Hour)}, // stored revoked
	}
	for _, tk := range toks {
		if err := s.PutToken(ctx(t), tk); err != nil {
			t.Fatalf("PutToken(%s): %v", tk.ID, err)
		}
	}
	for _, tk := range toks {
		wantToken(t, s, tk)
	}
	if _, err := s.TokenByHash(ctx(t), tokenHash(t)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenByHash(unknown) error = %v, want ErrNotFound", err)
	}
	var zero store.TokenHash
	if _, err := s.TokenByHash(ctx(t), zero); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenByHash(zero hash) error = %v, want ErrNotFound", err)
	}

	// Revoking is a put of the same token with Revoked set.
	toks[0].Revoked = time.UnixMilli(base + 2*day).UTC()
	if err := s.PutToken(ctx(t), toks[0]); err != nil {
		t.Fatalf("PutToken(revoke): %v", err)
	}
	wantToken(t, s, toks[0])
	wantToken(t, s, toks[1])
}

func testTokensByTenant(t *testing.T, s store.Store) {
	a, b := NewTenant(t), NewTenant(t)
	created := time.UnixMilli(base).UTC()
	toks := []store.Token{
		{Hash: tokenHash(t), ID: "b-read", Tenant: a, Role: store.RoleRead, Created: created},
		{Hash: tokenHash(t), ID: "a-admin", Tenant: a, Role: store.RoleAdmin, Created: created},
		{Hash: tokenHash(t), ID: "a-agent", Tenant: b, Role: store.RoleAgent, Agent: "web1", Created: created},
	}
	for _, tk := range toks {
		if err := s.PutToken(ctx(t), tk); err != nil {
			t.Fatalf("PutToken(%s): %v", tk.ID, err)
		}
	}
	list := func(tenant string) []store.Token {
		t.Helper()
		got, err := s.Tokens(ctx(t), tenant)
		if err != nil {
			t.Fatalf("Tokens(%s): %v", tenant, err)
		}
		return got
	}
	want := func(what string, got []store.Token, want ...store.Token) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: got %d tokens %+v, want %d", what, len(got), got, len(want))
		}
		for i := range got {
			if !sameToken(got[i], want[i]) {
				t.Errorf("%s[%d] = %+v, want %+v", what, i, got[i], want[i])
			}
		}
	}
	want("Tokens(a)", list(a), toks[1], toks[0])
	want("Tokens(b)", list(b), toks[2])
	want("Tokens(unknown)", list(NewTenant(t)))

	// Revoking is a put with Revoked set: listed as revoked, and
	// TokenByHash agrees.
	toks[0].Revoked = time.UnixMilli(base + day).UTC()
	if err := s.PutToken(ctx(t), toks[0]); err != nil {
		t.Fatalf("PutToken(revoke): %v", err)
	}
	want("Tokens(a) after revoke", list(a), toks[1], toks[0])
	wantToken(t, s, toks[0])
}

func testHistory(t *testing.T, s store.Store) {
	tenant, other := NewTenant(t), NewTenant(t)
	r := func(agent, check string, ts int64, st store.Status) store.CheckResult {
		return store.CheckResult{Agent: agent, Check: check, TS: ts, Status: st, Message: fmt.Sprint("at ", ts), DurationMS: 5}
	}
	// One check over three days (one day empty), with neighbours that must
	// not show: another check, another agent, a longer agent name, and
	// the same ids in another tenant.
	mine := []store.CheckResult{
		r("web1", "cpu", base-minute, store.StatusOK),
		r("web1", "cpu", base, store.StatusOK),
		r("web1", "cpu", base+day-1, store.StatusWarn),
		r("web1", "cpu", base+day, store.StatusCrit),
		r("web1", "cpu", base+3*day+minute, store.StatusOK),
	}
	write(t, s, &store.WriteRequest{Tenant: tenant, Results: mine})
	write(t, s, &store.WriteRequest{Tenant: tenant, Results: []store.CheckResult{
		r("web1", "memory", base+minute, store.StatusCrit),
		r("web10", "cpu", base+minute, store.StatusCrit),
		r("web", "cpu", base+minute, store.StatusCrit),
	}})
	write(t, s, &store.WriteRequest{Tenant: other, Results: []store.CheckResult{r("web1", "cpu", base+minute, store.StatusCrit)}})

	hist := func(from, to int64, limit int) []store.CheckResult {
		t.Helper()
		got, err := s.History(ctx(t), tenant, "web1", "cpu", from, to, limit)
		if err != nil {
			t.Fatalf("History(%d, %d, %d): %v", from, to, limit, err)
		}
		return got
	}
	for _, tc := range []struct {
		name     string
		from, to int64
		limit    int
		want     []store.CheckResult
	}{
		{"all", base - day, base + 10*day, 0, mine},
		{"wide", base - 400*day, base + 400*day, 0, mine}, // the API allows 400 days
		{"from inclusive, to exclusive", base, base + day, 0, mine[1:3]},
		{"limit", base - day, base + 10*day, 2, mine[:2]},
		{"limit across days", base, base + 10*day, 3, mine[1:4]},
		{"empty day", base + 2*day, base + 3*day, 0, nil},
		{"empty range", base, base, 0, nil},
	} {
		if got := hist(tc.from, tc.to, tc.limit); !slices.Equal(got, tc.want) {
			t.Errorf("%s: History = %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
	if got, err := s.History(ctx(t), other, "web1", "cpu", base-day, base+10*day, 0); err != nil || len(got) != 1 {
		t.Errorf("History(other tenant) = %+v, %v; want its one result", got, err)
	}
}

func testConcurrentWriters(t *testing.T, s store.Store) {
	const (
		writers  = 8
		batches  = 12
		perBatch = 50
		step     = 10 * second
	)
	tenant := NewTenant(t)
	shared := NewSeries(tenant, "shared", "load", "load1", store.Gauge, "")      // same values from all
	contest := NewSeries(tenant, "shared", "load", "load5", store.Gauge, "")     // different values
	status := NewSeries(tenant, "shared", "plugin.x", "state", store.String, "") // strings, same values
	own := make([]store.Series, writers)
	for w := range own {
		own[w] = NewSeries(tenant, fmt.Sprintf("agent-%d", w), "cpu", "usage_percent", store.Gauge, "percent", "writer", fmt.Sprint(w))
	}
	// Each writer starts at another batch, so writes of one ts overlap in time.
	ts := func(batch, i int) int64 { return base + int64(batch*perBatch+i)*step }

	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < batches; n++ {
				bt := (n + w) % batches
				req := &store.WriteRequest{Tenant: tenant, Series: []store.Series{shared, contest, status, own[w]}}
				for i := 0; i < perBatch; i++ {
					x := ts(bt, i)
					req.Points = append(req.Points,
						store.Point{Series: own[w].ID, TS: x, Value: float64(w*1_000_000 + bt*perBatch + i)},
						store.Point{Series: shared.ID, TS: x, Value: tsValue(x)},
						store.Point{Series: contest.ID, TS: x, Value: float64(w)},
						store.Point{Series: status.ID, TS: x, Str: fmt.Sprint("s", x)},
					)
				}
				req.Results = []store.CheckResult{{Agent: own[w].Agent, Check: "cpu", TS: ts(bt, 0), Status: store.StatusOK}}
				if err := s.Write(t.Context(), req); err != nil {
					t.Errorf("writer %d batch %d: %v", w, bt, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	end := ts(batches, 0)
	var all []int64
	for bt := 0; bt < batches; bt++ {
		for i := 0; i < perBatch; i++ {
			all = append(all, ts(bt, i))
		}
	}
	for w := 0; w < writers; w++ {
		want := gauge(own[w].ID, func(x int64) float64 { return float64(w*1_000_000) + float64((x-base)/step) }, all...)
		wantPoints(t, fmt.Sprintf("writer %d", w), points(t, s, own[w].ID, base, end, 0), want)
	}
	wantPoints(t, "shared", points(t, s, shared.ID, base, end, 0), gauge(shared.ID, tsValue, all...))

	got := points(t, s, contest.ID, base, end, 0)
	if len(got) != len(all) {
		t.Errorf("contested series: %d points, want %d (one per ts)", len(got), len(all))
	}
	for i, p := range got {
		if i < len(all) && p.TS != all[i] || p.Value < 0 || p.Value >= writers || p.Value != math.Trunc(p.Value) {
			t.Errorf("contested series: point %d = %+v, want ts %d and a writer's value", i, p, all[i])
			break
		}
	}
	var wantStr []store.Point
	for _, x := range all {
		wantStr = append(wantStr, store.Point{Series: status.ID, TS: x, Str: fmt.Sprint("s", x)})
	}
	wantPoints(t, "strings", points(t, s, status.ID, base, end, 0), wantStr)
	wantSeries(t, "series", series(t, s, store.SeriesFilter{Tenant: tenant}), append([]store.Series{shared, contest, status}, own...)...)
}

func testReopen(t *testing.T, open func() (store.Store, error)) {
	tenant := NewTenant(t)
	gaugeS := NewSeries(tenant, "web1", "cpu", "usage_percent", store.Gauge, "percent", "core", "1")
	strS := NewSeries(tenant, "web1", "plugin.http", "status", store.String, "")
	ps := append(gauge(gaugeS.ID, tsValue, base, base+day, base+2*day-1),
		store.Point{Series: strS.ID, TS: base, Str: "up"})
	result := store.CheckResult{Agent: "web1", Check: "cpu", TS: base + day, Status: store.StatusWarn, Message: "hot", DurationMS: 12}
	agent := store.Agent{Tenant: tenant, ID: "web1", Hostname: "web1.example", Version: "1.2.3",
		Labels: map[string]string{"env": "prod"}, LastSeen: time.UnixMilli(base).UTC(), Connected: true, Collector: "c1"}
	tok := store.Token{Hash: tokenHash(t), ID: "tok", Tenant: tenant, Role: store.RoleRead, Created: time.UnixMilli(base).UTC()}

	s, err := open()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: []store.Series{gaugeS, strS}, Points: ps, Results: []store.CheckResult{result}})
	if err := s.UpsertAgent(ctx(t), agent); err != nil {
		t.Fatalf("UpsertAgent: %v", err)
	}
	if err := s.PutToken(ctx(t), tok); err != nil {
		t.Fatalf("PutToken: %v", err)
	}
	rollup := newRollup(gaugeS.ID, base+hour, 3)
	writeRollups(t, s, store.Res5m, []store.Rollup{rollup})
	slot, cursor := newSlot(t), "reopen-"+tenant
	window := store.Window{Series: gaugeS.ID, Start: base}
	if err := s.MarkPending(ctx(t), store.Res1h, slot, []store.Window{window}); err != nil {
		t.Fatalf("MarkPending: %v", err)
	}
	if err := s.SetCursor(ctx(t), cursor, slot); err != nil {
		t.Fatalf("SetCursor: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	check := func(s store.Store, ps []store.Point) {
		t.Helper()
		wantSeries(t, "series after reopen", series(t, s, store.SeriesFilter{Tenant: tenant}), gaugeS, strS)
		wantPoints(t, "gauge after reopen", points(t, s, gaugeS.ID, base, base+3*day, 0), between(ps[:len(ps)-1], base, base+3*day))
		wantPoints(t, "string after reopen", points(t, s, strS.ID, base, base+3*day, 0), []store.Point{ps[len(ps)-1]})
		wantAgents(t, s, tenant, agent)
		wantToken(t, s, tok)
		rs, err := s.LatestResults(ctx(t), tenant, "web1")
		if err != nil || len(rs) != 1 || rs[0] != result {
			t.Errorf("LatestResults after reopen = %+v, %v; want [%+v]", rs, err, result)
		}
		wantRollups(t, "rollups after reopen", rollups(t, s, store.Res5m, gaugeS.ID, base, base+day, 0), []store.Rollup{rollup})
		wantWindows(t, "queue after reopen", pending(t, s, store.Res1h, slot), []store.Window{window})
		if got, err := s.Cursor(ctx(t), cursor); err != nil || got != slot {
			t.Errorf("Cursor after reopen = %d, %v; want %d", got, err, slot)
		}
	}

	s, err = open()
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	check(s, ps)
	// Writing known series again after a restart works, and adds.
	more := gauge(gaugeS.ID, tsValue, base+3*hour)
	write(t, s, &store.WriteRequest{Tenant: tenant, Series: []store.Series{gaugeS}, Points: more})
	ps = append(more, ps...)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s, err = open()
	if err != nil {
		t.Fatalf("second reopen: %v", err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	check(s, ps)
}
