package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/store"
)

const maxTokenBody = 4 << 10

// tokenJSON is a token as listed: never its secret, which only the answer
// of POST /v1/tokens carries, once.
type tokenJSON struct {
	ID      string     `json:"id"`
	Tenant  string     `json:"tenant"`
	Role    string     `json:"role"`
	Agent   string     `json:"agent,omitempty"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
	Token   string     `json:"token,omitempty"`
}

func tokenOut(t store.Token) tokenJSON {
	out := tokenJSON{ID: t.ID, Tenant: t.Tenant, Role: string(t.Role), Agent: t.Agent, Created: t.Created}
	if !t.Revoked.IsZero() {
		r := t.Revoked
		out.Revoked = &r
	}
	return out
}

// createToken: POST /v1/tokens {"role": "read", "agent": ""} makes a token
// of the admin token's own tenant.
func (a *API) createToken(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(r.Body) // bounded by serve
	dec.DisallowUnknownFields()
	var req struct {
		Role  string `json:"role"`
		Agent string `json:"agent"`
	}
	err := dec.Decode(&req)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("more than one JSON value")
	}
	if err != nil {
		return nil, badRequest("body: want {\"role\": \"read|agent|enroll|admin\", \"agent\": \"ID\"}: %v", err)
	}
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	if err := auth.AgentBinding(role, req.Agent); err != nil {
		return nil, badRequest("agent: %v", err)
	}
	secret, t, err := auth.Create(r.Context(), a.Store, tok.Tenant, role, req.Agent)
	if err != nil {
		return nil, storeFailed("create token", err)
	}
	out := tokenOut(t)
	out.Token = secret
	return reply{status: http.StatusCreated, body: out}, nil
}

// listTokens: GET /v1/tokens lists the tokens of the admin token's tenant.
func (a *API) listTokens(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r, "limit", "cursor"); err != nil {
		return nil, err
	}
	pg, err := parsePage(r.URL.Query())
	if err != nil {
		return nil, badRequest("%v", err)
	}
	ts, err := auth.List(r.Context(), a.Store, tok.Tenant)
	if err != nil {
		return nil, storeFailed("list tokens", err)
	}
	ts, next := paginate(ts, func(t *store.Token) string { return t.ID }, pg)
	out := make([]tokenJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenOut(t))
	}
	return pageReply("tokens", out, next), nil
}

// revokeToken: DELETE /v1/tokens/{id}. A token of another tenant is
// unknown here.
func (a *API) revokeToken(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r); err != nil {
		return nil, err
	}
	id := r.PathValue("id")
	t, err := auth.Revoke(r.Context(), a.Store, tok.Tenant, id, a.now())
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, "not_found", "no token %q", id)
	}
	if err != nil {
		return nil, storeFailed("revoke token", err)
	}
	return tokenOut(t), nil
}
