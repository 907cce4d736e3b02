package ingest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store/pebble"
	"github.com/vigilmon/vigil/protocol"
)

// A batch as one agent sends it per 10 s slot: 8 check results, 60 metrics.
func benchBatch() *protocol.Batch {
	ts := time.Now().UnixMilli()
	b := &protocol.Batch{Seq: 1}
	for c := 0; c < 8; c++ {
		cr := &protocol.CheckResult{Check: fmt.Sprintf("check%d", c), TimestampMs: ts, Status: protocol.Status_STATUS_OK}
		for m := 0; m < 8; m++ {
			cr.Metrics = append(cr.Metrics, &protocol.Metric{Name: fmt.Sprintf("metric_%d", m), Type: protocol.MetricType_METRIC_TYPE_GAUGE, Value: float64(m),
				Labels: []*protocol.Label{{Key: "device", Value: "sda"}}})
		}
		b.Results = append(b.Results, cr)
	}
	return b
}

// BenchmarkDecodeValidate is the collector's per-batch work before the
// store: read the frame, decode it, validate every point.
func BenchmarkDecodeValidate(b *testing.B) {
	raw, _ := protocol.AppendFrame(nil, benchBatch())
	v := Validator{MaxAge: time.Hour}
	points := 0
	b.ReportAllocs()
	for b.Loop() {
		var batch protocol.Batch
		if err := protocol.NewFrameReader(bytes.NewReader(raw), protocol.DefaultMaxFrameBytes).Read(&batch); err != nil {
			b.Fatal(err)
		}
		res := v.Validate("t", "a", &batch)
		points += int(res.Accepted)
	}
	b.ReportMetric(float64(points)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkCardinalityFlood: 10 agents of one tenant each send 20
// batches of 2,000 new series (400,000 in all) through the validator with
// the default limits, into the embedded store. Reported: the Go heap in
// use after the flood (limiter and store head included), and per series
// admitted; the limits, not the flood, bound both.
func BenchmarkCardinalityFlood(b *testing.B) {
	const agents, batches, perBatch = 10, 20, 2000
	var heap, admitted, refused float64
	for b.Loop() {
		st, err := pebble.Open(b.TempDir(), pebble.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		lim := NewSeriesLimiter(SeriesLimits{PerAgent: 5000, PerTenant: 100000, NewPerAgentHour: 10000, Active: time.Hour}, slog.New(slog.DiscardHandler))
		v := Validator{MaxAge: time.Hour, Series: lim}
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		ts := time.Now().UnixMilli()
		admitted, refused = 0, 0
		for a := range agents {
			for n := range batches {
				res := v.Validate("flood", fmt.Sprintf("agent-%d", a), seriesBatch(uint64(n), ts, n*perBatch, (n+1)*perBatch))
				if err := st.Write(context.Background(), &res.Write); err != nil {
					b.Fatal(err)
				}
				refused += float64(res.Rejected)
			}
		}
		t, _ := lim.Active("flood", "")
		admitted = float64(t)
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		heap = float64(after.HeapInuse) - float64(before.HeapInuse)
		st.Close()
	}
	b.ReportMetric(admitted, "series")
	b.ReportMetric(refused, "refused")
	b.ReportMetric(heap/(1<<20), "heap-MiB")
	b.ReportMetric(heap/admitted, "heap-B/series")
}

// BenchmarkDecodeValidateLimited is BenchmarkDecodeValidate with the
// series limiter on: its series are active, the steady state.
func BenchmarkDecodeValidateLimited(b *testing.B) {
	raw, _ := protocol.AppendFrame(nil, benchBatch())
	v := Validator{MaxAge: time.Hour, Series: NewSeriesLimiter(SeriesLimits{PerAgent: 5000, PerTenant: 100000, NewPerAgentHour: 10000, Active: time.Hour}, nil)}
	points := 0
	b.ReportAllocs()
	for b.Loop() {
		var batch protocol.Batch
		if err := protocol.NewFrameReader(bytes.NewReader(raw), protocol.DefaultMaxFrameBytes).Read(&batch); err != nil {
			b.Fatal(err)
		}
		res := v.Validate("t", "a", &batch)
		points += int(res.Accepted)
	}
	b.ReportMetric(float64(points)/b.Elapsed().Seconds(), "points/s")
}
