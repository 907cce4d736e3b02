package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store"
)

// AlarmOpener opens a store with the given alarm limits.
type AlarmOpener func(t *testing.T, l store.AlarmLimits) store.Store

// RunAlarms runs the contract of store.AlarmStore. open returns a store
// ready for use with the limits given; RunAlarms closes it.
func RunAlarms(t *testing.T, open AlarmOpener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Alarms", testAlarms},
		{"AlarmValidation", testAlarmValidation},
		{"PlansAndSuppressions", testPlansAndSuppressions},
		{"Limits", testAlarmLimits},
		{"Lease", testLease},
		{"LeaseExpiry", testLeaseExpiry},
		{"States", testAlarmStates},
		{"NotificationQueue", testNotificationQueue},
		{"LeaseRace", testLeaseRace},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t, testLimits)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// testLimits are small, so the limits are reached in a test.
var testLimits = store.AlarmLimits{Alarms: 3, Plans: 2, Suppressions: 2, Transitions: 4}

// ms is a time at millisecond precision, which every backend keeps.
func ms(v int64) time.Time { return time.UnixMilli(v) }

func newAlarm(tenant, id string) store.Alarm {
	return store.Alarm{Tenant: tenant, ID: id, Name: "disk " + id, Check: "disk",
		Criteria: "if (metric['used'] > 90) { return new AlarmStatus(CRITICAL); }\nreturn new AlarmStatus(OK);",
		Period:   30 * time.Second, Plan: "ops", Created: ms(base), Updated: ms(base)}
}

func sameAlarm(a, b store.Alarm) bool {
	return a.Tenant == b.Tenant && a.ID == b.ID && a.Name == b.Name && a.Agent == b.Agent && a.Check == b.Check &&
		a.Criteria == b.Criteria && a.Period == b.Period && a.Plan == b.Plan && a.Created.Equal(b.Created) &&
		a.Updated.Equal(b.Updated) && a.Version == b.Version
}

func testAlarms(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	a := newAlarm(tenant, "a2")
	a.Agent = "web-1"
	got, err := s.PutAlarm(ctx(t), a)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if got.Version != 1 {
		t.Fatalf("created version %d, want 1", got.Version)
	}
	if _, err := s.PutAlarm(ctx(t), a); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	read, err := s.Alarm(ctx(t), tenant, "a2")
	if err != nil || !sameAlarm(read, got) {
		t.Fatalf("Alarm = %+v, %v; want %+v", read, err, got)
	}

	upd := got
	upd.Criteria = "return new AlarmStatus(WARNING);"
	upd.Updated = ms(base + hour)
	upd.Created = ms(base + day) // not kept: Created is the first write's
	upd2, err := s.PutAlarm(ctx(t), upd)
	if err != nil || upd2.Version != 2 || !upd2.Created.Equal(ms(base)) {
		t.Fatalf("update = %+v, %v; want version 2 created at base", upd2, err)
	}
	if _, err := s.PutAlarm(ctx(t), upd); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("update with the old version: %v, want ErrConflict", err)
	}
	missing := newAlarm(tenant, "nope")
	missing.Version = 3
	if _, err := s.PutAlarm(ctx(t), missing); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update of a missing alarm: %v, want ErrNotFound", err)
	}
	read, err = s.Alarm(ctx(t), tenant, "a2")
	if err != nil || !sameAlarm(read, upd2) {
		t.Fatalf("after update Alarm = %+v, %v; want %+v", read, err, upd2)
	}

	if _, err := s.PutAlarm(ctx(t), newAlarm(tenant, "a1")); err != nil {
		t.Fatal(err)
	}
	list, err := s.Alarms(ctx(t), tenant)
	if err != nil || len(list) != 2 || list[0].ID != "a1" || list[1].ID != "a2" {
		t.Fatalf("Alarms = %+v, %v; want a1, a2", list, err)
	}
	if other, err := s.Alarms(ctx(t), NewTenant(t)); err != nil || len(other) != 0 {
		t.Fatalf("another tenant's alarms = %+v, %v", other, err)
	}
	if err := s.DeleteAlarm(ctx(t), tenant, "a2"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Alarm(ctx(t), tenant, "a2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted alarm: %v, want ErrNotFound", err)
	}
	if err := s.DeleteAlarm(ctx(t), tenant, "a2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
}

func testAlarmValidation(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	for name, mod := range map[string]func(a *store.Alarm){
		"no criteria":      func(a *store.Alarm) { a.Criteria = "" },
		"criteria size":    func(a *store.Alarm) { a.Criteria = strings.Repeat("#", store.MaxCriteriaBytes+1) },
		"no check":         func(a *store.Alarm) { a.Check = "" },
		"no period":        func(a *store.Alarm) { a.Period = 0 },
		"name size":        func(a *store.Alarm) { a.Name = strings.Repeat("n", store.MaxTextBytes+1) },
		"negative version": func(a *store.Alarm) { a.Version = -1 },
	} {
		a := newAlarm(tenant, "bad")
		mod(&a)
		if _, err := s.PutAlarm(ctx(t), a); err == nil {
			t.Errorf("%s: PutAlarm accepted %+v", name, a)
		}
	}
	if list, _ := s.Alarms(ctx(t), tenant); len(list) != 0 {
		t.Errorf("refused alarms were stored: %+v", list)
	}
	a := newAlarm(tenant, "max")
	a.Criteria = strings.Repeat("#", store.MaxCriteriaBytes)
	if _, err := s.PutAlarm(ctx(t), a); err != nil {
		t.Errorf("criteria of exactly the limit: %v", err)
	}
}

func testPlansAndSuppressions(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	p := store.NotificationPlan{Tenant: tenant, ID: "ops", Name: "Ops",
		Receivers: map[string][][]byte{
			"CRITICAL": {[]byte(`{"type":"webhook","url":"http://x/"}`), []byte(`{"type":"email","to":"a@b"}`)},
			"OK":       {[]byte(`{"type":"webhook","url":"http://x/"}`)},
		}, Created: ms(base), Updated: ms(base + second)}
	if err := s.PutPlan(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	got, err := s.Plan(ctx(t), tenant, "ops")
	if err != nil || got.Name != "Ops" || len(got.Receivers) != 2 || len(got.Receivers["CRITICAL"]) != 2 ||
		!bytes.Equal(got.Receivers["CRITICAL"][1], p.Receivers["CRITICAL"][1]) || !got.Updated.Equal(p.Updated) {
		t.Fatalf("Plan = %+v, %v; want %+v", got, err, p)
	}
	p.Name = "Ops team"
	if err := s.PutPlan(ctx(t), p); err != nil {
		t.Fatalf("replace: %v", err)
	}
	if list, err := s.Plans(ctx(t), tenant); err != nil || len(list) != 1 || list[0].Name != "Ops team" {
		t.Fatalf("Plans = %+v, %v", list, err)
	}
	big := p
	big.ID = "big"
	big.Receivers = map[string][][]byte{"OK": {bytes.Repeat([]byte("x"), store.MaxReceiverBytes+1)}}
	if err := s.PutPlan(ctx(t), big); err == nil {
		t.Error("a receiver over MaxReceiverBytes was accepted")
	}
	if err := s.DeletePlan(ctx(t), tenant, "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Plan(ctx(t), tenant, "ops"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("deleted plan: %v", err)
	}

	once := store.Suppression{Tenant: tenant, ID: "s1", Agent: "web-1", Start: ms(base), End: ms(base + hour),
		NotifyOnRecovery: true, Created: ms(base)}
	weekly := store.Suppression{Tenant: tenant, ID: "s2", Check: "disk", Alarm: "a1", Recurring: "FREQ=WEEKLY;BYDAY=SU;BYHOUR=2"}
	for _, sp := range []store.Suppression{weekly, once} {
		if err := s.PutSuppression(ctx(t), sp); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.Suppressions(ctx(t), tenant)
	if err != nil || len(list) != 2 || list[0].ID != "s1" || !list[0].End.Equal(once.End) || !list[0].NotifyOnRecovery ||
		list[1].Recurring != weekly.Recurring || list[1].Alarm != "a1" || !list[1].Start.IsZero() {
		t.Fatalf("Suppressions = %+v, %v", list, err)
	}
	for name, sp := range map[string]store.Suppression{
		"both":     {Tenant: tenant, ID: "x", Start: ms(base), End: ms(base + 1), Recurring: "daily"},
		"neither":  {Tenant: tenant, ID: "x"},
		"backward": {Tenant: tenant, ID: "x", Start: ms(base + 1), End: ms(base)},
	} {
		if err := s.PutSuppression(ctx(t), sp); err == nil {
			t.Errorf("%s: accepted %+v", name, sp)
		}
	}
	if err := s.DeleteSuppression(ctx(t), tenant, "s2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSuppression(ctx(t), tenant, "s2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func wantLimit(t *testing.T, err error, limit string) {
	t.Helper()
	var le *store.LimitError
	if !errors.As(err, &le) || le.Limit != limit {
		t.Fatalf("got %v, want a *LimitError for %s", err, limit)
	}
}

func testAlarmLimits(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	for i := range testLimits.Alarms {
		if _, err := s.PutAlarm(ctx(t), newAlarm(tenant, fmt.Sprint("a", i))); err != nil {
			t.Fatal(err)
		}
	}
	_, err := s.PutAlarm(ctx(t), newAlarm(tenant, "one-too-many"))
	wantLimit(t, err, "Alarms")
	// Another tenant has limits of its own; an update is not a create.
	if _, err := s.PutAlarm(ctx(t), newAlarm(NewTenant(t), "a0")); err != nil {
		t.Fatalf("another tenant: %v", err)
	}
	upd := newAlarm(tenant, "a0")
	upd.Version = 1
	if _, err := s.PutAlarm(ctx(t), upd); err != nil {
		t.Fatalf("update at the limit: %v", err)
	}
	if err := s.DeleteAlarm(ctx(t), tenant, "a0"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutAlarm(ctx(t), newAlarm(tenant, "one-too-many")); err != nil {
		t.Fatalf("create after a delete: %v", err)
	}

	for i := range testLimits.Plans {
		if err := s.PutPlan(ctx(t), store.NotificationPlan{Tenant: tenant, ID: fmt.Sprint("p", i)}); err != nil {
			t.Fatal(err)
		}
	}
	wantLimit(t, s.PutPlan(ctx(t), store.NotificationPlan{Tenant: tenant, ID: "p-more"}), "Plans")
	if err := s.PutPlan(ctx(t), store.NotificationPlan{Tenant: tenant, ID: "p0", Name: "replaced"}); err != nil {
		t.Fatalf("replace at the limit: %v", err)
	}
	for i := range testLimits.Suppressions {
		if err := s.PutSuppression(ctx(t), store.Suppression{Tenant: tenant, ID: fmt.Sprint("s", i), Recurring: "daily"}); err != nil {
			t.Fatal(err)
		}
	}
	wantLimit(t, s.PutSuppression(ctx(t), store.Suppression{Tenant: tenant, ID: "s-more", Recurring: "daily"}), "Suppressions")
}

func acquire(t *testing.T, s store.Store, tenant, owner string, ttl time.Duration) (store.Lease, bool) {
	t.Helper()
	l, ok, err := s.AcquireLease(ctx(t), tenant, 0, owner, ttl)
	if err != nil {
		t.Fatalf("AcquireLease(%s): %v", owner, err)
	}
	return l, ok
}

func putState(s store.Store, f store.Fence, alarm, agent, value string) error {
	return s.PutAlarmStates(ctx2(), f, []store.AlarmState{{Alarm: alarm, Agent: agent, State: []byte(value), Updated: ms(base)}}, nil)
}

func testLease(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	a, ok := acquire(t, s, tenant, "collector-a", time.Minute)
	if !ok || a.Owner != "collector-a" || a.Token <= 0 || !a.Expires.After(time.Now()) {
		t.Fatalf("first acquire = %+v, %v", a, ok)
	}
	if b, ok := acquire(t, s, tenant, "collector-b", time.Minute); ok || b.Owner != "collector-a" {
		t.Fatalf("acquire of a held lease = %+v, %v; want refused, naming collector-a", b, ok)
	}
	if again, ok := acquire(t, s, tenant, "collector-a", time.Minute); !ok || again.Token != a.Token {
		t.Fatalf("re-acquire by the holder = %+v, %v; want token %d", again, ok, a.Token)
	}
	// Another shard is another lease.
	if _, ok, err := s.AcquireLease(ctx(t), tenant, 1, "collector-b", time.Minute); err != nil || !ok {
		t.Fatalf("shard 1: %v, %v", ok, err)
	}
	renewed, err := s.RenewLease(ctx(t), a, 2*time.Minute)
	if err != nil || renewed.Token != a.Token || !renewed.Expires.After(a.Expires) {
		t.Fatalf("renew = %+v, %v", renewed, err)
	}
	if err := putState(s, a.Fence(), "al", "web-1", "by a"); err != nil {
		t.Fatalf("holder's write: %v", err)
	}
	if err := s.ReleaseLease(ctx(t), a); err != nil {
		t.Fatal(err)
	}
	b, ok := acquire(t, s, tenant, "collector-b", time.Minute)
	if !ok || b.Token <= a.Token {
		t.Fatalf("acquire after release = %+v, %v; want a token above %d", b, ok, a.Token)
	}
	if _, err := s.RenewLease(ctx(t), a, time.Minute); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("renew of a lost lease: %v, want ErrLeaseLost", err)
	}
	if err := putState(s, a.Fence(), "al", "web-1", "stale"); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("write with the old token: %v, want ErrFenced", err)
	}
	if _, err := s.Enqueue(ctx(t), a.Fence(), []store.Notification{{Key: "k", Due: ms(base), Created: ms(base)}}); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("enqueue with the old token: %v, want ErrFenced", err)
	}
	if err := putState(s, b.Fence(), "al", "web-1", "by b"); err != nil {
		t.Fatalf("new holder's write: %v", err)
	}
	// The zero fence, on a lease never taken, passes nothing.
	if err := putState(s, store.Fence{Tenant: NewTenant(t)}, "al", "web-1", "zero"); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("write with the zero fence: %v, want ErrFenced", err)
	}
	// Releasing a lease one no longer holds changes nothing.
	if err := s.ReleaseLease(ctx(t), a); err != nil {
		t.Fatal(err)
	}
	if c, ok := acquire(t, s, tenant, "collector-c", time.Minute); ok {
		t.Fatalf("collector-c took b's lease after a's stale release: %+v", c)
	}
	states, err := s.AlarmStates(ctx(t), tenant, "al")
	if err != nil || len(states) != 1 || string(states[0].State) != "by b" {
		t.Fatalf("AlarmStates = %+v, %v; want b's write only", states, err)
	}
	for _, bad := range []struct {
		shard int
		owner string
		ttl   time.Duration
	}{{-1, "x", time.Minute}, {store.MaxLeaseShards, "x", time.Minute}, {0, "", time.Minute}, {0, "x", time.Millisecond}} {
		if _, _, err := s.AcquireLease(ctx(t), tenant, bad.shard, bad.owner, bad.ttl); err == nil {
			t.Errorf("AcquireLease(shard %d, owner %q, ttl %v) accepted", bad.shard, bad.owner, bad.ttl)
		}
	}
}

// waitAcquire polls until owner gets the lease or the deadline passes.
func waitAcquire(t *testing.T, s store.Store, tenant, owner string, within time.Duration) store.Lease {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		l, ok := acquire(t, s, tenant, owner, time.Minute)
		if ok {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not get the lease within %v; it is %+v", owner, within, l)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func testLeaseExpiry(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	start := time.Now()
	a, ok := acquire(t, s, tenant, "collector-a", time.Second)
	if !ok {
		t.Fatal("first acquire refused")
	}
	b := waitAcquire(t, s, tenant, "collector-b", 10*time.Second)
	if time.Since(start) < time.Second-50*time.Millisecond {
		t.Fatalf("the lease passed on after %v, before its TTL", time.Since(start))
	}
	if b.Token <= a.Token {
		t.Fatalf("token %d after expiry, want above %d", b.Token, a.Token)
	}
	if _, err := s.RenewLease(ctx(t), a, time.Second); !errors.Is(err, store.ErrLeaseLost) {
		t.Fatalf("renew of an expired lease: %v, want ErrLeaseLost", err)
	}
	if err := putState(s, a.Fence(), "al", "web-1", "stale"); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("write with the expired token: %v, want ErrFenced", err)
	}
}

func testAlarmStates(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	l, _ := acquire(t, s, tenant, "c", time.Minute)
	f := l.Fence()
	if _, err := s.PutAlarm(ctx(t), newAlarm(tenant, "al")); err != nil {
		t.Fatal(err)
	}
	states := []store.AlarmState{
		{Alarm: "al", Agent: "web-2", State: []byte{1, 3, 0, 0, 0}, Updated: ms(base + 2*second)},
		{Alarm: "al", Agent: "web-1", State: []byte{1, 1, 0, 0, 0}, Updated: ms(base + second)},
		{Alarm: "other", Agent: "web-1", State: []byte{1, 2}, Updated: ms(base)},
	}
	tr := func(agent, from, to string, at int64) store.Transition {
		return store.Transition{Alarm: "al", Agent: agent, From: from, To: to, At: ms(at), Message: from + "→" + to}
	}
	ts := []store.Transition{tr("web-1", "NONE", "OK", base), tr("web-2", "NONE", "OK", base+second),
		tr("web-2", "OK", "CRITICAL", base+2*second)}
	if err := s.PutAlarmStates(ctx(t), f, states, ts); err != nil {
		t.Fatal(err)
	}
	got, err := s.AlarmStates(ctx(t), tenant, "al")
	if err != nil || len(got) != 2 || got[0].Agent != "web-1" || !bytes.Equal(got[1].State, states[0].State) ||
		!got[1].Updated.Equal(states[0].Updated) || got[1].Alarm != "al" {
		t.Fatalf("AlarmStates = %+v, %v", got, err)
	}
	// Replace one state; append a transition twice.
	next := tr("web-1", "OK", "WARNING", base+3*second)
	if err := s.PutAlarmStates(ctx(t), f, []store.AlarmState{{Alarm: "al", Agent: "web-1", State: []byte{1, 2, 0, 0, 0}, Updated: ms(base + 3*second)}},
		[]store.Transition{next, next}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAlarmStates(ctx(t), f, nil, []store.Transition{next}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.AlarmStates(ctx(t), tenant, "al")
	if len(got) != 2 || got[0].State[1] != 2 {
		t.Fatalf("after replace AlarmStates = %+v", got)
	}
	hist, err := s.Transitions(ctx(t), tenant, "al", 0)
	if err != nil || len(hist) != 4 || hist[0].To != "WARNING" || hist[1].To != "CRITICAL" || hist[3].Agent != "web-1" ||
		!hist[0].At.Equal(next.At) || hist[0].Message != next.Message {
		t.Fatalf("Transitions = %+v, %v; want 4 newest first", hist, err)
	}
	if hist, _ := s.Transitions(ctx(t), tenant, "al", 2); len(hist) != 2 || hist[1].To != "CRITICAL" {
		t.Fatalf("Transitions limit 2 = %+v", hist)
	}
	// Retention: at most AlarmLimits.Transitions, the newest.
	var more []store.Transition
	for i := range 6 {
		more = append(more, tr("web-3", "OK", fmt.Sprint("S", i), base+int64(10+i)*second))
	}
	if err := s.PutAlarmStates(ctx(t), f, nil, more); err != nil {
		t.Fatal(err)
	}
	hist, _ = s.Transitions(ctx(t), tenant, "al", 0)
	if len(hist) != testLimits.Transitions || hist[0].To != "S5" || hist[len(hist)-1].To != fmt.Sprint("S", 6-testLimits.Transitions) {
		t.Fatalf("after %d more Transitions = %+v; want the newest %d", len(more), hist, testLimits.Transitions)
	}
	if err := s.PutAlarmStates(ctx(t), f, []store.AlarmState{{Alarm: "al", Agent: "x"}}, nil); err == nil {
		t.Error("an empty state was accepted")
	}
	if err := s.PutAlarmStates(ctx(t), f, []store.AlarmState{{Alarm: "al", Agent: "x", State: make([]byte, store.MaxStateBytes+1)}}, nil); err == nil {
		t.Error("a state over MaxStateBytes was accepted")
	}
	// Deleting the alarm deletes its states and history, not others'.
	if err := s.DeleteAlarm(ctx(t), tenant, "al"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.AlarmStates(ctx(t), tenant, "al"); len(got) != 0 {
		t.Fatalf("states of a deleted alarm: %+v", got)
	}
	if hist, _ := s.Transitions(ctx(t), tenant, "al", 0); len(hist) != 0 {
		t.Fatalf("transitions of a deleted alarm: %+v", hist)
	}
	if got, _ := s.AlarmStates(ctx(t), tenant, "other"); len(got) != 1 {
		t.Fatalf("states of another alarm: %+v", got)
	}
}

func note(key string, due, created int64) store.Notification {
	return store.Notification{Key: key, Alarm: "al", Payload: []byte(`{"key":"` + key + `"}`), Due: ms(due), Created: ms(created)}
}

func keys(ns []store.Notification) string {
	var out []string
	for _, n := range ns {
		out = append(out, n.Key)
	}
	return strings.Join(out, ",")
}

func testNotificationQueue(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	l, _ := acquire(t, s, tenant, "c", time.Minute)
	f := l.Fence()
	n, err := s.Enqueue(ctx(t), f, []store.Notification{note("k2", base+2*second, base+2), note("k1", base+second, base+1), note("k1", base+second, base+1)})
	if err != nil || n != 2 {
		t.Fatalf("Enqueue = %d, %v; want 2 added", n, err)
	}
	if n, err := s.Enqueue(ctx(t), f, []store.Notification{note("k1", base, base+1), note("k3", base+3*second, base+3)}); err != nil || n != 1 {
		t.Fatalf("Enqueue again = %d, %v; want 1 added (k3)", n, err)
	}
	due, err := s.DueNotifications(ctx(t), tenant, ms(base+2*second), 0)
	if err != nil || keys(due) != "k1,k2" || due[0].Status != store.NotificationPending || string(due[0].Payload) != `{"key":"k1"}` ||
		!due[0].Due.Equal(ms(base+second)) {
		t.Fatalf("due at +2s = %+v, %v; want k1,k2 (k1 due at +1s, unchanged by its second enqueue)", due, err)
	}
	if due, _ := s.DueNotifications(ctx(t), tenant, ms(base+10*second), 1); keys(due) != "k1" {
		t.Fatalf("due with limit 1 = %s", keys(due))
	}
	if due, _ := s.DueNotifications(ctx(t), NewTenant(t), ms(base+10*second), 0); len(due) != 0 {
		t.Fatalf("another tenant's due = %s", keys(due))
	}
	// k1 fails and is retried later; k2 is delivered; k3 is given up.
	if err := s.MarkNotification(ctx(t), tenant, "k1", store.Delivery{Status: store.NotificationPending, Next: ms(base + 5*second),
		Error: "connection refused", At: ms(base + 2*second)}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkNotification(ctx(t), tenant, "k2", store.Delivery{Status: store.NotificationDone, At: ms(base + 2*second)}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkNotification(ctx(t), tenant, "k3", store.Delivery{Status: store.NotificationFailed, Error: "400", At: ms(base + 3*second)}); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.DueNotifications(ctx(t), tenant, ms(base+4*second), 0); len(due) != 0 {
		t.Fatalf("due at +4s = %s; want none", keys(due))
	}
	due, _ = s.DueNotifications(ctx(t), tenant, ms(base+5*second), 0)
	if keys(due) != "k1" || due[0].Attempts != 1 || due[0].LastError != "connection refused" {
		t.Fatalf("due at +5s = %+v; want k1 after one attempt", due)
	}
	if err := s.MarkNotification(ctx(t), tenant, "nope", store.Delivery{Status: store.NotificationDone}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("mark of an unknown key: %v", err)
	}
	if err := s.MarkNotification(ctx(t), tenant, "k1", store.Delivery{Status: store.NotificationPending}); err == nil {
		t.Fatal("a retry without a next time was accepted")
	}
	hist, err := s.Notifications(ctx(t), tenant, 0)
	if err != nil || keys(hist) != "k3,k2,k1" || hist[0].Status != store.NotificationFailed || hist[0].LastError != "400" ||
		hist[1].Status != store.NotificationDone || hist[1].Attempts != 1 || !hist[1].Updated.Equal(ms(base+2*second)) {
		t.Fatalf("Notifications = %+v, %v", hist, err)
	}
	if hist, _ := s.Notifications(ctx(t), tenant, 2); keys(hist) != "k3,k2" {
		t.Fatalf("Notifications limit 2 = %s", keys(hist))
	}
	if _, err := s.Enqueue(ctx(t), f, []store.Notification{{Key: "big", Payload: make([]byte, store.MaxPayloadBytes+1)}}); err == nil {
		t.Error("a payload over MaxPayloadBytes was accepted")
	}
}

// testLeaseRace has two collectors race for the lease round after round:
// exactly one wins each round, only its writes land, and each one's lease
// of an earlier round, used as a collector that was paused would, is
// refused.
func testLeaseRace(t *testing.T, s store.Store) {
	tenant := NewTenant(t)
	owners := [2]string{"collector-1", "collector-2"}
	var old [2]*store.Lease
	lastToken := int64(0)
	for round := range 12 {
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			got     [2]store.Lease
			won     [2]bool
			errs    [2]error
			stale   [2]error
			written [2]bool
		)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				l, ok, err := s.AcquireLease(ctx2(), tenant, 0, owners[i], time.Minute)
				if err != nil {
					errs[i] = err
					return
				}
				got[i], won[i] = l, ok
				if ok {
					v := fmt.Sprintf("%s round %d", owners[i], round)
					if errs[i] = putState(s, l.Fence(), "al", "web-1", v); errs[i] == nil {
						_, errs[i] = s.Enqueue(ctx2(), l.Fence(), []store.Notification{note(fmt.Sprint("r", round), base, base+int64(round))})
						written[i] = errs[i] == nil
					}
				}
				if o := old[i]; o != nil {
					stale[i] = putState(s, o.Fence(), "al", "web-1", "stale")
					if stale[i] == nil {
						_, stale[i] = s.Enqueue(ctx2(), o.Fence(), []store.Notification{note(fmt.Sprint("stale", round), base, base)})
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		for i := range 2 {
			if errs[i] != nil {
				t.Fatalf("round %d, %s: %v", round, owners[i], errs[i])
			}
			if old[i] != nil && !errors.Is(stale[i], store.ErrFenced) {
				t.Fatalf("round %d, %s: write with the lease of an earlier round: %v, want ErrFenced", round, owners[i], stale[i])
			}
		}
		if won[0] == won[1] {
			t.Fatalf("round %d: both or neither got the lease: %+v", round, got)
		}
		w := 0
		if won[1] {
			w = 1
		}
		if !written[w] || got[w].Token <= lastToken {
			t.Fatalf("round %d: winner %s wrote %v with token %d after %d", round, owners[w], written[w], got[w].Token, lastToken)
		}
		if got[1-w].Owner != owners[w] {
			t.Fatalf("round %d: the loser was told the holder is %q", round, got[1-w].Owner)
		}
		lastToken = got[w].Token
		states, err := s.AlarmStates(ctx(t), tenant, "al")
		if want := fmt.Sprintf("%s round %d", owners[w], round); err != nil || len(states) != 1 || string(states[0].State) != want {
			t.Fatalf("round %d: states %+v, %v; want %q", round, states, err, want)
		}
		l := got[w]
		old[w] = &l
		if err := s.ReleaseLease(ctx(t), l); err != nil {
			t.Fatal(err)
		}
	}
	hist, err := s.Notifications(ctx(t), tenant, 0)
	if err != nil || len(hist) != 12 || strings.Contains(keys(hist), "stale") {
		t.Fatalf("Notifications = %s, %v; want r0 to r11 only", keys(hist), err)
	}
}

// RunAlarmsReopen checks that alarm records, states and the queue survive
// Close and a new open, and that a lease outlives it only until its TTL.
// backend returns an opener of the same data every time it is called.
func RunAlarmsReopen(t *testing.T, backend func(t *testing.T) func() (store.Store, error)) {
	t.Run("AlarmsReopen", func(t *testing.T) { testAlarmsReopen(t, backend(t)) })
}

func testAlarmsReopen(t *testing.T, open func() (store.Store, error)) {
	tenant, short := NewTenant(t), NewTenant(t)
	s, err := open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutAlarm(ctx(t), newAlarm(tenant, "al")); err != nil {
		t.Fatal(err)
	}
	long, _ := acquire(t, s, tenant, "collector-a", 5*time.Minute)
	brief, _ := acquire(t, s, short, "collector-a", time.Second)
	if err := putState(s, long.Fence(), "al", "web-1", "kept"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(ctx(t), long.Fence(), []store.Notification{note("k1", base, base)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = open()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if a, err := s.Alarm(ctx(t), tenant, "al"); err != nil || a.Version != 1 {
		t.Fatalf("alarm after reopen: %+v, %v", a, err)
	}
	if st, err := s.AlarmStates(ctx(t), tenant, "al"); err != nil || len(st) != 1 || string(st[0].State) != "kept" {
		t.Fatalf("states after reopen: %+v, %v", st, err)
	}
	if due, err := s.DueNotifications(ctx(t), tenant, ms(base), 0); err != nil || keys(due) != "k1" {
		t.Fatalf("queue after reopen: %s, %v", keys(due), err)
	}
	if l, ok := acquire(t, s, tenant, "collector-b", time.Minute); ok {
		t.Fatalf("a lease of 5 minutes did not outlive the restart: %+v", l)
	}
	if err := putState(s, long.Fence(), "al", "web-1", "still the holder"); err != nil {
		t.Fatalf("the holder's write after reopen: %v", err)
	}
	b := waitAcquire(t, s, short, "collector-b", 10*time.Second)
	if b.Token <= brief.Token {
		t.Fatalf("token after reopen and expiry %d, want above %d", b.Token, brief.Token)
	}
	if err := putState(s, brief.Fence(), "al", "web-1", "stale"); !errors.Is(err, store.ErrFenced) {
		t.Fatalf("write with the expired lease after reopen: %v, want ErrFenced", err)
	}
}

// ctx2 is the context of calls made where no *testing.T is at hand.
func ctx2() context.Context { return context.Background() }
