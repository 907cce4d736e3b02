package cassandra

import (
	"fmt"
	"strings"

	"github.com/vigilmon/vigil/collector/store"
)

// statements is every CQL statement the store sends, with the keyspace
// filled in. The driver prepares each once per connection and then sends
// only its id and the bound values. cql_test.go pins their text.
type statements struct {
	insertPoint       string // numeric raw point
	insertStringPoint string // string raw point
	selectPoints      string
	insertRollup      [store.NumResolutions]string // by resolution; [Raw] unused
	selectRollups     [store.NumResolutions]string
	insertBucket      string
	selectBuckets     string

	insertSeries       string
	selectSeriesAgent  string
	selectSeriesCheck  string
	selectSeriesMetric string
	insertSeriesAgent  string
	selectSeriesAgents string
	insertLatest       string
	selectLatest       string
	insertHistory      string
	selectHistory      string
	insertAgent        string
	selectAgents       string
	insertToken        string
	selectToken        string
	insertTenantToken  string
	selectTenantTokens string
	insertQueue        string
	selectQueue        string
	deleteQueue        string
	insertCursor       string
	selectCursor       string
}

func newStatements(ks string) *statements {
	q := func(format string) string { return strings.ReplaceAll(format, "$ks", ks) }
	s := &statements{
		insertPoint:       q("INSERT INTO $ks.points_raw (series_id, bucket, ts, value) VALUES (?, ?, ?, ?)"),
		insertStringPoint: q("INSERT INTO $ks.points_raw (series_id, bucket, ts, str) VALUES (?, ?, ?, ?)"),
		selectPoints:      q("SELECT ts, value, str FROM $ks.points_raw WHERE series_id = ? AND bucket = ? AND ts >= ? AND ts < ? LIMIT ?"),
		insertBucket:      q("INSERT INTO $ks.point_buckets (series_id, resolution, bucket) VALUES (?, ?, ?) USING TTL ?"),
		selectBuckets:     q("SELECT bucket FROM $ks.point_buckets WHERE series_id = ? AND resolution = ? AND bucket >= ? AND bucket <= ?"),

		insertSeries:       q("INSERT INTO $ks.series (tenant, agent, check, metric, labels, series_id, type, unit) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
		selectSeriesAgent:  q("SELECT check, metric, labels, series_id, type, unit FROM $ks.series WHERE tenant = ? AND agent = ?"),
		selectSeriesCheck:  q("SELECT check, metric, labels, series_id, type, unit FROM $ks.series WHERE tenant = ? AND agent = ? AND check = ?"),
		selectSeriesMetric: q("SELECT check, metric, labels, series_id, type, unit FROM $ks.series WHERE tenant = ? AND agent = ? AND check = ? AND metric = ?"),
		insertSeriesAgent:  q("INSERT INTO $ks.series_agents (tenant, agent) VALUES (?, ?)"),
		selectSeriesAgents: q("SELECT agent FROM $ks.series_agents WHERE tenant = ?"),
		insertLatest:       q("INSERT INTO $ks.check_latest (tenant, agent, check, ts, status, message, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?"),
		selectLatest:       q("SELECT check, ts, status, message, duration_ms FROM $ks.check_latest WHERE tenant = ? AND agent = ?"),
		insertHistory:      q("INSERT INTO $ks.check_history (tenant, agent, check, day, ts, status, message, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
		selectHistory:      q("SELECT ts, status, message, duration_ms FROM $ks.check_history WHERE tenant = ? AND agent = ? AND check = ? AND day = ? AND ts >= ? AND ts < ? LIMIT ?"),
		insertAgent:        q("INSERT INTO $ks.agents (tenant, agent, hostname, version, labels, last_seen, connected, collector) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
		selectAgents:       q("SELECT agent, hostname, version, labels, last_seen, connected, collector FROM $ks.agents WHERE tenant = ?"),
		insertToken:        q("INSERT INTO $ks.tokens (hash, id, tenant, role, agent, created, revoked) VALUES (?, ?, ?, ?, ?, ?, ?)"),
		selectToken:        q("SELECT id, tenant, role, agent, created, revoked FROM $ks.tokens WHERE hash = ?"),
		insertTenantToken:  q("INSERT INTO $ks.tokens_by_tenant (tenant, hash, id, role, agent, created, revoked) VALUES (?, ?, ?, ?, ?, ?, ?)"),
		selectTenantTokens: q("SELECT hash, id, role, agent, created, revoked FROM $ks.tokens_by_tenant WHERE tenant = ?"),
		insertQueue:        q("INSERT INTO $ks.rollup_queue (resolution, slot, shard, window_start, series_id) VALUES (?, ?, ?, ?, ?)"),
		selectQueue:        q("SELECT window_start, series_id FROM $ks.rollup_queue WHERE resolution = ? AND slot = ? AND shard = ?"),
		deleteQueue:        q("DELETE FROM $ks.rollup_queue WHERE resolution = ? AND slot = ? AND shard = ?"),
		insertCursor:       q("INSERT INTO $ks.cursors (name, value) VALUES (?, ?)"),
		selectCursor:       q("SELECT value FROM $ks.cursors WHERE name = ?"),
	}
	for _, res := range []store.Resolution{store.Res5m, store.Res1h} {
		t := ks + "." + table(res)
		s.insertRollup[res] = fmt.Sprintf("INSERT INTO %s (series_id, bucket, ts, count, sum, min, max, first, last, increase) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", t)
		s.selectRollups[res] = fmt.Sprintf("SELECT ts, count, sum, min, max, first, last, increase FROM %s WHERE series_id = ? AND bucket = ? AND ts >= ? AND ts < ? LIMIT ?", t)
	}
	return s
}

// all lists every statement with a name, for tests and documentation.
func (s *statements) all() [][2]string {
	out := [][2]string{
		{"insertPoint", s.insertPoint}, {"insertStringPoint", s.insertStringPoint}, {"selectPoints", s.selectPoints},
	}
	for _, res := range []store.Resolution{store.Res5m, store.Res1h} {
		out = append(out, [2]string{"insertRollup " + res.String(), s.insertRollup[res]},
			[2]string{"selectRollups " + res.String(), s.selectRollups[res]})
	}
	return append(out,
		[2]string{"insertBucket", s.insertBucket}, [2]string{"selectBuckets", s.selectBuckets},
		[2]string{"insertSeries", s.insertSeries}, [2]string{"selectSeriesAgent", s.selectSeriesAgent},
		[2]string{"selectSeriesCheck", s.selectSeriesCheck}, [2]string{"selectSeriesMetric", s.selectSeriesMetric},
		[2]string{"insertSeriesAgent", s.insertSeriesAgent}, [2]string{"selectSeriesAgents", s.selectSeriesAgents},
		[2]string{"insertLatest", s.insertLatest}, [2]string{"selectLatest", s.selectLatest},
		[2]string{"insertHistory", s.insertHistory}, [2]string{"selectHistory", s.selectHistory},
		[2]string{"insertAgent", s.insertAgent}, [2]string{"selectAgents", s.selectAgents},
		[2]string{"insertToken", s.insertToken}, [2]string{"selectToken", s.selectToken},
		[2]string{"insertTenantToken", s.insertTenantToken}, [2]string{"selectTenantTokens", s.selectTenantTokens},
		[2]string{"insertQueue", s.insertQueue}, [2]string{"selectQueue", s.selectQueue}, [2]string{"deleteQueue", s.deleteQueue},
		[2]string{"insertCursor", s.insertCursor}, [2]string{"selectCursor", s.selectCursor},
	)
}
