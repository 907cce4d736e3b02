package pebble

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/storetest"
)

// benchFleet is 100 series of one agent: 10 checks of 10 metrics.
func benchFleet(tenant, agent string) []store.Series {
	var ss []store.Series
	for c := 0; c < 10; c++ {
		for m := 0; m < 10; m++ {
			ss = append(ss, storetest.NewSeries(tenant, agent, fmt.Sprint("check", c), fmt.Sprint("metric_", m),
				store.Gauge, "bytes", "device", "sda"))
		}
	}
	return ss
}

// fillBatch makes w one batch of 1000 points: 10 runs of every series, 10 s
// apart, starting at ts.
func fillBatch(w *store.WriteRequest, ss []store.Series, ts int64) {
	w.Points = w.Points[:0]
	for run := int64(0); run < 10; run++ {
		for i := range ss {
			w.Points = append(w.Points, store.Point{Series: ss[i].ID, TS: ts + run*10_000, Value: float64(ts + int64(i))})
		}
	}
}

// BenchmarkWrite writes synced 1000-point batches of known series, one
// writer at a time, so each batch pays one fsync.
func BenchmarkWrite(b *testing.B) {
	s := openTemp(b)
	ss := benchFleet("acme", "web1")
	w := &store.WriteRequest{Tenant: "acme", Series: ss}
	ts := int64(base)
	ctx := context.Background()
	fillBatch(w, ss, ts)
	if err := s.Write(ctx, w); err != nil { // define the series
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ts += 100_000
		fillBatch(w, ss, ts)
		if err := s.Write(ctx, w); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(w.Points))/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkWriteParallel is BenchmarkWrite with concurrent writers (one
// agent each), whose commits Pebble groups into shared fsyncs.
func BenchmarkWriteParallel(b *testing.B) {
	s := openTemp(b)
	var agents atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		ss := benchFleet("acme", fmt.Sprint("web", agents.Add(1)))
		w := &store.WriteRequest{Tenant: "acme", Series: ss}
		ts := int64(base)
		for pb.Next() {
			ts += 100_000
			fillBatch(w, ss, ts)
			if err := s.Write(context.Background(), w); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkPoints reads one series over 24 h at a 10 s interval (8640
// points, across two day buckets) from chunks in sstables, among 100 other
// series; BenchmarkPointsHead from the in-memory head.
func BenchmarkPoints(b *testing.B)     { benchPoints(b, true) }
func BenchmarkPointsHead(b *testing.B) { benchPoints(b, false) }

func benchPoints(b *testing.B, flush bool) {
	s := openTemp(b)
	ctx := context.Background()
	ss := benchFleet("acme", "web1")
	from := int64(base + 12*hourMS)
	to := from + dayMS
	w := &store.WriteRequest{Tenant: "acme", Series: ss}
	for ts := from; ts < to; ts += 100_000 {
		fillBatch(w, ss, ts)
		if err := s.Write(ctx, w); err != nil {
			b.Fatal(err)
		}
	}
	if flush {
		if err := s.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		if err := s.db.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	id := ss[42].ID
	ps, err := s.Points(ctx, id, from, to, 0)
	if err != nil || len(ps) != 8640 {
		b.Fatalf("got %d points, %v; want 8640", len(ps), err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ps, err := s.Points(ctx, id, from, to, 0)
		if err != nil || len(ps) != 8640 {
			b.Fatalf("got %d points, %v", len(ps), err)
		}
	}
	b.ReportMetric(float64(b.N*8640)/b.Elapsed().Seconds(), "points/s")
}
