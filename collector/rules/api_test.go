package rules

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// keysOf lists the keys of the JSON object v.
func keysOf(t *testing.T, v any) []string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is not an object", v)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestAPIShape checks the JSON against Prometheus' documented responses
// (docs/querying/api.md, "Rules" and "Alerts") and the fields of its
// web/api/v1 types: the same keys, types and formats.
func TestAPIShape(t *testing.T) {
	st := newMemStore()
	g := setup(t, st, `
groups:
- name: example
  rules:
  - alert: HighRequestLatency
    expr: job:request_latency_seconds:mean5m{job="myjob"} > 0.5
    for: 10m
    keep_firing_for: 1m
    labels:
      severity: page
    annotations:
      summary: High request latency
`, Limits{}, nil)
	st.add(minute(0), 1, "__name__", "job:request_latency_seconds:mean5m", "job", "myjob")
	for _, i := range []int{0, 10} {
		st.add(minute(i), 1, "__name__", "job:request_latency_seconds:mean5m", "job", "myjob")
		if err := g.Eval(context.Background(), minute(i)); err != nil {
			t.Fatal(err)
		}
	}

	b, err := json.Marshal(RulesData([]*Group{g}))
	if err != nil {
		t.Fatal(err)
	}
	var rules map[string]any
	if err := json.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	grp := rules["groups"].([]any)[0]
	if got, want := keysOf(t, grp), []string{"evaluationTime", "file", "interval", "lastEvaluation", "limit", "name", "rules"}; !slices.Equal(got, want) {
		t.Errorf("group keys %v, want %v", got, want)
	}
	gm := grp.(map[string]any)
	if gm["interval"] != 60.0 || gm["file"] != "test.yml" || gm["name"] != "example" || gm["limit"] != 0.0 {
		t.Errorf("group %v", gm)
	}
	rule := gm["rules"].([]any)[0]
	if got, want := keysOf(t, rule), []string{"alerts", "annotations", "duration", "evaluationTime", "health", "keepFiringFor", "labels", "lastEvaluation", "name", "query", "state", "type"}; !slices.Equal(got, want) {
		t.Errorf("rule keys %v, want %v", got, want)
	}
	rm := rule.(map[string]any)
	if rm["duration"] != 600.0 || rm["keepFiringFor"] != 60.0 || rm["health"] != "ok" || rm["type"] != "alerting" ||
		rm["state"] != "firing" || rm["query"] != `job:request_latency_seconds:mean5m{job="myjob"} > 0.5` {
		t.Errorf("rule %v", rm)
	}
	if _, err := time.Parse(time.RFC3339Nano, rm["lastEvaluation"].(string)); err != nil {
		t.Errorf("lastEvaluation: %v", err)
	}
	alert := rm["alerts"].([]any)[0]
	if got, want := keysOf(t, alert), []string{"activeAt", "annotations", "labels", "state", "value"}; !slices.Equal(got, want) {
		t.Errorf("alert keys %v, want %v", got, want)
	}
	am := alert.(map[string]any)
	if am["value"] != "1e+00" || am["state"] != "firing" || am["activeAt"] != "2026-12-01T10:00:00Z" {
		t.Errorf("alert %v", am)
	}
	if l := am["labels"].(map[string]any); l["alertname"] != "HighRequestLatency" || l["severity"] != "page" || l["job"] != "myjob" || len(l) != 3 {
		t.Errorf("alert labels %v", l)
	}

	b, err = json.Marshal(AlertsData([]*Group{g}))
	if err != nil {
		t.Fatal(err)
	}
	var alerts map[string]any
	if err := json.Unmarshal(b, &alerts); err != nil {
		t.Fatal(err)
	}
	if got := keysOf(t, alerts); !slices.Equal(got, []string{"alerts"}) {
		t.Errorf("alerts data keys %v", got)
	}
	if got := keysOf(t, alerts["alerts"].([]any)[0]); !slices.Equal(got, []string{"activeAt", "annotations", "labels", "state", "value"}) {
		t.Errorf("alert keys %v", got)
	}

	// No groups: empty arrays, not null, as Prometheus answers.
	b, _ = json.Marshal(RulesData(nil))
	if string(b) != `{"groups":[]}` {
		t.Errorf("no rules: %s", b)
	}
	b, _ = json.Marshal(AlertsData(nil))
	if string(b) != `{"alerts":[]}` {
		t.Errorf("no alerts: %s", b)
	}
}

func TestAPIBeforeEval(t *testing.T) {
	g := setup(t, newMemStore(), downRule, Limits{}, nil)
	r := RulesData([]*Group{g}).RuleGroups[0].Rules[0].(*AlertingRuleJSON)
	if r.Health != HealthUnknown || r.State != "inactive" || r.Alerts == nil || len(r.Alerts) != 0 {
		t.Errorf("before evaluation: %+v", r)
	}
}
