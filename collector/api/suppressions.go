package api

import (
	"errors"
	"net/http"
	"regexp"
	"time"

	"github.com/vigilmon/vigil/collector/alarm"
	"github.com/vigilmon/vigil/collector/alarmeval/suppression"
	"github.com/vigilmon/vigil/collector/store"
)

// Suppressions (maintenance windows) under /v1/suppressions: admin to
// change, read to list, always of the token's tenant. The windows are
// alarm.ParseWindow's text; the scope lists agents, checks and alarms
// (an empty list matches all).

// Invalidator is told when a tenant's alarms, plans or suppressions
// change, so evaluation reads them again now rather than at its next
// refresh (alarmeval.Evaluator).
type Invalidator interface {
	Invalidate(tenant string)
}

// invalidate tells a.Alarms, if set, that tenant's definitions changed.
func (a *API) invalidate(tenant string) {
	if a.Alarms != nil {
		a.Alarms.Invalidate(tenant)
	}
}

// scopeJSON is alarm.Scope with its lists always written.
type scopeJSON struct {
	Agents []string `json:"agents"`
	Checks []string `json:"checks"`
	Alarms []string `json:"alarms"`
}

type spanJSON struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// suppressionJSON is a suppression as the API reads and writes it; Active
// and Next are answered by GET /v1/suppressions/{id} only.
type suppressionJSON struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	Scope            scopeJSON `json:"scope"`
	Windows          []string  `json:"windows"`
	NotifyOnRecovery bool      `json:"notify_on_recovery"`
	Created          time.Time `json:"created"`
	Updated          time.Time `json:"updated"`
	Active           *bool     `json:"active,omitempty"`
	Next             *spanJSON `json:"next,omitempty"`
}

func suppressionOut(sp store.Suppression) suppressionJSON {
	out := suppressionJSON{ID: sp.ID, Name: sp.Name, Windows: []string{}, NotifyOnRecovery: sp.NotifyOnRecovery,
		Created: sp.Created.UTC(), Updated: sp.Updated.UTC()}
	if s, err := suppression.FromStore(sp); err == nil {
		out.Scope = scopeJSON(s.Scope)
		for _, w := range s.Windows {
			out.Windows = append(out.Windows, w.String())
		}
	}
	if out.Scope.Agents == nil {
		out.Scope.Agents = []string{}
	}
	if out.Scope.Checks == nil {
		out.Scope.Checks = []string{}
	}
	if out.Scope.Alarms == nil {
		out.Scope.Alarms = []string{}
	}
	return out
}

type suppressionRequest struct {
	ID               string      `json:"id"`
	Name             string      `json:"name"`
	Scope            alarm.Scope `json:"scope"`
	Windows          []string    `json:"windows"`
	NotifyOnRecovery bool        `json:"notify_on_recovery"`
	Created          any         `json:"created"`
	Updated          any         `json:"updated"`
	Active           any         `json:"active"`
	Next             any         `json:"next"`
}

const suppressionShape = `{"id", "name", "scope": {"agents": [...], "checks": [...], "alarms": [...]}, "windows": ["daily 02:00-04:00 UTC", ...], "notify_on_recovery"}`

// suppressionFrom validates a request: each window must parse, each scope
// list fit the store's field.
func (a *API) suppressionFrom(tok store.Token, req suppressionRequest) (store.Suppression, error) {
	if err := validID("id", req.ID); err != nil {
		return store.Suppression{}, err
	}
	if err := validName(req.Name); err != nil {
		return store.Suppression{}, err
	}
	s := alarm.Suppression{ID: req.ID, Scope: req.Scope, NotifyOnRecovery: req.NotifyOnRecovery}
	if len(req.Windows) == 0 || len(req.Windows) > alarm.MaxWindows {
		return store.Suppression{}, badRequest("windows: %d given, want 1 to %d", len(req.Windows), alarm.MaxWindows)
	}
	for i, text := range req.Windows {
		w, err := alarm.ParseWindow(text)
		if err != nil {
			return store.Suppression{}, badRequest("windows[%d]: %v", i, err)
		}
		s.Windows = append(s.Windows, w)
	}
	// Names as agents, checks and alarms have them; none holds the
	// newline the store's record joins them with.
	for _, l := range []struct {
		what  string
		names []string
		re    *regexp.Regexp
		max   int
	}{{"agents", s.Scope.Agents, checkIDRe, 128}, {"checks", s.Scope.Checks, checkIDRe, 128}, {"alarms", s.Scope.Alarms, alarmIDRe, 64}} {
		total := 0
		for i, n := range l.names {
			if !l.re.MatchString(n) {
				return store.Suppression{}, badRequest("scope.%s[%d] %q: must be 1-%d characters of A-Z a-z 0-9 . _ -", l.what, i, n, l.max)
			}
			total += len(n) + 1
		}
		if total-1 > store.MaxTextBytes {
			return store.Suppression{}, badRequest("scope.%s: %d names of %d bytes together; at most %d bytes (use a broader scope or several suppressions)",
				l.what, len(l.names), total-1, store.MaxTextBytes)
		}
	}
	if err := s.Validate(); err != nil {
		return store.Suppression{}, badRequest("%v", err)
	}
	now := a.now()
	sp := suppression.ToStore(tok.Tenant, req.Name, s)
	if len(sp.Recurring) > store.MaxTextBytes {
		return store.Suppression{}, badRequest("windows: %d bytes of text together; at most %d", len(sp.Recurring), store.MaxTextBytes)
	}
	sp.Created, sp.Updated = now, now
	if err := sp.Validate(); err != nil {
		return store.Suppression{}, badRequest("%v", err)
	}
	return sp, nil
}

// findSuppression reads the suppression of the path's id: 404 when the
// tenant has none. The store lists suppressions only, at most
// store.AlarmLimits.Suppressions of them.
func (a *API) findSuppression(r *http.Request, tok store.Token) (store.Suppression, error) {
	id := r.PathValue("id")
	notFound := errorf(http.StatusNotFound, "not_found", "no suppression %q", id)
	if !alarmIDRe.MatchString(id) {
		return store.Suppression{}, notFound
	}
	list, err := a.Store.Suppressions(r.Context(), tok.Tenant)
	if err != nil {
		return store.Suppression{}, storeFailed("read suppression", err)
	}
	for _, sp := range list {
		if sp.ID == id {
			return sp, nil
		}
	}
	return store.Suppression{}, notFound
}

// getSuppression: GET /v1/suppressions/{id}, with whether it is active
// now and its current or next span.
func (a *API) getSuppression(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r); err != nil {
		return nil, err
	}
	sp, err := a.findSuppression(r, tok)
	if err != nil {
		return nil, err
	}
	out := suppressionOut(sp)
	s, err := suppression.FromStore(sp)
	if err != nil {
		e := errorf(http.StatusInternalServerError, "internal", "suppression %q: the stored record is unreadable", sp.ID)
		e.cause = err
		return nil, e
	}
	now := a.now()
	active := s.Active(now)
	out.Active = &active
	if start, end := s.Next(now); !end.IsZero() {
		out.Next = &spanJSON{Start: start.UTC(), End: end.UTC()}
	}
	return out, nil
}

// createSuppression: POST /v1/suppressions.
func (a *API) createSuppression(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r); err != nil {
		return nil, err
	}
	var req suppressionRequest
	if err := decodeStrict(r, suppressionShape, &req); err != nil {
		return nil, err
	}
	sp, err := a.suppressionFrom(tok, req)
	if err != nil {
		return nil, err
	}
	list, err := a.Store.Suppressions(r.Context(), tok.Tenant)
	if err != nil {
		return nil, storeFailed("list suppressions", err)
	}
	for _, old := range list {
		if old.ID == sp.ID {
			return nil, errorf(http.StatusConflict, "exists", "suppression %q exists; PUT /v1/suppressions/%s to replace it", sp.ID, sp.ID)
		}
	}
	if err := a.Store.PutSuppression(r.Context(), sp); err != nil {
		if le := limitError(err); le != nil {
			return nil, le
		}
		return nil, storeFailed("create suppression", err)
	}
	return reply{status: http.StatusCreated, body: suppressionOut(sp)}, nil
}

// updateSuppression: PUT /v1/suppressions/{id} replaces a suppression.
//
//nolint:dupl // the suppression handlers parallel the plan and alarm ones; a shared generic helper would take more parameters than it saves lines
func (a *API) updateSuppression(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	var req suppressionRequest
	if err := decodeStrict(r, suppressionShape, &req); err != nil {
		return nil, err
	}
	if req.ID != "" && req.ID != id {
		return nil, badRequest("id %q differs from the path's %q; a suppression cannot be renamed", req.ID, id)
	}
	req.ID = id
	old, err := a.findSuppression(r, tok)
	if err != nil {
		return nil, err
	}
	sp, err := a.suppressionFrom(tok, req)
	if err != nil {
		return nil, err
	}
	sp.Created = old.Created
	if err := a.Store.PutSuppression(r.Context(), sp); err != nil {
		return nil, storeFailed("update suppression", err)
	}
	return suppressionOut(sp), nil
}

// deleteSuppression: DELETE /v1/suppressions/{id}.
//
//nolint:dupl // the suppression handlers parallel the plan and alarm ones; a shared generic helper would take more parameters than it saves lines
func (a *API) deleteSuppression(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r); err != nil {
		return nil, err
	}
	sp, err := a.findSuppression(r, tok)
	if err != nil {
		return nil, err
	}
	err = a.Store.DeleteSuppression(r.Context(), tok.Tenant, sp.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, "not_found", "no suppression %q", sp.ID)
	}
	if err != nil {
		return nil, storeFailed("delete suppression", err)
	}
	return suppressionOut(sp), nil
}
