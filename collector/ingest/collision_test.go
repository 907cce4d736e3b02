package ingest

import (
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/promapi"
	"github.com/vigilmon/vigil/protocol"
)

// labelsFrom makes up to three labels from "k=v;k=v" (fuzzer input).
func labelsFrom(s string) []*protocol.Label {
	var out []*protocol.Label
	for i, kv := range strings.Split(s, ";") {
		if i == 3 || kv == "" {
			break
		}
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, &protocol.Label{Key: k, Value: v})
	}
	return out
}

// FuzzDistinctSeriesDistinctLabels: two series that ingest accepts as
// distinct (different keys, so different ids) never map to one
// Prometheus label set, by name (a.b against a_b) or by labels (reserved
// keys, empty values).
func FuzzDistinctSeriesDistinctLabels(f *testing.F) {
	for _, seed := range [][6]string{
		{"plugin.x", "a.b", "", "plugin.x", "a_b", ""},
		{"plugin.x", "a-b", "", "plugin.x", "a_b", ""},
		{"cpu", "x", "agent=h2", "cpu", "x", ""},
		{"cpu", "x", "check=mem", "cpu", "x", ""},
		{"cpu", "x", "__name__=y", "cpu", "x", ""},
		{"cpu", "x", "metric=x", "cpu", "x", ""},
		{"cpu", "x", "a=", "cpu", "x", ""},
		{"plugin.x", "y", "", "plugin_x", "y", ""},
		{"1a", "b", "", "_1a", "b", ""},
		{"a", "b_c", "", "a_b", "c", ""},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3], seed[4], seed[5])
	}
	v := Validator{MaxAge: time.Hour}
	ts := time.Now().UnixMilli()
	f.Fuzz(func(t *testing.T, check1, metric1, labels1, check2, metric2, labels2 string) {
		one := func(check, metric, labels string) *Result {
			return v.Validate("t", "h", &protocol.Batch{Results: []*protocol.CheckResult{{Check: check, TimestampMs: ts,
				Metrics: []*protocol.Metric{gauge(metric, 1, labelsFrom(labels)...)}}}})
		}
		r1, r2 := one(check1, metric1, labels1), one(check2, metric2, labels2)
		if r1.Accepted != 1 || r2.Accepted != 1 {
			return
		}
		s1, s2 := &r1.Write.Series[0], &r2.Write.Series[0]
		if s1.ID == s2.ID {
			return
		}
		if l1, l2 := promapi.Labels(s1), promapi.Labels(s2); l1.String() == l2.String() {
			t.Fatalf("series %+v and %+v both map to %s", s1.SeriesKey, s2.SeriesKey, l1)
		}
	})
}
