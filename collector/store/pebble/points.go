package pebble

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/vigilmon/vigil/collector/store"
)

// points returns the raw points of id in [from, to): for each bucket
// overlapping the range it reads the series' block, chunks and point keys
// and merges them, then merges the head's points. Buckets without the series cost one
// seek, so a range of any width is safe.
func (s *Store) points(ctx context.Context, id store.SeriesID, from, to int64, limit int) ([]store.Point, error) {
	if from >= to || limit < 0 {
		return nil, nil
	}
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	r := s.runs.Get().(*run)
	defer s.putRun(r)
	// The head before the disk: a flush that ends between the two reads
	// takes its points out of the head after committing their chunks, so
	// read in the other order they would be in neither view. In this
	// order a flush in between leaves them in both, the head's copy winning.
	r.head = s.head.appendRange(r.head[:0], id, from, to)
	width := Raw.BucketWidth()
	it, err := s.db.NewIterWithContext(ctx, &pebbledb.IterOptions{
		LowerBound: bucketKey(Raw, store.BucketOf(from, width)),
		UpperBound: []byte{nsPoint, byte(Raw) + 1},
	})
	if err != nil {
		return nil, fmt.Errorf("pebble: raw points of %s: %w", id, err)
	}
	fail := func(err error) ([]store.Point, error) {
		it.Close()
		return nil, fmt.Errorf("pebble: raw points of %s: %w", id, err)
	}
	var (
		out  []store.Point
		seek = make([]byte, blockKeyLen)
		last = store.BucketOf(to-1, width)
	)
	b := store.BucketOf(from, width)
	for {
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		seek[0], seek[1] = nsPoint, byte(Raw)
		putInt64(seek[2:10], b)
		copy(seek[10:26], id[:])
		if !it.SeekGE(seek) {
			break
		}
		k := it.Key()
		if len(k) < blockKeyLen {
			return fail(fmt.Errorf("point key of %d bytes: %w", len(k), errCorrupt))
		}
		kb := getInt64(k[2:10])
		if kb > last {
			break
		}
		if !bytes.Equal(k[10:26], id[:]) {
			if kb == b {
				if store.LastBucket(b, width) {
					break
				}
				b++
			} else {
				b = kb
			}
			continue
		}
		// The series has data in bucket kb.
		putInt64(seek[2:10], kb)
		if _, err := r.read(it, seek, from, to); err != nil {
			return fail(fmt.Errorf("bucket %d: %w", kb, err))
		}
		out = r.merged(out)
		if limit > 0 && len(out) >= limit {
			break
		}
		if kb >= last || store.LastBucket(kb, width) {
			break
		}
		b = kb + 1
	}
	if err := closeIter(it, nil); err != nil {
		return nil, fmt.Errorf("pebble: raw points of %s: %w", id, err)
	}
	// The head, newest of all; a limit applies to the union.
	if hp := r.head; len(hp) > 0 {
		if len(out) == 0 || hp[0].TS > out[len(out)-1].TS {
			out = append(out, hp...) // the usual case: the head follows the disk
		} else {
			out = mergePoints(make([]store.Point, 0, len(out)+len(hp)), out, hp)
		}
	}
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// run collects what one series holds in one raw bucket: its block, its
// chunks (flushed from the head) and its point keys.
type run struct {
	block          []store.Point
	hasBlock, bStr bool
	chunks         []chunkRef
	chunkPts       []store.Point
	raw            []store.Point
	rawStr         int
	buf, seek      []byte
	older, newer   []store.Point
	head           []store.Point // the head's points of the read
}

// putRun returns a read's scratch to the pool unless a large read grew it.
func (s *Store) putRun(r *run) {
	if cap(r.block)+cap(r.chunkPts)+cap(r.raw)+cap(r.older)+cap(r.newer)+cap(r.head) > 1<<18 || cap(r.buf) > 1<<20 {
		return
	}
	// Strings would stay reachable from the pool.
	clear(r.raw[:cap(r.raw)])
	clear(r.block[:cap(r.block)])
	clear(r.older[:cap(r.older)])
	clear(r.newer[:cap(r.newer)])
	s.runs.Put(r)
}

type chunkRef struct {
	seq        uint64
	start, end int // in chunkPts
}

// read consumes the iterator's entries under prefix (a block key), where
// it is positioned, up to the first point or chunk at or after to, keeping
// the points in [from, to) (blocks and chunks may hold others), and
// reports whether the iterator is still valid.
func (r *run) read(it *pebbledb.Iterator, prefix []byte, from, to int64) (bool, error) {
	var id store.SeriesID
	copy(id[:], prefix[10:26])
	last := to - 1
	if to == math.MaxInt64 {
		last = to // everything: compaction must not leave the last ms out
	}
	r.block, r.chunks, r.chunkPts, r.raw = r.block[:0], r.chunks[:0], r.chunkPts[:0], r.raw[:0]
	r.hasBlock, r.bStr, r.rawStr = false, false, 0
	valid := true
	// The block's key is the prefix: it sorts first.
	if k := it.Key(); len(k) == blockKeyLen {
		v, err := it.ValueAndErr()
		if err == nil {
			r.hasBlock = true
			r.block, r.buf, r.bStr, err = decodeBlockRange(r.block, id, v, r.buf, from, last)
		}
		if err != nil {
			return false, fmt.Errorf("series %s: block: %w", id, err)
		}
		valid = it.Next()
	}
	// Points and chunks sort by their (last) timestamp: one seek passes
	// those that end before from.
	if valid && from > math.MinInt64 {
		if k := it.Key(); len(k) >= pointKeyLen && bytes.HasPrefix(k, prefix) && getInt64(k[26:34]) < from {
			seek := append(r.seek[:0], prefix...)
			seek = append(seek, make([]byte, 8)...)
			putInt64(seek[len(prefix):], from)
			r.seek = seek
			valid = it.SeekGE(seek)
		}
	}
	for ; valid && bytes.HasPrefix(it.Key(), prefix); valid = it.Next() {
		k := it.Key()
		if len(k) == pointKeyLen && getInt64(k[26:34]) > last {
			continue // a chunk after it may still start in range
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return false, err
		}
		switch len(k) {
		case chunkKeyLen:
			if len(v) < 8 {
				err = fmt.Errorf("chunk of %d bytes: %w", len(v), errCorrupt)
				break
			}
			if getInt64(v[:8]) > last {
				continue
			}
			start := len(r.chunkPts)
			var str bool
			r.chunkPts, r.buf, str, err = decodeBlockRange(r.chunkPts, id, v[8:], r.buf, from, last)
			if err == nil && str {
				err = fmt.Errorf("chunk of strings: %w", errCorrupt)
			}
			r.chunks = append(r.chunks, chunkRef{binary.BigEndian.Uint64(k[34:42]), start, len(r.chunkPts)})
		case pointKeyLen:
			p := store.Point{Series: id, TS: getInt64(k[26:34])}
			if err = decodeValue(v, &p); err == nil && v[0] == valString {
				r.rawStr++
			}
			r.raw = append(r.raw, p)
		default:
			err = fmt.Errorf("point key of %d bytes: %w", len(k), errCorrupt)
		}
		if err != nil {
			return false, fmt.Errorf("series %s: %w", id, err)
		}
	}
	return valid, nil
}

// kinds reports whether the run holds string and numeric points.
func (r *run) kinds() (str, num bool) {
	str = r.hasBlock && r.bStr || r.rawStr > 0
	num = r.hasBlock && !r.bStr || len(r.chunks) > 0 || len(r.raw) > r.rawStr
	return str, num
}

// onlyBlock reports whether the run has nothing but its block.
func (r *run) onlyBlock() bool { return len(r.chunks) == 0 && len(r.raw) == 0 }

// merged appends the run's points (read keeps those in range only) to dst:
// the block, then the chunks in flush order, then the point keys, a later
// one winning on equal timestamps.
func (r *run) merged(dst []store.Point) []store.Point {
	if r.onlyBlock() {
		if len(dst) == 0 {
			// The common case, one bucket of one block: no copy.
			out := r.block
			r.block = nil
			return out
		}
		return append(dst, r.block...)
	}
	// Usually the block and the chunks, in key order, follow each other
	// without overlap: then they are simply concatenated.
	if r.disjoint() {
		if len(r.raw) == 0 {
			dst = slices.Grow(dst, len(r.block)+len(r.chunkPts))
			dst = append(dst, r.block...)
			for _, c := range r.chunks {
				dst = append(dst, r.chunkPts[c.start:c.end]...)
			}
			return dst
		}
		r.older = append(r.older[:0], r.block...)
		for _, c := range r.chunks {
			r.older = append(r.older, r.chunkPts[c.start:c.end]...)
		}
		return mergePoints(dst, r.older, r.raw)
	}
	cur := r.block
	if len(r.chunks) > 0 {
		slices.SortFunc(r.chunks, func(a, b chunkRef) int { return cmp.Compare(a.seq, b.seq) })
		for _, c := range r.chunks {
			r.newer = mergePoints(r.newer[:0], cur, r.chunkPts[c.start:c.end])
			r.older, r.newer = r.newer, r.older
			cur = r.older
		}
	}
	if len(r.raw) > 0 {
		return mergePoints(dst, cur, r.raw)
	}
	return append(dst, cur...)
}

// disjoint reports whether the block and the chunks, in the order read,
// hold increasing timestamps without overlap.
func (r *run) disjoint() bool {
	prev := int64(math.MinInt64)
	started := false
	if len(r.block) > 0 {
		prev, started = r.block[len(r.block)-1].TS, true
	}
	for _, c := range r.chunks {
		if c.start == c.end {
			continue
		}
		if started && r.chunkPts[c.start].TS <= prev {
			return false
		}
		prev, started = r.chunkPts[c.end-1].TS, true
	}
	return true
}

// mergePoints appends to dst the union of two time-ordered lists; of equal
// timestamps the point of newer wins.
func mergePoints(dst, older, newer []store.Point) []store.Point {
	i, j := 0, 0
	for i < len(older) && j < len(newer) {
		switch a, b := older[i].TS, newer[j].TS; {
		case a < b:
			dst = append(dst, older[i])
			i++
		case a > b:
			dst = append(dst, newer[j])
			j++
		default:
			dst = append(dst, newer[j])
			i++
			j++
		}
	}
	dst = append(dst, older[i:]...)
	return append(dst, newer[j:]...)
}
