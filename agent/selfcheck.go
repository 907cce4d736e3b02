package agent

import (
	"context"

	"github.com/vigilmon/vigil/agent/check"
	"github.com/vigilmon/vigil/agent/spool"
)

// selfCheckName is the check that reports the agent's own state, stored
// like any other check.
const selfCheckName = "agent"

// selfCheck reports the spool and the sender:
//
//	spool_bytes, spool_batches   gauges: what waits for an Ack
//	dropped_points               counter: points dropped because the spool was full
//	                             (max_bytes or a full disk) or could not keep a batch
//	spool_skipped_records        counter: spooled records lost to damage on disk
//	spool_skipped_bytes          counter: bytes of segment those damaged regions held
//	sent_batches                 counter: batches acked since start
//	send_latency_ms              gauge: time to the last Ack
//	connected                    gauge: 1 while a collector session is up, else 0
//	collector                    string: the collector in use (absent when none)
//	clock_offset_seconds         gauge: the collector's clock minus this host's,
//	                             measured at the last connect (absent before one)
type selfCheck struct {
	sp *spool.Spool
	s  *sender
}

func (c *selfCheck) Run(ctx context.Context, r *check.Result) error {
	st := c.sp.Stats()
	r.Gauge("spool_bytes", float64(st.Bytes))
	r.Gauge("spool_batches", float64(st.Batches))
	r.Counter("dropped_points", float64(st.DroppedPoints))
	r.Counter("spool_skipped_records", float64(st.SkippedRecords))
	r.Counter("spool_skipped_bytes", float64(st.SkippedBytes))
	r.Counter("sent_batches", float64(c.s.sent.Load()))
	r.Gauge("send_latency_ms", float64(c.s.latencyMS.Load()))
	// The numeric series are the same whatever the state: a label naming
	// the collector made a new series at each move, and the old one kept
	// reading 1 until it went stale, so sum(agent_connected) read 2 for
	// one agent. The collector's name is a string, which no sum counts.
	addr, _ := c.s.active.Load().(string)
	if addr != "" {
		r.Gauge("connected", 1)
		r.Metrics = append(r.Metrics, check.Metric{Name: "collector", Type: check.String, Str: addr})
	} else {
		r.Gauge("connected", 0)
	}
	if off, ok := c.s.clock.offset(); ok {
		r.Gauge("clock_offset_seconds", off.Seconds())
	}
	return nil
}
