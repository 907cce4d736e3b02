package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// trustedDir returns a new directory from which the agent will run
// plugins: t.TempDir() lies under /tmp, which everyone can write and the
// agent therefore refuses (README, "Plugin and file permissions"). It is
// made in this package's directory; where a directory above it is
// writable by group or others, or owned by another user, the test is
// skipped with that directory named.
func trustedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(".", ".e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Mode&0o022 != 0 || (st.Uid != 0 && int(st.Uid) != os.Geteuid()) {
			t.Skipf("skipped: the agent would refuse plugins under %s (mode %04o, uid %d): run from a checkout only root or you can write", d, st.Mode&0o7777, st.Uid)
		}
		if d == "/" || !strings.Contains(d, "/") {
			break
		}
	}
	return abs
}
