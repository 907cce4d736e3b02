package check

import "context"

// The load check reports the system load averages over 1, 5 and 15
// minutes (load1, load5, load15): the average number of tasks runnable or,
// on Linux, in uninterruptible sleep (usually waiting for disk or NFS).
// They are not divided by the number of CPUs; cpu's count is there for that.
func init() {
	Register(Def[NoOptions]{
		Name:    "load",
		Default: true,
		Doc: `Load averages: tasks runnable or, on Linux, in uninterruptible sleep
(waiting for disk or NFS), not divided by the number of CPUs.
No options.`,
		Metrics: []MetricDef{
			{Name: "load1", Type: Gauge, Doc: "over 1 minute"},
			{Name: "load5", Type: Gauge, Doc: "over 5 minutes"},
			{Name: "load15", Type: Gauge, Doc: "over 15 minutes"},
		},
		New: func(*NoOptions) (Check, error) { return &loadCheck{}, nil },
	})
}

type loadCheck struct {
	rd loadReader // OS-specific
}

func (c *loadCheck) Run(ctx context.Context, r *Result) error {
	l, err := c.rd.read(ctx)
	if err != nil {
		return err
	}
	r.Gauge("load1", l[0])
	r.Gauge("load5", l[1])
	r.Gauge("load15", l[2])
	return nil
}
