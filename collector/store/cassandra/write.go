package cassandra

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vigilmon/vigil/collector/store"
)

// maxBatch bounds the rows of one unlogged batch (all in one partition),
// keeping batches under Cassandra's batch size warning for typical rows.
const maxBatch = 50

// known holds what this process has written, so Write skips rewriting
// series definitions, series_agents rows and bucket index rows. Lost on
// restart (the rows are rewritten, idempotently); each map is cleared when
// it grows past a bound.
type known struct {
	sync.Mutex
	series  map[store.SeriesID]seriesMeta
	agents  map[[2]string]struct{}
	buckets map[bucketKey]struct{}
}

type seriesMeta struct {
	typ  store.MetricType
	unit string
}

type bucketKey struct {
	id     store.SeriesID
	res    store.Resolution
	bucket int64
}

const maxKnown = 1 << 20

func (k *known) init() {
	k.series = make(map[store.SeriesID]seriesMeta)
	k.agents = make(map[[2]string]struct{})
	k.buckets = make(map[bucketKey]struct{})
}

// job is one request (a statement or a batch) of a Write.
type job struct {
	stmt  string
	args  []any
	batch []gocql.BatchEntry // set for a batch; stmt and args unused
}

// exec runs one job.
func (s *Store) exec(ctx context.Context, sess *gocql.Session, j *job) error {
	if j.batch == nil {
		return sess.Query(j.stmt, j.args...).Consistency(s.cons).Idempotent(true).ExecContext(ctx)
	}
	b := sess.Batch(gocql.UnloggedBatch).Consistency(s.cons)
	b.Entries = j.batch
	return b.ExecContext(ctx)
}

// run executes jobs, at most cfg.WriteConcurrency at a time across the
// store, and returns the first error (cancelling the rest).
func (s *Store) run(ctx context.Context, sess *gocql.Session, jobs []job) error {
	if len(jobs) == 1 {
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { <-s.sem }()
		return s.exec(ctx, sess, &jobs[0])
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	fail := func(err error) {
		once.Do(func() { first = err; cancel() })
	}
loop:
	for i := range jobs {
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			fail(ctx.Err())
			break loop
		}
		wg.Go(func() {
			defer func() { <-s.sem }()
			if err := s.exec(ctx, sess, &jobs[i]); err != nil {
				fail(err)
			}
		})
	}
	wg.Wait()
	return first
}

// bucketTTL is how long an index row of a bucket of res lives: the
// retention plus the bucket's width, so it outlives every point in it.
func (s *Store) bucketTTL(res store.Resolution) int {
	d := s.cfg.Retention[res] + time.Duration(res.BucketWidth())*time.Millisecond
	return int(min(ttlSeconds(d), math.MaxInt32))
}

// Write stores one request. Every point's series must be defined in
// w.Series, and every series must belong to w.Tenant and carry the id of
// its key; otherwise nothing is written.
func (s *Store) Write(ctx context.Context, w *store.WriteRequest) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cassandra: write: %w", err)
	}
	if len(w.Series) == 0 && len(w.Points) == 0 && len(w.Results) == 0 {
		return nil
	}
	sess, err := s.session()
	if err != nil {
		return err
	}
	var (
		jobs       []job
		types      = make(map[store.SeriesID]store.MetricType, len(w.Series))
		newSeries  []int
		newAgents  [][2]string
		newBuckets []bucketKey
	)
	s.known.Lock()
	for i := range w.Series {
		sr := &w.Series[i]
		if sr.Tenant != w.Tenant {
			s.known.Unlock()
			return fmt.Errorf("cassandra: write: series %s belongs to tenant %q, request to %q", sr.ID, sr.Tenant, w.Tenant)
		}
		types[sr.ID] = sr.Type
		if m, ok := s.known.series[sr.ID]; ok && m.typ == sr.Type && m.unit == sr.Unit {
			continue
		}
		if err := sr.Validate(); err != nil {
			s.known.Unlock()
			return fmt.Errorf("cassandra: write: %w", err)
		}
		jobs = append(jobs, job{stmt: s.st.insertSeries, args: []any{sr.Tenant, sr.Agent, sr.Check, sr.Metric,
			encodeLabels(sr.Labels), sr.ID[:], int(sr.Type), sr.Unit}})
		newSeries = append(newSeries, i)
		ta := [2]string{sr.Tenant, sr.Agent}
		if _, ok := s.known.agents[ta]; !ok && !slices.Contains(newAgents, ta) {
			jobs = append(jobs, job{stmt: s.st.insertSeriesAgent, args: []any{sr.Tenant, sr.Agent}})
			newAgents = append(newAgents, ta)
		}
	}

	// Points by partition, in order of first appearance.
	type partition struct {
		id     store.SeriesID
		bucket int64
	}
	width := store.Raw.BucketWidth()
	parts := make(map[partition][]int)
	var order []partition
	for i := range w.Points {
		p := &w.Points[i]
		if _, ok := types[p.Series]; !ok {
			s.known.Unlock()
			return fmt.Errorf("cassandra: write: point %d: series %s is not defined in the request", i, p.Series)
		}
		k := partition{p.Series, store.BucketOf(p.TS, width)}
		if _, ok := parts[k]; !ok {
			order = append(order, k)
			bk := bucketKey{k.id, store.Raw, k.bucket}
			if _, ok := s.known.buckets[bk]; !ok {
				newBuckets = append(newBuckets, bk)
			}
		}
		parts[k] = append(parts[k], i)
	}
	s.known.Unlock()

	for _, bk := range newBuckets {
		jobs = append(jobs, job{stmt: s.st.insertBucket, args: []any{bk.id[:], int(bk.res), bk.bucket, s.bucketTTL(bk.res)}})
	}
	for _, k := range order {
		idx := parts[k]
		isString := types[k.id] == store.String
		entry := func(i int) (string, []any) {
			p := &w.Points[i]
			if isString {
				return s.st.insertStringPoint, []any{p.Series[:], k.bucket, p.TS, p.Str}
			}
			return s.st.insertPoint, []any{p.Series[:], k.bucket, p.TS, p.Value}
		}
		if len(idx) == 1 {
			stmt, args := entry(idx[0])
			jobs = append(jobs, job{stmt: stmt, args: args})
			continue
		}
		for chunk := range slices.Chunk(idx, maxBatch) {
			b := make([]gocql.BatchEntry, len(chunk))
			for j, i := range chunk {
				b[j].Stmt, b[j].Args = entry(i)
				b[j].Idempotent = true
			}
			jobs = append(jobs, job{batch: b})
		}
	}
	for i := range w.Results {
		r := &w.Results[i]
		jobs = append(jobs,
			job{stmt: s.st.insertLatest, args: []any{w.Tenant, r.Agent, r.Check, r.TS, int(r.Status), r.Message, int64(r.DurationMS), writeTime(r.TS)}},
			job{stmt: s.st.insertHistory, args: []any{w.Tenant, r.Agent, r.Check, store.BucketOf(r.TS, width), r.TS, int(r.Status), r.Message, int64(r.DurationMS)}})
	}

	if err := s.health.observe(s.run(ctx, sess, jobs)); err != nil {
		return fmt.Errorf("cassandra: write %d points, %d series, %d results: %w", len(w.Points), len(newSeries), len(w.Results), err)
	}

	s.known.Lock()
	defer s.known.Unlock()
	if len(s.known.series) > maxKnown || len(s.known.buckets) > maxKnown || len(s.known.agents) > maxKnown {
		s.known.init()
	}
	for _, i := range newSeries {
		sr := &w.Series[i]
		s.known.series[sr.ID] = seriesMeta{sr.Type, sr.Unit}
	}
	for _, ta := range newAgents {
		s.known.agents[ta] = struct{}{}
	}
	for _, bk := range newBuckets {
		s.known.buckets[bk] = struct{}{}
	}
	return nil
}

// WriteRollups upserts windows of res (Res5m or Res1h): one unlogged batch
// per partition, partitions concurrently.
func (s *Store) WriteRollups(ctx context.Context, res store.Resolution, rs []store.Rollup) error {
	if res == store.Raw || !res.Valid() {
		return fmt.Errorf("cassandra: write rollups: resolution %s has no rollups", res)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cassandra: write %s rollups: %w", res, err)
	}
	if len(rs) == 0 {
		return nil
	}
	sess, err := s.session()
	if err != nil {
		return err
	}
	width := res.BucketWidth()
	type partition struct {
		id     store.SeriesID
		bucket int64
	}
	parts := make(map[partition][]int)
	var (
		order      []partition
		newBuckets []bucketKey
	)
	s.known.Lock()
	for i := range rs {
		r := &rs[i]
		if r.TS != store.Floor(r.TS, res.Window()) {
			s.known.Unlock()
			return fmt.Errorf("cassandra: write %s rollups: window %d of %s is not on the %s grid", res, r.TS, r.Series, res)
		}
		k := partition{r.Series, store.BucketOf(r.TS, width)}
		if _, ok := parts[k]; !ok {
			order = append(order, k)
			if _, ok := s.known.buckets[bucketKey{k.id, res, k.bucket}]; !ok {
				newBuckets = append(newBuckets, bucketKey{k.id, res, k.bucket})
			}
		}
		parts[k] = append(parts[k], i)
	}
	s.known.Unlock()
	var jobs []job
	for _, bk := range newBuckets {
		jobs = append(jobs, job{stmt: s.st.insertBucket, args: []any{bk.id[:], int(bk.res), bk.bucket, s.bucketTTL(res)}})
	}
	for _, k := range order {
		for chunk := range slices.Chunk(parts[k], maxBatch) {
			b := make([]gocql.BatchEntry, len(chunk))
			for j, i := range chunk {
				r := &rs[i]
				b[j] = gocql.BatchEntry{Stmt: s.st.insertRollup[res], Idempotent: true,
					Args: []any{r.Series[:], k.bucket, r.TS, r.Count, r.Sum, r.Min, r.Max, r.First, r.Last, r.Increase}}
			}
			if len(b) == 1 {
				jobs = append(jobs, job{stmt: b[0].Stmt, args: b[0].Args})
			} else {
				jobs = append(jobs, job{batch: b})
			}
		}
	}
	if err := s.health.observe(s.run(ctx, sess, jobs)); err != nil {
		return fmt.Errorf("cassandra: write %d %s rollups: %w", len(rs), res, err)
	}
	s.known.Lock()
	for _, bk := range newBuckets {
		s.known.buckets[bk] = struct{}{}
	}
	s.known.Unlock()
	return nil
}

// DeleteBefore does nothing: every time series table expires its rows by
// TTL (default_time_to_live, from the retention given to Schema).
func (s *Store) DeleteBefore(ctx context.Context, res store.Resolution, cutoff int64) error {
	if !res.Valid() {
		return fmt.Errorf("cassandra: delete before %d: unknown resolution %d", cutoff, res)
	}
	return nil
}

// put runs one write statement.
func (s *Store) put(ctx context.Context, what, stmt string, args ...any) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cassandra: %s: %w", what, err)
	}
	sess, err := s.session()
	if err != nil {
		return err
	}
	if err := s.health.observe(s.run(ctx, sess, []job{{stmt: stmt, args: args}})); err != nil {
		return fmt.Errorf("cassandra: %s: %w", what, err)
	}
	return nil
}
