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

// program is the command table: dispatch and usage text come from it.
func program() daemon.Program {
	cmds := []daemon.Command{
		{Name: "run", Help: "run the collector in the foreground (--config FILE)", Run: run},
		{Name: "token", Help: `create, list or revoke a tenant's tokens:
  token create --tenant T --role read|enroll|admin   (or --role agent --agent ID)
  token list --tenant T                              (never shows a secret)
  token revoke --tenant T --id ID                    (takes effect at once)`, Run: token},
		{Name: "dev-setup", Help: "prepare a development environment (certificates, configs, tokens) under --dir", Run: devSetup},
		{Name: "schema", Help: "print the Cassandra schema of [store.cassandra] in --config FILE", Run: schemaCmd},
		{Name: "migrate", Help: "create or update that schema in the cluster (idempotent)", Run: migrateCmd},
		{Name: "import", Help: `load Prometheus/OpenMetrics/VictoriaMetrics exports: --tenant T FILE...
(with the collector stopped)`, Run: importCmd},
		{Name: "store", Help: `verify the embedded store offline (with the collector stopped):
  store check --data-dir DIR`, Run: storeCmd},
		daemon.VersionCommand("vigil-collector", collector.Version, commit, os.Stdout),
	}
	return daemon.Program{Name: "vigil-collector", Commands: append(cmds, daemon.ServiceCommands(serviceSpec(), os.Stdout)...)}
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
	cfg, err := collector.LoadConfig(*path)
	if err != nil {
		return err
	}
	log := daemon.NewLogger(cfg.Log.Level, cfg.Log.Format)
	// In the foreground and under the service manager alike, Run cancels
	// ctx on SIGINT, SIGTERM or the service manager's stop request.
	spec := serviceSpec()
	spec.Config = *path
	return daemon.Run(spec, func(ctx context.Context) error {
		return collector.Run(ctx, cfg, log)
	})
}

// serviceSpec describes the collector's service; install refuses a config
// that does not load.
func serviceSpec() daemon.Spec {
	return daemon.Spec{
		Name:        "vigil-collector",
		DisplayName: "Vigil collector",
		Description: "Vigil collector: receives check results from agents, stores them and serves the query API",
		Config:      defaultConfig,
		CheckConfig: func(path string) error {
			cfg, err := collector.LoadConfig(path)
			if err != nil {
				return err
			}
			return cfg.CheckRules()
		},
	}
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
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
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
	st, err := collector.OpenStore(cfg, daemon.NewLogger(slog.LevelWarn, "text"))
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
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return collector.DevSetup(ctx, o, daemon.NewLogger(slog.LevelWarn, "text"))
}
