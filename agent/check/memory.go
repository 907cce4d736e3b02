package check

import "context"

// The memory check reports physical memory and swap, in bytes:
//
//	total_bytes       physical memory the kernel manages
//	used_bytes        total - available: memory that cannot be had without swapping
//	available_bytes   memory available to start new programs without swapping
//	                  (Linux MemAvailable: free memory plus reclaimable caches)
//	used_percent      used_bytes / total_bytes * 100
//	swap_total_bytes  swap space
//	swap_used_bytes   swap space in use
//
// used is defined from available, as free(1) does since procps-ng 4, so
// that page cache the kernel would drop on demand does not count as used.
func init() {
	Register(Factory{
		Name:    "memory",
		Default: true,
		Options: func() any { return newNoOptions() },
		New: func(opts any) (Check, error) {
			if _, err := optionsAs("memory", opts, newNoOptions); err != nil {
				return nil, err
			}
			return &memoryCheck{}, nil
		},
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
