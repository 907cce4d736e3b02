package check

import (
	"context"
	"testing"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/load"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/shirou/gopsutil/v4/net"
)

// The BenchmarkGopsutil* benchmarks read the same figures through gopsutil,
// which the checks use on other OSes: they are why the Linux checks read
// /proc themselves. Compare with the check benchmarks of the same name.

func BenchmarkGopsutilCPU(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cpu.TimesWithContext(ctx, false); err != nil {
			b.Fatal(err)
		}
		if _, err := cpu.CountsWithContext(ctx, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGopsutilMemory(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mem.VirtualMemoryWithContext(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := mem.SwapMemoryWithContext(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGopsutilFilesystem(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ps, err := disk.PartitionsWithContext(ctx, false)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range ps {
			_, _ = disk.UsageWithContext(ctx, p.Mountpoint)
		}
	}
}

func BenchmarkGopsutilDisk(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := disk.IOCountersWithContext(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGopsutilNetwork(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := net.IOCountersWithContext(ctx, true); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGopsutilLoad(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := load.AvgWithContext(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// Users is left out: without utmp, gopsutil runs loginctl.
func BenchmarkGopsutilSystem(b *testing.B) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := host.UptimeWithContext(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := load.MiscWithContext(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
