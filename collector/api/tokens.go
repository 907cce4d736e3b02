package api

import (
	"encoding/json"
	"errors"
	"fmt"
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

// admin wraps h so it only runs for a valid admin token.
func (a *API) admin(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := a.authenticate(w, r, "administer tokens", store.RoleAdmin)
		if ok {
			h(w, r, tok)
		}
	})
}

// createToken: POST /v1/tokens {"role": "read", "agent": ""} makes a token
// of the admin token's own tenant.
func (a *API) createToken(w http.ResponseWriter, r *http.Request, tok store.Token) {
	if !allowParams(w, r) {
		return
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxTokenBody))
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
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("body: want {\"role\": \"read|agent|enroll|admin\", \"agent\": \"ID\"}: %v", err))
		return
	}
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	if err := auth.AgentBinding(role, req.Agent); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", "agent: "+err.Error())
		return
	}
	secret, t, err := auth.Create(r.Context(), a.Store, tok.Tenant, role, req.Agent)
	if err != nil {
		a.storeError(w, "create token", tok, err)
		return
	}
	out := tokenOut(t)
	out.Token = secret
	writeJSON(w, http.StatusCreated, out)
}

// listTokens: GET /v1/tokens lists the tokens of the admin token's tenant.
func (a *API) listTokens(w http.ResponseWriter, r *http.Request, tok store.Token) {
	if !allowParams(w, r, "limit", "cursor") {
		return
	}
	pg, err := parsePage(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	ts, err := auth.List(r.Context(), a.Store, tok.Tenant)
	if err != nil {
		a.storeError(w, "list tokens", tok, err)
		return
	}
	ts, next := paginate(ts, func(t *store.Token) string { return t.ID }, pg)
	out := make([]tokenJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, tokenOut(t))
	}
	writePage(w, "tokens", out, next)
}

// revokeToken: DELETE /v1/tokens/{id}. A token of another tenant is
// unknown here.
func (a *API) revokeToken(w http.ResponseWriter, r *http.Request, tok store.Token) {
	if !allowParams(w, r) {
		return
	}
	id := r.PathValue("id")
	t, err := auth.Revoke(r.Context(), a.Store, tok.Tenant, id, a.now())
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no token %q", id))
		return
	}
	if err != nil {
		a.storeError(w, "revoke token", tok, err)
		return
	}
	writeJSON(w, http.StatusOK, tokenOut(t))
}
