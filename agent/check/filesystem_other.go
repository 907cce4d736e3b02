//go:build !linux

package check

import (
	"context"

	"github.com/shirou/gopsutil/v4/disk"
)

type mountReader struct{}

func (mountReader) read(ctx context.Context, fn func(mount, fstype, device []byte, dev uint64)) error {
	ps, err := disk.PartitionsWithContext(ctx, true)
	if err != nil {
		return err
	}
	for _, p := range ps {
		fn([]byte(p.Mountpoint), []byte(p.Fstype), []byte(p.Device), 0) // device numbers unknown: no dedupe
	}
	return nil
}

func unescapeMount(raw []byte) string { return string(raw) }

func statMount(path string) (fsUsage, error) {
	u, err := disk.UsageWithContext(context.Background(), path)
	if err != nil {
		return fsUsage{}, err
	}
	return fsUsage{total: u.Total, used: u.Used, free: u.Free,
		inodesTotal: u.InodesTotal, inodesUsed: u.InodesUsed}, nil
}
