package check

import (
	"bytes"
	"flag"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite README.md's table of built-in metrics from the registry")

// TestDeclaredMetricsEmitted runs every check on this host, twice (cpu
// reports percents from its second run): what it emits is declared
// (conform), and every declared metric but the optional ones is emitted,
// so the declarations cannot keep a metric the code no longer reports.
func TestDeclaredMetricsEmitted(t *testing.T) {
	for _, f := range All() {
		t.Run(f.Name, func(t *testing.T) {
			c := newCheck(t, f.Name, nil)
			run(t, f.Name, c)
			// Let cumulative CPU times move by a clock tick or more.
			for deadline := time.Now().Add(30 * time.Millisecond); time.Now().Before(deadline); {
			}
			r := run(t, f.Name, c)
			if len(r.Metrics) == 0 && len(f.Labels) > 0 {
				t.Skipf("this host has nothing for %s to report", f.Name)
			}
			var got []string
			for _, m := range r.Metrics {
				got = append(got, m.Name)
			}
			for _, m := range f.Metrics {
				if !m.Optional && !slices.Contains(got, m.Name) {
					t.Errorf("%s declares %s but did not report it; reported %v", f.Name, m.Name, got)
				}
			}
		})
	}
}

func TestValidDef(t *testing.T) {
	g := MetricDef{Name: "x", Type: Gauge, Doc: "x"}
	for _, tt := range []struct {
		name    string
		check   string
		metrics []MetricDef
		noNew   bool
		ok      bool
	}{
		{"fine", "c", []MetricDef{g, {Name: "y", Type: Counter, Doc: "y"}}, false, true},
		{"no name", "", []MetricDef{g}, false, false},
		{"no New", "c", []MetricDef{g}, true, false},
		{"no metrics", "c", nil, false, false},
		{"metric twice", "c", []MetricDef{g, g}, false, false},
		{"metric without type", "c", []MetricDef{{Name: "x", Doc: "x"}}, false, false},
		{"metric without doc", "c", []MetricDef{{Name: "x", Type: Gauge}}, false, false},
	} {
		if err := validDef(tt.check, tt.metrics, tt.noNew); (err == nil) != tt.ok {
			t.Errorf("%s: validDef = %v, want ok %v", tt.name, err, tt.ok)
		}
	}
}

const (
	readmeBegin = "<!-- built-in metrics: made from agent/check by `make generate`; a test fails when they differ -->\n"
	readmeEnd   = "<!-- end of built-in metrics -->\n"
)

// metricsTable is README's table of built-in metrics, from the registry.
func metricsTable() string {
	var b strings.Builder
	b.WriteString("| check | labels | metric | type | what it is |\n|---|---|---|---|---|\n")
	for _, f := range All() {
		labels := "—"
		if len(f.Labels) > 0 {
			labels = strings.Join(f.Labels, ", ")
		}
		for _, m := range f.Metrics {
			doc := strings.ReplaceAll(m.Doc, "|", `\|`)
			if m.Optional {
				doc += " (optional)"
			}
			b.WriteString("| " + f.Name + " | " + labels + " | `" + m.Name + "` | " + m.Type.String() + " | " + doc + " |\n")
		}
	}
	return b.String()
}

// TestREADMEMetricsTable keeps README.md's table of built-in metrics equal
// to the checks' declarations; -update (make generate) rewrites it.
func TestREADMEMetricsTable(t *testing.T) {
	const path = "../../README.md"
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := bytes.Cut(readme, []byte(readmeBegin))
	table, after, ok2 := bytes.Cut(rest, []byte(readmeEnd))
	if !ok1 || !ok2 {
		t.Fatalf("%s: no %q ... %q section", path, readmeBegin, readmeEnd)
	}
	want := metricsTable()
	if string(table) == want {
		return
	}
	if !*update {
		t.Fatalf("README.md's table of built-in metrics differs from the checks' declarations: run `make generate`\nwant:\n%s", want)
	}
	out := slices.Concat(before, []byte(readmeBegin), []byte(want), []byte(readmeEnd), after)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
