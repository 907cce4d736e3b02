// Package spool is the agent's durable, bounded on-disk queue of batches
// (DESIGN §5): every batch is appended here before it is sent and removed
// only when the collector acks it, so neither a collector outage nor an
// agent restart (clean or kill -9) loses results.
//
// # Layout
//
// The spool directory (by convention <state_dir>/spool, so
// /var/lib/vigil/agent/spool) holds:
//
//   - segment files NNNNNNNNNNNN.seg: a header, then records, each a
//     length, a CRC-32C and one protobuf-encoded protocol.Batch (see
//     record.go for the exact format). Batches are appended to the newest
//     segment; a new segment is started when it would pass
//     Options.SegmentBytes, and after every Open.
//   - done logs NNNNNNNNNNNN.ack: one checksummed 12-byte mark per record of
//     segment NNNNNNNNNNNN that was acked (or dropped). Acks may arrive in
//     any order, so a set is kept rather than a watermark. A segment whose
//     records are all done is deleted with its done log, so done logs never
//     need compacting and live no longer than their segment.
//   - next-seq: a lease on sequence numbers, so seqs keep increasing across
//     restarts even when every segment has been deleted.
//   - LOCK: held while the spool is open, so two agents cannot share it.
//
// Only a small index lives in memory: 24 bytes per record (seq, offset,
// length, point count, state); Next reads the batch back from disk.
//
// # Durability
//
// Append and Ack write to the file before they return, so once they have
// returned a crash of the process (kill -9, panic, OOM kill) loses nothing,
// whatever the sync policy. The policy decides what a crash of the machine
// (power loss, kernel panic) may lose:
//
//   - SyncAlways: nothing that Append returned; Append and Ack fsync.
//   - SyncInterval (default): at most the last SyncInterval of appends.
//     The spool fsyncs what changed (group commit) SyncInterval after the
//     first write since its last commit, or earlier, at the Ack that leaves
//     no batch unacked, if its last commit is at least SyncInterval old. An
//     agent whose batches are acked within milliseconds so commits each
//     batch with its ack, in the same wake-up, instead of waking again a
//     second later; a busy or disconnected one still commits at most once
//     per SyncInterval.
//   - SyncNever: whatever the OS had not written back (on Linux, about 30 s).
//
// An ack lost in a crash makes its batch be sent again: delivery is at least
// once and the collector is idempotent. After Close, nothing acked is resent.
//
// On Open, damage costs the damaged records only: after a bad record the
// scan resumes at the next offset where a whole record's length, checksum
// and batch (with a seq that follows) all check. Each damaged region is
// logged once and counted (Stats.Corrupt, SkippedRecords, SkippedBytes); a
// damaged tail of the newest segment, after which nothing intact follows,
// is cut off.
//
// # Size limit
//
// The segments and done logs (Stats.Bytes) take at most Options.MaxBytes;
// LOCK and next-seq (12 bytes) are not counted. Before a batch is written,
// the oldest records not in flight are dropped until it fits; their points
// are counted (Stats.DroppedPoints) and logged. Disk space comes back a
// whole segment at a time, so a full spool drops about a segment of the
// oldest batches at once, and up to one more segment while the oldest one
// is pinned by batches in flight. The limit is exceeded only:
//
//   - when every record that could go is in flight: by at most the new
//     record and the segments the in-flight records pin (the sender's
//     window, 8 by default); the next Append after they are acked or
//     released catches up;
//   - by 12 bytes for each Ack between two Appends (its done mark), until
//     the next Append or until the segment is deleted.
//
// Acked space comes back without a rotation too: the live segment is
// deleted once everything in it is acked and it holds at least
// reclaimBytes (64 KiB, or a quarter segment if smaller), and is closed
// early once it holds that much and half its batches are acked, so on a
// healthy disk the files stay near the unacked bytes.
//
// # Full disk
//
// A write that fails with ENOSPC is cut back to the last good offset, so a
// torn record never stays in a segment. Then the oldest segment with
// nothing in flight is deleted, its unacked batches dropped, counted in
// Stats.DroppedPoints and logged, and the write retried, until it fits or
// nothing is left to drop. From the first ENOSPC on, new segments are cut
// at a quarter of what the spool held when the disk filled, so later drops
// cost about a quarter of the backlog. A batch that still cannot be
// written (or is too large, or whose seq lease cannot be written) is
// counted as dropped as well: Append never loses one silently.
package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/vigilmon/vigil/protocol"
)

// SyncPolicy says when the spool fsyncs what it wrote.
type SyncPolicy string

const (
	// SyncAlways fsyncs in every Append and Ack before it returns.
	SyncAlways SyncPolicy = "always"
	// SyncInterval fsyncs at most Options.SyncInterval after a write
	// (group commit; see the package doc). The default.
	SyncInterval SyncPolicy = "interval"
	// SyncNever leaves writing back to the OS.
	SyncNever SyncPolicy = "never"
)

// ParseSyncPolicy parses "always", "interval" or "never".
func ParseSyncPolicy(s string) (SyncPolicy, error) {
	switch p := SyncPolicy(strings.ToLower(strings.TrimSpace(s))); p {
	case SyncAlways, SyncInterval, SyncNever:
		return p, nil
	}
	return "", fmt.Errorf("spool: unknown sync policy %q: use always, interval or never", s)
}

// UnmarshalText lets a config decoder fill a SyncPolicy from a string.
func (p *SyncPolicy) UnmarshalText(b []byte) error {
	v, err := ParseSyncPolicy(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// Defaults for the zero Options.
const (
	DefaultMaxBytes     = 256 << 20
	DefaultSegmentBytes = 4 << 20
	DefaultSyncInterval = time.Second

	minSegmentBytes = 1 << 10
	// Record offsets are 32 bits; a segment is at most SegmentBytes plus
	// one record.
	maxSegmentBytes = 1 << 30
)

// Options configure a Spool. The zero value gives the defaults.
type Options struct {
	// MaxBytes bounds the spool's files; default 256 MiB.
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file is started;
	// default 4 MiB or MaxBytes/4, whichever is smaller. At most MaxBytes/4.
	SegmentBytes int64
	// Sync is the fsync policy; default SyncInterval.
	Sync SyncPolicy
	// SyncInterval is the group commit period of SyncInterval; default 1s.
	SyncInterval time.Duration
	// Logger receives warnings about dropped and damaged records; default
	// discards.
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.MaxBytes < 0 {
		return o, fmt.Errorf("spool: max bytes %d is negative", o.MaxBytes)
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	switch {
	case o.SegmentBytes < 0:
		return o, fmt.Errorf("spool: segment bytes %d is negative", o.SegmentBytes)
	case o.SegmentBytes == 0:
		o.SegmentBytes = min(DefaultSegmentBytes, o.MaxBytes/4)
		if o.SegmentBytes < minSegmentBytes {
			return o, fmt.Errorf("spool: max bytes %d is too small: it must hold at least 4 segments of %d bytes", o.MaxBytes, minSegmentBytes)
		}
	case o.SegmentBytes < minSegmentBytes || o.SegmentBytes > maxSegmentBytes:
		return o, fmt.Errorf("spool: segment bytes %d is outside [%d, %d]", o.SegmentBytes, minSegmentBytes, maxSegmentBytes)
	case o.SegmentBytes > o.MaxBytes/4:
		return o, fmt.Errorf("spool: segment bytes %d is more than a quarter of max bytes %d", o.SegmentBytes, o.MaxBytes)
	}
	if o.Sync == "" {
		o.Sync = SyncInterval
	}
	if _, err := ParseSyncPolicy(string(o.Sync)); err != nil {
		return o, err
	}
	if o.SyncInterval < 0 {
		return o, fmt.Errorf("spool: sync interval %v is negative", o.SyncInterval)
	}
	if o.SyncInterval == 0 {
		o.SyncInterval = DefaultSyncInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Errors callers may test for with errors.Is.
var (
	ErrClosed     = errors.New("spool: closed")
	ErrLocked     = errors.New("spool: directory is in use by another process")
	ErrTooLarge   = errors.New("spool: batch too large")
	ErrUnknownSeq = errors.New("spool: no such batch")
)

// Stats is a snapshot of the spool's counters.
type Stats struct {
	Bytes    int64 // size of the segment and done-log files
	Segments int   // segment files
	Batches  int   // batches not yet acked or dropped, in flight included
	InFlight int   // batches handed out by Next and not yet acked or released

	Appended       uint64 // batches appended since Open
	Acked          uint64 // batches acked since Open
	DroppedBatches uint64 // batches dropped to stay under MaxBytes since Open
	DroppedPoints  uint64 // metrics in those batches
	Corrupt        uint64 // damaged regions (one or more records) skipped since Open
	SkippedRecords uint64 // records lost to damage since Open (a damaged tail counts as one)
	SkippedBytes   uint64 // bytes of segment those damaged regions held
	SyncErrors     uint64 // failed background fsyncs since Open
}

const (
	statePending uint8 = iota
	stateInflight
	stateDone // acked, dropped or unreadable
)

// entry indexes one record.
type entry struct {
	seq    uint64
	off    uint32 // of the record header in its segment
	size   uint32 // payload bytes
	points uint32
	state  uint8
}

type segment struct {
	num      uint64
	f        *os.File // open while active or being read; nil otherwise
	size     int64
	ack      *os.File // done log, open once written to
	ackSize  int64    // 0: no done log
	ackBad   bool     // done log could not be repaired after a failed write
	entries  []entry  // ascending seq
	live     int      // entries not done
	dirty    bool     // written since the last fsync (SyncInterval only)
	ackDirty bool
	marks    []uint64 // done marks not written yet
}

// Spool is a durable bounded queue of batches. Its methods are safe for
// concurrent use.
type Spool struct {
	dir  string
	opts Options
	log  *slog.Logger
	lock *os.File

	mu         sync.Mutex
	closed     bool
	segs       []*segment // ascending num
	active     *segment   // appended to; nil until the first Append
	reader     *segment   // the inactive segment whose file is open for Next
	nextSegNum uint64
	nextSeq    uint64
	leaseEnd   uint64 // seqs below it may have been handed out
	hint       uint64 // no record with a lower seq is pending
	bytes      int64
	batches    int
	inflight   int
	dirDirty   bool
	wake       chan struct{} // closed and replaced when a record becomes sendable
	buf        []byte        // record being encoded
	rbuf       []byte        // record being read
	scratch    protocol.Batch
	st         Stats // counters only
	segCap     int64 // segment size learnt from a full disk; 0: none

	// The group commit of SyncInterval: commitTimer is armed
	// (commitArmed) by the first write after a commit and fires
	// SyncInterval later, unless an Ack commits first and stops it, so a
	// spool whose batches are acked promptly never wakes its goroutine.
	commitTimer *time.Timer
	commitArmed bool
	lastCommit  time.Time

	stop chan struct{}
	wg   sync.WaitGroup
}

// Open opens the spool in dir, creating dir (mode 0700) if needed, and
// recovers what an earlier run left there. Recovered batches are all
// sendable, oldest first.
func Open(dir string, opts Options) (*Spool, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: create directory: %w", err)
	}
	lock, err := lockDir(filepath.Join(dir, "LOCK"))
	if err != nil {
		if errors.Is(err, ErrLocked) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("spool: lock %s: %w", dir, err)
	}
	s := &Spool{
		dir:        dir,
		opts:       opts,
		log:        opts.Logger.With("spool", dir),
		lock:       lock,
		nextSegNum: 1,
		nextSeq:    1,
		wake:       make(chan struct{}),
		stop:       make(chan struct{}),
		buf:        make([]byte, 0, 64<<10),
	}
	if err := s.recover(); err != nil {
		err = errors.Join(err, s.closeFiles())
		lock.Close()
		return nil, err
	}
	if s.batches > 0 {
		s.log.Info("spool holds batches not yet acked; they are sent first, oldest first",
			"batches", s.batches, "bytes", s.bytes, "first_seq", s.hint)
	}
	if opts.Sync == SyncInterval {
		s.commitTimer = time.NewTimer(time.Hour)
		s.commitTimer.Stop()
		s.wg.Go(s.syncLoop)
	}
	return s, nil
}

// Append stores a batch of results under the next seq and returns that seq
// and the number of points dropped to make room for it. Once it returns
// without error the batch survives a crash of the process; see the package
// doc for crashes of the machine.
func (s *Spool) Append(results []*protocol.CheckResult) (seq uint64, droppedPoints int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, 0, ErrClosed
	}
	seq = s.nextSeq
	s.scratch.Seq, s.scratch.Results = seq, results
	rec, err := proto.MarshalOptions{}.MarshalAppend(s.buf[:recHeaderLen], &s.scratch)
	s.scratch.Results = nil
	if err != nil {
		return 0, 0, fmt.Errorf("spool: encode batch: %w", err)
	}
	if cap(rec) <= 1<<20 {
		s.buf = rec[:0] // keep the buffer unless one huge batch grew it
	}
	points := countPoints(results)
	var dropped uint64
	// lose counts the batch being appended as dropped: a result the spool
	// cannot keep is never lost silently.
	lose := func(err error) (uint64, int, error) {
		s.st.DroppedBatches++
		s.st.DroppedPoints += uint64(points)
		return 0, int(dropped), err
	}
	if n := len(rec) - recHeaderLen; n > maxPayload || int64(len(rec)+segHeaderLen) > s.opts.MaxBytes {
		return lose(fmt.Errorf("%w: %d bytes encoded, limit %d", ErrTooLarge, n, min(maxPayload, s.opts.MaxBytes-segHeaderLen-recHeaderLen)))
	}
	sealRecord(rec)
	if seq >= s.leaseEnd {
		err := s.writeLease(seq + leaseStep)
		for err != nil && errors.Is(err, syscall.ENOSPC) && s.freeSpace(&dropped) {
			err = s.writeLease(seq + leaseStep)
		}
		if err != nil {
			return lose(err)
		}
		s.leaseEnd = seq + leaseStep
	}

	droppedBatches, roomPoints := s.makeRoom(int64(len(rec)))
	dropped += roomPoints
	if droppedBatches > 0 {
		s.log.Warn("spool full: dropped the oldest batches",
			"dropped_batches", droppedBatches, "dropped_points", roomPoints,
			"max_bytes", s.opts.MaxBytes, "dropped_points_total", s.st.DroppedPoints)
	}
	// A live segment that is mostly acked is closed early, so that it is
	// deleted once the rest is acked: on a healthy disk the spool's files
	// then stay near its unacked bytes instead of a whole segment.
	if a := s.active; a != nil && a.size >= s.reclaimBytes() && 2*a.live <= len(a.entries) {
		s.retireActive()
	}
	var seg *segment
	var off int64
	for {
		if s.active == nil || s.active.size > segHeaderLen && s.active.size+int64(len(rec)) > s.segBytes() {
			if err := s.rotate(); err != nil {
				if errors.Is(err, syscall.ENOSPC) && s.freeSpace(&dropped) {
					continue
				}
				return lose(err)
			}
		}
		seg = s.active
		off = seg.size
		_, err := seg.f.WriteAt(rec, off)
		if err == nil {
			break
		}
		// A torn write must not stay in the segment: cut it back.
		if terr := seg.f.Truncate(off); terr != nil {
			// The tail is unknown now: write the next batch elsewhere.
			seg.size += int64(len(rec))
			s.bytes += int64(len(rec))
			s.retireActive()
			return lose(fmt.Errorf("spool: write segment %d: %w", seg.num, err))
		}
		if errors.Is(err, syscall.ENOSPC) && s.freeSpace(&dropped) {
			continue
		}
		return lose(fmt.Errorf("spool: write segment %d: %w", seg.num, err))
	}
	seg.entries = append(seg.entries, entry{
		seq:    seq,
		off:    uint32(off),
		size:   uint32(len(rec) - recHeaderLen),
		points: points,
	})
	seg.size += int64(len(rec))
	seg.live++
	s.bytes += int64(len(rec))
	s.batches++
	s.nextSeq++
	s.st.Appended++
	s.signal()
	switch s.opts.Sync {
	case SyncAlways:
		if err := seg.f.Sync(); err != nil {
			// The batch is in the page cache and will be sent from there,
			// but whether it is on disk is unknown.
			s.retireActive()
			return seq, int(dropped), fmt.Errorf("spool: sync segment %d: %w", seg.num, err)
		}
	case SyncInterval:
		seg.dirty = true
		s.armCommit()
	}
	return seq, int(dropped), nil
}

// reclaimBytes is the size from which a live segment whose batches are all
// acked is deleted rather than appended to: large enough that a spool acked
// as fast as it is filled creates a file per many batches, not per batch.
func (s *Spool) reclaimBytes() int64 {
	return min(s.segBytes()/4, 64<<10)
}

// segBytes is the size at which a new segment is started: SegmentBytes,
// or less once the disk has run out of space (see freeSpace).
func (s *Spool) segBytes() int64 {
	if s.segCap > 0 {
		return min(s.opts.SegmentBytes, s.segCap)
	}
	return s.opts.SegmentBytes
}

// freeSpace answers a full disk (ENOSPC): it deletes the oldest segment
// that has nothing in flight, dropping its unacked batches and counting
// their points in *dropped and the stats. From then on segments are cut at
// a quarter of what the spool held when the disk filled, so later drops
// cost a quarter of the backlog rather than all of it. It returns false
// when no segment can go.
func (s *Spool) freeSpace(dropped *uint64) bool {
	if c := max(minSegmentBytes, s.bytes/4); s.segCap == 0 || c < s.segCap {
		s.segCap = c
	}
	for _, seg := range s.segs {
		if slices.ContainsFunc(seg.entries, func(e entry) bool { return e.state == stateInflight }) {
			continue // its file stays until the send ends
		}
		var batches int
		var points uint64
		for i := range seg.entries {
			e := &seg.entries[i]
			if e.state != statePending {
				continue
			}
			e.state = stateDone
			batches++
			points += uint64(e.points)
		}
		seg.live -= batches
		s.batches -= batches
		s.st.DroppedBatches += uint64(batches)
		s.st.DroppedPoints += points
		*dropped += points
		freed := seg.size + seg.ackSize
		s.removeSegment(seg)
		s.log.Warn("disk full: dropped the oldest batches to make room for new results",
			"dropped_batches", batches, "dropped_points", points, "freed_bytes", freed,
			"segment_bytes", s.segCap, "dropped_points_total", s.st.DroppedPoints)
		return true
	}
	return false
}

// makeRoom drops the oldest records not in flight until a record of n
// bytes fits under MaxBytes.
func (s *Spool) makeRoom(n int64) (batches int, points uint64) {
	var markBytes int64 // done marks for records dropped from surviving segments
	need := func() int64 {
		if s.active == nil || s.active.size > segHeaderLen && s.active.size+n > s.segBytes() {
			return n + segHeaderLen
		}
		return n
	}
	var touched []*segment
	for s.bytes+markBytes+need() > s.opts.MaxBytes {
		seg, i, ok := s.firstPending()
		if !ok {
			break // all in flight: they are acked or released soon
		}
		e := &seg.entries[i]
		e.state = stateDone
		s.hint = e.seq + 1
		seg.live--
		s.batches--
		batches++
		points += uint64(e.points)
		s.st.DroppedBatches++
		s.st.DroppedPoints += uint64(e.points)
		if seg.live == 0 {
			markBytes -= int64(len(seg.marks)) * markLen
			if seg.ackSize == 0 && len(seg.marks) > 0 {
				markBytes -= ackHeaderLen
			}
			seg.marks = seg.marks[:0]
			s.removeSegment(seg)
			continue
		}
		if len(seg.marks) == 0 {
			touched = append(touched, seg)
			if seg.ackSize == 0 {
				markBytes += ackHeaderLen
			}
		}
		seg.marks = append(seg.marks, e.seq)
		markBytes += markLen
	}
	for _, seg := range touched {
		if len(seg.marks) > 0 {
			if err := s.flushMarks(seg); err != nil {
				s.log.Warn("cannot record dropped batches; they may be sent after a restart", "err", err)
			}
		}
	}
	return batches, points
}

// Next returns the oldest batch that is neither acked nor in flight and
// marks it in flight. It waits for one until ctx ends.
func (s *Spool) Next(ctx context.Context) (*protocol.Batch, error) {
	seq, payload, err := s.NextRaw(ctx)
	if err != nil {
		return nil, err
	}
	b := new(protocol.Batch)
	if err := proto.Unmarshal(payload, b); err != nil {
		s.Release(seq)
		return nil, fmt.Errorf("spool: batch %d: %w: %v", seq, errBadBatch, err)
	}
	return b, nil
}

// NextRaw is Next without decoding: it returns the batch's seq and its
// encoded protocol.Batch, which is exactly a frame's payload, so a sender
// can pass it on without decoding and encoding it again. The payload is
// the caller's.
func (s *Spool) NextRaw(ctx context.Context) (uint64, []byte, error) {
	for {
		if err := ctx.Err(); err != nil {
			return 0, nil, err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return 0, nil, ErrClosed
		}
		for {
			seg, i, ok := s.firstPending()
			if !ok {
				break
			}
			e := &seg.entries[i]
			payload, err := s.read(seg, e)
			if err != nil {
				s.log.Error("batch unreadable; skipping it", "seq", e.seq, "points", e.points, "err", err)
				s.st.Corrupt++
				s.st.SkippedRecords++
				s.st.SkippedBytes += uint64(recHeaderLen + e.size)
				s.hint = e.seq + 1
				if err := s.finish(seg, e); err != nil {
					s.log.Warn("cannot record the unreadable batch as done; it is skipped again after a restart", "seq", e.seq, "err", err)
				}
				continue
			}
			e.state = stateInflight
			s.inflight++
			s.hint = e.seq + 1
			s.mu.Unlock()
			return e.seq, payload, nil
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-wake:
		}
	}
}

// Ack removes the batch seq: the collector has stored it. A segment whose
// batches are all acked or dropped is deleted.
func (s *Spool) Ack(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	seg, i, ok := s.locate(seq)
	if !ok || seg.entries[i].state == stateDone {
		return fmt.Errorf("spool: ack %d: %w", seq, ErrUnknownSeq)
	}
	s.st.Acked++
	err := s.finish(seg, &seg.entries[i])
	if s.opts.Sync == SyncInterval {
		s.armCommit()
		// Everything appended has been delivered: commit now, while the
		// process is awake anyway, rather than from a timer later.
		if s.batches == 0 && time.Since(s.lastCommit) >= s.opts.SyncInterval {
			s.commit()
		}
	}
	return err
}

// finish marks e done and records that on disk, deleting its segment if
// nothing in it is left to send.
func (s *Spool) finish(seg *segment, e *entry) error {
	if e.state == stateInflight {
		s.inflight--
	}
	e.state = stateDone
	seg.live--
	s.batches--
	// The active segment stays, or a spool that is acked as fast as it is
	// filled would create and delete a file per batch.
	// Once it holds reclaimBytes, a live segment with nothing left to send
	// goes too, so acked space comes back without waiting for a rotation
	// that a small disk may never reach.
	if seg.live == 0 && (seg != s.active || seg.size >= s.reclaimBytes()) {
		s.removeSegment(seg)
		return nil
	}
	seg.marks = append(seg.marks, e.seq)
	return s.flushMarks(seg)
}

// Release makes an in-flight batch sendable again (its send failed). It
// will be the next one Next returns unless an older one was released too.
func (s *Spool) Release(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	seg, i, ok := s.locate(seq)
	if !ok || seg.entries[i].state != stateInflight {
		return
	}
	seg.entries[i].state = statePending
	s.inflight--
	s.hint = min(s.hint, seq)
	s.signal()
}

// Stats returns the spool's counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Bytes = s.bytes
	st.Segments = len(s.segs)
	st.Batches = s.batches
	st.InFlight = s.inflight
	return st
}

// Close syncs and closes the spool. Batches in flight stay in the spool and
// are sent again after the next Open. Calls after the first return nil.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	if s.commitTimer != nil {
		s.commitTimer.Stop()
	}
	s.signal() // Next returns ErrClosed
	s.mu.Unlock()
	s.wg.Wait()

	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, seg := range s.segs {
		if seg.f != nil && seg == s.active {
			if err := seg.f.Sync(); err != nil {
				errs = append(errs, fmt.Errorf("spool: sync segment %d: %w", seg.num, err))
			}
		}
		if seg.ack != nil {
			if err := seg.ack.Sync(); err != nil {
				errs = append(errs, fmt.Errorf("spool: sync done log %d: %w", seg.num, err))
			}
		}
	}
	if s.dirDirty {
		if err := s.syncDir(); err != nil {
			errs = append(errs, err)
		}
	}
	// A clean stop resumes at the next seq, without the crash gap.
	if err := s.writeLease(s.nextSeq); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, s.closeFiles())
	if err := s.lock.Close(); err != nil {
		errs = append(errs, fmt.Errorf("spool: unlock: %w", err))
	}
	return errors.Join(errs...)
}

func (s *Spool) closeFiles() error {
	var errs []error
	for _, seg := range s.segs {
		if seg.f != nil {
			if err := seg.f.Close(); err != nil {
				errs = append(errs, fmt.Errorf("spool: close segment %d: %w", seg.num, err))
			}
			seg.f = nil
		}
		if seg.ack != nil {
			if err := seg.ack.Close(); err != nil {
				errs = append(errs, fmt.Errorf("spool: close done log %d: %w", seg.num, err))
			}
			seg.ack = nil
		}
	}
	s.active, s.reader = nil, nil
	return errors.Join(errs...)
}

func (s *Spool) signal() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// segIndex returns the index of the first segment that may hold seq. Only
// the last segment can be empty.
func (s *Spool) segIndex(seq uint64) int {
	return sort.Search(len(s.segs), func(i int) bool {
		es := s.segs[i].entries
		return len(es) == 0 || es[len(es)-1].seq >= seq
	})
}

func (s *Spool) locate(seq uint64) (*segment, int, bool) {
	si := s.segIndex(seq)
	if si == len(s.segs) {
		return nil, 0, false
	}
	seg := s.segs[si]
	i, ok := slices.BinarySearchFunc(seg.entries, seq, func(e entry, seq uint64) int {
		switch {
		case e.seq < seq:
			return -1
		case e.seq > seq:
			return 1
		}
		return 0
	})
	return seg, i, ok
}

// firstPending finds the oldest pending record, starting at the hint.
func (s *Spool) firstPending() (*segment, int, bool) {
	for si := s.segIndex(s.hint); si < len(s.segs); si++ {
		seg := s.segs[si]
		i := sort.Search(len(seg.entries), func(i int) bool { return seg.entries[i].seq >= s.hint })
		for ; i < len(seg.entries); i++ {
			if seg.entries[i].state == statePending {
				s.hint = seg.entries[i].seq
				return seg, i, true
			}
		}
	}
	s.hint = s.nextSeq
	return nil, 0, false
}

// read reads e's batch back from its segment.
// read returns a copy of the record's payload, checked: CRC, and a batch
// whose seq is the one the index expects.
func (s *Spool) read(seg *segment, e *entry) ([]byte, error) {
	f, err := s.readerFor(seg)
	if err != nil {
		return nil, err
	}
	n := recHeaderLen + int(e.size)
	if cap(s.rbuf) < n {
		s.rbuf = make([]byte, n)
	}
	buf := s.rbuf[:n]
	if n > 1<<20 {
		s.rbuf = nil // don't keep a huge buffer for one huge batch
	}
	if _, err := f.ReadAt(buf, int64(e.off)); err != nil {
		return nil, fmt.Errorf("spool: read segment %d at %d: %w", seg.num, e.off, err)
	}
	payload, _, err := decodeRecord(buf)
	if err != nil {
		return nil, fmt.Errorf("spool: segment %d at %d: %w", seg.num, e.off, err)
	}
	seq, _, err := batchInfo(payload)
	if err != nil {
		return nil, fmt.Errorf("spool: segment %d at %d: %w", seg.num, e.off, err)
	}
	if seq != e.seq {
		return nil, fmt.Errorf("spool: segment %d at %d: %w: seq %d, want %d", seg.num, e.off, errBadBatch, seq, e.seq)
	}
	return append([]byte(nil), payload...), nil
}

// readerFor returns an open file for seg, keeping at most one inactive
// segment open so a spool of many segments needs few file descriptors.
func (s *Spool) readerFor(seg *segment) (*os.File, error) {
	if seg.f != nil {
		return seg.f, nil
	}
	if r := s.reader; r != nil && r != s.active && r.f != nil {
		r.f.Close()
		r.f = nil
	}
	s.reader = nil
	f, err := os.Open(s.segPath(seg.num))
	if err != nil {
		return nil, fmt.Errorf("spool: open segment %d: %w", seg.num, err)
	}
	seg.f, s.reader = f, seg
	return f, nil
}

// rotate starts a new active segment.
func (s *Spool) rotate() error {
	s.retireActive()
	num := s.nextSegNum
	path := s.segPath(num)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("spool: create segment %d: %w", num, err)
	}
	s.nextSegNum++
	if _, err := f.Write(segMagic[:]); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("spool: create segment %d: %w", num, err)
	}
	seg := &segment{num: num, f: f, size: segHeaderLen}
	s.segs = append(s.segs, seg)
	s.active = seg
	s.bytes += segHeaderLen
	switch s.opts.Sync {
	case SyncAlways:
		if err := s.syncDir(); err != nil {
			return err
		}
	case SyncInterval:
		seg.dirty = true
		s.dirDirty = true
	}
	return nil
}

// retireActive stops appending to the active segment, syncing what is
// pending so an older segment is never left with an unsynced tail, and
// deletes it if nothing in it is left to send.
func (s *Spool) retireActive() {
	seg := s.active
	s.active = nil
	if seg == nil {
		return
	}
	if seg.live == 0 {
		s.removeSegment(seg)
		return
	}
	if seg.dirty {
		if err := seg.f.Sync(); err != nil {
			s.syncFailed("segment", seg.num, err)
		}
		seg.dirty = false
	}
	seg.f.Close()
	seg.f = nil
	if s.reader == seg {
		s.reader = nil
	}
}

// removeSegment deletes a segment whose records are all done.
func (s *Spool) removeSegment(seg *segment) {
	if seg == s.active {
		s.active = nil
	}
	if seg == s.reader {
		s.reader = nil
	}
	if seg.f != nil {
		seg.f.Close()
		seg.f = nil
	}
	if seg.ack != nil {
		seg.ack.Close()
		seg.ack = nil
	}
	if i := slices.Index(s.segs, seg); i >= 0 {
		s.segs = slices.Delete(s.segs, i, i+1)
	}
	s.bytes -= seg.size + seg.ackSize
	s.dirDirty = true
	// The segment goes first: without it, its done log is ignored. If it
	// cannot go, Open finds it fully done and tries again.
	if err := os.Remove(s.segPath(seg.num)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("cannot delete a finished segment; its batches may be sent again after a restart", "err", err)
		return
	}
	if seg.ackSize > 0 {
		if err := os.Remove(s.ackPath(seg.num)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("cannot delete a done log; it is removed on the next open", "err", err)
		}
	}
}

// flushMarks appends seg's pending done marks to its done log.
func (s *Spool) flushMarks(seg *segment) error {
	marks := seg.marks
	seg.marks = seg.marks[:0]
	if seg.ackBad {
		return fmt.Errorf("spool: done log %d: unusable after an earlier write error", seg.num)
	}
	if seg.ack == nil {
		flag := os.O_WRONLY
		if seg.ackSize == 0 {
			flag |= os.O_CREATE | os.O_TRUNC
		}
		f, err := os.OpenFile(s.ackPath(seg.num), flag, 0o600)
		if err != nil {
			return fmt.Errorf("spool: open done log %d: %w", seg.num, err)
		}
		seg.ack = f
	}
	var buf [ackHeaderLen + 64*markLen]byte
	b := buf[:0]
	off := seg.ackSize
	created := off == 0
	if created {
		b = append(b, ackMagic[:]...)
	}
	write := func() error {
		if len(b) == 0 {
			return nil
		}
		if _, err := seg.ack.WriteAt(b, off); err != nil {
			if terr := seg.ack.Truncate(seg.ackSize); terr != nil {
				seg.ackBad = true
			}
			return fmt.Errorf("spool: write done log %d: %w", seg.num, err)
		}
		off += int64(len(b))
		s.bytes += off - seg.ackSize
		seg.ackSize = off
		b = b[:0]
		return nil
	}
	for _, seq := range marks {
		if len(b)+markLen > len(buf) {
			if err := write(); err != nil {
				return err
			}
		}
		b = b[:len(b)+markLen]
		putMark(b[len(b)-markLen:], seq)
	}
	if err := write(); err != nil {
		return err
	}
	switch s.opts.Sync {
	case SyncAlways:
		if err := seg.ack.Sync(); err != nil {
			return fmt.Errorf("spool: sync done log %d: %w", seg.num, err)
		}
		if created {
			return s.syncDir()
		}
	case SyncInterval:
		seg.ackDirty = true
		if created {
			s.dirDirty = true
		}
	}
	return nil
}

// armCommit makes sure what was just written is committed within
// SyncInterval. It runs under s.mu.
func (s *Spool) armCommit() {
	if !s.commitArmed {
		s.commitArmed = true
		s.commitTimer.Reset(s.opts.SyncInterval)
	}
}

// commit is the group commit of SyncInterval. It runs under s.mu.
func (s *Spool) commit() {
	s.syncDirty()
	s.lastCommit = time.Now()
	if s.commitArmed {
		s.commitArmed = false
		s.commitTimer.Stop()
	}
}

// syncLoop commits when the commit timer fires. A commit by Ack stops the
// timer first; one that fires meanwhile finds commitArmed false.
func (s *Spool) syncLoop() {
	for {
		select {
		case <-s.stop:
			return
		case <-s.commitTimer.C:
		}
		s.mu.Lock()
		if !s.closed && s.commitArmed {
			s.commit()
		}
		s.mu.Unlock()
	}
}

// syncDirty fsyncs the files written since the last call. It runs under
// s.mu: Append waits for at most one fsync a second, which the batcher's
// channel absorbs, and no file can be closed or deleted under it.
func (s *Spool) syncDirty() {
	for _, seg := range s.segs {
		if seg.dirty && seg.f != nil {
			if err := seg.f.Sync(); err != nil {
				s.syncFailed("segment", seg.num, err)
			}
		}
		seg.dirty = false
		if seg.ackDirty && seg.ack != nil {
			if err := seg.ack.Sync(); err != nil {
				s.syncFailed("done log", seg.num, err)
			}
		}
		seg.ackDirty = false
	}
	if s.dirDirty {
		s.dirDirty = false
		if err := s.syncDir(); err != nil {
			s.st.SyncErrors++
			s.log.Error("sync failed; a crash of the machine may lose recent batches", "err", err)
		}
	}
}

func (s *Spool) syncFailed(what string, num uint64, err error) {
	s.st.SyncErrors++
	s.log.Error("sync failed; a crash of the machine may lose recent batches", "file", what, "segment", num, "err", err)
}

func (s *Spool) syncDir() error {
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("spool: sync directory: %w", err)
	}
	return nil
}

func (s *Spool) segPath(num uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%012d.seg", num))
}

func (s *Spool) ackPath(num uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%012d.ack", num))
}
