package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStrictModesCheckPlugin: `vigil-agent check --plugin` runs a plugin
// only if no user other than root and the agent's could change it, with
// the same rules as the running agent; the plugin never starts otherwise.
func TestStrictModesCheckPlugin(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root to give files to another user (CI runs as root)")
	}
	dir := trustedDir(t)
	marker := filepath.Join(dir, "ran")
	body := []byte("#!/bin/sh\ntouch " + marker + "\necho 'status ok ran'\n")
	write := func(p string) string {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	open := write(filepath.Join(dir, "open", "p.sh"))
	if err := os.Chmod(filepath.Dir(open), 0o777); err != nil {
		t.Fatal(err)
	}
	good := write(filepath.Join(dir, "good", "p.sh"))
	planted := filepath.Join(dir, "good", "planted")
	if err := os.Symlink(good, planted); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(planted, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"directory writable by others", open, "directory " + filepath.Dir(open) + " is writable by others (mode 0777); fix: chmod o-w"},
		{"symlink of another user", planted, "symlink " + planted + " is owned by uid 65534"},
		{"under /tmp", write(filepath.Join(t.TempDir(), "p.sh")), "(mode 1777, sticky)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(marker)
			reps, code, out := runCheck(t, "--json", "--plugin", tt.path)
			if code != 3 || len(reps) != 1 || reps[0].Status != "unknown" ||
				!strings.Contains(reps[0].Message, "plugin "+tt.path+": refused: ") || !strings.Contains(reps[0].Message, tt.want) {
				t.Fatalf("exit %d, want 3 (unknown) and a message containing %q:\n%s", code, tt.want, out)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the refused plugin ran")
			}
		})
	}
	if reps, code, out := runCheck(t, "--json", "--plugin", good); code != 0 || len(reps) != 1 || reps[0].Message != "ran" {
		t.Fatalf("a plugin only root can change: exit %d\n%s", code, out)
	}
}

// TestStrictModesRun: the agent does not start on a config others could
// write or a token file others could read, and says which and how to fix
// it; with the modes setup and the packages write it starts.
func TestStrictModesRun(t *testing.T) {
	agent, _ := binaries(t)
	dir := trustedDir(t)
	conf, tok := filepath.Join(dir, "agent.toml"), filepath.Join(dir, "agent-token")
	writeFile(t, tok, []byte("tok\n"), 0o600)
	writeFile(t, conf, []byte("[agent]\nid = \"strict\"\ntoken_file = \""+tok+"\"\nstate_dir = \""+filepath.Join(dir, "state")+"\"\n[transport]\ncollectors = [\"127.0.0.1:9\"]\n"), 0o600)
	tests := []struct {
		name                string
		confMode, tokenMode os.FileMode
		want                string
	}{
		{"world-writable config", 0o666, 0o600, "config " + conf + ": writable by others (mode 0666)"},
		{"world-readable token", 0o640, 0o644, "agent.token_file: " + tok + ": readable by others (mode 0644)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chmod(t, conf, tt.confMode)
			chmod(t, tok, tt.tokenMode)
			cmd := exec.Command(agent, "run", "--config", conf)
			done := make(chan struct{})
			var out []byte
			var err error
			go func() { out, err = cmd.CombinedOutput(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill() //nolint:errcheck // teardown: the process may have exited or been killed already
				<-done             //nolint:errcheck // teardown: the process may have exited or been killed already
				t.Fatalf("the agent ran with an unsafe file:\n%s", out)
			}
			if err == nil || !strings.Contains(string(out), tt.want) || !strings.Contains(string(out), "fix: chmod") {
				t.Fatalf("exit %v, want a failure saying %q and the fix:\n%s", err, tt.want, out)
			}
		})
	}
}
