package api

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/metrics"
)

// TestOpenAPICoversRoutes holds openapi.json to the served routes: every
// route is described with its method, and every described operation is
// served.
func TestOpenAPICoversRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json: openapi %q, want 3.x", doc.OpenAPI)
	}
	a := &API{Log: slog.New(slog.DiscardHandler), Metrics: metrics.New()}
	served := map[string]bool{}
	for _, r := range a.routes() {
		method, path, _ := strings.Cut(r.pattern, " ")
		if strings.HasPrefix(path, "/prometheus/") {
			continue // Prometheus' own HTTP API, documented by Prometheus
		}
		served[strings.ToLower(method)+" "+path] = true
		if _, ok := doc.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("route %s is not in openapi.json", r.pattern)
		}
	}
	for path, ops := range doc.Paths {
		for method := range ops {
			if !served[method+" "+path] {
				t.Errorf("openapi.json describes %s %s, which is not served", strings.ToUpper(method), path)
			}
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	f := newFixture(t)
	code, body := f.get(t, "/v1/openapi.json", nil)
	if code != 200 || !strings.Contains(body, `"openapi": "3.0.3"`) {
		t.Fatalf("/v1/openapi.json: %d %.200s", code, body)
	}
}

// TestOpenAPISchemasMatchAnswers holds each answer's JSON fields to its
// schema in openapi.json, both ways, so the document cannot drift from
// what the handlers write.
func TestOpenAPISchemasMatchAnswers(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	for schema, v := range map[string]any{
		"Agent":        agentJSON{Collector: "c"},
		"Check":        checkJSON{},
		"StatusChange": statusChangeJSON{},
		"Series":       seriesJSON{},
		"QuerySeries":  queryJSON{Agg: "avg"},
		"Latest":       latestJSON{},
		"Token":        tokenJSON{Agent: "a", Revoked: &time.Time{}, Token: "t"},

		// The alarm API (alarms.go).
		"Alarm":            alarmJSON{},
		"NotificationPlan": planJSON{},
		"AlarmState":       alarmStateJSON{Entered: &time.Time{}, Pending: "WARNING", Count: 1},
		"Transition":       transitionJSON{Instance: "{mount=\"/\"}"},
		"AlarmTestAnswer":  testAnswer{},
		"Suppression":      suppressionJSON{Active: new(bool), Next: &spanJSON{}},
	} {
		b, _ := json.Marshal(v)
		var fields map[string]any
		decode(t, b, &fields)
		props := doc.Components.Schemas[schema].Properties
		for f := range fields {
			if _, ok := props[f]; !ok {
				t.Errorf("schema %s lacks the field %q the API writes", schema, f)
			}
		}
		for p := range props {
			if _, ok := fields[p]; !ok {
				t.Errorf("schema %s describes %q, which the API does not write", schema, p)
			}
		}
	}
}
