//go:build !linux

package check

import (
	"context"

	"github.com/shirou/gopsutil/v4/disk"
)

type diskReader struct{}

func (diskReader) read(ctx context.Context, fn func(name []byte, v diskCounters)) error {
	ios, err := disk.IOCountersWithContext(ctx)
	if err != nil {
		return err
	}
	for name, s := range ios {
		v := diskCounters{readBytes: s.ReadBytes, writeBytes: s.WriteBytes,
			reads: s.ReadCount, writes: s.WriteCount, ioTimeMs: s.IoTime}
		fn([]byte(name), v)
	}
	return nil
}

// whole: gopsutil reports whole disks (darwin, BSD) or volumes (Windows).
func (diskReader) whole(string) bool { return true }
