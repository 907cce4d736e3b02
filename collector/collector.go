// Package collector runs vigil-collector: QUIC ingest from agents, the
// store, and the HTTP API.
package collector

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/vigilmon/vigil/collector/alarmeval"
	"github.com/vigilmon/vigil/collector/api"
	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/ingest"
	"github.com/vigilmon/vigil/collector/metrics"
	"github.com/vigilmon/vigil/collector/promapi"
	"github.com/vigilmon/vigil/collector/querylimit"
	"github.com/vigilmon/vigil/collector/rollup"
	"github.com/vigilmon/vigil/collector/rules"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/cassandra"
	"github.com/vigilmon/vigil/collector/store/pebble"
	"github.com/vigilmon/vigil/protocol"
)

// Version is stamped at build time.
var Version = "dev"

// OpenStore opens the configured backend.
func OpenStore(cfg *Config, log *slog.Logger) (store.Store, error) {
	if cfg.Store.Backend == "cassandra" {
		s, err := cassandra.Open(cfg.CassandraConfig(), log)
		if err != nil {
			return nil, fmt.Errorf("open cassandra store: %w", err)
		}
		return s, nil
	}
	dir := filepath.Join(cfg.DataDir, "store")
	s, err := pebble.Open(dir, pebble.Options{Logger: log, HeadPoints: cfg.Store.HeadPoints, HeadSeries: cfg.Store.HeadSeries,
		MinFreeBytes: cfg.Store.MinFreeBytes})
	if err != nil {
		return nil, fmt.Errorf("open embedded store in %s: %w", dir, err)
	}
	return s, nil
}

// Run serves until ctx is cancelled, then stops accepting, finishes the
// batches in flight (acking what it stored) and closes the store.
func Run(ctx context.Context, cfg *Config, log *slog.Logger) error {
	cert, err := tls.LoadX509KeyPair(cfg.QUIC.CertFile, cfg.QUIC.KeyFile)
	if err != nil {
		return fmt.Errorf("quic: load certificate (quic.cert_file, quic.key_file): %w", err)
	}
	st, err := OpenStore(cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("close store", "err", err)
		}
	}()
	// Ingest writes through the tracker, which queues the windows of what
	// it stored for the rollup job; the API and ingest see the store
	// through the latency metrics.
	m := metrics.New()
	timed := metrics.Store(st, m)
	tracked := rollup.Track(timed)
	job := &rollup.Job{Store: timed, Log: log.With("component", "rollup"), Retention: cfg.Retention()}
	m.RollupLag(job.Lag)
	if h, ok := st.(interface{ HeadPoints() int }); ok {
		m.StoreHead(h.HeadPoints, cfg.Store.HeadPoints)
	}
	// The embedded store's own state: free-space floor, write faults,
	// failed reads, for /readyz and /metrics.
	var ready func() error
	if p, ok := st.(*pebble.Store); ok {
		ready = p.Ready
		m.StoreHealth(func() metrics.StoreHealth {
			h := p.Health()
			return metrics.StoreHealth{FreeBytes: h.FreeBytes, MinFreeBytes: h.MinFreeBytes, ReadOnly: h.ReadOnly,
				ReadErrors: h.ReadErrors, Refused: h.Refused}
		})
	}

	// Token checks (QUIC Hello, each batch, the API) go through the
	// token cache, so a slow or failing store does not refuse agents it
	// accepted a moment ago; revocations through the API drop the entry.
	tokens := auth.NewTokenCache(tracked, cfg.TokenCacheConfig(), log, m)
	m.ShowTokenLookups()
	ing := &ingest.Server{
		Store: tokens,
		Log:   log,
		Name:  cfg.Name,
		Validator: ingest.Validator{MaxAge: cfg.Store.RawRetention.Duration,
			Series: ingest.NewSeriesLimiter(cfg.SeriesLimits(), log.With("component", "limits"))},
		MaxInflight:   cfg.QUIC.MaxInflight,
		MaxFrameBytes: protocol.DefaultMaxFrameBytes,
		Metrics:       m,
		HelloTimeout:  cfg.Ingest.HelloTimeout.Duration,
		StoreDeadline: cfg.Ingest.StoreDeadline.Duration,
		Admission:     ingest.Admission{MaxPending: cfg.QUIC.Hello.MaxPending, RetryAfterMax: cfg.QUIC.Hello.RetryAfterMax.Duration},
	}
	alarms, err := startAlarms(cfg, st, m, log)
	if err != nil {
		return err
	}
	if alarms != nil {
		ing.Observer = alarms
	}
	qln, err := ing.Listen(cfg.QUIC.Listen, cert)
	if err != nil {
		return err
	}
	defer qln.Close()

	hln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http: listen on %s: %w", cfg.HTTP.Listen, err)
	}
	// One queue and one set of limits for every query endpoint.
	queries := &querylimit.Guard{Limits: cfg.Query.Limits(), Log: log.With("component", "query"), Counter: m}
	prom := &promapi.API{Store: tokens, Retention: cfg.Retention(), Version: Version, Guard: queries, Log: log}
	ruleSet, err := startRules(cfg, prom, m, log)
	if err != nil {
		return err
	}
	prom.Rules = ruleSet
	apiH := &api.API{Prom: prom, Store: tokens, Log: log, Name: cfg.Name, Validator: ing.Validator, Retention: cfg.Retention(), Metrics: m, Version: Version,
		Query: queries, StoreDeadline: cfg.Ingest.StoreDeadline.Duration, Ready: ready}
	if alarms != nil {
		apiH.Observer = alarms
		// Changes made through this collector apply here at once; another
		// collector holding a tenant's lease sees them at its refresh.
		apiH.Alarms = alarms
	}
	srv := &http.Server{
		Handler:           apiH.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      httpWriteTimeout, // above query.timeout (config.go)
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if cfg.HTTP.CertFile != "" {
		scheme = "https"
	}
	log.Info("collector started", "name", cfg.Name, "quic", qln.Addr().String(),
		"api", scheme+"://"+hln.Addr().String(), "data_dir", cfg.DataDir, "version", Version)

	ictx, stopIngest := context.WithCancel(context.Background())
	defer stopIngest()
	errc := make(chan error, 4)
	var wg sync.WaitGroup
	wg.Go(func() { errc <- ing.Serve(ictx, qln) })
	wg.Go(func() { errc <- job.Run(ictx) }) // rollups and retention, stopped with ingest
	if alarms != nil {
		wg.Go(func() { errc <- alarms.Run(ictx) }) // stopped with ingest; releases its leases
	}
	if ruleSet.Len() > 0 {
		wg.Go(func() { ruleSet.Run(ictx, log.With("component", "rules")) }) // stopped with ingest
	}
	wg.Go(func() {
		var err error
		if cfg.HTTP.CertFile != "" {
			err = srv.ServeTLS(hln, cfg.HTTP.CertFile, cfg.HTTP.KeyFile)
		} else {
			err = srv.Serve(hln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	})

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("collector stopping")
	case runErr = <-errc:
		log.Error("collector failing", "err", runErr)
	}
	// Stop accepting, let in-flight batches be stored and acked, and only
	// then close the QUIC transport (closing it first would cut the acks)
	// and, deferred, the store.
	stopIngest()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("HTTP API connections still open after 10 s; closing them", "err", err)
		srv.Close()
	}
	apiH.Wait() // HTTPS ingest writes that outlived their answer
	wg.Wait()
	qln.Close()
	log.Info("collector stopped")
	return runErr
}

// startAlarms makes the alarm evaluator if [alarms] enables it and the
// store keeps alarms; nil otherwise.
func startAlarms(cfg *Config, st store.Store, m *metrics.Metrics, log *slog.Logger) (*alarmeval.Evaluator, error) {
	if !cfg.Alarms.On() {
		return nil, nil
	}
	as, ok := st.(store.AlarmStore)
	if !ok {
		log.Warn("alarms: the store keeps no alarms; alarms are not evaluated")
		return nil, nil
	}
	// Unique per run: a restarted collector must not renew the lease of
	// its previous run, whose state it does not have.
	var suffix [6]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return nil, fmt.Errorf("alarms: lease owner id: %w", err)
	}
	a := cfg.Alarms
	e := alarmeval.New(alarmeval.Config{Store: as, Owner: cfg.Name + "/" + hex.EncodeToString(suffix[:]),
		LeaseTTL: a.LeaseTTL.Duration, QueueSize: a.QueueSize, Refresh: a.Refresh.Duration,
		DeliveryConcurrency: a.DeliveryConcurrency, Log: log.With("component", "alarms")})
	if err := e.Register(m.Registry()); err != nil {
		return nil, fmt.Errorf("alarms: %w", err)
	}
	return e, nil
}

// startRules loads the rule files of [rules], each tenant's groups
// querying through prom (its engine, the tenant's series, the [query]
// limits). A bad file stops the start with the loader's error, naming
// the file, group and rule.
func startRules(cfg *Config, prom *promapi.API, m *metrics.Metrics, log *slog.Logger) (*rules.Set, error) {
	set, err := rules.LoadSet(cfg.RuleFiles(), cfg.RuleLimits(), prom.RuleQueryFunc, nil)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	m.ShowRules(func() metrics.RuleStats {
		s := set.Stats()
		return metrics.RuleStats{Evaluations: s.Evaluations, Failures: s.Failures, Firing: s.Firing}
	})
	if n := set.Len(); n > 0 {
		log.Info("rules loaded", "groups", n, "tenants", len(cfg.Rules.Tenants))
	}
	return set, nil
}
