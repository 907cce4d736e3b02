//go:build !linux

package check

import (
	"context"

	"github.com/shirou/gopsutil/v4/load"
)

// On Windows, which has no load average, gopsutil emulates one from the
// processor queue length, sampled by a goroutine it starts on first use.
type loadReader struct{}

func (loadReader) read(ctx context.Context) ([3]float64, error) {
	a, err := load.AvgWithContext(ctx)
	if err != nil {
		return [3]float64{}, err
	}
	return [3]float64{a.Load1, a.Load5, a.Load15}, nil
}
