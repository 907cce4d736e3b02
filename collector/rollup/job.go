package rollup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilmon/vigil/collector/store"
)

// JobStore is what a Job needs of the store: the queue and its cursors,
// the windows it reads and writes, the raw points it computes 5m windows
// from, and retention.
type JobStore interface {
	store.Rollups
	store.Queue
	Points(ctx context.Context, id store.SeriesID, from, to int64, limit int) ([]store.Point, error)
	DeleteBefore(ctx context.Context, res store.Resolution, cutoff int64) error
}

// Job computes queued windows and applies retention. Its zero fields take
// the defaults below.
type Job struct {
	Store JobStore
	Log   *slog.Logger
	// Retention per resolution; zero entries take store.DefaultRetention.
	Retention store.Retention
	// Grace is DefaultGrace when zero; Now is time.Now when nil.
	Grace time.Duration
	Now   func() time.Time
	// Interval between looks at the queue (default 15 s) and between
	// retention passes (default 1 h).
	Interval, RetentionInterval time.Duration
	// Workers compute windows concurrently (default 8).
	Workers int
	// Backfill is how far back a job with no cursor starts (default 1 h).
	Backfill time.Duration

	failing bool // last Step or Retain failed (logged once per change)
	// due holds, per resolution, when (ms) the oldest slot not yet
	// computed fell due; 0 until known. Read by Lag from other goroutines.
	due [store.NumResolutions]atomic.Int64
}

func (j *Job) now() int64 {
	if j.Now != nil {
		return j.Now().UnixMilli()
	}
	return time.Now().UnixMilli()
}

func (j *Job) grace() time.Duration {
	if j.Grace > 0 {
		return j.Grace
	}
	return DefaultGrace
}

func (j *Job) log() *slog.Logger {
	if j.Log != nil {
		return j.Log
	}
	return slog.Default()
}

// CursorName is the store cursor holding the next slot of res to compute.
func CursorName(res store.Resolution) string { return "rollup/" + res.String() }

// Lag is how long the oldest due work of res has waited: the time since
// the oldest queue slot the job has not computed fell due (the end of the
// slot plus Grace), 0 when the job is caught up. A running job keeps it
// under about its Interval; it grows by a second per second while the job is
// stopped, stuck or failing, and while it works through a backlog it
// falls slot by slot. Until the job has read its cursor it counts from
// when Run started; ok is false before then, and for Raw.
func (j *Job) Lag(res store.Resolution) (lag time.Duration, ok bool) {
	if res == store.Raw || !res.Valid() {
		return 0, false
	}
	due := j.due[res].Load()
	if due == 0 {
		return 0, false
	}
	return max(0, time.Duration(j.now()-due)*time.Millisecond), true
}

// setCursor records that the oldest slot of res not yet computed is slot.
func (j *Job) setCursor(res store.Resolution, slot int64) {
	j.due[res].Store(slot + store.QueueSlot + j.grace().Milliseconds())
}

// Run steps and applies retention until ctx is done; it returns nil then.
func (j *Job) Run(ctx context.Context) error {
	now := j.now()
	for _, res := range []store.Resolution{store.Res5m, store.Res1h} {
		j.due[res].CompareAndSwap(0, now) // lag counts from now until the cursor is read
	}
	interval := cmpOr(j.Interval, 15*time.Second)
	retain := cmpOr(j.RetentionInterval, time.Hour)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	lastRetain := time.Time{}
	for {
		err := j.Step(ctx)
		if err == nil && time.Since(lastRetain) >= retain {
			if err = j.Retain(ctx); err == nil {
				lastRetain = time.Now()
			}
		}
		if ctx.Err() != nil {
			return nil
		}
		j.report(err)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// report logs a failure when the job starts failing and once when it
// works again, not at every tick.
func (j *Job) report(err error) {
	switch {
	case err != nil && !j.failing:
		j.failing = true
		j.log().Error("rollups failing; they resume where they stopped once the store is back", "err", err)
	case err == nil && j.failing:
		j.failing = false
		j.log().Info("rollups resumed")
	}
}

// Step computes every slot that is due, 5m before 1h, and moves the
// cursors past them.
func (j *Job) Step(ctx context.Context) error {
	for _, res := range []store.Resolution{store.Res5m, store.Res1h} {
		if err := j.stepRes(ctx, res); err != nil {
			return err
		}
	}
	return nil
}

func (j *Job) stepRes(ctx context.Context, res store.Resolution) error {
	now := j.now()
	slot, err := j.Store.Cursor(ctx, CursorName(res))
	if errors.Is(err, store.ErrNotFound) {
		slot = store.Floor(now-cmpOr(j.Backfill, time.Hour).Milliseconds(), store.QueueSlot)
	} else if err != nil {
		return fmt.Errorf("rollup: read %s cursor: %w", res, err)
	}
	j.setCursor(res, slot)
	for ; slot+store.QueueSlot+j.grace().Milliseconds() <= now; slot += store.QueueSlot {
		if err := j.slot(ctx, res, slot, now); err != nil {
			return err
		}
		if err := j.Store.SetCursor(ctx, CursorName(res), slot+store.QueueSlot); err != nil {
			return fmt.Errorf("rollup: move %s cursor: %w", res, err)
		}
		j.setCursor(res, slot+store.QueueSlot)
	}
	return nil
}

// slot computes the windows queued in one slot, queues the 1h windows of
// the 5m windows it computed, and clears the slot.
func (j *Job) slot(ctx context.Context, res store.Resolution, slot, now int64) error {
	ws, err := j.Store.Pending(ctx, res, slot)
	if err != nil {
		return fmt.Errorf("rollup: read %s slot %d: %w", res, slot, err)
	}
	if len(ws) == 0 {
		return nil
	}
	width := res.Window()
	var due, early []store.Window
	for _, w := range ws {
		if w.Start+width+j.grace().Milliseconds() > now {
			early = append(early, w) // marked with a clock ahead of ours
		} else {
			due = append(due, w)
		}
	}
	computed, err := j.compute(ctx, res, due)
	if err != nil {
		return err
	}
	for chunk := range slices.Chunk(computed, 500) {
		if err := j.Store.WriteRollups(ctx, res, chunk); err != nil {
			return fmt.Errorf("rollup: write %d %s windows: %w", len(chunk), res, err)
		}
	}
	// What comes next: the 1h windows of the 5m windows just written, and
	// windows that are not due yet, each in the slot it falls due in.
	next := make(map[int64]map[store.Resolution][]store.Window)
	add := func(r store.Resolution, w store.Window) {
		s := DueSlot(w.Start+r.Window(), now, j.grace())
		if next[s] == nil {
			next[s] = make(map[store.Resolution][]store.Window)
		}
		next[s][r] = append(next[s][r], w)
	}
	for _, w := range early {
		add(res, w)
	}
	if res == store.Res5m {
		seen := make(map[store.Window]bool)
		for _, r := range computed {
			hw := store.Window{Series: r.Series, Start: store.Floor(r.TS, store.Res1h.Window())}
			if !seen[hw] {
				seen[hw] = true
				add(store.Res1h, hw)
			}
		}
	}
	for s, byRes := range next {
		for r, ws := range byRes {
			if err := j.Store.MarkPending(ctx, r, s, ws); err != nil {
				return fmt.Errorf("rollup: queue %d %s windows: %w", len(ws), r, err)
			}
		}
	}
	if err := j.Store.ClearPending(ctx, res, slot); err != nil {
		return fmt.Errorf("rollup: clear %s slot %d: %w", res, slot, err)
	}
	return nil
}

// compute reads each window's finer data and computes it, Workers at a
// time. Windows with no data left (expired) are skipped.
func (j *Job) compute(ctx context.Context, res store.Resolution, ws []store.Window) ([]store.Rollup, error) {
	out := make([]store.Rollup, len(ws))
	ok := make([]bool, len(ws))
	workers := j.Workers
	if workers <= 0 {
		workers = 8
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  = make(chan int)
	)
	for range min(workers, len(ws)) {
		wg.Go(func() {
			for i := range next {
				var err error
				out[i], ok[i], err = j.window(ctx, res, ws[i])
				if err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		})
	}
feed:
	for i := range ws {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	kept := out[:0]
	for i := range out {
		if ok[i] {
			kept = append(kept, out[i])
		}
	}
	return kept, nil
}

// window computes one window from the finer resolution.
func (j *Job) window(ctx context.Context, res store.Resolution, w store.Window) (store.Rollup, bool, error) {
	end := w.Start + res.Window()
	if src := res.Source(); src != store.Raw {
		rs, err := j.Store.ReadRollups(ctx, src, w.Series, w.Start, end, 0)
		if err != nil {
			return store.Rollup{}, false, fmt.Errorf("rollup: read %s windows of %s at %d: %w", src, w.Series, w.Start, err)
		}
		r, ok := FromRollups(w.Series, w.Start, rs)
		return r, ok, nil
	}
	ps, err := j.Store.Points(ctx, w.Series, w.Start, end, 0)
	if err != nil {
		return store.Rollup{}, false, fmt.Errorf("rollup: read points of %s at %d: %w", w.Series, w.Start, err)
	}
	r, ok := FromPoints(w.Series, w.Start, ps)
	return r, ok, nil
}

// Retain drops what is older than each resolution's retention (Pebble
// deletes whole buckets; Cassandra expires rows by TTL and does nothing).
func (j *Job) Retain(ctx context.Context) error {
	now := j.now()
	for _, res := range store.Resolutions {
		keep := j.Retention[res]
		if keep <= 0 {
			keep = store.DefaultRetention[res]
		}
		if err := j.Store.DeleteBefore(ctx, res, now-keep.Milliseconds()); err != nil {
			return fmt.Errorf("rollup: retention of %s: %w", res, err)
		}
	}
	return nil
}
