package api

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/vigilmon/vigil/collector/store"
)

func (f *fixture) do(t *testing.T, method, path, body string, setAuth func(*http.Request)) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if setAuth != nil {
		setAuth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestTokens(t *testing.T) {
	f := newFixture(t)
	f.write(t, "acme", "web-1", 3)
	admin := f.token(t, "acme", store.RoleAdmin)
	read := f.token(t, "acme", store.RoleRead)
	otherAdmin := f.token(t, "other", store.RoleAdmin)

	// Create a read token; it works at once.
	code, body := f.do(t, "POST", "/v1/tokens", `{"role":"read"}`, bearerAuth(admin))
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	var created tokenJSON
	decode(t, body, &created)
	if !strings.HasPrefix(created.Token, "vgl_") || created.Tenant != "acme" || created.Role != "read" || created.ID == "" {
		t.Fatalf("create answer: %s", body)
	}
	if code, body := f.get(t, "/v1/agents", bearerAuth(created.Token)); code != 200 {
		t.Fatalf("new token: %d %s", code, body)
	}

	// Listed for its tenant without secrets, and not for another tenant.
	code, body = f.get(t, "/v1/tokens", bearerAuth(admin))
	if code != 200 || !strings.Contains(body, created.ID) || strings.Contains(body, created.Token) || strings.Contains(body, "vgl_") {
		t.Fatalf("list: %d %s", code, body)
	}
	var list struct{ Tokens []tokenJSON }
	decode(t, body, &list)
	if len(list.Tokens) != 3 {
		t.Fatalf("list: want admin, read and the new token: %s", body)
	}
	if _, body := f.get(t, "/v1/tokens", bearerAuth(otherAdmin)); strings.Contains(body, created.ID) {
		t.Fatalf("other tenant lists acme's token: %s", body)
	}
	// Pages of one.
	code, body = f.get(t, "/v1/tokens?limit=1", bearerAuth(admin))
	var page struct {
		Tokens []tokenJSON
		Next   string `json:"next_cursor"`
	}
	decode(t, body, &page)
	seen := 0
	for code == 200 && page.Next != "" {
		seen += len(page.Tokens)
		next := page.Next
		page.Next = ""
		code, body = f.get(t, "/v1/tokens?limit=1&cursor="+next, bearerAuth(admin))
		page.Tokens = nil
		decode(t, body, &page)
	}
	if seen+len(page.Tokens) != 3 {
		t.Fatalf("paging saw %d tokens, want 3 (last %d %s)", seen+len(page.Tokens), code, body)
	}

	// Another tenant's admin cannot revoke it: 404 as for an unknown id.
	if code, body := f.do(t, "DELETE", "/v1/tokens/"+created.ID, "", bearerAuth(otherAdmin)); code != 404 {
		t.Fatalf("revoke by other tenant: %d %s", code, body)
	}
	if code, body := f.do(t, "DELETE", "/v1/tokens/nosuchtoken", "", bearerAuth(admin)); code != 404 {
		t.Fatalf("revoke unknown: %d %s", code, body)
	}
	// Revoked: refused on the next request.
	if code, body := f.do(t, "DELETE", "/v1/tokens/"+created.ID, "", bearerAuth(admin)); code != 200 || !strings.Contains(body, `"revoked"`) {
		t.Fatalf("revoke: %d %s", code, body)
	}
	if code, body := f.get(t, "/v1/agents", bearerAuth(created.Token)); code != 401 {
		t.Fatalf("revoked token: %d %s", code, body)
	}

	// Roles and validation.
	for _, tt := range []struct {
		name, method, path, body string
		tok                      string
		code                     int
		msg                      string
	}{
		{"read token lists", "GET", "/v1/tokens", "", read, 403, "role admin"},
		{"read token creates", "POST", "/v1/tokens", `{"role":"admin"}`, read, 403, "role admin"},
		{"read token revokes", "DELETE", "/v1/tokens/" + created.ID, "", read, 403, "role admin"},
		{"revoked token", "GET", "/v1/tokens", "", created.Token, 401, "revoked"},
		{"bad role", "POST", "/v1/tokens", `{"role":"root"}`, admin, 400, "role"},
		{"unknown field", "POST", "/v1/tokens", `{"role":"read","tenant":"other"}`, admin, 400, "tenant"},
		{"agent on read", "POST", "/v1/tokens", `{"role":"read","agent":"web-1"}`, admin, 400, "agent:"},
		{"bad agent", "POST", "/v1/tokens", `{"role":"agent","agent":"a b"}`, admin, 400, "agent:"},
		{"agent token without agent", "POST", "/v1/tokens", `{"role":"agent"}`, admin, 400, "needs the id of the one agent"},
		{"bad limit", "GET", "/v1/tokens?limit=0", "", admin, 400, "limit"},
		{"bad cursor", "GET", "/v1/tokens?cursor=!!", "", admin, 400, "cursor"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, body := f.do(t, tt.method, tt.path, tt.body, bearerAuth(tt.tok))
			if code != tt.code || !strings.Contains(body, tt.msg) {
				t.Fatalf("%d %s; want %d containing %q", code, body, tt.code, tt.msg)
			}
		})
	}
}
