package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
)

// lockedLog is a log the server's goroutines write to while a test reads it.
type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Under /prometheus/ every error, the token's and unknown paths
// included, is Prometheus' {"status":"error","errorType","error"}, so
// Grafana and promtool show the reason instead of a decoding error.
func TestPrometheusErrorShape(t *testing.T) {
	f := newFixture(t)
	read := f.token(t, "acme", store.RoleRead)
	agentTok := f.token(t, "acme", store.RoleAgent)
	for _, tt := range []struct {
		name, method, path string
		auth               func(*http.Request)
		code               int
		errType, msg       string
	}{
		{"no token", "GET", "/prometheus/api/v1/query?query=1", nil, 401, "unauthenticated", "Bearer"},
		{"unknown token", "GET", "/prometheus/api/v1/query?query=1", bearerAuth("vgl_nope"), 401, "unauthenticated", "unknown or revoked"},
		{"agent token", "GET", "/prometheus/api/v1/labels", bearerAuth(agentTok), 403, "forbidden", "role read"},
		{"unknown endpoint", "GET", "/prometheus/api/v1/targets", bearerAuth(read), 404, "not_found", "/prometheus/api/v1/targets"},
		{"unknown method", "DELETE", "/prometheus/api/v1/query", bearerAuth(read), 404, "not_found", "DELETE"},
		{"unknown endpoint without token", "GET", "/prometheus/api/v1/alerts", nil, 401, "unauthenticated", "Bearer"},
		{"bad query", "GET", "/prometheus/api/v1/query?query=rate(", bearerAuth(read), 400, "bad_data", "query"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, f.srv.URL+tt.path, nil)
			if tt.auth != nil {
				tt.auth(req)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var a promAnswer
			if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if resp.StatusCode != tt.code || a.Status != "error" || a.ErrorType != tt.errType || !strings.Contains(a.Error, tt.msg) {
				t.Fatalf("got %d %+v, want %d %s containing %q", resp.StatusCode, a, tt.code, tt.errType, tt.msg)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if tt.code == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	// /v1 keeps its own shape.
	code, body := f.get(t, "/v1/nothing", bearerAuth(read))
	if code != 404 || !strings.Contains(body, `"code":"not_found"`) {
		t.Fatalf("/v1/nothing: %d %s", code, body)
	}
}

// A store failure answers 503 in each API's shape and is logged exactly
// once, with the route and the cause; a client error is not logged.
func TestServerErrorsLoggedOnce(t *testing.T) {
	st, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedLog
	now := time.UnixMilli(1_800_000_000_000)
	srv := httptest.NewServer((&API{Store: st, Log: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return now }}).Handler())
	defer srv.Close()
	fx := &fixture{store: st, srv: srv, now: now}
	read := fx.token(t, "acme", store.RoleRead)

	// A client error: answered, not logged.
	if code, _ := fx.get(t, "/v1/query?from=yesterday", bearerAuth(read)); code != 400 {
		t.Fatalf("bad from: %d", code)
	}
	if s := logs.String(); s != "" {
		t.Fatalf("a 400 was logged: %s", s)
	}
	st.Close()
	for _, tt := range []struct{ path, want string }{
		{"/v1/agents", `"code":"unavailable"`},
		{"/v1/series?agent=web-1", `"code":"unavailable"`},
		{"/prometheus/api/v1/labels", `"errorType":"unavailable"`},
		{"/prometheus/api/v1/series?match[]=up", `"errorType":"unavailable"`},
	} {
		before := strings.Count(logs.String(), "level=ERROR")
		code, body := fx.get(t, tt.path, bearerAuth(read))
		if code != 503 || !strings.Contains(body, tt.want) {
			t.Errorf("%s with a closed store: %d %s, want 503 with %s", tt.path, code, body, tt.want)
		}
		if n := strings.Count(logs.String(), "level=ERROR") - before; n != 1 {
			t.Errorf("%s: %d error lines logged, want 1:\n%s", tt.path, n, logs.String())
		}
	}
	if s := logs.String(); !strings.Contains(s, "route=\"GET /v1/agents\"") {
		t.Errorf("the log does not name the route: %s", s)
	}
}

// label/{name}/values takes names escaped the Prometheus way (U__, _XX_
// hex code points, __ for _), as Grafana sends them, and refuses names
// the mapping never makes.
func TestPrometheusLabelValuesEscaping(t *testing.T) {
	f := newFixture(t)
	f.writeCounter(t, "acme", "web-1", 3, 1)
	read := f.token(t, "acme", store.RoleRead)
	for _, tt := range []struct {
		name string
		code int
		want string
	}{
		{"interface", 200, `["eth0"]`},
		{"U__interface", 200, `["eth0"]`},
		{"U__check", 200, `["network"]`},
		{"U__a_2e_b", 400, `invalid label name: \"a.b\"`},
		{"1abc", 400, "invalid label name"},
	} {
		code, body := f.get(t, "/prometheus/api/v1/label/"+tt.name+"/values", bearerAuth(read))
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("label %s: %d %s, want %d with %s", tt.name, code, body, tt.code, tt.want)
		}
	}
}
