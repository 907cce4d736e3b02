//go:build unix

package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/vigilmon/vigil/agent"
	"github.com/vigilmon/vigil/agent/config"
)

// reload sends SIGHUP to the agent whose pid file the config names.
func reload(args []string) error {
	fs := flag.NewFlagSet("reload", flag.ExitOnError)
	path := fs.String("config", defaultConfig, "config file of the running agent")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return fmt.Errorf("%w (the running agent keeps its config)", err)
	}
	file := agent.PIDFile(cfg)
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("no running agent found: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("pid file %s: %q is not a pid", file, strings.TrimSpace(string(b)))
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		return fmt.Errorf("signal agent (pid %d): %w", pid, err)
	}
	fmt.Printf("asked vigil-agent (pid %d) to reload %s\n", pid, *path)
	return nil
}
