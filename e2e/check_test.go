package e2e

import (
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

type report struct {
	Check      string `json:"check"`
	Status     string `json:"status"`
	Message    string `json:"message"`
	DurationMS *int64 `json:"duration_ms"`
	Metrics    []struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
		Type   string            `json:"type"`
		Value  any               `json:"value"`
		Unit   string            `json:"unit"`
	} `json:"metrics"`
}

func runCheck(t *testing.T, args ...string) ([]report, int, string) {
	t.Helper()
	agent, _ := binaries(t)
	cmd := exec.Command(agent, append([]string{"check"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var reps []report
	if len(out) > 0 && strings.Contains(strings.Join(args, " "), "--json") {
		if err := json.Unmarshal(out, &reps); err != nil {
			t.Fatalf("output is not a JSON array: %v\n%s", err, out)
		}
	}
	return reps, code, stderr.String() + string(out)
}

func TestCheckCommandBuiltins(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "agent.toml")
	writeFile(t, conf, []byte("[checks.load]\ninterval = \"5s\"\n"), 0o600)
	reps, code, out := runCheck(t, "--config", conf, "cpu", "load", "--json")
	if code != 0 || len(reps) != 2 {
		t.Fatalf("exit %d, %d reports:\n%s", code, len(reps), out)
	}
	cpu := reps[0]
	if cpu.Check != "cpu" || cpu.Status != "ok" || cpu.DurationMS == nil {
		t.Fatalf("cpu report: %+v", cpu)
	}
	names := map[string]bool{}
	for _, m := range cpu.Metrics {
		names[m.Name] = true
		if strings.HasSuffix(m.Name, "_percent") {
			if v, ok := m.Value.(float64); !ok || v < 0 || v > 100 || m.Type != "gauge" {
				t.Fatalf("cpu %s = %v (%s)", m.Name, m.Value, m.Type)
			}
		}
	}
	if !names["usage_percent"] || !names["count"] {
		t.Fatalf("cpu metrics %v lack usage_percent or count (the command samples twice)", names)
	}
	if reps[1].Check != "load" || len(reps[1].Metrics) != 3 {
		t.Fatalf("load report: %+v", reps[1])
	}

	if _, code, out := runCheck(t, "--config", conf, "nosuch"); code != 1 || !strings.Contains(out, `no check "nosuch"`) {
		t.Fatalf("unknown check: exit %d\n%s", code, out)
	}
	// The table form names each check and metric.
	if _, code, out := runCheck(t, "--config", conf, "memory"); code != 0 || !strings.Contains(out, "memory") || !strings.Contains(out, "available_bytes") {
		t.Fatalf("table: exit %d\n%s", code, out)
	}
}

func TestCheckCommandPlugin(t *testing.T) {
	dir := trustedDir(t)
	good := filepath.Join(dir, "good.sh")
	writeFile(t, good, []byte("#!/bin/sh\necho \"status ok fine $1\"\necho \"metric latency.p99 double 1.5 ms\"\n"), 0o755)
	reps, code, out := runCheck(t, "--json", "--plugin", good, "--", "arg1")
	if code != 0 || len(reps) != 1 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	r := reps[0]
	if r.Check != "plugin.good" || r.Status != "ok" || r.Message != "fine arg1" {
		t.Fatalf("report: %+v", r)
	}
	found := false
	for _, m := range r.Metrics {
		found = found || m.Name == "latency.p99" && m.Value == 1.5 && m.Unit == "ms"
	}
	if !found {
		t.Fatalf("latency.p99 missing: %+v", r.Metrics)
	}

	bad := filepath.Join(dir, "bad.sh")
	writeFile(t, bad, []byte("#!/bin/sh\necho \"metric x gauge notanumber\"\n"), 0o755)
	reps, code, out = runCheck(t, "--json", "--plugin", bad, "--format", "cloudkick")
	if code != 1 || len(reps) != 1 || reps[0].Status != "unknown" || !strings.Contains(reps[0].Message, "line 1") {
		t.Fatalf("malformed plugin: exit %d:\n%s", code, out)
	}
}
