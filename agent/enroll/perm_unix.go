//go:build unix

package enroll

import (
	"os"
	"syscall"
)

// matchOwner gives f the group of ref and its group-read bit, so a config
// or token written for the packaged agent (root:vigil 0640) stays readable
// by the service's user. Nothing becomes readable by others.
func matchOwner(f *os.File, ref string) error {
	info, err := os.Stat(ref)
	if err != nil {
		return nil // nothing to match: keep 0600
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if err := f.Chown(-1, int(st.Gid)); err != nil && !os.IsPermission(err) {
		return err
	}
	return f.Chmod(0o600 | info.Mode().Perm()&0o040)
}
