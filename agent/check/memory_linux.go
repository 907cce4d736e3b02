package check

import (
	"context"
	"errors"
)

type memReader struct {
	f procFile
}

func (rd *memReader) read(context.Context) (memStats, error) {
	if rd.f.path == "" {
		rd.f.path = "/proc/meminfo"
	}
	b, err := rd.f.read()
	if err != nil {
		return memStats{}, err
	}
	return parseMeminfo(b)
}

// parseMeminfo reads /proc/meminfo ("MemTotal:       24684092 kB"). On
// kernels before 3.14, which lack MemAvailable, available is estimated as
// MemFree + Buffers + Cached.
func parseMeminfo(b []byte) (memStats, error) {
	var m memStats
	var free, buffers, cached uint64
	var seen uint8
	const (
		sTotal = 1 << iota
		sAvail
		sSwapTotal
		sSwapFree
		sAll = sTotal | sAvail | sSwapTotal | sSwapFree
	)
	for len(b) > 0 && seen != sAll {
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
		key := line[:colon]
		var dst *uint64
		switch string(key) {
		case "MemTotal":
			dst, seen = &m.total, seen|sTotal
		case "MemAvailable":
			dst, seen = &m.available, seen|sAvail
		case "MemFree":
			dst = &free
		case "Buffers":
			dst = &buffers
		case "Cached":
			dst = &cached
		case "SwapTotal":
			dst, seen = &m.swapTotal, seen|sSwapTotal
		case "SwapFree":
			dst, seen = &m.swapFree, seen|sSwapFree
		default:
			continue
		}
		num, rest := nextField(line[colon+1:])
		v, ok := parseUint(num)
		if !ok {
			return memStats{}, errors.New("/proc/meminfo: bad value of " + string(key))
		}
		if unit, _ := nextField(rest); string(unit) == "kB" {
			if v > 1<<54 {
				return memStats{}, errors.New("/proc/meminfo: value out of range: " + string(key))
			}
			v *= 1024
		}
		*dst = v
	}
	if seen&sTotal == 0 {
		return memStats{}, errors.New("/proc/meminfo: no MemTotal")
	}
	if seen&sAvail == 0 {
		m.available = free + buffers + cached
	}
	return m, nil
}
