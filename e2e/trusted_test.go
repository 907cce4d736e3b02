package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// trustedDir returns a new directory from which the agent will run
// plugins: t.TempDir() lies under /tmp, which everyone can write and the
// agent therefore refuses (README, "Plugin and file permissions"). It is
// made in this package's directory or, where a directory above the
// checkout fails the rules (a clone under /tmp, say), in the user's cache
// directory (~/.cache); only when both fail is the test skipped, with the
// directory named.
func trustedDir(t *testing.T) string {
	t.Helper()
	var why []string
	parents := []string{"."}
	if c, err := os.UserCacheDir(); err == nil && os.MkdirAll(c, 0o700) == nil {
		parents = append(parents, c)
	}
	for _, parent := range parents {
		dir, err := os.MkdirTemp(parent, ".e2e-")
		if err != nil {
			why = append(why, err.Error())
			continue
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			t.Fatal(err)
		}
		if bad := untrusted(abs); bad != "" {
			why = append(why, bad)
			continue
		}
		return abs
	}
	t.Skipf("skipped: the agent would refuse plugins under %s: run from a checkout only root or you can write", strings.Join(why, "; "))
	return ""
}

// untrusted names the first directory from dir up to / that the agent's
// rules refuse (writable by group or others, or owned by another user),
// or returns "".
func untrusted(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err.Error()
		}
		st := fi.Sys().(*syscall.Stat_t)
		if st.Mode&0o022 != 0 || (st.Uid != 0 && int(st.Uid) != os.Geteuid()) {
			return fmt.Sprintf("%s (mode %04o, uid %d)", d, st.Mode&0o7777, st.Uid)
		}
		if d == "/" || !strings.Contains(d, "/") {
			return ""
		}
	}
}
