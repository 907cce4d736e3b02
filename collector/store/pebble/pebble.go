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
//	A kind T(tenant) ...                        alarm records, lease, states, transitions and
//	                                            notification queue (alarm.go lists the kinds)
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
//
// # Files
//
// One file per job: pebble.go opens and closes, write.go writes, read.go
// and points.go read, meta.go keeps agents, tokens, queue and cursors,
// keys.go is the key layout, records.go the value codecs, head.go the
// head, flush.go its flush, compact.go compaction, alarm.go the alarm
// store (store.AlarmStore). ../README.md lists them all.
package pebble

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
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
	// AlarmLimits bounds the alarm records per tenant (zero fields take
	// store.AlarmLimits' defaults).
	AlarmLimits store.AlarmLimits
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

	alarmMu     sync.Mutex // serializes the alarm store's operations (alarm.go)
	alarmLimits store.AlarmLimits
	now         func() time.Time // the lease clock
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.AlarmStore = (*Store)(nil)
)

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
	s := &Store{db: db, health: h, alarmLimits: opts.AlarmLimits.WithDefaults(), now: time.Now}
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
