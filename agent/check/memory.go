package check

import "context"

// The memory check reports physical memory and swap, in bytes. used is
// defined from available, as free(1) does since procps-ng 4, so that page
// cache the kernel would drop on demand does not count as used.
func init() {
	Register(Def[NoOptions]{
		Name:    "memory",
		Default: true,
		Doc: `Physical memory and swap, in bytes. Used memory is total - available,
as free(1) counts it: page cache the kernel would drop on demand is not
used. No options.`,
		Metrics: []MetricDef{
			{Name: "total_bytes", Type: Gauge, Doc: "physical memory the kernel manages"},
			{Name: "used_bytes", Type: Gauge, Doc: "total - available"},
			{Name: "available_bytes", Type: Gauge, Doc: "memory available to start programs without swapping (Linux MemAvailable)"},
			{Name: "used_percent", Type: Gauge, Doc: "used_bytes / total_bytes * 100"},
			{Name: "swap_total_bytes", Type: Gauge, Doc: "swap space"},
			{Name: "swap_used_bytes", Type: Gauge, Doc: "swap space in use"},
		},
		New: func(*NoOptions) (Check, error) { return &memoryCheck{}, nil },
	})
}

// memStats are memory figures in bytes.
type memStats struct {
	total, available, swapTotal, swapFree uint64
}

type memoryCheck struct {
	rd memReader // OS-specific
}

func (c *memoryCheck) Run(ctx context.Context, r *Result) error {
	m, err := c.rd.read(ctx)
	if err != nil {
		return err
	}
	avail := min(m.available, m.total)
	used := m.total - avail
	r.Gauge("total_bytes", float64(m.total))
	r.Gauge("used_bytes", float64(used))
	r.Gauge("available_bytes", float64(avail))
	r.Gauge("used_percent", percent(float64(used), float64(m.total)))
	r.Gauge("swap_total_bytes", float64(m.swapTotal))
	r.Gauge("swap_used_bytes", float64(m.swapTotal-min(m.swapFree, m.swapTotal)))
	return nil
}
