package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/store"
)

const (
	// maxHistoryRange bounds /v1/checks/.../history: a check every 10 s
	// gives some 270,000 results in 31 days.
	maxHistoryRange = 31 * 24 * time.Hour
	defaultHistory  = 24 * time.Hour
	// latestLookback is how far back /v1/latest looks for a series' last
	// point: first the recent past, then a day.
	latestRecent   = 15 * time.Minute
	latestLookback = 24 * time.Hour
)

type checkJSON struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	Status     string    `json:"status"`
	Message    string    `json:"message"`
	LastRun    time.Time `json:"last_run"`
	DurationMS uint32    `json:"duration_ms"`
}

// checkType is the kind of a check: its name, or "plugin" for plugin.<name>.
func checkType(id string) string {
	t, _, _ := strings.Cut(id, ".")
	return t
}

// agentResults returns the latest results of agent, and whether the agent
// exists in tok's tenant. An agent of another tenant does not.
func (a *API) agentResults(ctx context.Context, tok store.Token, agent string) ([]store.CheckResult, bool, error) {
	if auth.ValidAgentID(agent) != nil {
		return nil, false, nil
	}
	rs, err := a.Store.LatestResults(ctx, tok.Tenant, agent)
	if err != nil || len(rs) > 0 {
		return rs, err == nil, err
	}
	list, err := a.Store.Agents(ctx, tok.Tenant)
	if err != nil {
		return nil, false, err
	}
	for _, ag := range list {
		if ag.ID == agent {
			return nil, true, nil
		}
	}
	return nil, false, nil
}

// agentChecks: GET /v1/agents/{id}/checks, the latest status of each check.
func (a *API) agentChecks(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r, "limit", "cursor"); err != nil {
		return nil, err
	}
	pg, err := parsePage(r.URL.Query())
	if err != nil {
		return nil, badRequest("%v", err)
	}
	id := r.PathValue("id")
	rs, ok, err := a.agentResults(r.Context(), tok, id)
	if err != nil {
		return nil, storeFailed("latest results", err)
	}
	if !ok {
		return nil, errorf(http.StatusNotFound, "not_found", "no agent %q", id)
	}
	rs, next := paginate(rs, func(c *store.CheckResult) string { return c.Check }, pg)
	out := make([]checkJSON, 0, len(rs))
	for _, c := range rs {
		out = append(out, checkJSON{ID: c.Check, Type: checkType(c.Check), Status: c.Status.String(), Message: c.Message,
			LastRun: time.UnixMilli(c.TS).UTC(), DurationMS: c.DurationMS})
	}
	return pageReply("checks", out, next), nil
}

type statusChangeJSON struct {
	TS      time.Time `json:"ts"`
	Status  string    `json:"status"`
	Message string    `json:"message"`
}

// checkHistory: GET /v1/checks/{agent}/{check}/history?from=&to=, the
// status changes of one check: its status at from, then each result whose
// status differs from the one before.
func (a *API) checkHistory(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r, "from", "to"); err != nil {
		return nil, err
	}
	from, to, err := a.span(r, maxHistoryRange)
	if err != nil {
		return nil, err
	}
	agent, check := r.PathValue("agent"), r.PathValue("check")
	latest, ok, err := a.agentResults(r.Context(), tok, agent)
	if err != nil {
		return nil, storeFailed("latest results", err)
	}
	known := false
	for _, c := range latest {
		known = known || c.Check == check
	}
	if !ok || !known {
		return nil, errorf(http.StatusNotFound, "not_found", "no check %q on agent %q", check, agent)
	}
	rs, err := a.Store.History(r.Context(), tok.Tenant, agent, check, from.UnixMilli(), to.UnixMilli(), 0)
	if err != nil {
		return nil, storeFailed("check history", err)
	}
	out := []statusChangeJSON{}
	for i, c := range rs {
		if i > 0 && rs[i-1].Status == c.Status {
			continue
		}
		out = append(out, statusChangeJSON{TS: time.UnixMilli(c.TS).UTC(), Status: c.Status.String(), Message: c.Message})
	}
	return map[string]any{"agent": agent, "check": check, "changes": out}, nil
}

type latestJSON struct {
	Agent  string            `json:"agent"`
	Check  string            `json:"check"`
	Metric string            `json:"metric"`
	Labels map[string]string `json:"labels"`
	Type   string            `json:"type"`
	Unit   string            `json:"unit"`
	TS     int64             `json:"ts"`
	Value  any               `json:"value"`
}

// latest: GET /v1/latest?agent=&check=&metric=&label=, the last point of
// each matching series seen in the last day.
func (a *API) latest(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r, "agent", "check", "metric", "label", "limit", "cursor"); err != nil {
		return nil, err
	}
	q := r.URL.Query()
	if q.Get("agent") == "" {
		return nil, badRequest("agent: required")
	}
	pg, err := parsePage(q)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	f, err := filter(q, tok)
	if err != nil {
		return nil, err
	}
	list, err := a.Store.Series(r.Context(), f)
	if err != nil {
		return nil, storeFailed("list series", err)
	}
	list, next := paginate(list, seriesCursorKey, pg)
	now := a.now().UnixMilli()
	out := make([]latestJSON, 0, len(list))
	for _, s := range list {
		var last *store.Point
		for _, back := range []time.Duration{latestRecent, latestLookback} {
			pts, err := a.Store.Points(r.Context(), s.ID, now-back.Milliseconds(), now+time.Minute.Milliseconds(), 0)
			if err != nil {
				return nil, storeFailed("read points", err)
			}
			if len(pts) > 0 {
				last = &pts[len(pts)-1]
				break
			}
		}
		if last == nil {
			continue
		}
		v := number(last.Value)
		if s.Type == store.String {
			v = last.Str
		}
		out = append(out, latestJSON{Agent: s.Agent, Check: s.Check, Metric: s.Metric, Labels: labelMap(s.Labels),
			Type: s.Type.String(), Unit: s.Unit, TS: last.TS, Value: v})
	}
	return pageReply("series", out, next), nil
}

// seriesCursorKey orders series as the store does: by agent, check,
// metric, then labels (names cannot hold a 0 byte).
func seriesCursorKey(s *store.Series) string {
	var b strings.Builder
	b.WriteString(s.Agent)
	b.WriteByte(0)
	b.WriteString(s.Check)
	b.WriteByte(0)
	b.WriteString(s.Metric)
	for _, l := range s.Labels {
		b.WriteByte(0)
		b.WriteString(l.Key)
		b.WriteByte(0)
		b.WriteString(l.Value)
	}
	return b.String()
}

// span reads from= and to= of a history request: to defaults to now,
// from to defaultHistory before to, and they may span at most max.
func (a *API) span(r *http.Request, max time.Duration) (from, to time.Time, err error) {
	q := r.URL.Query()
	now := a.now()
	if to, err = parseTime(q.Get("to"), now, now); err != nil {
		return from, to, badRequest("to: %v", err)
	}
	if from, err = parseTime(q.Get("from"), now, to.Add(-defaultHistory)); err != nil {
		return from, to, badRequest("from: %v", err)
	}
	if !from.Before(to) {
		return from, to, badRequest("from (%s) must be before to (%s)", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	if to.Sub(from) > max {
		return from, to, badRequest("from..to spans %v; at most %v allowed", to.Sub(from).Round(time.Second), max)
	}
	return from, to, nil
}
