package alarmeval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vigilmon/vigil/collector/alarm"
	"github.com/vigilmon/vigil/collector/notify"
	"github.com/vigilmon/vigil/collector/store"
)

// payload is what the store's queue keeps for one delivery: the
// notification and the receiver's configuration as the plan had it when
// the transition happened, so editing a plan later changes no delivery
// already queued and the delivery needs no other record.
type payload struct {
	Receiver     string          `json:"receiver"`
	Config       json.RawMessage `json:"config"`
	Notification notification    `json:"notification"`
}

type notification struct {
	Tenant      string       `json:"tenant"`
	AlarmID     string       `json:"alarm_id"`
	AlarmName   string       `json:"alarm_name"`
	State       string       `json:"state"`
	Count       int          `json:"count"`
	Key         string       `json:"key"`
	Transitions []transition `json:"transitions"`
}

type transition struct {
	Agent   string    `json:"agent"`
	Check   string    `json:"check"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	At      time.Time `json:"at"`
	Message string    `json:"message,omitempty"`
}

func encodeNotification(n notify.Notification) notification {
	out := notification{Tenant: n.Tenant, AlarmID: n.AlarmID, AlarmName: n.AlarmName, State: n.State.String(),
		Count: n.Count, Key: n.Key}
	for _, t := range n.Transitions {
		out.Transitions = append(out.Transitions, transition{Agent: t.Agent, Check: t.Check, From: t.From.String(),
			To: t.To.String(), At: t.At, Message: t.Message})
	}
	return out
}

func state(name string) (alarm.State, error) {
	s, ok := alarm.ParseState(name)
	if !ok {
		return 0, fmt.Errorf("unknown alarm state %q", name)
	}
	return s, nil
}

func (p *notification) decode() (notify.Notification, error) {
	st, err := state(p.State)
	if err != nil {
		return notify.Notification{}, err
	}
	n := notify.Notification{Tenant: p.Tenant, AlarmID: p.AlarmID, AlarmName: p.AlarmName, State: st, Count: p.Count, Key: p.Key}
	for _, t := range p.Transitions {
		from, err := state(t.From)
		if err != nil {
			return n, err
		}
		to, err := state(t.To)
		if err != nil {
			return n, err
		}
		n.Transitions = append(n.Transitions, notify.Transition{Agent: t.Agent, Check: t.Check, From: from, To: to,
			At: t.At, Message: t.Message})
	}
	return n, nil
}

// receiverName names a receiver of a plan for one state by its place and
// its configuration: a plan edited later gives a new name, so a queued
// delivery is sent with the configuration it was queued with.
func receiverName(plan, state string, i int, config []byte) string {
	h := sha256.Sum256(config)
	return fmt.Sprintf("%s/%s/%d#%s", plan, state, i, hex.EncodeToString(h[:6]))
}

// StoreQueue is a notify.Queue over the store's durable notification
// queue for one tenant. A Delivery's ID is the store's key. Due parses
// each delivery's receiver from its payload into Receivers, which a
// notify.Deliverer reading the same map then sends through.
type StoreQueue struct {
	Store  store.AlarmStore
	Tenant string
	// Fence is the lease's token, which Enqueue needs.
	Fence store.Fence

	mu        sync.Mutex
	receivers map[string]notify.Receiver
	configs   map[string][]byte
}

// NewStoreQueue returns a queue over st for tenant.
func NewStoreQueue(st store.AlarmStore, tenant string, f store.Fence) *StoreQueue {
	return &StoreQueue{Store: st, Tenant: tenant, Fence: f, receivers: map[string]notify.Receiver{}, configs: map[string][]byte{}}
}

// Receivers is the map Due fills; pass it as notify.Deliverer.Receivers
// and run that Deliverer from one goroutine.
func (q *StoreQueue) Receivers() map[string]notify.Receiver { return q.receivers }

// AddReceiver registers a receiver's JSON configuration under name, for
// Enqueue.
func (q *StoreQueue) AddReceiver(name string, config []byte) error {
	r, err := notify.ParseReceiver(config)
	if err != nil {
		return fmt.Errorf("receiver %s: %w", name, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.receivers[name] = r
	q.configs[name] = append([]byte(nil), config...)
	return nil
}

// Enqueue queues d under the lease's fence; its receiver must have been
// added with AddReceiver.
func (q *StoreQueue) Enqueue(ctx context.Context, d notify.Delivery) error {
	q.mu.Lock()
	cfg, ok := q.configs[d.Receiver]
	q.mu.Unlock()
	if !ok {
		return fmt.Errorf("enqueue %s: unknown receiver %q", d.ID, d.Receiver)
	}
	raw, err := json.Marshal(payload{Receiver: d.Receiver, Config: cfg, Notification: encodeNotification(d.Notification)})
	if err != nil {
		return fmt.Errorf("enqueue %s: %w", d.ID, err)
	}
	_, err = q.Store.Enqueue(ctx, q.Fence, []store.Notification{{Key: d.ID, Alarm: d.Notification.AlarmID, Payload: raw,
		Due: d.NextAt, Created: d.Created}})
	return err
}

// Due returns the tenant's due deliveries. One whose payload cannot be
// read (or whose receiver configuration no longer parses) is recorded as
// failed at once rather than returned again and again.
func (q *StoreQueue) Due(ctx context.Context, now time.Time, limit int) ([]notify.Delivery, error) {
	ns, err := q.Store.DueNotifications(ctx, q.Tenant, now, limit)
	if err != nil {
		return nil, err
	}
	out := make([]notify.Delivery, 0, len(ns))
	for _, n := range ns {
		d, err := q.delivery(n)
		if err != nil {
			if merr := q.Store.MarkNotification(ctx, q.Tenant, n.Key, store.Delivery{Status: store.NotificationFailed,
				Error: err.Error(), At: now}); merr != nil {
				return out, errors.Join(err, merr)
			}
			continue
		}
		out = append(out, d)
	}
	return out, nil
}

func (q *StoreQueue) delivery(n store.Notification) (notify.Delivery, error) {
	var p payload
	if err := json.Unmarshal(n.Payload, &p); err != nil {
		return notify.Delivery{}, fmt.Errorf("notification %s: payload: %w", n.Key, err)
	}
	nn, err := p.Notification.decode()
	if err != nil {
		return notify.Delivery{}, fmt.Errorf("notification %s: %w", n.Key, err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.receivers[p.Receiver]; !ok {
		r, err := notify.ParseReceiver(p.Config)
		if err != nil {
			return notify.Delivery{}, fmt.Errorf("notification %s: receiver %s: %w", n.Key, p.Receiver, err)
		}
		q.receivers[p.Receiver] = r
		q.configs[p.Receiver] = p.Config
	}
	return notify.Delivery{ID: n.Key, Receiver: p.Receiver, Notification: nn, Created: n.Created, NextAt: n.Due,
		Status: notify.StatusPending, Attempts: n.Attempts}, nil
}

// Done records a delivered notification.
func (q *StoreQueue) Done(ctx context.Context, id string, a notify.Attempt) error {
	return q.mark(ctx, id, store.Delivery{Status: store.NotificationDone, At: a.At})
}

// Failed records a failed attempt: given up when retryAt is zero, due
// again at retryAt otherwise.
func (q *StoreQueue) Failed(ctx context.Context, id string, a notify.Attempt, retryAt time.Time) error {
	d := store.Delivery{Status: store.NotificationPending, Next: retryAt, Error: a.Error, At: a.At}
	if retryAt.IsZero() {
		d.Status = store.NotificationFailed
	}
	return q.mark(ctx, id, d)
}

func (q *StoreQueue) mark(ctx context.Context, id string, d store.Delivery) error {
	err := q.Store.MarkNotification(ctx, q.Tenant, id, d)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %s: %w", notify.ErrUnknownDelivery, id, err)
	}
	return err
}
