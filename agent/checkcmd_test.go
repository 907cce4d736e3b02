package agent

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/vigilmon/vigil/agent/config"
	"github.com/vigilmon/vigil/agent/plugin"
)

// TestRunChecksWaitsOnlyForCPU: only a check that compares two readings
// (cpu) makes `vigil-agent check` wait sampleGap; load and memory report
// at once.
func TestRunChecksWaitsOnlyForCPU(t *testing.T) {
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	begin := time.Now()
	reps, err := RunChecks(context.Background(), cfg, []string{"load", "memory"}, log)
	if took := time.Since(begin); err != nil || len(reps) != 2 || took >= sampleGap {
		t.Fatalf("load and memory: %v, %d reports, took %v (the cpu sample gap is %v)", err, len(reps), took, sampleGap)
	}
	for _, r := range reps {
		if !r.Ran || len(r.Metrics) == 0 {
			t.Errorf("%s: ran %v, %d metrics: %s", r.Check, r.Ran, len(r.Metrics), r.Message)
		}
	}

	begin = time.Now()
	reps, err = RunChecks(context.Background(), cfg, []string{"cpu"}, log)
	if took := time.Since(begin); err != nil || len(reps) != 1 || took < sampleGap {
		t.Fatalf("cpu: %v, %d reports, took %v, want at least %v", err, len(reps), took, sampleGap)
	}
	found := false
	for _, m := range reps[0].Metrics {
		found = found || m.Name == "usage_percent"
	}
	if !found {
		t.Errorf("cpu reported no usage_percent (it needs two samples): %+v", reps[0].Metrics)
	}
}

func TestReportExitCode(t *testing.T) {
	tests := []struct {
		rep  Report
		want int
	}{
		{Report{Status: "ok", Ran: true}, 0},
		{Report{Status: "warn", Ran: true}, 1},
		{Report{Status: "crit", Ran: true}, 2},
		{Report{Status: "unknown", Ran: true}, 3},
		{Report{Status: "unknown", Ran: false}, 3},
		{Report{Status: "ok", Ran: false}, 3},
	}
	for _, tt := range tests {
		if got := tt.rep.ExitCode(); got != tt.want {
			t.Errorf("%+v: exit %d, want %d", tt.rep, got, tt.want)
		}
	}
}

// TestRunPluginExitCode runs Debian's check_dummy, which exits with the
// code it is given: the report's exit code is that code.
func TestRunPluginExitCode(t *testing.T) {
	const dummy = "/usr/lib/nagios/plugins/check_dummy"
	if _, err := os.Stat(dummy); err != nil {
		t.Skipf("skipped: %s not installed (%v): apt-get install monitoring-plugins-basic to run this test", dummy, err)
	}
	for code, status := range []string{"ok", "warn", "crit", "unknown"} {
		rep := RunPlugin(context.Background(), plugin.Config{Path: dummy, Args: []string{string(rune('0' + code)), "text"}})
		if rep.Status != status || rep.ExitCode() != code {
			t.Errorf("check_dummy %d: %s exit %d (%s)", code, rep.Status, rep.ExitCode(), rep.Message)
		}
	}
	missing := "/usr/lib/nagios/plugins/check_no_such_plugin"
	rep := RunPlugin(context.Background(), plugin.Config{Path: missing})
	if rep.ExitCode() != ExitUnknown || rep.Message != "plugin "+missing+": not found" {
		t.Errorf("missing plugin: exit %d %q", rep.ExitCode(), rep.Message)
	}
}
