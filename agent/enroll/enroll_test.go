package enroll

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vigilmon/vigil/agent/config"
)

const cannedToken = "vgl_0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"

// fakeCollector answers POST /v1/enroll like a collector: the agent id is
// the one asked for, or the hostname.
type fakeCollector struct {
	requests atomic.Int32
	status   int    // if set, the error status to answer
	message  string // its message
}

func (f *fakeCollector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if r.Method != "POST" || r.URL.Path != "/v1/enroll" {
		http.Error(w, "wrong endpoint", 404)
		return
	}
	if r.Header.Get("Authorization") != "Bearer vgl_enroll" || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, fmt.Sprintf("bad headers %v", r.Header), 400)
		return
	}
	var req struct {
		AgentID  string `json:"agent_id"`
		Hostname string `json:"hostname"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Hostname == "" {
		http.Error(w, fmt.Sprintf("bad body: %v %+v", err, req), 400)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if f.status != 0 {
		w.WriteHeader(f.status)
		fmt.Fprintf(w, `{"error": {"code": "forbidden", "message": %q}}`, f.message)
		return
	}
	id := req.AgentID
	if id == "" {
		id = req.Hostname
	}
	// A failed write shows as the enrolling client's error.
	_ = json.NewEncoder(w).Encode(map[string]string{"agent_id": id, "token": cannedToken, "tenant": "acme"})
}

// collectorTLS starts f over TLS and returns its URL and a CA file for it.
func collectorTLS(t *testing.T, f http.Handler) (string, string) {
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.URL, ca
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestRunWritesANewConfig(t *testing.T) {
	f := &fakeCollector{}
	url, ca := collectorTLS(t, f)
	dir := filepath.Join(t.TempDir(), "etc", "vigil")
	path := filepath.Join(dir, "agent.toml")
	res, err := Run(context.Background(), Options{Collector: url, EnrollToken: "vgl_enroll", AgentID: "web-1",
		Hostname: "web-1.example.com", CAFile: ca, ConfigPath: path})
	if err != nil {
		t.Fatal(err)
	}
	if res.AgentID != "web-1" || res.Tenant != "acme" || !res.Created || res.TokenFile != filepath.Join(dir, "agent-token") {
		t.Fatalf("result = %+v", res)
	}
	for _, p := range []string{path, res.TokenFile} {
		if m := mode(t, p); m != 0o600 {
			t.Fatalf("%s has mode %o, want 600", p, m)
		}
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(url, "https://")
	wantQUIC := strings.Split(host, ":")[0] + ":4433"
	if cfg.Agent.ID != "web-1" || cfg.Agent.Token != cannedToken || cfg.Agent.TokenFile != res.TokenFile ||
		len(cfg.Transport.Collectors) != 1 || cfg.Transport.Collectors[0] != wantQUIC ||
		cfg.Transport.CAFile != ca || cfg.Transport.HTTPS != url {
		t.Fatalf("config = %+v %+v", cfg.Agent, cfg.Transport)
	}
	// The new config is the documented sample with the settings in it.
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), "## Vigil agent configuration") || strings.Contains(string(b), cannedToken) {
		t.Fatalf("config:\n%s", b)
	}
}

func TestRunUpdatesAnExistingConfig(t *testing.T) {
	f := &fakeCollector{}
	url, ca := collectorTLS(t, f)
	dir := t.TempDir()
	path := filepath.Join(dir, "agent.toml")
	orig := `# Managed by hand; keep this comment.
[agent]
id = "old-id"
token = "vgl_old"
labels = { env = "prod" } # and this one
interval = "15s"

[transport]
collectors = [
  "old-1:4433",
  "old-2:4433",
]

[log]
level = "debug"

[plugins.seq]
path = "/usr/lib/vigil/plugins/seq"
interval = "5s"
`
	if err := os.WriteFile(path, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := Options{Collector: url + "/", EnrollToken: " vgl_enroll\n", Hostname: "db-7", CAFile: ca, ConfigPath: path,
		QUIC: []string{"eu.example.com:4433", "us.example.com:4433"}}
	for run := 0; run < 2; run++ { // a second run finds its own settings and replaces them
		res, err := Run(context.Background(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if res.AgentID != "db-7" || res.Created {
			t.Fatalf("result = %+v", res)
		}
	}
	// The existing config was group-readable: config and token stay
	// readable by its group (the packaged agent's user), never by others.
	if m := mode(t, path); m != 0o640 {
		t.Fatalf("config mode %o, want 640", m)
	}
	if m := mode(t, filepath.Join(filepath.Dir(path), "agent-token")); m != 0o640 {
		t.Fatalf("token file mode %o, want 640", m)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Agent.ID != "db-7" || cfg.Agent.Token != cannedToken || cfg.Agent.Labels["env"] != "prod" ||
		cfg.Agent.Interval.Seconds() != 15 || cfg.Log.Level.Level() != slog.LevelDebug || len(cfg.Plugins) != 1 ||
		strings.Join(cfg.Transport.Collectors, ",") != "eu.example.com:4433,us.example.com:4433" {
		t.Fatalf("config = %+v %+v %+v", cfg.Agent, cfg.Transport, cfg.Log)
	}
	b, _ := os.ReadFile(path)
	doc := string(b)
	for _, keep := range []string{"# Managed by hand; keep this comment.", "# and this one", `path = "/usr/lib/vigil/plugins/seq"`} {
		if !strings.Contains(doc, keep) {
			t.Fatalf("lost %q:\n%s", keep, doc)
		}
	}
	if strings.Contains(doc, "vgl_old") || strings.Contains(doc, "old-1") || strings.Count(doc, "id = ") != 1 {
		t.Fatalf("old settings left behind:\n%s", doc)
	}
}

func TestRunRefusedWritesNothing(t *testing.T) {
	f := &fakeCollector{status: 403, message: "a read token cannot enroll agents; use a token with role enroll"}
	url, ca := collectorTLS(t, f)
	path := filepath.Join(t.TempDir(), "agent.toml")
	_, err := Run(context.Background(), Options{Collector: url, EnrollToken: "vgl_enroll", Hostname: "h", CAFile: ca, ConfigPath: path})
	if err == nil || !strings.Contains(err.Error(), "use a token with role enroll") {
		t.Fatalf("err = %v", err)
	}
	if n := f.requests.Load(); n != 1 {
		t.Fatalf("%d requests; a refusal is not retried", n)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 0 {
		t.Fatalf("files written after a refusal: %v", entries)
	}
}

func TestRunChecksBeforeAsking(t *testing.T) {
	f := &fakeCollector{}
	url, ca := collectorTLS(t, f)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name string
		opts Options
		want string
	}{
		{"plain http to a remote host", Options{Collector: "http://collector.example.com:8080", EnrollToken: "vgl_enroll"}, "loopback"},
		{"no token", Options{Collector: url}, "enroll token"},
		{"bad agent id", Options{Collector: url, EnrollToken: "vgl_enroll", AgentID: "web 1"}, "agent id"},
		{"bad QUIC address", Options{Collector: url, EnrollToken: "vgl_enroll", QUIC: []string{"nohost"}}, "host:port"},
		{"config is not TOML", Options{Collector: url, EnrollToken: "vgl_enroll", ConfigPath: write("bad.toml", "[agent\n")}, "cannot update"},
		{"config layout beyond the editor", Options{Collector: url, EnrollToken: "vgl_enroll",
			ConfigPath: write("dotted.toml", "agent.id = \"x\"\n")}, "set these by hand"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Hostname, c.opts.CAFile = "h", ca
			if c.opts.ConfigPath == "" {
				c.opts.ConfigPath = filepath.Join(dir, "unused.toml")
			}
			if _, err := Run(context.Background(), c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
	if n := f.requests.Load(); n != 0 {
		t.Fatalf("the collector was asked %d times", n)
	}
	if _, err := os.Stat(filepath.Join(dir, TokenFileName)); err == nil {
		t.Fatal("a token file was written")
	}
}

func TestRunVerifiesTheCollector(t *testing.T) {
	f := &fakeCollector{}
	url, _ := collectorTLS(t, f)
	_, err := Run(context.Background(), Options{Collector: url, EnrollToken: "vgl_enroll", Hostname: "h",
		ConfigPath: filepath.Join(t.TempDir(), "agent.toml")})
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v", err)
	}
	if n := f.requests.Load(); n != 0 {
		t.Fatalf("an unverified collector got %d requests", n)
	}
}

func TestRunPlainHTTPOnLoopback(t *testing.T) {
	srv := httptest.NewServer(&fakeCollector{})
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "agent.toml")
	res, err := Run(context.Background(), Options{Collector: srv.URL, EnrollToken: "vgl_enroll", Hostname: "h", ConfigPath: path,
		QUIC: []string{"127.0.0.1:4433"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil || cfg.Transport.HTTPS != srv.URL || cfg.Transport.CAFile != "" || res.AgentID != "h" {
		t.Fatalf("config %+v, err %v", cfg.Transport, err)
	}
}

func TestConfigRefusesPlainHTTPFallbackToRemoteHosts(t *testing.T) {
	for doc, ok := range map[string]bool{
		"[transport]\nhttps = \"https://c.example.com:8443\"\n": true,
		"[transport]\nhttps = \"http://127.0.0.1:8080\"\n":      true,
		"[transport]\nhttps = \"http://c.example.com:8080\"\n":  false,
		"[transport]\nhttps = \"c.example.com:8443\"\n":         false,
	} {
		if _, err := config.Parse([]byte(doc)); (err == nil) != ok {
			t.Errorf("%q: err = %v", doc, err)
		}
	}
}
