package agent

import (
	"testing"
	"time"
)

// A collector's retry_after overrides the jittered draw for one round, is
// honoured as asked (plus under a second of jitter) and does not grow the
// ceiling; without one, waits stay under a ceiling that doubles to max.
func TestBackoffHonoursRetryAfter(t *testing.T) {
	for i := range 200 {
		b := newBackoff(time.Second, 15*time.Second)
		b.collectorAsked(2 * time.Second)
		b.collectorAsked(4 * time.Second) // the longest ask of a round wins
		if d := b.next(); d < 4*time.Second || d >= 5*time.Second {
			t.Fatalf("run %d: wait %v after a 4 s retry_after, want [4s, 5s)", i, d)
		}
		if b.ceiling != time.Second {
			t.Fatalf("run %d: ceiling %v after a collector's ask, want it unchanged (1s)", i, b.ceiling)
		}
		var last time.Duration
		for range 10 {
			ceil := b.ceiling
			d := b.next()
			if d <= 0 || d > ceil+10*time.Millisecond {
				t.Fatalf("run %d: wait %v, want (0, %v]", i, d, ceil+10*time.Millisecond)
			}
			last = b.ceiling
		}
		if last != 15*time.Second {
			t.Fatalf("run %d: ceiling %v after 10 failed rounds, want max 15s", i, last)
		}
		b.collectorAsked(3 * time.Second)
		b.reset()
		if b.ceiling != time.Second || b.retryAfter != 0 {
			t.Fatalf("run %d: after reset ceiling %v retryAfter %v, want 1s and 0", i, b.ceiling, b.retryAfter)
		}
	}
}

// Probes of the preferred collector start soon after a failover and space
// out to the probe interval, each in the upper half of its step.
func TestProbeScheduleSpacing(t *testing.T) {
	p := &probeSchedule{step: time.Second, max: 30 * time.Second}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, step := range want {
		d := p.next()
		if d < step/2 || d > step {
			t.Fatalf("probe %d: wait %v, want [%v, %v]", i, d, step/2, step)
		}
	}
}
