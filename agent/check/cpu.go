package check

import "context"

// The cpu check reports how the CPUs spent the time since its previous
// run, from the difference between two readings of the kernel's
// cumulative CPU times. Its first run only primes the reading and reports
// count. user + system + iowait + steal + idle = 100; percents are of all
// CPUs together, clamped to [0, 100].
func init() {
	Register(Def[NoOptions]{
		Name:    "cpu",
		Default: true,
		Doc: `How the CPUs spent the time since the previous run, in percent of all
CPUs together (a 4-CPU host with one CPU busy is at 25%): user + system
+ iowait + steal + idle = 100. The first run only reports count.
No options.`,
		Metrics: []MetricDef{
			{Name: "usage_percent", Type: Gauge, Doc: "100 - idle - iowait: time spent running anything"},
			{Name: "user_percent", Type: Gauge, Doc: "user and nice time, guest time included"},
			{Name: "system_percent", Type: Gauge, Doc: "kernel time, hard and soft interrupts included"},
			{Name: "iowait_percent", Type: Gauge, Doc: "idle with I/O outstanding"},
			{Name: "steal_percent", Type: Gauge, Doc: "time the hypervisor gave to other guests"},
			{Name: "idle_percent", Type: Gauge, Doc: "idle time"},
			{Name: "count", Type: Gauge, Doc: "online logical CPUs"},
		},
		New: func(*NoOptions) (Check, error) { return &cpuCheck{}, nil },
	})
}

// cpuTimes are cumulative times of all CPUs together, in any one unit.
type cpuTimes struct {
	user, nice, system, idle, iowait, irq, softirq, steal float64
}

type cpuCheck struct {
	rd     cpuReader // OS-specific
	prev   cpuTimes
	primed bool
}

func (c *cpuCheck) Run(ctx context.Context, r *Result) error {
	t, n, err := c.rd.read(ctx)
	if err != nil {
		return err
	}
	if c.primed {
		if ok := cpuPercents(r, c.prev, t); ok {
			c.prev = t
		}
	} else {
		c.prev, c.primed = t, true
	}
	r.Gauge("count", float64(n))
	return nil
}

// cpuPercents appends the percent gauges for the interval between two
// readings. It appends nothing and returns false when no time has passed
// (two runs within one clock tick): the caller then keeps the older reading.
// A time that went backwards (iowait can, and CPU hot-unplug takes a CPU's
// times away) counts as zero.
func cpuPercents(r *Result, prev, cur cpuTimes) bool {
	user := delta(prev.user, cur.user) + delta(prev.nice, cur.nice)
	system := delta(prev.system, cur.system) + delta(prev.irq, cur.irq) + delta(prev.softirq, cur.softirq)
	idle := delta(prev.idle, cur.idle)
	iowait := delta(prev.iowait, cur.iowait)
	steal := delta(prev.steal, cur.steal)
	total := user + system + idle + iowait + steal
	if total <= 0 {
		return false
	}
	r.Gauge("usage_percent", percent(user+system+steal, total))
	r.Gauge("user_percent", percent(user, total))
	r.Gauge("system_percent", percent(system, total))
	r.Gauge("iowait_percent", percent(iowait, total))
	r.Gauge("steal_percent", percent(steal, total))
	r.Gauge("idle_percent", percent(idle, total))
	return true
}

func delta(prev, cur float64) float64 {
	if cur > prev {
		return cur - prev
	}
	return 0
}
