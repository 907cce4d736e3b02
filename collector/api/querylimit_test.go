package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/metrics"
	"github.com/vigilmon/vigil/collector/querylimit"
	"github.com/vigilmon/vigil/collector/store/pebble"
)

// limitFixture is a fixture whose API has the query limits l.
func limitFixture(t *testing.T, l querylimit.Limits) (*fixture, *querylimit.Guard) {
	st, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	g := &querylimit.Guard{Limits: l, Counter: m}
	f := &fixture{store: st, now: time.UnixMilli(1_800_000_000_000)}
	f.srv = httptest.NewServer((&API{Store: st, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return f.now },
		Metrics: m, Query: g}).Handler())
	t.Cleanup(func() { f.srv.Close(); st.Close() })
	return f, g
}

// v1Error decodes Vigil's error shape.
func v1Error(t *testing.T, body string) (code, msg string) {
	t.Helper()
	var e apiError
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not Vigil's error JSON: %s", body)
	}
	return e.Error.Code, e.Error.Message
}

// TestQuerySamplesLimit: a query loading more samples than
// query.max_samples is refused by both APIs, naming the limit, and
// counted; under the limit the same queries answer.
func TestQuerySamplesLimit(t *testing.T) {
	for _, tt := range []struct {
		max    int
		refuse bool
	}{{1000, false}, {50, true}} {
		f, _ := limitFixture(t, querylimit.Limits{MaxSamples: tt.max})
		for _, a := range []string{"web-1", "web-2", "web-3"} {
			f.write(t, "acme", a, 30) // 90 points in all
		}
		tok := f.token(t, "acme", "read")
		code, a := f.prom(t, tok, "POST", "query", url.Values{"query": {"count_over_time(cpu_usage_percent[10m])"}, "time": {sec(f, 0)}})
		if tt.refuse && (code != 422 || a.ErrorType != "execution" || !strings.Contains(a.Error, "query.max_samples")) {
			t.Errorf("max %d: PromQL %d %s %q, want 422 execution naming query.max_samples", tt.max, code, a.ErrorType, a.Error)
		}
		if !tt.refuse && code != 200 {
			t.Errorf("max %d: PromQL %d %s", tt.max, code, a.Error)
		}
		vcode, body := f.get(t, "/v1/query?check=cpu&metric=usage_percent&from=-10m&resolution=raw", bearerAuth(tok))
		if tt.refuse {
			if c, msg := v1Error(t, body); vcode != 422 || c != "too_large" || !strings.Contains(msg, "query.max_samples") {
				t.Errorf("max %d: /v1/query %d %s", tt.max, vcode, body)
			}
		} else if vcode != 200 {
			t.Errorf("max %d: /v1/query %d %s", tt.max, vcode, body)
		}
		_, mbody := f.get(t, "/metrics", nil)
		counted := regexp.MustCompile(`(?m)^vigil_collector_query_refused_total\{reason="samples"\} 2$`).MatchString(mbody)
		if counted != tt.refuse {
			t.Errorf("max %d: samples refusals counted %v, want %v", tt.max, counted, tt.refuse)
		}
	}
}

// TestQueryQueueFull: with every query slot held, both APIs answer 503 in
// their own error shape after the queue wait, and again serve once a slot
// is free.
func TestQueryQueueFull(t *testing.T) {
	f, g := limitFixture(t, querylimit.Limits{MaxConcurrent: 2, QueueWait: 50 * time.Millisecond})
	f.write(t, "acme", "web-1", 30)
	tok := f.token(t, "acme", "read")
	var held []func()
	for range 2 {
		r, err := g.Enter(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, r)
	}
	form := url.Values{"query": {"cpu_usage_percent"}, "time": {sec(f, 0)}}
	code, a := f.prom(t, tok, "GET", "query", form)
	if code != 503 || a.Status != "error" || a.ErrorType != "unavailable" || !strings.Contains(a.Error, "query.max_concurrent") {
		t.Errorf("PromQL with the queue full: %d %+v", code, a)
	}
	vcode, body := f.get(t, "/v1/query?check=cpu&metric=usage_percent&from=-10m", bearerAuth(tok))
	if c, msg := v1Error(t, body); vcode != 503 || c != "busy" || !strings.Contains(msg, "query.max_concurrent") {
		t.Errorf("/v1/query with the queue full: %d %s", vcode, body)
	}
	for _, r := range held {
		r()
	}
	if code, a := f.prom(t, tok, "GET", "query", form); code != 200 {
		t.Errorf("PromQL after release: %d %s", code, a.Error)
	}
	if vcode, body := f.get(t, "/v1/query?check=cpu&metric=usage_percent&from=-10m", bearerAuth(tok)); vcode != 200 {
		t.Errorf("/v1/query after release: %d %s", vcode, body)
	}
}
