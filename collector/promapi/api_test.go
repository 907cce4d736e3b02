package promapi

import (
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
)

func TestAppendTS(t *testing.T) {
	want := func(ms int64) string { return strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64) }
	cases := []int64{0, 1, 5, 50, 100, 999, 1000, 1001, 1010, 1100, -1, -5, -1000, -1001, 1795132800066,
		1795132800000, 1795132800100, -1795132800066, 1e14 - 1, 1e14, -1e14 + 1, -1e14, 1 << 62, -1 << 62}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		cases = append(cases, r.Int64N(2e14)-1e14, r.Int64N(4e12))
	}
	for _, ms := range cases {
		if got := string(appendTS(nil, ms)); got != want(ms) {
			t.Fatalf("appendTS(%d) = %q, want %q", ms, got, want(ms))
		}
	}
}

// TestAppendMatrixParallel: a matrix formatted in parts is the same JSON
// as formatted in one go, for any number of series.
func TestAppendMatrixParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
	r := rand.New(rand.NewPCG(3, 4))
	for _, nseries := range []int{1, 2, 3, 4, 7, 60} {
		var m promql.Matrix
		for i := range nseries {
			s := promql.Series{Metric: labels.FromStrings("__name__", "x", "agent", strconv.Itoa(i))}
			for j := range 20_000 / nseries {
				s.Floats = append(s.Floats, promql.FPoint{T: 1795132800000 + int64(j)*60_000, F: r.NormFloat64() * 1e6})
			}
			m = append(m, s)
		}
		got, want := appendMatrix(nil, m), appendSeries(nil, m)
		if string(got) != string(want) {
			t.Fatalf("%d series: parallel output differs (%d bytes, want %d)", nseries, len(got), len(want))
		}
		var v []map[string]any
		if err := json.Unmarshal(append(append([]byte{'['}, got...), ']'), &v); err != nil || len(v) != nseries {
			t.Fatalf("%d series: %d decoded, %v", nseries, len(v), err)
		}
	}
}
