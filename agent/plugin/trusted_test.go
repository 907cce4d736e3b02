//go:build unix

package plugin

import (
	"os"
	"testing"
)

// trustedDir returns a new directory from which the runner will run
// plugins: t.TempDir() lies under /tmp, which is writable by everyone and
// so refused (see resolve). It is made in the package's source directory,
// whose ancestors are normally owned by root or by the user running the
// tests; where they are not (a checkout under a group-writable directory),
// the test is skipped with the rule that failed.
func trustedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(".", ".plugintest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	real, err := resolve(dir, true)
	if err != nil {
		t.Skipf("skipped: plugins cannot run from this checkout: %v (run the tests from a checkout whose directories only root or you can write)", err)
	}
	return real
}
