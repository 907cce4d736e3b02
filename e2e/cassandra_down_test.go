package e2e

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestCollectorStartsWithCassandraDown runs vigil-collector against a
// Cassandra port where nothing listens. It must stay up (it used to panic
// in gocql about a second after start, at its first reconnect, and so
// crash-loop under systemd), answer /readyz 503 with the reason while it
// retries in the background, say so once in its log, and stop on SIGTERM.
func TestCollectorStartsWithCassandraDown(t *testing.T) {
	soak(t)
	e := setup(t, "10s")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := filepath.Join(e.dir, "collector.toml")
	doc, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	doc = append(doc, []byte("\n[store]\nbackend = \"cassandra\"\n[store.cassandra]\nhosts = [\"127.0.0.1\"]\nlocal_dc = \"dc1\"\nconnect_timeout = \"200ms\"\nport = "+
		strconv.Itoa(port)+"\n")...)
	if err := os.WriteFile(conf, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, e.coll, "run", "--config", conf)
	readyz := func() (int, string) {
		resp, err := http.Get("http://" + e.http + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, 10*time.Second, "/readyz to answer", func() bool { code, _ := readyz(); return code != 0 })
	// Reconnects come after about 1 s, 3 s and 7 s: stay through two.
	until := time.Now().Add(4 * time.Second)
	for time.Now().Before(until) {
		// A collector that exited leaves /readyz unanswered (code 0).
		if strings.Contains(p.output(), "panic") {
			t.Fatalf("collector exited while Cassandra was down:\n%s", p.output())
		}
		code, body := readyz()
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "cassandra: not connected") || !strings.Contains(body, strconv.Itoa(port)) {
			t.Fatalf("/readyz = %d %s; want 503 naming the unreachable Cassandra", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n := strings.Count(p.output(), "cassandra unavailable"); n != 1 {
		t.Errorf("logged the outage %d times, want once:\n%s", n, p.output())
	}
}
