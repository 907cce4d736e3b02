package alarmeval

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/protocol"
)

// BenchmarkIngestHook is the evaluation cost at ingest: the hook (Stored)
// and the evaluation of one batch as the ingest benchmarks send it (8
// check results of 8 labelled metrics, 64 points) with an alarm on every
// check, for 1,000 agents in turn, on a real Pebble store with the lease
// held. Results stay OK, so nothing is written: the steady state.
func BenchmarkIngestHook(b *testing.B) {
	st := openStore(b)
	ctx := context.Background()
	const checks, metrics, agents = 8, 8, 1000
	for c := range checks {
		if _, err := st.PutAlarm(ctx, store.Alarm{Tenant: "acme", ID: fmt.Sprintf("a%d", c), Check: fmt.Sprintf("check%d", c),
			Criteria: "if (metric['metric_3'] > 90) { return new AlarmStatus(CRITICAL, 'high: #{metric_3}'); }\nreturn new AlarmStatus(OK);",
			Period:   30 * time.Second}); err != nil {
			b.Fatal(err)
		}
	}
	e := New(Config{Store: st, Owner: "bench", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	start := time.Now().Add(-time.Hour)
	batches := make([]*protocol.Batch, agents)
	names := make([]string, agents)
	stored := make([][]store.CheckResult, agents)
	for a := range batches {
		bt := &protocol.Batch{Seq: 1}
		for c := range checks {
			cr := &protocol.CheckResult{Check: fmt.Sprintf("check%d", c), Status: protocol.Status_STATUS_OK}
			for m := range metrics {
				cr.Metrics = append(cr.Metrics, &protocol.Metric{Name: fmt.Sprintf("metric_%d", m), Type: protocol.MetricType_METRIC_TYPE_GAUGE,
					Value: float64(m), Labels: []*protocol.Label{{Key: "device", Value: "sda"}}})
			}
			bt.Results = append(bt.Results, cr)
		}
		batches[a] = bt
		names[a] = fmt.Sprint("agent-", a)
		stored[a] = storedOf(bt)
	}
	i := 0
	var now time.Time
	e.cfg.Now = func() time.Time { return now }
	run := func() {
		a := i % agents
		ts := start.Add(time.Duration(i/agents) * time.Second).UnixMilli()
		for k, cr := range batches[a].Results {
			cr.TimestampMs = ts
			stored[a][k].TS = ts
		}
		now = time.UnixMilli(ts)
		e.Stored("acme", names[a], batches[a], stored[a])
		e.process(ctx, <-e.jobs)
		i++
	}
	for range 2 * agents { // every machine settled on OK
		run()
	}
	if got := e.Stats().Transitions; got != checks*agents {
		b.Fatalf("%d transitions settling, want %d", got, checks*agents)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*checks), "ns/result")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*checks*metrics), "ns/point")
}
