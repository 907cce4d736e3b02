package ingest

import (
	"math"
	"strings"
	"testing"
	"time"

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
		{"string metric", &protocol.CheckResult{Check: "plugin.x", TimestampMs: ts, Metrics: []*protocol.Metric{{Name: "version", Type: protocol.MetricType_METRIC_TYPE_STRING, StringValue: "1.2 beta"}}}, 1, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := v.Validate("acme", "web-1", &protocol.Batch{Seq: 1, Results: []*protocol.CheckResult{tt.result}})
			if res.Accepted != tt.accepted || res.Rejected != tt.rejected {
				t.Fatalf("accepted %d rejected %d, want %d and %d; errors %v", res.Accepted, res.Rejected, tt.accepted, tt.rejected, res.Errors)
			}
			if len(res.Write.Points) != int(tt.accepted) {
				t.Fatalf("%d points written, want %d", len(res.Write.Points), tt.accepted)
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
