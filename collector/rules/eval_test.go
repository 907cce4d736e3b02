package rules

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func minute(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }

// setup loads src as one file and returns its first group over st.
func setup(t *testing.T, st *memStore, src string, l Limits, c Counter) *Group {
	t.Helper()
	gs, err := Parse("test.yml", []byte(src), l)
	if err != nil {
		t.Fatal(err)
	}
	q := EngineQueryFunc(newEngine(t), st, promql.NewPrometheusQueryOpts(false, 0, nil))
	return NewGroup("t1", gs[0], q, l, c)
}

// alertOf returns the single alert of AlertsData, or nil when none.
func alertsOf(t *testing.T, g *Group) []*AlertJSON {
	t.Helper()
	return AlertsData([]*Group{g}).Alerts
}

const downRule = `
groups:
- name: nodes
  interval: 1m
  rules:
  - alert: InstanceDown
    expr: up == 0
    for: 2m
    keep_firing_for: 3m
    labels:
      severity: "{{ $labels.job }}-page"
    annotations:
      summary: "{{ $labels.instance }} of {{ $labels.job }} down, value {{ $value }}"
`

func TestPendingFiringKeepFiringResolved(t *testing.T) {
	st := newMemStore()
	g := setup(t, st, downRule, Limits{}, nil)
	up := func(i int, v float64) { st.add(minute(i), v, "__name__", "up", "job", "node", "instance", "a") }

	// Each step: the value of up written at minute i, then the state of
	// the alert after evaluating at i ("" for no alert listed).
	steps := []struct {
		up    float64
		state string
		keep  bool
	}{
		{0, "pending", false},
		{0, "pending", false},
		{0, "firing", false}, // for: 2m has passed
		{1, "firing", true},  // gone; keep_firing_for holds it
		{1, "firing", true},
		{1, "firing", true},
		{1, "", false}, // 3m since it went: resolved
		{0, "pending", false},
	}
	for i, s := range steps {
		up(i, s.up)
		if err := g.Eval(context.Background(), minute(i)); err != nil {
			t.Fatalf("minute %d: %v", i, err)
		}
		as := alertsOf(t, g)
		if s.state == "" {
			if len(as) != 0 {
				t.Fatalf("minute %d: alerts %+v, want none", i, as)
			}
			continue
		}
		if len(as) != 1 {
			t.Fatalf("minute %d: %d alerts, want 1", i, len(as))
		}
		a := as[0]
		if a.State != s.state {
			t.Errorf("minute %d: state %s, want %s", i, a.State, s.state)
		}
		if (a.KeepFiringSince != nil) != s.keep {
			t.Errorf("minute %d: keepFiringSince %v, want set=%v", i, a.KeepFiringSince, s.keep)
		}
		wantActive := minute(0)
		if i == 7 {
			wantActive = minute(7) // a new alert after the resolution
		}
		if !a.ActiveAt.Equal(wantActive) {
			t.Errorf("minute %d: activeAt %v, want %v", i, a.ActiveAt, wantActive)
		}
	}

	// The resolved alert stayed in the state (to send its resolution)
	// until the new one replaced it.
	all := g.Alerts()
	if len(all) != 1 || all[0].State != StatePending {
		t.Fatalf("Alerts() = %+v", all)
	}
}

func TestResolvedRetained(t *testing.T) {
	st := newMemStore()
	g := setup(t, st, `
groups:
- name: g
  rules:
  - alert: A
    expr: x > 0
`, Limits{}, nil)
	st.add(minute(0), 1, "__name__", "x")
	st.add(minute(1), 0, "__name__", "x")
	for _, i := range []int{0, 1} {
		if err := g.Eval(context.Background(), minute(i)); err != nil {
			t.Fatal(err)
		}
	}
	as := g.Alerts()
	if len(as) != 1 || as[0].State != StateInactive || !as[0].ResolvedAt.Equal(minute(1)) || !as[0].FiredAt.Equal(minute(0)) {
		t.Fatalf("after resolution: %+v", as)
	}
	if n := len(alertsOf(t, g)); n != 0 {
		t.Fatalf("/api/v1/alerts lists %d resolved alerts", n)
	}
	// Dropped once ResolvedRetention has passed.
	late := minute(1).Add(ResolvedRetention + time.Minute)
	st.add(late, 0, "__name__", "x")
	if err := g.Eval(context.Background(), late); err != nil {
		t.Fatal(err)
	}
	if as := g.Alerts(); len(as) != 0 {
		t.Fatalf("after retention: %+v", as)
	}
}

func TestPendingDroppedWhenGone(t *testing.T) {
	st := newMemStore()
	g := setup(t, st, downRule, Limits{}, nil)
	st.add(minute(0), 0, "__name__", "up", "job", "node", "instance", "a")
	st.add(minute(1), 1, "__name__", "up", "job", "node", "instance", "a")
	for _, i := range []int{0, 1} {
		if err := g.Eval(context.Background(), minute(i)); err != nil {
			t.Fatal(err)
		}
	}
	if as := g.Alerts(); len(as) != 0 {
		t.Fatalf("a pending alert that went away is kept: %+v", as)
	}
}

func TestLabelsAndAnnotations(t *testing.T) {
	st := newMemStore()
	g := setup(t, st, downRule, Limits{}, nil)
	st.add(minute(0), 0, "__name__", "up", "job", "node", "instance", "a", "severity", "low")
	if err := g.Eval(context.Background(), minute(0)); err != nil {
		t.Fatal(err)
	}
	as := alertsOf(t, g)
	if len(as) != 1 {
		t.Fatalf("%d alerts", len(as))
	}
	want := map[string]string{"alertname": "InstanceDown", "job": "node", "instance": "a", "severity": "node-page"}
	if !mapsEqual(as[0].Labels, want) {
		t.Errorf("labels %v, want %v (series labels, __name__ dropped, rule's templated and winning)", as[0].Labels, want)
	}
	if got := as[0].Annotations["summary"]; got != "a of node down, value 0" {
		t.Errorf("summary %q", got)
	}
	if as[0].Value != "0e+00" {
		t.Errorf("value %q, want Prometheus' 0e+00", as[0].Value)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestTemplateBoundAndErrors(t *testing.T) {
	st := newMemStore()
	var c counter
	g := setup(t, st, `
groups:
- name: g
  rules:
  - alert: A
    expr: x > 0
    annotations:
      long: "{{ $labels.v }}{{ $labels.v }}{{ $labels.v }}"
      bad: "{{ humanizeDuration \"x\" }}"
      plain: "héllo wörld, a plain text longer than the bound"
      query: "{{ with query \"count(x)\" }}{{ . | first | value }}{{ end }}"
`, Limits{MaxTemplateBytes: 32}, &c)
	st.add(minute(0), 5, "__name__", "x", "v", strings.Repeat("é", 30))
	if err := g.Eval(context.Background(), minute(0)); err != nil {
		t.Fatal(err)
	}
	a := alertsOf(t, g)[0]
	for k, v := range a.Annotations {
		if len(v) > 32 {
			t.Errorf("annotation %s is %d bytes, over the bound", k, len(v))
		}
	}
	if !strings.HasSuffix(a.Annotations["long"], "…") || !strings.HasPrefix(a.Annotations["long"], "ééé") {
		t.Errorf("long = %q", a.Annotations["long"])
	}
	if !strings.HasPrefix(a.Annotations["bad"], "<error expanding") {
		t.Errorf("bad = %q", a.Annotations["bad"])
	}
	if a.Annotations["query"] != "1" {
		t.Errorf("query = %q, want the count of x", a.Annotations["query"])
	}
	if c.get(ReasonTemplateCut) < 2 || c.get(ReasonTemplateError) != 1 {
		t.Errorf("counted %v", c.n)
	}
}

func TestRuleErrors(t *testing.T) {
	st := newMemStore()
	g := setup(t, st, `
groups:
- name: g
  rules:
  - alert: Dup
    expr: '{__name__=~"x|y"} > 0'
  - alert: Regex
    expr: 'label_replace(x, "a", "$1", "b", "(")'
  - alert: Fine
    expr: x > 0
`, Limits{}, nil)
	st.add(minute(0), 1, "__name__", "x", "k", "v")
	st.add(minute(0), 1, "__name__", "y", "k", "v")
	err := g.Eval(context.Background(), minute(0))
	if err == nil || !strings.Contains(err.Error(), `rule "Dup"`) {
		t.Fatalf("Eval error %v, want the first failing rule named", err)
	}
	d := RulesData([]*Group{g})
	rs := d.RuleGroups[0].Rules
	want := []struct{ health, errPart, state string }{
		{HealthErr, "same labelset", "inactive"},
		{HealthErr, "invalid regular expression", "inactive"},
		{HealthOK, "", "firing"},
	}
	for i, w := range want {
		r := rs[i].(*AlertingRuleJSON)
		if r.Health != w.health || !strings.Contains(r.LastError, w.errPart) || r.State != w.state {
			t.Errorf("rule %s: health %s lastError %q state %s, want %s %q %s", r.Name, r.Health, r.LastError, r.State, w.health, w.errPart, w.state)
		}
		if !r.LastEvaluation.Equal(minute(0)) {
			t.Errorf("rule %s: lastEvaluation %v", r.Name, r.LastEvaluation)
		}
	}
}

func TestAlertLimit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limit  string
		limits Limits
	}{
		{"group limit", "  limit: 2\n", Limits{}},
		{"max alerts per rule", "", Limits{MaxAlertsPerRule: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newMemStore()
			var c counter
			g := setup(t, st, "groups:\n- name: g\n"+tc.limit+"  rules:\n  - alert: A\n    expr: x > 0\n", tc.limits, &c)
			st.add(minute(0), 1, "__name__", "x", "i", "1")
			st.add(minute(0), 1, "__name__", "x", "i", "2")
			if err := g.Eval(context.Background(), minute(0)); err != nil {
				t.Fatal(err)
			}
			st.add(minute(1), 1, "__name__", "x", "i", "3")
			err := g.Eval(context.Background(), minute(1))
			if err == nil || !strings.Contains(err.Error(), "exceeded limit of 2 with 3 alerts") {
				t.Fatalf("err %v", err)
			}
			if n := len(g.Alerts()); n != 0 {
				t.Errorf("%d alerts kept over the limit", n)
			}
			if c.get(ReasonAlertLimit) != 1 {
				t.Errorf("counted %v", c.n)
			}
			r := RulesData([]*Group{g}).RuleGroups[0].Rules[0].(*AlertingRuleJSON)
			if r.Health != HealthErr {
				t.Errorf("health %s", r.Health)
			}
		})
	}
}

func TestQueryOffsetAndGroupLabels(t *testing.T) {
	st := newMemStore()
	g := setup(t, st, `
groups:
- name: g
  query_offset: 10m
  labels:
    team: db
    severity: low
  rules:
  - alert: A
    expr: x > 0
    labels:
      severity: high
`, Limits{}, nil)
	// Only visible to a query 10 minutes back: the lookback is 5m.
	st.add(minute(0), 1, "__name__", "x")
	if err := g.Eval(context.Background(), minute(10)); err != nil {
		t.Fatal(err)
	}
	as := alertsOf(t, g)
	if len(as) != 1 {
		t.Fatalf("%d alerts with query_offset", len(as))
	}
	if as[0].Labels["team"] != "db" || as[0].Labels["severity"] != "high" {
		t.Errorf("labels %v: want the group's, the rule's winning", as[0].Labels)
	}
}

// TestKeepFiringRestarts: a series that comes back while kept firing
// clears keepFiringSince, so keep_firing_for counts again from its next
// disappearance.
func TestKeepFiringRestarts(t *testing.T) {
	st := newMemStore()
	g := setup(t, st, `
groups:
- name: g
  rules:
  - alert: A
    expr: x > 0
    keep_firing_for: 2m
`, Limits{}, nil)
	for i, v := range []float64{1, 0, 1, 0, 0, 0} {
		st.add(minute(i), v, "__name__", "x")
		if err := g.Eval(context.Background(), minute(i)); err != nil {
			t.Fatal(err)
		}
		as := alertsOf(t, g)
		// Firing through minute 4: gone at 3, kept until 3+2m.
		if i <= 4 {
			if len(as) != 1 || as[0].State != "firing" {
				t.Fatalf("minute %d: %+v, want firing", i, as)
			}
			if kept := as[0].KeepFiringSince != nil; kept != (v == 0) {
				t.Errorf("minute %d: keepFiringSince %v", i, as[0].KeepFiringSince)
			}
			if v == 0 && i >= 3 && !as[0].KeepFiringSince.Equal(minute(3)) {
				t.Errorf("minute %d: keepFiringSince %v, want %v", i, as[0].KeepFiringSince, minute(3))
			}
		} else if len(as) != 0 {
			t.Fatalf("minute %d: %+v, want resolved", i, as)
		}
	}
}

// TestAlertLimitCountsKeptFiring: alerts held by keep_firing_for count
// towards the limit, as in Prometheus, though the query returns fewer.
func TestAlertLimitCountsKeptFiring(t *testing.T) {
	st := newMemStore()
	var c counter
	g := setup(t, st, `
groups:
- name: g
  limit: 2
  rules:
  - alert: A
    expr: x > 0
    keep_firing_for: 10m
`, Limits{}, &c)
	st.add(minute(0), 1, "__name__", "x", "i", "1")
	st.add(minute(0), 1, "__name__", "x", "i", "2")
	if err := g.Eval(context.Background(), minute(0)); err != nil {
		t.Fatal(err)
	}
	st.add(minute(1), 0, "__name__", "x", "i", "1")
	st.add(minute(1), 0, "__name__", "x", "i", "2")
	st.add(minute(1), 1, "__name__", "x", "i", "3")
	err := g.Eval(context.Background(), minute(1))
	if err == nil || !strings.Contains(err.Error(), "exceeded limit of 2 with 3 alerts") {
		t.Fatalf("err %v", err)
	}
	if n := len(g.Alerts()); n != 0 || c.get(ReasonAlertLimit) != 1 {
		t.Fatalf("%d alerts kept, counted %v", n, c.n)
	}
}
