package collector

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/api"
	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/ingest"
	"github.com/vigilmon/vigil/collector/metrics"
	"github.com/vigilmon/vigil/collector/promapi"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
	"github.com/vigilmon/vigil/protocol"
)

const ruleFile = `
groups:
- name: checks
  interval: 15s
  rules:
  - alert: CheckCritical
    expr: vigil_check_status{check="disk"} == 2
    for: 1m
    labels:
      severity: page
    annotations:
      summary: "{{ $labels.check }} on {{ $labels.agent }} is critical"
- name: limited
  limit: 1
  rules:
  - alert: AnyCheck
    expr: vigil_check_status >= 0
`

type rulesFixture struct {
	srv    *httptest.Server
	st     store.Store
	m      *metrics.Metrics
	prom   *promapi.API
	tokens map[string]string // tenant → read token
}

// newRulesFixture starts the collector's rules and HTTP API on a Pebble
// store, with files (name → contents) bound to tenant acme by config.
func newRulesFixture(t *testing.T, files map[string]string) (*rulesFixture, error) {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := ParseConfig([]byte(`
[quic]
cert_file = "c"
key_file = "k"
[[rules.tenant]]
name = "acme"
files = ["` + filepath.Join(dir, "*.yml") + `"]
`))
	if err != nil {
		t.Fatal(err)
	}
	st, err := pebble.Open(t.TempDir(), pebble.Options{Logger: slog.New(slog.DiscardHandler), CompactInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	f := &rulesFixture{st: st, m: metrics.New(), tokens: map[string]string{}}
	f.prom = &promapi.API{Store: st, Log: log}
	set, err := startRules(cfg, f.prom, f.m, log)
	if err != nil {
		return nil, err
	}
	f.prom.Rules = set
	a := &api.API{Prom: f.prom, Store: st, Log: log, Validator: ingest.Validator{MaxAge: time.Hour}, Metrics: f.m}
	f.srv = httptest.NewServer(a.Handler())
	t.Cleanup(func() { f.srv.Close(); a.Wait() })
	for _, tenant := range []string{"acme", "other"} {
		tok, _, err := auth.Create(t.Context(), st, tenant, store.RoleRead, "")
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[tenant] = tok
	}
	return f, nil
}

// ingest posts one batch of agent's check results through /v1/ingest.
func (f *rulesFixture) ingest(t *testing.T, tenant, agent string, seq uint64, at time.Time, status map[string]protocol.Status) {
	t.Helper()
	tok, _, err := auth.Create(t.Context(), f.st, tenant, store.RoleAgent, agent)
	if err != nil {
		t.Fatal(err)
	}
	b := &protocol.Batch{Seq: seq}
	for check, s := range status {
		b.Results = append(b.Results, &protocol.CheckResult{Check: check, TimestampMs: at.UnixMilli(), Status: s})
	}
	body, err := protocol.AppendFrame(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", f.srv.URL+"/v1/ingest", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set(api.AgentHeader, agent)
	req.Header.Set("Content-Type", api.ProtobufType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 {
		t.Fatalf("ingest: %d %s", resp.StatusCode, b)
	}
}

// get answers a Prometheus API path for tenant's token, decoding data
// into v; it returns the status code.
func (f *rulesFixture) get(t *testing.T, tenant, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+"/prometheus/api/v1/"+path, nil)
	req.Header.Set("Authorization", "Bearer "+f.tokens[tenant])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("%s: %s: %v", path, b, err)
	}
	if resp.StatusCode == 200 && v != nil {
		if env.Status != "success" {
			t.Fatalf("%s: %s", path, b)
		}
		if err := json.Unmarshal(env.Data, v); err != nil {
			t.Fatalf("%s: %s: %v", path, env.Data, err)
		}
	}
	return resp.StatusCode
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// A rule file of tenant acme, evaluated on check results ingested over
// HTTPS into Pebble: its alert goes pending, then firing, and the
// Prometheus API answers /rules and /alerts in Prometheus' shape, to
// acme only.
func TestRulesPendingFiringServed(t *testing.T) {
	f, err := newRulesFixture(t, map[string]string{"checks.yml": ruleFile})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	f.ingest(t, "acme", "web-1", 1, now, map[string]protocol.Status{"disk": protocol.Status_STATUS_CRIT, "cpu": protocol.Status_STATUS_OK})
	f.ingest(t, "other", "db-1", 1, now, map[string]protocol.Status{"disk": protocol.Status_STATUS_CRIT})
	groups := f.prom.Rules.Groups("acme")
	if len(groups) != 2 || len(f.prom.Rules.Groups("other")) != 0 {
		t.Fatalf("acme has %d groups, other %d", len(groups), len(f.prom.Rules.Groups("other")))
	}
	eval := func(at time.Time) {
		for _, g := range groups {
			_ = g.Eval(t.Context(), at) // the limited group fails: checked below
		}
	}
	alertState := func() string {
		var d struct{ Alerts []map[string]any }
		f.get(t, "acme", "alerts", &d)
		var states []string
		for _, a := range d.Alerts {
			if a["labels"].(map[string]any)["alertname"] == "CheckCritical" {
				states = append(states, a["state"].(string))
			}
		}
		return strings.Join(states, ",")
	}

	eval(now.Add(time.Second))
	if s := alertState(); s != "pending" {
		t.Fatalf("after the first evaluation: %q, want pending", s)
	}
	eval(now.Add(time.Second + time.Minute))
	if s := alertState(); s != "firing" {
		t.Fatalf("after for has passed: %q, want firing", s)
	}

	// /alerts: Prometheus' Alert fields.
	var ad struct{ Alerts []map[string]any }
	f.get(t, "acme", "alerts", &ad)
	var firing map[string]any
	for _, a := range ad.Alerts {
		if a["labels"].(map[string]any)["alertname"] == "CheckCritical" {
			firing = a
		}
	}
	if got := strings.Join(keys(firing), " "); got != "activeAt annotations labels state value" {
		t.Errorf("alert fields %s", got)
	}
	lbl := firing["labels"].(map[string]any)
	if lbl["agent"] != "web-1" || lbl["check"] != "disk" || lbl["severity"] != "page" ||
		firing["annotations"].(map[string]any)["summary"] != "disk on web-1 is critical" || firing["value"] != "2e+00" {
		t.Errorf("alert %v", firing)
	}
	if at, err := time.Parse(time.RFC3339Nano, firing["activeAt"].(string)); err != nil || !at.Equal(now.Add(time.Second)) {
		t.Errorf("activeAt %v (%v), want %v", firing["activeAt"], err, now.Add(time.Second))
	}

	// /rules: Prometheus' RuleGroup and AlertingRule fields.
	var rd struct{ Groups []map[string]any }
	f.get(t, "acme", "rules", &rd)
	if len(rd.Groups) != 2 {
		t.Fatalf("rules: %d groups", len(rd.Groups))
	}
	g := rd.Groups[0]
	if got := strings.Join(keys(g), " "); got != "evaluationTime file interval lastEvaluation limit name rules" {
		t.Errorf("group fields %s", got)
	}
	if g["name"] != "checks" || !strings.HasSuffix(g["file"].(string), "checks.yml") || g["interval"] != 15.0 {
		t.Errorf("group %v", g)
	}
	r := g["rules"].([]any)[0].(map[string]any)
	if got := strings.Join(keys(r), " "); got != "alerts annotations duration evaluationTime health keepFiringFor labels lastEvaluation name query state type" {
		t.Errorf("rule fields %s", got)
	}
	if r["state"] != "firing" || r["health"] != "ok" || r["type"] != "alerting" || r["duration"] != 60.0 || r["name"] != "CheckCritical" {
		t.Errorf("rule %v", r)
	}
	// A failing rule: health err, its lastError, counted.
	bad := rd.Groups[1]["rules"].([]any)[0].(map[string]any)
	if bad["labels"] == nil || bad["annotations"] == nil || bad["health"] != "err" || !strings.Contains(bad["lastError"].(string), "exceeded limit") {
		t.Errorf("rule over its group's limit: %v", bad)
	}
	rec := httptest.NewRecorder()
	f.m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range []string{"vigil_collector_rule_evaluations_total 4", "vigil_collector_rule_evaluation_failures_total 2", "vigil_collector_rule_alerts_firing 1"} {
		if !strings.Contains(rec.Body.String(), "\n"+line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}

	// Filters as Prometheus: type=alert keeps all, type=record none,
	// anything else is bad_data.
	f.get(t, "acme", "rules?type=alert", &rd)
	if len(rd.Groups) != 2 {
		t.Errorf("type=alert: %d groups", len(rd.Groups))
	}
	f.get(t, "acme", "rules?type=record", &rd)
	if len(rd.Groups) != 0 {
		t.Errorf("type=record: %d groups", len(rd.Groups))
	}
	if code := f.get(t, "acme", "rules?type=x", nil); code != 400 {
		t.Errorf("type=x: %d, want 400", code)
	}

	// Another tenant sees nothing, though its own disk is critical.
	var od struct{ Alerts []any }
	f.get(t, "other", "alerts", &od)
	var og struct{ Groups []any }
	f.get(t, "other", "rules", &og)
	if len(od.Alerts) != 0 || og.Groups == nil || len(og.Groups) != 0 {
		t.Errorf("other tenant: alerts %v, groups %v", od.Alerts, og.Groups)
	}
	// Without a token: refused like the other endpoints.
	f.tokens["nobody"] = "bogus"
	if code := f.get(t, "nobody", "alerts", nil); code != 401 {
		t.Errorf("bad token: %d, want 401", code)
	}
}

// A bad rule file stops the start, naming the file, group and rule.
func TestRulesBadFileRefused(t *testing.T) {
	_, err := newRulesFixture(t, map[string]string{"bad.yml": `
groups:
- name: broken
  rules:
  - alert: Typo
    expr: vigil_check_status ==
`})
	if err == nil {
		t.Fatal("bad rule file accepted")
	}
	for _, want := range []string{"bad.yml", "broken", "Typo", "acme"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
