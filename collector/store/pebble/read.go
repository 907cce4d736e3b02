package pebble

import (
	"bytes"
	"context"
	"fmt"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/vigilmon/vigil/collector/store"
)

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
		b := store.BucketOf(ts, width)
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
			start := max(from, store.BucketStart(b, width))
			if start >= to {
				valid = false
				continue
			}
			putPointKey(seek, res, id, start)
			valid = it.SeekGE(seek)
		default:
			// Past our series in bucket b: seek to it in bucket b+1.
			if store.LastBucket(b, width) || (b+1)*width >= to {
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

// History returns the results of one check with from <= ts < to in time
// order. It seeks bucket by bucket, skipping days without any history.
func (s *Store) History(ctx context.Context, tenant, agent, check string, from, to int64, limit int) (_ []store.CheckResult, err error) {
	defer func() { s.health.read(err) }()
	if from >= to {
		return nil, nil
	}
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	width := Raw.BucketWidth()
	first, last := store.BucketOf(from, width), store.BucketOf(to-1, width)
	it, err := s.db.NewIterWithContext(ctx, &pebbledb.IterOptions{LowerBound: historyBucketKey(first), UpperBound: prefixEnd(historyBucketKey(last))})
	if err != nil {
		return nil, fmt.Errorf("pebble: history of %s/%s: %w", agent, check, err)
	}
	var (
		out     []store.CheckResult
		iterErr error
		key     []byte
	)
	for b := first; b <= last; {
		key = appendCheckTuple(historyBucketKey(b), tenant, agent, check)
		plen := len(key)
		key = append(key, make([]byte, 8)...)
		putInt64(key[plen:], max(from, b*width))
		valid := it.SeekGE(key)
		for ; valid; valid = it.Next() {
			k := it.Key()
			if len(k) != plen+8 || !bytes.Equal(k[:plen], key[:plen]) {
				break
			}
			ts := getInt64(k[plen:])
			if ts >= to {
				break
			}
			v, err := it.ValueAndErr()
			if err != nil {
				iterErr = err
				break
			}
			_, cr, err := decodeHistory(k, v)
			if err != nil {
				it.Close()
				return nil, fmt.Errorf("pebble: history of %s/%s: %w", agent, check, err)
			}
			out = append(out, cr)
			if limit > 0 && len(out) >= limit {
				valid = false
				break
			}
		}
		if iterErr != nil || !valid {
			break
		}
		// Jump to the next bucket that has any history at all.
		next := getInt64(it.Key()[1:9])
		b = max(b+1, next)
	}
	if err := closeIter(it, iterErr); err != nil {
		return nil, fmt.Errorf("pebble: history of %s/%s: %w", agent, check, err)
	}
	return out, nil
}
