package check

import "context"

// The load check reports the system load averages over 1, 5 and 15
// minutes (load1, load5, load15): the average number of tasks runnable or,
// on Linux, in uninterruptible sleep (usually waiting for disk or NFS).
// They are not divided by the number of CPUs; cpu's count is there for that.
func init() {
	Register(Factory{
		Name:    "load",
		Default: true,
		Options: func() any { return newNoOptions() },
		New: func(opts any) (Check, error) {
			if _, err := optionsAs("load", opts, newNoOptions); err != nil {
				return nil, err
			}
			return &loadCheck{}, nil
		},
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
