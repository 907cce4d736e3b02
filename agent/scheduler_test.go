package agent

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigilmon/vigil/agent/check"
	"github.com/vigilmon/vigil/agent/spool"
	"github.com/vigilmon/vigil/protocol"
)

type checkFunc func(ctx context.Context, r *check.Result) error

func (f checkFunc) Run(ctx context.Context, r *check.Result) error { return f(ctx, r) }

// collect runs jobs for d and returns their results. Callers run it in a
// synctest bubble: d passes on the bubble's fake clock, at once and the
// same way every time.
func collect(t *testing.T, jobs []*job, d time.Duration) []*protocol.CheckResult {
	t.Helper()
	out := make(chan *protocol.CheckResult, 1000)
	s := &scheduler{log: slog.New(slog.DiscardHandler), out: out}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	s.start(ctx, jobs)
	<-ctx.Done()
	s.wait()
	close(out)
	var got []*protocol.CheckResult
	for r := range out {
		got = append(got, r)
	}
	return got
}

func TestNextSlotOnGrid(t *testing.T) {
	j := newJob("web-1", "cpu", 10*time.Second, time.Second, checkFunc(nil))
	if j.offset < 0 || j.offset >= 10*time.Second {
		t.Fatalf("offset %v outside the interval", j.offset)
	}
	if newJob("web-1", "memory", 10*time.Second, time.Second, checkFunc(nil)).offset != j.offset {
		t.Fatal("two checks of one agent and interval do not share a slot")
	}
	if newJob("web-2", "cpu", 10*time.Second, time.Second, checkFunc(nil)).offset == j.offset &&
		newJob("web-3", "cpu", 10*time.Second, time.Second, checkFunc(nil)).offset == j.offset {
		t.Fatal("offsets do not spread agents over the interval")
	}
	now := time.Now()
	s1 := j.nextSlot(now)
	s2 := j.nextSlot(s1)
	if !s1.After(now) || s1.Sub(now) > 10*time.Second {
		t.Fatalf("next slot %v not within one interval after %v", s1, now)
	}
	if s2.Sub(s1) != 10*time.Second {
		t.Fatalf("slots %v apart, want the interval", s2.Sub(s1))
	}
	if (s1.UnixNano()-int64(j.offset))%int64(10*time.Second) != 0 {
		t.Fatal("slot is not on the job's grid")
	}
}

// slotsWithin counts the job's slots in (now, now+d): in a bubble, the
// results a collect over d yields for the job.
func slotsWithin(j *job, d time.Duration) int {
	now := time.Now()
	n := 0
	for s := j.nextSlot(now); s.Before(now.Add(d)); s = j.nextSlot(s) {
		n++
	}
	return n
}

func TestScheduleTimestampsAndMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		j := newJob("a", "fast", time.Second, 500*time.Millisecond, checkFunc(func(ctx context.Context, r *check.Result) error {
			r.Gauge("v", 1, check.Label{Key: "k", Value: "x"})
			return nil
		}))
		want := slotsWithin(j, 3500*time.Millisecond)
		got := collect(t, []*job{j}, 3500*time.Millisecond)
		if len(got) != want || want < 3 {
			t.Fatalf("%d results in 3.5 s at a 1 s interval, want one per slot: %d", len(got), want)
		}
		for i, r := range got {
			if r.Status != protocol.Status_STATUS_OK || len(r.Metrics) != 1 || r.Metrics[0].Labels[0].Value != "x" {
				t.Fatalf("result %d: %v", i, r)
			}
			if (r.TimestampMs*int64(time.Millisecond)-int64(j.offset))%int64(time.Second) != 0 {
				t.Fatalf("timestamp %d is not the scheduled slot", r.TimestampMs)
			}
			if i > 0 && r.TimestampMs-got[i-1].TimestampMs != 1000 {
				t.Fatalf("timestamps %d and %d not one interval apart", got[i-1].TimestampMs, r.TimestampMs)
			}
		}
	})
}

// A hung check times out, is reported unknown, is never run twice at once,
// and does not delay another check.
func TestHungCheckIsolated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var concurrent, maxConcurrent atomic.Int32
		release := make(chan struct{})
		hung := newJob("a", "hung", time.Second, 300*time.Millisecond, checkFunc(func(ctx context.Context, r *check.Result) error {
			n := concurrent.Add(1)
			defer concurrent.Add(-1)
			if n > maxConcurrent.Load() {
				maxConcurrent.Store(n)
			}
			<-release // ignores ctx, like a stuck syscall
			return nil
		}))
		fast := newJob("a", "fast", time.Second, 300*time.Millisecond, checkFunc(func(ctx context.Context, r *check.Result) error {
			r.Gauge("v", 1)
			return nil
		}))
		defer close(release)
		slots := slotsWithin(fast, 4500*time.Millisecond)
		got := collect(t, []*job{hung, fast}, 4500*time.Millisecond)
		var fastOK, timedOut, skipped int
		for _, r := range got {
			switch {
			case r.Check == "fast" && r.Status == protocol.Status_STATUS_OK:
				fastOK++
			case r.Check == "hung" && strings.Contains(r.Message, "timed out after 300ms"):
				timedOut++
			case r.Check == "hung" && strings.Contains(r.Message, "skipped: previous run still in progress"):
				skipped++
				if r.Status != protocol.Status_STATUS_UNKNOWN {
					t.Fatalf("skipped run has status %v", r.Status)
				}
			}
		}
		// Every slot of fast ran; hung's first run timed out and it was
		// still stuck at each later slot.
		if slots < 4 || fastOK != slots || timedOut != 1 || skipped != slots-1 {
			t.Fatalf("%d slots: fast ok %d, hung timed out %d, skipped %d; results: %v", slots, fastOK, timedOut, skipped, got)
		}
		if maxConcurrent.Load() != 1 {
			t.Fatalf("hung check ran %d times at once", maxConcurrent.Load())
		}
	})
}

func TestCheckErrorAndPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		failing := newJob("a", "failing", time.Second, time.Second, checkFunc(func(ctx context.Context, r *check.Result) error {
			return errors.New("read /proc/stat: permission denied")
		}))
		panicking := newJob("a", "panicking", time.Second, time.Second, checkFunc(func(ctx context.Context, r *check.Result) error {
			panic("boom")
		}))
		want := 2 * slotsWithin(failing, 2500*time.Millisecond)
		got := collect(t, []*job{failing, panicking}, 2500*time.Millisecond)
		if len(got) != want {
			t.Fatalf("%d results, want %d: %v", len(got), want, got)
		}
		seen := map[string]string{}
		for _, r := range got {
			if r.Status != protocol.Status_STATUS_UNKNOWN {
				t.Fatalf("%s: status %v, want unknown", r.Check, r.Status)
			}
			seen[r.Check] = r.Message
		}
		if !strings.Contains(seen["failing"], "permission denied") || !strings.Contains(seen["panicking"], "check panicked: boom") {
			t.Fatalf("messages: %v", seen)
		}
	})
}

func TestClip(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc"},
		{"é€", 4, "é"}, // never splits a rune
		{"a\xffb", 10, "a\uFFFDb"},
	} {
		if got := clip(tt.in, tt.n); got != tt.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

// The batcher spools a slot's results as soon as the last of them is in:
// with a gather timer of an hour, every batch is spooled at its slot's
// time, by the slot's completion alone (the bubble's clock shows it to the
// nanosecond).
func TestBatcherSpoolsCompleteSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sp, err := spool.Open(t.TempDir(), spool.Options{Sync: spool.SyncNever})
		if err != nil {
			t.Fatal(err)
		}
		defer sp.Close()
		var jobs []*job
		for _, name := range []string{"one", "two", "three"} {
			jobs = append(jobs, newJob("a", name, time.Second, time.Second, checkFunc(func(ctx context.Context, r *check.Result) error {
				r.Gauge("v", 1)
				return nil
			})))
		}
		results := make(chan *protocol.CheckResult, 16)
		due := &dueSlots{}
		b := &batcher{in: results, due: due, gather: time.Hour, sp: sp, log: slog.New(slog.DiscardHandler)}
		done := make(chan struct{})
		go func() { b.run(); close(done) }()
		s := &scheduler{log: slog.New(slog.DiscardHandler), out: results, due: due}
		ctx, cancel := context.WithCancel(context.Background())
		s.start(ctx, jobs)
		// stop ends every goroutine of the bubble, also when the test fails.
		stopped := false
		stop := func() {
			if !stopped {
				stopped = true
				cancel()
				s.wait()
				close(results)
				<-done
			}
		}
		defer stop()

		nctx, ncancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ncancel()
		for i := range 2 {
			batch, err := sp.Next(nctx)
			if err != nil {
				t.Fatalf("batch %d not spooled: %v", i, err)
			}
			if len(batch.Results) != len(jobs) {
				t.Fatalf("batch %d holds %d results, want the slot's %d", i, len(batch.Results), len(jobs))
			}
			for _, r := range batch.Results {
				if r.TimestampMs != batch.Results[0].TimestampMs {
					t.Fatalf("batch %d mixes slots: %v", i, batch.Results)
				}
			}
			if now := time.Now().UnixMilli(); now != batch.Results[0].TimestampMs {
				t.Fatalf("batch %d of slot %d spooled %d ms after it", i, batch.Results[0].TimestampMs, now-batch.Results[0].TimestampMs)
			}
		}
		stop()
		if len(due.n) != 0 {
			t.Fatalf("slots still counted after stopping: %v", due.n)
		}
	})
}
