//go:build unix

package config

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// checkConfigFile refuses a config that a user other than root and the
// agent's could change: the config names the programs the agent runs
// (plugins and their arguments), so writing it is running code as the
// agent. Group write is allowed: the packages' group is the agent's.
func checkConfigFile(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	mode := uint32(st.Mode) & 0o7777
	if mode&0o002 != 0 {
		return fmt.Errorf("config %s: writable by others (mode %04o): any local user could make the agent run a program; fix: chmod o-w %s", path, mode, path)
	}
	if uid, euid := int(st.Uid), os.Geteuid(); uid != 0 && uid != euid {
		return fmt.Errorf("config %s: owned by uid %d, neither root nor the agent's user (uid %d), who could make the agent run a program; fix: chown root %s", path, uid, euid, path)
	}
	return nil
}

// readTokenFile reads the agent's token from path, refusing a file that
// other users can read (or write): the token lets anyone send as this
// agent. The packages ship it root:vigil 0640, which passes.
func readTokenFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		mode := uint32(st.Mode) & 0o7777
		switch {
		case mode&0o004 != 0:
			return nil, fmt.Errorf("%s: readable by others (mode %04o): any local user could take the agent's token; fix: chmod o-rw %s (group-readable is fine for the agent's group)", path, mode, path)
		case mode&0o002 != 0:
			return nil, fmt.Errorf("%s: writable by others (mode %04o); fix: chmod o-rw %s", path, mode, path)
		}
	}
	return io.ReadAll(io.LimitReader(f, maxFileBytes))
}
