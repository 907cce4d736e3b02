package pebble

import (
	"context"
	"fmt"
	"math"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/vigilmon/vigil/collector/store"
)

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
		if err := sr.Validate(); err != nil {
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
	cb := store.BucketOf(cutoff, res.BucketWidth())
	if res == Raw {
		// No flush may write chunks of the deleted buckets from the head
		// after the range delete.
		s.head.flushMu.Lock()
		defer s.head.flushMu.Unlock()
		s.head.trim(store.BucketStart(cb, res.BucketWidth()))
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
