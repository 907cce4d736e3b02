package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Status is where a delivery stands.
type Status uint8

const (
	// StatusPending: not yet delivered; due at NextAt.
	StatusPending Status = iota
	// StatusDelivered: a receiver accepted it.
	StatusDelivered
	// StatusFailed: given up (a permanent error, MaxAttempts or MaxAge).
	StatusFailed
)

func (s Status) String() string {
	switch s {
	case StatusPending:
		return "pending"
	case StatusDelivered:
		return "delivered"
	case StatusFailed:
		return "failed"
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// Attempt records one Send.
type Attempt struct {
	At       time.Time
	Duration time.Duration
	// Code is the HTTP status or SMTP reply code, 0 when none came back.
	Code int
	// Error is empty for a success.
	Error string
}

// Delivery is one notification to one receiver: the unit the Queue
// keeps and the Deliverer retries.
type Delivery struct {
	// ID is Notification.Key + "/" + Receiver: a delivery enqueued twice
	// (by a retry of the caller, or by two collectors) is one delivery.
	ID           string
	Receiver     string
	Notification Notification
	Created      time.Time
	NextAt       time.Time
	Status       Status
	Attempts     int
	// Last is the latest attempt (zero before the first).
	Last Attempt
}

// Queue keeps deliveries and their history. The store will implement it
// durably (a later step); MemQueue is the in-memory one for tests.
// Implementations must be safe for concurrent use.
type Queue interface {
	// Enqueue adds d unless a delivery with its ID exists (then it does
	// nothing and returns nil): enqueueing is idempotent.
	Enqueue(ctx context.Context, d Delivery) error
	// Due returns up to limit pending deliveries with NextAt <= now,
	// oldest NextAt first.
	Due(ctx context.Context, now time.Time, limit int) ([]Delivery, error)
	// Done records a successful attempt: the delivery is delivered.
	Done(ctx context.Context, id string, a Attempt) error
	// Failed records a failed attempt. A zero retryAt gives up (the
	// delivery is failed); otherwise it stays pending until retryAt.
	Failed(ctx context.Context, id string, a Attempt, retryAt time.Time) error
}

// ErrUnknownDelivery is what Done and Failed return for an ID the queue
// does not hold.
var ErrUnknownDelivery = errors.New("notify: unknown delivery")

// MemQueue is a Queue in memory. It is NOT durable: a restart loses every
// pending delivery and all history. It serves tests and the collector
// until the store's queue exists.
type MemQueue struct {
	mu sync.Mutex
	m  map[string]*memEntry
}

type memEntry struct {
	d       Delivery
	history []Attempt
}

// NewMemQueue returns an empty queue.
func NewMemQueue() *MemQueue { return &MemQueue{m: map[string]*memEntry{}} }

func (q *MemQueue) Enqueue(_ context.Context, d Delivery) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.m[d.ID]; !ok {
		q.m[d.ID] = &memEntry{d: d}
	}
	return nil
}

func (q *MemQueue) Due(_ context.Context, now time.Time, limit int) ([]Delivery, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []Delivery
	for _, e := range q.m {
		if e.d.Status == StatusPending && !e.d.NextAt.After(now) {
			out = append(out, e.d)
		}
	}
	slices.SortFunc(out, func(a, b Delivery) int {
		if c := a.NextAt.Compare(b.NextAt); c != 0 {
			return c
		}
		return cmpString(a.ID, b.ID)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (q *MemQueue) record(id string, a Attempt, f func(*Delivery)) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.m[id]
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownDelivery, id)
	}
	e.d.Attempts++
	e.d.Last = a
	e.history = append(e.history, a)
	f(&e.d)
	return nil
}

func (q *MemQueue) Done(_ context.Context, id string, a Attempt) error {
	return q.record(id, a, func(d *Delivery) { d.Status = StatusDelivered })
}

func (q *MemQueue) Failed(_ context.Context, id string, a Attempt, retryAt time.Time) error {
	return q.record(id, a, func(d *Delivery) {
		if retryAt.IsZero() {
			d.Status = StatusFailed
		} else {
			d.NextAt = retryAt
		}
	})
}

// Get returns a delivery and its attempts.
func (q *MemQueue) Get(id string) (Delivery, []Attempt, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	e, ok := q.m[id]
	if !ok {
		return Delivery{}, nil, false
	}
	return e.d, slices.Clone(e.history), true
}

// RetryPolicy says how often and how long to retry.
type RetryPolicy struct {
	// MaxAttempts (default 10) and MaxAge (default 24h, since the
	// delivery was created) bound the retries; whichever comes first
	// gives up.
	MaxAttempts int
	MaxAge      time.Duration
	// The n-th retry waits Base·2^(n-1) (default 10s), at most Max
	// (default 1h), less a random fraction of up to Jitter (default 0.2)
	// of it, so deliveries that failed together do not retry together. A
	// receiver's Retry-After, when longer, is waited instead (no jitter).
	Base, Max time.Duration
	Jitter    float64
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 10
	}
	if p.MaxAge <= 0 {
		p.MaxAge = 24 * time.Hour
	}
	if p.Base <= 0 {
		p.Base = 10 * time.Second
	}
	if p.Max <= 0 {
		p.Max = time.Hour
	}
	if p.Jitter <= 0 || p.Jitter > 1 {
		p.Jitter = 0.2
	}
	return p
}

// Backoff is the wait after the attempts-th failed attempt (attempts >= 1),
// with r in [0, 1) drawing the jitter.
func (p RetryPolicy) Backoff(attempts int, r float64) time.Duration {
	p = p.withDefaults()
	d := p.Max
	if attempts < 1 {
		attempts = 1
	}
	if attempts-1 < 40 {
		if b := p.Base << (attempts - 1); b > 0 && b < p.Max {
			d = b
		}
	}
	return d - time.Duration(float64(d)*p.Jitter*r)
}

// Deliverer sends due deliveries from a Queue through named receivers,
// retrying per Policy. Run it from one goroutine (Run or RunOnce); Notify
// may be called from any.
type Deliverer struct {
	Queue     Queue
	Receivers map[string]Receiver
	Policy    RetryPolicy
	// Batch bounds the deliveries one RunOnce sends (default 100).
	Batch int
	// Now and Rand (in [0, 1)) default to the clock and math/rand; tests
	// set them.
	Now  func() time.Time
	Rand func() float64
	Log  *slog.Logger
}

func (d *Deliverer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Notify enqueues n for each named receiver, due now.
func (d *Deliverer) Notify(ctx context.Context, n Notification, receivers ...string) error {
	now := d.now()
	for _, r := range receivers {
		if _, ok := d.Receivers[r]; !ok {
			return fmt.Errorf("notify: alarm %s: unknown receiver %q", n.AlarmID, r)
		}
		del := Delivery{ID: n.Key + "/" + r, Receiver: r, Notification: n, Created: now, NextAt: now}
		if err := d.Queue.Enqueue(ctx, del); err != nil {
			return fmt.Errorf("notify: enqueue %s: %w", del.ID, err)
		}
	}
	return nil
}

// RunOnce sends the deliveries due now, one after another, and records
// each attempt. It returns how many it attempted; an error only for the
// queue failing (a receiver failing is recorded, not returned).
func (d *Deliverer) RunOnce(ctx context.Context) (int, error) {
	batch := d.Batch
	if batch <= 0 {
		batch = 100
	}
	due, err := d.Queue.Due(ctx, d.now(), batch)
	if err != nil {
		return 0, fmt.Errorf("notify: due deliveries: %w", err)
	}
	for i, del := range due {
		if ctx.Err() != nil {
			return i, ctx.Err()
		}
		if err := d.attempt(ctx, del); err != nil {
			return i + 1, err
		}
	}
	return len(due), nil
}

func (d *Deliverer) attempt(ctx context.Context, del Delivery) error {
	p := d.Policy.withDefaults()
	log := d.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("tenant", del.Notification.Tenant, "alarm", del.Notification.AlarmID,
		"receiver", del.Receiver, "delivery", del.ID)
	start := d.now()
	a := Attempt{At: start}
	r, ok := d.Receivers[del.Receiver]
	var err error
	if !ok {
		err = &SendError{Receiver: del.Receiver, Err: errors.New("receiver no longer configured")}
	} else {
		err = r.Send(ctx, del.Notification)
	}
	end := d.now()
	a.Duration = end.Sub(start)
	if err == nil {
		log.Debug("notification delivered", "attempts", del.Attempts+1)
		return d.Queue.Done(ctx, del.ID, a)
	}
	if ctx.Err() != nil {
		// Stopping: the attempt did not really happen; it stays due.
		return ctx.Err()
	}
	a.Error = err.Error()
	var se *SendError
	if errors.As(err, &se) {
		a.Code = se.Status
	}
	var retryAt time.Time
	attempts := del.Attempts + 1
	if IsRetryable(err) && attempts < p.MaxAttempts {
		rnd := rand.Float64
		if d.Rand != nil {
			rnd = d.Rand
		}
		wait := p.Backoff(attempts, rnd())
		if se != nil && se.RetryAfter > wait {
			wait = se.RetryAfter
		}
		if next := end.Add(wait); next.Sub(del.Created) <= p.MaxAge {
			retryAt = next
		}
	}
	if retryAt.IsZero() {
		log.Warn("notification failed, giving up", "attempts", attempts, "err", err)
	} else {
		log.Info("notification failed, will retry", "attempts", attempts, "retry_at", retryAt, "err", err)
	}
	return d.Queue.Failed(ctx, del.ID, a, retryAt)
}

// Run calls RunOnce every interval until ctx ends.
func (d *Deliverer) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
			d.logger().Error("notification delivery", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (d *Deliverer) logger() *slog.Logger {
	if d.Log != nil {
		return d.Log
	}
	return slog.Default()
}

// Grouper gathers one alarm's transitions to one state within Window
// into one Notification. It is pure: the caller passes the time, and
// holds a lock if it shares one Grouper between goroutines.
type Grouper struct {
	// Window is how long a group stays open after its first transition
	// (default 30s). A group of one goes out as the transition's own
	// notification, with the transition's key.
	Window  time.Duration
	pending map[groupID]*group
}

type groupID struct {
	tenant, alarmID string
	to              uint8
}

type group struct {
	n     Notification
	opens time.Time
	keys  []string
	seen  map[string]bool
}

// Add puts t in its open group, or opens one at now.
func (g *Grouper) Add(tenant, alarmID, alarmName string, t Transition, now time.Time) {
	if g.pending == nil {
		g.pending = map[groupID]*group{}
	}
	id := groupID{tenant, alarmID, uint8(t.To)}
	gr, ok := g.pending[id]
	if !ok {
		gr = &group{n: Notification{Tenant: tenant, AlarmID: alarmID, AlarmName: alarmName, State: t.To},
			opens: now, seen: map[string]bool{}}
		g.pending[id] = gr
	}
	k := t.Key(tenant, alarmID)
	if gr.seen[k] {
		return // the same transition twice is one transition
	}
	gr.seen[k] = true
	gr.keys = append(gr.keys, k)
	gr.n.Count++
	if len(gr.n.Transitions) < MaxListed {
		gr.n.Transitions = append(gr.n.Transitions, t)
	}
}

// Flush returns the groups whose window has passed at now, oldest first,
// and forgets them.
func (g *Grouper) Flush(now time.Time) []Notification {
	w := g.Window
	if w <= 0 {
		w = 30 * time.Second
	}
	return g.flush(func(gr *group) bool { return !now.Before(gr.opens.Add(w)) })
}

// FlushAll returns every open group (at shutdown).
func (g *Grouper) FlushAll() []Notification {
	return g.flush(func(*group) bool { return true })
}

// Pending is the number of open groups.
func (g *Grouper) Pending() int { return len(g.pending) }

func (g *Grouper) flush(ready func(*group) bool) []Notification {
	var out []*group
	for id, gr := range g.pending {
		if ready(gr) {
			out = append(out, gr)
			delete(g.pending, id)
		}
	}
	slices.SortFunc(out, func(a, b *group) int {
		if c := a.opens.Compare(b.opens); c != 0 {
			return c
		}
		if c := cmpString(a.n.Tenant+"\x00"+a.n.AlarmID, b.n.Tenant+"\x00"+b.n.AlarmID); c != 0 {
			return c
		}
		return int(a.n.State) - int(b.n.State)
	})
	ns := make([]Notification, len(out))
	for i, gr := range out {
		gr.n.Key = groupKey(gr.keys)
		ns[i] = gr.n
	}
	return ns
}
