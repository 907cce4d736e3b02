package rules

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"

	"github.com/vigilmon/vigil/collector/querylimit"
)

// ruleFiles are loaded by Parse and checked by promtool. ok is whether
// Parse accepts; differs says why promtool decides otherwise, where it
// does by design; want is a part of Parse's error.
var ruleFiles = []struct {
	name, src string
	ok        bool
	differs   string
	want      string
}{
	{name: "alert", ok: true, src: `
groups:
- name: nodes
  interval: 30s
  limit: 10
  rules:
  - alert: InstanceDown
    expr: up == 0
    for: 5m
    keep_firing_for: 2m
    labels:
      severity: page
      team: "{{ $labels.job }}"
    annotations:
      summary: "{{ $labels.instance }} down ({{ $value | humanize }})"
  - alert: Always
    expr: vector(1)
`},
	{name: "empty", ok: true, src: "groups: []\n"},
	{name: "two groups", ok: true, src: `
groups:
- name: a
  rules:
  - alert: A
    expr: x > 1
- name: b
  rules: []
`},
	{name: "group labels and query_offset", ok: true, differs: "fields of later Prometheus releases than Debian's promtool 2.42", src: `
groups:
- name: g
  query_offset: 1m
  labels:
    team: db
  rules:
  - alert: A
    expr: x > 1
`},
	{name: "recording rule", ok: false, differs: "recording rules are refused", want: `group "g": rule 1 (record: "job:x:sum"): recording rules are not supported`, src: `
groups:
- name: g
  rules:
  - record: job:x:sum
    expr: sum by (job) (x)
`},
	{name: "bad promql", want: `group "g", rule 1, "A": could not parse expression`, src: `
groups:
- name: g
  rules:
  - alert: A
    expr: sum(x
`},
	{name: "no expr", want: "field 'expr' must be set", src: `
groups:
- name: g
  rules:
  - alert: A
`},
	{name: "alert and record", want: "only one of 'record' and 'alert'", src: `
groups:
- name: g
  rules:
  - alert: A
    record: b
    expr: x
`},
	{name: "neither alert nor record", want: "one of 'record' or 'alert' must be set", src: `
groups:
- name: g
  rules:
  - expr: x
`},
	{name: "repeated group", want: `groupname: "g" is repeated`, src: `
groups:
- name: g
  rules: []
- name: g
  rules: []
`},
	{name: "empty group name", want: "Groupname must not be empty", src: `
groups:
- name: ""
  rules: []
`},
	{name: "bad label name", want: "invalid label name: 0x", src: `
groups:
- name: g
  rules:
  - alert: A
    expr: x
    labels:
      0x: y
`},
	{name: "bad template", want: `annotation "s"`, src: `
groups:
- name: g
  rules:
  - alert: A
    expr: x
    annotations:
      s: "{{ $labels.job"
`},
	{name: "unknown field", want: "field fore not found", src: `
groups:
- name: g
  rules:
  - alert: A
    expr: x
    fore: 5m
`},
	{name: "bad duration", want: `unknown unit "x" in duration "5x"`, src: `
groups:
- name: g
  rules:
  - alert: A
    expr: x
    for: 5x
`},
	{name: "not yaml", want: "rule file", src: "groups: [\n"},
	{name: "range vector", differs: "promtool loads it; every evaluation would fail", want: "expr has type matrix", src: `
groups:
- name: g
  rules:
  - alert: A
    expr: x[5m]
`},
	{name: "interval below minimum", differs: "min_interval", want: "interval 1s is shorter than 10s", src: `
groups:
- name: g
  interval: 1s
  rules: []
`},
	{name: "two documents", differs: "promtool reads the first and ignores the rest", want: "more than one YAML document", src: `
groups: []
---
groups:
- name: g
  rules: []
`},
	{name: "deep expr", differs: "query.max_depth", want: "limit: query.max_depth", src: `
groups:
- name: g
  rules:
  - alert: A
    expr: ` + strings.Repeat("(", 120) + "x" + strings.Repeat(")", 120) + `
`},
}

func TestParseFiles(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range ruleFiles {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yml")
			if err := os.WriteFile(path, []byte(tc.src), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadFile(path, Limits{})
			if (err == nil) != tc.ok {
				t.Fatalf("LoadFile: %v, want ok=%v", err, tc.ok)
			}
			if err != nil {
				if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name the file and %q", err, tc.want)
				}
			}
		})
	}
}

// TestPromtoolAgrees checks each file with Debian's promtool: it must
// decide as Parse does, but for the rows that say why not.
func TestPromtoolAgrees(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found (Debian package prometheus): rule files not cross-checked")
	}
	dir := t.TempDir()
	for _, tc := range ruleFiles {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "rules.yml")
			if err := os.WriteFile(path, []byte(tc.src), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatal(err)
			}
			promOK := err == nil
			if tc.differs != "" {
				if promOK == tc.ok {
					t.Errorf("promtool now agrees (ok=%v); the row's reason %q is stale", promOK, tc.differs)
				}
				return
			}
			if promOK != tc.ok {
				t.Errorf("promtool ok=%v, Parse ok=%v:\n%s", promOK, tc.ok, out)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	rules := func(n int) string {
		var b strings.Builder
		b.WriteString("groups:\n- name: g\n  rules:\n")
		for i := range n {
			fmt.Fprintf(&b, "  - alert: A%d\n    expr: x > %d\n", i, i)
		}
		return b.String()
	}
	groups := func(n int) string {
		var b strings.Builder
		b.WriteString("groups:\n")
		for i := range n {
			fmt.Fprintf(&b, "- name: g%d\n  rules: []\n", i)
		}
		return b.String()
	}
	for _, tc := range []struct {
		name, src string
		l         Limits
		want      string
	}{
		{"file size", rules(10), Limits{MaxFileBytes: 100}, "larger than 100 bytes (limit max_file_bytes)"},
		{"rules", rules(4), Limits{MaxRules: 3}, `group "g": has 4 rules; at most 3 allowed`},
		{"groups", groups(4), Limits{MaxGroups: 3}, "has 4 groups; at most 3 allowed"},
		{"expr length", rules(1), Limits{Query: querylimit.Limits{MaxLength: 3}}, `rule 1 (alert: "A0"): expr: the query is 5 bytes long`},
		{"subquery steps", "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: max_over_time(x[30d:1s]) > 0\n", Limits{}, "limit: query.max_subquery_steps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yml", []byte(tc.src), tc.l)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "rule file f.yml: ") {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
			// Within the limits it loads.
			if tc.name != "subquery steps" {
				if _, err := Parse("f.yml", []byte(tc.src), Limits{}); err != nil {
					t.Fatalf("within default limits: %v", err)
				}
			}
		})
	}
}

func TestParseSpec(t *testing.T) {
	gs, err := Parse("f.yml", []byte(ruleFiles[0].src), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	g := gs[0]
	if g.Name != "nodes" || g.Interval != 30*time.Second || g.Limit != 10 || g.File != "f.yml" || len(g.Rules) != 2 {
		t.Fatalf("group %+v", g)
	}
	r := g.Rules[0]
	if r.Name != "InstanceDown" || r.Expr != "up == 0" || r.For != 5*time.Minute || r.KeepFiringFor != 2*time.Minute ||
		r.Labels["severity"] != "page" || r.Annotations["summary"] == "" {
		t.Fatalf("rule %+v", r)
	}
	if gs[0].Rules[1].For != 0 {
		t.Fatal("for without for")
	}
	if gs, _ := Parse("f.yml", []byte("groups:\n- name: x\n  rules: []\n"), Limits{}); gs[0].Interval != DefaultInterval {
		t.Fatalf("default interval %v", gs[0].Interval)
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range ruleFiles {
		f.Add([]byte(tc.src))
	}
	f.Add([]byte("a: &a [*a, *a, *a, *a]\n"))
	l := Limits{MaxFileBytes: 64 << 10}
	f.Fuzz(func(t *testing.T, b []byte) {
		gs, err := Parse("fuzz.yml", b, l)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "rule file fuzz.yml: ") {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		for _, g := range gs {
			if g.Interval < DefaultLimits.MinInterval || len(g.Rules) > DefaultLimits.MaxRules {
				t.Fatalf("accepted group out of limits: %+v", g)
			}
			for _, r := range g.Rules {
				if r.Name == "" || r.Expr == "" {
					t.Fatalf("accepted rule without name or expr: %+v", r)
				}
				// What Parse accepts a group evaluates without panicking.
				NewGroup("t", g, func(ctx context.Context, expr string, ts time.Time) (promql.Vector, error) {
					return nil, nil
				}, l, nil)
			}
		}
	})
}
