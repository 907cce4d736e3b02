package pebble

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/storetest"
)

// compacting flushes the head and compresses every closed bucket after
// each write, so the contract suite runs against blocks, points written
// after them and recompaction.
type compacting struct{ *Store }

func (c compacting) Write(ctx context.Context, w *store.WriteRequest) error {
	if err := c.Store.Write(ctx, w); err != nil {
		return err
	}
	if err := c.Flush(ctx); err != nil {
		return err
	}
	_, err := c.Compact(ctx, math.MaxInt64)
	return err
}

func TestContractCompacted(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return compacting{openTest(t, t.TempDir())} })
}

// flushing flushes the head after each write, so the contract suite runs
// against chunks (several per series and bucket) and points written
// after them.
type flushing struct{ *Store }

func (f flushing) Write(ctx context.Context, w *store.WriteRequest) error {
	if err := f.Store.Write(ctx, w); err != nil {
		return err
	}
	return f.Flush(ctx)
}

func TestContractFlushed(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return flushing{openTest(t, t.TempDir())} })
}

func randPoints(r *rand.Rand, id store.SeriesID, n int, str bool) []store.Point {
	pts := make([]store.Point, 0, n)
	ts := base + r.Int64N(dayMS)
	v := r.Float64() * 100
	for range n {
		p := store.Point{Series: id, TS: ts}
		switch r.IntN(4) {
		case 0:
			p.Value = math.Round(v*10) / 10
		case 1:
			p.Value = v
		case 2:
			p.Value = float64(int64(v)) * 1024
		default:
			p.Value = []float64{math.NaN(), math.Inf(1), math.Copysign(0, -1), 1e300, 5e-324}[r.IntN(5)]
		}
		if str {
			p.Value = 0
			p.Str = string(rune('a' + r.IntN(26)))
		}
		pts = append(pts, p)
		v += r.NormFloat64()
		switch r.IntN(20) {
		case 0:
			ts += 1 + r.Int64N(3_600_000) // a gap
		default:
			ts += 30_000 + r.Int64N(201) - 100
		}
	}
	return pts
}

func sameBits(a, b []store.Point) bool {
	return slices.EqualFunc(a, b, func(x, y store.Point) bool {
		return x.Series == y.Series && x.TS == y.TS && x.Str == y.Str && math.Float64bits(x.Value) == math.Float64bits(y.Value)
	})
}

func TestBlockRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var e blockEncoder
	id := store.SeriesID{1, 2, 3}
	cases := [][]store.Point{
		{{Series: id, TS: 5, Value: 1}},
		{{Series: id, TS: math.MinInt64, Value: 1}, {Series: id, TS: -1, Value: 2}, {Series: id, TS: math.MaxInt64, Value: -3}},
		{{Series: id, TS: math.MinInt64, Str: ""}, {Series: id, TS: math.MaxInt64, Str: "x\x00y"}},
	}
	for range 200 {
		cases = append(cases, randPoints(r, id, 1+r.IntN(3000), r.IntN(5) == 0))
	}
	for i, pts := range cases {
		str := pts[0].Str != "" || i == 2
		blk := e.encode(nil, pts, str)
		got, _, gotStr, err := decodeBlockKind(nil, id, blk, nil)
		if err != nil {
			t.Fatalf("case %d: decode: %v", i, err)
		}
		if gotStr != str || !sameBits(got, pts) {
			t.Fatalf("case %d: %d points round-trip to %d (str %v)", i, len(pts), len(got), gotStr)
		}
		// A range: exactly the points in it.
		a, b := pts[r.IntN(len(pts))].TS, pts[r.IntN(len(pts))].TS
		first, last := min(a, b)+r.Int64N(3)-1, max(a, b)+r.Int64N(3)-1
		part, _, _, err := decodeBlockRange(nil, id, blk, nil, first, last)
		if want := inRange(pts, first, last); err != nil || !sameBits(part, want) {
			t.Fatalf("case %d: range [%d, %d]: %d points, %v; want %d", i, first, last, len(part), err, len(want))
		}
	}
}

func inRange(pts []store.Point, first, last int64) []store.Point {
	var out []store.Point
	for _, p := range pts {
		if p.TS >= first && p.TS <= last {
			out = append(out, p)
		}
	}
	return out
}

// gaugeDay is a day of a regular gauge every 30 s with one decimal and
// 0-200 ms of jitter.
func gaugeDay(seed1, seed2 uint64) []store.Point {
	r := rand.New(rand.NewPCG(seed1, seed2))
	var pts []store.Point
	v := 50.0
	for i := range int64(2880) {
		v = math.Max(0, math.Min(100, v+r.NormFloat64()))
		pts = append(pts, store.Point{Series: store.SeriesID{9}, TS: base + i*30_000 + r.Int64N(201), Value: math.Round(v*10) / 10})
	}
	return pts
}

func TestBlockSize(t *testing.T) {
	pts := gaugeDay(3, 4)
	var e blockEncoder
	n := len(e.encode(nil, pts, false))
	if per := float64(n) / float64(len(pts)); per > 2.5 {
		t.Errorf("%.2f bytes per point, want at most 2.5", per)
	}
}

// TestLateWriteAfterCompaction rewrites points of a compressed bucket and
// adds new ones: reads see one point per timestamp, the newest value,
// before and after recompaction.
func TestLateWriteAfterCompaction(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	sr := storetest.NewSeries("acme", "a", "cpu", "usage", store.Gauge, "")
	var pts []store.Point
	for i := range int64(100) {
		pts = append(pts, store.Point{Series: sr.ID, TS: base + i*30_000, Value: float64(i)})
	}
	if err := s.Write(ctx, &store.WriteRequest{Tenant: "acme", Series: []store.Series{sr}, Points: pts}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := s.Compact(ctx, base+3*dayMS)
	if err != nil || st.Series != 1 || st.Points != 100 {
		t.Fatalf("Compact = %+v, %v", st, err)
	}
	late := []store.Point{{Series: sr.ID, TS: base + 30_000, Value: -1}, {Series: sr.ID, TS: base + 15_000, Value: -2}}
	if err := s.Write(ctx, &store.WriteRequest{Tenant: "acme", Series: []store.Series{sr}, Points: late}); err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(pts)
	want[1].Value = -1
	want = slices.Insert(want, 1, late[1])
	for _, round := range []string{"merged", "recompacted"} {
		got, err := s.Points(ctx, sr.ID, base, base+dayMS, 0)
		if err != nil || !sameBits(got, want) {
			t.Fatalf("%s: Points = %d points, %v; want %d", round, len(got), err, len(want))
		}
		got, err = s.Points(ctx, sr.ID, base+15_000, base+60_001, 2)
		if err != nil || !sameBits(got, want[1:3]) {
			t.Fatalf("%s: Points with limit = %v, %v", round, got, err)
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if st, err = s.Compact(ctx, base+3*dayMS); err != nil {
			t.Fatal(err)
		}
	}
	if st.Series != 0 {
		t.Errorf("third compaction rewrote %d series, want 0", st.Series)
	}
}

func FuzzDecodeBlock(f *testing.F) {
	var e blockEncoder
	r := rand.New(rand.NewPCG(5, 6))
	for _, str := range []bool{false, true} {
		f.Add(e.encode(nil, randPoints(r, store.SeriesID{}, 50, str), str))
	}
	f.Add([]byte{blockVersion, codecPlain, 1, 0, 0, 0, 0, 0, valsDecimal, 0, 1, 0})
	jit := make([]store.Point, 100)
	for i := range jit {
		jit[i] = store.Point{TS: base + int64(i)*30_000 + r.Int64N(201), Value: float64(i)}
	}
	f.Add(e.encode(nil, jit, false)) // version 2: radix-packed timestamps
	f.Fuzz(func(t *testing.T, b []byte) {
		pts, _, err := decodeBlock(nil, store.SeriesID{}, b, nil)
		if err != nil {
			return
		}
		for i := 1; i < len(pts); i++ {
			if pts[i].TS <= pts[i-1].TS {
				t.Fatalf("decoded points out of order")
			}
		}
		// A range of a valid block decodes to the points in it.
		first, last := pts[len(pts)/3].TS, pts[len(pts)*2/3].TS
		part, _, _, err := decodeBlockRange(nil, store.SeriesID{}, b, nil, first, last)
		if want := inRange(pts, first, last); err != nil || !sameBits(part, want) {
			t.Fatalf("range [%d, %d]: %d points, %v; want %d", first, last, len(part), err, len(want))
		}
	})
}

func BenchmarkBlockEncode(b *testing.B) {
	pts := gaugeDay(7, 8)
	var e blockEncoder
	dst := e.encode(nil, pts, false)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		dst = e.encode(dst[:0], pts, false)
	}
	b.ReportMetric(float64(len(dst))/float64(len(pts)), "bytes/point")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pts)), "ns/point")
}

func BenchmarkBlockDecode(b *testing.B) {
	r := rand.New(rand.NewPCG(7, 8))
	pts := randPoints(r, store.SeriesID{}, 2880, false)
	var e blockEncoder
	blk := e.encode(nil, pts, false)
	var out []store.Point
	var buf []byte
	b.ReportAllocs()
	for range b.N {
		out, buf, _ = decodeBlock(out[:0], store.SeriesID{}, blk, buf)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(pts)), "ns/point")
}
