package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/alarm"
)

const alertmanagerBin = "/usr/bin/prometheus-alertmanager"

// lockedBuffer collects a child's output for failure messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startAlertmanager runs Debian's Alertmanager on 127.0.0.1 with a temp
// config and storage, and returns its base URL once it is ready.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(alertmanagerBin); err != nil {
		t.Skipf("%s not found (Debian package prometheus-alertmanager; .ci/run installs it): %v", alertmanagerBin, err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	// One receiver that sends nothing: the test reads the alerts back.
	if err := os.WriteFile(cfg, []byte("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // a small race with another process taking the port; the readiness wait would then fail loudly
	out := &lockedBuffer{}
	cmd := exec.Command(alertmanagerBin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", alertmanagerBin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case <-done:
			t.Fatalf("alertmanager exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready at %s after 20s (last error %v): %s", base, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type gettableAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
}

func getAlerts(t *testing.T, base string) []gettableAlert {
	t.Helper()
	resp, err := http.Get(base + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var as []gettableAlert
	if err := json.NewDecoder(resp.Body).Decode(&as); err != nil {
		t.Fatalf("GET /api/v2/alerts: status %d: %v", resp.StatusCode, err)
	}
	return as
}

// waitAlerts polls GET /api/v2/alerts until ok accepts the answer.
func waitAlerts(t *testing.T, base, what string, ok func([]gettableAlert) bool) []gettableAlert {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		as := getAlerts(t, base)
		if ok(as) {
			return as
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: alerts after 10s: %+v", what, as)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestAlertmanagerReal(t *testing.T) {
	base := startAlertmanager(t)
	am, err := NewAlertmanager(AlertmanagerConfig{URL: base + "/", Labels: map[string]string{"team": "ops"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)

	// Two agents go WARNING, one in a group of two.
	var g Grouper
	g.Add("acme", "al1", "disk full", tr("web1", alarm.StateOK, alarm.StateWarning, start, "85% full"), start)
	g.Add("acme", "al1", "disk full", tr("web2", alarm.StateOK, alarm.StateWarning, start, "81% full"), start)
	warn := g.FlushAll()[0]
	if err := am.Send(ctx, warn); err != nil {
		t.Fatal(err)
	}
	as := waitAlerts(t, base, "two warnings", func(as []gettableAlert) bool { return len(as) == 2 })
	for _, a := range as {
		want := map[string]string{"alertname": "disk full", "vigil_alarm_id": "al1", "severity": "warning",
			"tenant": "acme", "check": "disk", "team": "ops"}
		for k, v := range want {
			if a.Labels[k] != v {
				t.Errorf("label %s = %q, want %q (%v)", k, a.Labels[k], v, a.Labels)
			}
		}
		if a.Labels["agent"] != "web1" && a.Labels["agent"] != "web2" {
			t.Errorf("agent label %q", a.Labels["agent"])
		}
		if a.Annotations["idempotency_key"] != warn.Key || a.Status.State != "active" || !a.StartsAt.Equal(start) {
			t.Errorf("alert %+v, want active since %v with key %s", a, start, warn.Key)
		}
	}

	// web1 goes CRITICAL: its warning ends, a critical starts.
	at := start.Add(30 * time.Second)
	crit := NewNotification("acme", "al1", "disk full", tr("web1", alarm.StateWarning, alarm.StateCritical, at, "95% full"))
	if err := am.Send(ctx, crit); err != nil {
		t.Fatal(err)
	}
	waitAlerts(t, base, "web1 critical, web2 warning", func(as []gettableAlert) bool {
		sev := map[string]string{}
		for _, a := range as {
			sev[a.Labels["agent"]] += a.Labels["severity"]
		}
		return len(as) == 2 && sev["web1"] == "critical" && sev["web2"] == "warning"
	})

	// Both recover: resolved alerts (endsAt in the past) leave the list.
	var g2 Grouper
	g2.Add("acme", "al1", "disk full", tr("web1", alarm.StateCritical, alarm.StateOK, at.Add(time.Second), ""), at)
	g2.Add("acme", "al1", "disk full", tr("web2", alarm.StateWarning, alarm.StateOK, at.Add(time.Second), ""), at)
	if err := am.Send(ctx, g2.FlushAll()[0]); err != nil {
		t.Fatal(err)
	}
	waitAlerts(t, base, "all resolved", func(as []gettableAlert) bool { return len(as) == 0 })

	// A wrong base URL gets the real server's 404: permanent.
	wrong, err := NewAlertmanager(AlertmanagerConfig{URL: base + "/nope"})
	if err != nil {
		t.Fatal(err)
	}
	err = wrong.Send(ctx, crit)
	var se *SendError
	if !errors.As(err, &se) || se.Status != http.StatusNotFound || IsRetryable(err) {
		t.Errorf("wrong path: %v", err)
	}
}
