package cassandra

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/vigilmon/vigil/collector/store"
)

// The schema stays within CQL that Cassandra 2.2 through 5.0 all accept:
// no system_schema, GROUP BY, materialized views, SASI or secondary
// indexes, no table options that later versions removed (read repair
// chances) or renamed (compression). TimeWindowCompactionStrategy is in
// Apache Cassandra from 3.0.8 and 3.8 on, and backported in some 2.2 forks.
//
// Every partition is bounded: points by series and time bucket, the
// series index by tenant and agent, the queue by minute and shard, history
// by check and day. Reads name whole partition keys; none needs ALLOW
// FILTERING.

// queueShards spreads one queue slot over this many partitions.
const queueShards = 16

// table names the table of a resolution's points.
func table(res store.Resolution) string {
	switch res {
	case store.Res5m:
		return "rollups_5m"
	case store.Res1h:
		return "rollups_1h"
	}
	return "points_raw"
}

// SchemaStatement is one statement of the schema with what it is for.
type SchemaStatement struct {
	Comment string
	CQL     string
}

// Schema returns the statements that create the keyspace and tables of c
// (after Defaults), each idempotent (IF NOT EXISTS).
func Schema(c *Config) []SchemaStatement {
	ks := c.Keyspace
	var out []SchemaStatement
	add := func(comment, format string, args ...any) {
		out = append(out, SchemaStatement{Comment: comment, CQL: fmt.Sprintf(format, args...)})
	}
	add("One keyspace; a replication factor per data center (one per region).",
		"CREATE KEYSPACE IF NOT EXISTS %s WITH replication = %s AND durable_writes = true", ks, replication(c.Replication))

	add("Raw points: one partition per series and day (bucket = ts / 86400000), "+
		"numeric points in value, string points in str; expired by TTL.",
		`CREATE TABLE IF NOT EXISTS %s.points_raw (
  series_id blob,
  bucket bigint,
  ts bigint,
  value double,
  str text,
  PRIMARY KEY ((series_id, bucket), ts)
) WITH CLUSTERING ORDER BY (ts ASC)
  AND %s`, ks, timeSeriesOptions(c.Retention[store.Raw]))
	for _, res := range []store.Resolution{store.Res5m, store.Res1h} {
		add(fmt.Sprintf("%s rollups, computed from %s data: one row per window (ts = window start), "+
			"one partition per series and %d days; increase is the counter rise within the window across resets.",
			res, res.Source(), res.BucketWidth()/(24*3600*1000)),
			`CREATE TABLE IF NOT EXISTS %s.%s (
  series_id blob,
  bucket bigint,
  ts bigint,
  count bigint,
  sum double,
  min double,
  max double,
  first double,
  last double,
  increase double,
  PRIMARY KEY ((series_id, bucket), ts)
) WITH CLUSTERING ORDER BY (ts ASC)
  AND %s`, ks, table(res), timeSeriesOptions(c.Retention[res]))
	}
	add("The buckets each series has points in, per resolution, so a read of any range visits only "+
		"partitions that exist; rows expire one bucket after the points they index.",
		`CREATE TABLE IF NOT EXISTS %s.point_buckets (
  series_id blob,
  resolution int,
  bucket bigint,
  PRIMARY KEY ((series_id), resolution, bucket)
) WITH gc_grace_seconds = %d`, ks, gcGrace)
	add("Series index: one partition per tenant and agent, ordered by check, metric and labels "+
		"(a list of key, value, key, value, ... sorted by key).",
		`CREATE TABLE IF NOT EXISTS %s.series (
  tenant text,
  agent text,
  check text,
  metric text,
  labels frozen<list<text>>,
  series_id blob,
  type int,
  unit text,
  PRIMARY KEY ((tenant, agent), check, metric, labels)
)`, ks)
	add("The agents of a tenant that have series, for series queries that name no agent.",
		`CREATE TABLE IF NOT EXISTS %s.series_agents (
  tenant text,
  agent text,
  PRIMARY KEY ((tenant), agent)
)`, ks)
	add("Agents: one partition per tenant.",
		`CREATE TABLE IF NOT EXISTS %s.agents (
  tenant text,
  agent text,
  hostname text,
  version text,
  labels map<text, text>,
  last_seen timestamp,
  connected boolean,
  collector text,
  PRIMARY KEY ((tenant), agent)
)`, ks)
	add("Latest result of each check; written with the result's timestamp as the write time, "+
		"so the newest result wins whatever order results arrive in.",
		`CREATE TABLE IF NOT EXISTS %s.check_latest (
  tenant text,
  agent text,
  check text,
  ts bigint,
  status int,
  message text,
  duration_ms bigint,
  PRIMARY KEY ((tenant, agent), check)
)`, ks)
	add("Check status history: one partition per check and day; expired with the raw points.",
		`CREATE TABLE IF NOT EXISTS %s.check_history (
  tenant text,
  agent text,
  check text,
  day bigint,
  ts bigint,
  status int,
  message text,
  duration_ms bigint,
  PRIMARY KEY ((tenant, agent, check, day), ts)
) WITH CLUSTERING ORDER BY (ts ASC)
  AND %s`, ks, timeSeriesOptions(c.Retention[store.Raw]))
	add("Tokens, by the SHA-256 of the secret.",
		`CREATE TABLE IF NOT EXISTS %s.tokens (
  hash blob,
  id text,
  tenant text,
  role text,
  agent text,
  created timestamp,
  revoked timestamp,
  PRIMARY KEY (hash)
)`, ks)
	add("Tokens by tenant, for listing and revoking; the same records as tokens.",
		`CREATE TABLE IF NOT EXISTS %s.tokens_by_tenant (
  tenant text,
  hash blob,
  id text,
  role text,
  agent text,
  created timestamp,
  revoked timestamp,
  PRIMARY KEY ((tenant), hash)
)`, ks)
	add(fmt.Sprintf("Rollup queue: windows to (re)compute, one partition per resolution, minute slot "+
		"(ms, the minute they fall due) and shard (0 to %d, from the series id); a slot is deleted once computed.", queueShards-1),
		`CREATE TABLE IF NOT EXISTS %s.rollup_queue (
  resolution int,
  slot bigint,
  shard int,
  window_start bigint,
  series_id blob,
  PRIMARY KEY ((resolution, slot, shard), window_start, series_id)
) WITH default_time_to_live = %d
  AND gc_grace_seconds = %d`, ks, ttlSeconds(c.Retention[store.Raw]), gcGrace)
	add("Rollup job cursors: the next queue slot each resolution will compute.",
		`CREATE TABLE IF NOT EXISTS %s.cursors (
  name text,
  value bigint,
  PRIMARY KEY (name)
)`, ks)
	return append(out, alarmSchema(ks)...)
}

// alarmSchema is the alarm store's tables (alarm.go). Definitions, plans
// and suppressions take one partition per tenant (bounded by
// AlarmLimits); states and transitions one per alarm; the notification
// queue one per tenant, expired by TTL. The evaluation lease is a row per
// (tenant, shard) whose owner cell has the lease's TTL while the fencing
// token, written without one, outlives it.
func alarmSchema(ks string) []SchemaStatement {
	var out []SchemaStatement
	add := func(comment, format string, args ...any) {
		out = append(out, SchemaStatement{Comment: comment, CQL: fmt.Sprintf(format, args...)})
	}
	add("Alarm definitions: one partition per tenant; version is for optimistic updates (IF version = ?).",
		`CREATE TABLE IF NOT EXISTS %s.alarms (
  tenant text,
  id text,
  name text,
  agent text,
  check text,
  criteria text,
  period_ms bigint,
  plan text,
  created timestamp,
  updated timestamp,
  version bigint,
  PRIMARY KEY ((tenant), id)
)`, ks)
	add("Notification plans: receivers is the JSON of the receivers per state.",
		`CREATE TABLE IF NOT EXISTS %s.alarm_plans (
  tenant text,
  id text,
  name text,
  receivers blob,
  created timestamp,
  updated timestamp,
  PRIMARY KEY ((tenant), id)
)`, ks)
	add("Suppressions (maintenance windows): one-shot (start_ts, end_ts) or recurring (a schedule's text).",
		`CREATE TABLE IF NOT EXISTS %s.alarm_suppressions (
  tenant text,
  id text,
  name text,
  agent text,
  check text,
  alarm text,
  start_ts timestamp,
  end_ts timestamp,
  recurring text,
  notify_on_recovery boolean,
  created timestamp,
  updated timestamp,
  PRIMARY KEY ((tenant), id)
)`, ks)
	add("Evaluation leases: owner is written with the lease's TTL, token (the fencing token) without one, "+
		"so it keeps growing across holders; changed only by lightweight transactions.",
		`CREATE TABLE IF NOT EXISTS %s.alarm_leases (
  tenant text,
  shard int,
  owner text,
  token bigint,
  PRIMARY KEY ((tenant, shard))
)`, ks)
	add("Alarm state per agent (the alarm package's encoding), with the fencing token that wrote it: "+
		"a write with a lower token is refused (IF token <= ?).",
		`CREATE TABLE IF NOT EXISTS %s.alarm_state (
  tenant text,
  alarm text,
  agent text,
  state blob,
  updated timestamp,
  token bigint,
  PRIMARY KEY ((tenant, alarm), agent)
)`, ks)
	add(fmt.Sprintf("Transitions of an alarm, newest first; expired after %d days, and reads return at most "+
		"the configured number.", transitionTTL/(24*time.Hour)),
		`CREATE TABLE IF NOT EXISTS %s.alarm_transitions (
  tenant text,
  alarm text,
  at timestamp,
  agent text,
  from_state text,
  to_state text,
  message text,
  PRIMARY KEY ((tenant, alarm), at, agent)
) WITH CLUSTERING ORDER BY (at DESC, agent ASC)
  AND default_time_to_live = %d`, ks, ttlSeconds(transitionTTL))
	add("Notification queue by idempotency key: one row per notification, inserted IF NOT EXISTS.",
		`CREATE TABLE IF NOT EXISTS %s.alarm_notifications (
  tenant text,
  key text,
  alarm text,
  payload blob,
  due timestamp,
  status int,
  attempts int,
  last_error text,
  created timestamp,
  updated timestamp,
  PRIMARY KEY ((tenant), key)
)`, ks)
	add("Pending notifications by due time; a row is deleted when its notification is delivered, given up or rescheduled.",
		`CREATE TABLE IF NOT EXISTS %s.alarm_notifications_due (
  tenant text,
  due timestamp,
  key text,
  PRIMARY KEY ((tenant), due, key)
) WITH gc_grace_seconds = %d`, ks, gcGrace)
	add("Notifications newest first, for the history.",
		`CREATE TABLE IF NOT EXISTS %s.alarm_notifications_by_time (
  tenant text,
  created timestamp,
  key text,
  PRIMARY KEY ((tenant), created, key)
) WITH CLUSTERING ORDER BY (created DESC, key ASC)`, ks)
	return out
}

// SchemaText is the schema as a cqlsh script.
func SchemaText(c *Config) string {
	var b strings.Builder
	fmt.Fprintf(&b, "-- Vigil schema for keyspace %s (vigil-collector schema; vigil-collector migrate applies it).\n", c.Keyspace)
	for _, st := range Schema(c) {
		fmt.Fprintf(&b, "\n-- %s\n%s;\n", st.Comment, st.CQL)
	}
	return b.String()
}

// gcGrace is the tombstone grace of the tables that are only ever
// expired (by TTL) or, for the queue, deleted by whole partition: the
// default max_hint_window, so a replica back within the hint window gets
// its hints before the tombstones go.
const gcGrace = 3 * 3600

// timeSeriesOptions are the options of a table whose rows all expire
// after ttl: TimeWindowCompactionStrategy with about 24 windows per TTL,
// so whole SSTables expire and are dropped without compaction.
func timeSeriesOptions(ttl time.Duration) string {
	unit, size := twcsWindow(ttl)
	return fmt.Sprintf("compaction = {'class': 'TimeWindowCompactionStrategy', 'compaction_window_unit': '%s', 'compaction_window_size': '%d'}\n"+
		"  AND default_time_to_live = %d\n  AND gc_grace_seconds = %d", unit, size, ttlSeconds(ttl), gcGrace)
}

// twcsWindow sizes compaction windows to about a 24th of the TTL, in the
// largest unit that keeps between 20 and 30 windows per TTL.
func twcsWindow(ttl time.Duration) (string, int64) {
	target := ttl / 24
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"DAYS", 24 * time.Hour}, {"HOURS", time.Hour}} {
		if n := int64(target / u.d); n >= 1 {
			if windows := ttl / (time.Duration(n) * u.d); windows >= 20 && windows <= 30 {
				return u.name, n
			}
		}
	}
	return "MINUTES", max(1, int64((target+time.Minute-1)/time.Minute))
}

func ttlSeconds(d time.Duration) int64 { return int64((d + time.Second - 1) / time.Second) }

// replication renders the NetworkTopologyStrategy map, data centers sorted.
func replication(rf map[string]int) string {
	parts := []string{"'class': 'NetworkTopologyStrategy'"}
	for _, dc := range slices.Sorted(maps.Keys(rf)) {
		parts = append(parts, fmt.Sprintf("'%s': %d", dc, rf[dc]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// alterStatements bring the time series options of existing tables to c,
// so a changed retention takes effect on the next migrate (for rows
// written from then on).
func alterStatements(c *Config) []string {
	ks := c.Keyspace
	out := []string{}
	for _, res := range store.Resolutions {
		out = append(out, fmt.Sprintf("ALTER TABLE %s.%s WITH %s", ks, table(res), timeSeriesOptions(c.Retention[res])))
	}
	out = append(out,
		fmt.Sprintf("ALTER TABLE %s.check_history WITH %s", ks, timeSeriesOptions(c.Retention[store.Raw])),
		fmt.Sprintf("ALTER TABLE %s.rollup_queue WITH default_time_to_live = %d", ks, ttlSeconds(c.Retention[store.Raw])))
	return out
}

// Migrate creates the keyspace and the tables that do not exist yet and
// brings the TTLs and compaction of existing ones to c; running it again
// changes nothing. It does not change the replication of an existing
// keyspace (that needs ALTER KEYSPACE and a repair: an operator's
// decision). progress, if not nil, is told each statement before it runs.
func Migrate(ctx context.Context, c Config, progress func(cql string)) error {
	if err := c.Defaults(); err != nil {
		return err
	}
	cluster, err := newCluster(&c, nil)
	if err != nil {
		return err
	}
	cluster.Timeout = max(cluster.Timeout, time.Minute) // schema changes are slow
	policy := newHostPolicy(&c, &remoteUse{log: slog.Default(), local: c.LocalDC})
	policy.apply(cluster)
	sess, err := cluster.CreateSession()
	if err != nil {
		return fmt.Errorf("cassandra: connect to %s: %w", strings.Join(c.Hosts, ","), policy.filter.explain(err))
	}
	defer sess.Close()
	var stmts []string
	for _, st := range Schema(&c) {
		stmts = append(stmts, st.CQL)
	}
	stmts = append(stmts, alterStatements(&c)...)
	for _, cql := range stmts {
		if progress != nil {
			progress(cql)
		}
		if err := sess.Query(cql).ExecContext(ctx); err != nil {
			return fmt.Errorf("cassandra: migrate: %s: %w", firstLine(cql), err)
		}
		if err := sess.AwaitSchemaAgreement(ctx); err != nil {
			return fmt.Errorf("cassandra: migrate: nodes disagree on the schema after %s: %w", firstLine(cql), err)
		}
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
