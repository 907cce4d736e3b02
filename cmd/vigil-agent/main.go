// Command vigil-agent runs Vigil's monitoring agent.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/vigilmon/vigil/agent"
	"github.com/vigilmon/vigil/agent/config"
	"github.com/vigilmon/vigil/agent/enroll"
	"github.com/vigilmon/vigil/agent/plugin"
	"github.com/vigilmon/vigil/cmd/internal/daemon"
)

const defaultConfig = "/etc/vigil/agent.toml"

// commit is stamped by make (-ldflags -X main.commit=...).
var commit string

// program is the command table: dispatch and usage text come from it.
func program() daemon.Program {
	cmds := []daemon.Command{
		{Name: "run", Help: "run the agent in the foreground (--config FILE)", Run: run},
		{Name: "reload", Help: "make the running agent re-read its config (--config FILE); same as SIGHUP", Run: reload},
		{Name: "check", Help: `run checks once and print their results:
  check [--config FILE] [--json] all|NAME...
  check --plugin PATH [--format cloudkick|nagios|influx] [--timeout D] [--json] [-- ARGS...]
exit status: 0, or 1 when a check could not run; with --plugin, as a
Nagios plugin's: 0 ok, 1 warn, 2 crit, 3 unknown or could not run`, Run: checkCmd},
		{Name: "config", Help: "print a commented sample configuration", Run: func([]string) error {
			_, err := fmt.Print(config.SampleConfig())
			return err
		}},
		{Name: "setup", Help: `enroll at a collector and write the config (token file next to it; neither
readable by others, group-readable only if the config already was):
  setup --collector https://HOST:PORT --enroll-token TOKEN [--agent-id ID]
        [--ca FILE] [--config FILE] [--quic HOST:PORT[,HOST:PORT...]]`, Run: setupCmd},
		daemon.VersionCommand("vigil-agent", agent.Version, commit, os.Stdout),
	}
	return daemon.Program{Name: "vigil-agent", Commands: append(cmds, daemon.ServiceCommands(serviceSpec(), os.Stdout)...)}
}

func main() {
	os.Exit(program().Main(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	path := fs.String("config", defaultConfig, "config file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	// The agent needs no parallelism: its checks wait on the kernel and
	// its plugins are other processes. One P means fewer threads and
	// per-P caches: about 1 MB less resident memory and a third less CPU
	// (BENCHMARKS.md). GOMAXPROCS in the environment still wins.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(1)
	}
	// The agent's live heap is under 1 MB and its garbage comes slowly
	// (some 35 KB a cycle), so at the default GOGC of 100 the heap grows
	// for a quarter of an hour to the runtime's minimum goal of 4 MB and
	// stays resident at that size. At GOGC 25 the goal is 1 MB (the
	// minimum scales with GOGC) and RSS stays flat. It costs little CPU:
	// a collection (about 1 ms) every two minutes or so, where the runtime
	// forces one every two minutes anyway. GOGC in the environment still
	// wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(25)
	}
	var level slog.LevelVar
	level.Set(cfg.Log.Level.Level())
	log := daemon.NewLogger(&level, cfg.Log.Format)
	// In the foreground and under the service manager alike, Run cancels
	// ctx on SIGINT, SIGTERM or the service manager's stop request.
	spec := serviceSpec()
	spec.Config = *path
	return daemon.Run(spec, func(ctx context.Context) error {
		return agent.Run(ctx, cfg, log, reloads(ctx, *path, &level, log))
	})
}

// serviceSpec describes the agent's service; install refuses a config that
// does not load.
func serviceSpec() daemon.Spec {
	return daemon.Spec{
		Name:        "vigil-agent",
		DisplayName: "Vigil agent",
		Description: "Vigil monitoring agent: runs checks and sends their results to a collector",
		Config:      defaultConfig,
		ReloadOnHUP: true,
		CheckConfig: func(path string) error {
			_, err := config.Load(path)
			return err
		},
	}
}

// checkCmd runs checks once. Its exit status: for --plugin the plugin's
// status as Nagios codes it (agent.Report.ExitCode), otherwise 1 when a
// check could not run, else 0.
func checkCmd(args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	path := fs.String("config", "", "config file (default: /etc/vigil/agent.toml if it exists, else built-in defaults)")
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	pluginPath := fs.String("plugin", "", "run this plugin executable instead of configured checks; exit status 0 ok, 1 warn, 2 crit, 3 unknown or could not run")
	format := fs.String("format", "", "plugin output format: cloudkick, nagios or influx (default: detect)")
	timeout := fs.Duration("timeout", 30*time.Second, "plugin timeout")
	// Flags may come after the check names: `check cpu --json`.
	var names, pluginArgs []string
	for i, a := range args {
		if a == "--" {
			args, pluginArgs = args[:i], args[i+1:]
			break
		}
	}
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if rest = fs.Args(); len(rest) == 0 {
			break
		}
		names, rest = append(names, rest[0]), rest[1:]
	}
	log := daemon.NewLogger(slog.LevelWarn, "text")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var reports []agent.Report
	if *pluginPath != "" {
		if len(names) > 0 {
			return fmt.Errorf("check --plugin takes no check names; pass plugin arguments after --")
		}
		cfg := plugin.Config{Path: *pluginPath, Args: pluginArgs, Format: plugin.Format(*format)}
		cfg.Timeout.Duration = *timeout
		reports = []agent.Report{agent.RunPlugin(ctx, cfg)}
	} else {
		if len(names) == 0 {
			return fmt.Errorf("check: name the checks to run, or all")
		}
		cfg, err := loadOrDefault(*path)
		if err != nil {
			return err
		}
		reports, err = agent.RunChecks(ctx, cfg, names, log)
		if err != nil {
			return err
		}
	}
	if err := agent.WriteReports(os.Stdout, reports, *asJSON); err != nil {
		return err
	}
	if *pluginPath != "" {
		if code := reports[0].ExitCode(); code != 0 {
			return daemon.ExitStatus(code)
		}
		return nil
	}
	for _, r := range reports {
		if !r.Ran {
			return daemon.ExitStatus(1)
		}
	}
	return nil
}

// setupCmd enrolls this agent (agent/enroll) and writes its config.
func setupCmd(args []string) error {
	fs := flag.NewFlagSet("setup", flag.ExitOnError)
	var o enroll.Options
	fs.StringVar(&o.Collector, "collector", "", "the collector's API, https://HOST:PORT (required; http:// only on a loopback address)")
	fs.StringVar(&o.EnrollToken, "enroll-token", "", "a token with role enroll (required; default $VIGIL_ENROLL_TOKEN, which keeps it out of ps)")
	fs.StringVar(&o.AgentID, "agent-id", "", "this agent's id (default: the hostname)")
	fs.StringVar(&o.CAFile, "ca", "", "CA file that verifies the collector, written as transport.ca_file (default: system roots)")
	fs.StringVar(&o.ConfigPath, "config", defaultConfig, "agent config to write; its other settings and comments are kept")
	quic := fs.String("quic", "", "collector QUIC addresses, comma-separated, preferred first (default: the collector's host, port 4433)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.EnrollToken = cmp.Or(o.EnrollToken, os.Getenv("VIGIL_ENROLL_TOKEN"))
	if fs.NArg() > 0 || o.Collector == "" || o.EnrollToken == "" {
		return errors.New("usage: vigil-agent setup --collector https://HOST:PORT --enroll-token TOKEN [--agent-id ID] [--ca FILE] [--config FILE] [--quic HOST:PORT,...]")
	}
	for _, a := range strings.Split(*quic, ",") {
		if a = strings.TrimSpace(a); a != "" {
			o.QUIC = append(o.QUIC, a)
		}
	}
	o.Log = daemon.NewLogger(slog.LevelWarn, "text")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := enroll.Run(ctx, o)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	fmt.Printf("enrolled agent %s in tenant %s\nwrote %s and its token to %s (mode 0600)\ncollectors %s, HTTPS fallback %s\nstart it with: vigil-agent run --config %s (or vigil-agent install --config %s)\n",
		res.AgentID, res.Tenant, res.ConfigPath, res.TokenFile, strings.Join(res.Collectors, ", "), res.HTTPS, res.ConfigPath, res.ConfigPath)
	return nil
}

func loadOrDefault(path string) (*config.Config, error) {
	if path != "" {
		return config.Load(path)
	}
	if _, err := os.Stat(defaultConfig); err == nil {
		return config.Load(defaultConfig)
	}
	return config.Default()
}

// reloads re-reads the config on SIGHUP (systemctl reload, vigil-agent
// reload... via the service manager) and passes on each one that loads; a
// broken file is logged and the running config kept. The log level changes
// at once.
func reloads(ctx context.Context, path string, level *slog.LevelVar, log *slog.Logger) <-chan *config.Config {
	out := make(chan *config.Config)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			cfg, err := config.Load(path)
			if err != nil {
				log.Error("reload refused: the config does not load; keeping the running one", "err", err)
				continue
			}
			level.Set(cfg.Log.Level.Level())
			select {
			case out <- cfg:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
