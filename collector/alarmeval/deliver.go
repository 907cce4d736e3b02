package alarmeval

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/vigilmon/vigil/collector/notify"
	"github.com/vigilmon/vigil/collector/store"
)

func jsonPayload(p payload) ([]byte, error) { return json.Marshal(p) }

// deliverLoop sends the due notifications of the tenants whose lease this
// collector holds, every DeliveryInterval, DeliveryConcurrency tenants at
// a time. Only the lease holder delivers, so two collectors do not send
// one notification at once; a notification sent but not recorded before
// a crash is sent again by the successor with the same idempotency key.
func (e *Evaluator) deliverLoop(ctx context.Context) {
	tick := time.NewTicker(e.cfg.DeliveryInterval)
	defer tick.Stop()
	queues := map[string]*StoreQueue{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		e.mu.Lock()
		held := make(map[string]store.Lease, len(e.held))
		for k, v := range e.held {
			held[k] = v
		}
		e.mu.Unlock()
		for name := range queues {
			if _, ok := held[name]; !ok {
				delete(queues, name)
			}
		}
		sem := make(chan struct{}, e.cfg.DeliveryConcurrency)
		var wg sync.WaitGroup
		for name, l := range held {
			q := queues[name]
			if q == nil || q.Fence != l.Fence() {
				q = NewStoreQueue(e.cfg.Store, name, l.Fence())
				queues[name] = q
			}
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				e.deliver(ctx, q)
			})
		}
		wg.Wait()
	}
}

// deliver sends what is due for one tenant, batch after batch.
func (e *Evaluator) deliver(ctx context.Context, q *StoreQueue) {
	d := &notify.Deliverer{Queue: q, Receivers: q.Receivers(), Policy: e.cfg.Retry, Now: e.cfg.Now,
		Log: e.cfg.Log.With("tenant", q.Tenant)}
	for ctx.Err() == nil {
		n, err := d.RunOnce(ctx)
		if err != nil {
			if ctx.Err() == nil {
				e.storeErrors.Add(1)
				e.logs.Warn(e.cfg.Log, "notification delivery: queue failed", "deliver", "tenant", q.Tenant, "err", err)
			}
			return
		}
		if n < 100 {
			return
		}
	}
}
