// Command vigil-collector runs Vigil's collector and its admin commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/vigilmon/vigil/cmd/internal/daemon"
	"github.com/vigilmon/vigil/collector"
	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/store"
)

const defaultConfig = "/etc/vigil/collector.toml"

// commit is stamped by make (-ldflags -X main.commit=...).
var commit string

const usage = `usage: vigil-collector <command> [flags]

commands:
  run           run the collector in the foreground (--config FILE)
  token create  create a token: --tenant T --role read|enroll|admin, or --role agent --agent ID
  token list    list a tenant's tokens (never their secrets): --tenant T
  token revoke  revoke a token now: --tenant T --id ID
  dev-setup     prepare a development environment (certificates, configs, tokens) under --dir
  schema        print the Cassandra schema of [store.cassandra] in --config FILE
  migrate       create or update that schema in the cluster (idempotent)
  import        load Prometheus/OpenMetrics/VictoriaMetrics exports: --tenant T FILE...
                (with the collector stopped)
  store check   verify the embedded store offline: --data-dir DIR (with the collector stopped)
  version       print the version and commit (also --version)

service commands (kardianos/service: systemd, SysV init, launchd, Windows):
  install [--config FILE]  register the service to run 'vigil-collector run --config FILE'
                           (default /etc/vigil/collector.toml); needs root
  uninstall                stop and unregister the service; needs root
  start, stop, restart     control the installed service
  status                   print running, stopped or not installed
                           (exit status 0, 3 or 4)

Run 'vigil-collector <command> -h' for a command's flags.
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
	case "token":
		err = token(args)
	case "dev-setup":
		err = devSetup(args)
	case "schema":
		err = schemaCmd(args)
	case "migrate":
		err = migrateCmd(args)
	case "import":
		err = importCmd(args)
	case "store":
		err = storeCmd(args)
	case "version", "--version", "-version":
		fmt.Println(daemon.VersionLine("vigil-collector", collector.Version, commit))
	case "install", "uninstall", "start", "stop", "restart", "status":
		err = serviceCmd(cmd, args)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "vigil-collector: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "vigil-collector:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	path := fs.String("config", defaultConfig, "config file")
	fs.Parse(args)
	cfg, err := collector.LoadConfig(*path)
	if err != nil {
		return err
	}
	log := newLogger(cfg.Log.Level, cfg.Log.Format)
	// In the foreground and under the service manager alike, Run cancels
	// ctx on SIGINT, SIGTERM or the service manager's stop request.
	return daemon.Run(service(*path), func(ctx context.Context) error {
		return collector.Run(ctx, cfg, log)
	})
}

func service(configPath string) daemon.Spec {
	return daemon.Spec{
		Name:        "vigil-collector",
		DisplayName: "Vigil collector",
		Description: "Vigil collector: receives check results from agents, stores them and serves the query API",
		Config:      configPath,
	}
}

// serviceCmd runs one of daemon.Actions and exits with its status.
func serviceCmd(action string, args []string) error {
	spec := service(defaultConfig)
	spec.CheckConfig = func(path string) error {
		_, err := collector.LoadConfig(path)
		return err
	}
	code, err := daemon.Command(spec, action, args, os.Stdout)
	if err == nil && code != 0 {
		os.Exit(code)
	}
	return err
}

const tokenUsage = `usage:
  vigil-collector token create --tenant T --role read|enroll|admin [--config FILE]
  vigil-collector token create --tenant T --role agent --agent ID [--config FILE]
  vigil-collector token list   --tenant T [--config FILE]
  vigil-collector token revoke --tenant T --id ID [--config FILE]`

func token(args []string) error {
	if len(args) == 0 {
		return errors.New(tokenUsage)
	}
	fs := flag.NewFlagSet("token "+args[0], flag.ExitOnError)
	path := fs.String("config", defaultConfig, "config file")
	tenant := fs.String("tenant", "", "tenant of the tokens (required)")
	var roleName, agentID, id *string
	switch args[0] {
	case "create":
		roleName = fs.String("role", "", "read, agent, enroll or admin (required)")
		agentID = fs.String("agent", "", "for role agent (required with it): the only agent id the token may send for")
	case "list":
	case "revoke":
		id = fs.String("id", "", "id of the token to revoke, as token list shows it (required)")
	default:
		return fmt.Errorf("token: unknown subcommand %q\n%s", args[0], tokenUsage)
	}
	fs.Parse(args[1:])
	if *tenant == "" {
		return fmt.Errorf("token %s: --tenant is required", args[0])
	}
	if err := auth.ValidTenant(*tenant); err != nil {
		return err
	}
	var role store.Role
	switch {
	case roleName != nil:
		if *roleName == "" {
			return errors.New("token create: --role is required")
		}
		r, err := auth.ParseRole(*roleName)
		if err != nil {
			return err
		}
		role = r
		if err := auth.AgentBinding(role, *agentID); err != nil {
			return fmt.Errorf("token create: %w", err)
		}
	case id != nil && *id == "":
		return errors.New("token revoke: --id is required")
	}
	cfg, err := collector.LoadConfig(*path)
	if err != nil {
		return err
	}
	st, err := collector.OpenStore(cfg, newLogger("warn", "text"))
	if err != nil {
		return fmt.Errorf("%w (a running collector holds the embedded store: stop it first, or use the API's /v1/tokens)", err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch args[0] {
	case "create":
		tok, rec, err := auth.Create(ctx, st, *tenant, role, *agentID)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "created %s token %s for tenant %s; it is shown only this once:\n", rec.Role, rec.ID, rec.Tenant)
		fmt.Println(tok)
	case "list":
		ts, err := auth.List(ctx, st, *tenant)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tAGENT\tCREATED\tREVOKED")
		for _, t := range ts {
			revoked := "-"
			if !t.Revoked.IsZero() {
				revoked = t.Revoked.Format(time.RFC3339)
			}
			agent := t.Agent
			if agent == "" && t.Role == store.RoleAgent {
				agent = "(none: refused, replace it)"
			} else if agent == "" {
				agent = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, agent, t.Created.Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	case "revoke":
		t, err := auth.Revoke(ctx, st, *tenant, *id, time.Now())
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("token revoke: tenant %s has no token %q (see token list)", *tenant, *id)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "revoked %s token %s of tenant %s at %s\n", t.Role, t.ID, t.Tenant, t.Revoked.Format(time.RFC3339))
	}
	return nil
}

func devSetup(args []string) error {
	fs := flag.NewFlagSet("dev-setup", flag.ExitOnError)
	var o collector.DevOptions
	fs.StringVar(&o.Dir, "dir", "var", "directory for certificates, configs, tokens and data")
	fs.StringVar(&o.QUIC, "quic", "127.0.0.1:4433", "QUIC listen address")
	fs.StringVar(&o.HTTP, "http", "127.0.0.1:8080", "HTTP API listen address")
	fs.StringVar(&o.AgentID, "agent-id", "", "agent id (default: hostname)")
	fs.DurationVar(&o.Interval, "interval", 10*time.Second, "agent check interval")
	fs.Parse(args)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return collector.DevSetup(ctx, o, newLogger("warn", "text"))
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
