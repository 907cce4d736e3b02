package e2e

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTokenCommands creates, lists and revokes tokens with the command
// line, then administers tokens over the API of the running collector.
func TestTokenCommands(t *testing.T) {
	e := setup(t, "2s")
	conf := filepath.Join(e.dir, "collector.toml")
	tokenCmd := func(args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(e.coll, append([]string{"token"}, append(args, "--config", conf)...)...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("token %v: %v\n%s", args, err, stderr.String())
		}
		return strings.TrimSpace(string(out)), stderr.String()
	}
	admin, _ := tokenCmd("create", "--tenant", "acme", "--role", "admin")
	if !strings.HasPrefix(admin, "vgl_") {
		t.Fatalf("token create printed %q", admin)
	}
	read, msg := tokenCmd("create", "--tenant", "acme", "--role", "read")
	readID := strings.Fields(msg)[3] // "created read token ID for tenant acme; ..."
	tokenCmd("create", "--tenant", "other", "--role", "read")
	// An agent token speaks for one agent: without --agent it is refused
	// before anything is stored.
	if out, err := exec.Command(e.coll, "token", "create", "--tenant", "acme", "--role", "agent", "--config", conf).CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "needs the id of the one agent") || strings.Contains(string(out), "vgl_") {
		t.Fatalf("token create --role agent without --agent: err %v\n%s", err, out)
	}

	list, _ := tokenCmd("list", "--tenant", "acme")
	if lines := strings.Split(list, "\n"); len(lines) != 3 || !strings.Contains(list, readID) || strings.Contains(list, "vgl_") {
		t.Fatalf("token list: want a header and acme's two tokens, no secrets:\n%s", list)
	}
	if _, msg := tokenCmd("revoke", "--tenant", "acme", "--id", readID); !strings.Contains(msg, "revoked read token "+readID) {
		t.Fatalf("token revoke said %q", msg)
	}
	if out, err := exec.Command(e.coll, "token", "revoke", "--tenant", "other", "--id", readID, "--config", conf).CombinedOutput(); err == nil {
		t.Fatalf("revoking acme's token as tenant other succeeded: %s", out)
	}
	list, _ = tokenCmd("list", "--tenant", "acme")
	for _, line := range strings.Split(list, "\n") {
		if strings.HasPrefix(line, readID) && strings.HasSuffix(line, "-") {
			t.Fatalf("token list after revoke shows %s unrevoked:\n%s", readID, list)
		}
	}

	start(t, e.coll, "run", "--config", conf)
	call := func(method, path, body, tok string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+e.http+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String()
	}
	waitFor(t, 15*time.Second, "the collector's API", func() bool {
		code, _ := call("GET", "/healthz", "", "")
		return code == 200
	})
	if code, body := call("GET", "/v1/agents", "", read); code != 401 {
		t.Fatalf("token revoked with the command line: %d %s", code, body)
	}
	code, body := call("POST", "/v1/tokens", `{"role":"read"}`, admin)
	var created struct{ ID, Token string }
	if err := json.Unmarshal([]byte(body), &created); err != nil {
		t.Fatalf("POST /v1/tokens answered %d, not JSON: %v\n%s", code, err, body)
	}
	if code != 201 || created.Token == "" {
		t.Fatalf("POST /v1/tokens: %d %s", code, body)
	}
	if code, body := call("GET", "/v1/agents", "", created.Token); code != 200 {
		t.Fatalf("new token: %d %s", code, body)
	}
	if code, body := call("DELETE", "/v1/tokens/"+created.ID, "", admin); code != 200 {
		t.Fatalf("DELETE /v1/tokens: %d %s", code, body)
	}
	if code, body := call("GET", "/v1/agents", "", created.Token); code != 401 {
		t.Fatalf("revoked over the API, still accepted: %d %s", code, body)
	}
}
