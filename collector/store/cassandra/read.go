package cassandra

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vigilmon/vigil/collector/store"
)

// readConcurrency bounds the requests one read (Series, Pending) has in
// flight.
const readConcurrency = 16

// Series lists the series of f.Tenant matching f, ordered by key. With an
// agent it reads one partition (narrowed by check and metric when given);
// without, it reads the partition of each agent of the tenant.
func (s *Store) Series(ctx context.Context, f store.SeriesFilter) ([]store.Series, error) {
	sess, err := s.session()
	if err != nil {
		return nil, err
	}
	agents := []string{f.Agent}
	if f.Agent == "" {
		agents = nil
		iter := sess.Query(s.st.selectSeriesAgents, f.Tenant).Consistency(s.cons).IterContext(ctx)
		var a string
		for iter.Scan(&a) {
			agents = append(agents, a)
		}
		if err := s.health.observe(iter.Close()); err != nil {
			return nil, fmt.Errorf("cassandra: agents with series of %q: %w", f.Tenant, err)
		}
	}
	per := make([][]store.Series, len(agents))
	err = s.health.observe(parallel(ctx, len(agents), func(ctx context.Context, i int) error {
		var err error
		per[i], err = s.agentSeries(ctx, sess, f, agents[i])
		return err
	}))
	if err != nil {
		return nil, fmt.Errorf("cassandra: series of %q: %w", f.Tenant, err)
	}
	var out []store.Series
	for _, p := range per {
		out = append(out, p...)
	}
	slices.SortFunc(out, func(a, b store.Series) int { return store.CompareKeys(&a.SeriesKey, &b.SeriesKey) })
	return out, nil
}

func (s *Store) agentSeries(ctx context.Context, sess *gocql.Session, f store.SeriesFilter, agent string) ([]store.Series, error) {
	var q *gocql.Query
	switch {
	case f.Check != "" && f.Metric != "":
		q = sess.Query(s.st.selectSeriesMetric, f.Tenant, agent, f.Check, f.Metric)
	case f.Check != "":
		q = sess.Query(s.st.selectSeriesCheck, f.Tenant, agent, f.Check)
	default:
		q = sess.Query(s.st.selectSeriesAgent, f.Tenant, agent)
	}
	iter := q.Consistency(s.cons).IterContext(ctx)
	var (
		out    []store.Series
		check  string
		metric string
		labels []string
		id     []byte
		typ    int
		unit   string
	)
	for iter.Scan(&check, &metric, &labels, &id, &typ, &unit) {
		sr := store.Series{SeriesKey: store.SeriesKey{Tenant: f.Tenant, Agent: agent, Check: check, Metric: metric},
			Type: store.MetricType(typ), Unit: unit}
		var err error
		if sr.Labels, err = decodeLabels(labels); err != nil || len(id) != len(sr.ID) {
			iter.Close()
			return nil, fmt.Errorf("series %s/%s/%s: corrupt row (labels %v, id of %d bytes)", agent, check, metric, labels, len(id))
		}
		copy(sr.ID[:], id)
		if f.Match(&sr) {
			out = append(out, sr)
		}
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("agent %q: %w", agent, err)
	}
	return out, nil
}

// parallel runs fn(0..n-1), at most readConcurrency at a time, and returns
// the first error.
func parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	if n == 1 {
		return fn(ctx, 0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		sem   = make(chan struct{}, readConcurrency)
	)
	for i := 0; i < n; i++ {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			once.Do(func() { first = ctx.Err() })
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := fn(ctx, i); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		})
	}
	wg.Wait()
	return first
}

// buckets lists the buckets of res the series has rows in that overlap
// [from, to), ascending.
func (s *Store) buckets(ctx context.Context, sess *gocql.Session, res store.Resolution, id store.SeriesID, from, to int64) ([]int64, error) {
	width := res.BucketWidth()
	iter := sess.Query(s.st.selectBuckets, id[:], int(res), store.BucketOf(from, width), store.BucketOf(to-1, width)).
		Consistency(s.cons).IterContext(ctx)
	var (
		out []int64
		b   int64
	)
	for iter.Scan(&b) {
		out = append(out, b)
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("buckets: %w", err)
	}
	return out, nil
}

// cqlLimit is the LIMIT of a read wanting limit rows after got (0: all).
func cqlLimit(limit, got int) int {
	if limit == 0 {
		return math.MaxInt32
	}
	return min(limit-got, math.MaxInt32)
}

// Points returns the raw points of id with from <= ts < to in time order, at
// most limit of them (0: no limit).
func (s *Store) Points(ctx context.Context, id store.SeriesID, from, to int64, limit int) ([]store.Point, error) {
	if from >= to || limit < 0 {
		return nil, nil
	}
	sess, err := s.session()
	if err != nil {
		return nil, err
	}
	out, err := s.points(ctx, sess, id, from, to, limit)
	if err = s.health.observe(err); err != nil {
		return nil, fmt.Errorf("cassandra: points of %s: %w", id, err)
	}
	return out, nil
}

func (s *Store) points(ctx context.Context, sess *gocql.Session, id store.SeriesID, from, to int64, limit int) ([]store.Point, error) {
	bs, err := s.buckets(ctx, sess, store.Raw, id, from, to)
	if err != nil {
		return nil, err
	}
	var out []store.Point
	for _, b := range bs {
		iter := sess.Query(s.st.selectPoints, id[:], b, from, to, cqlLimit(limit, len(out))).Consistency(s.cons).IterContext(ctx)
		var (
			ts    int64
			value *float64
			str   *string
		)
		for iter.Scan(&ts, &value, &str) {
			p := store.Point{Series: id, TS: ts}
			switch {
			case str != nil:
				p.Str = *str
			case value != nil:
				p.Value = *value
			}
			out = append(out, p)
		}
		if err := iter.Close(); err != nil {
			return nil, fmt.Errorf("bucket %d: %w", b, err)
		}
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

// ReadRollups returns the windows of res of id starting in [from, to), in
// time order, at most limit of them (0: no limit).
func (s *Store) ReadRollups(ctx context.Context, res store.Resolution, id store.SeriesID, from, to int64, limit int) ([]store.Rollup, error) {
	if res == store.Raw || !res.Valid() {
		return nil, fmt.Errorf("cassandra: rollups of %s: resolution %s has no rollups", id, res)
	}
	if from >= to || limit < 0 {
		return nil, nil
	}
	sess, err := s.session()
	if err != nil {
		return nil, err
	}
	out, err := s.rollups(ctx, sess, res, id, from, to, limit)
	if err = s.health.observe(err); err != nil {
		return nil, fmt.Errorf("cassandra: %s rollups of %s: %w", res, id, err)
	}
	return out, nil
}

func (s *Store) rollups(ctx context.Context, sess *gocql.Session, res store.Resolution, id store.SeriesID, from, to int64, limit int) ([]store.Rollup, error) {
	bs, err := s.buckets(ctx, sess, res, id, from, to)
	if err != nil {
		return nil, err
	}
	var out []store.Rollup
	for _, b := range bs {
		iter := sess.Query(s.st.selectRollups[res], id[:], b, from, to, cqlLimit(limit, len(out))).Consistency(s.cons).IterContext(ctx)
		r := store.Rollup{Series: id}
		for iter.Scan(&r.TS, &r.Count, &r.Sum, &r.Min, &r.Max, &r.First, &r.Last, &r.Increase) {
			out = append(out, r)
		}
		if err := iter.Close(); err != nil {
			return nil, fmt.Errorf("bucket %d: %w", b, err)
		}
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

// LatestResults returns the latest result of every check of one agent,
// ordered by check.
func (s *Store) LatestResults(ctx context.Context, tenant, agent string) ([]store.CheckResult, error) {
	sess, err := s.session()
	if err != nil {
		return nil, err
	}
	iter := sess.Query(s.st.selectLatest, tenant, agent).Consistency(s.cons).IterContext(ctx)
	var (
		out    []store.CheckResult
		r      = store.CheckResult{Agent: agent}
		status int
		dur    int64
	)
	for iter.Scan(&r.Check, &r.TS, &status, &r.Message, &dur) {
		r.Status = store.Status(status)
		r.DurationMS = uint32(min(max(dur, 0), math.MaxUint32))
		out = append(out, r)
	}
	if err := s.health.observe(iter.Close()); err != nil {
		return nil, fmt.Errorf("cassandra: results of %s/%s: %w", tenant, agent, err)
	}
	return out, nil
}

// maxHistoryDays bounds the partitions one History call reads.
const maxHistoryDays = 1000

// History returns the results of one check with from <= ts < to in time
// order, one day partition at a time; of a range wider than
// maxHistoryDays, only the last maxHistoryDays days are read.
func (s *Store) History(ctx context.Context, tenant, agent, check string, from, to int64, limit int) ([]store.CheckResult, error) {
	if from >= to {
		return nil, nil
	}
	sess, err := s.session()
	if err != nil {
		return nil, err
	}
	width := store.Raw.BucketWidth()
	first, last := store.BucketOf(from, width), store.BucketOf(to-1, width)
	first = max(first, last-maxHistoryDays+1)
	var out []store.CheckResult
	for day := first; day <= last; day++ {
		n := math.MaxInt32
		if limit > 0 {
			n = limit - len(out)
			if n <= 0 {
				break
			}
		}
		iter := sess.Query(s.st.selectHistory, tenant, agent, check, day, from, to, n).Consistency(s.cons).IterContext(ctx)
		r := store.CheckResult{Agent: agent, Check: check}
		var (
			status int
			dur    int64
		)
		for iter.Scan(&r.TS, &status, &r.Message, &dur) {
			r.Status = store.Status(status)
			r.DurationMS = uint32(min(max(dur, 0), math.MaxUint32))
			out = append(out, r)
		}
		if err := s.health.observe(iter.Close()); err != nil {
			return nil, fmt.Errorf("cassandra: history of %s/%s: %w", agent, check, err)
		}
	}
	return out, nil
}
