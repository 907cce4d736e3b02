package agent

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff spaces the agent's rounds of connection attempts: the ceiling
// doubles from min to max after each failed round and each wait is drawn
// below it (full jitter), so a fleet that lost its collector at the same
// moment comes back spread over the ceiling, not in lockstep. A collector
// that answers "busy, retry after N s" overrides the draw for one round.
type backoff struct {
	min, max time.Duration
	ceiling  time.Duration
	// retryAfter is the wait a collector asked for; 0: none.
	retryAfter time.Duration
}

func newBackoff(min, max time.Duration) *backoff {
	return &backoff{min: min, max: max, ceiling: min}
}

// reset starts again from min, after a connection that worked.
func (b *backoff) reset() {
	b.ceiling = b.min
	b.retryAfter = 0
}

// collectorAsked records a collector's retry_after; the longest one asked
// in a round wins.
func (b *backoff) collectorAsked(d time.Duration) {
	b.retryAfter = max(b.retryAfter, d)
}

// next is the wait before the next round. A collector's retry_after is
// honoured as given plus up to a second of jitter (it is in whole seconds,
// and the collector already spread its answers) and does not grow the
// ceiling: a busy collector says when to come back, a dead one does not.
func (b *backoff) next() time.Duration {
	if d := b.retryAfter; d > 0 {
		b.retryAfter = 0
		return d + rand.N(time.Second)
	}
	d := rand.N(b.ceiling) + 10*time.Millisecond
	b.ceiling = min(2*b.ceiling, b.max)
	return d
}

// probeSchedule spaces the probes of preferred collectors after a
// failover: the first soon after (a restart is over in seconds), then
// doubling up to the probe interval, each drawn in the upper half of its
// step so probes neither bunch up nor hammer a collector that stays down.
type probeSchedule struct {
	step, max time.Duration
}

func (p *probeSchedule) next() time.Duration {
	d := p.step/2 + rand.N(p.step/2+1)
	p.step = min(2*p.step, p.max)
	return d
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
