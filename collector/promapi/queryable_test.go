package promapi

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
)

func TestMetricName(t *testing.T) {
	for _, tt := range []struct{ check, metric, want string }{
		{"cpu", "usage_percent", "cpu_usage_percent"},
		{"network", "rx_bytes", "network_rx_bytes"},
		{"plugin.mysql", "latency.p99", "plugin_mysql_latency_p99"},
		{"plugin.x", "TotalSize", "plugin_x_TotalSize"},
		{"plugin.x", "a:b-c", "plugin_x_a:b_c"},
	} {
		if got := MetricName(tt.check, tt.metric); got != tt.want {
			t.Errorf("MetricName(%q, %q) = %q, want %q", tt.check, tt.metric, got, tt.want)
		}
	}
}

func TestLabels(t *testing.T) {
	s := store.Series{SeriesKey: store.SeriesKey{Agent: "web-1", Check: "filesystem", Metric: "used_bytes",
		Labels: []store.Label{{Key: "agent", Value: "spoof"}, {Key: "mount", Value: "/"}, {Key: "__name__", Value: "x"}}}}
	if got := Labels(&s).String(); got != `{__name__="filesystem_used_bytes", agent="web-1", check="filesystem", mount="/"}` {
		t.Errorf("Labels = %s", got)
	}
}

func TestLabelsMetricLabel(t *testing.T) {
	for _, tt := range []struct {
		metric string
		labels []store.Label
		want   string
	}{
		{"a_b", nil, `{__name__="plugin_x_a_b", agent="h", check="plugin.x"}`},
		{"a.b", nil, `{__name__="plugin_x_a_b", agent="h", check="plugin.x", metric="a.b"}`},
		{"a-b", nil, `{__name__="plugin_x_a_b", agent="h", check="plugin.x", metric="a-b"}`},
		{"a:b", nil, `{__name__="plugin_x_a:b", agent="h", check="plugin.x"}`},
		{"a.b", []store.Label{{Key: "metric", Value: "spoof"}, {Key: "x", Value: ""}}, `{__name__="plugin_x_a_b", agent="h", check="plugin.x", metric="a.b"}`},
	} {
		s := store.Series{SeriesKey: store.SeriesKey{Agent: "h", Check: "plugin.x", Metric: tt.metric, Labels: tt.labels}}
		if got := Labels(&s).String(); got != tt.want {
			t.Errorf("Labels(%s %v) = %s, want %s", tt.metric, tt.labels, got, tt.want)
		}
	}
}

// TestLabelsCollectorSeries: the derived status and duration series have
// one name for all checks, and imported series keep their own name and
// labels, agent and check among them.
func TestLabelsCollectorSeries(t *testing.T) {
	for _, tt := range []struct {
		s    store.SeriesKey
		want string
	}{
		{store.SeriesKey{Agent: "h", Check: "plugin.check_disk", Metric: StatusMetric}, `{__name__="vigil_check_status", agent="h", check="plugin.check_disk"}`},
		{store.SeriesKey{Agent: "h", Check: "cpu", Metric: DurationMetric}, `{__name__="vigil_check_duration_seconds", agent="h", check="cpu"}`},
		{store.SeriesKey{Agent: "a:9100", Check: ImportCheck, Metric: "node_load1", Labels: []store.Label{{Key: "instance", Value: "a:9100"}, {Key: "job", Value: "node"}}},
			`{__name__="node_load1", instance="a:9100", job="node"}`},
		{store.SeriesKey{Agent: "x", Check: ImportCheck, Metric: "up", Labels: []store.Label{{Key: "agent", Value: "x"}, {Key: "metric", Value: "m"}, {Key: "e", Value: ""}}},
			`{__name__="up", agent="x", metric="m"}`},
	} {
		s := store.Series{SeriesKey: tt.s}
		if got := Labels(&s).String(); got != tt.want {
			t.Errorf("Labels(%+v) = %s, want %s", tt.s, got, tt.want)
		}
	}
}

func TestReservedCheck(t *testing.T) {
	for check, want := range map[string]bool{
		"vigil": true, "vigil.import": true, "vigil_check": true, "vigil-x": true, "vigil:x": false,
		"vigilant": false, "cpu": false, "plugin.vigil": false, "Vigil": false, "1vigil": false,
	} {
		if got := ReservedCheck(check); got != want {
			t.Errorf("ReservedCheck(%q) = %v, want %v", check, got, want)
		}
	}
}

// TestSelectImportedByCheckAndAgent: selectors on check and agent, which
// narrow the store's scan, still find imported series that carry those
// labels themselves (stored under ImportCheck, agent from their agent
// label), and only those.
func TestSelectImportedByCheckAndAgent(t *testing.T) {
	st, err := pebble.Open(t.TempDir(), pebble.Options{Logger: slog.New(slog.DiscardHandler), CompactInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts := time.Now().UnixMilli()
	var w store.WriteRequest
	w.Tenant = "acme"
	for _, k := range []store.SeriesKey{
		{Agent: "web-1", Check: "cpu", Metric: "usage_percent"},
		{Agent: "web-1", Check: "cpu", Metric: StatusMetric},
		{Agent: "unknown", Check: ImportCheck, Metric: "probe_success", Labels: []store.Label{{Key: "check", Value: "cpu"}}},
		{Agent: "web-1", Check: ImportCheck, Metric: "up", Labels: []store.Label{{Key: "agent", Value: "web-1"}}},
		{Agent: "h2", Check: ImportCheck, Metric: "up", Labels: []store.Label{{Key: "host", Value: "h2"}}},
	} {
		k.Tenant = "acme"
		s := store.Series{SeriesKey: k, Type: store.Gauge, ID: k.ID()}
		w.Series = append(w.Series, s)
		w.Points = append(w.Points, store.Point{Series: s.ID, TS: ts, Value: 1})
	}
	if err := st.Write(t.Context(), &w); err != nil {
		t.Fatal(err)
	}
	q, _ := (&queryable{st: st, tenant: "acme", res: store.Raw}).Querier(ts-1000, ts+1000)
	for _, tt := range []struct {
		ms   []*labels.Matcher
		want []string
	}{
		{[]*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "check", "cpu")}, []string{
			`{__name__="cpu_usage_percent", agent="web-1", check="cpu"}`,
			`{__name__="probe_success", check="cpu"}`,
			`{__name__="vigil_check_status", agent="web-1", check="cpu"}`,
		}},
		{[]*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "agent", "web-1"), labels.MustNewMatcher(labels.MatchEqual, "__name__", "up")}, []string{
			`{__name__="up", agent="web-1"}`,
		}},
		{[]*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "agent", "h2")}, nil},
		{[]*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "check", ImportCheck)}, nil},
		{[]*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "host", "h2")}, []string{`{__name__="up", host="h2"}`}},
	} {
		set := q.Select(t.Context(), true, nil, tt.ms...)
		var got []string
		for set.Next() {
			got = append(got, set.At().Labels().String())
		}
		if set.Err() != nil || !slices.Equal(got, tt.want) {
			t.Errorf("%v: %v, %v; want %v", tt.ms, got, set.Err(), tt.want)
		}
	}
}
