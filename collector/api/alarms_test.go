package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/alarm"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
)

// newFixtureWith is newFixture on a store with the given alarm limits.
func newFixtureWith(t *testing.T, limits store.AlarmLimits) *fixture {
	st, err := pebble.Open(t.TempDir(), pebble.Options{AlarmLimits: limits})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st, now: time.UnixMilli(1_800_000_000_000)}
	f.srv = httptest.NewServer((&API{Store: st, Log: slog.New(slog.DiscardHandler), Now: func() time.Time { return f.now }}).Handler())
	t.Cleanup(func() { f.srv.Close(); st.Close() })
	return f
}

// diskCriteria is the example.
const diskCriteria = `if (metric['used_percent'] > 90) { return new AlarmStatus(CRITICAL, 'disk #{used_percent}% full'); } return new AlarmStatus(OK);`

// step is one request of a table test and what it must answer: the
// status, and either the exact error message or a fragment of the body.
type step struct {
	name, tok, method, path, body string
	code                          int
	msg                           string // exact error message, for errors
	has                           string // a fragment of the body
}

func (f *fixture) run(t *testing.T, steps []step) {
	t.Helper()
	for _, s := range steps {
		code, body := f.do(t, s.method, s.path, s.body, bearerAuth(s.tok))
		if code != s.code {
			t.Errorf("%s: %s %s: %d, want %d: %s", s.name, s.method, s.path, code, s.code, body)
			continue
		}
		if s.msg != "" {
			var e apiError
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Message != s.msg {
				t.Errorf("%s: message\n got %q\nwant %q", s.name, e.Error.Message, s.msg)
			}
		}
		if !strings.Contains(body, s.has) {
			t.Errorf("%s: body lacks %q: %s", s.name, s.has, body)
		}
	}
}

func alarmBody(fields map[string]any) string {
	m := map[string]any{"id": "disk", "name": "Disk full", "check": "disk", "criteria": diskCriteria, "period": 30}
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

const slackPlan = `{"id": "ops", "name": "Ops", "receivers": {"CRITICAL": [{"type": "slack", "url": "https://hooks.example/T0/B0/x"}], "ok": [{"type": "webhook", "url": "https://hooks.example/ok"}]}}`

func TestAlarmsCRUD(t *testing.T) {
	f := newFixture(t)
	admin := f.token(t, "acme", store.RoleAdmin)
	read := f.token(t, "acme", store.RoleRead)
	other := f.token(t, "other", store.RoleAdmin)
	f.run(t, []step{
		{name: "empty list", tok: read, method: "GET", path: "/v1/alarms", code: 200, has: `{"alarms":[]}`},
		{name: "read cannot create", tok: read, method: "POST", path: "/v1/alarms", body: alarmBody(nil), code: 403,
			msg: "a read token cannot change alarms; use a token with role admin"},
		{name: "unknown plan", tok: admin, method: "POST", path: "/v1/alarms", body: alarmBody(map[string]any{"plan": "ops"}), code: 400,
			msg: `plan "ops": no such notification plan`},
		{name: "plan", tok: admin, method: "POST", path: "/v1/notification-plans", body: slackPlan, code: 201, has: `"CRITICAL":[{"type":"slack"`},
		{name: "create", tok: admin, method: "POST", path: "/v1/alarms", body: alarmBody(map[string]any{"plan": "ops"}), code: 201,
			has: `"id":"disk","name":"Disk full","agent":"","check":"disk","criteria":` + mustJSON(diskCriteria) + `,"period":30,"plan":"ops","created":"2027-01-15T08:00:00Z","updated":"2027-01-15T08:00:00Z","version":1}`},
		{name: "create again", tok: admin, method: "POST", path: "/v1/alarms", body: alarmBody(nil), code: 409,
			msg: `alarm "disk" exists; PUT /v1/alarms/disk with its version to change it`},
		{name: "get", tok: read, method: "GET", path: "/v1/alarms/disk", code: 200, has: `"version":1`},
		{name: "list", tok: read, method: "GET", path: "/v1/alarms", code: 200, has: `{"alarms":[{"id":"disk"`},
		{name: "other tenant cannot see", tok: other, method: "GET", path: "/v1/alarms/disk", code: 404, msg: `no alarm "disk"`},
		{name: "other tenant lists none", tok: other, method: "GET", path: "/v1/alarms", code: 200, has: `{"alarms":[]}`},
		{name: "other tenant cannot change", tok: other, method: "PUT", path: "/v1/alarms/disk", body: alarmBody(map[string]any{"version": 1}), code: 404, msg: `no alarm "disk"`},
		{name: "other tenant cannot delete", tok: other, method: "DELETE", path: "/v1/alarms/disk", code: 404, msg: `no alarm "disk"`},
		{name: "other tenant cannot use the plan", tok: other, method: "POST", path: "/v1/alarms", body: alarmBody(map[string]any{"plan": "ops"}), code: 400,
			msg: `plan "ops": no such notification plan`},
		{name: "other tenant cannot delete the plan", tok: other, method: "DELETE", path: "/v1/notification-plans/ops", code: 404,
			msg: `no notification plan "ops"`},
		{name: "other tenant may use the id", tok: other, method: "POST", path: "/v1/alarms", body: alarmBody(map[string]any{"name": "theirs"}), code: 201, has: `"name":"theirs"`},
		{name: "put without version", tok: admin, method: "PUT", path: "/v1/alarms/disk", body: alarmBody(nil), code: 400,
			msg: "version: required; send the version GET /v1/alarms/disk answered"},
		{name: "put", tok: admin, method: "PUT", path: "/v1/alarms/disk", body: alarmBody(map[string]any{"version": 1, "agent": "web-1", "id": nil, "plan": "ops"}), code: 200,
			has: `"agent":"web-1","check":"disk"`},
		{name: "put stale version", tok: admin, method: "PUT", path: "/v1/alarms/disk", body: alarmBody(map[string]any{"version": 1}), code: 409,
			msg: `alarm "disk" is at version 2, not 1: GET it, reapply your change and PUT with version 2`},
		{name: "put renames", tok: admin, method: "PUT", path: "/v1/alarms/disk", body: alarmBody(map[string]any{"version": 2, "id": "disk2"}), code: 400,
			msg: `id "disk2" differs from the path's "disk"; an alarm cannot be renamed`},
		{name: "put unknown", tok: admin, method: "PUT", path: "/v1/alarms/nope", body: alarmBody(map[string]any{"version": 1, "id": nil}), code: 404, msg: `no alarm "nope"`},
		{name: "read cannot delete", tok: read, method: "DELETE", path: "/v1/alarms/disk", code: 403,
			msg: "a read token cannot change alarms; use a token with role admin"},
		{name: "plan in use", tok: admin, method: "DELETE", path: "/v1/notification-plans/ops", code: 409,
			msg: `notification plan "ops" is used by alarm "disk"; change or delete them first`},
		{name: "delete", tok: admin, method: "DELETE", path: "/v1/alarms/disk", code: 200, has: `"version":2`},
		{name: "deleted", tok: read, method: "GET", path: "/v1/alarms/disk", code: 404, msg: `no alarm "disk"`},
		{name: "delete again", tok: admin, method: "DELETE", path: "/v1/alarms/disk", code: 404, msg: `no alarm "disk"`},
		{name: "other tenant's kept", tok: other, method: "GET", path: "/v1/alarms/disk", code: 200, has: `"name":"theirs"`},
		{name: "plan free", tok: admin, method: "DELETE", path: "/v1/notification-plans/ops", code: 200, has: `"id":"ops"`},
	})
}

// TestAlarmVersionConflictETag: the 409 of a stale PUT names the current
// version in the ETag header too, for clients that read headers.
func TestAlarmVersionConflictETag(t *testing.T) {
	f := newFixture(t)
	admin := f.token(t, "acme", store.RoleAdmin)
	f.run(t, []step{
		{name: "create", tok: admin, method: "POST", path: "/v1/alarms", body: alarmBody(nil), code: 201},
		{name: "update", tok: admin, method: "PUT", path: "/v1/alarms/disk", body: alarmBody(map[string]any{"version": 1}), code: 200, has: `"version":2`},
	})
	req, _ := http.NewRequest("PUT", f.srv.URL+"/v1/alarms/disk", strings.NewReader(alarmBody(map[string]any{"version": 1})))
	bearerAuth(admin)(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 409 || resp.Header.Get("ETag") != `"2"` {
		t.Fatalf("stale PUT: %d, ETag %q; want 409 and \"2\"", resp.StatusCode, resp.Header.Get("ETag"))
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestAlarmValidation(t *testing.T) {
	f := newFixture(t)
	admin := f.token(t, "acme", store.RoleAdmin)
	post := func(name string, fields map[string]any, code int, msg string) step {
		return step{name: name, tok: admin, method: "POST", path: "/v1/alarms", body: alarmBody(fields), code: code, msg: msg}
	}
	f.run(t, []step{
		post("bad id", map[string]any{"id": "a/b"}, 400, `id "a/b": must be 1-64 characters of A-Z a-z 0-9 . _ -`),
		post("long id", map[string]any{"id": strings.Repeat("a", 65)}, 400, `id "`+strings.Repeat("a", 65)+`": must be 1-64 characters of A-Z a-z 0-9 . _ -`),
		post("no id", map[string]any{"id": nil}, 400, `id "": must be 1-64 characters of A-Z a-z 0-9 . _ -`),
		post("no check", map[string]any{"check": nil}, 400, `check "": must be 1-128 characters of A-Z a-z 0-9 . _ -`),
		post("bad agent", map[string]any{"agent": "web 1"}, 400, `agent: agent id "web 1": must be 1-128 characters of A-Z a-z 0-9 . _ - (or "" for every agent)`),
		post("no criteria", map[string]any{"criteria": " "}, 400, "criteria: required"),
		post("criteria syntax", map[string]any{"criteria": "if (metric['x'] > ) { return new AlarmStatus(OK); }"}, 400,
			"criteria:1:19: expected a value (metric['name'], previous(), rate(), percentage(), a number or a string), found ')'"),
		post("criteria state", map[string]any{"criteria": "return new AlarmStatus(BAD);"}, 400,
			"criteria:1:24: expected OK, WARNING or CRITICAL, found 'BAD'"),
		post("criteria setting", map[string]any{"criteria": ":set consecutiveCount=9\nreturn new AlarmStatus(OK);"}, 400,
			"criteria:1:23: consecutiveCount must be a whole number from 1 to 5, found 9"),
		post("period", map[string]any{"period": 86401}, 400, "period 86401: want seconds from 1 to 86400"),
		post("negative period", map[string]any{"period": -1}, 400, "period -1: want seconds from 1 to 86400"),
		post("version on create", map[string]any{"version": 3}, 400, "version: leave it out to create; PUT /v1/alarms/disk updates"),
		post("name", map[string]any{"name": "a\nb"}, 400, "name: at most 256 bytes of printable UTF-8"),
		post("unknown field", map[string]any{"severity": "high"}, 400,
			`body: want {"id", "name", "agent", "check", "criteria", "period", "plan", "version"}: json: unknown field "severity"`),
		{name: "two values", tok: admin, method: "POST", path: "/v1/alarms", body: alarmBody(nil) + "{}", code: 400,
			msg: `body: want {"id", "name", "agent", "check", "criteria", "period", "plan", "version"}: more than one JSON value`},
		{name: "too large", tok: admin, method: "POST", path: "/v1/alarms", body: alarmBody(map[string]any{"name": strings.Repeat("x", maxAlarmBody)}), code: 413,
			msg: "the body may be at most 131072 bytes"},
		{name: "unknown parameter", tok: admin, method: "POST", path: "/v1/alarms?force=1", body: alarmBody(nil), code: 400,
			msg: `unknown parameter "force" (known: )`},
		// The default period is 60 s; GET's answer can be sent back.
		post("defaults", map[string]any{"period": nil}, 201, ""),
		{name: "round trip", tok: admin, method: "PUT", path: "/v1/alarms/disk",
			body: `{"id":"disk","name":"Disk full","agent":"","check":"disk","criteria":"return new AlarmStatus(OK)","period":60,"plan":"","created":"2027-01-15T08:00:00Z","updated":"2027-01-15T08:00:00Z","version":1}`,
			code: 200, has: `"period":60,"plan":"","created":"2027-01-15T08:00:00Z"`},
	})
}

func TestAlarmLimit(t *testing.T) {
	// The Pebble store's limits are options; the default (10,000) is too
	// many to reach here, so a store with a limit of 1 is served.
	f := newFixtureWith(t, store.AlarmLimits{Alarms: 1, Plans: 1})
	admin := f.token(t, "acme", store.RoleAdmin)
	f.run(t, []step{
		{name: "first", tok: admin, method: "POST", path: "/v1/alarms", body: alarmBody(nil), code: 201},
		{name: "second", tok: admin, method: "POST", path: "/v1/alarms", body: alarmBody(map[string]any{"id": "two"}), code: 422,
			msg: "the tenant's limit of 1 alarms is reached; delete some first"},
		{name: "first plan", tok: admin, method: "POST", path: "/v1/notification-plans", body: `{"id":"a"}`, code: 201},
		{name: "second plan", tok: admin, method: "POST", path: "/v1/notification-plans", body: `{"id":"b"}`, code: 422,
			msg: "the tenant's limit of 1 plans is reached; delete some first"},
	})
}

func TestNotificationPlans(t *testing.T) {
	f := newFixture(t)
	admin := f.token(t, "acme", store.RoleAdmin)
	read := f.token(t, "acme", store.RoleRead)
	other := f.token(t, "other", store.RoleRead)
	post := func(name, body string, code int, msg string) step {
		return step{name: name, tok: admin, method: "POST", path: "/v1/notification-plans", body: body, code: code, msg: msg}
	}
	f.run(t, []step{
		post("bad state", `{"id":"p","receivers":{"PANIC":[]}}`, 400,
			`receivers: state "PANIC": want one of OK, WARNING, CRITICAL, UNKNOWN, NO_DATA, AGENT_DOWN`),
		post("NONE is no state to notify", `{"id":"p","receivers":{"NONE":[]}}`, 400,
			`receivers: state "NONE": want one of OK, WARNING, CRITICAL, UNKNOWN, NO_DATA, AGENT_DOWN`),
		post("state twice", `{"id":"p","receivers":{"ok":[],"OK":[]}}`, 400, "receivers: state OK given twice"),
		post("receiver field missing", `{"id":"p","receivers":{"CRITICAL":[{"type":"slack"}]}}`, 400,
			"receivers.CRITICAL[0]: notify: slack receiver: url: is required"),
		post("receiver unknown field", `{"id":"p","receivers":{"WARNING":[{"type":"webhook","url":"https://x.example/"},{"type":"slack","url":"https://hooks.example/x","colour":1}]}}`, 400,
			`receivers.WARNING[1]: notify: receiver config: json: unknown field "colour"`),
		post("receiver type", `{"id":"p","receivers":{"CRITICAL":[{"type":"sms"}]}}`, 400,
			`receivers.CRITICAL[0]: notify: receiver config: type "sms" is not one of webhook, slack, pagerduty, alertmanager, email`),
		post("receiver scheme", `{"id":"p","receivers":{"CRITICAL":[{"type":"webhook","url":"ftp://x"}]}}`, 400,
			`receivers.CRITICAL[0]: notify: webhook receiver: url: scheme "ftp" is not http or https`),
		post("bad id", `{"id":"p q"}`, 400, `id "p q": must be 1-64 characters of A-Z a-z 0-9 . _ -`),
		post("unknown field", `{"id":"p","critical_state":[]}`, 400,
			`body: want {"id", "name", "receivers": {"CRITICAL": [{"type": ...}], ...}}: json: unknown field "critical_state"`),
		{name: "read cannot create", tok: read, method: "POST", path: "/v1/notification-plans", body: slackPlan, code: 403,
			msg: "a read token cannot change alarms; use a token with role admin"},
		post("create", slackPlan, 201, ""),
		post("create again", slackPlan, 409, `notification plan "ops" exists; PUT /v1/notification-plans/ops to replace it`),
		{name: "get", tok: read, method: "GET", path: "/v1/notification-plans/ops", code: 200,
			has: `{"id":"ops","name":"Ops","receivers":{"CRITICAL":[{"type":"slack","url":"https://hooks.example/T0/B0/x"}],"OK":[{"type":"webhook","url":"https://hooks.example/ok"}]},"created":"2027-01-15T08:00:00Z"`},
		{name: "list", tok: read, method: "GET", path: "/v1/notification-plans", code: 200, has: `{"plans":[{"id":"ops"`},
		{name: "other tenant", tok: other, method: "GET", path: "/v1/notification-plans/ops", code: 404, msg: `no notification plan "ops"`},
		{name: "other tenant lists none", tok: other, method: "GET", path: "/v1/notification-plans", code: 200, has: `{"plans":[]}`},
		{name: "replace", tok: admin, method: "PUT", path: "/v1/notification-plans/ops", body: `{"name":"Ops team","receivers":{"WARNING":[{"type":"slack","url":"https://hooks.example/w"}]}}`,
			code: 200, has: `"name":"Ops team","receivers":{"WARNING":[`},
		{name: "replace unknown", tok: admin, method: "PUT", path: "/v1/notification-plans/nope", body: `{}`, code: 404, msg: `no notification plan "nope"`},
		{name: "replaced", tok: read, method: "GET", path: "/v1/notification-plans/ops", code: 200, has: `"receivers":{"WARNING":[{"type":"slack","url":"https://hooks.example/w"}]}`},
		{name: "delete", tok: admin, method: "DELETE", path: "/v1/notification-plans/ops", code: 200},
		{name: "deleted", tok: read, method: "GET", path: "/v1/notification-plans/ops", code: 404, msg: `no notification plan "ops"`},
	})
}

func TestAlarmStatesAndHistory(t *testing.T) {
	f := newFixture(t)
	admin := f.token(t, "acme", store.RoleAdmin)
	read := f.token(t, "acme", store.RoleRead)
	other := f.token(t, "other", store.RoleAdmin)
	if code, body := f.do(t, "POST", "/v1/alarms", alarmBody(nil), bearerAuth(admin)); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	// A state as the evaluator writes it: web-1 went CRITICAL, web-2 is
	// counting towards WARNING (consecutiveCount=2).
	c, err := alarm.Parse(":set consecutiveCount=2\n" + diskCriteria)
	if err != nil {
		t.Fatal(err)
	}
	set := c.Settings(30 * time.Second)
	t0 := f.now.Add(-time.Minute)
	var m1, m2 alarm.Machine
	for i := range 2 {
		at := t0.Add(time.Duration(i) * 30 * time.Second)
		m1.Observe(set, at, alarm.Outcome{State: alarm.StateCritical, Message: "disk 95% full"}, at)
	}
	m2.Observe(set, t0, alarm.Outcome{State: alarm.StateWarning}, t0)
	b1, _ := m1.MarshalBinary()
	b2, _ := m2.MarshalBinary()
	ctx := context.Background()
	l, ok, err := f.store.AcquireLease(ctx, "acme", 0, "test", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	err = f.store.PutAlarmStates(ctx, l.Fence(), []store.AlarmState{
		{Alarm: "disk", Agent: "web-1", State: b1, Updated: f.now},
		{Alarm: "disk", Agent: "web-2", State: b2, Updated: f.now},
	}, []store.Transition{
		{Alarm: "disk", Agent: "web-1", From: "NONE", To: "OK", At: t0.Add(-time.Hour), Message: "fine"},
		{Alarm: "disk", Agent: "web-1", From: "OK", To: "CRITICAL", At: t0.Add(30 * time.Second), Message: "disk 95% full"},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.run(t, []step{
		{name: "states", tok: read, method: "GET", path: "/v1/alarms/disk/states", code: 200,
			has: `{"alarm":"disk","states":[{"agent":"web-1","state":"CRITICAL","message":"disk 95% full","entered":"2027-01-15T07:59:30Z","held":false,"updated":"2027-01-15T08:00:00Z"},` +
				`{"agent":"web-2","state":"NONE","message":"","pending":"WARNING","count":1,"held":false,"updated":"2027-01-15T08:00:00Z"}]}`},
		{name: "history newest first", tok: read, method: "GET", path: "/v1/alarms/disk/history", code: 200,
			has: `{"alarm":"disk","transitions":[{"agent":"web-1","from":"OK","to":"CRITICAL","at":"2027-01-15T07:59:30Z","message":"disk 95% full"},{"agent":"web-1","from":"NONE","to":"OK"`},
		{name: "history limit", tok: read, method: "GET", path: "/v1/alarms/disk/history?limit=1", code: 200,
			has: `"transitions":[{"agent":"web-1","from":"OK","to":"CRITICAL","at":"2027-01-15T07:59:30Z","message":"disk 95% full"}]}`},
		{name: "history bad limit", tok: read, method: "GET", path: "/v1/alarms/disk/history?limit=0", code: 400,
			msg: `limit "0": want a whole number from 1 to 1000`},
		{name: "states of another tenant", tok: other, method: "GET", path: "/v1/alarms/disk/states", code: 404, msg: `no alarm "disk"`},
		{name: "history of another tenant", tok: other, method: "GET", path: "/v1/alarms/disk/history", code: 404, msg: `no alarm "disk"`},
		{name: "states of none", tok: read, method: "GET", path: "/v1/alarms/nope/states", code: 404, msg: `no alarm "nope"`},
	})
}

func TestAlarmTestEndpoint(t *testing.T) {
	f := newFixture(t)
	read := f.token(t, "acme", store.RoleRead)
	agent := f.token(t, "acme", store.RoleAgent)
	test := func(name, body string, code int, msg, has string) step {
		return step{name: name, tok: read, method: "POST", path: "/v1/alarms/test", body: body, code: code, msg: msg, has: has}
	}
	crit := mustJSON(diskCriteria)
	f.run(t, []step{
		test("critical", `{"criteria": `+crit+`, "result": {"status": "ok", "metrics": {"used_percent": 95.5, "mount": "/"}}}`, 200, "",
			`{"state":"CRITICAL","message":"disk 95.5% full"}`),
		test("ok", `{"criteria": `+crit+`, "result": {"status": "ok", "message": "fine", "metrics": {"used_percent": 12}}}`, 200, "",
			`{"state":"OK","message":"fine"}`),
		test("string metric that parses", `{"criteria": `+crit+`, "result": {"metrics": {"used_percent": "91"}}}`, 200, "",
			`{"state":"CRITICAL","message":"disk 91% full"}`),
		test("unknown status is not evaluated", `{"criteria": `+crit+`, "result": {"status": "unknown", "message": "timeout", "metrics": {"used_percent": 99}}}`, 200, "",
			`{"state":"UNKNOWN","message":"timeout"}`),
		test("rate with previous", `{"criteria": "if (rate(metric['n']) > 1) { return new AlarmStatus(WARNING, 'fast'); } return new AlarmStatus(OK);", "result": {"metrics": {"n": 200}}, "previous": {"metrics": {"n": 100}}}`,
			200, "", `{"state":"WARNING","message":"fast"}`),
		test("rate without previous", `{"criteria": "if (rate(metric['n']) > 1) { return new AlarmStatus(WARNING, 'fast'); } return new AlarmStatus(OK);", "result": {"metrics": {"n": 200}}}`,
			200, "", `{"state":"OK"`),
		test("parse error", `{"criteria": "if (metric['used_percent'] >> 90) { return new AlarmStatus(OK); }", "result": {}}`, 400,
			"criteria:1:29: expected a value (metric['name'], previous(), rate(), percentage(), a number or a string), found '>'", ""),
		test("no result", `{"criteria": `+crit+`}`, 400, "result: required", ""),
		test("bad status", `{"criteria": `+crit+`, "result": {"status": "critical"}}`, 400, `result.status "critical": want ok, warn, crit or unknown`, ""),
		test("bad metric", `{"criteria": `+crit+`, "result": {"metrics": {"used_percent": [1]}}}`, 400,
			`result.metrics["used_percent"]: want a number or a string, not [1]`, ""),
		test("bad previous metric", `{"criteria": `+crit+`, "result": {}, "previous": {"metrics": {"x": null}}}`, 400,
			`previous.metrics["x"]: want a number or a string, not null`, ""),
		{name: "agent token", tok: agent, method: "POST", path: "/v1/alarms/test", body: `{}`, code: 403,
			msg: "a agent token cannot test alarms; use a token with role read"},
	})
}

// FuzzAlarmBodies feeds arbitrary bodies to the parsers of the test
// endpoint and of plans: each answers a value or a 4xx, never a panic or
// a 5xx, and a plan it accepts the store accepts too.
func FuzzAlarmBodies(f *testing.F) {
	f.Add(`{"criteria": ` + mustJSON(diskCriteria) + `, "result": {"status": "ok", "metrics": {"used_percent": 95}}, "previous": {"metrics": {"used_percent": "x"}}}`)
	f.Add(`{"criteria": "return new AlarmStatus(OK)", "result": {"time": "2027-01-01T00:00:00Z", "metrics": {"a": [1]}}}`)
	f.Add(slackPlan)
	f.Add(`{"id": "p", "receivers": {"no_data": [{"type": "email", "addr": "mail:25", "from": "a@b.c", "to": ["x@y.z"]}]}}`)
	a := &API{Now: func() time.Time { return time.UnixMilli(1_800_000_000_000) }}
	tok := store.Token{Tenant: "acme", Role: store.RoleAdmin}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/v1/alarms/test", strings.NewReader(body))
		v, err := a.testAlarm(r, tok)
		if err != nil {
			if e := asHTTPError(err); e.status >= 500 {
				t.Fatalf("test: %v", err)
			}
		} else if ans := v.(testAnswer); ans.State == "" {
			t.Fatalf("test: no state in %+v", ans)
		}
		r = httptest.NewRequest("POST", "/v1/notification-plans", strings.NewReader(body))
		var req planRequest
		if err := decodeStrict(r, planShape, &req); err != nil {
			return
		}
		p, err := a.planFrom(tok, req)
		if err != nil {
			if e := asHTTPError(err); e.status >= 500 {
				t.Fatalf("plan: %v", err)
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("plan accepted but the store refuses it: %v", err)
		}
	})
}

func TestAlarmBacktest(t *testing.T) {
	f := newFixture(t)
	admin := f.token(t, "acme", store.RoleAdmin)
	read := f.token(t, "acme", store.RoleRead)
	other := f.token(t, "other", store.RoleAdmin)
	// Six results of disk on web-1, a minute apart, with used_percent per
	// mount: / goes CRITICAL and recovers, /var only settles OK.
	f.results(t, "acme", "web-1", "disk", store.StatusOK, store.StatusOK, store.StatusOK, store.StatusOK, store.StatusOK, store.StatusOK)
	w := &store.WriteRequest{Tenant: "acme"}
	for mount, vals := range map[string][]float64{"/": {50, 95, 96, 97, 40, 41}, "/var": {10, 10, 10, 10, 10, 99}} {
		s := store.Series{SeriesKey: store.SeriesKey{Tenant: "acme", Agent: "web-1", Check: "disk", Metric: "used_percent",
			Labels: []store.Label{{Key: "mount", Value: mount}}}, Type: store.Gauge}
		s.ID = s.SeriesKey.ID()
		w.Series = append(w.Series, s)
		for i, v := range vals {
			w.Points = append(w.Points, store.Point{Series: s.ID, TS: f.now.UnixMilli() - int64(5-i)*60000, Value: v})
		}
	}
	if err := f.store.Write(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	crit := ":set consecutiveCount=2\nif (metric['used_percent'] > 90) { return new AlarmStatus(CRITICAL, 'disk #{mount} #{used_percent}% full'); } return new AlarmStatus(OK);"
	const rng = "?from=2027-01-15T07:00:00Z&to=2027-01-15T08:01:00Z"
	f.run(t, []step{
		{name: "alarm", tok: admin, method: "POST", path: "/v1/alarms", body: alarmBody(map[string]any{"criteria": crit, "period": 60}), code: 201},
		{name: "one agent", tok: admin, method: "POST", path: "/v1/alarms", body: alarmBody(map[string]any{"id": "web2", "agent": "web-2", "criteria": crit}), code: 201},
		{name: "backtest", tok: read, method: "POST", path: "/v1/alarms/disk/backtest" + rng + "&agent=web-1", code: 200,
			has: `{"agent":"web-1","alarm":"disk","results":6,"transitions":[` +
				`{"agent":"web-1","instance":"{mount=\"/\"}","from":"CRITICAL","to":"OK","at":"2027-01-15T08:00:00Z","message":"ok 5"},` +
				`{"agent":"web-1","instance":"{mount=\"/\"}","from":"NONE","to":"CRITICAL","at":"2027-01-15T07:57:00Z","message":"disk / 96% full"},` +
				`{"agent":"web-1","instance":"{mount=\"/var\"}","from":"NONE","to":"OK","at":"2027-01-15T07:56:00Z","message":"ok 1"}]}`},
		{name: "no agent", tok: read, method: "POST", path: "/v1/alarms/disk/backtest" + rng, code: 400,
			msg: `agent: required, alarm "disk" targets every agent`},
		{name: "other agent", tok: read, method: "POST", path: "/v1/alarms/web2/backtest?agent=web-1", code: 400,
			msg: `agent "web-1": alarm "web2" targets only "web-2"`},
		{name: "its agent, no results", tok: read, method: "POST", path: "/v1/alarms/web2/backtest", code: 200,
			has: `{"agent":"web-2","alarm":"web2","results":0,"transitions":[]}`},
		{name: "range", tok: read, method: "POST", path: "/v1/alarms/disk/backtest?agent=web-1&from=2027-01-01T00:00:00Z&to=2027-01-15T00:00:00Z", code: 400,
			msg: "from..to spans 336h0m0s; at most 168h0m0s allowed"},
		{name: "other tenant", tok: other, method: "POST", path: "/v1/alarms/disk/backtest?agent=web-1", code: 404, msg: `no alarm "disk"`},
	})
}
