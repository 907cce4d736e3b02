//go:build !windows

package daemon

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
)

func requireRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("run as root (sudo)")
	}
	return nil
}

// waitStop returns on SIGINT or SIGTERM, or when the run function has
// returned by itself (done is closed), so that the process exits then.
func waitStop(done <-chan struct{}) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	select {
	case <-sig:
	case <-done:
	}
}

// returnedEarly: on Unix, waitStop notices the run function's return.
func returnedEarly(error) {}
