// Package daemon runs a Vigil program under the operating system's service
// manager (systemd, SysV init, upstart, launchd, the Windows service control
// manager, through github.com/kardianos/service) and registers or controls
// it there: install, uninstall, start, stop, restart, status.
package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kardianos/service"
)

// Spec names one daemon and how the service manager starts it.
type Spec struct {
	Name        string // service and binary name, such as "vigil-agent"
	DisplayName string
	Description string
	// Config is the config file the installed service runs with
	// (`NAME run --config CONFIG`); install makes it absolute.
	Config string
	// CheckConfig, if set, loads Config; install refuses a config the
	// service would fail on at every start.
	CheckConfig func(path string) error
	// ReloadOnHUP says the program re-reads its config on SIGHUP, so the
	// service manager's reload sends it (systemd: ExecReload).
	ReloadOnHUP bool
}

// Actions are the service commands Control understands.
var Actions = []string{"install", "uninstall", "start", "stop", "restart", "status"}

// ErrNotRunning is returned by the status action when the service is
// installed but not running.
var ErrNotRunning = errors.New("not running")

// ErrNotInstalled is returned when an action needs the service installed
// and it is not.
var ErrNotInstalled = errors.New("not installed")

func (s Spec) config() *service.Config {
	c := &service.Config{
		Name:        s.Name,
		DisplayName: s.DisplayName,
		Description: s.Description,
		Arguments:   []string{"run", "--config", s.Config},
		// systemd: the unit kardianos writes on install. The hardened unit of
		// the .deb/.rpm (packaging/) is the production one.
		Dependencies: []string{"Wants=network-online.target", "After=network-online.target"},
		Option:       service.KeyValue{"Restart": "on-failure"},
	}
	if s.ReloadOnHUP {
		c.Option["ReloadSignal"] = "HUP"
	}
	return c
}

// program adapts a run function to kardianos' Start/Stop interface.
type program struct {
	run    func(context.Context) error
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() {
		defer close(p.done)
		p.err = p.run(ctx)
		if ctx.Err() == nil {
			returnedEarly(p.err)
		}
	}()
	return nil
}

// Stop cancels the run function's context and waits for it to return; the
// service manager bounds the wait with its own stop timeout.
func (p *program) Stop(service.Service) error {
	p.cancel()
	<-p.done
	return nil
}

// Run runs fn in the foreground or, when the service manager started this
// process, as its service. fn's context is cancelled when the service
// manager stops the service or on SIGINT or SIGTERM; Run returns fn's error.
func Run(spec Spec, fn func(context.Context) error) error {
	p := &program{run: fn, done: make(chan struct{})}
	c := spec.config()
	c.Option["RunWait"] = func() { waitStop(p.done) }
	s, err := service.New(p, c)
	if err != nil {
		return err
	}
	if err := s.Run(); err != nil {
		return err
	}
	return p.err
}

// ServiceAction runs a service command line: its one flag is --config, the
// config file an installed service runs with (checked with
// spec.CheckConfig). It returns the process's exit status: 0, or for
// status 3 when the service is not running and 4 when it is not installed.
func ServiceAction(spec Spec, action string, args []string, w io.Writer) (int, error) {
	fs := flag.NewFlagSet(action, flag.ExitOnError)
	fs.StringVar(&spec.Config, "config", spec.Config, "config file the installed service runs with (install only)")
	if err := fs.Parse(args); err != nil {
		return 2, err
	}
	err := Control(spec, action, w)
	if action == "status" {
		switch {
		case errors.Is(err, ErrNotRunning):
			return 3, nil
		case errors.Is(err, ErrNotInstalled):
			return 4, nil
		}
	}
	return 0, err
}

// Control performs one of Actions on the installed service and writes
// what it did to w. Install, uninstall, start, stop and restart need root
// (Administrator on Windows); status does not.
func Control(spec Spec, action string, w io.Writer) error {
	if action == "install" && spec.Config != "" {
		abs, err := filepath.Abs(spec.Config)
		if err != nil {
			return err
		}
		spec.Config = abs
	}
	s, err := service.New(&program{}, spec.config())
	if err != nil {
		return err
	}
	m := manager{spec: spec, s: s}
	if action != "status" {
		if err := requireRoot(); err != nil {
			return fmt.Errorf("%s: %w", action, err)
		}
	}
	switch action {
	case "install":
		return m.install(w)
	case "uninstall":
		return m.uninstall(w)
	case "start", "stop", "restart":
		return m.control(action, w)
	case "status":
		return m.status(w)
	}
	return fmt.Errorf("unknown service command %q", action)
}

type manager struct {
	spec Spec
	s    service.Service
}

func (m manager) install(w io.Writer) error {
	if m.spec.CheckConfig != nil {
		if err := m.spec.CheckConfig(m.spec.Config); err != nil {
			return fmt.Errorf("install: %w", err)
		}
	}
	if unit := packagedUnit(m.s.Platform(), m.spec.Name); unit != "" {
		return fmt.Errorf("install: %s is already installed by its package (%s); use systemctl enable --now %s", m.spec.Name, unit, m.spec.Name)
	}
	ok, err := m.installed()
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if ok {
		return fmt.Errorf("install: %s is already installed (%s); run %s uninstall first", m.spec.Name, m.s.Platform(), m.spec.Name)
	}
	if err := m.s.Install(); err != nil {
		return fmt.Errorf("install %s (%s): %w", m.spec.Name, m.s.Platform(), err)
	}
	fmt.Fprintf(w, "installed %s (%s) with config %s; start it with: %s start\n", m.spec.Name, m.s.Platform(), m.spec.Config, m.spec.Name)
	return nil
}

func (m manager) uninstall(w io.Writer) error {
	ok, err := m.installed()
	if err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	if !ok {
		return fmt.Errorf("uninstall: %s is %w as a service", m.spec.Name, ErrNotInstalled)
	}
	if unit := packagedUnit(m.s.Platform(), m.spec.Name); unit != "" {
		return fmt.Errorf("uninstall: %s was installed by its package (%s); remove the package instead", m.spec.Name, unit)
	}
	if st, _ := m.s.Status(); st == service.StatusRunning {
		if err := m.s.Stop(); err != nil {
			return fmt.Errorf("uninstall: stop %s: %w", m.spec.Name, err)
		}
	}
	if err := m.s.Uninstall(); err != nil {
		return fmt.Errorf("uninstall %s (%s): %w", m.spec.Name, m.s.Platform(), err)
	}
	if err := removeLeftovers(m.s.Platform(), m.spec.Name); err != nil {
		return fmt.Errorf("uninstall %s: %w", m.spec.Name, err)
	}
	fmt.Fprintf(w, "uninstalled %s (%s)\n", m.spec.Name, m.s.Platform())
	return nil
}

func (m manager) control(action string, w io.Writer) error {
	ok, err := m.installed()
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	if !ok {
		return fmt.Errorf("%s: %s is %w as a service; run %s install first", action, m.spec.Name, ErrNotInstalled, m.spec.Name)
	}
	switch action {
	case "start":
		err = m.s.Start()
	case "stop":
		err = m.s.Stop()
	case "restart":
		err = m.s.Restart()
	}
	if err != nil {
		return fmt.Errorf("%s %s (%s): %w", action, m.spec.Name, m.s.Platform(), err)
	}
	past := map[string]string{"start": "started", "stop": "stopped", "restart": "restarted"}[action]
	fmt.Fprintf(w, "%s %s\n", past, m.spec.Name)
	return nil
}

// status prints running, stopped or not installed; it returns nil,
// ErrNotRunning or ErrNotInstalled accordingly.
func (m manager) status(w io.Writer) error {
	ok, err := m.installed()
	if err != nil {
		return fmt.Errorf("status: %w", err)
	}
	if !ok {
		fmt.Fprintf(w, "%s: not installed (%s)\n", m.spec.Name, m.s.Platform())
		return ErrNotInstalled
	}
	st, err := m.s.Status()
	if st == service.StatusRunning {
		fmt.Fprintf(w, "%s: running (%s)\n", m.spec.Name, m.s.Platform())
		return nil
	}
	// kardianos reports a SysV service that is not running, and a failed
	// systemd unit, as an error rather than as stopped.
	if err != nil && !isSysV(m.s.Platform()) {
		fmt.Fprintf(w, "%s: not running (%s): %v\n", m.spec.Name, m.s.Platform(), err)
	} else {
		fmt.Fprintf(w, "%s: stopped (%s)\n", m.spec.Name, m.s.Platform())
	}
	return ErrNotRunning
}

// installed says whether the service manager knows the service.
func (m manager) installed() (bool, error) {
	if isSysV(m.s.Platform()) {
		// kardianos' SysV status cannot tell "not installed" from "stopped".
		_, err := os.Stat(sysvScript(m.spec.Name))
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	}
	_, err := m.s.Status()
	return !errors.Is(err, service.ErrNotInstalled), nil
}

const sysvPlatform = "unix-systemv"

func isSysV(platform string) bool { return platform == sysvPlatform }

func sysvScript(name string) string { return "/etc/init.d/" + name }

// packagedUnit is the systemd unit the .deb or .rpm installed for name, or
// "" if there is none. kardianos would write a second unit in
// /etc/systemd/system that hides it.
func packagedUnit(platform, name string) string {
	if platform != "linux-systemd" {
		return ""
	}
	for _, dir := range []string{"/lib/systemd/system", "/usr/lib/systemd/system"} {
		p := filepath.Join(dir, name+".service")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// removeLeftovers removes what kardianos' uninstall leaves behind: for SysV,
// the /etc/rc?.d links to the init script it installed.
func removeLeftovers(platform, name string) error {
	if !isSysV(platform) {
		return nil
	}
	links, err := filepath.Glob("/etc/rc[0-6S].d/[SK][0-9][0-9]" + name)
	if err != nil {
		return err
	}
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil && target == sysvScript(name) {
			if err := os.Remove(l); err != nil {
				return err
			}
		}
	}
	return nil
}
