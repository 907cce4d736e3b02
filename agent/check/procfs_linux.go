package check

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"syscall"
)

// Linux checks read /proc and /sys directly, with buffers kept between
// runs: gopsutil builds strings, maps and slices for every line of every
// file on every call, which is most of an agent's garbage at a 10 s
// interval. These helpers use raw syscalls (no *os.File, no poller
// registration) and allocate nothing once their buffers have grown.

// maxProcFile bounds what one read of a /proc file may hold, so a runaway
// file cannot exhaust the agent's memory.
const maxProcFile = 16 << 20

// procFile reads one small kernel file, whole, into a buffer reused across
// reads.
type procFile struct {
	path string
	buf  []byte
}

// read returns the file's content; the slice is valid until the next read.
func (f *procFile) read() ([]byte, error) {
	b, exists, err := f.readIfExists()
	if err == nil && !exists {
		err = &fs.PathError{Op: "open", Path: f.path, Err: syscall.ENOENT}
	}
	return b, err
}

// readIfExists is read that reports a missing file as exists == false
// rather than as an error, without allocating.
func (f *procFile) readIfExists() (b []byte, exists bool, err error) {
	fd, err := openRetry(f.path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NONBLOCK)
	if err == syscall.ENOENT {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, &fs.PathError{Op: "open", Path: f.path, Err: err}
	}
	defer syscall.Close(fd)
	if f.buf == nil {
		f.buf = make([]byte, 4096)
	}
	n := 0
	for {
		if n == len(f.buf) {
			if len(f.buf) >= maxProcFile {
				return nil, true, &fs.PathError{Op: "read", Path: f.path, Err: errors.New("file too large")}
			}
			f.buf = append(f.buf, make([]byte, len(f.buf))...)
			f.buf = f.buf[:cap(f.buf)]
		}
		m, err := syscall.Read(fd, f.buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, true, &fs.PathError{Op: "read", Path: f.path, Err: err}
		}
		if m <= 0 {
			return f.buf[:n], true, nil
		}
		n += m
	}
}

// procDir reads the entries of a directory into a buffer reused across
// reads.
type procDir struct {
	path string
	buf  []byte
}

// each calls fn with the name (valid only during the call) and d_type of
// every entry of the directory but "." and "..". A missing directory gives
// exists == false and no error.
func (d *procDir) each(fn func(name []byte, typ uint8)) (exists bool, err error) {
	fd, err := openRetry(d.path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_DIRECTORY)
	if err == syscall.ENOENT {
		return false, nil
	}
	if err != nil {
		return false, &fs.PathError{Op: "open", Path: d.path, Err: err}
	}
	defer syscall.Close(fd)
	if d.buf == nil {
		d.buf = make([]byte, 16<<10)
	}
	for {
		n, err := syscall.ReadDirent(fd, d.buf)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return true, &fs.PathError{Op: "readdir", Path: d.path, Err: err}
		}
		if n <= 0 {
			return true, nil
		}
		parseDirents(d.buf[:n], fn)
	}
}

func openRetry(path string, mode int) (int, error) {
	for {
		fd, err := syscall.Open(path, mode, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// parseDirents walks a buffer filled by getdents64: records of
// d_ino (8 bytes), d_off (8), d_reclen (2), d_type (1), then the
// NUL-terminated name, padded to d_reclen. A malformed record ends the walk.
func parseDirents(buf []byte, fn func(name []byte, typ uint8)) {
	const nameOff = 19
	for len(buf) >= nameOff {
		reclen := int(binary.NativeEndian.Uint16(buf[16:18]))
		if reclen < nameOff || reclen > len(buf) {
			return
		}
		name := buf[nameOff:reclen]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		if len(name) > 0 && !(name[0] == '.' && (len(name) == 1 || len(name) == 2 && name[1] == '.')) {
			fn(name, buf[18])
		}
		buf = buf[reclen:]
	}
}

// nextLine splits b at its first newline.
func nextLine(b []byte) (line, rest []byte) {
	for i, c := range b {
		if c == '\n' {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

// nextField skips leading blanks (space, tab, newline) and returns the
// next blank-separated field of b and what follows it.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && isBlank(b[i]) {
		i++
	}
	j := i
	for j < len(b) && !isBlank(b[j]) {
		j++
	}
	return b[i:j], b[j:]
}

func isBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\n' }

// parseUint parses a decimal number made only of digits.
func parseUint(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// pow10 holds the powers of ten that a float64 represents exactly.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseDecimal parses the unsigned fixed-point numbers the kernel prints
// ("0.68", "281.44", "12"): with at most 15 significant digits and 22
// decimals the result is the correctly rounded value, as strconv would give,
// without strconv's string allocation.
func parseDecimal(b []byte) (float64, bool) {
	var mant uint64
	digits, frac := 0, -1
	for i, c := range b {
		switch {
		case c == '.' && frac < 0 && i > 0:
			frac = 0
		case c >= '0' && c <= '9':
			if digits == 15 {
				return 0, false
			}
			mant = mant*10 + uint64(c-'0')
			if mant > 0 {
				digits++
			}
			if frac >= 0 {
				frac++
			}
		default:
			return 0, false
		}
	}
	if len(b) == 0 || frac == 0 || frac >= len(pow10) {
		return 0, false
	}
	if frac < 0 {
		frac = 0
	}
	return float64(mant) / pow10[frac], true
}
