//go:build unix

package plugin

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilmon/vigil/agent/check"
)

const nagiosPlugins = "/usr/lib/nagios/plugins"

// TestRealNagiosPlugins runs Debian's monitoring-plugins-basic through the
// runner, with the format given and detected.
func TestRealNagiosPlugins(t *testing.T) {
	if _, err := os.Stat(nagiosPlugins + "/check_load"); err != nil {
		t.Skipf("Nagios plugins not installed (%v): apt-get install monitoring-plugins-basic to run this test", err)
	}
	swapTotal, swapFree := meminfo(t, "SwapTotal"), meminfo(t, "SwapFree")
	var fs syscall.Statfs_t
	if err := syscall.Statfs("/", &fs); err != nil {
		t.Fatal(err)
	}
	rootFreePct := 100 * float64(fs.Bavail) / float64(fs.Blocks)

	type want struct {
		metric string
		value  float64 // checked unless -1
		unit   string  // checked unless empty
	}
	type plugin struct {
		name     string
		args     []string
		status   func(check.Status) bool
		msg      string // prefix
		want     []want
		labelled string // perfdata label expected on a "value" metric
		exact    bool   // msg is the whole message, not a prefix
		skip     func(check.Result) string
	}
	tests := []plugin{
		{
			name:   "check_load",
			args:   []string{"-w", "100,100,100", "-c", "200,200,200"},
			status: is(check.OK),
			msg:    "LOAD OK",
			want: []want{{"load1", -1, ""}, {"load1_warn", 100, ""}, {"load1_crit", 200, ""}, {"load1_min", 0, ""},
				{"load5", -1, ""}, {"load5_warn", 100, ""}, {"load15", -1, ""}, {"load15_crit", 200, ""}},
		},
		{
			name:     "check_disk",
			args:     []string{"-w", "1%", "-c", "1%", "-p", "/"},
			status:   func(s check.Status) bool { return s == check.OK || rootFreePct < 2 },
			msg:      "DISK ",
			labelled: "/",
		},
		{
			name:   "check_users",
			args:   []string{"-w", "100", "-c", "200"},
			status: is(check.OK),
			msg:    "USERS OK",
			want:   []want{{"users", -1, ""}, {"users_warn", 100, ""}, {"users_crit", 200, ""}, {"users_min", 0, ""}},
		},
		{
			name: "check_swap",
			args: []string{"-w", "10%", "-c", "5%"},
			status: func(s check.Status) bool {
				if swapTotal == 0 {
					return s == check.Crit // no swap is critical unless -n says otherwise
				}
				free := 100 * swapFree / swapTotal
				return free > 11 && s == check.OK || free < 4 && s == check.Crit || free >= 4 && free <= 11
			},
			msg:  "SWAP ",
			want: []want{{"swap", -1, ""}},
		},
		{
			name:   "check_procs",
			args:   nil,
			status: is(check.OK),
			msg:    "PROCS OK",
			want:   []want{{"procs", -1, ""}, {"procs_min", 0, ""}},
		},
		{
			name:   "check_dummy",
			args:   []string{"2", "boom"},
			status: is(check.Crit),
			msg:    "CRITICAL: boom",
		},
		// Exit codes 0, 1, 3 are ok, warn, unknown.
		{name: "check_dummy", args: []string{"0", "fine"}, status: is(check.OK), msg: "OK: fine", exact: true},
		{name: "check_dummy", args: []string{"3", "eh"}, status: is(check.Unknown), msg: "UNKNOWN: eh", exact: true},
		{
			// Long output: the lines after the first follow it in the message.
			name:   "check_dummy",
			args:   []string{"1", "2 disks failing\n/dev/sda: reallocated sectors\n/dev/sdb: pending sectors"},
			status: is(check.Warn),
			msg:    "WARNING: 2 disks failing; /dev/sda: reallocated sectors; /dev/sdb: pending sectors",
			exact:  true,
		},
		{
			// Perfdata after a '|' in the long output.
			name:   "check_dummy",
			args:   []string{"0", "up\nlong output | x=5ms;1:10"},
			status: is(check.OK),
			msg:    "OK: up; long output",
			exact:  true,
			want:   []want{{"x", 0.005, "s"}, {"x_warn_min", 0.001, "s"}, {"x_warn_max", 0.01, "s"}},
		},
		{
			// Range thresholds become _min and _max gauges.
			name:   "check_procs",
			args:   []string{"-w", "1:100000", "-c", "1:200000"},
			status: is(check.OK),
			msg:    "PROCS OK",
			want:   []want{{"procs", -1, ""}, {"procs_warn_min", 1, ""}, {"procs_warn_max", 100000, ""}, {"procs_crit_min", 1, ""}, {"procs_crit_max", 200000, ""}},
		},
		{
			// Inside ranges (@) get their own names: alert inside.
			name:   "check_procs",
			args:   []string{"-w", "@100000:200000", "-c", "@200001:300000"},
			status: is(check.OK),
			msg:    "PROCS OK",
			want:   []want{{"procs_warn_inside_min", 100000, ""}, {"procs_warn_inside_max", 200000, ""}, {"procs_crit_inside_min", 200001, ""}},
		},
		{
			// ms become seconds; needs ping to work here.
			name:   "check_ping",
			args:   []string{"-H", "127.0.0.1", "-w", "100,20%", "-c", "500,60%", "-p", "1"},
			status: is(check.OK),
			msg:    "PING OK",
			want:   []want{{"rta", -1, "s"}, {"rta_warn", 0.1, "s"}, {"rta_crit", 0.5, "s"}, {"pl", 0, "%"}},
			skip: func(r check.Result) string {
				if r.Status != check.OK {
					return "check_ping cannot ping 127.0.0.1 here: " + r.Message
				}
				return ""
			},
		},
	}
	if swapTotal == 0 {
		tests = append(tests, plugin{name: "check_swap", args: []string{"-w", "10%", "-c", "5%", "-n", "ok"},
			status: is(check.OK), msg: "SWAP OK", want: []want{{"swap", 0, "B"}}})
	}

	rn := NewRunner(RunnerOptions{Dir: nagiosPlugins})
	for _, tt := range tests {
		for _, format := range []Format{FormatNagios, FormatAuto} {
			t.Run(tt.name+" "+strings.Join(tt.args, " ")+"/"+format.String(), func(t *testing.T) {
				var r check.Result
				err := rn.Run(context.Background(), Config{Path: tt.name, Args: tt.args, Format: format, Timeout: Duration{Duration: 10 * time.Second}}, "plugin."+tt.name, time.Minute, &r)
				checkInvariants(t, &r, err)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%v %q", r.Status, r.Message)
				for _, m := range r.Metrics {
					t.Logf("  %s", fmtMetric(m))
				}
				if tt.skip != nil {
					if why := tt.skip(r); why != "" {
						t.Skip(why)
					}
				}
				if !tt.status(r.Status) || !strings.HasPrefix(r.Message, tt.msg) || tt.exact && r.Message != tt.msg {
					t.Errorf("got %v %q, want message %q and another status", r.Status, r.Message, tt.msg)
				}
				for _, w := range tt.want {
					m, ok := findMetric(r, w.metric, nil)
					if !ok {
						t.Errorf("no metric %s", w.metric)
						continue
					}
					if w.value != -1 && m.Value != w.value || w.unit != "" && m.Unit != w.unit {
						t.Errorf("%s = %v %q, want %v %q", w.metric, m.Value, m.Unit, w.value, w.unit)
					}
				}
				if tt.labelled != "" {
					l := []check.Label{lbl("perfdata", tt.labelled)}
					v, ok := findMetric(r, "value", l)
					vmax, okMax := findMetric(r, "value_max", l)
					if !ok || !okMax || v.Value <= 0 || v.Value > vmax.Value || v.Unit == "" || v.Unit != vmax.Unit {
						t.Errorf("no value and value_max with perfdata=%q and the same unit: %v %v", tt.labelled, v, vmax)
					}
				}
			})
		}
	}
}

func is(want check.Status) func(check.Status) bool {
	return func(s check.Status) bool { return s == want }
}

func findMetric(r check.Result, name string, labels []check.Label) (check.Metric, bool) {
	for _, m := range r.Metrics {
		if m.Name != name || len(m.Labels) != len(labels) {
			continue
		}
		same := true
		for i := range labels {
			same = same && m.Labels[i] == labels[i]
		}
		if same {
			return m, true
		}
	}
	return check.Metric{}, false
}

// meminfo returns a /proc/meminfo value in kB, or 0.
func meminfo(t *testing.T, key string) float64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && k == key {
			n, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return n
		}
	}
	return 0
}
