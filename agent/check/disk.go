package check

import "context"

// The disk check reports, per whole block device (label device, such as
// "sda", "nvme0n1", "vda", "dm-0"), the kernel's cumulative I/O counters.
// All are counters: rates are computed at query time. Partitions are left
// out (their I/O is part of their disk's): on Linux a whole device is one
// listed in /sys/block.
func init() {
	Register(Def[DiskOptions]{
		Name:    "disk",
		Default: true,
		Doc: `Per whole block device, partitions left out: the kernel's cumulative
I/O counters (rates are computed at query time).`,
		Labels: []string{"device"},
		Metrics: []MetricDef{
			{Name: "read_bytes", Type: Counter, Doc: "bytes read"},
			{Name: "write_bytes", Type: Counter, Doc: "bytes written"},
			{Name: "reads", Type: Counter, Doc: "read requests completed"},
			{Name: "writes", Type: Counter, Doc: "write requests completed"},
			{Name: "io_time_ms", Type: Counter, Doc: "milliseconds with I/O in flight; its rate / 10 is the busy percent"},
		},
		Defaults: newDiskOptions,
		Sample: `## Devices to report, as globs ("sd*", "nvme*"). Empty: every device not
## excluded.
# include_devices = []
## Devices never to report, as globs. The default leaves out loop
## devices, RAM disks, zram and floppies. Device mapper (dm-*: LVM,
## dm-crypt) and RAID (md*) devices are reported; their I/O is counted
## again on the disks beneath them, so add "dm-*" to sum without
## counting twice.
# exclude_devices = ["loop*", "ram*", "zram*", "fd*"]`,
		New: func(o *DiskOptions) (Check, error) {
			f, err := newNameFilter("include_devices", o.IncludeDevices, "exclude_devices", o.ExcludeDevices)
			if err != nil {
				return nil, err
			}
			return &diskCheck{filter: f}, nil
		},
	})
}

// DiskOptions are the options of the disk check.
type DiskOptions struct {
	// IncludeDevices lists the devices to report, as path.Match globs
	// ("sd*", "nvme*"); empty reports every whole device not excluded.
	IncludeDevices []string `toml:"include_devices"`
	// ExcludeDevices lists devices never to report, as globs; an exclusion
	// wins over an inclusion. Default: loop devices, RAM disks, zram (swap
	// in memory) and floppies, which are not disks or are idle. Device
	// mapper (dm-*: LVM, dm-crypt) and software RAID (md*) devices are
	// reported, since filesystems live on them; their I/O is counted again
	// on the disks beneath them, so add "dm-*" here to sum without counting
	// twice.
	ExcludeDevices []string `toml:"exclude_devices"`
}

func newDiskOptions() *DiskOptions {
	return &DiskOptions{ExcludeDevices: []string{"loop*", "ram*", "zram*", "fd*"}}
}

// diskCounters are one device's counters.
type diskCounters struct {
	readBytes, writeBytes, reads, writes, ioTimeMs uint64
}

type diskCheck struct {
	filter nameFilter
	cache  seriesCache
	rd     diskReader // OS-specific
}

func (c *diskCheck) Run(ctx context.Context, r *Result) error {
	c.cache.begin()
	err := c.rd.read(ctx, func(name []byte, v diskCounters) {
		e := c.cache.lookup(name, c.newEntry)
		if !e.report {
			return
		}
		r.Counter("read_bytes", float64(v.readBytes), e.labels...)
		r.Counter("write_bytes", float64(v.writeBytes), e.labels...)
		r.Counter("reads", float64(v.reads), e.labels...)
		r.Counter("writes", float64(v.writes), e.labels...)
		r.Counter("io_time_ms", float64(v.ioTimeMs), e.labels...)
	})
	if err != nil {
		return err
	}
	c.cache.end()
	return nil
}

func (c *diskCheck) newEntry(name string) *seriesEntry {
	return &seriesEntry{
		labels: []Label{{Key: "device", Value: labelValue(name)}},
		report: c.filter.match(name) && c.rd.whole(name),
	}
}
