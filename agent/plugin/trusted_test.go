//go:build unix

package plugin

import (
	"os"
	"path/filepath"
	"testing"
)

// trustedDir returns a new directory from which the runner will run
// plugins: t.TempDir() lies under /tmp, which is writable by everyone and
// so refused (see resolve). It is made in the package's source directory
// or, where a directory above the checkout fails the rules (a clone under
// /tmp, say), in the user's cache directory (~/.cache: owned by the user
// running the tests). Only when both fail is the test skipped, with the
// rule that failed.
func trustedDir(t *testing.T) string {
	t.Helper()
	var errs []error
	for _, parent := range trustParents() {
		dir, err := os.MkdirTemp(parent, ".plugintest-")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		real, err := resolve(dir, true)
		if err == nil {
			return real
		}
		errs = append(errs, err)
	}
	t.Skipf("skipped: plugins cannot run from this checkout nor the cache directory: %v (run the tests as a user whose home or checkout only root or they can write)", errs)
	return ""
}

// trustParents are where trustedDir tries to make its directory.
func trustParents() []string {
	parents := []string{"."}
	if c, err := os.UserCacheDir(); err == nil {
		if os.MkdirAll(c, 0o700) == nil {
			parents = append(parents, filepath.Clean(c))
		}
	}
	return parents
}
