//go:build unix

package plugin

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
)

// setGroup makes the plugin the leader of a new process group, so that it
// and everything it starts can be killed together.
func setGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills the plugin's process group with SIGKILL.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil || cmd.Process.Pid <= 0 {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// checkFile refuses a plugin file that is not a regular executable file,
// is writable by group or others, or is owned by neither root nor the
// agent's user. Symlinks are followed: the rules apply to the file run.
func checkFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return &RefusedError{Path: path, Reason: err.Error()}
	}
	mode := fi.Mode()
	switch {
	case !mode.IsRegular():
		return &RefusedError{Path: path, Reason: fmt.Sprintf("not a regular file (%v)", mode.Type())}
	case mode.Perm()&0o002 != 0:
		return &RefusedError{Path: path, Reason: fmt.Sprintf("writable by others (mode %04o)", mode.Perm())}
	case mode.Perm()&0o020 != 0:
		return &RefusedError{Path: path, Reason: fmt.Sprintf("writable by group (mode %04o)", mode.Perm())}
	case mode.Perm()&0o111 == 0:
		return &RefusedError{Path: path, Reason: fmt.Sprintf("not executable (mode %04o)", mode.Perm())}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if uid := int(st.Uid); uid != 0 && uid != os.Geteuid() {
			return &RefusedError{Path: path, Reason: fmt.Sprintf("owned by uid %d, neither root nor the agent's user (uid %d)", uid, os.Geteuid())}
		}
	}
	return nil
}
