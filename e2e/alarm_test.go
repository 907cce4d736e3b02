package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
)

// TestAlarmNotifiesOncePerTransition runs the real binaries: a plugin
// whose metric the test flips drives an alarm OK → CRITICAL → OK, and a
// local webhook gets exactly one notification per transition, each with
// its own idempotency key; the store holds the three transitions.
func TestAlarmNotifiesOncePerTransition(t *testing.T) {
	e := setup(t, "1s")
	var (
		mu   sync.Mutex
		got  []string
		keys = map[string]bool{}
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n struct {
			State       string `json:"state"`
			Transitions []struct {
				From string `json:"from"`
			} `json:"transitions"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &n); err != nil || len(n.Transitions) != 1 {
			t.Errorf("webhook body %s: %v", body, err)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, n.Transitions[0].From+">"+n.State)
		keys[r.Header.Get("Idempotency-Key")] = true
	}))
	defer hook.Close()
	received := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}

	// The alarm and its plan, written before the collector opens the store.
	storeDir := filepath.Join(e.dir, "collector", "store")
	st, err := pebble.Open(storeDir, pebble.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg, _ := json.Marshal(map[string]string{"type": "webhook", "url": hook.URL})
	if err := st.PutPlan(ctx, store.NotificationPlan{Tenant: "dev", ID: "ops",
		Receivers: map[string][][]byte{"OK": {cfg}, "CRITICAL": {cfg}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutAlarm(ctx, store.Alarm{Tenant: "dev", ID: "v-high", Name: "v high", Check: "plugin.flip",
		Criteria: "if (metric['v'] > 90) { return new AlarmStatus(CRITICAL, 'v is #{v}'); }\nreturn new AlarmStatus(OK);",
		Period:   10 * time.Second, Plan: "ops"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	value := filepath.Join(e.dir, "flip.value")
	writeFile(t, value, []byte("1\n"), 0o644)
	plugin := filepath.Join(e.dir, "flip.sh")
	writeFile(t, plugin, []byte(fmt.Sprintf("#!/bin/sh\necho \"status ok\"\necho \"metric v int64 $(cat %q)\"\n", value)), 0o755)
	conf := filepath.Join(e.dir, "agent.toml")
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, c := range []string{"cpu", "memory", "filesystem", "disk", "network", "load", "system"} {
		s += fmt.Sprintf("\n[checks.%s]\nenabled = false\n", c)
	}
	s += fmt.Sprintf("\n[plugins.flip]\npath = %q\ninterval = \"1s\"\nformat = \"cloudkick\"\n", plugin)
	writeFile(t, conf, []byte(s), 0o600)

	coll := start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
	start(t, e.agent, "run", "--config", conf)

	// NONE → OK notifies no one: flip once it is recorded, which /metrics
	// counts.
	waitFor(t, 30*time.Second, "NONE → OK in /metrics", func() bool {
		resp, err := http.Get("http://" + e.http + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), "\nvigil_alarm_eval_transitions_total 1\n")
	})
	writeFile(t, value, []byte("99\n"), 0o644)
	waitFor(t, 30*time.Second, "the CRITICAL notification", func() bool { return len(received()) >= 1 })
	writeFile(t, value, []byte("1\n"), 0o644)
	waitFor(t, 30*time.Second, "the OK notification", func() bool { return len(received()) >= 2 })

	coll.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it is running
	coll.cmd.Wait()                          //nolint:errcheck // stopped by the test
	if r := received(); len(r) != 2 || r[0] != "OK>CRITICAL" || r[1] != "CRITICAL>OK" || len(keys) != 2 {
		t.Fatalf("webhook got %v with %d keys, want OK>CRITICAL and CRITICAL>OK once each", r, len(keys))
	}
	st, err = pebble.Open(storeDir, pebble.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ts, err := st.Transitions(ctx, "dev", "v-high", 0)
	if err != nil {
		t.Fatal(err)
	}
	var path []string
	for i := len(ts) - 1; i >= 0; i-- {
		path = append(path, ts[i].From+">"+ts[i].To)
	}
	if strings.Join(path, " ") != "NONE>OK OK>CRITICAL CRITICAL>OK" {
		t.Fatalf("transitions %v", path)
	}
}
