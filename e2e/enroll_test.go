package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilmon/vigil/agent/transport"
	"github.com/vigilmon/vigil/protocol"
)

// An enroll token, `vigil-agent setup` against the running collector, and
// the agent started with the config setup wrote: its points arrive, and
// enrolling twice leaves one agent.
func TestSetupEnrollsAndDelivers(t *testing.T) {
	e := setup(t, "1s")
	collConf := filepath.Join(e.dir, "collector.toml")
	// Before the collector starts: the embedded store has one user at a time.
	cmd := exec.Command(e.coll, "token", "create", "--config", collConf, "--tenant", "dev", "--role", "enroll")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("token create: %v\n%s", err, stderr.String())
	}
	enrollTok := strings.TrimSpace(string(out))
	start(t, e.coll, "run", "--config", collConf)
	read := e.token(t, "read-token")
	waitFor(t, 15*time.Second, "the collector's API", func() bool {
		resp, err := http.Get("http://" + e.http + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	})

	// An existing config: setup keeps its settings.
	confDir := filepath.Join(e.dir, "enrolled")
	if err := os.Mkdir(confDir, 0o755); err != nil {
		t.Fatal(err)
	}
	agentConf := filepath.Join(confDir, "agent.toml")
	if err := os.WriteFile(agentConf, []byte("# kept\n[agent]\ninterval = \"1s\"\nstate_dir = \""+filepath.Join(e.dir, "enrolled-state")+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		out, err := exec.Command(e.agent, "setup", "--collector", "http://"+e.http, "--enroll-token", enrollTok,
			"--agent-id", "enrolled-1", "--config", agentConf, "--quic", e.quic,
			"--ca", filepath.Join(e.dir, "tls", "ca.pem")).CombinedOutput()
		if err != nil {
			t.Fatalf("setup: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "enrolled agent enrolled-1 in tenant dev") || strings.Contains(string(out), "vgl_") {
			t.Fatalf("setup said:\n%s", out)
		}
	}
	for _, p := range []string{agentConf, filepath.Join(confDir, "agent-token")} {
		fi, err := os.Stat(p)
		// The config was group-readable (0644): both files keep its group
		// and group-read bit, never the world's.
		if err != nil || fi.Mode().Perm() != 0o640 {
			t.Fatalf("%s: %v, %v (want mode 640)", p, fi, err)
		}
	}
	if b, _ := os.ReadFile(agentConf); !strings.Contains(string(b), "# kept") || !strings.Contains(string(b), `interval = "1s"`) {
		t.Fatalf("setup lost the config's content:\n%s", b)
	}
	if n := e.countAgents(t, read, "enrolled-1"); n != 1 {
		t.Fatalf("enrolling twice listed the agent %d times", n)
	}

	start(t, e.agent, "run", "--config", agentConf)
	var last string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last query answer: %s", last)
		}
	})
	waitFor(t, 30*time.Second, "CPU points of the enrolled agent", func() bool {
		code, a, body := e.query(t, read, "agent=enrolled-1&check=cpu&metric=usage_percent&from=-5m")
		last = body
		return code == 200 && len(a.Series) == 1 && len(a.Series[0].Points) >= 2
	})
	if n := e.countAgents(t, read, "enrolled-1"); n != 1 {
		t.Fatalf("after connecting the agent is listed %d times", n)
	}
}

// countAgents is how many entries of GET /v1/agents have the id.
func (e *env) countAgents(t *testing.T, token, id string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+e.http+"/v1/agents", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a struct {
		Agents []struct {
			ID string `json:"id"`
		} `json:"agents"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatalf("GET /v1/agents: %d: %v", resp.StatusCode, err)
	}
	n := 0
	for _, ag := range a.Agents {
		if ag.ID == id {
			n++
		}
	}
	return n
}

// The HTTPS fallback against the real collector: a batch POSTed to
// /v1/ingest with the agent's token is acked and can be queried.
func TestHTTPSIngest(t *testing.T) {
	e := setup(t, "1s")
	start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
	c, err := transport.NewHTTPSClient("http://"+e.http, transport.TLSConfig{}, "e2e-host", e.token(t, "agent-token"),
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	now := time.Now().UnixMilli()
	b := &protocol.Batch{Seq: 42, Results: []*protocol.CheckResult{{
		Check: "plugin.seq", TimestampMs: now, Status: protocol.Status_STATUS_OK,
		Metrics: []*protocol.Metric{{Name: "seq", Type: protocol.MetricType_METRIC_TYPE_GAUGE, Value: 7}},
	}}}
	var ack *protocol.Ack
	waitFor(t, 15*time.Second, "an Ack over HTTP", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ack, err = c.Send(ctx, b)
		return err == nil
	})
	if ack.Seq != 42 || ack.Accepted != 1 || ack.Rejected != 0 {
		t.Fatalf("ack = %v", ack)
	}
	code, a, body := e.query(t, e.token(t, "read-token"), "agent=e2e-host&check=plugin.seq&metric=seq&from=-5m")
	if code != 200 || len(a.Series) != 1 || len(a.Series[0].Points) != 1 || a.Series[0].Points[0] != [2]float64{float64(now), 7} {
		t.Fatalf("query: %d %s", code, body)
	}
	// Another agent's id with this agent's token is refused, and says why.
	other, err := transport.NewHTTPSClient("http://"+e.http, transport.TLSConfig{}, "someone-else", e.token(t, "agent-token"),
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var he *transport.HTTPError
	if _, err := other.Send(context.Background(), b); !errors.As(err, &he) || he.StatusCode != 403 || !strings.Contains(he.Message, "e2e-host") {
		t.Fatalf("err = %v", err)
	}
}
