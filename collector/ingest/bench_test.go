package ingest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

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
