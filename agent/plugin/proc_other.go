//go:build !unix

package plugin

import (
	"os/exec"
)

// setGroup does nothing where there are no process groups.
func setGroup(cmd *exec.Cmd) {}

// killGroup kills the plugin process itself (its children are not reached).
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Kill()
}

const shellPath = ""

// noInterpreter is false: there is no shell to fall back to.
func noInterpreter(error) bool { return false }
