package plugin

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigilmon/vigil/agent/check"
)

func gauge(name string, v float64, unit string, labels ...check.Label) check.Metric {
	return check.Metric{Name: name, Type: check.Gauge, Value: v, Unit: unit, Labels: labels}
}

func counter(name string, v float64, labels ...check.Label) check.Metric {
	return check.Metric{Name: name, Type: check.Counter, Value: v, Labels: labels}
}

func str(name, s string, labels ...check.Label) check.Metric {
	return check.Metric{Name: name, Type: check.String, Str: s, Labels: labels}
}

func lbl(k, v string) check.Label { return check.Label{Key: k, Value: v} }

func fmtMetric(m check.Metric) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s{", m.Name)
	for i, l := range m.Labels {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", l.Key, l.Value)
	}
	b.WriteString("} ")
	if m.Type == check.String {
		fmt.Fprintf(&b, "string %q", m.Str)
	} else {
		fmt.Fprintf(&b, "%v %v", m.Type, m.Value)
	}
	if m.Unit != "" {
		fmt.Fprintf(&b, " [%s]", m.Unit)
	}
	return b.String()
}

// sameMetrics compares metrics, in order.
func sameMetrics(t *testing.T, got, want []check.Metric) {
	t.Helper()
	g := make([]string, len(got))
	for i, m := range got {
		g[i] = fmtMetric(m)
	}
	w := make([]string, len(want))
	for i, m := range want {
		w[i] = fmtMetric(m)
	}
	if strings.Join(g, "\n") != strings.Join(w, "\n") {
		t.Errorf("metrics:\n got:\n  %s\n want:\n  %s", strings.Join(g, "\n  "), strings.Join(w, "\n  "))
	}
}

// checkInvariants holds every parsed result to the data model's rules
// (DESIGN §3) and this package's limits.
func checkInvariants(t *testing.T, r *check.Result, err error) {
	t.Helper()
	if r.Status < check.OK || r.Status > check.Unknown {
		t.Fatalf("status %d out of range", r.Status)
	}
	if len(r.Message) > MaxMessageBytes || !utf8.ValidString(r.Message) || strings.ContainsAny(r.Message, "\n\r\x00") {
		t.Fatalf("bad message %q", r.Message)
	}
	if err != nil {
		if r.Status != check.Unknown || len(r.Metrics) != 0 {
			t.Fatalf("error %v but status %v with %d metrics", err, r.Status, len(r.Metrics))
		}
		if !strings.HasPrefix(err.Error(), strings.TrimSuffix(r.Message, "…")) {
			t.Fatalf("message %q is not the error %q", r.Message, err)
		}
	}
	if len(r.Metrics) > MaxMetrics {
		t.Fatalf("%d metrics", len(r.Metrics))
	}
	for _, m := range r.Metrics {
		if !validName(m.Name) {
			t.Fatalf("invalid metric name %q", m.Name)
		}
		if len(m.Labels) > MaxLabels {
			t.Fatalf("%s: %d labels", m.Name, len(m.Labels))
		}
		for _, l := range m.Labels {
			if !validLabelKey(l.Key) {
				t.Fatalf("%s: invalid label key %q", m.Name, l.Key)
			}
			if p := labelValueProblem(l.Value); p != "" {
				t.Fatalf("%s: label %s value %q: %s", m.Name, l.Key, l.Value, p)
			}
		}
		switch m.Type {
		case check.Gauge, check.Counter:
			if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
				t.Fatalf("%s: value %v", m.Name, m.Value)
			}
			if m.Str != "" {
				t.Fatalf("%s: numeric metric with a string", m.Name)
			}
		case check.String:
			if !utf8.ValidString(m.Str) || len(m.Str) > MaxStringValueBytes {
				t.Fatalf("%s: bad string value %q", m.Name, m.Str)
			}
			if m.Unit != "" {
				t.Fatalf("%s: string metric with unit", m.Name)
			}
		default:
			t.Fatalf("%s: type %d", m.Name, m.Type)
		}
		if m.Unit != "" {
			if p := unitProblem(m.Unit); p != "" {
				t.Fatalf("%s: unit %q: %s", m.Name, m.Unit, p)
			}
		}
	}
}

// parserTest is one case of a parser's table: output and exit code in,
// and either the result (status, message, metrics) or, when err is set,
// an error that contains each of err's substrings.
type parserTest struct {
	name    string
	out     string
	exit    int
	status  check.Status
	msg     string
	metrics []check.Metric
	err     []string
}

// errorCase is a parserTest that expects an error, in a shorter table.
type errorCase struct {
	name string
	out  string
	want []string // substrings of the error
}

func errorCases(exit int, cases []errorCase) []parserTest {
	out := make([]parserTest, len(cases))
	for i, c := range cases {
		out[i] = parserTest{name: c.name, out: c.out, exit: exit, err: c.want}
	}
	return out
}

var parsers = map[Format]func([]byte, int, *check.Result) error{
	FormatCloudkick: ParseCloudkick,
	FormatNagios:    ParseNagios,
	FormatInflux:    ParseInflux,
}

// testParser is the loop shared by the tables of the three parsers: each
// case parses into a used result (which must be reset), holds the data
// model's invariants, and gives the expected result or error.
func testParser(t *testing.T, f Format, tests []parserTest) {
	t.Helper()
	parse := parsers[f]
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r check.Result
			r.Metrics = append(r.Metrics, gauge("stale", 1, "")) // must be reset
			err := parse([]byte(tt.out), tt.exit, &r)
			checkInvariants(t, &r, err)
			if tt.err != nil {
				if err == nil {
					t.Fatalf("no error; got %v %q %d metrics", r.Status, r.Message, len(r.Metrics))
				}
				var pe *ParseError
				if !errors.As(err, &pe) || pe.Format != f {
					t.Errorf("error %T %v is not a %s *ParseError", err, err, f)
				}
				for _, w := range tt.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("error: %v", err)
			}
			if r.Status != tt.status || r.Message != tt.msg {
				t.Errorf("got %v %q, want %v %q", r.Status, r.Message, tt.status, tt.msg)
			}
			sameMetrics(t, r.Metrics, tt.metrics)
		})
	}
}
