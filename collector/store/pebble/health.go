package pebble

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vigilmon/vigil/collector/store"
)

// DefaultMinFreeBytes is the free space under which the store refuses
// writes when Options.MinFreeBytes is 0. Pebble needs room beyond the last
// acked write: a memtable flush writes up to 64 MiB of tables, a
// compaction writes its outputs before it deletes its inputs, and a new
// write-ahead log and MANIFEST are created on rotation.
const DefaultMinFreeBytes = 256 << 20

// freeCheckInterval is how long a free-space reading is trusted: writes
// look at the cached figure, not at the file system.
const freeCheckInterval = time.Second

// readFailWindow is how long a failed read keeps the store unready.
const readFailWindow = 30 * time.Second

// Refusal reasons, the label of Health.Refused.
const (
	RefusedFreeSpace  = "free_space"  // free space under the floor
	RefusedDiskFull   = "disk_full"   // Pebble's background writes fail for want of space
	RefusedWriteFault = "write_fault" // Pebble failed a write it cannot undo
)

// Health is the state of the store as readiness and /metrics show it.
type Health struct {
	// FreeBytes is the free space of the data directory's file system at
	// the last reading; MinFreeBytes the floor.
	FreeBytes, MinFreeBytes uint64
	// ReadOnly is set while writes are refused; Reason says why.
	ReadOnly bool
	Reason   string
	// ReadErrors counts failed reads (not cancelled ones, not misses).
	ReadErrors uint64
	// Refused counts refused writes by reason (Refused* constants).
	Refused map[string]uint64
}

// health tracks what makes the store refuse writes or be unready, and logs
// each change of state once: a full disk is a state, not an event per
// write.
type health struct {
	log     *slog.Logger
	dir     string
	minFree uint64
	statfs  func(dir string) (uint64, error)
	now     func() time.Time

	checked atomic.Int64  // unix nanos of the last free-space reading
	opened  atomic.Bool   // Open returned: a fatal error is then a change of state to log
	fatalCh chan struct{} // closed when fatal is set

	mu        sync.Mutex
	free      uint64
	low       bool  // free < minFree
	statErr   error // the last free-space reading failed
	bgErr     error // Pebble's background writes fail for want of space
	fatal     error // Pebble failed a write and cannot continue: until restart
	readErr   error // the last failed read
	readErrAt time.Time
	reads     atomic.Uint64
	refused   map[string]uint64
}

func newHealth(log *slog.Logger, dir string, minFree int64) *health {
	h := &health{log: log, dir: dir, statfs: freeBytes, now: time.Now, refused: make(map[string]uint64), fatalCh: make(chan struct{})}
	switch {
	case minFree == 0:
		h.minFree = DefaultMinFreeBytes
	case minFree > 0:
		h.minFree = uint64(minFree)
	}
	return h
}

// refresh reads the free space if the last reading is older than
// freeCheckInterval; concurrent callers skip while one reads.
func (h *health) refresh() {
	if h.minFree == 0 {
		return
	}
	now := h.now().UnixNano()
	last := h.checked.Load()
	if now-last < int64(freeCheckInterval) || !h.checked.CompareAndSwap(last, now) {
		return
	}
	free, err := h.statfs(h.dir)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		if h.statErr == nil {
			h.log.Warn("cannot read the free space of the data directory; the free-space floor is not enforced until it can", "err", err)
		}
		h.statErr = err
		return
	}
	if h.statErr != nil {
		h.log.Info("free space of the data directory readable again", "free_bytes", free)
		h.statErr = nil
	}
	h.free = free
	switch low := free < h.minFree; {
	case !h.opened.Load():
		// Open announces the state it opened in, or fails with one error.
	case low && !h.low:
		h.log.Error("free disk space under store.min_free_bytes: refusing writes, serving reads; writes resume when space is freed",
			"free_bytes", free, "min_free_bytes", h.minFree)
	case !low && h.low:
		h.log.Info("free disk space back over store.min_free_bytes: accepting writes again",
			"free_bytes", free, "min_free_bytes", h.minFree)
	}
	h.low = free < h.minFree
}

// announce logs the free-space state the store opened in, if it refuses
// writes.
func (h *health) announce() {
	h.opened.Store(true)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.low {
		h.log.Error("free disk space under store.min_free_bytes: refusing writes, serving reads; writes resume when space is freed",
			"free_bytes", h.free, "min_free_bytes", h.minFree)
	}
}

// writable returns nil if the store takes writes now, else an error
// wrapping store.ErrReadOnly that says why, and counts the refusal.
func (h *health) writable() error {
	h.refresh()
	h.mu.Lock()
	defer h.mu.Unlock()
	reason, err := h.refusalLocked()
	if err != nil {
		h.refused[reason]++
	}
	return err
}

func (h *health) refusalLocked() (string, error) {
	switch {
	case h.fatal != nil:
		return RefusedWriteFault, fmt.Errorf("pebble: %w: a write to %s failed and the store cannot continue writing until the collector restarts: %v", store.ErrReadOnly, h.dir, h.fatal)
	case h.bgErr != nil:
		return RefusedDiskFull, fmt.Errorf("pebble: %w: background writes to %s fail: %v", store.ErrReadOnly, h.dir, h.bgErr)
	case h.low:
		return RefusedFreeSpace, fmt.Errorf("pebble: %w: %d bytes free in %s, under store.min_free_bytes (%d)", store.ErrReadOnly, h.free, h.dir, h.minFree)
	}
	return "", nil
}

// ready returns why the store should not get traffic, or nil.
func (h *health) ready() error {
	h.refresh()
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, err := h.refusalLocked(); err != nil {
		return err
	}
	if h.readErr != nil && h.now().Sub(h.readErrAt) < readFailWindow {
		return fmt.Errorf("store reads failing: %v", h.readErr)
	}
	return nil
}

// read records the outcome of a read: a failure that is the store's (not
// a cancelled request or a missing key) makes the store unready for
// readFailWindow.
func (h *health) read(err error) {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrClosed) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return
	}
	h.reads.Add(1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.readErr == nil || h.now().Sub(h.readErrAt) >= readFailWindow {
		h.log.Error("store reads failing: the store is not ready until reads succeed again; check it with 'vigil-collector store check'", "err", err)
	}
	h.readErr, h.readErrAt = err, h.now()
}

// background records an error of Pebble's flushes and compactions. Only a
// full disk refuses writes (the next write-ahead write would fail too);
// other errors are logged, once per kind.
func (h *health) background(err error) {
	if !diskFull(err) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.bgErr == nil {
			h.log.Error("store background error", "err", err)
		}
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.bgErr == nil {
		h.log.Error("disk full: store flushes and compactions fail; refusing writes, serving reads", "err", err)
	}
	h.bgErr = err
}

// backgroundOK records a flush or compaction that succeeded.
func (h *health) backgroundOK() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.bgErr != nil {
		h.log.Info("store flushes and compactions succeed again: accepting writes")
		h.bgErr = nil
	}
}

// setFatal records that Pebble cannot go on writing.
func (h *health) setFatal(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fatal == nil && h.opened.Load() {
		h.log.Error("store write failed beyond repair in this process: refusing writes, serving reads; restart the collector once the cause is fixed (the write-ahead log is replayed)",
			"err", err)
	}
	if h.fatal == nil {
		h.fatal = err
		close(h.fatalCh)
	}
}

func (h *health) fatalErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fatal
}

func (h *health) failed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.fatal != nil
}

func (h *health) snapshot() Health {
	h.refresh()
	h.mu.Lock()
	defer h.mu.Unlock()
	out := Health{FreeBytes: h.free, MinFreeBytes: h.minFree, ReadErrors: h.reads.Load(), Refused: make(map[string]uint64, len(h.refused))}
	for k, v := range h.refused {
		out.Refused[k] = v
	}
	if _, err := h.refusalLocked(); err != nil {
		out.ReadOnly, out.Reason = true, err.Error()
	}
	return out
}

func diskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// fatalPanic carries a Pebble fatal error from Logger.Fatalf up to
// guarded, which turns it back into an error.
type fatalPanic struct{ err error }

// guardedName is the function name of guarded, as runtime frames give it.
var guardedName = runtime.FuncForPC(reflect.ValueOf(guarded).Pointer()).Name()

// guarded runs f, a call into Pebble that may write. Pebble reports a
// write it cannot undo (a failed write-ahead log or MANIFEST write) by
// calling Logger.Fatalf and expects the process to end; our Fatalf panics
// instead when it runs under guarded, and guarded returns the error, so
// the caller (a Write, Open) fails and the process lives on.
func guarded(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fp, ok := r.(fatalPanic)
			if !ok {
				panic(r)
			}
			err = fp.err
		}
	}()
	return f()
}

// underGuard reports whether the calling goroutine runs inside guarded.
func underGuard() bool {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(2, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if f.Function == guardedName {
			return true
		}
		if !more {
			return false
		}
	}
}
