// Package alarmeval evaluates a tenant's alarms on the check results the
// collector ingests and delivers their notifications through the store's
// durable queue (issue 16). It joins the pure parts: collector/alarm
// (criteria and state machines), collector/notify (receivers and
// retries) and store.AlarmStore (definitions, states, queue, lease).
//
// Ingest calls Stored after a batch is stored; Stored only queues the
// batch (a bounded queue: when it is full the batch is not evaluated, and
// the drop is counted and logged, rate-limited) so evaluation never slows
// or fails ingest. One goroutine (Run) evaluates, and only for tenants
// whose evaluation lease this collector holds; writes of state and
// notifications carry the lease's fencing token, so a collector that lost
// the lease cannot write twice. On losing a lease the tenant's state in
// memory is dropped and reloaded from the store when the lease comes back.
package alarmeval

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilmon/vigil/collector/alarm"
	"github.com/vigilmon/vigil/collector/alarmeval/suppression"
	"github.com/vigilmon/vigil/collector/notify"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/internal/lograte"
	"github.com/vigilmon/vigil/protocol"
)

// Defaults of Config.
const (
	DefaultLeaseTTL            = 30 * time.Second
	DefaultQueueSize           = 4096
	DefaultRefresh             = 30 * time.Second
	DefaultDeliveryConcurrency = 4
	DefaultDeliveryInterval    = time.Second
)

// Config configures an Evaluator.
type Config struct {
	Store store.AlarmStore
	// Owner names this collector's process run in the lease; it must be
	// unique per run (the collector's name and a random suffix).
	Owner string
	// LeaseTTL is how long a lease lasts unrenewed (default 30s); it is
	// renewed every third of it. A collector that stops without releasing
	// is taken over after at most this.
	LeaseTTL time.Duration
	// QueueSize bounds the batches waiting for evaluation (default 4096).
	QueueSize int
	// Refresh is how often a tenant's alarm and plan definitions are read
	// again (default 30s); Invalidate forces it.
	Refresh time.Duration
	// DeliveryConcurrency is how many tenants' notifications are sent at
	// once (default 4); DeliveryInterval how often the queue is polled
	// (default 1s).
	DeliveryConcurrency int
	DeliveryInterval    time.Duration
	Retry               notify.RetryPolicy
	Log                 *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Evaluator evaluates alarms at ingest and delivers notifications.
type Evaluator struct {
	cfg  Config
	jobs chan job
	inv  chan string

	dropped, results, transitions, storeErrors atomic.Uint64
	suppressed                                 atomic.Uint64
	logs                                       lograte.Limiter

	// tenants is the evaluation goroutine's alone.
	tenants map[string]*tenant
	split   alarm.Splitter

	mu   sync.Mutex
	held map[string]store.Lease // read by the delivery loop
}

type job struct {
	tenant, agent string
	b             *protocol.Batch
	stored        []store.CheckResult
}

type tenant struct {
	name     string
	lease    store.Lease
	held     bool
	loadedAt time.Time
	alarms   map[string]*compiled
	byCheck  map[string][]*compiled
	plans    map[string]store.NotificationPlan
	machines map[key]*instance
	// supp silences notifications in maintenance windows; nil when the
	// tenant has no suppressions.
	supp *alarm.Matcher
}

type compiled struct {
	def      store.Alarm
	criteria *alarm.Criteria
	settings alarm.Settings
	prev     []string
	loaded   bool // its states were read from the store
}

type key struct{ alarm, agent, inst string }

type instance struct {
	m       alarm.Machine
	prev    alarm.Result
	hasPrev bool
}

// New returns an Evaluator; call Run to start it.
func New(cfg Config) *Evaluator {
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultRefresh
	}
	if cfg.DeliveryConcurrency <= 0 {
		cfg.DeliveryConcurrency = DefaultDeliveryConcurrency
	}
	if cfg.DeliveryInterval <= 0 {
		cfg.DeliveryInterval = DefaultDeliveryInterval
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Evaluator{cfg: cfg, jobs: make(chan job, cfg.QueueSize), inv: make(chan string, 64),
		tenants: map[string]*tenant{}, held: map[string]store.Lease{}}
}

// Stored queues a stored batch for evaluation without blocking: when the
// queue is full the batch is dropped, counted and logged (rate-limited).
// Only the results in stored (those validation accepted, in the batch's
// order) are evaluated: a result refused as dated in the future would
// otherwise make every later one look stale.
func (e *Evaluator) Stored(tenant, agent string, b *protocol.Batch, stored []store.CheckResult) {
	if len(stored) == 0 {
		return
	}
	select {
	case e.jobs <- job{tenant: tenant, agent: agent, b: b, stored: stored}:
	default:
		e.dropped.Add(1)
		e.logs.Warn(e.cfg.Log, "alarm evaluation queue full: batch not evaluated", "queue_full",
			"tenant", tenant, "agent", agent, "queue_size", e.cfg.QueueSize)
	}
}

// Invalidate makes the next evaluation for tenant read its alarm and plan
// definitions again (after an API change); it does not block.
func (e *Evaluator) Invalidate(tenant string) {
	select {
	case e.inv <- tenant:
	default:
	}
}

// Stats are the Evaluator's counters.
type Stats struct {
	Dropped, Results, Transitions, StoreErrors uint64
	// Suppressed counts transitions recorded but not notified because a
	// suppression was active.
	Suppressed uint64
}

// Stats returns the counters.
func (e *Evaluator) Stats() Stats {
	return Stats{Dropped: e.dropped.Load(), Results: e.results.Load(), Transitions: e.transitions.Load(),
		StoreErrors: e.storeErrors.Load(), Suppressed: e.suppressed.Load()}
}

// Register exposes the counters on reg (the collector's /metrics).
func (e *Evaluator) Register(reg prometheus.Registerer) error {
	for _, c := range []struct {
		name, help string
		v          *atomic.Uint64
	}{
		{"vigil_alarm_eval_dropped_batches_total", "Stored batches not evaluated for alarms because the evaluation queue was full.", &e.dropped},
		{"vigil_alarm_eval_results_total", "Check results evaluated against alarms (per alarm instance).", &e.results},
		{"vigil_alarm_eval_transitions_total", "Alarm state transitions recorded.", &e.transitions},
		{"vigil_alarm_eval_store_errors_total", "Failed store operations of alarm evaluation and delivery.", &e.storeErrors},
		{"vigil_alarm_eval_suppressed_total", "Alarm transitions recorded but not notified because a suppression was active.", &e.suppressed},
	} {
		v := c.v
		if err := reg.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: c.name, Help: c.help},
			func() float64 { return float64(v.Load()) })); err != nil {
			return fmt.Errorf("register %s: %w", c.name, err)
		}
	}
	return reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vigil_alarm_eval_queue_batches",
		Help: "Stored batches waiting for alarm evaluation."}, func() float64 { return float64(len(e.jobs)) }))
}

// Held reports whether this Evaluator holds tenant's lease.
func (e *Evaluator) Held(tenant string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.held[tenant]
	return ok
}

// Run evaluates queued batches, keeps the leases and delivers
// notifications until ctx ends; then it releases its leases.
func (e *Evaluator) Run(ctx context.Context) error {
	defer e.logs.Close()
	var wg sync.WaitGroup
	wg.Go(func() { e.deliverLoop(ctx) })
	defer wg.Wait()
	tick := time.NewTicker(e.cfg.LeaseTTL / 3)
	defer tick.Stop()
	defer e.releaseAll()
	for {
		select {
		case <-ctx.Done():
			return nil
		case j := <-e.jobs:
			e.process(ctx, j)
		case name := <-e.inv:
			if t := e.tenants[name]; t != nil {
				t.loadedAt = time.Time{}
			}
		case <-tick.C:
			e.leases(ctx)
		}
	}
}

func (e *Evaluator) releaseAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, t := range e.tenants {
		if t.held {
			if err := e.cfg.Store.ReleaseLease(ctx, t.lease); err != nil {
				e.cfg.Log.Warn("alarm lease not released; another collector takes over when it expires",
					"tenant", t.name, "err", err)
			}
			e.lose(t)
		}
	}
}

// leases renews held leases and tries to take the others.
func (e *Evaluator) leases(ctx context.Context) {
	for _, t := range e.tenants {
		if !t.held {
			e.acquire(ctx, t)
			continue
		}
		l, err := e.cfg.Store.RenewLease(ctx, t.lease, e.cfg.LeaseTTL)
		switch {
		case err == nil:
			t.lease = l
		case errors.Is(err, store.ErrLeaseLost) || !e.cfg.Now().Before(t.lease.Expires):
			e.cfg.Log.Warn("alarm evaluation lease lost; another collector evaluates this tenant", "tenant", t.name, "err", err)
			e.lose(t)
		default:
			e.storeErrors.Add(1)
			e.logs.Warn(e.cfg.Log, "alarm lease renewal failed; retrying", "lease_renew", "tenant", t.name, "err", err)
		}
	}
}

func (e *Evaluator) acquire(ctx context.Context, t *tenant) {
	l, ok, err := e.cfg.Store.AcquireLease(ctx, t.name, 0, e.cfg.Owner, e.cfg.LeaseTTL)
	if err != nil {
		e.storeErrors.Add(1)
		e.logs.Warn(e.cfg.Log, "alarm lease acquisition failed", "lease_acquire", "tenant", t.name, "err", err)
		return
	}
	if !ok {
		return
	}
	// State is read afresh: whoever held the lease before may have moved it.
	*t = tenant{name: t.name, lease: l, held: true, machines: map[key]*instance{}}
	e.mu.Lock()
	e.held[t.name] = l
	e.mu.Unlock()
	e.cfg.Log.Info("alarm evaluation lease acquired", "tenant", t.name, "token", l.Token)
}

// lose forgets a tenant's state: it is reloaded from the store if the
// lease comes back.
func (e *Evaluator) lose(t *tenant) {
	*t = tenant{name: t.name}
	e.mu.Lock()
	delete(e.held, t.name)
	e.mu.Unlock()
}

// refresh reads the tenant's alarms, plans and suppressions, keeping what
// is compiled (and the states loaded) of alarms whose version did not
// change.
func (e *Evaluator) refresh(ctx context.Context, t *tenant) error {
	defs, err := e.cfg.Store.Alarms(ctx, t.name)
	if err != nil {
		return fmt.Errorf("tenant %s: read alarms: %w", t.name, err)
	}
	plans, err := e.cfg.Store.Plans(ctx, t.name)
	if err != nil {
		return fmt.Errorf("tenant %s: read plans: %w", t.name, err)
	}
	supps, err := e.cfg.Store.Suppressions(ctx, t.name)
	if err != nil {
		return fmt.Errorf("tenant %s: read suppressions: %w", t.name, err)
	}
	t.supp = e.matcher(t.name, supps)
	alarms := make(map[string]*compiled, len(defs))
	byCheck := map[string][]*compiled{}
	for _, d := range defs {
		c := t.alarms[d.ID]
		if c == nil || c.def.Version != d.Version {
			crit, err := alarm.Parse(d.Criteria)
			if err != nil {
				e.logs.Warn(e.cfg.Log, "alarm criteria do not parse; alarm not evaluated", "bad_criteria",
					"tenant", t.name, "alarm", d.ID, "err", err)
				continue
			}
			s := crit.Settings(d.Period)
			if err := s.Validate(); err != nil {
				e.logs.Warn(e.cfg.Log, "alarm settings invalid; alarm not evaluated", "bad_settings",
					"tenant", t.name, "alarm", d.ID, "err", err)
				continue
			}
			loaded := c != nil && c.loaded
			c = &compiled{def: d, criteria: crit, settings: s, prev: crit.PreviousMetrics(), loaded: loaded}
		}
		alarms[d.ID] = c
		byCheck[d.Check] = append(byCheck[d.Check], c)
	}
	// States of deleted alarms go with them.
	for k := range t.machines {
		if alarms[k.alarm] == nil {
			delete(t.machines, k)
		}
	}
	t.alarms, t.byCheck = alarms, byCheck
	t.plans = make(map[string]store.NotificationPlan, len(plans))
	for _, p := range plans {
		t.plans[p.ID] = p
	}
	t.loadedAt = e.cfg.Now()
	return nil
}

// matcher builds the tenant's suppression matcher. A stored suppression
// that does not read back (written by other means) is skipped with a
// warning rather than silencing everything or nothing.
func (e *Evaluator) matcher(tenant string, stored []store.Suppression) *alarm.Matcher {
	if len(stored) == 0 {
		return nil
	}
	list := make([]alarm.Suppression, 0, len(stored))
	for _, sp := range stored {
		s, err := suppression.FromStore(sp)
		if err != nil {
			e.logs.Warn(e.cfg.Log, "suppression unreadable; not applied", "bad_suppression",
				"tenant", tenant, "suppression", sp.ID, "err", err)
			continue
		}
		list = append(list, s)
	}
	m, err := alarm.NewMatcher(list)
	if err != nil {
		// Ids are unique per tenant in the store, and each passed
		// Validate: this is a defect, not bad input.
		e.logs.Warn(e.cfg.Log, "suppressions not applied", "bad_suppression", "tenant", tenant, "err", err)
		return nil
	}
	return m
}

// subject is how an instance is named in the store's per-agent state:
// the agent, then the instance's label key ({mount="/"}), which agent ids
// cannot contain.
func subject(agent, inst string) string { return agent + inst }

func splitSubject(s string) (agent, inst string) {
	if i := strings.IndexByte(s, '{'); i >= 0 {
		return s[:i], s[i:]
	}
	return s, ""
}

func (e *Evaluator) loadStates(ctx context.Context, t *tenant, c *compiled) error {
	states, err := e.cfg.Store.AlarmStates(ctx, t.name, c.def.ID)
	if err != nil {
		return fmt.Errorf("tenant %s alarm %s: read states: %w", t.name, c.def.ID, err)
	}
	for _, s := range states {
		in := &instance{}
		if err := in.m.UnmarshalBinary(s.State); err != nil {
			e.logs.Warn(e.cfg.Log, "stored alarm state unreadable; starting afresh", "bad_state",
				"tenant", t.name, "alarm", c.def.ID, "agent", s.Agent, "err", err)
			continue
		}
		agent, inst := splitSubject(s.Agent)
		t.machines[key{c.def.ID, agent, inst}] = in
	}
	c.loaded = true
	return nil
}

// process evaluates one stored batch.
func (e *Evaluator) process(ctx context.Context, j job) {
	t := e.tenants[j.tenant]
	if t == nil {
		t = &tenant{name: j.tenant}
		e.tenants[j.tenant] = t
		e.acquire(ctx, t)
	}
	if !t.held {
		return
	}
	now := e.cfg.Now()
	if t.loadedAt.IsZero() || now.Sub(t.loadedAt) >= e.cfg.Refresh {
		if err := e.refresh(ctx, t); err != nil {
			e.storeErrors.Add(1)
			e.logs.Warn(e.cfg.Log, "alarm definitions not read; batch not evaluated", "refresh", "tenant", t.name, "err", err)
			return
		}
	}
	if len(t.byCheck) == 0 {
		return
	}
	var (
		states []store.AlarmState
		trans  []store.Transition
		notes  []store.Notification
		// silencedN counts the transitions suppressions kept from notifying.
		silencedN uint64
	)
	next := 0 // j.stored is an ordered subset of the batch's results
	for _, cr := range j.b.GetResults() {
		if next >= len(j.stored) {
			break
		}
		if s := &j.stored[next]; s.Check != cr.GetCheck() || s.TS != cr.GetTimestampMs() {
			continue // refused by validation
		}
		next++
		alarms := t.byCheck[cr.GetCheck()]
		if len(alarms) == 0 {
			continue
		}
		insts := e.split.Split(cr)
		for _, c := range alarms {
			if c.def.Agent != "" && c.def.Agent != j.agent {
				continue
			}
			if !c.loaded {
				if err := e.loadStates(ctx, t, c); err != nil {
					e.storeErrors.Add(1)
					e.logs.Warn(e.cfg.Log, "alarm states not read; result not evaluated", "load_states",
						"tenant", t.name, "alarm", c.def.ID, "err", err)
					continue
				}
			}
			for i := range insts {
				in := &insts[i]
				k := key{c.def.ID, j.agent, in.Key}
				st := t.machines[k]
				if st == nil {
					st = &instance{}
					t.machines[k] = st
				}
				var prev *alarm.Result
				if st.hasPrev {
					prev = &st.prev
				}
				o := c.criteria.Evaluate(&in.Result, prev)
				_, counting := st.m.Pending()
				tr, eff := st.m.Observe(c.settings, in.Result.Time, o, now)
				e.results.Add(1)
				if eff != alarm.EffectStale && (!st.hasPrev || in.Result.Time.After(st.prev.Time)) {
					st.prev, st.hasPrev = in.Result.Keep(c.prev), true
				}
				// Counts are persisted too: a successor must finish a count
				// this collector started, or a transition is lost.
				if eff != alarm.EffectTransition && eff != alarm.EffectCounted && !(eff == alarm.EffectSame && counting > 0) {
					continue
				}
				enc, err := st.m.MarshalBinary()
				if err != nil {
					e.logs.Warn(e.cfg.Log, "alarm state not encodable", "encode", "tenant", t.name, "alarm", c.def.ID, "err", err)
					continue
				}
				subj := subject(j.agent, in.Key)
				states = append(states, store.AlarmState{Alarm: c.def.ID, Agent: subj, State: enc, Updated: now})
				if eff != alarm.EffectTransition {
					continue
				}
				// A suppressed transition is still recorded, with the
				// reason in its history message, but not notified.
				silenced, reason := false, ""
				if t.supp != nil {
					silenced, reason = t.supp.Suppressed(c.def.ID, j.agent, cr.GetCheck(), tr.At, tr.To)
				}
				trans = append(trans, store.Transition{Alarm: c.def.ID, Agent: subj, From: tr.From.String(), To: tr.To.String(),
					At: tr.At, Message: withReason(tr.Message, reason)})
				if silenced {
					silencedN++
					e.cfg.Log.Debug("transition suppressed", "tenant", t.name, "alarm", c.def.ID, "agent", j.agent,
						"check", cr.GetCheck(), "to", tr.To.String(), "reason", reason)
					continue
				}
				notes = append(notes, e.notifications(t, c, subj, cr.GetCheck(), tr, now)...)
			}
		}
	}
	if len(states) == 0 {
		return
	}
	f := t.lease.Fence()
	// Notifications first: their keys make a repeat harmless, while a
	// state stored without its notification would lose it for good.
	if len(notes) > 0 {
		if _, err := e.cfg.Store.Enqueue(ctx, f, notes); err != nil {
			e.writeFailed(t, "enqueue notifications", err)
			return
		}
	}
	if err := e.cfg.Store.PutAlarmStates(ctx, f, states, trans); err != nil {
		e.writeFailed(t, "store alarm states", err)
		return
	}
	e.transitions.Add(uint64(len(trans)))
	e.suppressed.Add(silencedN)
}

// withReason appends a suppression's reason to a transition's message
// for its history ("disk 95% full [suppressed by patch-night]"), when the
// store's text field has room for it.
func withReason(msg, reason string) string {
	if reason == "" {
		return msg
	}
	if msg == "" {
		return "[" + reason + "]"
	}
	if out := msg + " [" + reason + "]"; len(out) <= store.MaxTextBytes {
		return out
	}
	return msg
}

// writeFailed drops the tenant's state in memory, which ran ahead of the
// store: fenced, the lease is gone; otherwise the state is read again.
func (e *Evaluator) writeFailed(t *tenant, what string, err error) {
	if errors.Is(err, store.ErrFenced) {
		e.cfg.Log.Warn("alarm evaluation lease taken over; this collector stops evaluating the tenant", "tenant", t.name, "err", err)
		e.lose(t)
		return
	}
	e.storeErrors.Add(1)
	e.logs.Warn(e.cfg.Log, "alarm evaluation: "+what+" failed; state reloaded from the store", "write", "tenant", t.name, "err", err)
	t.machines = map[key]*instance{}
	for _, c := range t.alarms {
		c.loaded = false
	}
}

// notifications builds the queued deliveries of one transition, one per
// receiver the alarm's plan has for the state entered. A new alarm
// settling on OK (NONE → OK) notifies no one.
func (e *Evaluator) notifications(t *tenant, c *compiled, subj, check string, tr alarm.Transition, now time.Time) []store.Notification {
	if tr.From == alarm.StateNone && tr.To == alarm.StateOK || c.def.Plan == "" {
		return nil
	}
	plan, ok := t.plans[c.def.Plan]
	if !ok {
		e.logs.Warn(e.cfg.Log, "alarm names a notification plan that does not exist; not notified", "no_plan",
			"tenant", t.name, "alarm", c.def.ID, "plan", c.def.Plan)
		return nil
	}
	state := tr.To.String()
	n := notify.NewNotification(t.name, c.def.ID, c.def.Name, notify.Transition{Agent: subj, Check: check,
		From: tr.From, To: tr.To, At: tr.At, Message: tr.Message})
	var out []store.Notification
	for i, cfg := range plan.Receivers[state] {
		name := receiverName(plan.ID, state, i, cfg)
		raw, err := jsonPayload(payload{Receiver: name, Config: cfg, Notification: encodeNotification(n)})
		if err != nil {
			e.logs.Warn(e.cfg.Log, "notification not encodable", "encode", "tenant", t.name, "alarm", c.def.ID, "err", err)
			continue
		}
		out = append(out, store.Notification{Key: n.Key + "/" + name, Alarm: c.def.ID, Payload: raw, Due: now, Created: now})
	}
	return out
}
