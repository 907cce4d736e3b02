//go:build unix

package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigilmon/vigil/agent/check"
)

// script writes an executable /bin/sh script into a new temporary
// directory and returns its path. The runner tests do not run in parallel:
// a file being written while another test forks could not be executed
// (ETXTBSY).
func script(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(trustedDir(t), "plugin.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func testRunner(t *testing.T, concurrency int) (*Runner, *bytes.Buffer) {
	var logs bytes.Buffer
	rn := NewRunner(RunnerOptions{
		Concurrency: concurrency,
		Logger:      slog.New(slog.NewJSONHandler(&lockedWriter{w: &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	rn.waitDelay = 200 * time.Millisecond
	return rn, &logs
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func run(t *testing.T, rn *Runner, cfg Config) (check.Result, error) {
	t.Helper()
	var r check.Result
	err := rn.Run(context.Background(), cfg, "plugin.test", 90*time.Second, &r)
	checkInvariants(t, &r, err)
	return r, err
}

func metricStr(r check.Result, name string) (string, bool) {
	for _, m := range r.Metrics {
		if m.Name == name {
			if m.Type == check.String {
				return m.Str, true
			}
			return strconv.FormatFloat(m.Value, 'f', -1, 64), true
		}
	}
	return "", false
}

// gone waits until pid no longer runs (a zombie left to a non-reaping init
// counts as gone).
func gone(pid int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] == 'Z' {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		t.Fatalf("pid file %q", b)
	}
	return pid
}

func TestRunEnvironmentAndArgs(t *testing.T) {
	path := script(t, `
echo "status ok env"
echo "metric id string $VIGIL_CHECK_ID"
echo "metric interval string $VIGIL_CHECK_INTERVAL"
echo "metric rax_id string $RAX_CHECK_ID"
echo "metric rax_period string $RAX_CHECK_PERIOD"
echo "metric rax_type string $RAX_CHECK_TYPE"
echo "metric custom string $MY_VAR"
echo "metric path_set int ${PATH:+1}"
echo "metric args string $#:$1|$2"
`)
	rn, _ := testRunner(t, 0)
	r, err := run(t, rn, Config{Path: path, Args: []string{"a b", "c"}, Env: map[string]string{"MY_VAR": "x y=z"}, Format: FormatCloudkick})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != check.OK || r.Message != "env" {
		t.Errorf("got %v %q", r.Status, r.Message)
	}
	want := map[string]string{
		"id": "plugin.test", "interval": "90", "rax_id": "plugin.test", "rax_period": "90", "rax_type": "agent.plugin",
		"custom": "x y=z", "path_set": "1", "args": "2:a b|c",
	}
	for k, w := range want {
		if got, _ := metricStr(r, k); got != w {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}

	// A sub-second interval is written as a decimal number of seconds.
	var r2 check.Result
	if err := rn.Run(context.Background(), Config{Path: path, Env: map[string]string{"MY_VAR": "v"}}, "c2", 1500*time.Millisecond, &r2); err != nil {
		t.Fatal(err)
	}
	if got, _ := metricStr(r2, "interval"); got != "1.5" {
		t.Errorf("interval = %q, want 1.5", got)
	}
}

func TestRunStdinClosed(t *testing.T) {
	path := script(t, `
if read -r line; then echo "status got input: $line"; else echo "status eof"; fi
n=$(cat | wc -c)
echo "metric stdin_bytes int $n"
`)
	rn, _ := testRunner(t, 0)
	start := time.Now()
	r, err := run(t, rn, Config{Path: path, Timeout: Duration{Duration: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Message != "eof" {
		t.Errorf("message %q, want eof", r.Message)
	}
	if n, _ := metricStr(r, "stdin_bytes"); n != "0" {
		t.Errorf("stdin_bytes = %q", n)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v: stdin not closed?", d)
	}
}

func TestRunStderrLogged(t *testing.T) {
	path := script(t, `
echo "oops on stderr" >&2
head -c 10000 /dev/zero | tr '\0' e >&2
echo "status ok fine"
`)
	rn, logs := testRunner(t, 0)
	r, err := run(t, rn, Config{Path: path})
	if err != nil || r.Status != check.OK {
		t.Fatalf("%v %v %q", err, r.Status, r.Message)
	}
	var rec struct {
		Level, Msg, Check, Plugin, Stderr string
		StderrCut                         bool `json:"stderr_cut"`
	}
	if err := json.Unmarshal(logs.Bytes(), &rec); err != nil {
		t.Fatalf("log %q: %v", logs, err)
	}
	if rec.Level != "INFO" || rec.Check != "plugin.test" || rec.Plugin != path || !rec.StderrCut ||
		!strings.HasPrefix(rec.Stderr, "oops on stderr\neee") || len(rec.Stderr) != StderrBytes {
		t.Errorf("log record: level %s check %q plugin %q cut %v stderr %d bytes %.30q", rec.Level, rec.Check, rec.Plugin, rec.StderrCut, len(rec.Stderr), rec.Stderr)
	}

	// A failed run logs at warn, and the first stderr line explains a bare exit code.
	path = script(t, "echo 'cannot open /etc/foo.conf' >&2\nexit 3\n")
	logs.Reset()
	r, err = run(t, rn, Config{Path: path, Format: FormatCloudkick})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != check.Unknown || r.Message != "plugin exited with code 3: cannot open /etc/foo.conf" {
		t.Errorf("got %v %q", r.Status, r.Message)
	}
	if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(logs.String(), "cannot open /etc/foo.conf") {
		t.Errorf("log: %s", logs)
	}
}

func TestRunCloudkickNonZeroExit(t *testing.T) {
	rn, _ := testRunner(t, 0)
	tests := []struct {
		body   string
		status check.Status
		msg    string
		n      int
	}{
		{"echo 'metric x int32 1'\nexit 2\n", check.Unknown, "plugin exited with code 2", 1},
		{"echo 'status err disk full'\nexit 1\n", check.Crit, "disk full (exit code 1)", 1},
		{"echo 'status cannot connect'\nexit 1\n", check.Unknown, "cannot connect (exit code 1)", 0},
		{"echo 'status ok all good'\nexit 0\n", check.OK, "all good", 1},
	}
	for _, tt := range tests {
		r, err := run(t, rn, Config{Path: script(t, tt.body), Format: FormatCloudkick})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != tt.status || r.Message != tt.msg || len(r.Metrics) != tt.n {
			t.Errorf("%q: got %v %q %d metrics, want %v %q %d", tt.body, r.Status, r.Message, len(r.Metrics), tt.status, tt.msg, tt.n)
		}
	}
}

func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "grandchild.pid")
	path := script(t, `
sleep 30 &
echo $! > `+pidFile+`
echo "status started"
sleep 30
`)
	rn, _ := testRunner(t, 0)
	start := time.Now()
	r, err := run(t, rn, Config{Path: path, Timeout: Duration{Duration: 500 * time.Millisecond}})
	d := time.Since(start)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("error %v, want ErrTimeout", err)
	}
	if r.Status != check.Unknown || !strings.Contains(r.Message, "timed out after 500ms, process group killed") {
		t.Errorf("got %v %q", r.Status, r.Message)
	}
	if d < 500*time.Millisecond || d > 3*time.Second {
		t.Errorf("Run took %v", d)
	}
	if pid := readPid(t, pidFile); !gone(pid, 2*time.Second) {
		_ = syscall.Kill(pid, syscall.SIGKILL) // cleanup only; the failure is reported next
		t.Errorf("grandchild %d still running after the timeout", pid)
	}
}

func TestRunGrandchildHoldingStdout(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "grandchild.pid")
	// The plugin exits at once but leaves a process holding its stdout.
	path := script(t, `
sleep 30 &
echo $! > `+pidFile+`
echo "status ok quick"
`)
	rn, _ := testRunner(t, 0)
	start := time.Now()
	r, err := run(t, rn, Config{Path: path, Timeout: Duration{Duration: 20 * time.Second}})
	if err != nil || r.Status != check.OK || r.Message != "quick" {
		t.Fatalf("%v %v %q", err, r.Status, r.Message)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Run took %v with a grandchild holding stdout", d)
	}
	if pid := readPid(t, pidFile); !gone(pid, 2*time.Second) {
		_ = syscall.Kill(pid, syscall.SIGKILL) // cleanup only; the failure is reported next
		t.Errorf("grandchild %d left running", pid)
	}
}

func TestRunContextCancelled(t *testing.T) {
	path := script(t, "sleep 30\n")
	rn, _ := testRunner(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var r check.Result
	start := time.Now()
	err := rn.Run(ctx, Config{Path: path}, "c", time.Minute, &r)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) || r.Status != check.Unknown || !strings.Contains(r.Message, "stopped") {
		t.Fatalf("%v / %v %q", err, r.Status, r.Message)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestRunOutputCap(t *testing.T) {
	rn, _ := testRunner(t, 0)
	// 10000 lines of 17 bytes; 1000 bytes keep 58 whole lines.
	path := script(t, "yes 'metric x int32 1' | head -n 10000\necho 'status ok never seen'\n")
	r, err := run(t, rn, Config{Path: path, MaxOutputBytes: 1000, Format: FormatCloudkick})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != check.OK || len(r.Metrics) != 58 || r.Message != "[output cut at 1000 bytes]" {
		t.Errorf("got %v %q %d metrics", r.Status, r.Message, len(r.Metrics))
	}

	// Default cap: 64 KiB, and a long status line keeps the note.
	const line = "metric a_rather_long_metric_name_here int32 1\n"
	path = script(t, "echo \"status $(head -c 300 /dev/zero | tr '\\0' s)\"\nyes '"+strings.TrimSpace(line)+"' | head -n 10000\n")
	r, err = run(t, rn, Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Metrics) != (65536-len("status \n")-300)/len(line) || !strings.HasSuffix(r.Message, "[output cut at 65536 bytes]") || len(r.Message) > MaxMessageBytes {
		t.Errorf("got %q %d metrics", r.Message, len(r.Metrics))
	}

	// Endless output: memory stays bounded and the timeout stops it.
	path = script(t, "yes 'metric x int32 1'\n")
	r, err = run(t, rn, Config{Path: path, Timeout: Duration{Duration: 300 * time.Millisecond}})
	if !errors.Is(err, ErrTimeout) {
		t.Errorf("endless output: %v %q", err, r.Message)
	}
}

// TestRunRefusesUnsafeFiles holds the runner to OpenSSH's StrictModes:
// what another local user could change (the file, a directory on the way,
// a symlink) is not run, and the message names the path and the rule.
// Each case sets up a real tree; the plugin would leave a marker if run.
func TestRunRefusesUnsafeFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to give files to another user (CI runs as root)")
	}
	const nobody = 65534
	rn, logs := testRunner(t, 0)
	marker := filepath.Join(trustedDir(t), "ran")
	body := "touch " + marker + "\necho status ok\n"
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		// setup returns the plugin directory and the configured path.
		setup func(t *testing.T) (dir, path string)
		want  string // the reason, after "plugin PATH: refused: "; %s is the plugin's directory
	}{
		{"world-writable file", func(t *testing.T) (string, string) {
			p := script(t, body)
			must(os.Chmod(p, 0o777))
			return "", p
		}, "file %s/plugin.sh is writable by others (mode 0777); fix: chmod o-w %s/plugin.sh"},
		{"other-writable file", func(t *testing.T) (string, string) {
			p := script(t, body)
			must(os.Chmod(p, 0o757))
			return "", p
		}, "file %s/plugin.sh is writable by others (mode 0757)"},
		{"group-writable file", func(t *testing.T) (string, string) {
			p := script(t, body)
			must(os.Chmod(p, 0o775))
			return "", p
		}, "file %s/plugin.sh is writable by group (mode 0775); fix: chmod g-w"},
		{"not executable", func(t *testing.T) (string, string) {
			p := script(t, body)
			must(os.Chmod(p, 0o644))
			return "", p
		}, "file %s/plugin.sh is not executable (mode 0644)"},
		{"file of another user", func(t *testing.T) (string, string) {
			p := script(t, body)
			must(os.Chown(p, nobody, nobody))
			return "", p
		}, "file %s/plugin.sh is owned by uid 65534, neither root nor the agent's user (uid 0); fix: chown root %s/plugin.sh"},
		{"directory", func(t *testing.T) (string, string) {
			return "", trustedDir(t)
		}, "is not a regular file (d"},
		{"world-writable plugin directory", func(t *testing.T) (string, string) {
			p := script(t, body)
			must(os.Chmod(filepath.Dir(p), 0o777))
			return "", p
		}, "directory %s is writable by others (mode 0777); fix: chmod o-w %s"},
		{"group-writable directory above", func(t *testing.T) (string, string) {
			up := trustedDir(t)
			must(os.Mkdir(filepath.Join(up, "sub"), 0o755))
			p := filepath.Join(up, "sub", "plugin.sh")
			must(os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755))
			must(os.Chmod(up, 0o775))
			return "", p
		}, "writable by group (mode 0775)"},
		{"directory of another user", func(t *testing.T) (string, string) {
			p := script(t, body)
			must(os.Chown(filepath.Dir(p), nobody, nobody))
			return "", p
		}, "directory %s is owned by uid 65534"},
		{"sticky world-writable directory (/tmp)", func(t *testing.T) (string, string) {
			p := filepath.Join(t.TempDir(), "plugin.sh")
			must(os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755))
			return "", p
		}, "sticky); fix: keep plugins out of shared temporary directories"},
		{"symlink planted by another user", func(t *testing.T) (string, string) {
			// The attack of the issue: a plugin replaced by a link to any
			// program, made by a user who could write the directory.
			p := script(t, body)
			link := filepath.Join(filepath.Dir(p), "link")
			must(os.Symlink(p, link))
			must(os.Lchown(link, nobody, nobody))
			return "", link
		}, "symlink %s/link is owned by uid 65534, neither root nor the agent's user (uid 0); fix: chown -h root %s/link"},
		{"symlink to a world-writable file", func(t *testing.T) (string, string) {
			p := script(t, body)
			must(os.Chmod(p, 0o777))
			link := filepath.Join(trustedDir(t), "link")
			must(os.Symlink(p, link))
			return "", link
		}, "file %s/plugin.sh is writable by others (mode 0777)"},
		{"symlink through a world-writable directory", func(t *testing.T) (string, string) {
			p := script(t, body)
			must(os.Chmod(filepath.Dir(p), 0o777))
			link := filepath.Join(trustedDir(t), "link")
			must(os.Symlink(p, link))
			return "", link
		}, "is writable by others (mode 0777); fix: chmod o-w"},
		{"symlink loop", func(t *testing.T) (string, string) {
			d := trustedDir(t)
			must(os.Symlink("b", filepath.Join(d, "a")))
			must(os.Symlink("a", filepath.Join(d, "b")))
			return "", filepath.Join(d, "a")
		}, "more than 40 symlinks on the way (a loop?)"},
		{"symlink in the plugin directory to a program elsewhere", func(t *testing.T) (string, string) {
			p := script(t, body)
			dir := trustedDir(t)
			must(os.Symlink(p, filepath.Join(dir, "link")))
			return dir, "link"
		}, "resolves to %s/plugin.sh, outside the plugin directory"},
		{"world-writable plugin directory, relative path", func(t *testing.T) (string, string) {
			p := script(t, body)
			must(os.Chmod(filepath.Dir(p), 0o777))
			return filepath.Dir(p), "plugin.sh"
		}, "directory %s is writable by others (mode 0777)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(marker)
			dir, path := tt.setup(t)
			rn := rn
			if dir != "" {
				rn = NewRunner(RunnerOptions{Dir: dir, Logger: rn.log})
			}
			r, err := run(t, rn, Config{Path: path})
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("error %v, want *RefusedError", err)
			}
			full := path
			if dir != "" {
				full = filepath.Join(dir, path)
			}
			// The directory that holds the plugin, whatever the case made it.
			pdir := filepath.Dir(full)
			if real, err := filepath.EvalSymlinks(pdir); err == nil {
				pdir = real
			}
			if m, _ := filepath.Glob(filepath.Join(filepath.Dir(pdir), ".plugintest-*", "plugin.sh")); len(m) > 0 && strings.Contains(tt.want, "plugin.sh") {
				pdir = filepath.Dir(m[0])
			}
			want := strings.ReplaceAll(tt.want, "%s", pdir)
			if !strings.HasPrefix(err.Error(), "plugin "+full+": refused: ") || !strings.Contains(err.Error(), want) || r.Status != check.Unknown {
				t.Errorf("error %q, want %q", err, want)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("refused plugin ran")
			}
		})
	}
	// A refusal is logged once, not at every run.
	logs.Reset()
	p := script(t, body)
	must(os.Chmod(p, 0o777))
	for range 3 {
		var re *RefusedError
		if _, err := run(t, rn, Config{Path: p}); !errors.As(err, &re) {
			t.Fatalf("error %v, want *RefusedError", err)
		}
	}
	if n := strings.Count(logs.String(), "plugin refused"); n != 1 {
		t.Errorf("%d refusal log lines for 3 runs, want 1:\n%s", n, logs)
	}
}

// TestRunFollowsTrustedSymlinks runs plugins reached through links that
// only root could have made, with argv[0] as configured.
func TestRunFollowsTrustedSymlinks(t *testing.T) {
	rn, _ := testRunner(t, 0)
	p := script(t, "echo \"status ok $(basename $0)\"\n")
	dir := filepath.Dir(p)
	tests := []struct {
		name, dir, path, msg string
	}{
		// A script gets its real path from the kernel as $0.
		{"absolute link elsewhere", "", func() string {
			l := filepath.Join(trustedDir(t), "other-name")
			noErr(t, os.Symlink(p, l))
			return l
		}(), "plugin.sh"},
		{"relative link inside the plugin directory", dir, func() string {
			noErr(t, os.Symlink("plugin.sh", filepath.Join(dir, "alias")))
			return "alias"
		}(), "plugin.sh"},
		{"dot-dot that stays inside", dir, func() string {
			noErr(t, os.Mkdir(filepath.Join(dir, "sub"), 0o755))
			return "sub/../plugin.sh"
		}(), "plugin.sh"},
		{"linked directory", "", func() string {
			l := filepath.Join(trustedDir(t), "d")
			noErr(t, os.Symlink(dir, l))
			return l + "/plugin.sh"
		}(), "plugin.sh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rn := rn
			if tt.dir != "" {
				rn = NewRunner(RunnerOptions{Dir: tt.dir})
			}
			r, err := run(t, rn, Config{Path: tt.path, Format: FormatCloudkick})
			if err != nil || r.Status != check.OK || r.Message != tt.msg {
				t.Fatalf("%v %v %q, want ok %q", err, r.Status, r.Message, tt.msg)
			}
		})
	}

	// A binary reached through a link keeps the link's name as argv[0]:
	// multi-call plugins (check_host -> check_icmp) dispatch on it. A copy
	// of the shell, whose -c sets $0 to argv[0], shows it.
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(sh)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "shell"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("shell", filepath.Join(dir, "check_alias")); err != nil {
		t.Fatal(err)
	}
	rn = NewRunner(RunnerOptions{Dir: dir})
	r, err := run(t, rn, Config{Path: "check_alias", Args: []string{"-c", `echo "status ok ${0##*/}"`}, Format: FormatCloudkick})
	if err != nil || r.Message != "check_alias" {
		t.Errorf("argv[0]: %v %q, want check_alias", err, r.Message)
	}
}

func TestRunFailures(t *testing.T) {
	rn, _ := testRunner(t, 0)
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"binary for another system", Config{Path: func() string {
			p := filepath.Join(trustedDir(t), "p")
			noErr(t, os.WriteFile(p, []byte("\x7fELF\x02\x01\x01\x00\x00\x00 not for this machine\n"), 0o755))
			return p
		}()}, ": exec format error (a binary file, not a script"},
		{"killed by a signal", Config{Path: script(t, "echo status ok\nkill -SEGV $$\n")}, "signal: segmentation fault"},
		{"malformed output", Config{Path: script(t, "echo\necho 'metric x int32 1.5'\n"), Format: FormatCloudkick}, "cloudkick output line 2: metric x: value \"1.5\" is not an integer"},
		{"invalid config", Config{Path: "x", Format: "json"}, `format: unknown format "json"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := run(t, rn, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) || r.Status != check.Unknown || len(r.Metrics) != 0 {
				t.Errorf("error %v, status %v %q; want error containing %q", err, r.Status, r.Message, tt.want)
			}
		})
	}
}

func TestRunRelativePathAndAdapters(t *testing.T) {
	path := script(t, "echo \"status ok $VIGIL_CHECK_ID\"\n")
	rn := NewRunner(RunnerOptions{Dir: filepath.Dir(path)})
	var r check.Result
	if err := rn.Check(Config{Path: filepath.Base(path)}, "plugin.rel", time.Minute).Run(context.Background(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Status != check.OK || r.Message != "plugin.rel" {
		t.Errorf("got %v %q", r.Status, r.Message)
	}

	r, err := RunOnce(context.Background(), Config{Path: path})
	if err != nil || r.Message != "plugin.plugin" {
		t.Errorf("RunOnce: %v %q", err, r.Message)
	}
}

func TestRunConcurrencyBound(t *testing.T) {
	const limit, plugins = 2, 6
	const sleep = 300 * time.Millisecond
	dir := t.TempDir()
	path := script(t, `
date +%s%N > `+dir+`/$1.start
sleep 0.3
date +%s%N > `+dir+`/$1.end
echo status ok
`)
	rn, _ := testRunner(t, limit)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, plugins)
	for i := range plugins {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r check.Result
			errs[i] = rn.Run(context.Background(), Config{Path: path, Args: []string{strconv.Itoa(i)}}, "c"+strconv.Itoa(i), time.Minute, &r)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	type span struct{ start, end int64 }
	var spans []span
	for i := range plugins {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		var s span
		for _, x := range []struct {
			ext string
			v   *int64
		}{{".start", &s.start}, {".end", &s.end}} {
			b, err := os.ReadFile(filepath.Join(dir, strconv.Itoa(i)+x.ext))
			if err != nil {
				t.Fatal(err)
			}
			if *x.v, err = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err != nil {
				t.Fatal(err)
			}
		}
		spans = append(spans, s)
	}
	// A plugin's whole life lies within its hold of a slot, so at no start
	// can more than limit plugins be alive.
	most := 0
	for _, a := range spans {
		n := 0
		for _, b := range spans {
			if b.start <= a.start && a.start < b.end {
				n++
			}
		}
		most = max(most, n)
	}
	if most > limit {
		t.Errorf("%d plugins ran at once, limit %d", most, limit)
	}
	if min := time.Duration(plugins/limit) * sleep; elapsed < min {
		t.Errorf("%d plugins of %v with %d slots took %v, less than %v", plugins, sleep, limit, elapsed, min)
	}
	t.Logf("max concurrent %d, elapsed %v", most, elapsed)
}

func TestRunWaitForSlotRespectsContext(t *testing.T) {
	path := script(t, "sleep 30\n")
	rn, _ := testRunner(t, 1)
	busyCtx, stopBusy := context.WithCancel(context.Background())
	busyDone := make(chan error, 1)
	go func() {
		var r check.Result
		busyDone <- rn.Run(busyCtx, Config{Path: path}, "busy", time.Minute, &r)
	}()
	// Wait until the busy plugin holds the only slot.
	for deadline := time.Now().Add(5 * time.Second); len(rn.sem) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("busy plugin never took the slot")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	var r check.Result
	start := time.Now()
	err := rn.Run(ctx, Config{Path: path}, "waiting", time.Minute, &r)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(r.Message, "not run: no free slot") || r.Status != check.Unknown {
		t.Errorf("%v / %v %q", err, r.Status, r.Message)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %v for a slot", d)
	}
	stopBusy()
	select {
	case err := <-busyDone:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("busy plugin: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("busy plugin not stopped")
	}
}

// noErr fails the test on a setup step's error.
func noErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
