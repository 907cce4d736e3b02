//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadRefusesUnsafeFiles: a config others could write, or a token file
// others could read, stops the agent with the path, the mode and the fix;
// the modes the packages and setup write pass.
func TestLoadRefusesUnsafeFiles(t *testing.T) {
	tests := []struct {
		name                string
		confMode, tokenMode os.FileMode
		confOwner           int    // -1: keep
		want                string // "" means it loads
	}{
		{"packaged modes", 0o640, 0o640, -1, ""},
		{"setup modes", 0o600, 0o600, -1, ""},
		{"group-writable config", 0o660, 0o600, -1, ""},
		{"world-writable config", 0o666, 0o600, -1, "agent.toml: writable by others (mode 0666): any local user could make the agent run a program; fix: chmod o-w "},
		{"other-writable config", 0o602, 0o600, -1, "writable by others (mode 0602)"},
		{"config of another user", 0o644, 0o600, 65534, "owned by uid 65534, neither root nor the agent's user"},
		{"world-readable token", 0o644, 0o644, -1, "agent-token: readable by others (mode 0644): any local user could take the agent's token; fix: chmod o-rw "},
		{"other-writable token", 0o600, 0o602, -1, "agent-token: writable by others (mode 0602)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.confOwner >= 0 && os.Geteuid() != 0 {
				t.Skip("skipped: needs root to give the config away")
			}
			dir := t.TempDir()
			conf, tok := filepath.Join(dir, "agent.toml"), filepath.Join(dir, "agent-token")
			if err := os.WriteFile(tok, []byte("secret\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(conf, []byte("[agent]\nid = \"a\"\ntoken_file = \""+tok+"\"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			// Chmod, not WriteFile's mode: the umask must not hide a bit.
			if err := os.Chmod(conf, tt.confMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(tok, tt.tokenMode); err != nil {
				t.Fatal(err)
			}
			if tt.confOwner >= 0 {
				if err := os.Chown(conf, tt.confOwner, -1); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Load(conf)
			if tt.want == "" {
				if err != nil || c.Agent.Token != "secret" {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load: error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
