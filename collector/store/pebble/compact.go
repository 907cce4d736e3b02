package pebble

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/vigilmon/vigil/collector/store"
)

// Compaction of closed raw buckets into blocks (block.go).
//
// The head's flushes (head.go) write chunks and Write writes string points
// as keys; both mark the bucket dirty (m dirty: bucket). Once a dirty bucket
// has been closed for Options.CompactDelay, compaction rewrites each series
// of it that has chunks or point keys as one block: it merges the block
// already there (if any), the chunks in flush order and the point keys,
// later ones winning on equal timestamps, then in one batch range-deletes
// the series' chunks and point keys of the bucket and sets the block. A write arriving after compaction lands
// uncompressed again and marks the bucket dirty again; reads merge blocks
// with points the same way, so a rewrite leaves one point in every state.
//
// Write holds blocks.mu for reading while it commits, compaction holds it
// for writing while it reads and rewrites one chunk of series, so no write
// lands between compaction's read and its range delete.

type compactor struct {
	mu       sync.RWMutex
	delay    int64 // ms a bucket stays uncompressed after it ends
	interval time.Duration
	log      *slog.Logger

	cancel context.CancelFunc
	done   chan struct{}
}

const (
	defaultCompactDelay    = time.Hour
	defaultCompactInterval = 10 * time.Minute
	// compactChunk is how many series one locked step rewrites.
	compactChunk = 1024
)

// startCompactor starts the background compaction loop unless disabled.
func (s *Store) startCompactor(opts Options, log *slog.Logger) {
	c := &s.blocks
	c.log = log
	c.delay = int64(opts.CompactDelay / time.Millisecond)
	if opts.CompactDelay == 0 {
		c.delay = int64(defaultCompactDelay / time.Millisecond)
	}
	c.interval = opts.CompactInterval
	if c.interval == 0 {
		c.interval = defaultCompactInterval
	}
	if c.interval < 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.done = make(chan struct{})
	go func() {
		defer close(c.done)
		t := time.NewTicker(c.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := s.Compact(ctx, time.Now().UnixMilli()); err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed) &&
				!errors.Is(err, store.ErrReadOnly) { // health logged the refusal's state
				c.log.Error("compact closed buckets", "err", err)
			}
		}
	}()
}

// stopCompactor stops the loop and waits for it.
func (s *Store) stopCompactor() {
	if c := &s.blocks; c.cancel != nil {
		c.cancel()
		<-c.done
	}
}

// markDirty adds to b the dirty marks of the buckets of w's points.
func markDirty(b *pebbledb.Batch, pts []store.Point) error {
	var seen [4]int64
	n := 0
	width := Raw.BucketWidth()
next:
	for i := range pts {
		bk := store.BucketOf(pts[i].TS, width)
		for _, x := range seen[:n] {
			if x == bk {
				continue next
			}
		}
		if n < len(seen) {
			seen[n] = bk
			n++
		}
		if err := b.Set(dirtyKey(bk), nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// CompactStats counts what one Compact did.
type CompactStats struct {
	Buckets, Series, Points int
	Bytes                   int64 // bytes of blocks written
}

// Compact compresses every dirty raw bucket that ended at least the
// compaction delay before now (ms). The background loop calls it; import
// and tests call it directly.
func (s *Store) Compact(ctx context.Context, now int64) (CompactStats, error) {
	var st CompactStats
	buckets, err := s.dirtyBuckets(ctx)
	if err != nil {
		return st, err
	}
	width := Raw.BucketWidth()
	for _, b := range buckets {
		if store.LastBucket(b, width) || (b+1)*width > now-s.blocks.delay {
			continue
		}
		if err := s.compactBucket(ctx, b, &st); err != nil {
			return st, err
		}
		st.Buckets++
	}
	return st, nil
}

func (s *Store) dirtyBuckets(ctx context.Context) ([]int64, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	it, err := s.db.NewIterWithContext(ctx, &pebbledb.IterOptions{LowerBound: dirtyPrefix, UpperBound: prefixEnd(dirtyPrefix)})
	if err != nil {
		return nil, fmt.Errorf("pebble: dirty buckets: %w", err)
	}
	var out []int64
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()
		if len(k) != len(dirtyPrefix)+8 {
			it.Close()
			return nil, fmt.Errorf("pebble: dirty bucket key: %w", errCorrupt)
		}
		out = append(out, getInt64(k[len(dirtyPrefix):]))
	}
	if err := closeIter(it, nil); err != nil {
		return nil, fmt.Errorf("pebble: dirty buckets: %w", err)
	}
	return out, nil
}

func (s *Store) compactBucket(ctx context.Context, b int64, st *CompactStats) error {
	if err := s.acquire(); err != nil {
		return err
	}
	// Unmark first: a write after this marks the bucket again.
	s.blocks.mu.Lock()
	err := s.write(false, func() error { return s.db.Delete(dirtyKey(b), pebbledb.Sync) })
	s.blocks.mu.Unlock()
	s.mu.RUnlock()
	if err != nil {
		return fmt.Errorf("pebble: compact bucket %d: %w", b, err)
	}
	cs := &compactScratch{}
	from := bucketKey(Raw, b)
	end := bucketKey(Raw, b+1)
	for from != nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("pebble: compact bucket %d: %w", b, err)
		}
		if err := s.acquire(); err != nil {
			return err
		}
		s.blocks.mu.Lock()
		from, err = s.compactChunk(ctx, from, end, cs, st)
		s.blocks.mu.Unlock()
		s.mu.RUnlock()
		if err != nil {
			return fmt.Errorf("pebble: compact bucket %d: %w", b, err)
		}
	}
	return nil
}

type compactScratch struct {
	enc     blockEncoder
	run     run
	merged  []store.Point
	blocks  []byte // encoded blocks of the current run
	offs    []int
	keys    []byte // their keys, blockKeyLen each
	runFrom []byte
	runTo   []byte
	prefix  []byte
}

// compactChunk rewrites up to compactChunk series of the bucket from key
// from on, and returns the key to continue from (nil when done).
func (s *Store) compactChunk(ctx context.Context, from, end []byte, cs *compactScratch, st *CompactStats) ([]byte, error) {
	it, err := s.db.NewIterWithContext(ctx, &pebbledb.IterOptions{LowerBound: from, UpperBound: end})
	if err != nil {
		return nil, err
	}
	batch := s.db.NewBatch()
	defer batch.Close()
	cs.blocks, cs.offs, cs.keys = cs.blocks[:0], cs.offs[:0], cs.keys[:0]
	cs.runFrom = cs.runFrom[:0]

	flushRun := func() error {
		if len(cs.offs) == 0 {
			return nil
		}
		if err := batch.DeleteRange(cs.runFrom, cs.runTo, nil); err != nil {
			return err
		}
		for i, off := range cs.offs {
			stop := len(cs.blocks)
			if i+1 < len(cs.offs) {
				stop = cs.offs[i+1]
			}
			if err := batch.Set(cs.keys[i*blockKeyLen:(i+1)*blockKeyLen], cs.blocks[off:stop], nil); err != nil {
				return err
			}
		}
		cs.blocks, cs.offs, cs.keys = cs.blocks[:0], cs.offs[:0], cs.keys[:0]
		cs.runFrom = cs.runFrom[:0]
		return nil
	}

	var next []byte
	nseries := 0
	valid := it.First()
	for valid {
		k := it.Key()
		if len(k) < blockKeyLen {
			it.Close()
			return nil, fmt.Errorf("point key of %d bytes: %w", len(k), errCorrupt)
		}
		if nseries == compactChunk {
			next = append([]byte(nil), k[:blockKeyLen]...)
			break
		}
		nseries++
		cs.prefix = append(cs.prefix[:0], k[:blockKeyLen]...)
		var err error
		if valid, err = cs.run.read(it, cs.prefix, math.MinInt64, math.MaxInt64); err != nil {
			it.Close()
			return nil, err
		}
		str, num := cs.run.kinds()
		if cs.run.onlyBlock() || str && num {
			// Nothing to do, or a series that changed type: left as is.
			if err := flushRun(); err != nil {
				it.Close()
				return nil, err
			}
			continue
		}
		cs.merged = cs.run.merged(cs.merged[:0])
		if len(cs.runFrom) == 0 {
			cs.runFrom = append(cs.runFrom, cs.prefix...)
		}
		cs.runTo = append(cs.runTo[:0], prefixEnd(cs.prefix)...)
		cs.offs = append(cs.offs, len(cs.blocks))
		cs.keys = append(cs.keys, cs.prefix...)
		n0 := len(cs.blocks)
		cs.blocks = cs.enc.encode(cs.blocks, cs.merged, str)
		st.Series++
		st.Points += len(cs.merged)
		st.Bytes += int64(len(cs.blocks) - n0)
	}
	if err := flushRun(); err != nil {
		it.Close()
		return nil, err
	}
	if err := closeIter(it, nil); err != nil {
		return nil, err
	}
	if !batch.Empty() {
		if err := s.write(false, func() error { return batch.Commit(pebbledb.Sync) }); err != nil {
			return nil, err
		}
	}
	return next, nil
}

// Settle flushes the memtable and compacts the whole LSM, so that the
// space of deleted points is given back; for benchmarks and tools that
// measure the size on disk.
func (s *Store) Settle(ctx context.Context) error {
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.write(false, s.db.Flush); err != nil {
		return fmt.Errorf("pebble: settle: %w", err)
	}
	if err := s.db.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		return fmt.Errorf("pebble: settle: %w", err)
	}
	return nil
}
