//go:build !linux

package check

import (
	"context"

	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/process"
)

type sysReader struct{}

func (sysReader) read(ctx context.Context) (sysStats, error) {
	var s sysStats
	up, err := host.UptimeWithContext(ctx)
	if err != nil {
		return s, err
	}
	s.uptime = float64(up)
	pids, err := process.PidsWithContext(ctx)
	if err != nil {
		return s, err
	}
	s.processes = uint64(len(pids))
	// Not implemented on every OS (Windows): then users is left out.
	if us, err := host.UsersWithContext(ctx); err == nil {
		s.users, s.hasUsers = uint64(len(us)), true
	}
	return s, nil
}
