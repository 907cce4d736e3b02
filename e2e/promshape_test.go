package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPrometheusClientsGetPrometheusAnswers runs the real collector: its
// /metrics has the refusal counters at 0 before any refusal and passes
// promtool's lint, and /prometheus/ answers a missing token and an
// unknown path in Prometheus' error shape.
func TestPrometheusClientsGetPrometheusAnswers(t *testing.T) {
	e := setup(t, "2s")
	start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
	var body string
	waitFor(t, 20*time.Second, "the collector's /metrics", func() bool {
		resp, err := http.Get("http://" + e.http + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == 200
	})
	for _, line := range []string{
		`vigil_collector_points_rejected_total{reason="series_limit"} 0`,
		`vigil_collector_hellos_refused_total{reason="unauthenticated"} 0`,
		`vigil_collector_batches_refused_total{reason="store_failed",transport="quic"} 0`,
	} {
		if !strings.Contains(body, "\n"+line+"\n") {
			t.Errorf("/metrics of a fresh collector lacks %s", line)
		}
	}
	if promtool, err := exec.LookPath("promtool"); err != nil {
		t.Log("promtool not installed (Debian package prometheus); skipping promtool check metrics")
	} else {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Errorf("promtool check metrics on the collector's /metrics: %v\n%s", err, out.String())
		}
	}

	read := e.token(t, "read-token")
	for _, tt := range []struct {
		path, token string
		code        int
		errType     string
	}{
		{"/prometheus/api/v1/query?query=up", "", 401, "unauthenticated"},
		{"/prometheus/api/v1/targets", read, 404, "not_found"},
	} {
		req, _ := http.NewRequest("GET", "http://"+e.http+tt.path, nil)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var a struct{ Status, ErrorType, Error string }
		err = json.NewDecoder(resp.Body).Decode(&a)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tt.code || a.Status != "error" || a.ErrorType != tt.errType || a.Error == "" {
			t.Errorf("%s: %d %+v (%v), want %d in Prometheus' shape with errorType %s", tt.path, resp.StatusCode, a, err, tt.code, tt.errType)
		}
	}
}
