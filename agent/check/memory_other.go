//go:build !linux

package check

import (
	"context"

	"github.com/shirou/gopsutil/v4/mem"
)

type memReader struct{}

func (memReader) read(ctx context.Context) (memStats, error) {
	v, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return memStats{}, err
	}
	s, err := mem.SwapMemoryWithContext(ctx)
	if err != nil {
		return memStats{}, err
	}
	return memStats{total: v.Total, available: v.Available, swapTotal: s.Total, swapFree: s.Free}, nil
}
