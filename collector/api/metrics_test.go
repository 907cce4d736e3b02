package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/ingest"
	"github.com/vigilmon/vigil/collector/metrics"
	"github.com/vigilmon/vigil/collector/rollup"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
	"github.com/vigilmon/vigil/protocol"
)

func TestMetricsEndpoint(t *testing.T) {
	st, err := pebble.Open(t.TempDir(), pebble.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	f := &ingestFixture{store: st, now: time.UnixMilli(1_800_000_000_000)}
	// The rollup job wired as collector.Run wires it; one step catches it up.
	job := &rollup.Job{Store: st, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return f.now }}
	m.RollupLag(job.Lag)
	if err := job.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	a := &API{Store: metrics.Store(st, m), Log: slog.New(slog.DiscardHandler), Name: "coll-1", Metrics: m,
		Now: func() time.Time { return f.now }, Validator: ingest.Validator{MaxAge: time.Hour}}
	f.srv = httptest.NewServer(a.Handler())
	t.Cleanup(func() { f.srv.Close(); st.Close() })

	agentTok := f.token(t, "acme", store.RoleAgent, "web-1")
	b := f.batch(1, 3)
	b.Results[0].Metrics = append(b.Results[0].Metrics, &protocol.Metric{Name: "bad name", Type: protocol.MetricType_METRIC_TYPE_GAUGE})
	if r := f.post(t, agentTok, "web-1", ProtobufType, frame(t, b)); r.code != 200 {
		t.Fatalf("ingest: %d %s", r.code, r.body)
	}
	read, _, err := auth.Create(context.Background(), st, "acme", store.RoleRead, "")
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, tok string) (int, string) {
		req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	get("/v1/query?agent=web-1&from=-1h&to=%2B1m", read)
	get("/v1/agents/web-9/checks", read)

	code, body := get("/metrics", "") // no token needed
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	for _, want := range []string{
		`vigil_collector_batches_ingested_total{transport="https"} 1`,
		`vigil_collector_points_ingested_total{transport="https"} 5`, // with the derived status and duration
		`vigil_collector_points_rejected_total{reason="bad_metric"} 1`,
		`vigil_collector_ack_latency_seconds_count{transport="https"} 1`,
		`vigil_collector_store_write_seconds_count 1`,
		`vigil_collector_store_query_seconds_count{op="points"} 5`, // 3 metrics, the check's status and duration
		`vigil_collector_http_requests_total{code="200",route="GET /v1/query"} 1`,
		`vigil_collector_http_requests_total{code="404",route="GET /v1/agents/{id}/checks"} 1`,
		`vigil_collector_http_requests_total{code="200",route="POST /v1/ingest"} 1`,
		`vigil_collector_agents_connected 0`,
		`vigil_collector_rollup_lag_seconds{resolution="5m"} 0`,
		`vigil_collector_rollup_lag_seconds{resolution="1h"} 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}
