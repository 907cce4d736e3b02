package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/vigilmon/vigil/cmd/internal/daemon"
	"github.com/vigilmon/vigil/collector"
	"github.com/vigilmon/vigil/collector/importer"
	"github.com/vigilmon/vigil/collector/store/pebble"
)

// importCmd loads exported history into the configured store
// (collector/importer), then compresses the closed days it wrote.
func importCmd(args []string) error {
	fs := flag.NewFlagSet("import", flag.ExitOnError)
	path := fs.String("config", defaultConfig, "config file")
	var o importer.Options
	fs.StringVar(&o.Tenant, "tenant", "", "tenant the series belong to (required)")
	fs.StringVar(&o.AgentLabel, "agent-label", "host", "label whose value is the series' agent in /v1/series and /v1/query (a label named agent wins; without either: agent \"unknown\")")
	fs.IntVar(&o.Batch, "batch", 5000, "points per store write")
	maxBad := fs.Float64("max-bad", importer.DefaultMaxBad, "fail (exit status 1) when more than this share of the sample lines is bad, 0 to 1")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: vigil-collector import --tenant T [--agent-label host] [--max-bad 0.01] [--config FILE] FILE...")
		fmt.Fprintln(fs.Output(), "FILE: Prometheus text with timestamps, OpenMetrics, or VictoriaMetrics JSON lines (/api/v1/export).")
		fmt.Fprintln(fs.Output(), "Series keep their metric names and labels: PromQL on /prometheus/ selects them as in the source.")
		fmt.Fprintln(fs.Output(), "Exits non-zero when nothing was imported or more than --max-bad of the lines were bad.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Tenant == "" || fs.NArg() == 0 {
		fs.Usage()
		return fmt.Errorf("import: --tenant and at least one FILE are required")
	}
	if !(*maxBad >= 0 && *maxBad <= 1) {
		return fmt.Errorf("import: --max-bad %v: want a fraction from 0 to 1 (0.01 is 1%%)", *maxBad)
	}
	cfg, err := collector.LoadConfig(*path)
	if err != nil {
		return err
	}
	st, err := collector.OpenStore(cfg, daemon.NewLogger(slog.LevelWarn, "text"))
	if err != nil {
		return fmt.Errorf("%w (import runs with the collector stopped: the embedded store is single-process)", err)
	}
	defer st.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	o.Progress = os.Stderr
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		o.Terminal = true
	}
	sum, err := importer.Import(ctx, st, o, fs.Args())
	fmt.Fprintln(os.Stderr, sum)
	if err != nil {
		return err
	}
	// What was imported is kept (and compressed below) even when the
	// import as a whole fails the check.
	bad := sum.Check(*maxBad)
	if c, ok := st.(interface {
		Compact(context.Context, int64) (pebble.CompactStats, error)
	}); ok && sum.Points > 0 {
		start := time.Now()
		cs, err := c.Compact(ctx, start.UnixMilli())
		if err != nil {
			return fmt.Errorf("import: compress closed days: %w", err)
		}
		fmt.Fprintf(os.Stderr, "compressed %d points of %d series in %d closed days into %d bytes (%.2f bytes/point) in %s\n",
			cs.Points, cs.Series, cs.Buckets, cs.Bytes, float64(cs.Bytes)/float64(max(cs.Points, 1)), time.Since(start).Round(time.Millisecond))
	}
	return bad
}
