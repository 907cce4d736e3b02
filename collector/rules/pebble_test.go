package rules_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"

	"github.com/vigilmon/vigil/collector/promapi"
	"github.com/vigilmon/vigil/collector/rules"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
)

// httpQuery is a QueryFunc asking the collector's Prometheus API, as
// Grafana would, for tenant: the store, the mapping of check results to
// series and the engine are the collector's own.
func httpQuery(t *testing.T, api *promapi.API, tenant string) rules.QueryFunc {
	var serve func(http.ResponseWriter, *http.Request, string)
	for _, e := range api.Endpoints() {
		if e.Path == "/query" {
			serve = e.Serve
		}
	}
	return func(ctx context.Context, expr string, ts time.Time) (promql.Vector, error) {
		v := url.Values{"query": {expr}, "time": {strconv.FormatFloat(float64(ts.UnixMilli())/1000, 'f', 3, 64)}}
		r := httptest.NewRequestWithContext(ctx, "GET", "/prometheus/api/v1/query?"+v.Encode(), nil)
		w := httptest.NewRecorder()
		serve(w, r, tenant)
		var resp struct {
			Status, Error string
			Data          struct {
				ResultType string          `json:"resultType"`
				Result     json.RawMessage `json:"result"`
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil {
			return nil, fmt.Errorf("%s: %w", w.Body.Bytes(), err)
		}
		if resp.Status != "success" {
			return nil, fmt.Errorf("query %s: %s", expr, resp.Error)
		}
		if resp.Data.ResultType != "vector" {
			t.Fatalf("result type %s", resp.Data.ResultType)
		}
		var res []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(resp.Data.Result, &res); err != nil {
			return nil, err
		}
		var out promql.Vector
		for _, s := range res {
			f, err := strconv.ParseFloat(s.Value[1].(string), 64)
			if err != nil {
				return nil, err
			}
			out = append(out, promql.Sample{Metric: labels.FromMap(s.Metric), T: ts.UnixMilli(), F: f})
		}
		return out, nil
	}
}

// TestCheckStatusOverPebble drives a rule on vigil_check_status from
// check results written to the collector's Pebble store.
func TestCheckStatusOverPebble(t *testing.T) {
	st, err := pebble.Open(t.TempDir(), pebble.Options{Logger: slog.New(slog.DiscardHandler), CompactInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base := time.Now().Add(-time.Hour).Truncate(time.Minute).UTC()
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	write := func(i int, agent string, status float64) {
		k := store.SeriesKey{Tenant: "acme", Agent: agent, Check: "disk", Metric: promapi.StatusMetric}
		s := store.Series{SeriesKey: k, Type: store.Gauge, ID: k.ID()}
		w := store.WriteRequest{Tenant: "acme", Series: []store.Series{s}, Points: []store.Point{{Series: s.ID, TS: at(i).UnixMilli(), Value: status}}}
		if err := st.Write(t.Context(), &w); err != nil {
			t.Fatal(err)
		}
	}
	api := &promapi.API{Store: st}
	gs, err := rules.Parse("checks.yml", []byte(`
groups:
- name: checks
  rules:
  - alert: CheckCritical
    expr: vigil_check_status == 2
    for: 2m
    labels:
      severity: page
    annotations:
      summary: "{{ $labels.check }} on {{ $labels.agent }} is critical"
`), rules.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	g := rules.NewGroup("acme", gs[0], httpQuery(t, api, "acme"), rules.Limits{}, nil)
	// Another tenant's critical check is not this tenant's alert.
	other := store.SeriesKey{Tenant: "other", Agent: "db-1", Check: "disk", Metric: promapi.StatusMetric}
	ots := store.Series{SeriesKey: other, Type: store.Gauge, ID: other.ID()}
	if err := st.Write(t.Context(), &store.WriteRequest{Tenant: "other", Series: []store.Series{ots}, Points: []store.Point{{Series: ots.ID, TS: at(0).UnixMilli(), Value: 2}}}); err != nil {
		t.Fatal(err)
	}

	for i, s := range []struct {
		web1, web2 float64
		want       map[string]string // agent → state
	}{
		{2, 0, map[string]string{"web-1": "pending"}},
		{2, 2, map[string]string{"web-1": "pending", "web-2": "pending"}},
		{2, 2, map[string]string{"web-1": "firing", "web-2": "pending"}},
		{0, 2, map[string]string{"web-2": "firing"}}, // web-1 resolved, no keep_firing_for
		{0, 0, map[string]string{}},
	} {
		write(i, "web-1", s.web1)
		write(i, "web-2", s.web2)
		if err := g.Eval(t.Context(), at(i)); err != nil {
			t.Fatalf("minute %d: %v", i, err)
		}
		got := map[string]string{}
		for _, a := range rules.AlertsData([]*rules.Group{g}).Alerts {
			got[a.Labels["agent"]] = a.State
			if want := "disk on " + a.Labels["agent"] + " is critical"; a.Annotations["summary"] != want || a.Labels["severity"] != "page" || a.Labels["check"] != "disk" {
				t.Errorf("minute %d: alert %+v", i, a)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(s.want) {
			t.Errorf("minute %d: %v, want %v", i, got, s.want)
		}
	}
}
