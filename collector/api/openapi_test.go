package api

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

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
