//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly || windows)

package spool

import "os"

const lockSupported = false

// lockDir only creates the lock file: this platform gets no lock.
func lockDir(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}

// syncDir makes the creation and deletion of files in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
