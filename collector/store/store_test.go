package store

import (
	"strings"
	"testing"
)

func TestCompareKeys(t *testing.T) {
	// In increasing order: each key sorts after the one before it.
	keys := []SeriesKey{
		{Tenant: "a", Agent: "z", Check: "z", Metric: "z"},
		{Tenant: "b", Agent: "a", Check: "z", Metric: "z"},
		{Tenant: "b", Agent: "b", Check: "a", Metric: "z"},
		{Tenant: "b", Agent: "b", Check: "b", Metric: "a"},
		{Tenant: "b", Agent: "b", Check: "b", Metric: "b"},
		{Tenant: "b", Agent: "b", Check: "b", Metric: "b", Labels: []Label{{"a", "a"}}},
		{Tenant: "b", Agent: "b", Check: "b", Metric: "b", Labels: []Label{{"a", "a"}, {"b", "a"}}},
		{Tenant: "b", Agent: "b", Check: "b", Metric: "b", Labels: []Label{{"a", "b"}}},
		{Tenant: "b", Agent: "b", Check: "b", Metric: "b", Labels: []Label{{"b", ""}}},
	}
	for i := range keys {
		for j := range keys {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := CompareKeys(&keys[i], &keys[j]); got != want {
				t.Errorf("CompareKeys(%v, %v) = %d, want %d", keys[i], keys[j], got, want)
			}
		}
	}
}

func TestSeriesValidate(t *testing.T) {
	good := func(typ MetricType, labels ...Label) Series {
		s := Series{SeriesKey: SeriesKey{Tenant: "t", Agent: "a", Check: "c", Metric: "m", Labels: labels}, Type: typ}
		s.ID = s.SeriesKey.ID()
		return s
	}
	wrongID := good(Gauge)
	wrongID.ID[0]++
	for _, c := range []struct {
		name string
		s    Series
		want string // substring of the error; "" for none
	}{
		{"gauge", good(Gauge), ""},
		{"counter with labels", good(Counter, Label{"a", "1"}, Label{"b", "2"}), ""},
		{"string", good(String), ""},
		{"no type", good(0), "metric type 0"},
		{"unknown type", good(String + 1), "metric type 4"},
		{"labels unsorted", good(Gauge, Label{"b", "1"}, Label{"a", "2"}), `labels not sorted or repeated at "a"`},
		{"label repeated", good(Gauge, Label{"a", "1"}, Label{"a", "2"}), `labels not sorted or repeated at "a"`},
		{"id not the key's hash", wrongID, "key hashes to"},
	} {
		err := c.s.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: Validate() = %v, want %q", c.name, err, c.want)
		}
	}
}
