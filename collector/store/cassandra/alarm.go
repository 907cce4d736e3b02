package cassandra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vigilmon/vigil/collector/store"
)

// The alarm store on Cassandra. What must be atomic is a lightweight
// transaction (Paxos, serial consistency LOCAL_SERIAL: a region's
// collectors share a data center): taking, renewing and releasing a
// lease, the version check of an alarm update, the idempotency of an
// enqueue (INSERT IF NOT EXISTS) and each state write (IF token <= ?).
//
// Fencing: a write under a lease first reads the lease at LOCAL_SERIAL
// and is refused if its token is not the lease's. That read and the write
// are two requests, so a holder paused between them could still write
// after losing the lease; the state row's own condition (token <= the
// writer's) closes that for states, which a successor has written (a
// stale writer cannot overwrite them), and the idempotency key for
// notifications (a successor enqueueing the same transition finds it
// there). Limits are counted by reading a tenant's ids: concurrent creates
// can pass a limit by their number, as a limit (not a quota) may.

const serial = gocql.LocalSerial

// cas runs a lightweight transaction and returns whether it applied and
// the current row's values when it did not.
func (s *Store) cas(ctx context.Context, stmt string, args ...any) (bool, map[string]any, error) {
	sess, err := s.session()
	if err != nil {
		return false, nil, err
	}
	row := map[string]any{}
	applied, err := sess.Query(stmt, args...).Consistency(s.cons).SerialConsistency(serial).MapScanCASContext(ctx, row)
	return applied, row, s.health.observe(err)
}

// one reads one row, or returns store.ErrNotFound.
func (s *Store) one(ctx context.Context, cons gocql.Consistency, stmt string, args []any, dest ...any) error {
	sess, err := s.session()
	if err != nil {
		return err
	}
	err = sess.Query(stmt, args...).Consistency(cons).ScanContext(ctx, dest...)
	if errors.Is(err, gocql.ErrNotFound) {
		return store.ErrNotFound
	}
	return s.health.observe(err)
}

// iter runs a read and calls scan for each row until it returns false.
func (s *Store) iter(ctx context.Context, stmt string, args []any, scan func(it *gocql.Iter) bool) error {
	sess, err := s.session()
	if err != nil {
		return err
	}
	it := sess.Query(stmt, args...).Consistency(s.cons).IterContext(ctx)
	for scan(it) {
	}
	return s.health.observe(it.Close())
}

func (s *Store) limits() store.AlarmLimits { return s.cfg.AlarmLimits.WithDefaults() }

func (s *Store) underLimit(ctx context.Context, stmt, tenant, limit string, max int) error {
	n := 0
	var id string
	if err := s.iter(ctx, stmt, []any{tenant}, func(it *gocql.Iter) bool {
		ok := it.Scan(&id)
		if ok {
			n++
		}
		return ok
	}); err != nil {
		return err
	}
	if n >= max {
		return &store.LimitError{Tenant: tenant, Limit: limit, Max: max}
	}
	return nil
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// ts is a time for a timestamp column: nil for the zero time, which
// gocql would otherwise store as year 1.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// PutAlarm creates (IF NOT EXISTS) or updates (IF version = ?) an alarm.
func (s *Store) PutAlarm(ctx context.Context, a store.Alarm) (store.Alarm, error) {
	if err := a.Validate(); err != nil {
		return a, fmt.Errorf("cassandra: put alarm: %w", err)
	}
	wrap := func(err error) (store.Alarm, error) { return a, fmt.Errorf("cassandra: put alarm %s: %w", a.ID, err) }
	st := &s.st.alarm
	if a.Version == 0 {
		if err := s.underLimit(ctx, st.countAlarms, a.Tenant, "Alarms", s.limits().Alarms); err != nil {
			return wrap(err)
		}
		a.Version = 1
		applied, _, err := s.cas(ctx, st.insertAlarm, a.Tenant, a.ID, a.Name, a.Agent, a.Check, a.Criteria,
			a.Period.Milliseconds(), a.Plan, ts(a.Created), ts(a.Updated), a.Version)
		if err != nil {
			return wrap(err)
		}
		if !applied {
			return wrap(store.ErrExists)
		}
		return a, nil
	}
	old, err := s.Alarm(ctx, a.Tenant, a.ID)
	if err != nil {
		return a, err
	}
	applied, row, err := s.cas(ctx, st.updateAlarm, a.Name, a.Agent, a.Check, a.Criteria, a.Period.Milliseconds(), a.Plan,
		ts(a.Updated), a.Version+1, a.Tenant, a.ID, a.Version)
	if err != nil {
		return wrap(err)
	}
	if !applied {
		if row["version"] == nil {
			return wrap(store.ErrNotFound)
		}
		return wrap(fmt.Errorf("%w: stored version %v, given %d", store.ErrConflict, row["version"], a.Version))
	}
	a.Version++
	a.Created = old.Created
	return a, nil
}

// Alarm reads one alarm.
func (s *Store) Alarm(ctx context.Context, tenant, id string) (store.Alarm, error) {
	a := store.Alarm{Tenant: tenant, ID: id}
	var period int64
	err := s.one(ctx, s.cons, s.st.alarm.selectAlarm, []any{tenant, id},
		&a.Name, &a.Agent, &a.Check, &a.Criteria, &period, &a.Plan, &a.Created, &a.Updated, &a.Version)
	if err != nil {
		return a, fmt.Errorf("cassandra: alarm %s: %w", id, err)
	}
	a.Period = time.Duration(period) * time.Millisecond
	a.Created, a.Updated = utc(a.Created), utc(a.Updated)
	return a, nil
}

// Alarms lists a tenant's alarms by id (the clustering order).
func (s *Store) Alarms(ctx context.Context, tenant string) ([]store.Alarm, error) {
	var out []store.Alarm
	err := s.iter(ctx, s.st.alarm.selectAlarms, []any{tenant}, func(it *gocql.Iter) bool {
		a := store.Alarm{Tenant: tenant}
		var period int64
		if !it.Scan(&a.ID, &a.Name, &a.Agent, &a.Check, &a.Criteria, &period, &a.Plan, &a.Created, &a.Updated, &a.Version) {
			return false
		}
		a.Period = time.Duration(period) * time.Millisecond
		a.Created, a.Updated = utc(a.Created), utc(a.Updated)
		out = append(out, a)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("cassandra: alarms of %q: %w", tenant, err)
	}
	return out, nil
}

// deleteIfExists runs a DELETE ... IF EXISTS.
func (s *Store) deleteIfExists(ctx context.Context, what, stmt string, args ...any) error {
	applied, _, err := s.cas(ctx, stmt, args...)
	if err == nil && !applied {
		err = store.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("cassandra: delete %s: %w", what, err)
	}
	return nil
}

// DeleteAlarm deletes an alarm, then its state and transition partitions.
func (s *Store) DeleteAlarm(ctx context.Context, tenant, id string) error {
	if err := s.deleteIfExists(ctx, "alarm "+id, s.st.alarm.deleteAlarm, tenant, id); err != nil {
		return err
	}
	if err := s.put(ctx, "delete states of alarm "+id, s.st.alarm.deleteStates, tenant, id); err != nil {
		return err
	}
	return s.put(ctx, "delete transitions of alarm "+id, s.st.alarm.deleteTransitions, tenant, id)
}

// existsThenLimit counts a record against a limit unless it exists.
func (s *Store) existsThenLimit(ctx context.Context, get func() error, count, tenant, limit string, max int) error {
	err := get()
	if errors.Is(err, store.ErrNotFound) {
		return s.underLimit(ctx, count, tenant, limit, max)
	}
	return err
}

// PutPlan upserts a plan; receivers are stored as one JSON blob.
func (s *Store) PutPlan(ctx context.Context, p store.NotificationPlan) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("cassandra: put plan: %w", err)
	}
	st := &s.st.alarm
	if err := s.existsThenLimit(ctx, func() error { _, err := s.Plan(ctx, p.Tenant, p.ID); return err },
		st.countPlans, p.Tenant, "Plans", s.limits().Plans); err != nil {
		return fmt.Errorf("cassandra: put plan %s: %w", p.ID, err)
	}
	rs, err := json.Marshal(p.Receivers)
	if err != nil {
		return fmt.Errorf("cassandra: put plan %s: %w", p.ID, err)
	}
	return s.put(ctx, "put plan "+p.ID, st.insertPlan, p.Tenant, p.ID, p.Name, rs, ts(p.Created), ts(p.Updated))
}

func decodePlan(p *store.NotificationPlan, rs []byte) error {
	if len(rs) == 0 {
		return nil
	}
	return json.Unmarshal(rs, &p.Receivers)
}

// Plan reads one plan.
func (s *Store) Plan(ctx context.Context, tenant, id string) (store.NotificationPlan, error) {
	p := store.NotificationPlan{Tenant: tenant, ID: id}
	var rs []byte
	err := s.one(ctx, s.cons, s.st.alarm.selectPlan, []any{tenant, id}, &p.Name, &rs, &p.Created, &p.Updated)
	if err == nil {
		err = decodePlan(&p, rs)
	}
	if err != nil {
		return p, fmt.Errorf("cassandra: plan %s: %w", id, err)
	}
	p.Created, p.Updated = utc(p.Created), utc(p.Updated)
	return p, nil
}

// Plans lists a tenant's plans by id.
func (s *Store) Plans(ctx context.Context, tenant string) ([]store.NotificationPlan, error) {
	var (
		out  []store.NotificationPlan
		derr error
	)
	err := s.iter(ctx, s.st.alarm.selectPlans, []any{tenant}, func(it *gocql.Iter) bool {
		p := store.NotificationPlan{Tenant: tenant}
		var rs []byte
		if !it.Scan(&p.ID, &p.Name, &rs, &p.Created, &p.Updated) {
			return false
		}
		if err := decodePlan(&p, rs); err != nil && derr == nil {
			derr = fmt.Errorf("plan %s: %w", p.ID, err)
		}
		p.Created, p.Updated = utc(p.Created), utc(p.Updated)
		out = append(out, p)
		return true
	})
	if err = errors.Join(err, derr); err != nil {
		return nil, fmt.Errorf("cassandra: plans of %q: %w", tenant, err)
	}
	return out, nil
}

// DeletePlan deletes a plan.
func (s *Store) DeletePlan(ctx context.Context, tenant, id string) error {
	return s.deleteIfExists(ctx, "plan "+id, s.st.alarm.deletePlan, tenant, id)
}

// PutSuppression upserts a suppression.
func (s *Store) PutSuppression(ctx context.Context, sp store.Suppression) error {
	if err := sp.Validate(); err != nil {
		return fmt.Errorf("cassandra: put suppression: %w", err)
	}
	st := &s.st.alarm
	if err := s.existsThenLimit(ctx, func() error {
		var id string
		return s.one(ctx, s.cons, st.selectSuppression, []any{sp.Tenant, sp.ID}, &id)
	}, st.countSuppressions, sp.Tenant, "Suppressions", s.limits().Suppressions); err != nil {
		return fmt.Errorf("cassandra: put suppression %s: %w", sp.ID, err)
	}
	return s.put(ctx, "put suppression "+sp.ID, st.insertSuppression, sp.Tenant, sp.ID, sp.Name, sp.Agent, sp.Check, sp.Alarm,
		ts(sp.Start), ts(sp.End), sp.Recurring, sp.NotifyOnRecovery, ts(sp.Created), ts(sp.Updated))
}

// Suppressions lists a tenant's suppressions by id.
func (s *Store) Suppressions(ctx context.Context, tenant string) ([]store.Suppression, error) {
	var out []store.Suppression
	err := s.iter(ctx, s.st.alarm.selectSuppressions, []any{tenant}, func(it *gocql.Iter) bool {
		sp := store.Suppression{Tenant: tenant}
		if !it.Scan(&sp.ID, &sp.Name, &sp.Agent, &sp.Check, &sp.Alarm, &sp.Start, &sp.End, &sp.Recurring,
			&sp.NotifyOnRecovery, &sp.Created, &sp.Updated) {
			return false
		}
		sp.Start, sp.End, sp.Created, sp.Updated = utc(sp.Start), utc(sp.End), utc(sp.Created), utc(sp.Updated)
		out = append(out, sp)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("cassandra: suppressions of %q: %w", tenant, err)
	}
	return out, nil
}

// DeleteSuppression deletes a suppression.
func (s *Store) DeleteSuppression(ctx context.Context, tenant, id string) error {
	return s.deleteIfExists(ctx, "suppression "+id, s.st.alarm.deleteSuppression, tenant, id)
}

// leaseRow is a lease read at serial consistency; exists is false when
// the row was never created.
type leaseRow struct {
	exists bool
	owner  string
	token  int64
	ttl    int // seconds the owner cell has left
}

func (s *Store) readLease(ctx context.Context, tenant string, shard int) (leaseRow, error) {
	var (
		r     leaseRow
		owner *string
		ttl   *int
	)
	err := s.one(ctx, serial, s.st.alarm.selectLease, []any{tenant, shard}, &owner, &r.token, &ttl)
	if errors.Is(err, store.ErrNotFound) {
		return r, nil
	}
	if err != nil {
		return r, err
	}
	r.exists = true
	if owner != nil {
		r.owner = *owner
	}
	if ttl != nil {
		r.ttl = *ttl
	}
	return r, nil
}

// AcquireLease takes the lease: it creates the row (token 0) the first
// time, then sets the owner with the TTL and raises the token in one
// conditional batch (IF owner = null AND token = the one read), so of two
// collectors racing exactly one applies.
func (s *Store) AcquireLease(ctx context.Context, tenant string, shard int, owner string, ttl time.Duration) (store.Lease, bool, error) {
	l := store.Lease{Tenant: tenant, Shard: shard}
	if err := store.CheckLease(tenant, shard, owner, ttl); err != nil {
		return l, false, fmt.Errorf("cassandra: %w", err)
	}
	wrap := func(err error) (store.Lease, bool, error) {
		return l, false, fmt.Errorf("cassandra: acquire lease of %s/%d: %w", tenant, shard, err)
	}
	st := &s.st.alarm
	secs := int(ttlSeconds(ttl))
	for range 5 {
		r, err := s.readLease(ctx, tenant, shard)
		if err != nil {
			return wrap(err)
		}
		l.Owner, l.Token, l.Expires = r.owner, r.token, time.Now().Add(time.Duration(r.ttl)*time.Second)
		switch {
		case !r.exists:
			if _, _, err := s.cas(ctx, st.createLease, tenant, shard); err != nil {
				return wrap(err)
			}
			continue
		case r.owner == owner:
			renewed, err := s.RenewLease(ctx, store.Lease{Tenant: tenant, Shard: shard, Owner: owner, Token: r.token}, ttl)
			if errors.Is(err, store.ErrLeaseLost) {
				continue
			}
			if err != nil {
				return l, false, err
			}
			return renewed, true, nil
		case r.owner != "":
			return l, false, nil
		}
		sess, err := s.session()
		if err != nil {
			return wrap(err)
		}
		b := sess.Batch(gocql.LoggedBatch).Consistency(s.cons).SerialConsistency(serial).
			Query(st.takeLease, secs, owner, tenant, shard, r.token).
			Query(st.bumpToken, r.token+1, tenant, shard)
		applied, iter, err := b.MapExecCASContext(ctx, map[string]any{})
		if iter != nil {
			iter.Close()
		}
		if err := s.health.observe(err); err != nil {
			return wrap(err)
		}
		if applied {
			return store.Lease{Tenant: tenant, Shard: shard, Owner: owner, Token: r.token + 1,
				Expires: time.Now().Add(time.Duration(secs) * time.Second)}, true, nil
		}
		// Another collector moved first: read again to say who holds it.
	}
	return wrap(errors.New("the lease kept changing while it was being taken"))
}

// RenewLease rewrites the owner with a new TTL if it and the token are
// unchanged.
func (s *Store) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) (store.Lease, error) {
	if err := store.CheckLease(l.Tenant, l.Shard, l.Owner, ttl); err != nil {
		return l, fmt.Errorf("cassandra: %w", err)
	}
	secs := int(ttlSeconds(ttl))
	applied, _, err := s.cas(ctx, s.st.alarm.renewLease, secs, l.Owner, l.Tenant, l.Shard, l.Owner, l.Token)
	if err == nil && !applied {
		err = store.ErrLeaseLost
	}
	if err != nil {
		return l, fmt.Errorf("cassandra: renew lease of %s/%d: %w", l.Tenant, l.Shard, err)
	}
	l.Expires = time.Now().Add(time.Duration(secs) * time.Second)
	return l, nil
}

// ReleaseLease deletes the owner cell if l still holds the lease.
func (s *Store) ReleaseLease(ctx context.Context, l store.Lease) error {
	if _, _, err := s.cas(ctx, s.st.alarm.releaseLease, l.Tenant, l.Shard, l.Owner, l.Token); err != nil {
		return fmt.Errorf("cassandra: release lease of %s/%d: %w", l.Tenant, l.Shard, err)
	}
	return nil
}

// fenced refuses f unless it is the lease's current token.
func (s *Store) fenced(ctx context.Context, f store.Fence) error {
	r, err := s.readLease(ctx, f.Tenant, f.Shard)
	if err != nil {
		return err
	}
	if r.token != f.Token {
		return fmt.Errorf("%w (token %d, the lease's is %d)", store.ErrFenced, f.Token, r.token)
	}
	return nil
}

// putState writes one state if no newer token wrote it.
func (s *Store) putState(ctx context.Context, f store.Fence, st *store.AlarmState) error {
	a := &s.st.alarm
	for range 3 {
		applied, row, err := s.cas(ctx, a.updateState, st.State, ts(st.Updated), f.Token, f.Tenant, st.Alarm, st.Agent, f.Token)
		if err != nil || applied {
			return err
		}
		if row["token"] != nil {
			return fmt.Errorf("%w (the state of %s for %s was written with token %v, above %d)", store.ErrFenced, st.Alarm, st.Agent, row["token"], f.Token)
		}
		applied, _, err = s.cas(ctx, a.insertState, f.Tenant, st.Alarm, st.Agent, st.State, ts(st.Updated), f.Token)
		if err != nil || applied {
			return err
		}
	}
	return fmt.Errorf("the state of %s for %s kept changing", st.Alarm, st.Agent)
}

// PutAlarmStates checks the fence, writes each state with its own
// condition, then the transitions.
func (s *Store) PutAlarmStates(ctx context.Context, f store.Fence, states []store.AlarmState, trs []store.Transition) error {
	if err := store.ValidateStates(f, states, trs); err != nil {
		return fmt.Errorf("cassandra: put alarm states: %w", err)
	}
	wrap := func(err error) error { return fmt.Errorf("cassandra: put alarm states of %s: %w", f.Tenant, err) }
	if err := s.fenced(ctx, f); err != nil {
		return wrap(err)
	}
	for i := range states {
		if err := s.putState(ctx, f, &states[i]); err != nil {
			return wrap(err)
		}
	}
	sess, err := s.session()
	if err != nil {
		return err
	}
	jobs := make([]job, len(trs))
	for i, t := range trs {
		jobs[i] = job{stmt: s.st.alarm.insertTransition, args: []any{f.Tenant, t.Alarm, t.At, t.Agent, t.From, t.To, t.Message}}
	}
	if err := s.health.observe(s.run(ctx, sess, jobs)); err != nil {
		return wrap(err)
	}
	return nil
}

// AlarmStates reads one alarm's partition of states.
func (s *Store) AlarmStates(ctx context.Context, tenant, alarm string) ([]store.AlarmState, error) {
	var out []store.AlarmState
	err := s.iter(ctx, s.st.alarm.selectStates, []any{tenant, alarm}, func(it *gocql.Iter) bool {
		st := store.AlarmState{Alarm: alarm}
		if !it.Scan(&st.Agent, &st.State, &st.Updated) {
			return false
		}
		st.Updated = utc(st.Updated)
		out = append(out, st)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("cassandra: states of alarm %s: %w", alarm, err)
	}
	return out, nil
}

// Transitions reads the newest transitions of an alarm.
func (s *Store) Transitions(ctx context.Context, tenant, alarm string, limit int) ([]store.Transition, error) {
	keep := s.limits().Transitions
	if limit <= 0 || limit > keep {
		limit = keep
	}
	var out []store.Transition
	err := s.iter(ctx, s.st.alarm.selectTransitions, []any{tenant, alarm, limit}, func(it *gocql.Iter) bool {
		t := store.Transition{Alarm: alarm}
		if !it.Scan(&t.At, &t.Agent, &t.From, &t.To, &t.Message) {
			return false
		}
		t.At = utc(t.At)
		out = append(out, t)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("cassandra: transitions of alarm %s: %w", alarm, err)
	}
	return out, nil
}

// Enqueue checks the fence, then inserts each notification IF NOT EXISTS
// and, for new ones, its due and history rows. A key found pending gets
// its due row written again, which finishes an enqueue cut short after
// its first insert.
func (s *Store) Enqueue(ctx context.Context, f store.Fence, ns []store.Notification) (int, error) {
	if err := store.ValidateNotifications(f, ns); err != nil {
		return 0, fmt.Errorf("cassandra: enqueue: %w", err)
	}
	wrap := func(err error) error { return fmt.Errorf("cassandra: enqueue notifications of %s: %w", f.Tenant, err) }
	if err := s.fenced(ctx, f); err != nil {
		return 0, wrap(err)
	}
	a := &s.st.alarm
	added := 0
	for _, n := range ns {
		applied, row, err := s.cas(ctx, a.insertNote, f.Tenant, n.Key, n.Alarm, n.Payload, ts(n.Due), int(store.NotificationPending), 0, "",
			ts(n.Created), ts(n.Created))
		if err != nil {
			return added, wrap(err)
		}
		due, created := n.Due, n.Created
		if !applied {
			st, _ := row["status"].(int)
			if store.NotificationStatus(st) != store.NotificationPending {
				continue
			}
			due, _ = row["due"].(time.Time)
			created, _ = row["created"].(time.Time)
		} else {
			added++
		}
		if err := s.put(ctx, "enqueue "+n.Key, a.insertDue, f.Tenant, due, n.Key); err != nil {
			return added, err
		}
		if err := s.put(ctx, "enqueue "+n.Key, a.insertNoteByTime, f.Tenant, created, n.Key); err != nil {
			return added, err
		}
	}
	return added, nil
}

func (s *Store) note(ctx context.Context, tenant, key string) (store.Notification, error) {
	n := store.Notification{Key: key}
	var status int
	err := s.one(ctx, s.cons, s.st.alarm.selectNote, []any{tenant, key},
		&n.Alarm, &n.Payload, &n.Due, &status, &n.Attempts, &n.LastError, &n.Created, &n.Updated)
	n.Status = store.NotificationStatus(status)
	n.Due, n.Created, n.Updated = utc(n.Due), utc(n.Created), utc(n.Updated)
	return n, err
}

// DueNotifications reads the due index, then each notification; index
// rows whose notification moved on are skipped.
func (s *Store) DueNotifications(ctx context.Context, tenant string, now time.Time, limit int) ([]store.Notification, error) {
	type ref struct {
		due time.Time
		key string
	}
	var refs []ref
	n := limit
	if n <= 0 {
		n = 1 << 30
	}
	err := s.iter(ctx, s.st.alarm.selectDue, []any{tenant, now, n}, func(it *gocql.Iter) bool {
		var r ref
		ok := it.Scan(&r.due, &r.key)
		if ok {
			refs = append(refs, r)
		}
		return ok
	})
	if err != nil {
		return nil, fmt.Errorf("cassandra: due notifications of %q: %w", tenant, err)
	}
	var out []store.Notification
	for _, r := range refs {
		nt, err := s.note(ctx, tenant, r.key)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cassandra: due notifications of %q: %w", tenant, err)
		}
		if nt.Status == store.NotificationPending && nt.Due.Equal(r.due) {
			out = append(out, nt)
		}
	}
	return out, nil
}

// MarkNotification updates the notification and moves its due row.
func (s *Store) MarkNotification(ctx context.Context, tenant, key string, d store.Delivery) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("cassandra: mark notification %q: %w", key, err)
	}
	n, err := s.note(ctx, tenant, key)
	if err != nil {
		return fmt.Errorf("cassandra: mark notification %q: %w", key, err)
	}
	a := &s.st.alarm
	due := n.Due
	if d.Status == store.NotificationPending {
		due = d.Next
	}
	what := "mark notification " + key
	if err := s.put(ctx, what, a.updateNote, ts(due), int(d.Status), n.Attempts+1, d.Error, ts(d.At), tenant, key); err != nil {
		return err
	}
	if d.Status == store.NotificationPending {
		if err := s.put(ctx, what, a.insertDue, tenant, due, key); err != nil {
			return err
		}
	}
	if n.Status == store.NotificationPending && !(d.Status == store.NotificationPending && due.Equal(n.Due)) {
		return s.put(ctx, what, a.deleteDue, tenant, n.Due, key)
	}
	return nil
}

// Notifications reads the history index newest first, then each
// notification.
func (s *Store) Notifications(ctx context.Context, tenant string, limit int) ([]store.Notification, error) {
	n := limit
	if n <= 0 {
		n = 1 << 30
	}
	var ks []string
	err := s.iter(ctx, s.st.alarm.selectNotesByTime, []any{tenant, n}, func(it *gocql.Iter) bool {
		var k string
		ok := it.Scan(&k)
		if ok && !slices.Contains(ks, k) {
			ks = append(ks, k)
		}
		return ok
	})
	if err != nil {
		return nil, fmt.Errorf("cassandra: notifications of %q: %w", tenant, err)
	}
	out := make([]store.Notification, 0, len(ks))
	for _, k := range ks {
		nt, err := s.note(ctx, tenant, k)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cassandra: notifications of %q: %w", tenant, err)
		}
		out = append(out, nt)
	}
	return out, nil
}
