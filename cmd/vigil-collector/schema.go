package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/vigilmon/vigil/collector"
	"github.com/vigilmon/vigil/collector/store/cassandra"
)

// cassandraConfig loads the config file and returns its [store.cassandra]
// with defaults; printing the schema needs no contact point.
func cassandraConfig(cmd string, args []string, needHosts bool) (cassandra.Config, error) {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	path := fs.String("config", defaultConfig, "config file; its [store.cassandra] table and retention settings are used")
	if err := fs.Parse(args); err != nil {
		return cassandra.Config{}, err
	}
	cfg, err := collector.LoadConfig(*path)
	if err != nil {
		return cassandra.Config{}, err
	}
	cc := cfg.CassandraConfig()
	if !needHosts && len(cc.Hosts) == 0 {
		cc.Hosts = []string{"unused"}
	}
	if err := cc.Defaults(); err != nil {
		return cc, fmt.Errorf("%s: %w", *path, err)
	}
	return cc, nil
}

// schemaCmd prints the CQL schema of the configured keyspace.
func schemaCmd(args []string) error {
	cc, err := cassandraConfig("schema", args, false)
	if err != nil {
		return err
	}
	fmt.Print(cassandra.SchemaText(&cc))
	return nil
}

// migrateCmd applies the schema to the cluster; running it again is safe.
func migrateCmd(args []string) error {
	cc, err := cassandraConfig("migrate", args, true)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	err = cassandra.Migrate(ctx, cc, func(cql string) {
		line, _, _ := strings.Cut(cql, "\n")
		fmt.Fprintln(os.Stderr, line)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "keyspace %s is up to date (an existing keyspace keeps its replication: change it with ALTER KEYSPACE and a repair)\n", cc.Keyspace)
	return nil
}
