package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/vigilmon/vigil/collector"
	"github.com/vigilmon/vigil/collector/store/pebble"
)

const storeUsage = `usage:
  vigil-collector store check [--data-dir DIR | --config FILE]
      verify the embedded store offline (stop the collector first); exit
      status 1 when a file is damaged or the store cannot be opened`

// errDamaged makes main exit 1 after the report said why.
var errDamaged = errors.New("store check: damage found (see README, \"Recovering a damaged store\")")

func storeCmd(args []string) error {
	if len(args) == 0 || args[0] != "check" {
		return errors.New(storeUsage)
	}
	fs := flag.NewFlagSet("store check", flag.ExitOnError)
	dataDir := fs.String("data-dir", "", "the collector's data_dir (default: data_dir of --config)")
	path := fs.String("config", defaultConfig, "config file, for its data_dir")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dataDir == "" {
		cfg, err := collector.LoadConfig(*path)
		if err != nil {
			return fmt.Errorf("store check: %w (or give --data-dir)", err)
		}
		*dataDir = cfg.DataDir
	}
	dir := filepath.Join(*dataDir, "store")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := pebble.Check(ctx, dir)
	if err != nil {
		return err
	}
	fmt.Printf("checked %s: %d tables, %d write-ahead logs, %d MANIFESTs\n", dir, rep.Tables, rep.Logs, rep.Manifests)
	for _, line := range rep.Summary() {
		fmt.Println(line)
	}
	if rep.OpenErr != nil {
		fmt.Println("cannot open:", rep.OpenErr)
	}
	if len(rep.Damaged) > 0 || rep.OpenErr != nil {
		return errDamaged
	}
	fmt.Println("no damage found")
	return nil
}
