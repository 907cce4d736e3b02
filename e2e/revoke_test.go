package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRevokedAgentTokenRefused revokes the token of a delivering agent over
// the API of the running collector: the agent's open connection is closed
// with the reason, its reconnect is refused at Hello with what to do, and
// nothing it sends afterwards is stored.
func TestRevokedAgentTokenRefused(t *testing.T) {
	e := setup(t, "1s")
	conf := filepath.Join(e.dir, "collector.toml")
	out, err := exec.Command(e.coll, "token", "create", "--tenant", "dev", "--role", "admin", "--config", conf).Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	admin := strings.TrimSpace(string(out))
	coll := start(t, e.coll, "run", "--config", conf)
	ag := start(t, e.agent, "run", "--config", filepath.Join(e.dir, "agent.toml"))
	read := e.token(t, "read-token")
	points := func(from time.Time) int {
		_, a, _ := e.query(t, read, fmt.Sprintf("agent=e2e-host&check=cpu&metric=count&from=%d&to=%%2B1m", from.UnixMilli()))
		if len(a.Series) == 0 {
			return 0
		}
		return len(a.Series[0].Points)
	}
	began := time.Now()
	waitFor(t, 20*time.Second, "first points", func() bool { return points(began.Add(-time.Minute)) >= 2 })

	call := func(method, path string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+e.http+path, nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	code, body := call("GET", "/v1/tokens")
	var list struct {
		Tokens []struct{ ID, Role, Agent string } `json:"tokens"`
	}
	if err := json.Unmarshal(body, &list); code != 200 || err != nil {
		t.Fatalf("GET /v1/tokens: %d %s", code, body)
	}
	id := ""
	for _, tok := range list.Tokens {
		if tok.Role == "agent" && tok.Agent == "e2e-host" {
			id = tok.ID
		}
	}
	if id == "" {
		t.Fatalf("no agent token of e2e-host in %s", body)
	}
	if code, body := call("DELETE", "/v1/tokens/"+id); code != 200 {
		t.Fatalf("DELETE /v1/tokens/%s: %d %s", id, code, body)
	}
	revoked := time.Now()

	waitFor(t, 20*time.Second, "the agent to be refused with the reason", func() bool {
		o := ag.output()
		return strings.Contains(o, "token was revoked") && // the open connection's close
			strings.Contains(o, "collector refused this agent") && strings.Contains(o, "token is unknown or revoked") // the reconnect
	})
	if !strings.Contains(coll.output(), "agent token revoked") {
		t.Fatalf("the collector did not log the revocation:\n%s", coll.output())
	}
	// Results are stamped with their scheduled time, before they are sent:
	// none stamped after the revocation returned may be stored, however
	// long the agent keeps trying.
	time.Sleep(3 * time.Second)
	if n := points(revoked); n != 0 {
		t.Fatalf("%d points stamped after the revocation were stored", n)
	}
}
