package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vigilmon/vigil/collector/alarm"
	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/notify"
	"github.com/vigilmon/vigil/collector/store"
)

// The alarm API (issue 16): alarms and notification plans under /v1/,
// admin to change and read to list, always of the token's tenant. A
// record of another tenant is unknown here (404), as for agents.

const (
	// maxAlarmBody bounds a request body: a plan's receivers may take
	// store.MaxReceiversBytes, criteria store.MaxCriteriaBytes, with
	// room for JSON's escapes.
	maxAlarmBody = 2 * store.MaxReceiversBytes
	// maxNameBytes bounds alarm and plan names, which people read.
	maxNameBytes = 256
	// maxReceiversPerState bounds one state's receivers in a plan.
	maxReceiversPerState = 20
	// defaultPeriod is an alarm's period when none is given: the
	// agent's default check interval.
	defaultPeriod = 60
	maxPeriod     = 86400
	// History answers.
	defaultTransitions = 100
	maxTransitions     = 1000
)

var (
	alarmIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	checkIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
)

// alarmAdmin wraps h so it only runs for an admin token, with a body of
// at most maxAlarmBody bytes. A change that succeeded is told to
// a.Alarms, so evaluation applies it without waiting for its refresh.
func (a *API) alarmAdmin(h handler) http.Handler {
	return a.serve("change alarms", []store.Role{store.RoleAdmin}, maxAlarmBody, writeVigilError, func(r *http.Request, tok store.Token) (any, error) {
		v, err := h(r, tok)
		if err == nil {
			a.invalidate(tok.Tenant)
		}
		return v, err
	})
}

// alarmTest wraps the test endpoint: it changes nothing, so a read token
// may use it.
func (a *API) alarmTest(h handler) http.Handler {
	return a.serve("test alarms", readRoles, maxAlarmBody, writeVigilError, h)
}

// decodeStrict reads r's body as exactly one JSON value into v, refusing
// unknown fields; want is the shape named in the error.
func decodeStrict(r *http.Request, want string, v any) error {
	dec := json.NewDecoder(r.Body) // bounded by serve
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("more than one JSON value")
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errorf(http.StatusRequestEntityTooLarge, "too_large", "the body may be at most %d bytes", tooBig.Limit)
		}
		return badRequest("body: want %s: %v", want, err)
	}
	return nil
}

func validID(what, id string) error {
	if !alarmIDRe.MatchString(id) {
		return badRequest("%s %q: must be 1-64 characters of A-Z a-z 0-9 . _ -", what, id)
	}
	return nil
}

func validName(name string) error {
	if len(name) > maxNameBytes || !utf8.ValidString(name) ||
		strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return badRequest("name: at most %d bytes of printable UTF-8", maxNameBytes)
	}
	return nil
}

// limitError answers a store limit: 422, naming the limit.
func limitError(err error) *httpError {
	var le *store.LimitError
	if !errors.As(err, &le) {
		return nil
	}
	return errorf(http.StatusUnprocessableEntity, "limit_reached",
		"the tenant's limit of %d %s is reached; delete some first", le.Max, strings.ToLower(le.Limit))
}

// alarmJSON is an alarm as the API reads and writes it.
type alarmJSON struct {
	ID       string    `json:"id"`
	Name     string    `json:"name"`
	Agent    string    `json:"agent"`
	Check    string    `json:"check"`
	Criteria string    `json:"criteria"`
	Period   int64     `json:"period"`
	Plan     string    `json:"plan"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Version  int64     `json:"version"`
}

func alarmOut(al store.Alarm) alarmJSON {
	return alarmJSON{ID: al.ID, Name: al.Name, Agent: al.Agent, Check: al.Check, Criteria: al.Criteria,
		Period: int64(al.Period / time.Second), Plan: al.Plan, Created: al.Created.UTC(), Updated: al.Updated.UTC(), Version: al.Version}
}

// alarmRequest is the body of POST and PUT. created and updated are
// accepted and ignored, so what GET answered can be edited and sent back.
type alarmRequest struct {
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Agent    string          `json:"agent"`
	Check    string          `json:"check"`
	Criteria string          `json:"criteria"`
	Period   int64           `json:"period"`
	Plan     string          `json:"plan"`
	Version  int64           `json:"version"`
	Created  json.RawMessage `json:"created"`
	Updated  json.RawMessage `json:"updated"`
}

const alarmShape = `{"id", "name", "agent", "check", "criteria", "period", "plan", "version"}`

// alarmFrom validates a request and makes the alarm to store.
func (a *API) alarmFrom(r *http.Request, tok store.Token, req alarmRequest) (store.Alarm, error) {
	if err := validID("id", req.ID); err != nil {
		return store.Alarm{}, err
	}
	if err := validName(req.Name); err != nil {
		return store.Alarm{}, err
	}
	if req.Agent != "" {
		if err := auth.ValidAgentID(req.Agent); err != nil {
			return store.Alarm{}, badRequest("agent: %v (or \"\" for every agent)", err)
		}
	}
	if !checkIDRe.MatchString(req.Check) {
		return store.Alarm{}, badRequest("check %q: must be 1-128 characters of A-Z a-z 0-9 . _ -", req.Check)
	}
	if strings.TrimSpace(req.Criteria) == "" {
		return store.Alarm{}, badRequest("criteria: required")
	}
	if _, err := alarm.Parse(req.Criteria); err != nil {
		return store.Alarm{}, badRequest("%v", err)
	}
	if req.Period == 0 {
		req.Period = defaultPeriod
	}
	if req.Period < 1 || req.Period > maxPeriod {
		return store.Alarm{}, badRequest("period %d: want seconds from 1 to %d", req.Period, maxPeriod)
	}
	if req.Plan != "" {
		if err := validID("plan", req.Plan); err != nil {
			return store.Alarm{}, err
		}
		_, err := a.Store.Plan(r.Context(), tok.Tenant, req.Plan)
		if errors.Is(err, store.ErrNotFound) {
			return store.Alarm{}, badRequest("plan %q: no such notification plan", req.Plan)
		}
		if err != nil {
			return store.Alarm{}, storeFailed("read plan", err)
		}
	}
	now := a.now()
	al := store.Alarm{Tenant: tok.Tenant, ID: req.ID, Name: req.Name, Agent: req.Agent, Check: req.Check,
		Criteria: req.Criteria, Period: time.Duration(req.Period) * time.Second, Plan: req.Plan,
		Created: now, Updated: now, Version: req.Version}
	if err := al.Validate(); err != nil {
		return store.Alarm{}, badRequest("%v", err)
	}
	return al, nil
}

// listPaged is a list endpoint (GET /v1/alarms, /v1/notification-plans):
// the tenant's records from list, a page of them by id, each written out
// by out.
func listPaged[R, J any](name string, list func(ctx context.Context, tenant string) ([]R, error), id func(*R) string, out func(R) J) handler {
	return func(r *http.Request, tok store.Token) (any, error) {
		if err := allowParams(r, "limit", "cursor"); err != nil {
			return nil, err
		}
		pg, err := parsePage(r.URL.Query())
		if err != nil {
			return nil, badRequest("%v", err)
		}
		recs, err := list(r.Context(), tok.Tenant)
		if err != nil {
			return nil, storeFailed("list "+name, err)
		}
		recs, next := paginate(recs, id, pg)
		js := make([]J, 0, len(recs))
		for _, rec := range recs {
			js = append(js, out(rec))
		}
		return pageReply(name, js, next), nil
	}
}

// findAlarm reads the alarm of the path's id: 404 when the tenant has none.
func (a *API) findAlarm(r *http.Request, tok store.Token) (store.Alarm, error) {
	id := r.PathValue("id")
	if !alarmIDRe.MatchString(id) {
		return store.Alarm{}, errorf(http.StatusNotFound, "not_found", "no alarm %q", id)
	}
	al, err := a.Store.Alarm(r.Context(), tok.Tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Alarm{}, errorf(http.StatusNotFound, "not_found", "no alarm %q", id)
	}
	if err != nil {
		return store.Alarm{}, storeFailed("read alarm", err)
	}
	return al, nil
}

// getAlarm: GET /v1/alarms/{id}.
func (a *API) getAlarm(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r); err != nil {
		return nil, err
	}
	al, err := a.findAlarm(r, tok)
	if err != nil {
		return nil, err
	}
	return alarmOut(al), nil
}

// createAlarm: POST /v1/alarms creates an alarm (version 1).
func (a *API) createAlarm(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r); err != nil {
		return nil, err
	}
	var req alarmRequest
	if err := decodeStrict(r, alarmShape, &req); err != nil {
		return nil, err
	}
	if req.Version != 0 {
		return nil, badRequest("version: leave it out to create; PUT /v1/alarms/%s updates", req.ID)
	}
	al, err := a.alarmFrom(r, tok, req)
	if err != nil {
		return nil, err
	}
	al, err = a.Store.PutAlarm(r.Context(), al)
	switch {
	case errors.Is(err, store.ErrExists):
		return nil, errorf(http.StatusConflict, "exists", "alarm %q exists; PUT /v1/alarms/%s with its version to change it", req.ID, req.ID)
	case limitError(err) != nil:
		return nil, limitError(err)
	case err != nil:
		return nil, storeFailed("create alarm", err)
	}
	return reply{status: http.StatusCreated, body: alarmOut(al)}, nil
}

// updateAlarm: PUT /v1/alarms/{id} replaces an alarm if the body's
// version is the stored one; otherwise 409 names the current version
// (also sent as ETag).
func (a *API) updateAlarm(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	var req alarmRequest
	if err := decodeStrict(r, alarmShape, &req); err != nil {
		return nil, err
	}
	if req.ID != "" && req.ID != id {
		return nil, badRequest("id %q differs from the path's %q; an alarm cannot be renamed", req.ID, id)
	}
	req.ID = id
	if req.Version < 1 {
		return nil, badRequest("version: required; send the version GET /v1/alarms/%s answered", id)
	}
	cur, err := a.findAlarm(r, tok)
	if err != nil {
		return nil, err
	}
	al, err := a.alarmFrom(r, tok, req)
	if err != nil {
		return nil, err
	}
	al, err = a.Store.PutAlarm(r.Context(), al)
	switch {
	case errors.Is(err, store.ErrConflict):
		// Someone changed it since the caller read it: name the version
		// now stored, read again after the failed write.
		if now, err := a.Store.Alarm(r.Context(), tok.Tenant, id); err == nil {
			cur = now
		}
		return nil, errorf(http.StatusConflict, "version_conflict",
			"alarm %q is at version %d, not %d: GET it, reapply your change and PUT with version %d",
			id, cur.Version, req.Version, cur.Version).withHeader("ETag", strconv.Quote(strconv.FormatInt(cur.Version, 10)))
	case errors.Is(err, store.ErrNotFound):
		return nil, errorf(http.StatusNotFound, "not_found", "no alarm %q", id)
	case err != nil:
		return nil, storeFailed("update alarm", err)
	}
	return alarmOut(al), nil
}

// deleteAlarm: DELETE /v1/alarms/{id} deletes an alarm with its states
// and history, and answers what was deleted.
//
//nolint:dupl // the suppression handlers parallel the plan and alarm ones; a shared generic helper would take more parameters than it saves lines
func (a *API) deleteAlarm(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r); err != nil {
		return nil, err
	}
	al, err := a.findAlarm(r, tok)
	if err != nil {
		return nil, err
	}
	err = a.Store.DeleteAlarm(r.Context(), tok.Tenant, al.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, "not_found", "no alarm %q", al.ID)
	}
	if err != nil {
		return nil, storeFailed("delete alarm", err)
	}
	return alarmOut(al), nil
}

// alarmStateJSON is one agent's state of an alarm, decoded from the
// alarm package's encoding.
type alarmStateJSON struct {
	Agent   string     `json:"agent"`
	State   string     `json:"state"`
	Message string     `json:"message"`
	Entered *time.Time `json:"entered,omitempty"`
	// Pending is the state being counted towards, Count the results
	// counted so far.
	Pending string    `json:"pending,omitempty"`
	Count   int       `json:"count,omitempty"`
	Held    bool      `json:"held"`
	Updated time.Time `json:"updated"`
}

// alarmStates: GET /v1/alarms/{id}/states, the alarm's state per agent.
func (a *API) alarmStates(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r); err != nil {
		return nil, err
	}
	al, err := a.findAlarm(r, tok)
	if err != nil {
		return nil, err
	}
	ss, err := a.Store.AlarmStates(r.Context(), tok.Tenant, al.ID)
	if err != nil {
		return nil, storeFailed("alarm states", err)
	}
	out := make([]alarmStateJSON, 0, len(ss))
	for _, s := range ss {
		var m alarm.Machine
		if err := m.UnmarshalBinary(s.State); err != nil {
			// Not the caller's fault: 500, logged with the record.
			return nil, fmt.Errorf("state of alarm %q agent %q: %w", al.ID, s.Agent, err)
		}
		st := alarmStateJSON{Agent: s.Agent, State: m.State().String(), Message: m.Message(), Held: m.Held(), Updated: s.Updated.UTC()}
		if e := m.Entered(); !e.IsZero() {
			e = e.UTC()
			st.Entered = &e
		}
		if p, n := m.Pending(); p != alarm.StateNone {
			st.Pending, st.Count = p.String(), n
		}
		out = append(out, st)
	}
	return map[string]any{"alarm": al.ID, "states": out}, nil
}

type transitionJSON struct {
	Agent string `json:"agent"`
	// Instance is the label set of a labelled result ({mount="/"}), in
	// backtests.
	Instance string    `json:"instance,omitempty"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	At       time.Time `json:"at"`
	Message  string    `json:"message"`
}

// alarmHistory: GET /v1/alarms/{id}/history?limit=, transitions newest
// first.
func (a *API) alarmHistory(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r, "limit"); err != nil {
		return nil, err
	}
	limit := defaultTransitions
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxTransitions {
			return nil, badRequest("limit %q: want a whole number from 1 to %d", s, maxTransitions)
		}
		limit = n
	}
	al, err := a.findAlarm(r, tok)
	if err != nil {
		return nil, err
	}
	ts, err := a.Store.Transitions(r.Context(), tok.Tenant, al.ID, limit)
	if err != nil {
		return nil, storeFailed("alarm history", err)
	}
	out := make([]transitionJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, transitionJSON{Agent: t.Agent, From: t.From, To: t.To, At: t.At.UTC(), Message: t.Message})
	}
	return map[string]any{"alarm": al.ID, "transitions": out}, nil
}

// testResult is a check result in the body of POST /v1/alarms/test.
type testResult struct {
	Status  string                     `json:"status"`
	Message string                     `json:"message"`
	Time    *time.Time                 `json:"time"`
	Metrics map[string]json.RawMessage `json:"metrics"`
}

// result converts t; what names it in errors.
func (t *testResult) result(what string, at time.Time) (*alarm.Result, error) {
	res := &alarm.Result{Time: at, Message: t.Message}
	if t.Time != nil {
		res.Time = *t.Time
	}
	switch t.Status {
	case "ok", "":
		res.Status = alarm.StatusOK
	case "warn":
		res.Status = alarm.StatusWarn
	case "crit":
		res.Status = alarm.StatusCrit
	case "unknown":
		res.Status = alarm.StatusUnknown
	default:
		return nil, badRequest("%s.status %q: want ok, warn, crit or unknown", what, t.Status)
	}
	names := make([]string, 0, len(t.Metrics))
	for name := range t.Metrics {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		raw := t.Metrics[name]
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, badRequest("%s.metrics[%q]: %v", what, name, err)
		}
		switch v := v.(type) {
		case float64:
			res.Metrics = append(res.Metrics, alarm.Metric{Name: name, Value: alarm.Num(v)})
		case string:
			res.Metrics = append(res.Metrics, alarm.Metric{Name: name, Value: alarm.Str(v)})
		default:
			return nil, badRequest("%s.metrics[%q]: want a number or a string, not %s", what, name, raw)
		}
	}
	return res, nil
}

// testAlarm: POST /v1/alarms/test evaluates criteria on a result (and a
// previous one, for previous() and rate()) without storing anything.
func (a *API) testAlarm(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r); err != nil {
		return nil, err
	}
	var req struct {
		Criteria string      `json:"criteria"`
		Result   *testResult `json:"result"`
		Previous *testResult `json:"previous"`
	}
	if err := decodeStrict(r, `{"criteria", "result": {"status", "message", "metrics"}, "previous"}`, &req); err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Criteria) == "" {
		return nil, badRequest("criteria: required")
	}
	if req.Result == nil {
		return nil, badRequest("result: required")
	}
	c, err := alarm.Parse(req.Criteria)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	now := a.now()
	res, err := req.Result.result("result", now)
	if err != nil {
		return nil, err
	}
	var prev *alarm.Result
	if req.Previous != nil {
		// Without a time, the previous result is one default period
		// before, so rate() has an interval to divide by.
		if prev, err = req.Previous.result("previous", res.Time.Add(-defaultPeriod*time.Second)); err != nil {
			return nil, err
		}
	}
	o := c.Evaluate(res, prev)
	return testAnswer{State: o.State.String(), Message: o.Message}, nil
}

type testAnswer struct {
	State   string `json:"state"`
	Message string `json:"message"`
}

// planJSON is a notification plan: receivers per state, each a receiver
// config as collector/notify reads it ({"type": "slack", ...}).
type planJSON struct {
	ID        string                       `json:"id"`
	Name      string                       `json:"name"`
	Receivers map[string][]json.RawMessage `json:"receivers"`
	Created   time.Time                    `json:"created"`
	Updated   time.Time                    `json:"updated"`
}

func planOut(p store.NotificationPlan) planJSON {
	out := planJSON{ID: p.ID, Name: p.Name, Receivers: map[string][]json.RawMessage{}, Created: p.Created.UTC(), Updated: p.Updated.UTC()}
	for state, rs := range p.Receivers {
		for _, r := range rs {
			out.Receivers[state] = append(out.Receivers[state], json.RawMessage(r))
		}
	}
	return out
}

type planRequest struct {
	ID        string                       `json:"id"`
	Name      string                       `json:"name"`
	Receivers map[string][]json.RawMessage `json:"receivers"`
	Created   json.RawMessage              `json:"created"`
	Updated   json.RawMessage              `json:"updated"`
}

const planShape = `{"id", "name", "receivers": {"CRITICAL": [{"type": ...}], ...}}`

// planStates are the states a plan can notify of.
var planStates = []alarm.State{alarm.StateOK, alarm.StateWarning, alarm.StateCritical, alarm.StateUnknown, alarm.StateNoData, alarm.StateAgentDown}

// planFrom validates a request: every receiver config must be one
// notify.ParseReceiver accepts.
func (a *API) planFrom(tok store.Token, req planRequest) (store.NotificationPlan, error) {
	if err := validID("id", req.ID); err != nil {
		return store.NotificationPlan{}, err
	}
	if err := validName(req.Name); err != nil {
		return store.NotificationPlan{}, err
	}
	now := a.now()
	p := store.NotificationPlan{Tenant: tok.Tenant, ID: req.ID, Name: req.Name, Receivers: map[string][][]byte{}, Created: now, Updated: now}
	keys := make([]string, 0, len(req.Receivers))
	for k := range req.Receivers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		st, ok := alarm.ParseState(strings.ToUpper(k))
		if !ok || !slices.Contains(planStates, st) {
			return p, badRequest("receivers: state %q: want one of OK, WARNING, CRITICAL, UNKNOWN, NO_DATA, AGENT_DOWN", k)
		}
		name := st.String()
		if _, dup := p.Receivers[name]; dup {
			return p, badRequest("receivers: state %s given twice", name)
		}
		rs := req.Receivers[k]
		if len(rs) > maxReceiversPerState {
			return p, badRequest("receivers.%s: %d receivers; at most %d per state", name, len(rs), maxReceiversPerState)
		}
		list := make([][]byte, 0, len(rs))
		for i, raw := range rs {
			if _, err := notify.ParseReceiver(raw); err != nil {
				return p, badRequest("receivers.%s[%d]: %v", name, i, err)
			}
			c, err := compactJSON(raw)
			if err != nil {
				return p, badRequest("receivers.%s[%d]: %v", name, i, err)
			}
			list = append(list, c)
		}
		p.Receivers[name] = list
	}
	if err := p.Validate(); err != nil {
		return p, badRequest("%v", err)
	}
	return p, nil
}

func compactJSON(raw []byte) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(json.RawMessage(raw)); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
}

func (a *API) findPlan(r *http.Request, tok store.Token) (store.NotificationPlan, error) {
	id := r.PathValue("id")
	if !alarmIDRe.MatchString(id) {
		return store.NotificationPlan{}, errorf(http.StatusNotFound, "not_found", "no notification plan %q", id)
	}
	p, err := a.Store.Plan(r.Context(), tok.Tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return p, errorf(http.StatusNotFound, "not_found", "no notification plan %q", id)
	}
	if err != nil {
		return p, storeFailed("read plan", err)
	}
	return p, nil
}

// getPlan: GET /v1/notification-plans/{id}.
func (a *API) getPlan(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r); err != nil {
		return nil, err
	}
	p, err := a.findPlan(r, tok)
	if err != nil {
		return nil, err
	}
	return planOut(p), nil
}

// createPlan: POST /v1/notification-plans. Two concurrent creates of one
// id both succeed, the later replacing the earlier (the store's plans
// carry no version).
func (a *API) createPlan(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r); err != nil {
		return nil, err
	}
	var req planRequest
	if err := decodeStrict(r, planShape, &req); err != nil {
		return nil, err
	}
	p, err := a.planFrom(tok, req)
	if err != nil {
		return nil, err
	}
	_, err = a.Store.Plan(r.Context(), tok.Tenant, p.ID)
	if err == nil {
		return nil, errorf(http.StatusConflict, "exists", "notification plan %q exists; PUT /v1/notification-plans/%s to replace it", p.ID, p.ID)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, storeFailed("read plan", err)
	}
	if err := a.Store.PutPlan(r.Context(), p); err != nil {
		if le := limitError(err); le != nil {
			return nil, le
		}
		return nil, storeFailed("create plan", err)
	}
	return reply{status: http.StatusCreated, body: planOut(p)}, nil
}

// updatePlan: PUT /v1/notification-plans/{id} replaces a plan.
//
//nolint:dupl // the suppression handlers parallel the plan and alarm ones; a shared generic helper would take more parameters than it saves lines
func (a *API) updatePlan(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	var req planRequest
	if err := decodeStrict(r, planShape, &req); err != nil {
		return nil, err
	}
	if req.ID != "" && req.ID != id {
		return nil, badRequest("id %q differs from the path's %q; a plan cannot be renamed", req.ID, id)
	}
	req.ID = id
	old, err := a.findPlan(r, tok)
	if err != nil {
		return nil, err
	}
	p, err := a.planFrom(tok, req)
	if err != nil {
		return nil, err
	}
	p.Created = old.Created
	if err := a.Store.PutPlan(r.Context(), p); err != nil {
		return nil, storeFailed("update plan", err)
	}
	return planOut(p), nil
}

// deletePlan: DELETE /v1/notification-plans/{id}, refused (409, naming
// them) while alarms use the plan.
func (a *API) deletePlan(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r); err != nil {
		return nil, err
	}
	p, err := a.findPlan(r, tok)
	if err != nil {
		return nil, err
	}
	alarms, err := a.Store.Alarms(r.Context(), tok.Tenant)
	if err != nil {
		return nil, storeFailed("list alarms", err)
	}
	var users []string
	for _, al := range alarms {
		if al.Plan == p.ID {
			users = append(users, strconv.Quote(al.ID))
		}
	}
	if len(users) > 0 {
		const show = 10
		more := ""
		if len(users) > show {
			more = fmt.Sprintf(" and %d more", len(users)-show)
			users = users[:show]
		}
		return nil, errorf(http.StatusConflict, "in_use", "notification plan %q is used by alarm %s%s; change or delete them first",
			p.ID, strings.Join(users, ", "), more)
	}
	err = a.Store.DeletePlan(r.Context(), tok.Tenant, p.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, "not_found", "no notification plan %q", p.ID)
	}
	if err != nil {
		return nil, storeFailed("delete plan", err)
	}
	return planOut(p), nil
}

const (
	// maxBacktestRange and maxBacktestResults bound what a backtest
	// reads: a week of a check every 10 s is some 60,000 results.
	maxBacktestRange   = 7 * 24 * time.Hour
	maxBacktestResults = 100_000
	maxBacktestPoints  = 2_000_000
)

// backtestAlarm: POST /v1/alarms/{id}/backtest?from=&to=&agent= runs the
// stored alarm over one agent's stored results of its check, a Machine
// per label set as evaluation at ingest keeps, and answers the
// transitions it would have made. It stores nothing. NO_DATA is not
// simulated: gaps in the history raise nothing here.
func (a *API) backtestAlarm(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r, "from", "to", "agent"); err != nil {
		return nil, err
	}
	from, to, err := a.span(r, maxBacktestRange)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()
	al, err := a.findAlarm(r, tok)
	if err != nil {
		return nil, err
	}
	agent := q.Get("agent")
	switch {
	case al.Agent != "" && agent != "" && agent != al.Agent:
		return nil, badRequest("agent %q: alarm %q targets only %q", agent, al.ID, al.Agent)
	case al.Agent != "":
		agent = al.Agent
	case agent == "":
		return nil, badRequest("agent: required, alarm %q targets every agent", al.ID)
	}
	c, err := alarm.Parse(al.Criteria)
	if err != nil {
		return nil, fmt.Errorf("stored criteria of alarm %q: %w", al.ID, err)
	}
	set := c.Settings(al.Period)
	ctx := r.Context()
	results, err := a.Store.History(ctx, tok.Tenant, agent, al.Check, from.UnixMilli(), to.UnixMilli(), maxBacktestResults+1)
	if err != nil {
		return nil, storeFailed("check history", err)
	}
	if len(results) > maxBacktestResults {
		return nil, badRequest("from..to holds more than %d results of check %q; narrow it", maxBacktestResults, al.Check)
	}
	series, err := a.Store.Series(ctx, store.SeriesFilter{Tenant: tok.Tenant, Agent: agent, Check: al.Check})
	if err != nil {
		return nil, storeFailed("list series", err)
	}
	// The metrics of each result, by its time: a result's points carry
	// its timestamp.
	type point struct {
		s *store.Series
		v alarm.Value
	}
	byTS := map[int64][]point{}
	total := 0
	for i := range series {
		s := &series[i]
		pts, err := a.Store.Points(ctx, s.ID, from.UnixMilli(), to.UnixMilli(), 0)
		if err != nil {
			return nil, storeFailed("read points", err)
		}
		if total += len(pts); total > maxBacktestPoints {
			return nil, badRequest("from..to holds more than %d points of check %q; narrow it", maxBacktestPoints, al.Check)
		}
		for _, p := range pts {
			v := alarm.Num(p.Value)
			if s.Type == store.String {
				v = alarm.Str(p.Str)
			}
			byTS[p.TS] = append(byTS[p.TS], point{s, v})
		}
	}
	var (
		machines = map[string]*alarm.Machine{}
		prevs    = map[string]*alarm.Result{}
		out      = []transitionJSON{}
	)
	for _, cr := range results {
		base := alarm.Result{Time: time.UnixMilli(cr.TS), Message: cr.Message}
		switch cr.Status {
		case store.StatusOK:
			base.Status = alarm.StatusOK
		case store.StatusWarn:
			base.Status = alarm.StatusWarn
		case store.StatusCrit:
			base.Status = alarm.StatusCrit
		default:
			base.Status = alarm.StatusUnknown
		}
		// As alarm.Splitter does: an instance per label set, with the
		// unlabelled metrics and its labels as string metrics.
		var plain []alarm.Metric
		sets := map[string][]alarm.Metric{}
		var keys []string
		for _, p := range byTS[cr.TS] {
			m := alarm.Metric{Name: p.s.Metric, Value: p.v}
			if len(p.s.Labels) == 0 {
				plain = append(plain, m)
				continue
			}
			k := labelSetKey(p.s.Labels)
			if _, ok := sets[k]; !ok {
				keys = append(keys, k)
			}
			sets[k] = append(sets[k], m)
		}
		if len(keys) == 0 {
			keys = []string{""}
		}
		for _, k := range keys {
			res := base
			res.Metrics = append(append([]alarm.Metric(nil), sets[k]...), plain...)
			if k != "" {
				for _, p := range byTS[cr.TS] {
					if labelSetKey(p.s.Labels) == k {
						for _, l := range p.s.Labels {
							res.Metrics = append(res.Metrics, alarm.Metric{Name: l.Key, Value: alarm.Str(l.Value)})
						}
						break
					}
				}
			}
			m := machines[k]
			if m == nil {
				m = &alarm.Machine{}
				machines[k] = m
			}
			o := c.Evaluate(&res, prevs[k])
			if tr, eff := m.Observe(set, res.Time, o, res.Time); eff == alarm.EffectTransition {
				out = append(out, transitionJSON{Agent: agent, Instance: k, From: tr.From.String(), To: tr.To.String(),
					At: tr.At.UTC(), Message: tr.Message})
			}
			prevs[k] = &res
		}
	}
	slices.SortStableFunc(out, func(x, y transitionJSON) int { return y.At.Compare(x.At) })
	return map[string]any{"alarm": al.ID, "agent": agent, "results": len(results), "transitions": out}, nil
}

// labelSetKey names a label set as alarm.Instance keys do: {k="v",...}.
func labelSetKey(ls []store.Label) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.Key + "=" + strconv.Quote(l.Value))
	}
	b.WriteByte('}')
	return b.String()
}
