package pebble

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/vigilmon/vigil/collector/store"
)

// WriteChunks stores w like Write, durable when it returns, but writes
// each series' numeric points of each raw bucket straight to disk as one
// chunk (head.go) instead of through the head and its write-ahead records:
// no record, no memory, and no reading of what is stored, so a point costs
// the few dozen nanoseconds of encoding it. A request's chunks are newer
// than every chunk before them, so its points win over what is on disk on
// equal timestamps, though not over points still in the head. Compaction
// merges the chunks into each closed day's block (vigil-collector import
// runs it when done). Import uses it.
//
// String points, and points of the last bucket int64 timestamps reach,
// are written as point keys, as Write does. The request's points may come
// in any order; of two points of a series with the same timestamp, the
// later in the request wins.
func (s *Store) WriteChunks(ctx context.Context, w *store.WriteRequest) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: write chunks: %w", err)
	}
	types := make(map[store.SeriesID]store.MetricType, len(w.Series))
	for i := range w.Series {
		sr := &w.Series[i]
		if sr.Tenant != w.Tenant {
			return fmt.Errorf("pebble: write chunks: series %s belongs to tenant %q, request to %q", sr.ID, sr.Tenant, w.Tenant)
		}
		if err := sr.Validate(); err != nil {
			return fmt.Errorf("pebble: write chunks: %w", err)
		}
		types[sr.ID] = sr.Type
	}
	for i := range w.Points {
		if _, ok := types[w.Points[i].Series]; !ok {
			return fmt.Errorf("pebble: write chunks: point %d: series %s is not defined in the request", i, w.Points[i].Series)
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
		b := store.BucketOf(pts[i].TS, width)
		j := i + 1
		for j < len(pts) && pts[j].Series == pts[i].Series && store.BucketOf(pts[j].TS, width) == b {
			j++
		}
		groups = append(groups, group{b, pts[i].Series, i, j})
		i = j
	}
	slices.SortStableFunc(groups, func(x, y group) int {
		if x.bucket != y.bucket {
			return cmpInt64(x.bucket, y.bucket)
		}
		return bytes.Compare(x.id[:], y.id[:])
	})

	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	// The sequence number orders this request's chunks after every chunk
	// written before; flushMu orders the writes of its high mark.
	s.head.flushMu.Lock()
	defer s.head.flushMu.Unlock()
	seq := s.head.seq.Add(1)
	batch := s.db.NewBatch()
	defer batch.Close()
	var (
		c       chunkWriter
		fresh   []store.Point
		buckets = map[int64]struct{}{}
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
		buckets[g.bucket] = struct{}{}
		if err := c.add(batch, g.bucket, fresh, types[g.id] == store.String, seq); err != nil {
			return fmt.Errorf("pebble: write chunks: %w", err)
		}
	}
	if err := s.finishChunks(batch, buckets); err != nil {
		return fmt.Errorf("pebble: write chunks: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pebble: write chunks: %w", err)
	}
	if err := s.commit(batch, pebbledb.Sync); err != nil {
		return fmt.Errorf("pebble: write chunks of %d points: %w", len(w.Points), err)
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
