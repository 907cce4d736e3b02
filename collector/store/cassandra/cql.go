package cassandra

import (
	"fmt"
	"strings"
	"time"

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

	alarm alarmStatements
}

// alarmStatements are the alarm store's (alarm.go). Those marked LWT are
// lightweight transactions, run at serial consistency LOCAL_SERIAL.
type alarmStatements struct {
	countAlarms, selectAlarm, selectAlarms, insertAlarm, updateAlarm, deleteAlarm string // insert, update, delete: LWT
	deleteStates, deleteTransitions                                               string
	countPlans, selectPlan, selectPlans, insertPlan, deletePlan                   string // delete: LWT
	countSuppressions, selectSuppressions, insertSuppression, deleteSuppression   string // delete: LWT
	selectSuppression                                                             string

	selectLease, createLease, takeLease, bumpToken, renewLease, releaseLease string // all but select: LWT

	updateState, insertState, selectStates string // update, insert: LWT
	insertTransition, selectTransitions    string
	insertNote, selectNote, updateNote     string // insert: LWT
	insertDue, deleteDue, selectDue        string
	insertNoteByTime, selectNotesByTime    string
}

// noteTTL is how long notifications and their history are kept; a
// delivery is given up long before.
const noteTTL = 30 * 24 * time.Hour

// transitionTTL bounds the transitions of an alarm in time; reads return
// at most AlarmLimits.Transitions of them.
const transitionTTL = 400 * 24 * time.Hour

func newAlarmStatements(q func(string) string) alarmStatements {
	noteTTLs := fmt.Sprint(ttlSeconds(noteTTL))
	return alarmStatements{
		countAlarms:  q("SELECT id FROM $ks.alarms WHERE tenant = ?"),
		selectAlarm:  q("SELECT name, agent, check, criteria, period_ms, plan, created, updated, version FROM $ks.alarms WHERE tenant = ? AND id = ?"),
		selectAlarms: q("SELECT id, name, agent, check, criteria, period_ms, plan, created, updated, version FROM $ks.alarms WHERE tenant = ?"),
		insertAlarm: q("INSERT INTO $ks.alarms (tenant, id, name, agent, check, criteria, period_ms, plan, created, updated, version) " +
			"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS"),
		updateAlarm: q("UPDATE $ks.alarms SET name = ?, agent = ?, check = ?, criteria = ?, period_ms = ?, plan = ?, updated = ?, version = ? " +
			"WHERE tenant = ? AND id = ? IF version = ?"),
		deleteAlarm:       q("DELETE FROM $ks.alarms WHERE tenant = ? AND id = ? IF EXISTS"),
		deleteStates:      q("DELETE FROM $ks.alarm_state WHERE tenant = ? AND alarm = ?"),
		deleteTransitions: q("DELETE FROM $ks.alarm_transitions WHERE tenant = ? AND alarm = ?"),

		countPlans:  q("SELECT id FROM $ks.alarm_plans WHERE tenant = ?"),
		selectPlan:  q("SELECT name, receivers, created, updated FROM $ks.alarm_plans WHERE tenant = ? AND id = ?"),
		selectPlans: q("SELECT id, name, receivers, created, updated FROM $ks.alarm_plans WHERE tenant = ?"),
		insertPlan:  q("INSERT INTO $ks.alarm_plans (tenant, id, name, receivers, created, updated) VALUES (?, ?, ?, ?, ?, ?)"),
		deletePlan:  q("DELETE FROM $ks.alarm_plans WHERE tenant = ? AND id = ? IF EXISTS"),

		countSuppressions: q("SELECT id FROM $ks.alarm_suppressions WHERE tenant = ?"),
		selectSuppression: q("SELECT id FROM $ks.alarm_suppressions WHERE tenant = ? AND id = ?"),
		selectSuppressions: q("SELECT id, name, agent, check, alarm, start_ts, end_ts, recurring, notify_on_recovery, created, updated " +
			"FROM $ks.alarm_suppressions WHERE tenant = ?"),
		insertSuppression: q("INSERT INTO $ks.alarm_suppressions (tenant, id, name, agent, check, alarm, start_ts, end_ts, recurring, " +
			"notify_on_recovery, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
		deleteSuppression: q("DELETE FROM $ks.alarm_suppressions WHERE tenant = ? AND id = ? IF EXISTS"),

		selectLease:  q("SELECT owner, token, TTL(owner) FROM $ks.alarm_leases WHERE tenant = ? AND shard = ?"),
		createLease:  q("INSERT INTO $ks.alarm_leases (tenant, shard, token) VALUES (?, ?, 0) IF NOT EXISTS"),
		takeLease:    q("UPDATE $ks.alarm_leases USING TTL ? SET owner = ? WHERE tenant = ? AND shard = ? IF owner = null AND token = ?"),
		bumpToken:    q("UPDATE $ks.alarm_leases SET token = ? WHERE tenant = ? AND shard = ?"),
		renewLease:   q("UPDATE $ks.alarm_leases USING TTL ? SET owner = ? WHERE tenant = ? AND shard = ? IF owner = ? AND token = ?"),
		releaseLease: q("DELETE owner FROM $ks.alarm_leases WHERE tenant = ? AND shard = ? IF owner = ? AND token = ?"),

		updateState:  q("UPDATE $ks.alarm_state SET state = ?, updated = ?, token = ? WHERE tenant = ? AND alarm = ? AND agent = ? IF token <= ?"),
		insertState:  q("INSERT INTO $ks.alarm_state (tenant, alarm, agent, state, updated, token) VALUES (?, ?, ?, ?, ?, ?) IF NOT EXISTS"),
		selectStates: q("SELECT agent, state, updated FROM $ks.alarm_state WHERE tenant = ? AND alarm = ?"),
		insertTransition: q("INSERT INTO $ks.alarm_transitions (tenant, alarm, at, agent, from_state, to_state, message) " +
			"VALUES (?, ?, ?, ?, ?, ?, ?)"),
		selectTransitions: q("SELECT at, agent, from_state, to_state, message FROM $ks.alarm_transitions WHERE tenant = ? AND alarm = ? LIMIT ?"),

		insertNote: q("INSERT INTO $ks.alarm_notifications (tenant, key, alarm, payload, due, status, attempts, last_error, created, updated) " +
			"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS USING TTL " + noteTTLs),
		selectNote: q("SELECT alarm, payload, due, status, attempts, last_error, created, updated FROM $ks.alarm_notifications WHERE tenant = ? AND key = ?"),
		updateNote: q("UPDATE $ks.alarm_notifications USING TTL " + noteTTLs +
			" SET due = ?, status = ?, attempts = ?, last_error = ?, updated = ? WHERE tenant = ? AND key = ?"),
		insertDue:         q("INSERT INTO $ks.alarm_notifications_due (tenant, due, key) VALUES (?, ?, ?) USING TTL " + noteTTLs),
		deleteDue:         q("DELETE FROM $ks.alarm_notifications_due WHERE tenant = ? AND due = ? AND key = ?"),
		selectDue:         q("SELECT due, key FROM $ks.alarm_notifications_due WHERE tenant = ? AND due <= ? LIMIT ?"),
		insertNoteByTime:  q("INSERT INTO $ks.alarm_notifications_by_time (tenant, created, key) VALUES (?, ?, ?) USING TTL " + noteTTLs),
		selectNotesByTime: q("SELECT key FROM $ks.alarm_notifications_by_time WHERE tenant = ? LIMIT ?"),
	}
}

// list names the alarm statements, for all.
func (a *alarmStatements) list() [][2]string {
	return [][2]string{
		{"countAlarms", a.countAlarms}, {"selectAlarm", a.selectAlarm}, {"selectAlarms", a.selectAlarms},
		{"insertAlarm", a.insertAlarm}, {"updateAlarm", a.updateAlarm}, {"deleteAlarm", a.deleteAlarm},
		{"deleteStates", a.deleteStates}, {"deleteTransitions", a.deleteTransitions},
		{"countPlans", a.countPlans}, {"selectPlan", a.selectPlan}, {"selectPlans", a.selectPlans},
		{"insertPlan", a.insertPlan}, {"deletePlan", a.deletePlan},
		{"countSuppressions", a.countSuppressions}, {"selectSuppression", a.selectSuppression},
		{"selectSuppressions", a.selectSuppressions}, {"insertSuppression", a.insertSuppression}, {"deleteSuppression", a.deleteSuppression},
		{"selectLease", a.selectLease}, {"createLease", a.createLease}, {"takeLease", a.takeLease}, {"bumpToken", a.bumpToken},
		{"renewLease", a.renewLease}, {"releaseLease", a.releaseLease},
		{"updateState", a.updateState}, {"insertState", a.insertState}, {"selectStates", a.selectStates},
		{"insertTransition", a.insertTransition}, {"selectTransitions", a.selectTransitions},
		{"insertNote", a.insertNote}, {"selectNote", a.selectNote}, {"updateNote", a.updateNote},
		{"insertDue", a.insertDue}, {"deleteDue", a.deleteDue}, {"selectDue", a.selectDue},
		{"insertNoteByTime", a.insertNoteByTime}, {"selectNotesByTime", a.selectNotesByTime},
	}
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
	s.alarm = newAlarmStatements(q)
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
	return append(append(out,
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
	), s.alarm.list()...)
}
