package daemon

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// VersionLine is what NAME --version prints: the version, the commit it was
// built from and the Go toolchain. make stamps version and commit with
// -ldflags -X; a plain go build leaves commit empty, and the VCS revision
// Go records in the binary is used instead.
func VersionLine(name, version, commit string) string {
	if commit == "" {
		commit = "unknown"
		if bi, ok := debug.ReadBuildInfo(); ok {
			var rev, dirty string
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					if s.Value == "true" {
						dirty = "-dirty"
					}
				}
			}
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if rev != "" {
				commit = rev + dirty
			}
		}
	}
	return fmt.Sprintf("%s %s (commit %s, %s %s/%s)", name, version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
