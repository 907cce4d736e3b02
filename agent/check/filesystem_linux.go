package check

import (
	"context"
	"errors"
	"syscall"
)

type mountReader struct {
	f procFile
}

// read lists the mounts of the agent's mount namespace.
func (rd *mountReader) read(_ context.Context, fn func(mount, fstype, device []byte, dev uint64)) error {
	if rd.f.path == "" {
		rd.f.path = "/proc/self/mountinfo"
	}
	b, err := rd.f.read()
	if err != nil {
		return err
	}
	return parseMountinfo(b, fn)
}

var errMountinfo = errors.New("/proc/self/mountinfo: bad line")

// parseMountinfo calls fn for every line of /proc/self/mountinfo:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// mount ID, parent ID, major:minor, root, mount point, mount options, zero
// or more optional fields, "-", filesystem type, source, super options.
// Mount point, type and source are passed as listed, with " \t\n\\" escaped
// as octal (\040).
func parseMountinfo(b []byte, fn func(mount, fstype, device []byte, dev uint64)) error {
	for len(b) > 0 {
		var line, f []byte
		line, b = nextLine(b)
		f, line = nextField(line) // mount ID
		if len(f) == 0 {
			continue // blank line
		}
		_, line = nextField(line) // parent ID
		f, line = nextField(line) // major:minor
		dev := devID(f)
		_, line = nextField(line) // root
		mount, line := nextField(line)
		f, line = nextField(line) // mount options
		if len(f) == 0 {
			return errMountinfo
		}
		for {
			f, line = nextField(line)
			if len(f) == 0 {
				return errMountinfo
			}
			if len(f) == 1 && f[0] == '-' {
				break
			}
		}
		fstype, line := nextField(line)
		device, _ := nextField(line)
		if len(fstype) == 0 || len(device) == 0 {
			return errMountinfo
		}
		fn(mount, fstype, device, dev)
	}
	return nil
}

// devID packs a "major:minor" field into a non-zero number, or returns 0
// when the field is malformed.
func devID(f []byte) uint64 {
	var major, minor uint64
	i := 0
	for ; i < len(f) && f[i] != ':'; i++ {
		if f[i] < '0' || f[i] > '9' || major > 1<<30 {
			return 0
		}
		major = major*10 + uint64(f[i]-'0')
	}
	if i == 0 || i >= len(f)-1 {
		return 0
	}
	for _, c := range f[i+1:] {
		if c < '0' || c > '9' || minor > 1<<30 {
			return 0
		}
		minor = minor*10 + uint64(c-'0')
	}
	return 1<<63 | major<<32 | minor
}

// unescapeMount undoes the kernel's octal escapes (\040 for a space) in a
// field of mountinfo.
func unescapeMount(raw []byte) string {
	i := 0
	for i < len(raw) && raw[i] != '\\' {
		i++
	}
	if i == len(raw) {
		return string(raw)
	}
	out := make([]byte, 0, len(raw))
	out = append(out, raw[:i]...)
	for ; i < len(raw); i++ {
		c := raw[i]
		if c == '\\' && i+3 < len(raw) && isOctal(raw[i+1]) && isOctal(raw[i+2]) && isOctal(raw[i+3]) && raw[i+1] <= '3' {
			c = (raw[i+1]-'0')<<6 | (raw[i+2]-'0')<<3 | (raw[i+3] - '0')
			i += 3
		}
		out = append(out, c)
	}
	return string(out)
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

func statMount(path string) (fsUsage, error) {
	var st syscall.Statfs_t
	var err error
	for {
		if err = syscall.Statfs(path, &st); err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return fsUsage{}, err
	}
	bsize := uint64(st.Frsize)
	if bsize == 0 {
		bsize = uint64(st.Bsize)
	}
	blocks, bfree, bavail := uint64(st.Blocks), uint64(st.Bfree), uint64(st.Bavail)
	files, ffree := uint64(st.Files), uint64(st.Ffree)
	return fsUsage{
		total:       blocks * bsize,
		used:        (blocks - min(bfree, blocks)) * bsize,
		free:        bavail * bsize,
		inodesTotal: files,
		inodesUsed:  files - min(ffree, files),
	}, nil
}
