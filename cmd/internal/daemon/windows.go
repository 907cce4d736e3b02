//go:build windows

package daemon

import (
	"fmt"
	"os"
)

// requireRoot leaves the check to the service control manager, which
// refuses a user who is not an Administrator.
func requireRoot() error { return nil }

// waitStop is unused: kardianos waits for the service control manager or
// Ctrl-C on Windows.
func waitStop(<-chan struct{}) {}

// returnedEarly ends the process when the run function returned without
// being stopped: kardianos' Windows Run would otherwise wait for a stop
// request that never comes.
func returnedEarly(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[0], err)
		os.Exit(1)
	}
	os.Exit(0)
}
