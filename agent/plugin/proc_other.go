//go:build !unix

package plugin

import (
	"errors"
	"fmt"
	"os"
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

// checkFile refuses a plugin path that is not a regular file. File
// ownership and permission bits are not checked here (Windows uses ACLs).
func checkFile(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return &RefusedError{Path: path, Reason: err.Error()}
	}
	if !fi.Mode().IsRegular() {
		return &RefusedError{Path: path, Reason: fmt.Sprintf("not a regular file (%v)", fi.Mode().Type())}
	}
	return nil
}
