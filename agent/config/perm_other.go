//go:build !unix

package config

import (
	"io"
	"os"
)

// checkConfigFile does nothing where files have ACLs instead of mode bits.
func checkConfigFile(*os.File, string) error { return nil }

// readTokenFile reads the agent's token; ACLs are the installer's business.
func readTokenFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxFileBytes))
}
