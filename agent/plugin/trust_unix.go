//go:build unix

package plugin

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// maxSymlinks bounds the symlinks one resolution follows, as the kernel's
// own limit (40 on Linux) does, so that a loop ends with an error.
const maxSymlinks = 40

// resolve returns the real path (no symlinks, no . or ..) of the plugin
// file at path, or of the directory at path when wantDir is set, if the
// path obeys OpenSSH's StrictModes rules (DESIGN §9):
//
//   - every directory from / down to the file is owned by root or the
//     agent's user and writable by neither group nor others, sticky bit or
//     not: /tmp and /var/tmp cannot hold plugins;
//   - every symlink on the way is owned by root or the agent's user (its
//     own mode means nothing on Linux);
//   - the file is a regular, executable file owned by root or the agent's
//     user and writable by neither group nor others.
//
// The walk goes one component at a time with Lstat and follows symlinks
// itself, so that each link and each directory it passes through is
// checked, not only the file at the end. The caller then executes the
// real path: since no other user can write any directory on the way, none
// can swap a component between this check and the exec.
func resolve(path string, wantDir bool) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", &RefusedError{Path: path, Reason: err.Error()}
	}
	euid := os.Geteuid()
	refuse := func(reason string) error { return &RefusedError{Path: path, Reason: reason} }

	cur := "/"
	if reason := dirRule(cur, euid); reason != "" {
		return "", refuse(reason)
	}
	rest := components(abs)
	links := 0
	for len(rest) > 0 {
		name := rest[0]
		rest = rest[1:]
		switch name {
		case ".":
			continue
		case "..":
			// cur is a real directory reached from / through checked
			// directories, so its parent was checked on the way down.
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			return "", &NotFoundError{Path: path, Missing: next}
		}
		if err != nil {
			return "", refuse(statReason(next, err))
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if links++; links > maxSymlinks {
				return "", refuse(fmt.Sprintf("more than %d symlinks on the way (a loop?) at %s", maxSymlinks, next))
			}
			if reason := ownerRule("symlink", next, fi, euid); reason != "" {
				return "", refuse(reason)
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", refuse(statReason(next, err))
			}
			if filepath.IsAbs(target) {
				cur = "/"
			}
			rest = append(components(target), rest...)
		case fi.IsDir():
			if reason := dirRule(next, euid); reason != "" {
				return "", refuse(reason)
			}
			cur = next
		default:
			if len(rest) > 0 { // a file followed by more names, even . or ..
				return "", refuse(fmt.Sprintf("%s is not a directory", next))
			}
			cur = next
		}
	}

	fi, err := os.Lstat(cur)
	if err != nil {
		return "", refuse(statReason(cur, err))
	}
	if wantDir {
		if !fi.IsDir() {
			return "", refuse(fmt.Sprintf("%s is not a directory", cur))
		}
		return cur, nil
	}
	mode := unixMode(fi)
	switch {
	case !fi.Mode().IsRegular():
		return "", refuse(fmt.Sprintf("%s is not a regular file (%v)", cur, fi.Mode().Type()))
	case mode&0o002 != 0:
		return "", refuse(fmt.Sprintf("file %s is writable by others (mode %04o); fix: chmod o-w %s", cur, mode, cur))
	case mode&0o020 != 0:
		return "", refuse(fmt.Sprintf("file %s is writable by group (mode %04o); fix: chmod g-w %s", cur, mode, cur))
	case mode&0o111 == 0:
		return "", refuse(fmt.Sprintf("file %s is not executable (mode %04o); fix: chmod 0755 %s", cur, mode, cur))
	}
	if reason := ownerRule("file", cur, fi, euid); reason != "" {
		return "", refuse(reason)
	}
	return cur, nil
}

// dirRule is why the directory dir may not lead to a plugin, or "".
func dirRule(dir string, euid int) string {
	fi, err := os.Lstat(dir)
	if err != nil {
		return statReason(dir, err)
	}
	if reason := ownerRule("directory", dir, fi, euid); reason != "" {
		return reason
	}
	mode := unixMode(fi)
	switch {
	case mode&0o002 != 0 && mode&0o1000 != 0:
		// The sticky bit stops others from replacing an entry they do
		// not own, but not from planting new ones next to it, and such
		// directories are cleaned by timers: OpenSSH refuses them too.
		return fmt.Sprintf("directory %s is writable by others (mode %04o, sticky); fix: keep plugins out of shared temporary directories, e.g. in %s", dir, mode, DefaultDir)
	case mode&0o002 != 0:
		return fmt.Sprintf("directory %s is writable by others (mode %04o); fix: chmod o-w %s", dir, mode, dir)
	case mode&0o020 != 0:
		return fmt.Sprintf("directory %s is writable by group (mode %04o); fix: chmod g-w %s", dir, mode, dir)
	}
	return ""
}

// ownerRule is why what (a file, directory or symlink) at path, described
// by fi, is not owned as a plugin's path must be, or "".
func ownerRule(what, path string, fi fs.FileInfo, euid int) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	if uid := int(st.Uid); uid != 0 && uid != euid {
		chown := "chown"
		if what == "symlink" {
			chown = "chown -h"
		}
		return fmt.Sprintf("%s %s is owned by uid %d, neither root nor the agent's user (uid %d); fix: %s root %s", what, path, uid, euid, chown, path)
	}
	return ""
}

// unixMode is fi's permission bits with setuid, setgid and sticky, as
// chmod and ls -l show them (0755, 1777).
func unixMode(fi fs.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint32(st.Mode) & 0o7777
	}
	return uint32(fi.Mode().Perm())
}

// statReason is the rule a failed Lstat or Readlink of path broke.
func statReason(path string, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Sprintf("%s: %v", path, err)
}

// components splits a slash-separated path into its names; empty names
// (from //, a leading or trailing /) are dropped.
func components(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}
