// Package pebble is the embedded store: store.Store on a Pebble LSM in the
// collector's data directory.
//
// # Key layout
//
// Every key starts with a byte naming its key space. Integers are big-endian
// with the sign bit flipped, so byte order is numeric order; T(s) is a string
// in tuple encoding (0x00 escaped as 0x00 0xFF, terminated by 0x00 0x01), so
// byte order of concatenated tuples is the order of their strings and whole
// leading tuples form a key prefix.
//
//	m version                                   layout version (1)
//	m cursor:name                               rollup job cursor: int64
//	p res bucket(8) series(16) ts(8)            raw point: 1 + float64 bits, or 2 + string;
//	                                            rollup window: 3 + count + 6 float64s
//	q res slot(8) window(8) series(16)          rollup queue: window to compute
//	s T(tenant) T(agent) T(check) T(metric) {T(k) T(v)}
//	                                            series index: id(16) type(1) unit
//	i series(16)                                series by id: type, unit, the tuples above
//	a T(tenant) T(agent)                        agent record
//	t hash(32)                                  token record
//	l T(tenant) T(agent) T(check)               latest check result (merge operand)
//	h bucket(8) T(tenant) T(agent) T(check) ts(8)  check result history
//	w seq(8)                                    write-ahead record of the head (head.go)
//	p Raw bucket(8) series(16) ts(8) seq(8)     chunk of head points, block encoded
//
// Points and rollup windows are grouped by resolution, then time bucket (1
// day for raw points, see store.Resolution.BucketWidth), then by series,
// then by time. Retention is one
// range delete of whole buckets (DeleteBefore); Points scans the buckets
// overlapping [from, to), seeking past buckets the series has no point in.
// Series ids are hashes of the tenant-qualified key, so point keys need no
// tenant. The series index is ordered by (tenant, agent, check, metric,
// labels), so a filter on tenant, agent and check is a prefix scan.
//
// Writes are one synced Pebble batch per WriteRequest: a nil error means the
// batch is on disk. Pebble groups concurrent commits into one fsync.
// Numeric points go into the batch as one write-ahead record and into the
// in-memory head, which is flushed as compressed chunks (head.go).
package pebble

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"sync"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/record"
	"github.com/cockroachdb/pebble/v2/sstable/block"

	"github.com/vigilmon/vigil/collector/store"
)

// ErrClosed is returned by every method of a closed Store.
var ErrClosed = errors.New("pebble: store closed")

// Options configures Open. The zero value is ready to use.
type Options struct {
	// Logger receives Pebble's errors (and, at debug level, its
	// informational lines). Nil means slog.Default().
	Logger *slog.Logger
	// CacheSize is the block cache in bytes; 0 means 64 MiB.
	CacheSize int64
	// CompactInterval is how often closed raw buckets are compressed in
	// the background (compact.go); 0 means 10 minutes, negative never
	// (Compact still works).
	CompactInterval time.Duration
	// CompactDelay is how long after its end a raw bucket is left
	// uncompressed for late points; 0 means an hour.
	CompactDelay time.Duration
	// HeadPoints is how many numeric points the in-memory head holds (16
	// bytes each, plus a map entry per series) before it is flushed to
	// disk; 0 means 4 Mi (64 MiB). Open replays up to this many.
	HeadPoints int
	// HeadAge is how old the head's oldest point may get before a flush;
	// 0 means 30 minutes.
	HeadAge time.Duration
	// HeadSeries bounds the series the head keeps in memory (about 150
	// bytes each, points aside): past it, Write starts a flush, which
	// forgets every series it wrote. Otherwise a flush forgets the series
	// not written since the flush before. 0 means 1 Mi.
	HeadSeries int
	// MinFreeBytes is the free space of dir's file system under which
	// writes are refused (with an error wrapping store.ErrReadOnly) while
	// reads go on; 0 means DefaultMinFreeBytes, negative no floor.
	MinFreeBytes int64
}

// Store is the Pebble backend. Its methods are safe for concurrent use.
type Store struct {
	db *pebbledb.DB

	// mu is held for reading by every operation and for writing by Close,
	// so that no operation reaches a closed DB (Pebble panics there).
	mu     sync.RWMutex
	closed bool

	scratch sync.Pool // *writeScratch
	runs    sync.Pool // *run: the scratch of reading raw points

	blocks compactor // compression of closed raw buckets (compact.go)
	head   head      // numeric points of the live path (head.go)
	health *health   // free-space floor, write faults, read failures (health.go)
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("component", "pebble", "dir", dir)
	cache := opts.CacheSize
	if cache <= 0 {
		cache = 64 << 20
	}
	h := newHealth(log, dir, opts.MinFreeBytes)
	po := storeOptions(cache, slogLogger{log, h})
	// Pebble retries a failed flush at once, so on a full disk these
	// fire in a loop: health logs changes of state, not events.
	po.EventListener = &pebbledb.EventListener{
		BackgroundError: h.background,
		FlushEnd: func(info pebbledb.FlushInfo) {
			if info.Err == nil {
				h.backgroundOK()
			}
		},
		CompactionEnd: func(info pebbledb.CompactionInfo) {
			if info.Err == nil {
				h.backgroundOK()
			}
		},
		DataCorruption: func(info pebbledb.DataCorruptionInfo) {
			h.read(fmt.Errorf("data corruption in %s: %w", info.Path, info.Details))
		},
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pebble: open %s: %w", dir, err)
	}
	// A store opened on a disk under the floor opens read-only (if Pebble
	// can open it at all): it serves reads, and writes resume once space
	// is freed.
	h.refresh()
	// Open waits for the flush of the write-ahead logs it replays; if that
	// flush fails beyond repair (no space for the MANIFEST), Fatalf parks
	// the flush and Open would wait for good: give up on it then.
	type opened struct {
		db  *pebbledb.DB
		err error
	}
	done := make(chan opened, 1)
	go func() {
		var db *pebbledb.DB
		err := guarded(func() error {
			var err error
			db, err = pebbledb.Open(dir, po)
			return err
		})
		done <- opened{db, err}
	}()
	var db *pebbledb.DB
	select {
	case o := <-done:
		if o.err != nil {
			return nil, openError(dir, o.err)
		}
		db = o.db
	case <-h.fatalCh:
		return nil, openError(dir, h.fatalErr())
	}
	s := &Store{db: db, health: h}
	s.runs.New = func() any { return new(run) }
	if err := s.checkVersion(); err != nil {
		s.closeDB()
		return nil, openError(dir, err)
	}
	if err := s.openHead(opts, log); err != nil {
		s.closeDB()
		return nil, openError(dir, err)
	}
	h.announce()
	s.startCompactor(opts, log)
	return s, nil
}

// storeOptions are the Pebble options of the store, for Open and for the
// offline check.
func storeOptions(cache int64, logger pebbledb.Logger) *pebbledb.Options {
	po := &pebbledb.Options{
		CacheSize:          cache,
		FormatMajorVersion: pebbledb.FormatNewest,
		Logger:             logger,
		Merger:             latestMerger,
	}
	// Write-ahead records (series ids and floats) and chunks and blocks
	// (zstd-compressed by block.go) fill the LSM: snappy on the upper
	// levels cost 6 % of the live write path for nothing, and zstd on the
	// lower ones 5 % more. The two lowest levels, where data settles, get
	// the fastest compression: their keys and index compress (1.97 bytes
	// per point in tables on tsdbgen's data; 2.00 without).
	compression := pebbledb.DBCompressionNone
	for i := len(compression.Levels) - 2; i < len(compression.Levels); i++ {
		compression.Levels[i] = block.FastestCompression
	}
	po.ApplyCompressionSettings(func() pebbledb.DBCompressionSettings { return compression })
	return po
}

// openError says why dir cannot be opened in words an operator can act on.
func openError(dir string, err error) error {
	switch {
	case diskFull(err):
		free := "unknown"
		if n, ferr := freeBytes(dir); ferr == nil {
			free = fmt.Sprint(n)
		}
		return fmt.Errorf("pebble: open %s: the disk is full (%s bytes free): free space on it or move data_dir: %w", dir, free, err)
	case errors.Is(err, pebbledb.ErrCorruption), errors.Is(err, record.ErrInvalidChunk), errors.Is(err, record.ErrZeroedChunk),
		errors.Is(err, record.ErrUnexpectedEOF):
		return fmt.Errorf("pebble: open %s: the store is damaged: run 'vigil-collector store check --data-dir DIR' to find the damaged files, then follow \"Recovering a damaged store\" in the README: %w", dir, err)
	}
	return fmt.Errorf("pebble: open %s: %w", dir, err)
}

// closeDB closes the database after a failed Open; a store that hit a
// fatal write error is left to the process's end (Close would wait for
// the background goroutine Fatalf parked).
func (s *Store) closeDB() {
	if !s.health.failed() {
		_ = s.db.Close()
	}
}

// Health reports the free space, whether writes are refused and why, and
// the failed reads and refused writes so far.
func (s *Store) Health() Health { return s.health.snapshot() }

// Ready returns why the store should get no traffic (writes refused,
// reads failing in the last 30 s), or nil.
func (s *Store) Ready() error { return s.health.ready() }

// write runs f, a call that writes to Pebble, unless writes are refused;
// a Pebble fatal error in f becomes its error. A write that frees space
// (retention) is let through a full disk, not past a write fault.
func (s *Store) write(freeing bool, f func() error) error {
	if freeing {
		if s.health.failed() {
			return s.health.writable()
		}
	} else if err := s.health.writable(); err != nil {
		return err
	}
	err := guarded(f)
	if err != nil && s.health.failed() && !errors.Is(err, store.ErrReadOnly) {
		// This write met the fault: the caller retries later, as for
		// the writes refused after it.
		return fmt.Errorf("%w: %w", store.ErrReadOnly, err)
	}
	return err
}

func (s *Store) checkVersion() error {
	v, closer, err := s.db.Get(versionKey)
	switch {
	case errors.Is(err, pebbledb.ErrNotFound):
		if err := guarded(func() error { return s.db.Set(versionKey, []byte{layoutVersion}, pebbledb.Sync) }); err != nil {
			return fmt.Errorf("write layout version: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("read layout version: %w", err)
	}
	if len(v) != 1 || v[0] == 0 || v[0] > layoutVersion {
		closer.Close()
		return fmt.Errorf("layout version %v: this collector reads versions 1 to %d; a later release wrote it", v, layoutVersion)
	}
	old := v[0]
	closer.Close()
	if old < layoutVersion {
		if err := guarded(func() error { return s.db.Set(versionKey, []byte{layoutVersion}, pebbledb.Sync) }); err != nil {
			return fmt.Errorf("upgrade layout version %d to %d: %w", old, layoutVersion, err)
		}
	}
	return nil
}

// acquire takes the read lock; release with s.mu.RUnlock when it returns nil.
func (s *Store) acquire() error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

// writeScratch holds the buffers of one Write, reused across calls.
type writeScratch struct {
	key, val []byte
	index    map[store.SeriesID]int32 // of w.Series, built when points are not in its order
	entries  []*headSeries            // of w.Series, nil if not yet in the head
	defs     []int32                  // of w.Points: index in w.Series
	strs     []store.Point            // string points, written as keys
	num      []store.Point            // numeric points of a mixed request
	fresh    []int                    // indexes into w.Series of definitions written
	gen      uint64                   // the head's gen when entries were looked up
}

func (s *Store) getScratch() *writeScratch {
	if sc, ok := s.scratch.Get().(*writeScratch); ok {
		return sc
	}
	return &writeScratch{index: make(map[store.SeriesID]int32)}
}

func (s *Store) putScratch(sc *writeScratch) {
	if len(sc.index) > 1<<14 || cap(sc.key) > 1<<16 || cap(sc.val) > 1<<20 || cap(sc.num) > 1<<14 || cap(sc.entries) > 1<<14 {
		return // let an outsized request's buffers go
	}
	clear(sc.index)
	clear(sc.entries)
	sc.fresh = sc.fresh[:0]
	clear(sc.strs)
	sc.strs = sc.strs[:0]
	s.scratch.Put(sc)
}

// Write stores one request as one synced batch. Every point's series must
// be defined in w.Series, and every series must belong to w.Tenant and carry
// the id of its key; otherwise nothing is written.
func (s *Store) Write(ctx context.Context, w *store.WriteRequest) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: write: %w", err)
	}
	if len(w.Series) == 0 && len(w.Points) == 0 && len(w.Results) == 0 {
		return nil
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()

	sc := s.getScratch()
	defer s.putScratch(sc)
	b := s.db.NewBatchWithSize(batchSize(w))
	defer b.Close()

	// One map lookup per definition, under one read lock, finds both the
	// definitions to write and the series the points go to.
	sc.fresh, sc.entries = sc.fresh[:0], sc.entries[:0]
	s.head.mu.RLock()
	sc.gen = s.head.gen
	for i := range w.Series {
		sr := &w.Series[i]
		hs := s.head.series[sr.ID]
		sc.entries = append(sc.entries, hs)
		if hs == nil || !hs.defined || hs.typ != sr.Type || hs.unit != sr.Unit {
			sc.fresh = append(sc.fresh, i)
		}
	}
	s.head.mu.RUnlock()
	for i := range w.Series {
		sr := &w.Series[i]
		if sr.Tenant != w.Tenant {
			return fmt.Errorf("pebble: write: series %s belongs to tenant %q, request to %q", sr.ID, sr.Tenant, w.Tenant)
		}
	}
	for _, i := range sc.fresh {
		sr := &w.Series[i]
		if err := checkSeries(sr); err != nil {
			return fmt.Errorf("pebble: write: %w", err)
		}
		sc.key = appendSeriesKey(sc.key[:0], &sr.SeriesKey)
		sc.val = appendSeriesValue(sc.val[:0], sr)
		if err := b.Set(sc.key, sc.val, nil); err != nil {
			return fmt.Errorf("pebble: write series %s: %w", sr.ID, err)
		}
		sc.key = append(sc.key[:0], nsSeriesID)
		sc.key = append(sc.key, sr.ID[:]...)
		sc.val = appendSeriesIDValue(sc.val[:0], sr)
		if err := b.Set(sc.key, sc.val, nil); err != nil {
			return fmt.Errorf("pebble: write series %s: %w", sr.ID, err)
		}
	}

	// Numeric points: one write-ahead record, then the head. String points:
	// a key each, as they are few.
	numeric := 0
	sc.strs = sc.strs[:0]
	sc.defs = sc.defs[:0]
	for i := range w.Points {
		p := &w.Points[i]
		j, ok := int32(i), i < len(w.Series) && w.Series[i].ID == p.Series // as ingest builds requests
		if !ok {
			if len(sc.index) == 0 {
				for k := range w.Series {
					sc.index[w.Series[k].ID] = int32(k)
				}
			}
			j, ok = sc.index[p.Series]
		}
		if !ok {
			return fmt.Errorf("pebble: write: point %d: series %s is not defined in the request", i, p.Series)
		}
		sc.defs = append(sc.defs, j)
		if w.Series[j].Type != store.String {
			numeric++
			continue
		}
		if err := setPoint(b, p, true); err != nil {
			return fmt.Errorf("pebble: write point %d: %w", i, err)
		}
		sc.strs = append(sc.strs, *p)
	}
	var seq uint64
	if numeric > 0 {
		sc.val = sc.val[:0]
		if numeric == len(w.Points) {
			sc.val = appendRecord(sc.val, w.Points)
		} else {
			sc.num = sc.num[:0]
			for i := range w.Points {
				if w.Series[sc.defs[i]].Type != store.String {
					sc.num = append(sc.num, w.Points[i])
				}
			}
			sc.val = appendRecord(sc.val, sc.num)
		}
		seq = s.head.seq.Add(1)
		if err := b.Set(walKey(seq), sc.val, nil); err != nil {
			return fmt.Errorf("pebble: write batch of %d points: %w", len(w.Points), err)
		}
	}

	for i := range w.Results {
		r := &w.Results[i]
		sc.key = appendLatestKey(sc.key[:0], w.Tenant, r)
		sc.val = appendLatestValue(sc.val[:0], r)
		if err := b.Merge(sc.key, sc.val, nil); err != nil {
			return fmt.Errorf("pebble: write result %s/%s: %w", r.Agent, r.Check, err)
		}
		sc.key = appendHistoryKey(sc.key[:0], w.Tenant, r)
		sc.val = appendResultBody(sc.val[:0], r)
		if err := b.Set(sc.key, sc.val, nil); err != nil {
			return fmt.Errorf("pebble: write result %s/%s: %w", r.Agent, r.Check, err)
		}
	}

	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: write: %w", err)
	}
	if err := markDirty(b, sc.strs); err != nil {
		return fmt.Errorf("pebble: write: %w", err)
	}
	if err := s.commit(b, pebbledb.Sync); err != nil {
		return fmt.Errorf("pebble: write batch of %d points: %w", len(w.Points), err)
	}
	held, series := s.apply(w, sc, seq, numeric > 0)
	if held >= s.head.limit || series >= s.head.maxSeries {
		select {
		case s.head.kick <- struct{}{}:
		default:
		}
	}
	if held >= 2*s.head.limit || series >= 2*s.head.maxSeries {
		// The flush loop is behind: flushing here slows the writers down
		// instead of letting memory grow.
		if err := s.flush(ctx); err != nil {
			s.head.log.Error("flush full head", "err", err)
		}
	}
	return nil
}

// apply records in the head what a committed Write wrote: the definitions
// and, with record, its numeric points. It returns the points the head
// holds and the series it keeps.
func (s *Store) apply(w *store.WriteRequest, sc *writeScratch, seq uint64, record bool) (int, int) {
	h := &s.head
	if len(sc.fresh) == 0 && !record {
		return 0, 0
	}
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if sc.gen != h.gen {
		// A flush forgot series since the lookup: the entries found
		// then may no longer be the head's.
		clear(sc.entries)
	}
	for _, i := range sc.fresh {
		sr := &w.Series[i]
		hs := h.entry(sr.ID)
		hs.typ, hs.unit, hs.defined = sr.Type, sr.Unit, true
		hs.used = true
		sc.entries[i] = hs
	}
	if !record {
		return h.points, len(h.series)
	}
	for i := range w.Points {
		j := sc.defs[i]
		if w.Series[j].Type == store.String {
			continue
		}
		hs := sc.entries[j]
		if hs == nil {
			hs = h.entry(w.Series[j].ID)
			sc.entries[j] = hs
		}
		hs.used = true
		if hs.add(w.Points[i].TS, w.Points[i].Value) {
			h.points++
		}
	}
	h.addRecord(seq, now)
	return h.points, len(h.series)
}

// commit commits b, but not while compaction is between reading a run of
// a series and rewriting it (compact.go): b may add to that run.
func (s *Store) commit(b *pebbledb.Batch, opts *pebbledb.WriteOptions) error {
	s.blocks.mu.RLock()
	defer s.blocks.mu.RUnlock()
	return s.write(false, func() error { return b.Commit(opts) })
}

// batchSize estimates the batch representation of w, so the batch buffer is
// allocated once.
func batchSize(w *store.WriteRequest) int {
	const overhead = 8 // kind byte and two length varints
	// A numeric point takes about 26 bytes of the write-ahead record; a
	// string point a key of its own.
	n := 12 + overhead + 9 + len(w.Points)*26
	for i := range w.Points {
		if w.Points[i].Str != "" {
			n += overhead + pointKeyLen + 1 + len(w.Points[i].Str)
		}
	}
	n += len(w.Series) * 2 * (overhead + 200)
	for i := range w.Results {
		n += 2 * (overhead + 80 + 2*len(w.Results[i].Message))
	}
	return n
}

// isKnown reports whether Write would leave sr's index entries alone; for
// tests.
func (s *Store) isKnown(sr *store.Series) bool {
	s.head.mu.RLock()
	defer s.head.mu.RUnlock()
	hs := s.head.series[sr.ID]
	return hs != nil && hs.defined && hs.typ == sr.Type && hs.unit == sr.Unit
}

// checkSeries guards the index against definitions that would corrupt it:
// the id must be the hash of the key, labels sorted without duplicates.
func checkSeries(sr *store.Series) error {
	switch sr.Type {
	case store.Gauge, store.Counter, store.String:
	default:
		return fmt.Errorf("series %s: metric type %d", sr.ID, sr.Type)
	}
	for i := 1; i < len(sr.Labels); i++ {
		if sr.Labels[i-1].Key >= sr.Labels[i].Key {
			return fmt.Errorf("series %s: labels not sorted or repeated at %q", sr.ID, sr.Labels[i].Key)
		}
	}
	if id := sr.SeriesKey.ID(); id != sr.ID {
		return fmt.Errorf("series %s: key hashes to %s", sr.ID, id)
	}
	return nil
}

// Series lists the series of f.Tenant matching f, ordered by key. Leading
// fields of the filter that are set (agent, then check, then metric) narrow
// the scan to a key prefix; the rest is filtered while scanning.
func (s *Store) Series(ctx context.Context, f store.SeriesFilter) (_ []store.Series, err error) {
	defer func() { s.health.read(err) }()
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()

	prefix := appendTuple([]byte{nsSeries}, f.Tenant)
	for _, part := range []string{f.Agent, f.Check, f.Metric} {
		if part == "" {
			break
		}
		prefix = appendTuple(prefix, part)
	}
	var out []store.Series
	err = s.scanPrefix(ctx, prefix, func(k, v []byte) error {
		sr, err := decodeSeries(k, v)
		if err != nil {
			return err
		}
		if f.Match(&sr) {
			out = append(out, sr)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: series of %q: %w", f.Tenant, err)
	}
	return out, nil
}

// SeriesByID returns the definition of one series, or store.ErrNotFound.
func (s *Store) SeriesByID(ctx context.Context, id store.SeriesID) (_ store.Series, err error) {
	defer func() { s.health.read(err) }()
	if err := s.acquire(); err != nil {
		return store.Series{}, err
	}
	defer s.mu.RUnlock()
	v, closer, err := s.db.Get(seriesIDKey(id))
	if errors.Is(err, pebbledb.ErrNotFound) {
		return store.Series{}, fmt.Errorf("pebble: series %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Series{}, fmt.Errorf("pebble: series %s: %w", id, err)
	}
	defer closer.Close()
	sr, err := decodeSeriesIDValue(id, v)
	if err != nil {
		return store.Series{}, fmt.Errorf("pebble: %w", err)
	}
	return sr, nil
}

// closeIter closes it and returns the first of err, its error and the
// error of closing it.
func closeIter(it *pebbledb.Iterator, err error) error {
	if err == nil {
		err = it.Error()
	}
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	return err
}

// scanPrefix calls fn with the key and value of every entry under prefix,
// in key order, checking ctx every 1024 entries; an error from fn stops
// the scan and is returned.
func (s *Store) scanPrefix(ctx context.Context, prefix []byte, fn func(k, v []byte) error) error {
	it, err := s.db.NewIterWithContext(ctx, &pebbledb.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				it.Close()
				return err
			}
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return closeIter(it, err)
		}
		if err := fn(it.Key(), v); err != nil {
			it.Close()
			return err
		}
	}
	return closeIter(it, nil)
}

// Points returns the raw points of id with from <= ts < to in time order, at
// most limit of them (0: no limit).
func (s *Store) Points(ctx context.Context, id store.SeriesID, from, to int64, limit int) (_ []store.Point, err error) {
	defer func() { s.health.read(err) }()
	return s.points(ctx, id, from, to, limit)
}

func decodePoint(id store.SeriesID, ts int64, v []byte) (store.Point, error) {
	p := store.Point{Series: id, TS: ts}
	err := decodeValue(v, &p)
	return p, err
}

func pointTS(p *store.Point) int64 { return p.TS }

// ReadRollups returns the windows of res of id starting in [from, to), in
// time order, at most limit of them (0: no limit).
func (s *Store) ReadRollups(ctx context.Context, res Resolution, id store.SeriesID, from, to int64, limit int) (_ []store.Rollup, err error) {
	defer func() { s.health.read(err) }()
	if res == Raw || !res.Valid() {
		return nil, fmt.Errorf("pebble: rollups of %s: resolution %s has no rollups", id, res)
	}
	return scan(ctx, s, res, id, from, to, limit, decodeRollupPoint, rollupTS)
}

func decodeRollupPoint(id store.SeriesID, ts int64, v []byte) (store.Rollup, error) {
	r := store.Rollup{Series: id, TS: ts}
	err := decodeRollup(v, &r)
	return r, err
}

func rollupTS(r *store.Rollup) int64 { return r.TS }

// scan walks the buckets of res overlapping [from, to). It seeks to the
// series in one bucket, reads its points, and on reaching another series or
// bucket seeks to the series in the bucket it landed in (or the next), so
// empty buckets cost nothing and a range of any width is safe.
func scan[T any](ctx context.Context, s *Store, res Resolution, id store.SeriesID, from, to int64, limit int,
	decode func(store.SeriesID, int64, []byte) (T, error), tsOf func(*T) int64) ([]T, error) {
	if from >= to || limit < 0 {
		return nil, nil
	}
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()

	width := res.BucketWidth()
	lower := appendPointKey(nil, res, id, from)
	it, err := s.db.NewIterWithContext(ctx, &pebbledb.IterOptions{
		LowerBound: lower,
		UpperBound: []byte{nsPoint, byte(res) + 1},
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: %s points of %s: %w", res, id, err)
	}
	var (
		out  []T
		seek = make([]byte, pointKeyLen)
		n    int
	)
	if limit > 0 {
		out = make([]T, 0, min(limit, 1024))
	}
	valid := it.SeekGE(lower)
	for valid {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				it.Close()
				return nil, fmt.Errorf("pebble: %s points of %s: %w", res, id, err)
			}
		}
		k := it.Key()
		_, sid, ts, err := decodePointKey(k)
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("pebble: %s points of %s: %w", res, id, err)
		}
		b := bucketOf(ts, width)
		switch c := bytes.Compare(sid[:], id[:]); {
		case c == 0:
			if ts >= to {
				valid = false
				continue
			}
			v, err := it.ValueAndErr()
			if err != nil {
				it.Close()
				return nil, fmt.Errorf("pebble: %s points of %s at %d: %w", res, id, ts, err)
			}
			p, err := decode(id, ts, v)
			if err != nil {
				it.Close()
				return nil, fmt.Errorf("pebble: %s points of %s at %d: %w", res, id, ts, err)
			}
			out = append(out, p)
			if len(out) == 2 && cap(out) < maxPresize {
				out = presize(out, tsOf(&out[0]), tsOf(&out[1]), to, limit)
			}
			if limit > 0 && len(out) >= limit {
				valid = false
				continue
			}
			valid = it.Next()
		case c < 0:
			// Landed in bucket b before our series: seek to it there.
			start := max(from, bucketStart(b, width))
			if start >= to {
				valid = false
				continue
			}
			putPointKey(seek, res, id, start)
			valid = it.SeekGE(seek)
		default:
			// Past our series in bucket b: seek to it in bucket b+1.
			if lastBucket(b, width) || (b+1)*width >= to {
				valid = false
				continue
			}
			putPointKey(seek, res, id, (b+1)*width)
			valid = it.SeekGE(seek)
		}
	}
	if err := closeIter(it, nil); err != nil {
		return nil, fmt.Errorf("pebble: %s points of %s: %w", res, id, err)
	}
	return out, nil
}

// maxPresize bounds the points presize allocates room for.
const maxPresize = 1 << 14

// presize grows out, holding the first two points (at ts0 and ts1) of a
// range ending at to, to the number of points the range holds if the
// series keeps the interval of those two (series are regular: DESIGN §3),
// when that is modest. It saves the copies of growing a slice point by
// point.
func presize[T any](out []T, ts0, ts1, to int64, limit int) []T {
	step := ts1 - ts0
	if step <= 0 || to-ts0 < 0 { // the difference wraps negative past MaxInt64
		return out
	}
	est := (to-ts0-1)/step + 1
	if limit > 0 {
		est = min(est, int64(limit))
	}
	if est <= int64(cap(out)) || est > maxPresize {
		return out
	}
	return append(make([]T, 0, est), out...)
}

// LatestResults returns the latest check result of every check of one agent
// of tenant, ordered by check name.
func (s *Store) LatestResults(ctx context.Context, tenant, agent string) (_ []store.CheckResult, err error) {
	defer func() { s.health.read(err) }()
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	prefix := appendTuple(appendTuple([]byte{nsLatest}, tenant), agent)
	var out []store.CheckResult
	err = s.scanPrefix(ctx, prefix, func(k, v []byte) error {
		r, err := decodeLatest(k, v)
		out = append(out, r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: results of %s/%s: %w", tenant, agent, err)
	}
	return out, nil
}

// DeleteBefore drops every bucket of res that ends at or before cutoff (ms),
// with one range delete; for Raw it drops the check result history and the
// rollup queue's slots before cutoff too.
// Points from cutoff on are kept; up to one bucket older than cutoff may be
// kept as well.
func (s *Store) DeleteBefore(ctx context.Context, res Resolution, cutoff int64) error {
	if !res.Valid() {
		return fmt.Errorf("pebble: delete before %d: unknown resolution %d", cutoff, res)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: delete %s before %d: %w", res, cutoff, err)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	cb := bucketOf(cutoff, res.BucketWidth())
	if res == Raw {
		// No flush may write chunks of the deleted buckets from the head
		// after the range delete.
		s.head.flushMu.Lock()
		defer s.head.flushMu.Unlock()
		s.head.trim(bucketStart(cb, res.BucketWidth()))
	}
	b := s.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange([]byte{nsPoint, byte(res)}, bucketKey(res, cb), nil); err != nil {
		return fmt.Errorf("pebble: delete %s before %d: %w", res, cutoff, err)
	}
	if res == Raw {
		if err := b.DeleteRange([]byte{nsHistory}, historyBucketKey(cb), nil); err != nil {
			return fmt.Errorf("pebble: delete history before %d: %w", cutoff, err)
		}
		// Queue slots that old are left over (the job clears what it
		// computes): their windows' raw points are gone too.
		for _, r := range store.Resolutions {
			if err := b.DeleteRange(queueSlotKey(r, math.MinInt64), queueSlotKey(r, cutoff), nil); err != nil {
				return fmt.Errorf("pebble: delete queue before %d: %w", cutoff, err)
			}
		}
	}
	if err := s.write(true, func() error { return b.Commit(pebbledb.Sync) }); err != nil {
		return fmt.Errorf("pebble: delete %s before %d: %w", res, cutoff, err)
	}
	return nil
}

// WriteRollups upserts windows of res (Res5m or Res1h) in one synced batch.
// Every window must start on the resolution's grid.
func (s *Store) WriteRollups(ctx context.Context, res Resolution, rs []store.Rollup) error {
	if res == Raw || !res.Valid() {
		return fmt.Errorf("pebble: write rollups: resolution %s has no rollups", res)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: write %s rollups: %w", res, err)
	}
	if len(rs) == 0 {
		return nil
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	b := s.db.NewBatchWithSize(len(rs) * (8 + pointKeyLen + rollupValLen))
	defer b.Close()
	for i := range rs {
		r := &rs[i]
		if r.TS != store.Floor(r.TS, res.Window()) {
			return fmt.Errorf("pebble: write %s rollups: window %d of %s is not on the %s grid", res, r.TS, r.Series, res)
		}
		op := b.SetDeferred(pointKeyLen, rollupValLen)
		putPointKey(op.Key, res, r.Series, r.TS)
		putRollupValue(op.Value, r)
		if err := op.Finish(); err != nil {
			return fmt.Errorf("pebble: write %s rollup %s at %d: %w", res, r.Series, r.TS, err)
		}
	}
	if err := s.write(false, func() error { return b.Commit(pebbledb.Sync) }); err != nil {
		return fmt.Errorf("pebble: write %d %s rollups: %w", len(rs), res, err)
	}
	return nil
}

// MarkPending queues windows of res in slot.
func (s *Store) MarkPending(ctx context.Context, res Resolution, slot int64, ws []store.Window) error {
	if !res.Valid() {
		return fmt.Errorf("pebble: mark pending: unknown resolution %d", res)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: mark %s pending: %w", res, err)
	}
	if len(ws) == 0 {
		return nil
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	b := s.db.NewBatchWithSize(len(ws) * (8 + queueKeyLen))
	defer b.Close()
	key := make([]byte, 0, queueKeyLen)
	for _, w := range ws {
		key = appendQueueKey(key[:0], res, slot, w)
		if err := b.Set(key, nil, nil); err != nil {
			return fmt.Errorf("pebble: mark %s pending: %w", res, err)
		}
	}
	if err := s.write(false, func() error { return b.Commit(pebbledb.Sync) }); err != nil {
		return fmt.Errorf("pebble: mark %d %s windows pending: %w", len(ws), res, err)
	}
	return nil
}

// Pending returns the windows of res queued in slot, ordered by window
// start and series.
func (s *Store) Pending(ctx context.Context, res Resolution, slot int64) (_ []store.Window, err error) {
	defer func() { s.health.read(err) }()
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	prefix := queueSlotKey(res, slot)
	var out []store.Window
	err = s.scanPrefix(ctx, prefix, func(k, _ []byte) error {
		_, _, w, err := decodeQueueKey(k)
		out = append(out, w)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: pending %s windows of slot %d: %w", res, slot, err)
	}
	return out, nil
}

// ClearPending empties one slot with a range delete.
func (s *Store) ClearPending(ctx context.Context, res Resolution, slot int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: clear %s slot %d: %w", res, slot, err)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	prefix := queueSlotKey(res, slot)
	if err := s.write(true, func() error { return s.db.DeleteRange(prefix, prefixEnd(prefix), pebbledb.Sync) }); err != nil {
		return fmt.Errorf("pebble: clear %s slot %d: %w", res, slot, err)
	}
	return nil
}

// Cursor returns the value stored under name, or store.ErrNotFound.
func (s *Store) Cursor(ctx context.Context, name string) (_ int64, err error) {
	defer func() { s.health.read(err) }()
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	v, closer, err := s.db.Get(cursorKey(name))
	if errors.Is(err, pebbledb.ErrNotFound) {
		return 0, fmt.Errorf("pebble: cursor %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("pebble: cursor %q: %w", name, err)
	}
	defer closer.Close()
	if len(v) != 8 {
		return 0, fmt.Errorf("pebble: cursor %q of %d bytes: %w", name, len(v), errCorrupt)
	}
	return getInt64(v), nil
}

// SetCursor stores v under name.
func (s *Store) SetCursor(ctx context.Context, name string, v int64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: set cursor %q: %w", name, err)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	b := make([]byte, 8)
	putInt64(b, v)
	if err := s.write(false, func() error { return s.db.Set(cursorKey(name), b, pebbledb.Sync) }); err != nil {
		return fmt.Errorf("pebble: set cursor %q: %w", name, err)
	}
	return nil
}

// UpsertAgent creates or replaces the agent (a.Tenant, a.ID).
func (s *Store) UpsertAgent(ctx context.Context, a store.Agent) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: upsert agent %s: %w", a.ID, err)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.write(false, func() error { return s.db.Set(agentKey(a.Tenant, a.ID), appendAgentValue(nil, &a), pebbledb.Sync) }); err != nil {
		return fmt.Errorf("pebble: upsert agent %s: %w", a.ID, err)
	}
	return nil
}

// Agents lists the agents of tenant ordered by id.
func (s *Store) Agents(ctx context.Context, tenant string) (_ []store.Agent, err error) {
	defer func() { s.health.read(err) }()
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	prefix := appendTuple([]byte{nsAgent}, tenant)
	var out []store.Agent
	err = s.scanPrefix(ctx, prefix, func(k, v []byte) error {
		a, err := decodeAgent(k, v)
		out = append(out, a)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: agents of %q: %w", tenant, err)
	}
	return out, nil
}

// PutToken creates or replaces the token with t.Hash.
func (s *Store) PutToken(ctx context.Context, t store.Token) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: put token %s: %w", t.ID, err)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.write(false, func() error { return s.db.Set(tokenKey(t.Hash), appendTokenValue(nil, &t), pebbledb.Sync) }); err != nil {
		return fmt.Errorf("pebble: put token %s: %w", t.ID, err)
	}
	return nil
}

// TokenByHash returns the token with hash h, or an error wrapping
// store.ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, h store.TokenHash) (_ store.Token, err error) {
	defer func() { s.health.read(err) }()
	if err := s.acquire(); err != nil {
		return store.Token{}, err
	}
	defer s.mu.RUnlock()
	v, closer, err := s.db.Get(tokenKey(h))
	if errors.Is(err, pebbledb.ErrNotFound) {
		return store.Token{}, fmt.Errorf("pebble: token: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("pebble: token: %w", err)
	}
	defer closer.Close()
	t, err := decodeToken(h, v)
	if err != nil {
		return store.Token{}, fmt.Errorf("pebble: %w", err)
	}
	return t, nil
}

// Ping reads the layout version key.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: ping: %w", err)
	}
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	_, closer, err := s.db.Get(versionKey)
	if err != nil {
		return fmt.Errorf("pebble: ping: %w", err)
	}
	return closer.Close()
}

// Close writes the head as chunks (so that the next Open has nothing to
// replay), flushes the memtable and closes the database; it waits for
// operations in flight. Calls after the first return ErrClosed.
func (s *Store) Close() error {
	s.stopCompactor()
	s.stopHead()
	var errs []error
	if err := s.Flush(context.Background()); err != nil {
		if errors.Is(err, ErrClosed) {
			return err
		}
		errs = append(errs, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	if s.health.failed() {
		return errors.Join(append(errs, fmt.Errorf("pebble: close: not flushed, the database stopped at a write fault (%w); the next open replays its write-ahead log", s.health.fatalErr()))...)
	}
	if err := s.write(true, s.db.Flush); err != nil {
		errs = append(errs, fmt.Errorf("pebble: flush: %w", err))
	}
	if err := s.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("pebble: close: %w", err))
	}
	return errors.Join(errs...)
}

// knownSeries reports the ids Write will not redefine; for tests.
func (s *Store) knownSeries() []store.SeriesID {
	s.head.mu.RLock()
	defer s.head.mu.RUnlock()
	var ids []store.SeriesID
	for id, hs := range s.head.series {
		if hs.defined {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b store.SeriesID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}
