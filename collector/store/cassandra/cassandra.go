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
//
// # Files
//
// As in package pebble: cassandra.go connects and closes, write.go writes,
// read.go reads, meta.go keeps agents, tokens, queue and cursors,
// records.go holds the codecs, schema.go and cql.go the tables and
// statements, alarm.go the alarm store (store.AlarmStore), the only user
// of lightweight transactions. ../README.md lists them all.
package cassandra

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
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
		// Recorded for Health and logged once; New still succeeds, and
		// keepConnecting retries in the background.
		_ = s.health.observe(err)
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
			_ = s.health.observe(nil) // marks the store up again; nil in, nil out
			s.log.Info("connected", "hosts", strings.Join(s.cfg.Hosts, ","), "local_dc", s.cfg.LocalDC, "attempts", s.attempts.Load())
			return
		}
		s.log.Debug("connect failed; retrying", "attempt", s.attempts.Load(), "err", err)
		kind := failureKind(err)
		if kind == "schema" {
			// Keep failing every call with this: it needs an operator.
			s.connErr.Store(&err)
		}
		_ = s.health.observe(err) // only records the outage: the loop retries
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
	err := sess.Query(s.st.selectCursor, pingCursor).Consistency(s.cons).ScanContext(ctx, &v)
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
