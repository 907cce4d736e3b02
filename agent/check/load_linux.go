package check

import (
	"context"
	"errors"
)

type loadReader struct {
	f procFile
}

func (rd *loadReader) read(context.Context) ([3]float64, error) {
	if rd.f.path == "" {
		rd.f.path = "/proc/loadavg"
	}
	b, err := rd.f.read()
	if err != nil {
		return [3]float64{}, err
	}
	return parseLoadavg(b)
}

// parseLoadavg reads the first three fields of /proc/loadavg
// ("0.68 0.43 0.17 2/95 7613").
func parseLoadavg(b []byte) ([3]float64, error) {
	var l [3]float64
	for i := range l {
		var f []byte
		f, b = nextField(b)
		v, ok := parseDecimal(f)
		if !ok {
			return [3]float64{}, errors.New("/proc/loadavg: bad load average")
		}
		l[i] = v
	}
	return l, nil
}
