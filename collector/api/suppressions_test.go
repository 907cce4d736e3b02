package api

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
)

func suppressionBody(fields map[string]any) string {
	m := map[string]any{"id": "patch", "name": "Patch night", "scope": map[string]any{"agents": []string{"web-1", "web-2"}},
		"windows": []string{"daily 07:00-09:00 UTC"}, "notify_on_recovery": true}
	for k, v := range fields {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// TestSuppressionsCRUD runs on a real Pebble store; the fixture's clock
// is 2027-01-15T08:00:00Z, inside the daily 07:00-09:00 UTC window.
func TestSuppressionsCRUD(t *testing.T) {
	f := newFixture(t)
	admin := f.token(t, "acme", store.RoleAdmin)
	read := f.token(t, "acme", store.RoleRead)
	other := f.token(t, "other", store.RoleAdmin)
	many := make([]string, 200)
	for i := range many {
		many[i] = "agent-" + strings.Repeat("x", 10)
	}
	f.run(t, []step{
		{name: "empty list", tok: read, method: "GET", path: "/v1/suppressions", code: 200, has: `{"suppressions":[]}`},
		{name: "read cannot create", tok: read, method: "POST", path: "/v1/suppressions", body: suppressionBody(nil), code: 403,
			msg: "a read token cannot change alarms; use a token with role admin"},
		{name: "bad window", tok: admin, method: "POST", path: "/v1/suppressions", body: suppressionBody(map[string]any{"windows": []string{"daily 07:00-09:00 UTC", "daily 25:00-26:00 UTC"}}), code: 400,
			msg: `windows[1]: suppression window "daily 25:00-26:00 UTC": time "25:00": want 00:00 to 23:59`},
		{name: "local zone", tok: admin, method: "POST", path: "/v1/suppressions", body: suppressionBody(map[string]any{"windows": []string{"weekdays 12:00-13:00 Local"}}), code: 400,
			has: `the collector's own zone must not matter`},
		{name: "no windows", tok: admin, method: "POST", path: "/v1/suppressions", body: suppressionBody(map[string]any{"windows": []string{}}), code: 400,
			msg: "windows: 0 given, want 1 to 16"},
		{name: "bad id", tok: admin, method: "POST", path: "/v1/suppressions", body: suppressionBody(map[string]any{"id": "a b"}), code: 400,
			msg: `id "a b": must be 1-64 characters of A-Z a-z 0-9 . _ -`},
		{name: "newline in scope", tok: admin, method: "POST", path: "/v1/suppressions", body: suppressionBody(map[string]any{"scope": map[string]any{"checks": []string{"a\nb"}}}), code: 400,
			msg: `scope.checks[0] "a\nb": must be 1-128 characters of A-Z a-z 0-9 . _ -`},
		{name: "bad alarm in scope", tok: admin, method: "POST", path: "/v1/suppressions", body: suppressionBody(map[string]any{"scope": map[string]any{"alarms": []string{"disk full"}}}), code: 400,
			msg: `scope.alarms[0] "disk full": must be 1-64 characters of A-Z a-z 0-9 . _ -`},
		{name: "scope too long", tok: admin, method: "POST", path: "/v1/suppressions", body: suppressionBody(map[string]any{"scope": map[string]any{"agents": many}}), code: 400,
			msg: "scope.agents: 200 names of 3399 bytes together; at most 1024 bytes (use a broader scope or several suppressions)"},
		{name: "unknown field", tok: admin, method: "POST", path: "/v1/suppressions", body: `{"id":"x","window":"daily 07:00-09:00 UTC"}`, code: 400, has: `unknown field`},
		{name: "create", tok: admin, method: "POST", path: "/v1/suppressions", body: suppressionBody(nil), code: 201,
			has: `{"id":"patch","name":"Patch night","scope":{"agents":["web-1","web-2"],"checks":[],"alarms":[]},"windows":["daily 07:00-09:00 UTC"],"notify_on_recovery":true,"created":"2027-01-15T08:00:00Z","updated":"2027-01-15T08:00:00Z"}`},
		{name: "create again", tok: admin, method: "POST", path: "/v1/suppressions", body: suppressionBody(nil), code: 409,
			msg: `suppression "patch" exists; PUT /v1/suppressions/patch to replace it`},
		{name: "get: active, current span", tok: read, method: "GET", path: "/v1/suppressions/patch", code: 200,
			has: `"active":true,"next":{"start":"2027-01-15T07:00:00Z","end":"2027-01-15T09:00:00Z"}`},
		{name: "list", tok: read, method: "GET", path: "/v1/suppressions", code: 200, has: `{"suppressions":[{"id":"patch"`},
		{name: "other tenant cannot see", tok: other, method: "GET", path: "/v1/suppressions/patch", code: 404, msg: `no suppression "patch"`},
		{name: "other tenant lists none", tok: other, method: "GET", path: "/v1/suppressions", code: 200, has: `{"suppressions":[]}`},
		{name: "other tenant cannot change", tok: other, method: "PUT", path: "/v1/suppressions/patch", body: suppressionBody(nil), code: 404, msg: `no suppression "patch"`},
		{name: "other tenant cannot delete", tok: other, method: "DELETE", path: "/v1/suppressions/patch", code: 404, msg: `no suppression "patch"`},
		{name: "put renames", tok: admin, method: "PUT", path: "/v1/suppressions/patch", body: suppressionBody(map[string]any{"id": "x"}), code: 400,
			msg: `id "x" differs from the path's "patch"; a suppression cannot be renamed`},
		{name: "read cannot put", tok: read, method: "PUT", path: "/v1/suppressions/patch", body: suppressionBody(nil), code: 403,
			msg: "a read token cannot change alarms; use a token with role admin"},
		{name: "put one-shot", tok: admin, method: "PUT", path: "/v1/suppressions/patch",
			body: suppressionBody(map[string]any{"id": nil, "windows": []string{"2027-02-01T00:00:00+01:00/2027-02-02T00:00:00+01:00", "weekly sat,Sun 02:00-04:00 Europe/Berlin"}}), code: 200,
			has: `"windows":["2027-02-01T00:00:00+01:00/2027-02-02T00:00:00+01:00","weekly Sat,Sun 02:00-04:00 Europe/Berlin"],"notify_on_recovery":true,"created":"2027-01-15T08:00:00Z"`},
		{name: "get: inactive, next span", tok: read, method: "GET", path: "/v1/suppressions/patch", code: 200,
			has: `"active":false,"next":{"start":"2027-01-16T01:00:00Z","end":"2027-01-16T03:00:00Z"}`},
		{name: "put back what GET answered", tok: admin, method: "PUT", path: "/v1/suppressions/patch",
			body: suppressionBody(map[string]any{"active": false, "next": map[string]any{"start": "2027-01-16T01:00:00Z", "end": "2027-01-16T03:00:00Z"}, "created": "2027-01-15T08:00:00Z"}), code: 200,
			has: `"windows":["daily 07:00-09:00 UTC"]`},
		{name: "put unknown", tok: admin, method: "PUT", path: "/v1/suppressions/nope", body: suppressionBody(map[string]any{"id": nil}), code: 404, msg: `no suppression "nope"`},
		{name: "read cannot delete", tok: read, method: "DELETE", path: "/v1/suppressions/patch", code: 403,
			msg: "a read token cannot change alarms; use a token with role admin"},
		{name: "delete", tok: admin, method: "DELETE", path: "/v1/suppressions/patch", code: 200, has: `"id":"patch"`},
		{name: "deleted", tok: read, method: "GET", path: "/v1/suppressions/patch", code: 404, msg: `no suppression "patch"`},
		{name: "delete again", tok: admin, method: "DELETE", path: "/v1/suppressions/patch", code: 404, msg: `no suppression "patch"`},
	})
}

type invalidations struct {
	mu      sync.Mutex
	tenants []string
}

func (i *invalidations) Invalidate(tenant string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.tenants = append(i.tenants, tenant)
}

// TestAlarmWritesInvalidate: successful changes of alarms, plans and
// suppressions tell the evaluator of their tenant; refused ones and reads
// do not.
func TestAlarmWritesInvalidate(t *testing.T) {
	st, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv := &invalidations{}
	f := &fixture{store: st, now: time.UnixMilli(1_800_000_000_000)}
	f.srv = httptest.NewServer((&API{Store: st, Log: slog.New(slog.DiscardHandler), Alarms: inv, Now: func() time.Time { return f.now }}).Handler())
	t.Cleanup(func() { f.srv.Close(); st.Close() })
	admin := f.token(t, "acme", store.RoleAdmin)
	f.run(t, []step{
		{name: "suppression", tok: admin, method: "POST", path: "/v1/suppressions", body: suppressionBody(nil), code: 201},
		{name: "refused", tok: admin, method: "POST", path: "/v1/suppressions", body: suppressionBody(nil), code: 409},
		{name: "read", tok: admin, method: "GET", path: "/v1/suppressions/patch", code: 200},
		{name: "plan", tok: admin, method: "POST", path: "/v1/notification-plans", body: slackPlan, code: 201},
		{name: "alarm", tok: admin, method: "POST", path: "/v1/alarms", body: alarmBody(nil), code: 201},
		{name: "delete", tok: admin, method: "DELETE", path: "/v1/suppressions/patch", code: 200},
	})
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if got := strings.Join(inv.tenants, ","); got != "acme,acme,acme,acme" {
		t.Errorf("invalidated %q, want acme four times", got)
	}
}
