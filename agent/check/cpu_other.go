//go:build !linux

package check

import (
	"context"
	"errors"

	"github.com/shirou/gopsutil/v4/cpu"
)

type cpuReader struct{}

func (cpuReader) read(ctx context.Context) (cpuTimes, int, error) {
	ts, err := cpu.TimesWithContext(ctx, false)
	if err != nil {
		return cpuTimes{}, 0, err
	}
	if len(ts) == 0 {
		return cpuTimes{}, 0, errors.New("cpu: no cpu times")
	}
	n, err := cpu.CountsWithContext(ctx, true)
	if err != nil {
		return cpuTimes{}, 0, err
	}
	t := ts[0]
	return cpuTimes{user: t.User, nice: t.Nice, system: t.System, idle: t.Idle,
		iowait: t.Iowait, irq: t.Irq, softirq: t.Softirq, steal: t.Steal}, n, nil
}
