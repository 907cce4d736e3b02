package api

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vigilmon/vigil/collector/store"
)

// results stores results of check for agent, one a minute ending at the
// fixture's now, with the given statuses.
func (f *fixture) results(t *testing.T, tenant, agent, check string, st ...store.Status) {
	t.Helper()
	w := &store.WriteRequest{Tenant: tenant}
	for i, s := range st {
		ts := f.now.UnixMilli() - int64(len(st)-1-i)*60000
		w.Results = append(w.Results, store.CheckResult{Agent: agent, Check: check, TS: ts, Status: s, Message: fmt.Sprintf("%s %d", s, i)})
	}
	if err := f.store.Write(context.Background(), w); err != nil {
		t.Fatal(err)
	}
}

func TestAgentChecks(t *testing.T) {
	f := newFixture(t)
	f.write(t, "acme", "web-1", 3)
	f.results(t, "acme", "web-1", "cpu", store.StatusOK, store.StatusWarn)
	f.results(t, "acme", "web-1", "plugin.mysql", store.StatusCrit)
	f.write(t, "other", "web-2", 3)
	f.results(t, "other", "web-2", "cpu", store.StatusOK)
	read := f.token(t, "acme", store.RoleRead)

	code, body := f.get(t, "/v1/agents/web-1/checks", bearerAuth(read))
	var a struct{ Checks []checkJSON }
	decode(t, body, &a)
	if code != 200 || len(a.Checks) != 2 || a.Checks[0].ID != "cpu" || a.Checks[0].Status != "warn" ||
		a.Checks[0].Message != "warn 1" || a.Checks[1].Type != "plugin" || a.Checks[1].Status != "crit" ||
		!a.Checks[0].LastRun.Equal(f.now) {
		t.Fatalf("checks: %d %s", code, body)
	}
	code, body = f.get(t, "/v1/agents/web-1/checks?limit=1", bearerAuth(read))
	if code != 200 || !strings.Contains(body, "next_cursor") || strings.Contains(body, "mysql") {
		t.Fatalf("checks page: %d %s", code, body)
	}
	// Another tenant's agent and an unknown one: the same 404.
	c1, b1 := f.get(t, "/v1/agents/web-2/checks", bearerAuth(read))
	c2, b2 := f.get(t, "/v1/agents/web-9/checks", bearerAuth(read))
	if c1 != 404 || c2 != 404 || strings.Replace(b1, "web-2", "web-9", 1) != b2 {
		t.Fatalf("other tenant %d %s; unknown %d %s", c1, b1, c2, b2)
	}
	// An agent without results yet has no checks.
	f.write(t, "acme", "web-3", 1)
	if code, body := f.get(t, "/v1/agents/web-3/checks", bearerAuth(read)); code != 200 || !strings.Contains(body, `"checks":[]`) {
		t.Fatalf("agent without results: %d %s", code, body)
	}
}

func TestCheckHistory(t *testing.T) {
	f := newFixture(t)
	f.results(t, "acme", "web-1", "cpu", store.StatusOK, store.StatusOK, store.StatusWarn, store.StatusWarn, store.StatusCrit, store.StatusOK)
	f.results(t, "other", "web-1", "disk", store.StatusOK)
	read := f.token(t, "acme", store.RoleRead)

	code, body := f.get(t, "/v1/checks/web-1/cpu/history?from=-1h&to=%2B1m", bearerAuth(read))
	var h struct {
		Changes []statusChangeJSON
	}
	decode(t, body, &h)
	var got []string
	for _, c := range h.Changes {
		got = append(got, c.Status)
	}
	if code != 200 || strings.Join(got, ",") != "ok,warn,crit,ok" || h.Changes[1].Message != "warn 2" {
		t.Fatalf("history: %d %s", code, body)
	}
	// to is exclusive: the last result (at now) is not in [-1h, now).
	if _, body := f.get(t, "/v1/checks/web-1/cpu/history?from=-1h", bearerAuth(read)); strings.Count(body, `"status"`) != 3 {
		t.Fatalf("history to now: %s", body)
	}
	for _, tt := range []struct {
		path string
		code int
		msg  string
	}{
		{"/v1/checks/web-1/disk/history", 404, "no check"}, // other tenant's check
		{"/v1/checks/web-1/memory/history", 404, "no check"},
		{"/v1/checks/web-9/cpu/history", 404, "no check"},
		{"/v1/checks/web-1/cpu/history?from=x", 400, "from:"},
		{"/v1/checks/web-1/cpu/history?to=x", 400, "to:"},
		{"/v1/checks/web-1/cpu/history?from=-1h&to=-2h", 400, "must be before"},
		{"/v1/checks/web-1/cpu/history?from=-40d", 400, "at most"},
		{"/v1/checks/web-1/cpu/history?check=cpu", 400, `unknown parameter`},
	} {
		if code, body := f.get(t, tt.path, bearerAuth(read)); code != tt.code || !strings.Contains(body, tt.msg) {
			t.Errorf("%s: %d %s; want %d containing %q", tt.path, code, body, tt.code, tt.msg)
		}
	}
}

func TestLatest(t *testing.T) {
	f := newFixture(t)
	f.write(t, "acme", "web-1", 3) // values 0, 1, 2; the last at now
	f.write(t, "other", "web-1", 5)
	read := f.token(t, "acme", store.RoleRead)
	code, body := f.get(t, "/v1/latest?agent=web-1&check=cpu", bearerAuth(read))
	var a struct{ Series []latestJSON }
	decode(t, body, &a)
	if code != 200 || len(a.Series) != 1 || a.Series[0].TS != f.now.UnixMilli() || fmt.Sprint(a.Series[0].Value) != "2" ||
		a.Series[0].Metric != "usage_percent" || a.Series[0].Type != "gauge" {
		t.Fatalf("latest: %d %s", code, body)
	}
	for _, tt := range []struct {
		path string
		code int
		msg  string
	}{
		{"/v1/latest", 400, "agent: required"},
		{"/v1/latest?agent=web-1&limit=x", 400, "limit"},
		{"/v1/latest?agent=web-1&metirc=x", 400, "unknown parameter"},
		{"/v1/latest?agent=web-9", 200, `"series":[]`},
	} {
		if code, body := f.get(t, tt.path, bearerAuth(read)); code != tt.code || !strings.Contains(body, tt.msg) {
			t.Errorf("%s: %d %s; want %d containing %q", tt.path, code, body, tt.code, tt.msg)
		}
	}
}

func TestListPagination(t *testing.T) {
	f := newFixture(t)
	for i := range 5 {
		f.write(t, "acme", fmt.Sprintf("web-%d", i), 1)
	}
	read := f.token(t, "acme", store.RoleRead)
	for _, path := range []string{"/v1/agents?limit=2", "/v1/series?limit=2"} {
		var ids []string
		cursor := ""
		for range 10 {
			p := path
			if cursor != "" {
				p += "&cursor=" + cursor
			}
			code, body := f.get(t, p, bearerAuth(read))
			if code != 200 {
				t.Fatalf("%s: %d %s", p, code, body)
			}
			var a struct {
				Agents []agentJSON
				Series []seriesJSON
				Next   string `json:"next_cursor"`
			}
			decode(t, body, &a)
			for _, x := range a.Agents {
				ids = append(ids, x.ID)
			}
			for _, x := range a.Series {
				ids = append(ids, x.Agent)
			}
			if cursor = a.Next; cursor == "" {
				break
			}
		}
		if strings.Join(ids, ",") != "web-0,web-1,web-2,web-3,web-4" {
			t.Errorf("%s: pages gave %v", path, ids)
		}
	}
}
