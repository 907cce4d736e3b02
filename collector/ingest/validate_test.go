package ingest

import (
	"log/slog"
	"maps"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/protocol"
)

func gauge(name string, v float64, labels ...*protocol.Label) *protocol.Metric {
	return &protocol.Metric{Name: name, Type: protocol.MetricType_METRIC_TYPE_GAUGE, Value: v, Labels: labels}
}

func TestValidate(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	v := Validator{MaxAge: 7 * 24 * time.Hour, Now: func() time.Time { return now }}
	ts := now.UnixMilli()
	tests := []struct {
		name     string
		result   *protocol.CheckResult
		accepted uint32
		rejected uint32
		wantErr  string
	}{
		{"good gauge", &protocol.CheckResult{Check: "cpu", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("usage_percent", 12)}}, 1, 0, ""},
		{"dotted plugin name", &protocol.CheckResult{Check: "plugin.redis", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("latency.p99", 1)}}, 1, 0, ""},
		{"bad metric name", &protocol.CheckResult{Check: "cpu", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("a b", 1), gauge("ok", 1)}}, 1, 1, `character ' ' not allowed`},
		{"empty metric name", &protocol.CheckResult{Check: "cpu", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("", 1)}}, 0, 1, "name must be 1-128 bytes"},
		{"long metric name", &protocol.CheckResult{Check: "cpu", TimestampMs: ts, Metrics: []*protocol.Metric{gauge(strings.Repeat("a", 129), 1)}}, 0, 1, "name must be 1-128 bytes"},
		{"NaN", &protocol.CheckResult{Check: "cpu", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("x", math.NaN())}}, 0, 1, "not a finite number"},
		{"bad label key", &protocol.CheckResult{Check: "fs", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("x", 1, &protocol.Label{Key: "Mount", Value: "/"})}}, 0, 1, `label key "Mount"`},
		{"duplicate label", &protocol.CheckResult{Check: "fs", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("x", 1, &protocol.Label{Key: "a", Value: "1"}, &protocol.Label{Key: "a", Value: "2"})}}, 0, 1, "appears twice"},
		{"control char in label value", &protocol.CheckResult{Check: "fs", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("x", 1, &protocol.Label{Key: "a", Value: "x\x01"})}}, 0, 1, "printable"},
		{"no type", &protocol.CheckResult{Check: "cpu", TimestampMs: ts, Metrics: []*protocol.Metric{{Name: "x"}}}, 0, 1, "unknown metric type"},
		{"future", &protocol.CheckResult{Check: "cpu", TimestampMs: ts + 11*60*1000, Metrics: []*protocol.Metric{gauge("x", 1), gauge("y", 1)}}, 0, 2, "in the future"},
		{"too old", &protocol.CheckResult{Check: "cpu", TimestampMs: ts - 8*24*3600*1000, Metrics: []*protocol.Metric{gauge("x", 1)}}, 0, 1, "older than the raw retention"},
		{"bad check name", &protocol.CheckResult{Check: "c/d", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("x", 1)}}, 0, 1, "check name"},
		{"reserved label agent", &protocol.CheckResult{Check: "fs", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("x", 1, &protocol.Label{Key: "agent", Value: "h2"})}}, 0, 1, "reserved"},
		{"reserved label check", &protocol.CheckResult{Check: "fs", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("x", 1, &protocol.Label{Key: "check", Value: "c"})}}, 0, 1, "reserved"},
		{"reserved label metric", &protocol.CheckResult{Check: "fs", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("x", 1, &protocol.Label{Key: "metric", Value: "m"})}}, 0, 1, "reserved"},
		{"reserved label __name__", &protocol.CheckResult{Check: "fs", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("x", 1, &protocol.Label{Key: "__name__", Value: "y"})}}, 0, 1, "reserved"},
		{"single underscore allowed", &protocol.CheckResult{Check: "fs", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("x", 1, &protocol.Label{Key: "_x", Value: "y"})}}, 1, 0, ""},
		{"reserved metric name", &protocol.CheckResult{Check: "plugin.x", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("vigil.status", 1), gauge("vigil_status", 1)}}, 1, 1, "reserved: metric names starting with vigil."},
		{"reserved check vigil", &protocol.CheckResult{Check: "vigil", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("check_status", 1)}}, 0, 1, "reserved: checks named vigil"},
		{"reserved check vigil.import", &protocol.CheckResult{Check: "vigil.import", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("x", 1)}}, 0, 1, "reserved: checks named vigil"},
		{"reserved check vigil-x", &protocol.CheckResult{Check: "vigil-x", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("x", 1)}}, 0, 1, "reserved: checks named vigil"},
		{"check vigilant allowed", &protocol.CheckResult{Check: "vigilant", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("x", 1)}}, 1, 0, ""},
		{"string metric", &protocol.CheckResult{Check: "plugin.x", TimestampMs: ts, Metrics: []*protocol.Metric{{Name: "version", Type: protocol.MetricType_METRIC_TYPE_STRING, StringValue: "1.2 beta"}}}, 1, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := v.Validate("acme", "web-1", &protocol.Batch{Seq: 1, Results: []*protocol.CheckResult{tt.result}})
			if res.Accepted != tt.accepted || res.Rejected != tt.rejected {
				t.Fatalf("accepted %d rejected %d, want %d and %d; errors %v", res.Accepted, res.Rejected, tt.accepted, tt.rejected, res.Errors)
			}
			// Each stored result adds its status and duration points.
			if len(res.Write.Points) != int(tt.accepted)+2*len(res.Write.Results) {
				t.Fatalf("%d points written for %d results, want %d and 2 per result", len(res.Write.Points), len(res.Write.Results), tt.accepted)
			}
			if tt.wantErr != "" && (len(res.Errors) == 0 || !strings.Contains(res.Errors[0], tt.wantErr)) {
				t.Fatalf("errors %q, want one containing %q", res.Errors, tt.wantErr)
			}
			for _, p := range res.Write.Points {
				found := false
				for _, s := range res.Write.Series {
					found = found || s.ID == p.Series
				}
				if !found {
					t.Fatalf("point of series %v has no series definition", p.Series)
				}
			}
		})
	}
}

func TestValidateLabelsOrderIndependent(t *testing.T) {
	v := Validator{MaxAge: time.Hour}
	ts := time.Now().UnixMilli()
	a := v.Validate("t", "a", &protocol.Batch{Results: []*protocol.CheckResult{{Check: "fs", TimestampMs: ts, Metrics: []*protocol.Metric{
		gauge("used", 1, &protocol.Label{Key: "mount", Value: "/"}, &protocol.Label{Key: "device", Value: "sda1"})}}}})
	b := v.Validate("t", "a", &protocol.Batch{Results: []*protocol.CheckResult{{Check: "fs", TimestampMs: ts, Metrics: []*protocol.Metric{
		gauge("used", 1, &protocol.Label{Key: "device", Value: "sda1"}, &protocol.Label{Key: "mount", Value: "/"})}}}})
	if a.Write.Series[0].ID != b.Write.Series[0].ID {
		t.Fatal("label order changed the series id")
	}
	if a.Write.Series[0].Labels[0].Key != "device" {
		t.Fatalf("labels not sorted: %v", a.Write.Series[0].Labels)
	}
}

func TestValidateTenantsDiffer(t *testing.T) {
	v := Validator{MaxAge: time.Hour}
	ts := time.Now().UnixMilli()
	batch := &protocol.Batch{Results: []*protocol.CheckResult{{Check: "cpu", TimestampMs: ts, Metrics: []*protocol.Metric{gauge("x", 1)}}}}
	if v.Validate("a", "h", batch).Write.Series[0].ID == v.Validate("b", "h", batch).Write.Series[0].ID {
		t.Fatal("two tenants share a series id")
	}
}

func TestValidateEmptyLabelDropped(t *testing.T) {
	v := Validator{MaxAge: time.Hour}
	ts := time.Now().UnixMilli()
	a := v.Validate("t", "a", &protocol.Batch{Results: []*protocol.CheckResult{{Check: "fs", TimestampMs: ts, Metrics: []*protocol.Metric{
		gauge("used", 1, &protocol.Label{Key: "device", Value: ""})}}}})
	b := v.Validate("t", "a", &protocol.Batch{Results: []*protocol.CheckResult{{Check: "fs", TimestampMs: ts, Metrics: []*protocol.Metric{
		gauge("used", 1)}}}})
	if a.Accepted != 1 || len(a.Write.Series[0].Labels) != 0 || a.Write.Series[0].ID != b.Write.Series[0].ID {
		t.Fatalf("empty label kept: %+v", a.Write.Series)
	}
	if a.RejectedBy[ReasonReservedLabel] != 0 {
		t.Fatal("counted as reserved")
	}
}

// TestValidateDerivesStatus: every stored check result adds its status as
// a Nagios exit code and its duration in seconds, as gauges of the check
// named vigil.status and vigil.duration_seconds, whatever metrics it has.
func TestValidateDerivesStatus(t *testing.T) {
	v := Validator{MaxAge: time.Hour}
	ts := time.Now().UnixMilli()
	for _, tt := range []struct {
		status protocol.Status
		want   float64
	}{
		{protocol.Status_STATUS_OK, 0},
		{protocol.Status_STATUS_WARN, 1},
		{protocol.Status_STATUS_CRIT, 2},
		{protocol.Status_STATUS_UNKNOWN, 3},
		{protocol.Status_STATUS_UNSPECIFIED, 3},
		{protocol.Status(99), 3},
	} {
		res := v.Validate("t", "web-1", &protocol.Batch{Results: []*protocol.CheckResult{
			{Check: "plugin.check_disk", TimestampMs: ts, Status: tt.status, DurationMs: 1500},
			{Check: "cpu", TimestampMs: ts, Status: tt.status, Metrics: []*protocol.Metric{gauge("usage_percent", 5)}},
		}})
		if res.Accepted != 1 || res.Rejected != 0 {
			t.Fatalf("%v: accepted %d rejected %d (derived points must not count)", tt.status, res.Accepted, res.Rejected)
		}
		got := map[string]float64{}
		for _, p := range res.Write.Points {
			for _, s := range res.Write.Series {
				if s.ID == p.Series {
					if s.Tenant != "t" || s.Agent != "web-1" || s.Type != store.Gauge || len(s.Labels) != 0 {
						t.Errorf("series %+v", s)
					}
					got[s.Check+" "+s.Metric] = p.Value
				}
			}
		}
		want := map[string]float64{
			"plugin.check_disk vigil.status": tt.want, "plugin.check_disk vigil.duration_seconds": 1.5,
			"cpu vigil.status": tt.want, "cpu vigil.duration_seconds": 0, "cpu usage_percent": 5,
		}
		if !maps.Equal(got, want) {
			t.Errorf("%v: points %v, want %v", tt.status, got, want)
		}
	}
}

// TestValidateDerivedSeriesLimit: the derived series count against the
// agent's series limit, and when it refuses them no point counts as refused.
func TestValidateDerivedSeriesLimit(t *testing.T) {
	lim := NewSeriesLimiter(SeriesLimits{PerAgent: 2, PerTenant: 100, NewPerAgentHour: 100, Active: time.Hour}, slog.New(slog.DiscardHandler))
	v := Validator{MaxAge: time.Hour, Series: lim}
	ts := time.Now().UnixMilli()
	res := v.Validate("t", "h", &protocol.Batch{Results: []*protocol.CheckResult{
		{Check: "a", TimestampMs: ts, Status: protocol.Status_STATUS_CRIT},
		{Check: "b", TimestampMs: ts, Status: protocol.Status_STATUS_CRIT},
	}})
	if res.Accepted != 0 || res.Rejected != 0 || len(res.Write.Series) != 2 || len(res.Write.Points) != 2 || len(res.Write.Results) != 2 {
		t.Fatalf("accepted %d rejected %d, %d series, %d points, %d results; want 0, 0, 2, 2, 2",
			res.Accepted, res.Rejected, len(res.Write.Series), len(res.Write.Points), len(res.Write.Results))
	}
}
