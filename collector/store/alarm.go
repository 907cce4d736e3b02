package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// AlarmStore keeps what alarms need (issue 16): their definitions,
// notification plans and suppressions, each alarm's state per agent with
// its transition history, the durable notification queue, and the
// evaluation lease that makes one collector at a time the evaluator of a
// tenant's alarms.
//
// # The lease and fencing
//
// A lease is held per (tenant, shard). The collector uses shard 0 for a
// whole tenant: one evaluator per tenant keeps an alarm's transitions in
// one process, which the grouping of notifications ("12 agents
// CRITICAL") and the holding of an agent's check alarms while it is down
// need. Shards (0 to MaxLeaseShards-1) are there so a tenant too large for
// one evaluator can be split by alarm later without a schema change; the
// store does not interpret them.
//
// AcquireLease hands out a fencing token that grows with every new holder
// of the lease and survives its expiry and restarts. Writes of state and
// enqueued notifications carry the token (a Fence) and are refused with an
// error wrapping ErrFenced when it is no longer the lease's token: a
// collector that lost its lease (paused, partitioned) can neither
// overwrite its successor's state nor enqueue a notification twice.
// Owners must be unique per process run: AcquireLease by the current
// owner renews the lease and returns the same token.
type AlarmStore interface {
	// PutAlarm creates (a.Version 0; ErrExists if the id is taken) or
	// updates (a.Version the stored version; ErrConflict otherwise) an
	// alarm, and returns it as stored: Version incremented, Created kept
	// from the first write, Updated as given.
	PutAlarm(ctx context.Context, a Alarm) (Alarm, error)
	// Alarm returns one alarm, or ErrNotFound.
	Alarm(ctx context.Context, tenant, id string) (Alarm, error)
	// Alarms lists a tenant's alarms ordered by id.
	Alarms(ctx context.Context, tenant string) ([]Alarm, error)
	// DeleteAlarm deletes an alarm with its states and transitions
	// (ErrNotFound if there is none).
	DeleteAlarm(ctx context.Context, tenant, id string) error

	// PutPlan creates or replaces a notification plan.
	PutPlan(ctx context.Context, p NotificationPlan) error
	// Plan returns one plan, or ErrNotFound.
	Plan(ctx context.Context, tenant, id string) (NotificationPlan, error)
	// Plans lists a tenant's plans ordered by id.
	Plans(ctx context.Context, tenant string) ([]NotificationPlan, error)
	// DeletePlan deletes a plan (ErrNotFound if there is none).
	DeletePlan(ctx context.Context, tenant, id string) error

	// PutSuppression creates or replaces a suppression.
	PutSuppression(ctx context.Context, s Suppression) error
	// Suppressions lists a tenant's suppressions ordered by id.
	Suppressions(ctx context.Context, tenant string) ([]Suppression, error)
	// DeleteSuppression deletes a suppression (ErrNotFound if there is
	// none).
	DeleteSuppression(ctx context.Context, tenant, id string) error

	// AcquireLease takes the lease of (tenant, shard) for owner for ttl
	// if it is free, expired or already owner's; ok is false (and the
	// Lease names the holder) if another owner holds it.
	AcquireLease(ctx context.Context, tenant string, shard int, owner string, ttl time.Duration) (l Lease, ok bool, err error)
	// RenewLease extends a held lease by ttl from now; it fails with
	// ErrLeaseLost if the lease expired or changed hands.
	RenewLease(ctx context.Context, l Lease, ttl time.Duration) (Lease, error)
	// ReleaseLease gives the lease up if l still holds it; the token is
	// kept, so the next holder's is higher.
	ReleaseLease(ctx context.Context, l Lease) error

	// PutAlarmStates stores states (replacing each (alarm, agent)'s) and
	// appends transitions, all of one tenant, if f is the lease's current
	// token (ErrFenced otherwise). Appending a transition again (same
	// alarm, agent and time) keeps one.
	PutAlarmStates(ctx context.Context, f Fence, states []AlarmState, ts []Transition) error
	// AlarmStates returns the states of one alarm ordered by agent.
	AlarmStates(ctx context.Context, tenant, alarm string) ([]AlarmState, error)
	// Transitions returns the transitions of one alarm newest first, at
	// most limit (0: all kept; at most AlarmLimits.Transitions are kept
	// per alarm).
	Transitions(ctx context.Context, tenant, alarm string, limit int) ([]Transition, error)

	// Enqueue queues notifications of f's tenant if f is the lease's
	// current token (ErrFenced otherwise). A key already queued (in any
	// status) is left as it is: added counts the new ones.
	Enqueue(ctx context.Context, f Fence, ns []Notification) (added int, err error)
	// DueNotifications returns the pending notifications due at or
	// before now, earliest first, at most limit (0: no limit).
	DueNotifications(ctx context.Context, tenant string, now time.Time, limit int) ([]Notification, error)
	// MarkNotification records a delivery attempt of one notification:
	// Attempts grows by one, and r says whether it is done, given up or
	// due again (ErrNotFound for an unknown key).
	MarkNotification(ctx context.Context, tenant, key string, r Delivery) error
	// Notifications lists a tenant's notifications, newest (by Created)
	// first, at most limit (0: no limit).
	Notifications(ctx context.Context, tenant string, limit int) ([]Notification, error)
}

// Errors of AlarmStore; each is wrapped with the record it concerns.
var (
	// ErrExists: PutAlarm with Version 0 for an id in use.
	ErrExists = errors.New("already exists")
	// ErrConflict: PutAlarm with a Version other than the stored one
	// (someone else updated it first; read it again).
	ErrConflict = errors.New("version conflict")
	// ErrFenced: a write carried a fencing token that is not the lease's
	// current one; the writer lost its lease and must stop evaluating.
	ErrFenced = errors.New("fenced: the evaluation lease has a newer holder")
	// ErrLeaseLost: RenewLease of a lease that expired or changed hands.
	ErrLeaseLost = errors.New("lease lost")
)

// LimitError refuses a create beyond a per-tenant limit, or a record
// beyond a size limit.
type LimitError struct {
	Tenant string
	Limit  string // the AlarmLimits field or size rule, e.g. "Alarms"
	Max    int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("tenant %q: limit %s (%d) reached", e.Tenant, e.Limit, e.Max)
}

// Size limits of the records, the same in every backend.
const (
	// MaxCriteriaBytes is the alarm package's limit on criteria text.
	MaxCriteriaBytes = 16 << 10
	// MaxReceiverBytes bounds one receiver's JSON configuration, and
	// MaxReceiversBytes all of a plan's together.
	MaxReceiverBytes  = 16 << 10
	MaxReceiversBytes = 64 << 10
	// MaxStateBytes bounds one encoded alarm state (the alarm package's
	// are about 20 bytes and a message of at most 1 KiB).
	MaxStateBytes = 4 << 10
	// MaxPayloadBytes bounds a notification's payload.
	MaxPayloadBytes = 64 << 10
	// MaxTextBytes bounds names, ids, recurring specs, messages and
	// errors.
	MaxTextBytes = 1 << 10
	// MaxLeaseShards bounds Lease.Shard.
	MaxLeaseShards = 1024
)

// AlarmLimits are per-tenant counts; zero fields take the defaults.
type AlarmLimits struct {
	Alarms       int // alarms per tenant; default 10,000
	Plans        int // notification plans per tenant; default 1,000
	Suppressions int // suppressions per tenant; default 1,000
	Transitions  int // transitions kept per alarm; default 1,000
}

// WithDefaults fills zero fields.
func (l AlarmLimits) WithDefaults() AlarmLimits {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.Alarms, 10000)
	def(&l.Plans, 1000)
	def(&l.Suppressions, 1000)
	def(&l.Transitions, 1000)
	return l
}

// Alarm is an alarm's definition.
type Alarm struct {
	Tenant, ID, Name string
	Agent            string // the agent it targets; "" for every agent
	Check            string
	Criteria         string // the alarm language's text
	Period           time.Duration
	Plan             string // notification plan id; "" for none
	Created, Updated time.Time
	Version          int64 // for optimistic updates; 0 to create
}

func checkText(what, v string, required bool) error {
	if required && v == "" {
		return fmt.Errorf("%s is required", what)
	}
	if len(v) > MaxTextBytes {
		return fmt.Errorf("%s of %d bytes exceeds %d", what, len(v), MaxTextBytes)
	}
	if !utf8.ValidString(v) {
		// Cassandra's text refuses it, and JSON would alter it.
		return fmt.Errorf("%s %q is not valid UTF-8", what, v)
	}
	return nil
}

// checkTexts runs checkText on (what, value) pairs, none required.
func checkTexts(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if err := checkText(pairs[i], pairs[i+1], false); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks what a backend requires of an alarm.
func (a *Alarm) Validate() error {
	for _, f := range []struct {
		what, v  string
		required bool
	}{{"tenant", a.Tenant, true}, {"id", a.ID, true}, {"name", a.Name, false}, {"agent", a.Agent, false},
		{"check", a.Check, true}, {"plan", a.Plan, false}} {
		if err := checkText(f.what, f.v, f.required); err != nil {
			return fmt.Errorf("alarm %q: %w", a.ID, err)
		}
	}
	switch {
	case a.Criteria == "":
		return fmt.Errorf("alarm %q: criteria are required", a.ID)
	case len(a.Criteria) > MaxCriteriaBytes:
		return fmt.Errorf("alarm %q: criteria of %d bytes exceed %d", a.ID, len(a.Criteria), MaxCriteriaBytes)
	case !utf8.ValidString(a.Criteria):
		return fmt.Errorf("alarm %q: criteria are not valid UTF-8", a.ID)
	case a.Period <= 0:
		return fmt.Errorf("alarm %q: period %v must be positive", a.ID, a.Period)
	case a.Version < 0:
		return fmt.Errorf("alarm %q: version %d", a.ID, a.Version)
	}
	return nil
}

// NotificationPlan says whom to notify of which state: Receivers maps a
// state's name (alarm.State's String, "CRITICAL") to the JSON
// configurations of its receivers, which the store keeps as they are.
type NotificationPlan struct {
	Tenant, ID, Name string
	Receivers        map[string][][]byte
	Created, Updated time.Time
}

// Validate checks ids and the receivers' sizes.
func (p *NotificationPlan) Validate() error {
	for _, f := range []struct {
		what, v  string
		required bool
	}{{"tenant", p.Tenant, true}, {"id", p.ID, true}, {"name", p.Name, false}} {
		if err := checkText(f.what, f.v, f.required); err != nil {
			return fmt.Errorf("plan %q: %w", p.ID, err)
		}
	}
	total := 0
	for state, rs := range p.Receivers {
		if err := checkText("state", state, true); err != nil {
			return fmt.Errorf("plan %q: %w", p.ID, err)
		}
		for i, r := range rs {
			if len(r) == 0 || len(r) > MaxReceiverBytes {
				return fmt.Errorf("plan %q: receiver %d of %s: %d bytes, want 1 to %d", p.ID, i, state, len(r), MaxReceiverBytes)
			}
			total += len(r)
		}
	}
	if total > MaxReceiversBytes {
		return fmt.Errorf("plan %q: receivers of %d bytes exceed %d", p.ID, total, MaxReceiversBytes)
	}
	return nil
}

// Suppression silences notifications in its scope (every field of Agent,
// Check and Alarm that is set must match) either once, from Start to End,
// or on the Recurring schedule, which the store keeps as text.
type Suppression struct {
	Tenant, ID, Name string
	Agent, Check     string
	Alarm            string
	Start, End       time.Time
	Recurring        string
	NotifyOnRecovery bool
	Created, Updated time.Time
}

// Validate checks ids and that exactly one of a window and a schedule is
// set.
func (s *Suppression) Validate() error {
	for _, f := range []struct {
		what, v  string
		required bool
	}{{"tenant", s.Tenant, true}, {"id", s.ID, true}, {"name", s.Name, false}, {"agent", s.Agent, false},
		{"check", s.Check, false}, {"alarm", s.Alarm, false}, {"recurring", s.Recurring, false}} {
		if err := checkText(f.what, f.v, f.required); err != nil {
			return fmt.Errorf("suppression %q: %w", s.ID, err)
		}
	}
	oneShot := !s.Start.IsZero() || !s.End.IsZero()
	switch {
	case oneShot == (s.Recurring != ""):
		return fmt.Errorf("suppression %q: set either start and end or a recurring schedule", s.ID)
	case oneShot && !s.End.After(s.Start):
		return fmt.Errorf("suppression %q: end %v is not after start %v", s.ID, s.End, s.Start)
	}
	return nil
}

// Lease is the evaluation lease of (Tenant, Shard) as AcquireLease left
// it.
type Lease struct {
	Tenant  string
	Shard   int
	Owner   string
	Token   int64
	Expires time.Time
}

// Fence is what writes under the lease carry.
func (l Lease) Fence() Fence { return Fence{Tenant: l.Tenant, Shard: l.Shard, Token: l.Token} }

// Fence names a lease and the token its holder got.
type Fence struct {
	Tenant string
	Shard  int
	Token  int64
}

// Validate refuses a fence no AcquireLease handed out: tokens start at 1,
// so the zero Fence never passes for a lease that was never taken.
func (f Fence) Validate() error {
	switch {
	case f.Tenant == "" || f.Shard < 0 || f.Shard >= MaxLeaseShards:
		return fmt.Errorf("fence: tenant %q shard %d", f.Tenant, f.Shard)
	case f.Token <= 0:
		return fmt.Errorf("%w: token %d was never handed out", ErrFenced, f.Token)
	}
	return nil
}

// CheckLease validates AcquireLease's arguments.
func CheckLease(tenant string, shard int, owner string, ttl time.Duration) error {
	switch {
	case tenant == "" || owner == "":
		return fmt.Errorf("lease: tenant and owner are required")
	case shard < 0 || shard >= MaxLeaseShards:
		return fmt.Errorf("lease: shard %d outside 0 to %d", shard, MaxLeaseShards-1)
	case ttl < time.Second:
		return fmt.Errorf("lease: ttl %v under a second (Cassandra's TTLs are whole seconds)", ttl)
	}
	if err := checkTexts("lease tenant", tenant, "lease owner", owner); err != nil {
		return err
	}
	return nil
}

// AlarmState is the state of one alarm for one agent: State is the alarm
// package's encoding (Machine.MarshalBinary), kept as it is.
type AlarmState struct {
	Alarm, Agent string
	State        []byte
	Updated      time.Time
}

// Transition is one recorded change of an alarm's state for an agent;
// states are the alarm package's names.
type Transition struct {
	Alarm, Agent string
	From, To     string
	At           time.Time
	Message      string
}

// NotificationStatus is where a notification is in its delivery.
type NotificationStatus uint8

const (
	NotificationPending NotificationStatus = iota + 1
	NotificationDone
	NotificationFailed // given up
)

func (s NotificationStatus) String() string {
	switch s {
	case NotificationPending:
		return "pending"
	case NotificationDone:
		return "done"
	case NotificationFailed:
		return "failed"
	}
	return fmt.Sprintf("NotificationStatus(%d)", s)
}

// Notification is one queued delivery. Key is its idempotency key (one
// per transition and receiver, say), which receivers can dedupe on too.
type Notification struct {
	Key       string
	Alarm     string
	Payload   []byte // opaque to the store
	Due       time.Time
	Status    NotificationStatus // Enqueue sets Pending
	Attempts  int
	LastError string
	Created   time.Time
	Updated   time.Time
}

// Delivery is the outcome of one attempt: Status Done, Failed (given up),
// or Pending with Next, when to try again.
type Delivery struct {
	Status NotificationStatus
	Next   time.Time
	Error  string
	At     time.Time
}

// ValidateStates checks the records of PutAlarmStates.
func ValidateStates(f Fence, states []AlarmState, ts []Transition) error {
	if err := f.Validate(); err != nil {
		return err
	}
	for _, s := range states {
		if s.Alarm == "" {
			return fmt.Errorf("state of agent %q: no alarm", s.Agent)
		}
		if err := checkTexts("alarm", s.Alarm, "agent", s.Agent); err != nil {
			return fmt.Errorf("state: %w", err)
		}
		if len(s.State) == 0 || len(s.State) > MaxStateBytes {
			return fmt.Errorf("state of alarm %q agent %q: %d bytes, want 1 to %d", s.Alarm, s.Agent, len(s.State), MaxStateBytes)
		}
	}
	for _, t := range ts {
		if t.Alarm == "" {
			return fmt.Errorf("transition of agent %q: no alarm", t.Agent)
		}
		if err := checkTexts("alarm", t.Alarm, "agent", t.Agent, "from", t.From, "to", t.To, "message", t.Message); err != nil {
			return fmt.Errorf("transition: %w", err)
		}
	}
	return nil
}

// ValidateNotifications checks the records of Enqueue.
func ValidateNotifications(f Fence, ns []Notification) error {
	if err := f.Validate(); err != nil {
		return err
	}
	for _, n := range ns {
		if err := checkText("notification key", n.Key, true); err != nil {
			return err
		}
		if err := checkText("alarm", n.Alarm, false); err != nil {
			return fmt.Errorf("notification %q: %w", n.Key, err)
		}
		switch {
		case len(n.Payload) > MaxPayloadBytes:
			return fmt.Errorf("notification %q: payload of %d bytes exceeds %d", n.Key, len(n.Payload), MaxPayloadBytes)
		}
	}
	return nil
}

// Validate checks MarkNotification's outcome.
func (d *Delivery) Validate() error {
	switch {
	case d.Status < NotificationPending || d.Status > NotificationFailed:
		return fmt.Errorf("delivery status %v", d.Status)
	case d.Status == NotificationPending && d.Next.IsZero():
		return fmt.Errorf("a delivery to retry needs its next time")
	}
	// An error is whatever a receiver said: kept, made storable.
	if len(d.Error) > MaxTextBytes {
		d.Error = d.Error[:MaxTextBytes]
	}
	d.Error = strings.ToValidUTF8(d.Error, "\uFFFD")
	return nil
}
