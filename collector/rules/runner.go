package rules

import (
	"context"
	"log/slog"
	"time"
)

// Run evaluates g every interval of its spec until ctx ends, at times
// aligned to the interval (as Prometheus aligns groups), logging rule
// errors. It is the one loop of the package; the collector's wiring
// decides where it runs and for which tenants.
func Run(ctx context.Context, g *Group, log *slog.Logger) {
	iv := g.Spec.Interval
	if iv <= 0 {
		iv = DefaultInterval
	}
	next := time.Now().Truncate(iv).Add(iv)
	t := time.NewTimer(time.Until(next))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := g.Eval(ctx, next); err != nil && ctx.Err() == nil {
			log.Warn("rule evaluation failed", "tenant", g.Tenant, "group", g.Spec.Name, "err", err)
		}
		// Skip the ticks a slow evaluation missed rather than run them
		// back to back.
		next = next.Add(iv)
		if now := time.Now(); next.Before(now) {
			next = now.Truncate(iv).Add(iv)
		}
		t.Reset(time.Until(next))
	}
}
