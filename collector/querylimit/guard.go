package querylimit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Counter counts refusals by reason (the collector's metrics).
type Counter interface {
	QueryRefused(reason string)
}

// Guard holds the limits shared by every query endpoint of a collector:
// one queue of concurrent queries, and the counting and logging of
// refusals. The zero Guard has the Defaults and neither logs nor counts.
type Guard struct {
	Limits  Limits
	Log     *slog.Logger
	Counter Counter

	once  sync.Once
	lim   Limits
	slots chan struct{}

	logMu      sync.Mutex
	lastLog    map[string]time.Time // by reason
	suppressed map[string]int
}

func (g *Guard) init() {
	g.once.Do(func() {
		g.lim = g.Limits.WithDefaults()
		g.slots = make(chan struct{}, g.lim.MaxConcurrent)
		g.lastLog = map[string]time.Time{}
		g.suppressed = map[string]int{}
	})
}

// L is the effective limits.
func (g *Guard) L() Limits {
	g.init()
	return g.lim
}

// Context bounds a query by the Timeout, or by requested when that is
// shorter (the API's timeout parameter), from now: call it when the
// request arrives so the queue counts.
func (g *Guard) Context(parent context.Context, requested time.Duration) (context.Context, context.CancelFunc) {
	d := g.L().Timeout
	if requested > 0 && requested < d {
		d = requested
	}
	return context.WithTimeout(parent, d)
}

// Enter takes a query slot, waiting up to QueueWait for one, and returns
// its release. Refused after the wait (ReasonConcurrency); when ctx ends
// first, its error (a deadline is TimedOut).
func (g *Guard) Enter(ctx context.Context) (release func(), err error) {
	g.init()
	select {
	case g.slots <- struct{}{}:
		return g.release, nil
	default:
	}
	wait := time.NewTimer(g.lim.QueueWait)
	defer wait.Stop()
	select {
	case g.slots <- struct{}{}:
		return g.release, nil
	case <-wait.C:
		return nil, refuse(ReasonConcurrency, "max_concurrent",
			"%d queries are running and none finished within %v (query.queue_wait); try again", g.lim.MaxConcurrent, g.lim.QueueWait)
	case <-ctx.Done():
		return nil, g.Err(ctx.Err())
	}
}

func (g *Guard) release() { <-g.slots }

// Err turns a deadline into the TimedOut refusal; other errors pass.
func (g *Guard) Err(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return TimedOut(g.L().Timeout)
	}
	return err
}

// logEvery is how often each reason of refusal is logged at most: a read
// token can send refusals as fast as it likes.
const logEvery = 10 * time.Second

// Refused counts and logs err when it is a refusal, and reports whether
// it was one. query is what was asked, shortened in the log.
func (g *Guard) Refused(err error, tenant, query string) bool {
	r, ok := AsRefusal(err)
	if !ok {
		return false
	}
	g.init()
	if g.Counter != nil {
		g.Counter.QueryRefused(r.Reason)
	}
	if g.Log == nil {
		return true
	}
	g.logMu.Lock()
	now := time.Now()
	if now.Sub(g.lastLog[r.Reason]) < logEvery {
		g.suppressed[r.Reason]++
		g.logMu.Unlock()
		return true
	}
	g.lastLog[r.Reason] = now
	n := g.suppressed[r.Reason]
	g.suppressed[r.Reason] = 0
	g.logMu.Unlock()
	if len(query) > 200 {
		query = query[:200] + "…"
	}
	g.Log.Warn("query refused", "tenant", tenant, "reason", r.Reason, "limit", r.Key, "err", r.msg,
		"query", query, "not_logged_since", n)
	return true
}

// Budget is the samples one query may still load, shared by the
// goroutines reading its series.
type Budget struct {
	max  int
	left atomic.Int64
}

// NewBudget allows max samples.
func NewBudget(max int) *Budget {
	b := &Budget{max: max}
	b.left.Store(int64(max))
	return b
}

// Left is how many samples may still be loaded: a store read asks for at
// most Left()+1, so it never materialises more than the budget.
func (b *Budget) Left() int {
	return int(max(b.left.Load(), 0))
}

// Spend takes n samples, refusing (TooManySamples) when they overdraw
// the budget.
func (b *Budget) Spend(n int) error {
	if b.left.Add(-int64(n)) < 0 {
		return TooManySamples(b.max)
	}
	return nil
}
