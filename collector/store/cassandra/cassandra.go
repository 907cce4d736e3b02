// Package cassandra is store.Store on Apache Cassandra (2.2 to 5.0) through
// gocql: one keyspace with NetworkTopologyStrategy, a table per resolution
// partitioned by (series, time bucket), TTLs for retention. Schema and
// SchemaText give the schema; Migrate applies it.
//
// # Writes
//
// Every statement is prepared (the driver prepares a statement once per
// connection) and marked idempotent, so the driver may retry it: every
// write is an upsert of the same values. Points of one partition go in
// unlogged batches (one partition: one mutation, no batch log); different
// partitions are written concurrently, at most Config.WriteConcurrency
// requests at a time for the whole store. Write returns nil only when
// every statement succeeded at the configured consistency (LOCAL_QUORUM by
// default); on an error some rows may be written, and the retry of the
// batch writes them again, to the same effect.
//
// # Reads
//
// Reads never scan: a series' points are read partition by partition,
// from the buckets the point_buckets table lists for it; the series index
// is read by (tenant, agent) partition.
//
// # Outages
//
// The host policy is token-aware over DC-aware round robin: requests go
// to a replica in the local data center. A host filter keeps other data
// centers out (unless Config.AllowRemoteDC), so with the local one down
// the store is unavailable rather than quietly cross-region. Each
// connection attempt builds its own policy: gocql panics when one is
// shared between sessions. When requests fail for want of
// nodes (no connection, timeouts, unavailable), Write returns the error,
// so the collector does not ack and agents keep their batches; Ping
// reports the error; the log says so once when it starts and once when a
// request succeeds again. If no node can be reached at Open, the store
// keeps trying in the background, and every call fails with
// ErrUnavailable until it connects.
package cassandra

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vigilmon/vigil/collector/store"
)

// ErrUnavailable is returned while the store has no session (no node could
// be reached since Open); it wraps the last connection error.
var ErrUnavailable = errors.New("cassandra: not connected")

// ErrClosed is returned by every method of a closed Store.
var ErrClosed = errors.New("cassandra: store closed")

// maxBatch bounds the rows of one unlogged batch (all in one partition),
// keeping batches under Cassandra's batch size warning for typical rows.
const maxBatch = 50

// readConcurrency bounds the requests one read (Series, Pending) has in
// flight.
const readConcurrency = 16

// Store is the Cassandra backend. Its methods are safe for concurrent use.
type Store struct {
	cfg     Config
	cluster *gocql.ClusterConfig
	st      *statements
	log     *slog.Logger
	cons    gocql.Consistency

	sess    atomic.Pointer[gocql.Session]
	connErr atomic.Pointer[error] // last failed connect, while sess is nil

	sem    chan struct{} // write requests in flight
	health health
	known  known

	closed    atomic.Bool
	stop      chan struct{}
	connector sync.WaitGroup

	remote   remoteUse // requests outside local_dc, with AllowRemoteDC
	backoff  backoff   // between connection attempts
	attempts atomic.Int64
}

// backoff is the wait between connection attempts: min at first, doubled
// after each failure up to max, with ±20 % jitter so that the collectors
// of a region restarted together do not reconnect in step.
type backoff struct{ min, max time.Duration }

var defaultBackoff = backoff{min: time.Second, max: 30 * time.Second}

var _ store.Store = (*Store)(nil)

// Open connects to the cluster of cfg (after cfg.Defaults). It fails if
// the keyspace lacks the schema (run Migrate). If no node answers, it
// returns a store that keeps connecting in the background; its calls fail
// with ErrUnavailable until then.
func Open(cfg Config, log *slog.Logger) (*Store, error) {
	return open(cfg, log, defaultBackoff)
}

func open(cfg Config, log *slog.Logger, bo backoff) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	if err := cfg.Defaults(); err != nil {
		return nil, err
	}
	log = log.With("component", "cassandra", "keyspace", cfg.Keyspace)
	cluster, err := newCluster(&cfg, log)
	if err != nil {
		return nil, err
	}
	cons, _ := cfg.consistency()
	s := &Store{
		cfg: cfg, cluster: cluster, st: newStatements(cfg.Keyspace), log: log, cons: cons,
		sem: make(chan struct{}, cfg.WriteConcurrency), stop: make(chan struct{}), backoff: bo,
	}
	s.health.log = log
	s.remote = remoteUse{log: log, local: cfg.LocalDC}
	s.known.init()
	if cfg.AllowRemoteDC {
		log.Warn("allow_remote_dc = true: when no node of local_dc is up, requests go to other data centers", "local_dc", cfg.LocalDC)
	}
	err = s.connect()
	var schemaErr *schemaError
	switch {
	case err == nil:
		log.Info("connected", "hosts", strings.Join(cfg.Hosts, ","), "local_dc", cfg.LocalDC, "consistency", cfg.Consistency)
	case errors.As(err, &schemaErr):
		return nil, err
	default:
		s.health.observe(err)
		s.connector.Go(func() { s.keepConnecting(err) })
	}
	return s, nil
}

// schemaError says the keyspace lacks Vigil's tables.
type schemaError struct{ err error }

func (e *schemaError) Error() string { return e.err.Error() }
func (e *schemaError) Unwrap() error { return e.err }

// connect opens a session and checks the schema is there.
func (s *Store) connect() error {
	s.attempts.Add(1)
	cl := *s.cluster // the driver copies it too; only the policy must be new
	policy := newHostPolicy(&s.cfg, &s.remote)
	policy.apply(&cl)
	sess, err := cl.CreateSession()
	if err != nil {
		err = fmt.Errorf("cassandra: connect to %s: %w", strings.Join(s.cfg.Hosts, ","), policy.filter.explain(err))
		s.connErr.Store(&err)
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	if err := s.ping(ctx, sess); err != nil {
		sess.Close()
		if isRequestError(err) {
			return &schemaError{fmt.Errorf("cassandra: keyspace %s has no Vigil schema (run `vigil-collector migrate`): %w", s.cfg.Keyspace, err)}
		}
		err = fmt.Errorf("cassandra: check schema: %w", err)
		s.connErr.Store(&err)
		return err
	}
	s.sess.Store(sess)
	return nil
}

// keepConnecting retries connect with backoff until it succeeds or the
// store is closed. The outage is logged once by health; a change in why
// connecting fails (say, from "connection refused" to a wrong local_dc)
// is logged once more; each attempt only at debug level.
func (s *Store) keepConnecting(first error) {
	wait := s.backoff.min
	lastKind := failureKind(first)
	for {
		select {
		case <-s.stop:
			return
		case <-time.After(jitter(wait)):
		}
		err := s.connect()
		if err == nil {
			s.health.observe(nil)
			s.log.Info("connected", "hosts", strings.Join(s.cfg.Hosts, ","), "local_dc", s.cfg.LocalDC, "attempts", s.attempts.Load())
			return
		}
		s.log.Debug("connect failed; retrying", "attempt", s.attempts.Load(), "err", err)
		kind := failureKind(err)
		if kind == "schema" {
			// Keep failing every call with this: it needs an operator.
			s.connErr.Store(&err)
		}
		s.health.observe(err)
		if kind != lastKind {
			s.log.Error("cassandra still unavailable, for another reason", "err", err)
		}
		lastKind = kind
		wait = min(2*wait, s.backoff.max)
	}
}

// failureKind classes why connecting failed, for logging changes only.
func failureKind(err error) string {
	var schemaErr *schemaError
	switch {
	case errors.As(err, &schemaErr):
		return "schema"
	case errors.Is(err, ErrNoLocalDC):
		return "local_dc"
	}
	return "unreachable"
}

// jitter returns d ± 20 %.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((rand.Float64()-0.5)*0.4*float64(d))
}

// session returns the session, or an error while there is none.
func (s *Store) session() (*gocql.Session, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if sess := s.sess.Load(); sess != nil {
		return sess, nil
	}
	if e := s.connErr.Load(); e != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, *e)
	}
	return nil, ErrUnavailable
}

func newCluster(c *Config, log *slog.Logger) (*gocql.ClusterConfig, error) {
	cons, err := c.consistency()
	if err != nil {
		return nil, err
	}
	cl := gocql.NewCluster(c.Hosts...)
	cl.Port = c.Port
	cl.ProtoVersion = 4 // Cassandra 2.2 to 5.0 all speak it
	cl.Consistency = cons
	cl.Timeout = c.Timeout
	cl.ConnectTimeout = c.ConnectTimeout
	cl.RetryPolicy = &gocql.ExponentialBackoffRetryPolicy{NumRetries: 2, Min: 100 * time.Millisecond, Max: time.Second}
	cl.DefaultIdempotence = true
	cl.ReconnectInterval = 5 * time.Second
	cl.SocketKeepalive = 30 * time.Second
	cl.Metadata.CacheMode = gocql.KeyspaceOnly // enough for token-aware routing
	if c.Username != "" {
		cl.Authenticator = gocql.PasswordAuthenticator{Username: c.Username, Password: c.Password}
	}
	if c.TLS.Enabled {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLS.ServerName}
		if c.TLS.CAFile != "" {
			pem, err := os.ReadFile(c.TLS.CAFile)
			if err != nil {
				return nil, fmt.Errorf("store.cassandra.tls.ca_file: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("store.cassandra.tls.ca_file %s: no PEM certificates in it", c.TLS.CAFile)
			}
		}
		if c.TLS.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("store.cassandra.tls: load cert_file and key_file: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		cl.SslOpts = &gocql.SslOptions{Config: tc, EnableHostVerification: true}
	}
	if log != nil {
		cl.Logger = driverLogger{log.With("component", "gocql")}
	}
	return cl, nil
}

// driverLogger passes the driver's errors and warnings on at debug level:
// during an outage it logs every failed reconnect, and the store's own
// health log already says, once, that Cassandra is down.
type driverLogger struct{ log *slog.Logger }

func (l driverLogger) Error(msg string, fields ...gocql.LogField)   { l.emit(msg, fields) }
func (l driverLogger) Warning(msg string, fields ...gocql.LogField) { l.emit(msg, fields) }
func (l driverLogger) Info(string, ...gocql.LogField)               {}
func (l driverLogger) Debug(string, ...gocql.LogField)              {}

func (l driverLogger) emit(msg string, fields []gocql.LogField) {
	if !l.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	args := make([]any, 0, 2*len(fields))
	for _, f := range fields {
		args = append(args, f.Name, f.Value.String())
	}
	l.log.Debug(msg, args...)
}

// health tracks whether requests fail for want of nodes, and logs each
// change once.
type health struct {
	log   *slog.Logger
	mu    sync.Mutex
	down  bool
	err   error
	since time.Time
}

// observe records the outcome of a request; it returns err.
func (h *health) observe(err error) error {
	outage := err != nil && isOutage(err)
	if err != nil && !outage {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case outage && !h.down:
		h.down, h.err, h.since = true, err, time.Now()
		h.log.Error("cassandra unavailable: writes fail and agents' batches are not acked until it is back", "err", err)
	case outage:
		h.err = err
	case h.down:
		h.down = false
		h.log.Info("cassandra available again", "down_for", time.Since(h.since).Round(time.Millisecond))
	}
	return err
}

// state returns the last outage error, or nil when up.
func (h *health) state() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down {
		return h.err
	}
	return nil
}

// isOutage tells errors that mean "not enough nodes" (which the store
// reports as down) from errors of the request itself.
func isOutage(err error) bool {
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, gocql.ErrNotFound), errors.Is(err, ErrClosed):
		return false
	case isRequestError(err):
		return false
	}
	return true
}

// isRequestError reports whether the server refused the request itself
// (syntax, invalid, unauthorized, configuration).
func isRequestError(err error) bool {
	var re gocql.RequestError
	if !errors.As(err, &re) {
		return false
	}
	switch re.Code() {
	case gocql.ErrCodeSyntax, gocql.ErrCodeInvalid, gocql.ErrCodeUnauthorized, gocql.ErrCodeConfig,
		gocql.ErrCodeAlreadyExists, gocql.ErrCodeCredentials, gocql.ErrCodeFunctionFailure:
		return true
	}
	return false
}

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
		return sess.Query(j.stmt, j.args...).Consistency(s.cons).Idempotent(true).WithContext(ctx).Exec()
	}
	b := sess.Batch(gocql.UnloggedBatch).Consistency(s.cons).WithContext(ctx)
	b.Entries = j.batch
	return b.Exec()
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
		if err := checkSeries(sr); err != nil {
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

// writeTime is the write timestamp (µs) of a check result at ts (ms): the
// newest result wins whatever order they arrive in.
func writeTime(ts int64) int64 {
	const maxMS = math.MaxInt64 / 1000
	return min(max(ts, 1), maxMS) * 1000
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

// encodeLabels flattens sorted labels to key, value, key, value, ...;
// never nil, as a clustering column cannot be null.
func encodeLabels(ls []store.Label) []string {
	out := make([]string, 0, 2*len(ls))
	for _, l := range ls {
		out = append(out, l.Key, l.Value)
	}
	return out
}

func decodeLabels(kv []string) ([]store.Label, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("labels list of odd length %d", len(kv))
	}
	if len(kv) == 0 {
		return nil, nil
	}
	ls := make([]store.Label, len(kv)/2)
	for i := range ls {
		ls[i] = store.Label{Key: kv[2*i], Value: kv[2*i+1]}
	}
	return ls, nil
}

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
		iter := sess.Query(s.st.selectSeriesAgents, f.Tenant).Consistency(s.cons).WithContext(ctx).Iter()
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
	slices.SortFunc(out, func(a, b store.Series) int { return compareKeys(&a.SeriesKey, &b.SeriesKey) })
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
	iter := q.Consistency(s.cons).WithContext(ctx).Iter()
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

// compareKeys orders series keys: tenant, agent, check, metric, then the
// labels as a list of (key, value), all byte-wise.
func compareKeys(a, b *store.SeriesKey) int {
	if c := cmp.Or(cmp.Compare(a.Tenant, b.Tenant), cmp.Compare(a.Agent, b.Agent),
		cmp.Compare(a.Check, b.Check), cmp.Compare(a.Metric, b.Metric)); c != 0 {
		return c
	}
	return slices.CompareFunc(a.Labels, b.Labels, func(x, y store.Label) int {
		return cmp.Or(cmp.Compare(x.Key, y.Key), cmp.Compare(x.Value, y.Value))
	})
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
		Consistency(s.cons).WithContext(ctx).Iter()
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
		iter := sess.Query(s.st.selectPoints, id[:], b, from, to, cqlLimit(limit, len(out))).Consistency(s.cons).WithContext(ctx).Iter()
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
		iter := sess.Query(s.st.selectRollups[res], id[:], b, from, to, cqlLimit(limit, len(out))).Consistency(s.cons).WithContext(ctx).Iter()
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
	iter := sess.Query(s.st.selectLatest, tenant, agent).Consistency(s.cons).WithContext(ctx).Iter()
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
		iter := sess.Query(s.st.selectHistory, tenant, agent, check, day, from, to, n).Consistency(s.cons).WithContext(ctx).Iter()
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

// MarkPending queues windows of res in slot: one unlogged batch per shard.
func (s *Store) MarkPending(ctx context.Context, res store.Resolution, slot int64, ws []store.Window) error {
	if !res.Valid() {
		return fmt.Errorf("cassandra: mark pending: unknown resolution %d", res)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cassandra: mark %s pending: %w", res, err)
	}
	if len(ws) == 0 {
		return nil
	}
	sess, err := s.session()
	if err != nil {
		return err
	}
	var shards [queueShards][]gocql.BatchEntry
	for _, w := range ws {
		sh := shardOf(w.Series)
		shards[sh] = append(shards[sh], gocql.BatchEntry{Stmt: s.st.insertQueue, Idempotent: true,
			Args: []any{int(res), slot, sh, w.Start, w.Series[:]}})
	}
	var jobs []job
	for _, entries := range shards {
		for chunk := range slices.Chunk(entries, maxBatch) {
			if len(chunk) == 1 {
				jobs = append(jobs, job{stmt: chunk[0].Stmt, args: chunk[0].Args})
			} else {
				jobs = append(jobs, job{batch: chunk})
			}
		}
	}
	if err := s.health.observe(s.run(ctx, sess, jobs)); err != nil {
		return fmt.Errorf("cassandra: mark %d %s windows pending: %w", len(ws), res, err)
	}
	return nil
}

func shardOf(id store.SeriesID) int { return int(id[0]) % queueShards }

// Pending returns the windows of res queued in slot, reading its shards
// concurrently.
func (s *Store) Pending(ctx context.Context, res store.Resolution, slot int64) ([]store.Window, error) {
	sess, err := s.session()
	if err != nil {
		return nil, err
	}
	var per [queueShards][]store.Window
	err = parallel(ctx, queueShards, func(ctx context.Context, sh int) error {
		iter := sess.Query(s.st.selectQueue, int(res), slot, sh).Consistency(s.cons).WithContext(ctx).Iter()
		var (
			start int64
			id    []byte
		)
		for iter.Scan(&start, &id) {
			w := store.Window{Start: start}
			if len(id) != len(w.Series) {
				iter.Close()
				return fmt.Errorf("queue row with an id of %d bytes", len(id))
			}
			copy(w.Series[:], id)
			per[sh] = append(per[sh], w)
		}
		return iter.Close()
	})
	if err = s.health.observe(err); err != nil {
		return nil, fmt.Errorf("cassandra: pending %s windows of slot %d: %w", res, slot, err)
	}
	var out []store.Window
	for _, p := range per {
		out = append(out, p...)
	}
	return out, nil
}

// ClearPending deletes the partitions of one slot.
func (s *Store) ClearPending(ctx context.Context, res store.Resolution, slot int64) error {
	sess, err := s.session()
	if err != nil {
		return err
	}
	jobs := make([]job, queueShards)
	for sh := range jobs {
		jobs[sh] = job{stmt: s.st.deleteQueue, args: []any{int(res), slot, sh}}
	}
	if err := s.health.observe(s.run(ctx, sess, jobs)); err != nil {
		return fmt.Errorf("cassandra: clear %s slot %d: %w", res, slot, err)
	}
	return nil
}

// Cursor returns the value stored under name, or store.ErrNotFound.
func (s *Store) Cursor(ctx context.Context, name string) (int64, error) {
	sess, err := s.session()
	if err != nil {
		return 0, err
	}
	var v int64
	err = sess.Query(s.st.selectCursor, name).Consistency(s.cons).WithContext(ctx).Scan(&v)
	if errors.Is(err, gocql.ErrNotFound) {
		return 0, fmt.Errorf("cassandra: cursor %q: %w", name, store.ErrNotFound)
	}
	if err := s.health.observe(err); err != nil {
		return 0, fmt.Errorf("cassandra: cursor %q: %w", name, err)
	}
	return v, nil
}

// SetCursor stores v under name.
func (s *Store) SetCursor(ctx context.Context, name string, v int64) error {
	return s.put(ctx, "set cursor "+name, s.st.insertCursor, name, v)
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

// DeleteBefore does nothing: every time series table expires its rows by
// TTL (default_time_to_live, from the retention given to Schema).
func (s *Store) DeleteBefore(ctx context.Context, res store.Resolution, cutoff int64) error {
	if !res.Valid() {
		return fmt.Errorf("cassandra: delete before %d: unknown resolution %d", cutoff, res)
	}
	return nil
}

// nullTime is nil for the zero time, so it is stored as null.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// UpsertAgent creates or replaces the agent (a.Tenant, a.ID).
func (s *Store) UpsertAgent(ctx context.Context, a store.Agent) error {
	var labels map[string]string
	if len(a.Labels) > 0 {
		labels = a.Labels
	}
	return s.put(ctx, "upsert agent "+a.ID, s.st.insertAgent,
		a.Tenant, a.ID, a.Hostname, a.Version, labels, nullTime(a.LastSeen), a.Connected, a.Collector)
}

// Agents lists the agents of tenant ordered by id.
func (s *Store) Agents(ctx context.Context, tenant string) ([]store.Agent, error) {
	sess, err := s.session()
	if err != nil {
		return nil, err
	}
	iter := sess.Query(s.st.selectAgents, tenant).Consistency(s.cons).WithContext(ctx).Iter()
	var out []store.Agent
	for {
		a := store.Agent{Tenant: tenant}
		var seen time.Time
		if !iter.Scan(&a.ID, &a.Hostname, &a.Version, &a.Labels, &seen, &a.Connected, &a.Collector) {
			break
		}
		if !seen.IsZero() {
			a.LastSeen = seen.UTC()
		}
		out = append(out, a)
	}
	if err := s.health.observe(iter.Close()); err != nil {
		return nil, fmt.Errorf("cassandra: agents of %q: %w", tenant, err)
	}
	return out, nil
}

// PutToken creates or replaces the token with t.Hash: first in the
// tenant's list, then in the table authentication reads, so a token that
// authenticates is always listed (and can be revoked).
func (s *Store) PutToken(ctx context.Context, t store.Token) error {
	if err := s.put(ctx, "put token "+t.ID, s.st.insertTenantToken,
		t.Tenant, t.Hash[:], t.ID, string(t.Role), t.Agent, nullTime(t.Created), nullTime(t.Revoked)); err != nil {
		return err
	}
	return s.put(ctx, "put token "+t.ID, s.st.insertToken,
		t.Hash[:], t.ID, t.Tenant, string(t.Role), t.Agent, nullTime(t.Created), nullTime(t.Revoked))
}

// Tokens lists the tokens of tenant ordered by ID.
func (s *Store) Tokens(ctx context.Context, tenant string) ([]store.Token, error) {
	sess, err := s.session()
	if err != nil {
		return nil, err
	}
	iter := sess.Query(s.st.selectTenantTokens, tenant).Consistency(s.cons).WithContext(ctx).Iter()
	var out []store.Token
	for {
		t := store.Token{Tenant: tenant}
		var (
			hash             []byte
			role             string
			created, revoked time.Time
		)
		if !iter.Scan(&hash, &t.ID, &role, &t.Agent, &created, &revoked) {
			break
		}
		if len(hash) != len(t.Hash) {
			continue
		}
		copy(t.Hash[:], hash)
		t.Role = store.Role(role)
		if !created.IsZero() {
			t.Created = created.UTC()
		}
		if !revoked.IsZero() {
			t.Revoked = revoked.UTC()
		}
		out = append(out, t)
	}
	if err := s.health.observe(iter.Close()); err != nil {
		return nil, fmt.Errorf("cassandra: tokens of %q: %w", tenant, err)
	}
	slices.SortFunc(out, func(a, b store.Token) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// TokenByHash returns the token with hash h, or an error wrapping
// store.ErrNotFound.
func (s *Store) TokenByHash(ctx context.Context, h store.TokenHash) (store.Token, error) {
	sess, err := s.session()
	if err != nil {
		return store.Token{}, err
	}
	t := store.Token{Hash: h}
	var (
		role             string
		created, revoked time.Time
	)
	err = sess.Query(s.st.selectToken, h[:]).Consistency(s.cons).WithContext(ctx).
		Scan(&t.ID, &t.Tenant, &role, &t.Agent, &created, &revoked)
	if errors.Is(err, gocql.ErrNotFound) {
		return store.Token{}, fmt.Errorf("cassandra: token: %w", store.ErrNotFound)
	}
	if err := s.health.observe(err); err != nil {
		return store.Token{}, fmt.Errorf("cassandra: token: %w", err)
	}
	t.Role = store.Role(role)
	if !created.IsZero() {
		t.Created = created.UTC()
	}
	if !revoked.IsZero() {
		t.Revoked = revoked.UTC()
	}
	return t, nil
}

// Ping reads one row at the configured consistency (a single-partition
// read of the cursors table), which needs what writes need: enough
// replicas of the local data center.
func (s *Store) Ping(ctx context.Context) error {
	sess, err := s.session()
	if err != nil {
		return err
	}
	if err := s.health.observe(s.ping(ctx, sess)); err != nil {
		return fmt.Errorf("cassandra: ping: %w", err)
	}
	return nil
}

func (s *Store) ping(ctx context.Context, sess *gocql.Session) error {
	var v int64
	err := sess.Query(s.st.selectCursor, pingCursor).Consistency(s.cons).WithContext(ctx).Scan(&v)
	if errors.Is(err, gocql.ErrNotFound) {
		return nil
	}
	return err
}

// pingCursor is the cursor name Ping reads; it is never written.
const pingCursor = "ping"

// closeTimeout bounds Close. gocql 2.1.2's Session.Close can block for
// good after a node stopped answering mid-request and came back: the
// control connection's reconnect waits on a schema refresh that never
// finishes, and Close waits on it (seen against a real node paused with
// SIGSTOP). Close then gives up after closeTimeout, leaving the driver's
// goroutines to the process's exit.
const closeTimeout = 5 * time.Second

// Close stops connecting and closes the session. Calls after the first
// return ErrClosed.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return ErrClosed
	}
	close(s.stop)
	s.connector.Wait()
	sess := s.sess.Load()
	if sess == nil {
		return nil
	}
	done := make(chan struct{})
	go func() {
		sess.Close()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-time.After(closeTimeout):
		return fmt.Errorf("cassandra: close: the driver did not close its connections within %v; leaving them to process exit", closeTimeout)
	}
}
