// Command vigil-agent runs Vigil's monitoring agent.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/vigilmon/vigil/agent"
	"github.com/vigilmon/vigil/agent/config"
	"github.com/vigilmon/vigil/agent/plugin"
)

const defaultConfig = "/etc/vigil/agent.toml"

const usage = `usage: vigil-agent <command> [flags]

commands:
  run      run the agent in the foreground (--config FILE)
  check    run checks once and print their results:
             check [--config FILE] [--json] all|NAME...
             check --plugin PATH [--format cloudkick|nagios|influx] [--timeout D] [--json] [-- ARGS...]
  config   print a commented sample configuration
  version  print the version

Run 'vigil-agent <command> -h' for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "run":
		err = run(args)
	case "check":
		var ok bool
		ok, err = checkCmd(args)
		if err == nil && !ok {
			os.Exit(1)
		}
	case "config":
		fmt.Print(config.SampleConfig())
	case "version", "--version", "-version":
		fmt.Println("vigil-agent", agent.Version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "vigil-agent: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vigil-agent:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	path := fs.String("config", defaultConfig, "config file")
	fs.Parse(args)
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log.Level, cfg.Log.Format)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return agent.Run(ctx, cfg, log)
}

// checkCmd runs checks once; ok is false when one of them could not run.
func checkCmd(args []string) (ok bool, err error) {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	path := fs.String("config", "", "config file (default: /etc/vigil/agent.toml if it exists, else built-in defaults)")
	asJSON := fs.Bool("json", false, "print a JSON array instead of a table")
	pluginPath := fs.String("plugin", "", "run this plugin executable instead of configured checks")
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
		fs.Parse(rest)
		if rest = fs.Args(); len(rest) == 0 {
			break
		}
		names, rest = append(names, rest[0]), rest[1:]
	}
	log := newLogger("warn", "text")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var reports []agent.Report
	if *pluginPath != "" {
		if len(names) > 0 {
			return false, fmt.Errorf("check --plugin takes no check names; pass plugin arguments after --")
		}
		cfg := plugin.Config{Path: *pluginPath, Args: pluginArgs, Format: plugin.Format(*format)}
		cfg.Timeout.Duration = *timeout
		reports = []agent.Report{agent.RunPlugin(ctx, cfg)}
	} else {
		if len(names) == 0 {
			return false, fmt.Errorf("check: name the checks to run, or all")
		}
		cfg, err := loadOrDefault(*path)
		if err != nil {
			return false, err
		}
		reports, err = agent.RunChecks(ctx, cfg, names, log)
		if err != nil {
			return false, err
		}
	}
	if err := agent.WriteReports(os.Stdout, reports, *asJSON); err != nil {
		return false, err
	}
	for _, r := range reports {
		if !r.Ran {
			return false, nil
		}
	}
	return true, nil
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

func newLogger(level, format string) *slog.Logger {
	var lv slog.Level
	lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
