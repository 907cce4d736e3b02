package promapi

import (
	"testing"

	"github.com/vigilmon/vigil/collector/store"
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
