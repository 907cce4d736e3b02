package check

import (
	"context"
	"errors"
)

type netReader struct {
	f procFile
}

func (rd *netReader) read(_ context.Context, fn func(name []byte, v netCounters)) error {
	if rd.f.path == "" {
		rd.f.path = "/proc/net/dev"
	}
	b, err := rd.f.read()
	if err != nil {
		return err
	}
	return parseNetDev(b, fn)
}

var errNetDev = errors.New("/proc/net/dev: bad line")

// parseNetDev calls fn for every interface of /proc/net/dev:
//
//	eth0: 100401553 7047 0 0 0 0 0 0 567855 5093 0 0 0 0 0 0
//
// with 8 receive counters (bytes packets errs drop fifo frame compressed
// multicast) then 8 transmit counters (bytes packets errs drop fifo colls
// carrier compressed). Lines without a colon (the two headers) are skipped.
func parseNetDev(b []byte, fn func(name []byte, v netCounters)) error {
	var v netCounters
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		colon := -1
		for i, c := range line {
			if c == ':' {
				colon = i
				break
			}
		}
		if colon < 0 {
			continue
		}
		name, _ := nextField(line[:colon])
		if len(name) == 0 {
			return errNetDev
		}
		var f [12]uint64
		rest := line[colon+1:]
		for i := range f {
			var fb []byte
			fb, rest = nextField(rest)
			n, ok := parseUint(fb)
			if !ok {
				return errNetDev
			}
			f[i] = n
		}
		v = netCounters{f[0], f[8], f[1], f[9], f[2], f[10], f[3], f[11]}
		fn(name, v)
	}
	return nil
}
