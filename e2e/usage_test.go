package e2e

import (
	"errors"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runBin runs a binary to completion and returns its exit status and output.
func runBin(t *testing.T, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v", filepath.Base(bin), args, err)
	}
	return code, out.String(), errOut.String()
}

var usageCommand = regexp.MustCompile(`(?m)^  ([a-z][a-z-]*)`)

// The usage text and the dispatch come from one table: every command the
// usage lists runs (its -h does not fall through to "unknown command"), and
// the usage goes to stdout for help and to stderr, status 2, for a mistake.
func TestUsageAndHelp(t *testing.T) {
	agent, collector := binaries(t)
	for _, tc := range []struct {
		bin  string
		want []string // commands the usage must list
	}{
		{agent, []string{"run", "reload", "check", "config", "setup", "version", "install", "uninstall", "start", "stop", "restart", "status"}},
		{collector, []string{"run", "token", "dev-setup", "schema", "migrate", "import", "store", "version", "install", "uninstall", "start", "stop", "restart", "status"}},
	} {
		name := filepath.Base(tc.bin)
		t.Run(name, func(t *testing.T) {
			code, usage, stderr := runBin(t, tc.bin, "help")
			if code != 0 || stderr != "" || !strings.HasPrefix(usage, "usage: "+name+" <command>") {
				t.Fatalf("%s help: status %d, stdout %q, stderr %q", name, code, usage, stderr)
			}
			var listed []string
			for _, m := range usageCommand.FindAllStringSubmatch(usage, -1) {
				listed = append(listed, m[1])
			}
			if strings.Join(listed, " ") != strings.Join(tc.want, " ") {
				t.Errorf("usage lists %q, want %q:\n%s", listed, tc.want, usage)
			}
			for _, c := range listed {
				code, _, stderr := runBin(t, tc.bin, c, "-h")
				if code == 2 && strings.Contains(stderr, "unknown command") {
					t.Errorf("%s %s -h: listed but not dispatched: %s", name, c, stderr)
				}
			}
			if code, stdout, stderr := runBin(t, tc.bin); code != 2 || stdout != "" || stderr != usage {
				t.Errorf("%s without a command: status %d, stdout %q, stderr %q; want 2 and the usage on stderr", name, code, stdout, stderr)
			}
			code, stdout, stderr := runBin(t, tc.bin, "frobnicate")
			if code != 2 || stdout != "" || !strings.HasPrefix(stderr, name+`: unknown command "frobnicate"`) || !strings.HasSuffix(stderr, usage) {
				t.Errorf("%s frobnicate: status %d, stdout %q, stderr %q", name, code, stdout, stderr)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	agent, collector := binaries(t)
	for _, bin := range []string{agent, collector} {
		name := filepath.Base(bin)
		for _, arg := range []string{"version", "--version", "-version"} {
			code, stdout, stderr := runBin(t, bin, arg)
			if code != 0 || stderr != "" || !strings.HasPrefix(stdout, name+" ") || !strings.Contains(stdout, "(commit ") {
				t.Errorf("%s %s: status %d, stdout %q, stderr %q", name, arg, code, stdout, stderr)
			}
		}
	}
}

// A bad log level stops either daemon at start with the key, the value and
// the levels it takes; a good one in any case is accepted.
func TestConfigLogLevel(t *testing.T) {
	agent, collector := binaries(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		bin, doc string
	}{
		{agent, "[log]\nlevel = \"loud\"\n"},
		{collector, "[log]\nlevel = \"loud\"\n"},
	} {
		name := filepath.Base(tc.bin)
		conf := filepath.Join(dir, name+".toml")
		writeFile(t, conf, []byte(tc.doc), 0o600)
		code, _, stderr := runBin(t, tc.bin, "run", "--config", conf)
		want := `line 2 column 9: log.level: invalid log level "loud": want debug, info, warn or error`
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("%s run with level loud: status %d, stderr %q; want 1 and %q", name, code, stderr, want)
		}
	}
}
