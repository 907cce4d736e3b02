package pebble

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/vigilmon/vigil/collector/store"
)

// Alarm keys: A | kind | tuples... (the layout in pebble.go). Every
// operation of the alarm store runs under alarmMu: the lease check and the
// write it guards are one step, as Cassandra's lightweight transactions
// make them there. These records are few and small next to points, so a
// single mutex costs nothing that matters.
//
// Definitions, plans, suppressions and notifications are stored as JSON:
// they change seldom, and JSON lets a field be added without a layout
// version. States are token(8) | updated ms(8) | the alarm package's
// bytes.
const (
	akAlarm      = 'd' // A d T(tenant) T(id)            → alarm JSON
	akPlan       = 'p' // A p T(tenant) T(id)            → plan JSON
	akSuppress   = 'x' // A x T(tenant) T(id)            → suppression JSON
	akLease      = 'l' // A l T(tenant) shard(8)         → lease JSON
	akState      = 's' // A s T(tenant) T(alarm) T(agent) → updated ms(8) | state
	akTransition = 'h' // A h T(tenant) T(alarm) at(8) T(agent) → transition JSON
	akNote       = 'n' // A n T(tenant) T(key)           → notification JSON
	akDue        = 'q' // A q T(tenant) due(8) T(key)    → empty: pending notifications
	akCreated    = 'c' // A c T(tenant) created(8) T(key) → empty: notifications by age
)

func alarmKey(kind byte, tenant string, parts ...string) []byte {
	k := appendTuple([]byte{nsAlarm, kind}, tenant)
	for _, p := range parts {
		k = appendTuple(k, p)
	}
	return k
}

func appendMS(k []byte, ms int64) []byte {
	k = append(k, make([]byte, 8)...)
	putInt64(k[len(k)-8:], ms)
	return k
}

func leaseKey(tenant string, shard int) []byte {
	return appendMS(alarmKey(akLease, tenant), int64(shard))
}

// leaseRecord is a lease as stored; Owner is "" once released.
type leaseRecord struct {
	Owner   string
	Token   int64
	Expires int64 // ms
}

// get returns a copy of the value of k, or nil if there is none.
func (s *Store) get(k []byte) ([]byte, error) {
	v, closer, err := s.db.Get(k)
	if errors.Is(err, pebbledb.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return append([]byte{}, v...), nil
}

func (s *Store) getJSON(k []byte, v any) (bool, error) {
	b, err := s.get(k)
	if err != nil || b == nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("record %q: %w: %w", k, errCorrupt, err)
	}
	return true, nil
}

// alarmOp runs f under the close guard and alarmMu.
func (s *Store) alarmOp(ctx context.Context, what string, f func() error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: %s: %w", what, err)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	s.alarmMu.Lock()
	defer s.alarmMu.Unlock()
	if err := f(); err != nil {
		return fmt.Errorf("pebble: %s: %w", what, err)
	}
	return nil
}

// commitAlarm writes b synced.
func (s *Store) commitAlarm(b *pebbledb.Batch) error {
	return s.write(false, func() error { return b.Commit(pebbledb.Sync) })
}

func (s *Store) count(ctx context.Context, prefix []byte) (int, error) {
	n := 0
	err := s.scanPrefix(ctx, prefix, func(_, _ []byte) error { n++; return nil })
	return n, err
}

// underLimit checks the tenant's limit before the first write of a record.
func (s *Store) underLimit(ctx context.Context, kind byte, tenant, limit string, max int) error {
	n, err := s.count(ctx, alarmKey(kind, tenant))
	if err != nil {
		return err
	}
	if n >= max {
		return &store.LimitError{Tenant: tenant, Limit: limit, Max: max}
	}
	return nil
}

// PutAlarm creates or updates an alarm with optimistic versions.
func (s *Store) PutAlarm(ctx context.Context, a store.Alarm) (out store.Alarm, err error) {
	if err := a.Validate(); err != nil {
		return out, fmt.Errorf("pebble: put alarm: %w", err)
	}
	err = s.alarmOp(ctx, "put alarm "+a.ID, func() error {
		k := alarmKey(akAlarm, a.Tenant, a.ID)
		var old store.Alarm
		found, err := s.getJSON(k, &old)
		if err != nil {
			return err
		}
		switch {
		case a.Version == 0 && found:
			return store.ErrExists
		case a.Version == 0:
			if err := s.underLimit(ctx, akAlarm, a.Tenant, "Alarms", s.alarmLimits.Alarms); err != nil {
				return err
			}
		case !found:
			return store.ErrNotFound
		case old.Version != a.Version:
			return fmt.Errorf("%w: stored version %d, given %d", store.ErrConflict, old.Version, a.Version)
		default:
			a.Created = old.Created
		}
		a.Version++
		v, err := json.Marshal(&a)
		if err != nil {
			return err
		}
		return s.write(false, func() error { return s.db.Set(k, v, pebbledb.Sync) })
	})
	return a, err
}

// Alarm returns one alarm.
func (s *Store) Alarm(ctx context.Context, tenant, id string) (store.Alarm, error) {
	return getRecord[store.Alarm](ctx, s, "alarm "+id, alarmKey(akAlarm, tenant, id))
}

// getRecord decodes the JSON record at k, or fails with ErrNotFound.
func getRecord[T any](ctx context.Context, s *Store, what string, k []byte) (r T, err error) {
	err = s.alarmOp(ctx, what, func() error {
		found, err := s.getJSON(k, &r)
		if err == nil && !found {
			err = store.ErrNotFound
		}
		return err
	})
	return r, err
}

// listJSON decodes every record under prefix.
func listJSON[T any](ctx context.Context, s *Store, what string, prefix []byte) (out []T, err error) {
	err = s.alarmOp(ctx, what, func() error {
		return s.scanPrefix(ctx, prefix, func(k, v []byte) error {
			var r T
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("record %q: %w: %w", k, errCorrupt, err)
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// Alarms lists a tenant's alarms by id.
func (s *Store) Alarms(ctx context.Context, tenant string) ([]store.Alarm, error) {
	return listJSON[store.Alarm](ctx, s, "alarms of "+tenant, alarmKey(akAlarm, tenant))
}

// deleteRecord deletes k and the key ranges of the prefixes, or fails
// with ErrNotFound if k does not exist.
func (s *Store) deleteRecord(k []byte, prefixes ...[]byte) error {
	v, err := s.get(k)
	if err != nil {
		return err
	}
	if v == nil {
		return store.ErrNotFound
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.Delete(k, nil); err != nil {
		return err
	}
	for _, p := range prefixes {
		if err := b.DeleteRange(p, prefixEnd(p), nil); err != nil {
			return err
		}
	}
	return s.commitAlarm(b)
}

// DeleteAlarm deletes an alarm, its states and its transitions.
func (s *Store) DeleteAlarm(ctx context.Context, tenant, id string) error {
	return s.alarmOp(ctx, "delete alarm "+id, func() error {
		return s.deleteRecord(alarmKey(akAlarm, tenant, id), alarmKey(akState, tenant, id), alarmKey(akTransition, tenant, id))
	})
}

// putRecord upserts a JSON record, counting it against a limit when new.
func (s *Store) putRecord(ctx context.Context, kind byte, tenant, id, limit string, max int, r any) error {
	k := alarmKey(kind, tenant, id)
	old, err := s.get(k)
	if err != nil {
		return err
	}
	if old == nil {
		if err := s.underLimit(ctx, kind, tenant, limit, max); err != nil {
			return err
		}
	}
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return s.write(false, func() error { return s.db.Set(k, v, pebbledb.Sync) })
}

// PutPlan creates or replaces a notification plan.
//
//nolint:dupl // PutPlan and PutSuppression are parallel; a shared helper would take nine parameters
func (s *Store) PutPlan(ctx context.Context, p store.NotificationPlan) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("pebble: put plan: %w", err)
	}
	return s.alarmOp(ctx, "put plan "+p.ID, func() error {
		return s.putRecord(ctx, akPlan, p.Tenant, p.ID, "Plans", s.alarmLimits.Plans, &p)
	})
}

// Plan returns one plan.
func (s *Store) Plan(ctx context.Context, tenant, id string) (store.NotificationPlan, error) {
	return getRecord[store.NotificationPlan](ctx, s, "plan "+id, alarmKey(akPlan, tenant, id))
}

// Plans lists a tenant's plans by id.
func (s *Store) Plans(ctx context.Context, tenant string) ([]store.NotificationPlan, error) {
	return listJSON[store.NotificationPlan](ctx, s, "plans of "+tenant, alarmKey(akPlan, tenant))
}

// DeletePlan deletes a plan.
func (s *Store) DeletePlan(ctx context.Context, tenant, id string) error {
	return s.alarmOp(ctx, "delete plan "+id, func() error { return s.deleteRecord(alarmKey(akPlan, tenant, id)) })
}

// PutSuppression creates or replaces a suppression.
//
//nolint:dupl // PutPlan and PutSuppression are parallel; a shared helper would take nine parameters
func (s *Store) PutSuppression(ctx context.Context, sp store.Suppression) error {
	if err := sp.Validate(); err != nil {
		return fmt.Errorf("pebble: put suppression: %w", err)
	}
	return s.alarmOp(ctx, "put suppression "+sp.ID, func() error {
		return s.putRecord(ctx, akSuppress, sp.Tenant, sp.ID, "Suppressions", s.alarmLimits.Suppressions, &sp)
	})
}

// Suppressions lists a tenant's suppressions by id.
func (s *Store) Suppressions(ctx context.Context, tenant string) ([]store.Suppression, error) {
	return listJSON[store.Suppression](ctx, s, "suppressions of "+tenant, alarmKey(akSuppress, tenant))
}

// DeleteSuppression deletes a suppression.
func (s *Store) DeleteSuppression(ctx context.Context, tenant, id string) error {
	return s.alarmOp(ctx, "delete suppression "+id, func() error { return s.deleteRecord(alarmKey(akSuppress, tenant, id)) })
}

func (s *Store) lease(tenant string, shard int) (leaseRecord, error) {
	var r leaseRecord
	_, err := s.getJSON(leaseKey(tenant, shard), &r)
	return r, err
}

func (s *Store) putLease(tenant string, shard int, r leaseRecord) error {
	v, err := json.Marshal(&r)
	if err != nil {
		return err
	}
	return s.write(false, func() error { return s.db.Set(leaseKey(tenant, shard), v, pebbledb.Sync) })
}

// AcquireLease takes the lease if it is free, expired or owner's. The
// expiry is wall-clock time, so a lease outlives a restart until it
// expires, and the token, stored with it, keeps growing across restarts.
func (s *Store) AcquireLease(ctx context.Context, tenant string, shard int, owner string, ttl time.Duration) (l store.Lease, ok bool, err error) {
	if err := store.CheckLease(tenant, shard, owner, ttl); err != nil {
		return l, false, fmt.Errorf("pebble: %w", err)
	}
	err = s.alarmOp(ctx, "acquire lease of "+tenant, func() error {
		r, err := s.lease(tenant, shard)
		if err != nil {
			return err
		}
		now := s.now()
		l = store.Lease{Tenant: tenant, Shard: shard, Owner: r.Owner, Token: r.Token, Expires: time.UnixMilli(r.Expires)}
		held := r.Owner != "" && r.Expires > now.UnixMilli()
		if held && r.Owner != owner {
			return nil
		}
		if !held {
			r.Token++
		}
		r.Owner, r.Expires = owner, now.Add(ttl).UnixMilli()
		if err := s.putLease(tenant, shard, r); err != nil {
			return err
		}
		l, ok = store.Lease{Tenant: tenant, Shard: shard, Owner: owner, Token: r.Token, Expires: time.UnixMilli(r.Expires)}, true
		return nil
	})
	return l, ok, err
}

// RenewLease extends a lease that l still holds.
func (s *Store) RenewLease(ctx context.Context, l store.Lease, ttl time.Duration) (out store.Lease, err error) {
	if err := store.CheckLease(l.Tenant, l.Shard, l.Owner, ttl); err != nil {
		return out, fmt.Errorf("pebble: %w", err)
	}
	err = s.alarmOp(ctx, "renew lease of "+l.Tenant, func() error {
		r, err := s.lease(l.Tenant, l.Shard)
		if err != nil {
			return err
		}
		now := s.now()
		if r.Owner != l.Owner || r.Token != l.Token || r.Expires <= now.UnixMilli() {
			return store.ErrLeaseLost
		}
		r.Expires = now.Add(ttl).UnixMilli()
		if err := s.putLease(l.Tenant, l.Shard, r); err != nil {
			return err
		}
		out = l
		out.Expires = time.UnixMilli(r.Expires)
		return nil
	})
	return out, err
}

// ReleaseLease frees the lease if l holds it, keeping the token.
func (s *Store) ReleaseLease(ctx context.Context, l store.Lease) error {
	return s.alarmOp(ctx, "release lease of "+l.Tenant, func() error {
		r, err := s.lease(l.Tenant, l.Shard)
		if err != nil {
			return err
		}
		if r.Owner != l.Owner || r.Token != l.Token {
			return nil
		}
		r.Owner, r.Expires = "", 0
		return s.putLease(l.Tenant, l.Shard, r)
	})
}

// fenced refuses f unless it is the lease's current token. Called under
// alarmMu, so no Acquire comes between the check and the write.
func (s *Store) fenced(f store.Fence) error {
	r, err := s.lease(f.Tenant, f.Shard)
	if err != nil {
		return err
	}
	if r.Token != f.Token {
		return fmt.Errorf("%w (token %d, the lease's is %d)", store.ErrFenced, f.Token, r.Token)
	}
	return nil
}

func transitionKey(tenant string, t *store.Transition) []byte {
	return appendTuple(appendMS(alarmKey(akTransition, tenant, t.Alarm), t.At.UnixMilli()), t.Agent)
}

// PutAlarmStates writes states and transitions in one synced batch, then
// trims the alarms' histories to AlarmLimits.Transitions.
func (s *Store) PutAlarmStates(ctx context.Context, f store.Fence, states []store.AlarmState, ts []store.Transition) error {
	if err := store.ValidateStates(f, states, ts); err != nil {
		return fmt.Errorf("pebble: put alarm states: %w", err)
	}
	return s.alarmOp(ctx, "put alarm states of "+f.Tenant, func() error {
		if err := s.fenced(f); err != nil {
			return err
		}
		b := s.db.NewBatch()
		defer b.Close()
		for _, st := range states {
			v := appendMS(nil, st.Updated.UnixMilli())
			if err := b.Set(alarmKey(akState, f.Tenant, st.Alarm, st.Agent), append(v, st.State...), nil); err != nil {
				return err
			}
		}
		alarms := map[string]bool{}
		for _, t := range ts {
			v, err := json.Marshal(&t)
			if err != nil {
				return err
			}
			if err := b.Set(transitionKey(f.Tenant, &t), v, nil); err != nil {
				return err
			}
			alarms[t.Alarm] = true
		}
		if err := s.commitAlarm(b); err != nil {
			return err
		}
		for a := range alarms {
			if err := s.trimTransitions(ctx, f.Tenant, a); err != nil {
				return err
			}
		}
		return nil
	})
}

// trimTransitions deletes all but the newest AlarmLimits.Transitions.
func (s *Store) trimTransitions(ctx context.Context, tenant, alarm string) error {
	prefix := alarmKey(akTransition, tenant, alarm)
	var keys [][]byte
	if err := s.scanPrefix(ctx, prefix, func(k, _ []byte) error { keys = append(keys, slices.Clone(k)); return nil }); err != nil {
		return err
	}
	extra := len(keys) - s.alarmLimits.Transitions
	if extra <= 0 {
		return nil
	}
	// Keys are in time order: the first extra are the oldest.
	return s.write(true, func() error { return s.db.DeleteRange(prefix, keys[extra], pebbledb.Sync) })
}

// AlarmStates returns the states of one alarm by agent.
func (s *Store) AlarmStates(ctx context.Context, tenant, alarm string) (out []store.AlarmState, err error) {
	prefix := alarmKey(akState, tenant, alarm)
	err = s.alarmOp(ctx, "alarm states of "+alarm, func() error {
		return s.scanPrefix(ctx, prefix, func(k, v []byte) error {
			agent, rest, err := decodeTuple(k[len(prefix):])
			if err != nil || len(rest) != 0 || len(v) < 8 {
				return fmt.Errorf("state key %q: %w", k, errCorrupt)
			}
			out = append(out, store.AlarmState{Alarm: alarm, Agent: agent, Updated: time.UnixMilli(getInt64(v)), State: slices.Clone(v[8:])})
			return nil
		})
	})
	return out, err
}

// Transitions returns an alarm's transitions newest first.
func (s *Store) Transitions(ctx context.Context, tenant, alarm string, limit int) (out []store.Transition, err error) {
	prefix := alarmKey(akTransition, tenant, alarm)
	err = s.alarmOp(ctx, "transitions of "+alarm, func() error {
		it, err := s.db.NewIterWithContext(ctx, &pebbledb.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
		if err != nil {
			return err
		}
		for valid := it.Last(); valid && (limit <= 0 || len(out) < limit); valid = it.Prev() {
			var t store.Transition
			if err := json.Unmarshal(it.Value(), &t); err != nil {
				it.Close()
				return fmt.Errorf("transition %q: %w: %w", it.Key(), errCorrupt, err)
			}
			out = append(out, t)
		}
		return closeIter(it, nil)
	})
	return out, err
}

func dueKey(tenant string, due int64, key string) []byte {
	return appendTuple(appendMS(alarmKey(akDue, tenant), due), key)
}

func createdKey(tenant string, created int64, key string) []byte {
	return appendTuple(appendMS(alarmKey(akCreated, tenant), created), key)
}

// Enqueue adds the notifications whose keys are new, with their indexes,
// in one synced batch.
func (s *Store) Enqueue(ctx context.Context, f store.Fence, ns []store.Notification) (added int, err error) {
	if err := store.ValidateNotifications(f, ns); err != nil {
		return 0, fmt.Errorf("pebble: enqueue: %w", err)
	}
	err = s.alarmOp(ctx, "enqueue notifications of "+f.Tenant, func() error {
		if err := s.fenced(f); err != nil {
			return err
		}
		b := s.db.NewBatch()
		defer b.Close()
		seen := map[string]bool{}
		for _, n := range ns {
			k := alarmKey(akNote, f.Tenant, n.Key)
			old, err := s.get(k)
			if err != nil {
				return err
			}
			if old != nil || seen[n.Key] {
				continue
			}
			seen[n.Key] = true
			n.Status, n.Attempts, n.LastError = store.NotificationPending, 0, ""
			n.Updated = n.Created
			v, err := json.Marshal(&n)
			if err != nil {
				return err
			}
			for _, kv := range [][2][]byte{{k, v}, {dueKey(f.Tenant, n.Due.UnixMilli(), n.Key), nil},
				{createdKey(f.Tenant, n.Created.UnixMilli(), n.Key), nil}} {
				if err := b.Set(kv[0], kv[1], nil); err != nil {
					return err
				}
			}
			added++
		}
		if added == 0 {
			return nil
		}
		if err := s.pruneNotifications(ctx, b, f.Tenant, time.Now().Add(-notificationRetention)); err != nil {
			return err
		}
		return s.commitAlarm(b)
	})
	return added, err
}

// notificationRetention is how long a finished notification and its
// history are kept, as the Cassandra backend's TTL keeps them.
const notificationRetention = 30 * 24 * time.Hour

// pruneBatch bounds the notifications one Enqueue deletes, so a backlog
// of old ones costs a few enqueues instead of one long one.
const pruneBatch = 256

// pruneNotifications adds to b the deletion of the tenant's finished
// notifications created before cutoff (at most pruneBatch): without it
// the embedded store would keep every notification ever sent. A pending
// one stays until it is delivered or given up.
func (s *Store) pruneNotifications(ctx context.Context, b *pebbledb.Batch, tenant string, cutoff time.Time) error {
	prefix := alarmKey(akCreated, tenant)
	old, err := s.scanIndex(ctx, tenant, prefix, appendMS(bytes.Clone(prefix), cutoff.UnixMilli()), false, pruneBatch)
	if err != nil {
		return err
	}
	for _, n := range old {
		if n.Status == store.NotificationPending {
			continue
		}
		if err := b.Delete(alarmKey(akNote, tenant, n.Key), nil); err != nil {
			return err
		}
		if err := b.Delete(createdKey(tenant, n.Created.UnixMilli(), n.Key), nil); err != nil {
			return err
		}
	}
	return nil
}

// noteFromIndex reads the notification an index key names: the index
// key ends with time(8) T(key) after prefix.
func (s *Store) noteFromIndex(tenant string, prefix, k []byte) (store.Notification, error) {
	var n store.Notification
	if len(k) < len(prefix)+8 {
		return n, fmt.Errorf("index key %q: %w", k, errCorrupt)
	}
	key, rest, err := decodeTuple(k[len(prefix)+8:])
	if err != nil || len(rest) != 0 {
		return n, fmt.Errorf("index key %q: %w", k, errCorrupt)
	}
	found, err := s.getJSON(alarmKey(akNote, tenant, key), &n)
	if err == nil && !found {
		err = fmt.Errorf("index key %q names no notification: %w", k, errCorrupt)
	}
	return n, err
}

// scanIndex returns the notifications an index lists between its
// prefix and upper, in order or reversed, at most limit of them.
func (s *Store) scanIndex(ctx context.Context, tenant string, prefix, upper []byte, reverse bool, limit int) ([]store.Notification, error) {
	it, err := s.db.NewIterWithContext(ctx, &pebbledb.IterOptions{LowerBound: prefix, UpperBound: upper})
	if err != nil {
		return nil, err
	}
	var out []store.Notification
	first, next := it.First, it.Next
	if reverse {
		first, next = it.Last, it.Prev
	}
	for valid := first(); valid && (limit <= 0 || len(out) < limit); valid = next() {
		n, err := s.noteFromIndex(tenant, prefix, it.Key())
		if err != nil {
			it.Close()
			return nil, err
		}
		out = append(out, n)
	}
	return out, closeIter(it, nil)
}

// DueNotifications returns pending notifications due by now.
func (s *Store) DueNotifications(ctx context.Context, tenant string, now time.Time, limit int) (out []store.Notification, err error) {
	err = s.alarmOp(ctx, "due notifications of "+tenant, func() error {
		prefix := alarmKey(akDue, tenant)
		out, err = s.scanIndex(ctx, tenant, prefix, appendMS(bytes.Clone(prefix), now.UnixMilli()+1), false, limit)
		return err
	})
	return out, err
}

// Notifications lists a tenant's notifications newest first.
func (s *Store) Notifications(ctx context.Context, tenant string, limit int) (out []store.Notification, err error) {
	err = s.alarmOp(ctx, "notifications of "+tenant, func() error {
		prefix := alarmKey(akCreated, tenant)
		out, err = s.scanIndex(ctx, tenant, prefix, prefixEnd(prefix), true, limit)
		return err
	})
	return out, err
}

// MarkNotification records an attempt and moves the due index.
func (s *Store) MarkNotification(ctx context.Context, tenant, key string, d store.Delivery) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("pebble: mark notification %q: %w", key, err)
	}
	return s.alarmOp(ctx, "mark notification "+key, func() error {
		k := alarmKey(akNote, tenant, key)
		var n store.Notification
		found, err := s.getJSON(k, &n)
		if err != nil {
			return err
		}
		if !found {
			return store.ErrNotFound
		}
		b := s.db.NewBatch()
		defer b.Close()
		if n.Status == store.NotificationPending {
			if err := b.Delete(dueKey(tenant, n.Due.UnixMilli(), key), nil); err != nil {
				return err
			}
		}
		n.Attempts++
		n.Status, n.LastError, n.Updated = d.Status, d.Error, d.At
		if d.Status == store.NotificationPending {
			n.Due = d.Next
			if err := b.Set(dueKey(tenant, n.Due.UnixMilli(), key), nil, nil); err != nil {
				return err
			}
		}
		v, err := json.Marshal(&n)
		if err != nil {
			return err
		}
		if err := b.Set(k, v, nil); err != nil {
			return err
		}
		return s.commitAlarm(b)
	})
}
