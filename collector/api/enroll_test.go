package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/store"
)

func (f *ingestFixture) enroll(t *testing.T, token, contentType, body string) (int, enrollResponse, apiError) {
	t.Helper()
	req, _ := http.NewRequest("POST", f.srv.URL+"/v1/enroll", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ok enrollResponse
	var bad apiError
	if resp.StatusCode == 200 {
		err = json.Unmarshal(b, &ok)
	} else {
		err = json.Unmarshal(b, &bad)
	}
	if err != nil {
		t.Fatalf("decode %d %q: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, ok, bad
}

func TestEnroll(t *testing.T) {
	f := newIngestFixture(t, nil)
	ctx := context.Background()
	enrollTok := f.token(t, "acme", store.RoleEnroll, "")
	code, got, bad := f.enroll(t, enrollTok, "application/json", `{"agent_id": "web-1", "hostname": "web-1.example.com"}`)
	if code != 200 {
		t.Fatalf("enroll: %d %+v", code, bad)
	}
	if got.AgentID != "web-1" || got.Tenant != "acme" || !strings.HasPrefix(got.Token, "vgl_") {
		t.Fatalf("answer = %+v", got)
	}
	tok, err := auth.Authenticate(ctx, f.store, got.Token)
	if err != nil || tok.Role != store.RoleAgent || tok.Agent != "web-1" || tok.Tenant != "acme" {
		t.Fatalf("minted token = %+v, %v", tok, err)
	}
	agents, err := f.store.Agents(ctx, "acme")
	if err != nil || len(agents) != 1 || agents[0].ID != "web-1" || agents[0].Hostname != "web-1.example.com" {
		t.Fatalf("agents = %+v, %v", agents, err)
	}
	// The minted token delivers for that agent and no other.
	if r := f.post(t, got.Token, "web-1", ProtobufType, frame(t, f.batch(1, 1))); r.code != 200 {
		t.Fatalf("ingest with the enrolled token: %d %s", r.code, r.body)
	}
	if r := f.post(t, got.Token, "web-2", ProtobufType, frame(t, f.batch(1, 1))); r.code != 403 {
		t.Fatalf("ingest as another agent: %d %s", r.code, r.body)
	}
}

func TestEnrollDefaultsToHostname(t *testing.T) {
	f := newIngestFixture(t, nil)
	admin := f.token(t, "acme", store.RoleAdmin, "")
	code, got, bad := f.enroll(t, admin, "", `{"hostname": "db-2"}`)
	if code != 200 || got.AgentID != "db-2" {
		t.Fatalf("%d %+v %+v", code, got, bad)
	}
}

func TestReEnrollKeepsOneAgent(t *testing.T) {
	f := newIngestFixture(t, nil)
	ctx := context.Background()
	enrollTok := f.token(t, "acme", store.RoleEnroll, "")
	var tokens []string
	for _, host := range []string{"old-name", "new-name"} {
		code, got, bad := f.enroll(t, enrollTok, "application/json", `{"agent_id": "web-1", "hostname": "`+host+`"}`)
		if code != 200 {
			t.Fatalf("%d %+v", code, bad)
		}
		tokens = append(tokens, got.Token)
	}
	agents, err := f.store.Agents(ctx, "acme")
	if err != nil || len(agents) != 1 || agents[0].Hostname != "new-name" {
		t.Fatalf("agents after re-enrolling = %+v, %v", agents, err)
	}
	if tokens[0] == tokens[1] {
		t.Fatal("re-enrolling returned the same token")
	}
	// Earlier tokens stay valid until revoked.
	for _, tok := range tokens {
		if _, err := auth.Authenticate(ctx, f.store, tok); err != nil {
			t.Fatalf("token %s: %v", tok[:8], err)
		}
	}
}

func TestEnrollRefusals(t *testing.T) {
	f := newIngestFixture(t, nil)
	enrollTok := f.token(t, "acme", store.RoleEnroll, "")
	for _, c := range []struct {
		name, token, typ, body string
		code                   int
		message                string
	}{
		{"read token", f.token(t, "acme", store.RoleRead, ""), "", `{"agent_id": "a"}`, 403, "role enroll"},
		{"agent token", f.token(t, "acme", store.RoleAgent, "a"), "", `{"agent_id": "a"}`, 403, "role enroll"},
		{"unknown token", "vgl_" + strings.Repeat("B", 43), "", `{"agent_id": "a"}`, 401, "unknown or revoked"},
		{"bad agent id", enrollTok, "", `{"agent_id": "web 1"}`, 400, "agent id"},
		{"bad hostname as id", enrollTok, "", `{"hostname": "a/b"}`, 400, "agent id"},
		{"control character in hostname", enrollTok, "", `{"agent_id": "a", "hostname": "x\u0007"}`, 400, "printable"},
		{"unknown field", enrollTok, "", `{"agent_id": "a", "agentid": "b"}`, 400, "unknown field"},
		{"neither id nor hostname", enrollTok, "", `{}`, 400, "agent_id or hostname"},
		{"empty body", enrollTok, "", ``, 400, "body"},
		{"not JSON", enrollTok, "", `agent_id=a`, 400, "body"},
		{"two values", enrollTok, "", `{"agent_id": "a"} {}`, 400, "more than one"},
		{"wrong content type", enrollTok, "text/plain", `{"agent_id": "a"}`, 415, "application/json"},
		{"oversize", enrollTok, "", `{"hostname": "` + strings.Repeat("x", 70000) + `"}`, 413, "65536"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, bad := f.enroll(t, c.token, c.typ, c.body)
			if code != c.code || !strings.Contains(bad.Error.Message, c.message) {
				t.Fatalf("want %d containing %q, got %d %+v", c.code, c.message, code, bad)
			}
		})
	}
	if agents, _ := f.store.Agents(context.Background(), "acme"); len(agents) != 0 {
		t.Fatalf("refused enrollments recorded agents: %+v", agents)
	}
}
