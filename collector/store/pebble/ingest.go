package pebble

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/vigilmon/vigil/collector/store"
)

// WriteBlocks stores w like Write, as one synced batch for its points, but
// writes the points straight into the compressed blocks (block.go) of
// their series and raw bucket instead of one key per point: for each
// (series, bucket) of the request it merges the block already there and
// the bucket's chunks and point keys with the request's points, exactly
// as compaction does (later writes win on equal timestamps, the request's
// points being the latest), then range-deletes the chunks and point keys
// and sets the new block. Points still in the head (head.go), written by
// Write and not yet flushed, stay newer than the request's. Import uses it: writing a point costs a few dozen
// nanoseconds instead of a key that LSM compactions rewrite several times.
//
// A (series, bucket) whose stored points have another type than the
// request's (a series that changed type), and the last bucket int64
// timestamps reach, are written as point keys, as Write does.
//
// The request's points may come in any order; of two points of a series
// with the same timestamp, the later in the request wins. WriteBlocks
// holds off compaction and Write's commits while it reads and rewrites, so
// it suits large batches (import), not the collector's live path.
func (s *Store) WriteBlocks(ctx context.Context, w *store.WriteRequest) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: write blocks: %w", err)
	}
	types := make(map[store.SeriesID]store.MetricType, len(w.Series))
	for i := range w.Series {
		sr := &w.Series[i]
		if sr.Tenant != w.Tenant {
			return fmt.Errorf("pebble: write blocks: series %s belongs to tenant %q, request to %q", sr.ID, sr.Tenant, w.Tenant)
		}
		if err := checkSeries(sr); err != nil {
			return fmt.Errorf("pebble: write blocks: %w", err)
		}
		types[sr.ID] = sr.Type
	}
	for i := range w.Points {
		if _, ok := types[w.Points[i].Series]; !ok {
			return fmt.Errorf("pebble: write blocks: point %d: series %s is not defined in the request", i, w.Points[i].Series)
		}
	}
	// Definitions (and results) first: harmless without their points.
	if err := s.Write(ctx, &store.WriteRequest{Tenant: w.Tenant, Series: w.Series, Results: w.Results}); err != nil {
		return err
	}
	if len(w.Points) == 0 {
		return nil
	}

	// Groups: runs of one (bucket, series) in the request, sorted by key
	// and by their place in the request.
	width := Raw.BucketWidth()
	type group struct {
		bucket     int64
		id         store.SeriesID
		start, end int
	}
	var groups []group
	pts := w.Points
	for i := 0; i < len(pts); {
		b := bucketOf(pts[i].TS, width)
		j := i + 1
		for j < len(pts) && pts[j].Series == pts[i].Series && bucketOf(pts[j].TS, width) == b {
			j++
		}
		groups = append(groups, group{b, pts[i].Series, i, j})
		i = j
	}
	slices.SortStableFunc(groups, func(x, y group) int {
		if x.bucket != y.bucket {
			if x.bucket < y.bucket {
				return -1
			}
			return 1
		}
		return bytes.Compare(x.id[:], y.id[:])
	})

	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	s.blocks.mu.Lock()
	defer s.blocks.mu.Unlock()

	it, err := s.db.NewIterWithContext(ctx, &pebbledb.IterOptions{
		LowerBound: []byte{nsPoint, byte(Raw)},
		UpperBound: []byte{nsPoint, byte(Raw) + 1},
	})
	if err != nil {
		return fmt.Errorf("pebble: write blocks: %w", err)
	}
	batch := s.db.NewBatch()
	defer batch.Close()
	var (
		cs                compactScratch
		fresh, older, mix []store.Point
		dirty             []store.Point // points written as keys, for their dirty marks
		key               = make([]byte, blockKeyLen)
	)
	for gi := 0; gi < len(groups); {
		g := groups[gi]
		gj := gi + 1
		for gj < len(groups) && groups[gj].bucket == g.bucket && groups[gj].id == g.id {
			gj++
		}
		// The request's points of (bucket, series), time-ordered, the
		// later in the request winning on equal timestamps.
		fresh = fresh[:0]
		for _, h := range groups[gi:gj] {
			fresh = append(fresh, pts[h.start:h.end]...)
		}
		gi = gj
		if !sortedStrictly(fresh) {
			slices.SortStableFunc(fresh, func(a, b store.Point) int { return cmpInt64(a.TS, b.TS) })
			fresh = dedupeLast(fresh)
		}
		str := types[g.id] == store.String

		key[0], key[1] = nsPoint, byte(Raw)
		putInt64(key[2:10], g.bucket)
		copy(key[10:26], g.id[:])
		var hasOld, oldStr, oldNum bool
		if it.SeekGE(key) && bytes.HasPrefix(it.Key(), key) {
			if _, err := cs.run.read(it, key, math.MinInt64, math.MaxInt64); err != nil {
				it.Close()
				return fmt.Errorf("pebble: write blocks: %w", err)
			}
			hasOld = true
			oldStr, oldNum = cs.run.kinds()
		}
		if oldStr && !str || oldNum && str || lastBucket(g.bucket, width) {
			for i := range fresh {
				if err := setPoint(batch, &fresh[i], str); err != nil {
					it.Close()
					return fmt.Errorf("pebble: write blocks: %w", err)
				}
			}
			dirty = append(dirty, fresh[0])
			continue
		}
		merged := fresh
		if hasOld {
			older = cs.run.merged(older[:0], math.MinInt64, math.MaxInt64)
			mix = mergePoints(mix[:0], older, fresh)
			merged = mix
			if !cs.run.onlyBlock() {
				if err := batch.DeleteRange(key, prefixEnd(key), nil); err != nil {
					it.Close()
					return fmt.Errorf("pebble: write blocks: %w", err)
				}
			}
		}
		cs.blocks = cs.enc.encode(cs.blocks[:0], merged, str)
		if err := batch.Set(key, cs.blocks, nil); err != nil {
			it.Close()
			return fmt.Errorf("pebble: write blocks: %w", err)
		}
	}
	if err := closeIter(it, nil); err != nil {
		return fmt.Errorf("pebble: write blocks: %w", err)
	}
	if err := markDirty(batch, dirty); err != nil {
		return fmt.Errorf("pebble: write blocks: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: write blocks: %w", err)
	}
	if err := batch.Commit(pebbledb.Sync); err != nil {
		return fmt.Errorf("pebble: write blocks of %d points: %w", len(w.Points), err)
	}
	return nil
}

// setPoint adds p's point key to b, as Write does.
func setPoint(b *pebbledb.Batch, p *store.Point, str bool) error {
	vlen := floatValueLen()
	if str {
		vlen = stringValueLen(p.Str)
	}
	op := b.SetDeferred(pointKeyLen, vlen)
	putPointKey(op.Key, Raw, p.Series, p.TS)
	if str {
		putStringValue(op.Value, p.Str)
	} else {
		putFloatValue(op.Value, p.Value)
	}
	return op.Finish()
}

func sortedStrictly(pts []store.Point) bool {
	for i := 1; i < len(pts); i++ {
		if pts[i].TS <= pts[i-1].TS {
			return false
		}
	}
	return true
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// dedupeLast keeps, of each run of equal timestamps, the last point.
func dedupeLast(pts []store.Point) []store.Point {
	out := pts[:0]
	for i := range pts {
		if i+1 < len(pts) && pts[i+1].TS == pts[i].TS {
			continue
		}
		out = append(out, pts[i])
	}
	return out
}

// BlockStats counts the blocks of raw points, the points they hold and
// their bytes (values only), for benchmarks.
func (s *Store) BlockStats(ctx context.Context) (blocks, points, bytes int64, err error) {
	if err := s.acquire(); err != nil {
		return 0, 0, 0, err
	}
	defer s.mu.RUnlock()
	it, err := s.db.NewIterWithContext(ctx, &pebbledb.IterOptions{
		LowerBound: []byte{nsPoint, byte(Raw)},
		UpperBound: []byte{nsPoint, byte(Raw) + 1},
	})
	if err != nil {
		return 0, 0, 0, fmt.Errorf("pebble: block stats: %w", err)
	}
	var (
		pts []store.Point
		buf []byte
	)
	for valid := it.First(); valid; valid = it.Next() {
		if len(it.Key()) != blockKeyLen {
			continue
		}
		v, err := it.ValueAndErr()
		if err == nil {
			pts, buf, err = decodeBlock(pts[:0], store.SeriesID{}, v, buf)
		}
		if err != nil {
			it.Close()
			return 0, 0, 0, fmt.Errorf("pebble: block stats: %w", err)
		}
		blocks++
		points += int64(len(pts))
		bytes += int64(len(v))
	}
	if err := closeIter(it, nil); err != nil {
		return 0, 0, 0, fmt.Errorf("pebble: block stats: %w", err)
	}
	return blocks, points, bytes, nil
}
