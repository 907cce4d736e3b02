package api

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode"

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/store"
)

const (
	// maxEnrollBody bounds the JSON body of POST /v1/enroll.
	maxEnrollBody = 64 << 10
	maxHostname   = 255
)

// enrollRequest is the body of POST /v1/enroll.
type enrollRequest struct {
	// AgentID is the id to enroll; empty means Hostname.
	AgentID  string `json:"agent_id"`
	Hostname string `json:"hostname"`
}

// enrollResponse is the answer of POST /v1/enroll.
type enrollResponse struct {
	AgentID string `json:"agent_id"`
	Token   string `json:"token"`
	Tenant  string `json:"tenant"`
}

// enroll trades an enroll (or admin) token for an agent token bound to one
// agent id of the token's tenant, and records the agent so it is listed
// before it first connects. Enrolling an id again keeps its one agent
// record (updating the hostname) and mints a new token; tokens handed out
// before stay valid until revoked, so a rerun of setup never locks out a
// running agent.
func (a *API) enroll(r *http.Request, tok store.Token) (any, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" {
			return nil, errorf(http.StatusUnsupportedMediaType, "unsupported_media_type",
				"send a JSON body as Content-Type application/json, not %q", ct)
		}
	}
	dec := json.NewDecoder(r.Body) // bounded by serve
	dec.DisallowUnknownFields()
	var req enrollRequest
	err := dec.Decode(&req)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("more than one JSON value")
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "too_large", "the body may be at most %d bytes", maxEnrollBody)
		}
		return nil, badRequest(`body: want {"agent_id": "...", "hostname": "..."}: %v`, err)
	}
	if len(req.Hostname) > maxHostname || strings.IndexFunc(req.Hostname, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return nil, badRequest("hostname: at most %d bytes of printable characters", maxHostname)
	}
	id := req.AgentID
	if id == "" {
		id = req.Hostname
	}
	if id == "" {
		return nil, badRequest("send agent_id or hostname (the agent id defaults to the hostname)")
	}
	if err := auth.ValidAgentID(id); err != nil {
		return nil, badRequest("%v", err)
	}

	ctx := r.Context()
	agents, err := a.Store.Agents(ctx, tok.Tenant)
	if err != nil {
		return nil, storeFailed("list agents", err)
	}
	rec := store.Agent{Tenant: tok.Tenant, ID: id}
	known := false
	for _, ag := range agents {
		if ag.ID == id {
			rec, known = ag, true
			break
		}
	}
	if req.Hostname != "" {
		rec.Hostname = req.Hostname
	}
	// The token first: if recording the agent then fails, the token was
	// never shown to anyone and is inert.
	secret, created, err := auth.Create(ctx, a.Store, tok.Tenant, store.RoleAgent, id)
	if err != nil {
		return nil, storeFailed("create agent token", err)
	}
	if err := a.Store.UpsertAgent(ctx, rec); err != nil {
		return nil, storeFailed("record agent", err)
	}
	a.Log.Info("agent enrolled", "tenant", tok.Tenant, "agent", id, "token", created.ID,
		"enroll_token", tok.ID, "re_enrolled", known, "remote", r.RemoteAddr)
	return enrollResponse{AgentID: id, Token: secret, Tenant: tok.Tenant}, nil
}
