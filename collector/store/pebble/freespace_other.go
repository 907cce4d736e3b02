//go:build !unix

package pebble

import "errors"

// freeBytes is not implemented here: the floor is not enforced, and the
// first reading logs why.
func freeBytes(dir string) (uint64, error) {
	return 0, errors.New("reading free space is not supported on this system")
}
