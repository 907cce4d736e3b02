package agent

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/vigilmon/vigil/agent/check"
	"github.com/vigilmon/vigil/protocol"
)

// job is one configured check and its schedule.
type job struct {
	name     string
	interval time.Duration
	timeout  time.Duration
	offset   time.Duration // fixed per agent and interval: spreads a fleet over the interval
	run      func(ctx context.Context, r *check.Result) error
	running  atomic.Bool
	started  atomic.Int64 // unix ms of the run in progress
	result   *check.Result
}

// newJob places the check on its interval's grid at an offset that depends
// on the agent and the interval only. A fleet's agents are spread over the
// interval, while one agent's checks of the same interval share a slot: the
// agent wakes once per interval and sends one batch, not one per check.
func newJob(agentID, name string, interval, timeout time.Duration, c check.Check) *job {
	h := fnv.New64a()
	h.Write([]byte(agentID + "\x00" + interval.String()))
	return &job{
		name:     name,
		interval: interval,
		timeout:  timeout,
		// Whole milliseconds, so the wire timestamps sit exactly on the grid.
		offset: time.Duration(h.Sum64()%uint64(interval.Milliseconds())) * time.Millisecond,
		run:    c.Run,
		result: &check.Result{},
	}
}

// nextSlot is the first point of the job's grid (multiples of the interval
// shifted by the offset) strictly after t.
func (j *job) nextSlot(t time.Time) time.Time {
	iv := int64(j.interval)
	base := t.UnixNano() - int64(j.offset)
	n := base/iv + 1
	if base < 0 {
		n = base / iv
	}
	return time.Unix(0, n*iv+int64(j.offset))
}

// dueSlots counts, for each slot (unix ms), the results still to come:
// the jobs whose timer is armed for it, less the results of it the batcher
// has taken. It lets the batcher spool a slot's batch as soon as its last
// result is in, instead of waking again when its gather timer runs out.
// A nil *dueSlots counts nothing.
type dueSlots struct {
	mu sync.Mutex
	n  map[int64]int
}

// arm counts one more result to come for the slot.
func (d *dueSlots) arm(slotMs int64) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.n == nil {
		d.n = make(map[int64]int)
	}
	d.n[slotMs]++
}

// done counts one result of the slot as in (or as never coming) and
// reports whether the slot has none left to come.
func (d *dueSlots) done(slotMs int64) bool {
	if d == nil {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	n, ok := d.n[slotMs]
	if !ok {
		return false // not armed here (a test's scheduler): the batcher's timer decides
	}
	if n <= 1 {
		delete(d.n, slotMs)
		return true
	}
	d.n[slotMs] = n - 1
	return false
}

// scheduler runs every job on its own grid. A slow or hung check delays
// nothing else; a check never overlaps itself. Each slot a job's timer
// fires for yields exactly one result (the run's, or a skip or timeout
// notice), which due counts.
type scheduler struct {
	log  *slog.Logger
	out  chan<- *protocol.CheckResult
	due  *dueSlots
	wg   sync.WaitGroup
	runs sync.WaitGroup
}

func (s *scheduler) start(ctx context.Context, jobs []*job) {
	for _, j := range jobs {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.loop(ctx, j)
		}()
	}
}

// wait returns when every loop has stopped and every run has returned or
// been abandoned past its timeout.
func (s *scheduler) wait() {
	s.wg.Wait()
	s.runs.Wait()
}

func (s *scheduler) loop(ctx context.Context, j *job) {
	slot := j.nextSlot(time.Now())
	s.due.arm(slot.UnixMilli())
	timer := time.NewTimer(time.Until(slot))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			s.due.done(slot.UnixMilli()) // its result will not come
			return
		case <-timer.C:
		}
		if j.running.Load() {
			since := time.Since(time.UnixMilli(j.started.Load())).Round(time.Millisecond)
			s.log.Warn("check skipped: previous run still in progress", "check", j.name, "running_for", since)
			s.emit(ctx, &protocol.CheckResult{
				Check:       j.name,
				TimestampMs: slot.UnixMilli(),
				Status:      protocol.Status_STATUS_UNKNOWN,
				Message:     fmt.Sprintf("skipped: previous run still in progress after %v", since),
			})
		} else {
			j.running.Store(true)
			j.started.Store(time.Now().UnixMilli())
			s.runs.Add(1)
			go s.runOnce(ctx, j, slot)
		}
		// A suspended host or a clock jump skips the missed slots rather
		// than firing them all at once.
		if now := time.Now(); now.After(slot) {
			slot = now
		}
		slot = j.nextSlot(slot)
		s.due.arm(slot.UnixMilli())
		timer.Reset(time.Until(slot))
	}
}

func (s *scheduler) runOnce(ctx context.Context, j *job, slot time.Time) {
	defer s.runs.Done()
	cctx, cancel := context.WithTimeout(ctx, j.timeout)
	defer cancel()
	r := j.result
	r.Reset()
	begin := time.Now()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("check panicked: %v", p)
			}
		}()
		done <- j.run(cctx, r)
	}()
	select {
	case err := <-done:
		s.emit(ctx, toProto(j.name, slot, time.Since(begin), r, err))
		j.running.Store(false)
	case <-cctx.Done():
		msg := fmt.Sprintf("timed out after %v", j.timeout)
		if ctx.Err() != nil {
			msg = "agent stopping"
		}
		s.emit(ctx, &protocol.CheckResult{
			Check:       j.name,
			TimestampMs: slot.UnixMilli(),
			Status:      protocol.Status_STATUS_UNKNOWN,
			Message:     msg,
			DurationMs:  uint32(time.Since(begin).Milliseconds()),
		})
		s.log.Warn("check did not finish in time", "check", j.name, "timeout", j.timeout)
		// The abandoned run still owns r; the next run gets a fresh one.
		j.result = &check.Result{}
		go func() {
			if err := <-done; err != nil {
				s.log.Debug("timed-out check run finished late", "check", j.name, "err", err)
			}
			j.running.Store(false)
		}()
	}
}

func (s *scheduler) emit(ctx context.Context, r *protocol.CheckResult) {
	select {
	case s.out <- r:
	case <-ctx.Done():
		// Shutting down: hand the result over if the batcher still takes it.
		select {
		case s.out <- r:
		case <-time.After(time.Second):
			s.due.done(r.TimestampMs) // dropped: not to be waited for
		}
	}
}

const (
	maxMessage     = 256
	maxLabelValue  = 256
	maxStringValue = 4096
)

// clip makes s valid UTF-8 (protobuf strings must be) and cuts it to at
// most n bytes on a rune boundary.
func clip(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// toProto converts a finished run to its wire form.
func toProto(name string, slot time.Time, took time.Duration, r *check.Result, err error) *protocol.CheckResult {
	cr := &protocol.CheckResult{
		Check:       name,
		TimestampMs: slot.UnixMilli(),
		DurationMs:  uint32(took.Milliseconds()),
		Status:      protocol.Status(r.Status),
		Message:     r.Message,
	}
	if err != nil {
		cr.Status = protocol.Status_STATUS_UNKNOWN
		cr.Message = err.Error()
	} else if r.Status == 0 {
		cr.Status = protocol.Status_STATUS_OK
	}
	cr.Message = clip(cr.Message, maxMessage)
	cr.Metrics = make([]*protocol.Metric, len(r.Metrics))
	for i := range r.Metrics {
		m := &r.Metrics[i]
		pm := &protocol.Metric{
			Name:        m.Name,
			Type:        protocol.MetricType(m.Type),
			Value:       m.Value,
			StringValue: clip(m.Str, maxStringValue),
			Unit:        m.Unit,
		}
		if len(m.Labels) > 0 {
			pm.Labels = make([]*protocol.Label, len(m.Labels))
			for k, l := range m.Labels {
				pm.Labels[k] = &protocol.Label{Key: l.Key, Value: clip(l.Value, maxLabelValue)}
			}
		}
		cr.Metrics[i] = pm
	}
	return cr
}
