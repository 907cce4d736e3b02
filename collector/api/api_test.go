package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
)

type fixture struct {
	srv   *httptest.Server
	store store.Store
	now   time.Time
}

func newFixture(t *testing.T) *fixture {
	st, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, now: time.UnixMilli(1_800_000_000_000)}
	f.srv = httptest.NewServer((&API{Store: st, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return f.now }}).Handler())
	t.Cleanup(func() { f.srv.Close(); st.Close() })
	return f
}

func (f *fixture) token(t *testing.T, tenant string, role store.Role) string {
	agent := "" // agent tokens speak for one agent
	if role == store.RoleAgent {
		agent = "web-1"
	}
	tok, _, err := auth.Create(context.Background(), f.store, tenant, role, agent)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// write stores n points of gauge cpu/usage_percent for agent, 10 s apart,
// ending at the fixture's now.
func (f *fixture) write(t *testing.T, tenant, agent string, n int) {
	s := store.Series{SeriesKey: store.SeriesKey{Tenant: tenant, Agent: agent, Check: "cpu", Metric: "usage_percent"}, Type: store.Gauge}
	s.ID = s.SeriesKey.ID()
	w := &store.WriteRequest{Tenant: tenant, Series: []store.Series{s}}
	for i := 0; i < n; i++ {
		w.Points = append(w.Points, store.Point{Series: s.ID, TS: f.now.UnixMilli() - int64(n-1-i)*10000, Value: float64(i)})
	}
	if err := f.store.Write(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	if err := f.store.UpsertAgent(context.Background(), store.Agent{Tenant: tenant, ID: agent, Hostname: agent, Connected: true}); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) get(t *testing.T, path string, setAuth func(*http.Request)) (int, string) {
	req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
	if setAuth != nil {
		setAuth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func bearerAuth(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

func TestQuery(t *testing.T) {
	f := newFixture(t)
	f.write(t, "acme", "web-1", 30)
	read := f.token(t, "acme", store.RoleRead)
	code, body := f.get(t, "/v1/query?agent=web-1&check=cpu&metric=usage_percent&from=-5m", bearerAuth(read))
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var a struct {
		Series []struct {
			Agent, Check, Metric, Resolution string
			Labels                           map[string]string
			Points                           [][2]float64
		}
	}
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	if len(a.Series) != 1 || a.Series[0].Resolution != "raw" || a.Series[0].Labels == nil {
		t.Fatalf("answer: %s", body)
	}
	pts := a.Series[0].Points
	// 30 points 10 s apart end at now; [now-5m, now) holds all but the last.
	if len(pts) != 29 {
		t.Fatalf("%d points, want the 29 with now-5m <= ts < now: %s", len(pts), body)
	}
	if pts[0][0] != float64(f.now.UnixMilli()-290000) || pts[0][1] != 0 {
		t.Fatalf("first point %v", pts[0])
	}

	// points= groups into at most that many intervals, stamped with their
	// start; agg=last keeps the newest reading of each.
	_, body = f.get(t, "/v1/query?agent=web-1&check=cpu&metric=usage_percent&from=-5m&to=now&points=5&agg=last", bearerAuth(read))
	decode(t, body, &a)
	if n := len(a.Series[0].Points); n != 5 {
		t.Fatalf("points=5 gave %d points: %s", n, body)
	}
	if last := a.Series[0].Points[4]; last[1] != 28 || last[0] != float64(f.now.UnixMilli()-60000) {
		t.Fatalf("newest point dropped by grouping: %v", a.Series[0].Points)
	}

	// HTTP basic auth with the token as password works too.
	code, _ = f.get(t, "/v1/query?agent=web-1&from=-5m", func(r *http.Request) { r.SetBasicAuth("grafana", read) })
	if code != 200 {
		t.Fatalf("basic auth: %d", code)
	}
}

func TestErrors(t *testing.T) {
	f := newFixture(t)
	f.write(t, "acme", "web-1", 3)
	read := f.token(t, "acme", store.RoleRead)
	agentTok := f.token(t, "acme", store.RoleAgent)
	tests := []struct {
		name, path string
		auth       func(*http.Request)
		code       int
		errCode    string
		msg        string
	}{
		{"no token", "/v1/agents", nil, 401, "unauthenticated", "Bearer"},
		{"unknown token", "/v1/agents", bearerAuth("vgl_x"), 401, "unauthenticated", "unknown or revoked"},
		{"agent token", "/v1/agents", bearerAuth(agentTok), 403, "forbidden", "role read"},
		{"unknown param", "/v1/query?metirc=x", bearerAuth(read), 400, "bad_request", `unknown parameter "metirc"`},
		{"bad from", "/v1/query?from=yesterday", bearerAuth(read), 400, "bad_request", "from:"},
		{"from after to", "/v1/query?from=-1h&to=-2h", bearerAuth(read), 400, "bad_request", "must be before"},
		{"range too long", "/v1/query?from=-500d", bearerAuth(read), 400, "bad_request", "at most"},
		{"bad points", "/v1/query?points=0", bearerAuth(read), 400, "bad_request", "points"},
		{"bad resolution", "/v1/query?resolution=1m", bearerAuth(read), 400, "bad_request", "resolution"},
		{"bad label", "/v1/query?label=nocolon", bearerAuth(read), 400, "bad_request", "key:value"},
		{"no route", "/v2/nothing", bearerAuth(read), 404, "not_found", "no endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := f.get(t, tt.path, tt.auth)
			var e apiError
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("not a JSON error: %s", body)
			}
			if code != tt.code || e.Error.Code != tt.errCode || !strings.Contains(e.Error.Message, tt.msg) {
				t.Fatalf("got %d %s, want %d %s containing %q", code, body, tt.code, tt.errCode, tt.msg)
			}
		})
	}
}

func TestTenantsDoNotMix(t *testing.T) {
	f := newFixture(t)
	f.write(t, "a", "web-1", 3)
	f.write(t, "b", "web-1", 5)
	readA := f.token(t, "a", store.RoleRead)
	for _, path := range []string{"/v1/agents", "/v1/series?agent=web-1", "/v1/query?agent=web-1&from=-1h"} {
		_, body := f.get(t, path, bearerAuth(readA))
		var a map[string][]map[string]any
		decode(t, body, &a)
		for _, list := range a {
			if len(list) != 1 {
				t.Fatalf("%s: want exactly tenant a's one entry: %s", path, body)
			}
		}
	}
	_, body := f.get(t, "/v1/query?agent=web-1&from=-1h", bearerAuth(readA))
	if strings.Count(body, "],[") != 1 { // 2 points inside [now-1h, now): 3 written, the one at now excluded
		t.Fatalf("tenant a sees other points: %s", body)
	}
}

func TestHealth(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, body := f.get(t, p, nil); code != 200 || !strings.Contains(body, `"ok"`) {
			t.Fatalf("%s: %d %s", p, code, body)
		}
	}
	f.store.Close()
	if code, body := f.get(t, "/readyz", nil); code != 503 {
		t.Fatalf("readyz with a closed store: %d %s", code, body)
	}
}

// TestReadyReason: /readyz asks Ready after Ping and answers 503 with its
// reason (writes refused, reads failing), 200 once it passes again.
func TestReadyReason(t *testing.T) {
	st, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var reason error
	srv := httptest.NewServer((&API{Store: st, Log: slog.New(slog.DiscardHandler), Ready: func() error { return reason }}).Handler())
	defer srv.Close()
	for _, tc := range []struct {
		reason error
		code   int
		want   string
	}{
		{nil, 200, `"ok"`},
		{errors.New("store reads failing: checksum mismatch"), 503, "store reads failing: checksum mismatch"},
		{nil, 200, `"ok"`},
	} {
		reason = tc.reason
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.want) {
			t.Errorf("readyz with reason %v: %d %s", tc.reason, resp.StatusCode, b)
		}
	}
}

// decode unmarshals JSON (a response body or a part of one) into v, failing
// the test when it is not JSON of v's shape.
func decode[T ~string | ~[]byte](t testing.TB, data T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(data), v); err != nil {
		t.Fatalf("decode %.300s: %v", data, err)
	}
}
