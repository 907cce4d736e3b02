package rollup

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vigilmon/vigil/collector/store"
)

// DefaultGrace is how long after a window ends the job waits before
// computing it: longer than a write takes (the ingest gives a write 30 s),
// so every point written before the window fell due is in the store.
const DefaultGrace = time.Minute

// DueSlot is the queue slot in which a window ending at end (ms) is to be
// computed: the slot of end + grace, or of now if that has passed.
func DueSlot(end, now int64, grace time.Duration) int64 {
	return store.Floor(max(end+grace.Milliseconds(), now), store.QueueSlot)
}

// Tracker is the store.Store the ingest writes to: every Write that
// succeeds queues the 5m windows its numeric points fall in, before
// returning. If queueing fails, Write fails, the batch is not acked, and
// its retry writes points and marks again.
type Tracker struct {
	store.Store
	// Grace is DefaultGrace when zero; Now is time.Now when nil.
	Grace time.Duration
	Now   func() time.Time

	mu     sync.Mutex
	marked map[mark]struct{} // queued by this process, slot not yet due
	pruned int64             // slot marked was last pruned at
}

type mark struct {
	w    store.Window
	slot int64
}

// Track wraps s.
func Track(s store.Store) *Tracker { return &Tracker{Store: s} }

func (t *Tracker) grace() time.Duration {
	if t.Grace > 0 {
		return t.Grace
	}
	return DefaultGrace
}

func (t *Tracker) now() int64 {
	if t.Now != nil {
		return t.Now().UnixMilli()
	}
	return time.Now().UnixMilli()
}

// Write stores w, then queues its windows.
func (t *Tracker) Write(ctx context.Context, w *store.WriteRequest) error {
	if err := t.Store.Write(ctx, w); err != nil {
		return err
	}
	if len(w.Points) == 0 {
		return nil
	}
	now := t.now()
	width := store.Res5m.Window()
	strings := make(map[store.SeriesID]bool)
	for i := range w.Series {
		if w.Series[i].Type == store.String {
			strings[w.Series[i].ID] = true
		}
	}
	bySlot := make(map[int64][]store.Window)
	var fresh []mark
	t.mu.Lock()
	if t.marked == nil {
		t.marked = make(map[mark]struct{})
	}
	t.prune(now)
	for i := range w.Points {
		p := &w.Points[i]
		if strings[p.Series] {
			continue
		}
		win := store.Window{Series: p.Series, Start: store.Floor(p.TS, width)}
		m := mark{win, DueSlot(win.Start+width, now, t.grace())}
		if _, ok := t.marked[m]; ok {
			continue
		}
		t.marked[m] = struct{}{} // taken back below if queueing fails
		fresh = append(fresh, m)
		bySlot[m.slot] = append(bySlot[m.slot], win)
	}
	t.mu.Unlock()
	for slot, ws := range bySlot {
		if err := t.MarkPending(ctx, store.Res5m, slot, ws); err != nil {
			t.mu.Lock()
			for _, m := range fresh {
				delete(t.marked, m)
			}
			t.mu.Unlock()
			return fmt.Errorf("rollup: queue %d windows: %w", len(ws), err)
		}
	}
	return nil
}

// prune forgets marks of slots that are due: a point arriving for their
// window now goes to a later slot. Called with t.mu held.
func (t *Tracker) prune(now int64) {
	cur := store.Floor(now, store.QueueSlot)
	if cur == t.pruned {
		return
	}
	t.pruned = cur
	for m := range t.marked {
		if m.slot < cur {
			delete(t.marked, m)
		}
	}
}
