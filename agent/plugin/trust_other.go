//go:build !unix

package plugin

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// resolve returns the real path of the plugin file at path (of the
// directory when wantDir is set). Ownership and permission bits are not
// checked here: Windows uses ACLs, which the installer sets.
func resolve(path string, wantDir bool) (string, error) {
	real, err := filepath.Abs(path)
	if err == nil {
		real, err = filepath.EvalSymlinks(real)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return "", &NotFoundError{Path: path}
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", &RefusedError{Path: path, Reason: err.Error()}
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", &RefusedError{Path: path, Reason: err.Error()}
	}
	switch {
	case wantDir && !fi.IsDir():
		return "", &RefusedError{Path: path, Reason: fmt.Sprintf("%s is not a directory", real)}
	case !wantDir && !fi.Mode().IsRegular():
		return "", &RefusedError{Path: path, Reason: fmt.Sprintf("%s is not a regular file (%v)", real, fi.Mode().Type())}
	}
	return real, nil
}
