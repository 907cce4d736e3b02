package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// promVector runs an instant PromQL query and returns its vector as
// label set (Prometheus' String form without the name) to value; nil
// while the collector cannot answer.
func promVector(t *testing.T, addr, token, expr string) map[string]string {
	t.Helper()
	code, body, _ := promQuery(t, addr, token, expr, 10*time.Second)
	if code != 200 {
		return nil
	}
	var a struct {
		Data struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &a); err != nil || a.Data.ResultType != "vector" {
		t.Fatalf("%s: %v: %s", expr, err, body)
	}
	out := map[string]string{}
	for _, r := range a.Data.Result {
		out[fmt.Sprint(r.Metric)] = fmt.Sprint(r.Value[1])
	}
	return out
}

// TestCheckStatusSeries: a Nagios plugin's CRITICAL (exit 2) and a
// built-in check's ok reach PromQL as vigil_check_status, with their
// duration, so an alert rule can select them; over QUIC and over the
// HTTPS fallback, which share the derivation.
func TestCheckStatusSeries(t *testing.T) {
	for _, transport := range []string{"quic", "https"} {
		t.Run(transport, func(t *testing.T) {
			e := setup(t, "1s")
			plugin := filepath.Join(e.dir, "check_disk.sh")
			writeFile(t, plugin, []byte("#!/bin/sh\necho \"DISK CRITICAL - / is 97% full|'/ used'=97%;80;90\"\nexit 2\n"), 0o755)
			conf := filepath.Join(e.dir, "agent.toml")
			b, err := os.ReadFile(conf)
			if err != nil {
				t.Fatal(err)
			}
			s := string(b)
			if transport == "https" {
				// QUIC goes to a port where nothing listens, and the agent
				// falls back to the API (plain HTTP is allowed on loopback).
				s = strings.Replace(s, fmt.Sprintf("collectors = [%q]", e.quic), fmt.Sprintf("collectors = [%q]", freeUDP(t)), 1)
				s = strings.Replace(s, "[transport]\n", fmt.Sprintf("[transport]\nhttps = \"http://%s\"\nreconnect_max = \"1s\"\n", e.http), 1)
			}
			for _, c := range []string{"memory", "filesystem", "disk", "network", "load", "system"} {
				s += fmt.Sprintf("\n[checks.%s]\nenabled = false\n", c)
			}
			s += fmt.Sprintf("\n[plugins.check_disk]\npath = %q\ninterval = \"1s\"\nformat = \"nagios\"\n", plugin)
			if err := os.WriteFile(conf, []byte(s), 0o600); err != nil {
				t.Fatal(err)
			}
			start(t, e.coll, "run", "--config", filepath.Join(e.dir, "collector.toml"))
			ag := start(t, e.agent, "run", "--config", conf)
			read := e.token(t, "read-token")
			waitFor(t, 10*time.Second, "the collector to answer", func() bool {
				resp, err := http.Get("http://" + e.http + "/healthz")
				if err == nil {
					resp.Body.Close()
				}
				return err == nil
			})

			// The alert expression of the README.
			const alert = `vigil_check_status{check=~"plugin\\..*"} >= 2`
			var got map[string]string
			waitFor(t, 60*time.Second, "the plugin's CRITICAL as vigil_check_status", func() bool {
				got = promVector(t, e.http, read, alert)
				return len(got) == 1
			})
			if want := `map[__name__:vigil_check_status agent:e2e-host check:plugin.check_disk]`; got[want] != "2" {
				t.Fatalf("%s = %v, want {%s} 2", alert, got, want)
			}
			waitFor(t, 30*time.Second, "cpu's status ok", func() bool {
				return promVector(t, e.http, read, `vigil_check_status{agent="e2e-host",check="cpu"}`)[`map[__name__:vigil_check_status agent:e2e-host check:cpu]`] == "0"
			})
			if d := promVector(t, e.http, read, `vigil_check_duration_seconds{check="plugin.check_disk"} >= 0`); len(d) != 1 {
				t.Fatalf("duration: %v", d)
			}
			// The plugin's own metric keeps its name beside them.
			if v := promVector(t, e.http, read, `plugin_check_disk_value{perfdata="/ used"}`); len(v) != 1 {
				t.Errorf("the plugin's perfdata: %v", v)
			}
			// /v1/query has the same series under the check.
			code, a, body := e.query(t, read, "agent=e2e-host&check=plugin.check_disk&metric=vigil.status&from=-5m")
			if code != 200 || len(a.Series) != 1 || len(a.Series[0].Points) == 0 || a.Series[0].Points[len(a.Series[0].Points)-1][1] != 2 {
				t.Fatalf("/v1/query vigil.status: %d %s", code, body)
			}
			if transport == "https" && !strings.Contains(ag.output(), "sending over HTTPS") {
				t.Fatalf("the agent did not fall back to HTTPS:\n%s", ag.output())
			}
		})
	}
}
