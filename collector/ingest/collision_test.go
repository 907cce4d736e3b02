package ingest

import (
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/promapi"
	"github.com/vigilmon/vigil/collector/store"
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
		{"vigil", "check_status", "", "cpu", "x", ""},
		{"vigil_check", "status", "", "cpu", "x", ""},
		{"plugin.x", "vigil.status", "", "plugin.x", "y", ""},
		{"plugin.x", "vigil_status", "", "plugin.x", "y", ""},
		{"vigil.import", "x", "", "cpu", "x", ""},
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
		// Every series of both results, the derived status and duration
		// series among them.
		var all []store.Series
		for _, r := range []*Result{one(check1, metric1, labels1), one(check2, metric2, labels2)} {
			all = append(all, r.Write.Series...)
		}
		for i := range all {
			for j := range i {
				s1, s2 := &all[i], &all[j]
				if s1.ID == s2.ID {
					continue
				}
				if l1, l2 := promapi.Labels(s1), promapi.Labels(s2); l1.String() == l2.String() {
					t.Fatalf("series %+v and %+v both map to %s", s1.SeriesKey, s2.SeriesKey, l1)
				}
			}
		}
	})
}
