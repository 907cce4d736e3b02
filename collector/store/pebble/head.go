package pebble

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/vigilmon/vigil/collector/store"
)

// The head: how the live path (Write) stores numeric raw points.
//
// A key per point costs a memtable insert, and LSM compactions rewrite it
// several times before the bucket is compressed: 0.22 M points per
// CPU-second. Instead, Write makes a request's numeric points durable as one
// write-ahead record (w | seq → the points) in its synced batch, and keeps
// them in memory, by series, in time order. A flush, when the head holds
// Options.HeadPoints points or its oldest record is Options.HeadAge old,
// writes each series' head points of each raw bucket as one chunk — a block
// (block.go) under p | Raw | bucket | series | last ts | seq — and deletes
// the records it covers in the same synced batch; compaction later merges a
// closed bucket's chunks into the series' block. A crash between a flush's
// batches replays records whose points are in chunks already: chunks merge
// like any other write, so that only rewrites the same values.
//
// Reads merge the block, the chunks in flush order, point keys (string
// points, which stay one key each) and the head, later ones winning on
// equal timestamps. Open replays the records left, in sequence order.

// headPoint is a numeric point in memory: 16 bytes.
type headPoint struct {
	ts int64
	v  float64
}

// headSeries is what the store keeps in memory of a series written since
// Open: its index entry as last written, so that Write rewrites it only
// when new or changed, and its points not yet flushed, in time order, one
// per timestamp.
type headSeries struct {
	typ     store.MetricType
	unit    string
	defined bool // the index entries with typ and unit are on disk
	used    bool // written since the last flush
	pts     []headPoint
}

// add inserts (ts, v), replacing a point with the same timestamp; it
// reports whether the series has one point more.
func (hs *headSeries) add(ts int64, v float64) bool {
	n := len(hs.pts)
	if n == 0 || ts > hs.pts[n-1].ts {
		hs.pts = append(hs.pts, headPoint{ts, v})
		return true
	}
	i, found := slices.BinarySearchFunc(hs.pts, ts, func(p headPoint, t int64) int { return cmp.Compare(p.ts, t) })
	if found {
		hs.pts[i].v = v
		return false
	}
	hs.pts = slices.Insert(hs.pts, i, headPoint{ts, v})
	return true
}

// headBetween returns the points of pts (in time order) in [from, to).
func headBetween(pts []headPoint, from, to int64) []headPoint {
	lo, _ := slices.BinarySearchFunc(pts, from, func(p headPoint, t int64) int { return cmp.Compare(p.ts, t) })
	hi, _ := slices.BinarySearchFunc(pts, to, func(p headPoint, t int64) int { return cmp.Compare(p.ts, t) })
	return pts[lo:max(lo, hi)]
}

// headPart is what one flush writes: the points of the records seqs.
type headPart struct {
	series map[store.SeriesID][]headPoint
	points int
	seqs   []uint64
	since  time.Time
}

type head struct {
	mu sync.RWMutex
	// series holds the series written since the flush before the last
	// (flush forgets the others, and all when there are more than
	// maxSeries), so its memory is bounded by what agents write now, not
	// by history; one map lookup per series serves both Write's index
	// check and its points. A series forgotten has its index entries
	// rewritten by its next write: the same bytes.
	series    map[store.SeriesID]*headSeries
	maxSeries int
	gen       uint64    // counts flushes that forgot series
	points    int       // in series' pts
	seqs      []uint64  // the records of those points
	since     time.Time // when the first of them arrived
	// flushing is being flushed: still read until its chunks are on disk.
	flushing *headPart

	seq     atomic.Uint64 // last record sequence number handed out
	flushMu sync.Mutex    // one flush (or raw retention) at a time

	limit int           // points that start a flush
	age   time.Duration // record age that starts a flush
	log   *slog.Logger

	kick   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// entry returns id's series, added if new; mu must be held for writing.
func (h *head) entry(id store.SeriesID) *headSeries {
	hs := h.series[id]
	if hs == nil {
		hs = &headSeries{}
		h.series[id] = hs
	}
	return hs
}

// addRecord counts a committed record; mu must be held for writing.
func (h *head) addRecord(seq uint64, now time.Time) {
	if len(h.seqs) == 0 {
		h.since = now
	}
	h.seqs = append(h.seqs, seq)
}

const (
	defaultHeadPoints = 4 << 20 // 64 MiB of points
	defaultHeadAge    = 30 * time.Minute
	defaultHeadSeries = 1 << 20
	// flushBatchBytes bounds one batch of a flush's chunks.
	flushBatchBytes = 16 << 20
)

// openHead replays the write-ahead records and starts the flush loop.
func (s *Store) openHead(opts Options, log *slog.Logger) error {
	h := &s.head
	h.series = make(map[store.SeriesID]*headSeries)
	h.log = log
	h.limit = opts.HeadPoints
	if h.limit <= 0 {
		h.limit = defaultHeadPoints
	}
	h.age = opts.HeadAge
	if h.age <= 0 {
		h.age = defaultHeadAge
	}
	h.maxSeries = opts.HeadSeries
	if h.maxSeries <= 0 {
		h.maxSeries = defaultHeadSeries
	}
	if v, closer, err := s.db.Get(walSeqKey); err == nil {
		if len(v) == 8 {
			h.seq.Store(binary.BigEndian.Uint64(v))
		}
		closer.Close()
		if len(v) != 8 {
			return fmt.Errorf("write-ahead sequence of %d bytes: %w", len(v), errCorrupt)
		}
	} else if !errors.Is(err, pebbledb.ErrNotFound) {
		return fmt.Errorf("read write-ahead sequence: %w", err)
	}

	start := time.Now()
	records := 0
	err := s.scanPrefix(context.Background(), []byte{nsWAL}, func(k, v []byte) error {
		if len(k) != 9 {
			return fmt.Errorf("write-ahead key of %d bytes: %w", len(k), errCorrupt)
		}
		seq := binary.BigEndian.Uint64(k[1:])
		if err := decodeRecord(v, func(id store.SeriesID, ts int64, v float64) {
			if h.entry(id).add(ts, v) {
				h.points++
			}
		}); err != nil {
			return fmt.Errorf("replay write-ahead record %d: %w", seq, err)
		}
		h.addRecord(seq, start)
		if seq > h.seq.Load() {
			h.seq.Store(seq)
		}
		records++
		return nil
	})
	if err != nil {
		return err
	}
	if records > 0 {
		log.Info("replayed write-ahead records", "records", records, "points", h.points,
			"series", len(h.series), "took", time.Since(start).Round(time.Millisecond))
	}

	h.kick = make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.done = make(chan struct{})
	go s.flushLoop(ctx)
	return nil
}

func (s *Store) stopHead() {
	if h := &s.head; h.cancel != nil {
		h.cancel()
		<-h.done
	}
}

// appendRange appends the head's points of id in [from, to) to dst, in
// time order, the newer part winning on equal timestamps.
func (h *head) appendRange(dst []store.Point, id store.SeriesID, from, to int64) []store.Point {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var older, newer []headPoint
	if h.flushing != nil {
		older = headBetween(h.flushing.series[id], from, to)
	}
	if hs := h.series[id]; hs != nil {
		newer = headBetween(hs.pts, from, to)
	}
	i, j := 0, 0
	for i < len(older) || j < len(newer) {
		var p headPoint
		switch {
		case j == len(newer) || i < len(older) && older[i].ts < newer[j].ts:
			p = older[i]
			i++
		case i == len(older) || newer[j].ts < older[i].ts:
			p = newer[j]
			j++
		default:
			p = newer[j]
			i++
			j++
		}
		dst = append(dst, store.Point{Series: id, TS: p.ts, Value: p.v})
	}
	return dst
}

// HeadSeries reports the series the head keeps in memory.
func (s *Store) HeadSeries() int {
	h := &s.head
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.series)
}

// HeadPoints reports the numeric points held in memory: the head's and
// those of a flush in progress.
func (s *Store) HeadPoints() int {
	h := &s.head
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := h.points
	if h.flushing != nil {
		n += h.flushing.points
	}
	return n
}

// trim drops the head's points before cutoff (retention); no flush may
// be running.
func (h *head) trim(cutoff int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, hs := range h.series {
		i, _ := slices.BinarySearchFunc(hs.pts, cutoff, func(p headPoint, t int64) int { return cmp.Compare(p.ts, t) })
		h.points -= i
		hs.pts = slices.Delete(hs.pts, 0, i)
	}
}
