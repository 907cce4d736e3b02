package check

import (
	"context"
	"errors"
)

type cpuReader struct {
	f procFile
}

func (rd *cpuReader) read(context.Context) (cpuTimes, int, error) {
	if rd.f.path == "" {
		rd.f.path = "/proc/stat"
	}
	b, err := rd.f.read()
	if err != nil {
		return cpuTimes{}, 0, err
	}
	return parseProcStat(b)
}

var errNoCPULine = errors.New("/proc/stat: no cpu line")

// parseProcStat reads the aggregate "cpu" line of /proc/stat (times in
// USER_HZ ticks: user nice system idle iowait irq softirq steal guest
// guest_nice; kernels older than 2.6.33 print fewer) and counts the
// per-CPU "cpuN" lines, one per online CPU.
func parseProcStat(b []byte) (cpuTimes, int, error) {
	var t cpuTimes
	found, n := false, 0
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		name, rest := nextField(line)
		if len(name) < 3 || string(name[:3]) != "cpu" {
			continue
		}
		if len(name) > 3 {
			if _, ok := parseUint(name[3:]); ok {
				n++
			}
			continue
		}
		if found {
			continue
		}
		var v [8]float64
		i := 0
		for ; i < len(v); i++ {
			var f []byte
			f, rest = nextField(rest)
			if len(f) == 0 {
				break
			}
			u, ok := parseUint(f)
			if !ok {
				return cpuTimes{}, 0, errors.New("/proc/stat: bad cpu line")
			}
			v[i] = float64(u)
		}
		if i < 4 {
			return cpuTimes{}, 0, errors.New("/proc/stat: short cpu line")
		}
		t = cpuTimes{user: v[0], nice: v[1], system: v[2], idle: v[3],
			iowait: v[4], irq: v[5], softirq: v[6], steal: v[7]}
		found = true
	}
	if !found {
		return cpuTimes{}, 0, errNoCPULine
	}
	return t, n, nil
}
