//go:build unix

package plugin

import (
	"errors"
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

// shellPath runs a plugin that the kernel will not execute (ENOEXEC).
const shellPath = "/bin/sh"

// noInterpreter reports whether a start failed because the file has no
// "#!" line the kernel understands (ENOEXEC, "exec format error").
func noInterpreter(err error) bool { return errors.Is(err, syscall.ENOEXEC) }
