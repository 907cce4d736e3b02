package check

import (
	"context"
	"errors"
	"strings"
	"syscall"
)

type diskReader struct {
	f        procFile
	sysBlock string // "/sys/block", a field for tests
}

func (rd *diskReader) read(_ context.Context, fn func(name []byte, v diskCounters)) error {
	if rd.f.path == "" {
		rd.f.path = "/proc/diskstats"
	}
	b, err := rd.f.read()
	if err != nil {
		return err
	}
	return parseDiskstats(b, fn)
}

// whole reports whether a device is a whole device rather than a
// partition: whole devices, and only they, are listed in /sys/block (with
// "/" in a name, as in cciss/c0d0, written "!"). It is asked once per
// device, when the device is first seen.
func (rd *diskReader) whole(name string) bool {
	dir := rd.sysBlock
	if dir == "" {
		dir = "/sys/block"
	}
	var st syscall.Stat_t
	return syscall.Stat(dir+"/"+strings.ReplaceAll(name, "/", "!"), &st) == nil
}

var errDiskstats = errors.New("/proc/diskstats: bad line")

// diskSectorSize is the unit of /proc/diskstats' sector counts, whatever
// the device's own sector size.
const diskSectorSize = 512

// parseDiskstats calls fn for every device of /proc/diskstats:
//
//	254  0 vda 31439 5385 1286362 4312 3210 20258 1376240 4380 0 3020 8914 ...
//
// major, minor, name, then reads, reads merged, sectors read, ms reading,
// writes, writes merged, sectors written, ms writing, I/Os in flight,
// ms doing I/O, and more fields on newer kernels. Lines with fewer fields
// (partitions, on kernels before 2.6.25) are skipped.
func parseDiskstats(b []byte, fn func(name []byte, v diskCounters)) error {
	var v diskCounters
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		major, rest := nextField(line)
		if len(major) == 0 {
			continue // blank line
		}
		_, rest = nextField(rest) // minor
		name, rest := nextField(rest)
		if len(name) == 0 {
			return errDiskstats
		}
		var f [10]uint64
		short := false
		for i := range f {
			var fb []byte
			fb, rest = nextField(rest)
			if len(fb) == 0 {
				short = true // partitions on kernels before 2.6.25
				break
			}
			n, ok := parseUint(fb)
			if !ok {
				return errDiskstats
			}
			f[i] = n
		}
		if short {
			continue
		}
		v = diskCounters{
			reads:      f[0],
			readBytes:  f[2] * diskSectorSize,
			writes:     f[4],
			writeBytes: f[6] * diskSectorSize,
			ioTimeMs:   f[9],
		}
		fn(name, v)
	}
	return nil
}
