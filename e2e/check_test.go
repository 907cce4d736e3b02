package e2e

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	// Only cpu needs two readings a second apart; load alone does not wait.
	begin := time.Now()
	if reps, code, out := runCheck(t, "--config", conf, "load", "--json"); code != 0 || len(reps) != 1 || len(reps[0].Metrics) != 3 {
		t.Fatalf("load alone: exit %d\n%s", code, out)
	}
	if took := time.Since(begin); took >= time.Second {
		t.Errorf("check load took %v: it waited for the cpu's sample gap", took)
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

	// Output with no readable line: unknown, exit status 3 as Nagios.
	bad := filepath.Join(dir, "bad.sh")
	writeFile(t, bad, []byte("#!/bin/sh\necho \"metric x gauge notanumber\"\n"), 0o755)
	reps, code, out = runCheck(t, "--json", "--plugin", bad, "--format", "cloudkick")
	if code != 3 || len(reps) != 1 || reps[0].Status != "unknown" || !strings.Contains(reps[0].Message, "line 1") {
		t.Fatalf("malformed plugin: exit %d:\n%s", code, out)
	}
}

// TestCheckCommandPluginExitStatus: `check --plugin` exits as a Nagios
// plugin does: 0 ok, 1 warn, 2 crit, 3 unknown or could not run.
func TestCheckCommandPluginExitStatus(t *testing.T) {
	dir := trustedDir(t)
	plugins := map[string]string{
		"warn.sh":   "#!/bin/sh\necho 'status warn disk 91% full'\n",
		"crit.sh":   "#!/bin/sh\necho 'status err down'\n",
		"noshebang": "echo 'status ok no #! line'\n",
	}
	for name, body := range plugins {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing.sh")
	tests := []struct {
		args   []string
		code   int
		status string
		msg    string
	}{
		{[]string{"--plugin", filepath.Join(dir, "noshebang")}, 0, "ok", "no #! line"},
		{[]string{"--plugin", filepath.Join(dir, "warn.sh")}, 1, "warn", "disk 91% full"},
		{[]string{"--plugin", filepath.Join(dir, "crit.sh")}, 2, "crit", "down"},
		{[]string{"--plugin", missing}, 3, "unknown", "plugin " + missing + ": not found"},
	}
	const nagios = "/usr/lib/nagios/plugins/check_dummy"
	if _, err := os.Stat(nagios); err == nil {
		for code, status := range []string{"ok", "warn", "crit", "unknown"} {
			text := "line one\nline two"
			tests = append(tests, struct {
				args   []string
				code   int
				status string
				msg    string
			}{[]string{"--plugin", nagios, "--", string(rune('0' + code)), text}, code, status,
				[]string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}[code] + ": line one; line two"})
		}
	} else {
		t.Logf("check_dummy cases skipped: %s not installed (apt-get install monitoring-plugins-basic)", nagios)
	}
	for _, tt := range tests {
		reps, code, out := runCheck(t, append([]string{"--json"}, tt.args...)...)
		if code != tt.code || len(reps) != 1 || reps[0].Status != tt.status || reps[0].Message != tt.msg {
			t.Errorf("%v: exit %d, want %d %s %q:\n%s", tt.args, code, tt.code, tt.status, tt.msg, out)
		}
	}
}
