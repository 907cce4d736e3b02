// Package e2e runs the real vigil-agent and vigil-collector binaries
// against each other on loopback.
package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds both commands once per test run.
func binaries(t *testing.T) (agent, collector string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "vigil-e2e-bin")
		if buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", binDir+"/", "../cmd/vigil-agent", "../cmd/vigil-collector")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "vigil-agent"), filepath.Join(binDir, "vigil-collector")
}

// soak skips a long test (restarts, outages, full disks under load: 10 s
// and more each) under go test -short, the quick loop; make test, which
// does not pass -short, runs it.
func soak(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("long soak test: skipped with -short (make test runs it)")
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func freeUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

func freeTCP(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a started binary whose output the test can read.
type proc struct {
	cmd *exec.Cmd
	mu  sync.Mutex
	out bytes.Buffer
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func start(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...)}
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // teardown: the process may have exited or been killed already
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case <-done: //nolint:errcheck // teardown: the process may have exited or been killed already
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill() //nolint:errcheck // teardown: the process may have exited or been killed already
			<-done               //nolint:errcheck // teardown: the process may have exited or been killed already
			t.Errorf("%s did not stop within 15 s of SIGTERM", filepath.Base(bin))
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), p.output())
		}
	})
	return p
}

// env is a dev-mode setup on free ports in a temp dir.
type env struct {
	dir, http, quic string
	agent, coll     string
}

func setup(t *testing.T, interval string) *env {
	agent, coll := binaries(t)
	e := &env{dir: trustedDir(t), http: freeTCP(t), quic: freeUDP(t), agent: agent, coll: coll}
	out, err := exec.Command(coll, "dev-setup", "--dir", e.dir, "--quic", e.quic, "--http", e.http,
		"--agent-id", "e2e-host", "--interval", interval).CombinedOutput()
	if err != nil {
		t.Fatalf("dev-setup: %v\n%s", err, out)
	}
	return e
}

func (e *env) token(t *testing.T, name string) string {
	b, err := os.ReadFile(filepath.Join(e.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

type queryAnswer struct {
	Series []struct {
		Agent      string            `json:"agent"`
		Check      string            `json:"check"`
		Metric     string            `json:"metric"`
		Labels     map[string]string `json:"labels"`
		Resolution string            `json:"resolution"`
		Points     [][2]float64      `json:"points"`
	} `json:"series"`
}

func (e *env) query(t *testing.T, token, params string) (int, queryAnswer, string) {
	req, _ := http.NewRequest("GET", "http://"+e.http+"/v1/query?"+params, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, queryAnswer{}, err.Error()
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return 0, queryAnswer{}, err.Error()
	}
	var a queryAnswer
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(buf.Bytes(), &a); err != nil {
			t.Fatalf("decode %s: %v", buf.String(), err)
		}
	}
	return resp.StatusCode, a, buf.String()
}

func TestAgentDeliversCPU(t *testing.T) {
	e := setup(t, "2s")
	start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
	start(t, e.agent, "run", "--config", filepath.Join(e.dir, "agent.toml"))
	read := e.token(t, "read-token")

	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		code, a, body := e.query(t, read, "agent=e2e-host&check=cpu&metric=usage_percent&from=-5m")
		last = body
		if code != 200 || len(a.Series) == 0 || len(a.Series[0].Points) < 2 {
			continue
		}
		s := a.Series[0]
		if s.Agent != "e2e-host" || s.Check != "cpu" || s.Metric != "usage_percent" || s.Resolution != "raw" {
			t.Fatalf("unexpected series header: %s", body)
		}
		now := time.Now().UnixMilli()
		for _, p := range s.Points {
			if p[1] < 0 || p[1] > 100 {
				t.Fatalf("usage_percent %v outside [0,100]: %s", p[1], body)
			}
			if p[0] < float64(now-5*60*1000) || p[0] > float64(now+1000) {
				t.Fatalf("timestamp %v outside the queried range: %s", p[0], body)
			}
		}
		return
	}
	t.Fatalf("no two CPU points within 30 s; last answer: %s", last)
}

func TestWrongTokenRefused(t *testing.T) {
	e := setup(t, "2s")
	// A well-formed token the collector never issued.
	bad := "vgl_" + strings.Repeat("A", 43)
	if err := os.WriteFile(filepath.Join(e.dir, "agent-token"), []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	coll := start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
	ag := start(t, e.agent, "run", "--config", filepath.Join(e.dir, "agent.toml"))

	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		if strings.Contains(ag.output(), "collector refused this agent") &&
			strings.Contains(ag.output(), "token is unknown or revoked") {
			if !strings.Contains(coll.output(), "agent refused") {
				t.Fatalf("collector did not log the refusal:\n%s", coll.output())
			}
			code, a, body := e.query(t, e.token(t, "read-token"), "agent=e2e-host&check=cpu&metric=count&from=-5m")
			if code != 200 || len(a.Series) != 0 {
				t.Fatalf("refused agent's data was stored: %d %s", code, body)
			}
			return
		}
	}
	t.Fatalf("agent did not log the collector's reason within 20 s:\n%s", ag.output())
}

// The agent reconnects when the collector goes away and comes back, and the
// results it held meanwhile arrive.
func TestAgentReconnects(t *testing.T) {
	e := setup(t, "1s")
	collConf := filepath.Join(e.dir, "collector.toml")
	coll := start(t, e.coll, "run", "--config", collConf)
	ag := start(t, e.agent, "run", "--config", filepath.Join(e.dir, "agent.toml"))
	read := e.token(t, "read-token")
	count := func() int {
		_, a, _ := e.query(t, read, "agent=e2e-host&check=cpu&metric=count&from=-10m")
		if len(a.Series) == 0 {
			return 0
		}
		return len(a.Series[0].Points)
	}
	waitFor(t, 20*time.Second, "first points", func() bool { return count() >= 2 })

	coll.cmd.Process.Kill() //nolint:errcheck // Wait below says whether it ran
	coll.cmd.Wait()         //nolint:errcheck // killed: its status is "killed"
	down := time.Now()
	time.Sleep(3 * time.Second)
	start(t, e.coll, "run", "--config", collConf)
	waitFor(t, 30*time.Second, "reconnect", func() bool {
		return strings.Count(ag.output(), "connected to collector") >= 2
	})
	// Every second of the outage has its point: the queue held them.
	waitFor(t, 20*time.Second, "points from the outage", func() bool {
		_, a, _ := e.query(t, read, fmt.Sprintf("agent=e2e-host&check=cpu&metric=count&from=%d&to=%d",
			down.UnixMilli(), down.Add(3*time.Second).UnixMilli()))
		return len(a.Series) == 1 && len(a.Series[0].Points) >= 2
	})
	if !strings.Contains(ag.output(), "lost collector") {
		t.Fatalf("agent did not log losing the collector:\n%s", ag.output())
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok() {
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", d, what)
}

func writeFile(t *testing.T, path string, b []byte, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, b, perm); err != nil {
		t.Fatal(err)
	}
}

func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// appendFile appends text to the file at path, such as a table to a config.
func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
