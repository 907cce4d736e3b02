//go:build unix

package plugin

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigilmon/vigil/agent/check"
)

// writePlugin writes body as an executable file name in a new trusted
// directory, without adding a #! line.
func writePlugin(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(trustedDir(t), name)
	if err := os.WriteFile(p, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

const python3 = "/usr/bin/python3"

func needPython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python3); err != nil {
		t.Skipf("skipped: %s not installed (%v): apt-get install python3 to run this test", python3, err)
	}
}

// TestRunWithoutShebang: a script without a #! line the kernel accepts
// runs with /bin/sh, as execvp runs it, with its arguments.
func TestRunWithoutShebang(t *testing.T) {
	rn, _ := testRunner(t, 0)
	tests := []struct{ name, body string }{
		{"no first line", "echo \"status ok args $1 $2\"\necho 'metric x int 1'\n"},
		{"#! typo", "#/usr/bin/env bash\necho \"status ok args $1 $2\"\necho 'metric x int 1'\n"},
		{"blank first line", "\necho \"status ok args $1 $2\"\necho 'metric x int 1'\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writePlugin(t, "plugin", tt.body)
			r, err := run(t, rn, Config{Path: p, Args: []string{"a b", "c"}})
			if err != nil || r.Status != check.OK || r.Message != "args a b c" {
				t.Fatalf("%v %v %q", err, r.Status, r.Message)
			}
			if v, ok := metricStr(r, "x"); !ok || v != "1" {
				t.Errorf("metric x: %q %v", v, ok)
			}
		})
	}
	t.Run("empty file", func(t *testing.T) {
		r, err := run(t, rn, Config{Path: writePlugin(t, "plugin", ""), Format: FormatNagios})
		if err != nil || r.Status != check.OK {
			t.Fatalf("%v %v %q", err, r.Status, r.Message)
		}
	})
	// The file rules hold before the shell is started.
	t.Run("writable by others refused", func(t *testing.T) {
		p := writePlugin(t, "plugin", "touch "+filepath.Join(t.TempDir(), "ran")+"\n")
		if err := os.Chmod(p, 0o757); err != nil {
			t.Fatal(err)
		}
		r, err := run(t, rn, Config{Path: p})
		if err == nil || !strings.Contains(err.Error(), "refused: file") || r.Status != check.Unknown {
			t.Fatalf("%v %v %q", err, r.Status, r.Message)
		}
	})
}

// TestRunCloudkickSkipsBadLines runs real Cloudkick plugins that print
// lines the Rackspace agent would skip: the rest counts, the message and
// plugin_parse_errors say what was skipped, and the log says it once.
func TestRunCloudkickSkipsBadLines(t *testing.T) {
	rn, logs := testRunner(t, 0)
	sh := script(t, `echo "Checking things..."
echo "status ok all good"
echo "metric a int32 7 ms"
echo "metric b int32 1.5"
echo "metric c string fine"
`)
	for _, format := range []Format{FormatCloudkick, FormatAuto} {
		r, err := run(t, rn, Config{Path: sh, Format: format})
		if err != nil || r.Status != check.OK {
			t.Fatalf("%s: %v %v %q", format, err, r.Status, r.Message)
		}
		want := `all good [2 lines skipped; line 1: unrecognized line "Checking things...": want status, state, timestamp or metric; ` +
			`line 4: metric b: value "1.5" is not an integer in the range of int32]`
		if r.Message != want {
			t.Errorf("%s: message %q, want %q", format, r.Message, want)
		}
		sameMetrics(t, r.Metrics, []check.Metric{str("legacy_state", "ok"), gauge("a", 7, "ms"), str("c", "fine"), gauge("plugin_parse_errors", 2, "")})
	}
	if n := strings.Count(logs.String(), "plugin output lines skipped"); n != 1 || !strings.Contains(logs.String(), `"lines":2`) ||
		!strings.Contains(logs.String(), `Checking things...`) {
		t.Errorf("%d log records for the same skipped lines over 2 runs, want 1:\n%s", n, logs)
	}

	t.Run("python", func(t *testing.T) {
		needPython(t)
		p := writePlugin(t, "plugin.py", `#!/usr/bin/python3
print("Checking things...")
print("status ok python works")
print("metric answer int32 42")
print("metric ratio gauge 0.5 percent")
print("metric broken int32 4294967296")
`)
		r, err := run(t, rn, Config{Path: p, Format: FormatCloudkick})
		if err != nil || r.Status != check.OK || !strings.HasPrefix(r.Message, "python works [2 lines skipped; line 1: ") ||
			!strings.Contains(r.Message, "line 5: metric broken") {
			t.Fatalf("%v %v %q", err, r.Status, r.Message)
		}
		sameMetrics(t, r.Metrics, []check.Metric{str("legacy_state", "ok"), gauge("answer", 42, ""), gauge("ratio", 0.5, "percent"), gauge("plugin_parse_errors", 2, "")})
	})
}

// TestRunFailureMessageFromStderr: a plugin that fails without saying why
// on stdout gets the last meaningful line of its stderr in the message.
func TestRunFailureMessageFromStderr(t *testing.T) {
	rn, _ := testRunner(t, 0)
	t.Run("shell", func(t *testing.T) {
		p := script(t, "echo 'starting' >&2\nno_such_command_here\nexit 2\n")
		r, err := run(t, rn, Config{Path: p, Format: FormatNagios})
		if err != nil || r.Status != check.Crit || !strings.HasPrefix(r.Message, "plugin exited with code 2: ") ||
			!strings.Contains(r.Message, "no_such_command_here: not found") {
			t.Fatalf("%v %v %q", err, r.Status, r.Message)
		}
	})
	t.Run("long stderr: the end counts", func(t *testing.T) {
		p := script(t, "head -c 10000 /dev/zero | tr '\\0' x >&2\necho >&2\necho 'the real reason' >&2\necho '   ^^^^' >&2\nexit 1\n")
		r, err := run(t, rn, Config{Path: p, Format: FormatNagios})
		if err != nil || r.Message != "plugin exited with code 1: the real reason" {
			t.Fatalf("%v %v %q", err, r.Status, r.Message)
		}
	})
	t.Run("cloudkick plugin that printed a line, then died", func(t *testing.T) {
		p := script(t, "echo 'Checking things...'\necho 'fatal: config missing' >&2\nexit 1\n")
		r, err := run(t, rn, Config{Path: p, Format: FormatCloudkick})
		if err != nil || r.Status != check.Unknown || !strings.HasPrefix(r.Message, "plugin exited with code 1: fatal: config missing [1 line skipped; line 1: ") {
			t.Fatalf("%v %v %q", err, r.Status, r.Message)
		}
	})
	tests := []struct {
		name, body, want string
	}{
		{"python syntax error", "#!/usr/bin/python3\nimport sys\n\ndef f(:\n    pass\n", "plugin exited with code 1: SyntaxError: invalid syntax"},
		{"python exception", "#!/usr/bin/python3\nimport json\n\ndef load():\n    return json.loads('{}')['missing']\n\nload()\n", "plugin exited with code 1: KeyError: 'missing'"},
		{"python sys.exit(2) with a message", "#!/usr/bin/python3\nimport sys\nsys.exit('CRITICAL: cannot read /etc/app.conf')\n", "plugin exited with code 1: CRITICAL: cannot read /etc/app.conf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			needPython(t)
			p := writePlugin(t, "plugin.py", tt.body)
			for _, format := range []Format{FormatAuto, FormatNagios, FormatCloudkick} {
				r, err := run(t, rn, Config{Path: p, Format: format})
				if err != nil || format == FormatCloudkick && r.Status != check.Unknown || r.Message != tt.want {
					t.Errorf("%s: %v %v %q, want %q", format, err, r.Status, r.Message, tt.want)
				}
			}
		})
	}
}

// TestRunNotFound: a missing plugin says "not found" with its path, and
// which directory on the way is missing.
func TestRunNotFound(t *testing.T) {
	rn, logs := testRunner(t, 0)
	dir := trustedDir(t)
	tests := []struct{ path, want string }{
		{filepath.Join(dir, "nope"), "plugin " + filepath.Join(dir, "nope") + ": not found"},
		{filepath.Join(dir, "gone", "nope"), "plugin " + filepath.Join(dir, "gone", "nope") + ": not found: " + filepath.Join(dir, "gone") + " does not exist"},
	}
	for _, tt := range tests {
		r, err := run(t, rn, Config{Path: tt.path})
		var nf *NotFoundError
		if !errors.As(err, &nf) || err.Error() != tt.want || r.Message != tt.want || r.Status != check.Unknown {
			t.Errorf("%v (%T) %v %q, want %q", err, err, r.Status, r.Message, tt.want)
		}
	}
	if !strings.Contains(logs.String(), "plugin not found") || strings.Contains(logs.String(), "plugin refused") {
		t.Errorf("log: %s", logs)
	}
	// Relative to a plugin directory that does not exist.
	rn2 := NewRunner(RunnerOptions{Dir: filepath.Join(dir, "nodir"), Logger: rn.log})
	r, err := run(t, rn2, Config{Path: "p"})
	if want := "plugin " + filepath.Join(dir, "nodir", "p") + ": not found: " + filepath.Join(dir, "nodir") + " does not exist"; err == nil || err.Error() != want {
		t.Errorf("%v %q, want %q", err, r.Message, want)
	}
}
