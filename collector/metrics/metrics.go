// Package metrics holds the collector's own Prometheus metrics (DESIGN §7,
// GET /metrics): ingest, store latency, HTTP requests and rollup lag.
// Every method of a nil *Metrics does nothing, so components built without
// metrics (tests) need no special case.
package metrics

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigilmon/vigil/collector/querylimit"
	"github.com/vigilmon/vigil/collector/store"
)

// Metrics is the collector's registry and the metrics in it.
type Metrics struct {
	reg *prometheus.Registry

	agentsConnected prometheus.Gauge
	batches         *prometheus.CounterVec   // transport
	points          *prometheus.CounterVec   // transport
	rejected        *prometheus.CounterVec   // reason
	ackLatency      *prometheus.HistogramVec // transport
	storeWrite      prometheus.Histogram
	storeQuery      *prometheus.HistogramVec // op
	storeErrors     *prometheus.CounterVec   // op
	httpRequests    *prometheus.CounterVec   // route, code
	httpDuration    *prometheus.HistogramVec // route
	queryRefused    *prometheus.CounterVec   // reason
	refused         *refusals                // refusals.go

	tokenOnce    sync.Once
	tokenLookups *prometheus.CounterVec // result
}

// latencyBuckets are Prometheus' default buckets (5 ms to 10 s) with 0.5, 1
// and 2.5 ms below them for store writes and cached reads: round bounds, so
// histogram_quantile answers read as the bounds people alert on.
var latencyBuckets = append([]float64{0.0005, 0.001, 0.0025}, prometheus.DefBuckets...)

// New makes a registry with the collector's metrics and the Go runtime's
// and process's own.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.agentsConnected = prometheus.NewGauge(prometheus.GaugeOpts{Name: "vigil_collector_agents_connected",
		Help: "Agents connected over QUIC now."})
	m.batches = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_collector_batches_ingested_total",
		Help: "Batches stored and acked, by transport (quic, https)."}, []string{"transport"})
	m.points = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_collector_points_ingested_total",
		Help: "Points stored, by transport (quic, https)."}, []string{"transport"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_collector_points_rejected_total",
		Help: "Points refused by validation, by reason."}, []string{"reason"})
	m.ackLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vigil_collector_ack_latency_seconds",
		Help: "From a batch read to its ack sent, store write included.", Buckets: latencyBuckets}, []string{"transport"})
	m.storeWrite = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vigil_collector_store_write_seconds",
		Help: "Duration of store writes of ingested batches.", Buckets: latencyBuckets})
	m.storeQuery = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vigil_collector_store_query_seconds",
		Help: "Duration of store reads, by operation.", Buckets: latencyBuckets}, []string{"op"})
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_collector_store_errors_total",
		Help: "Store calls that failed, by operation."}, []string{"op"})
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_collector_http_requests_total",
		Help: "HTTP API requests, by route pattern and status code."}, []string{"route", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "vigil_collector_http_request_duration_seconds",
		Help: "HTTP API request duration, by route pattern.", Buckets: latencyBuckets}, []string{"route"})
	for _, c := range []prometheus.Collector{m.agentsConnected, m.batches, m.points, m.rejected, m.ackLatency,
		m.storeWrite, m.storeQuery, m.storeErrors, m.httpRequests, m.httpDuration} {
		f(c)
	}
	m.initQuery()
	m.refused = newRefusals(m.reg)
	m.initKnown()
	return m
}

// Label values known in advance. A vector shows a series only once it has
// one, so a rule such as rate(vigil_collector_points_rejected_total[5m]) > 0
// would see "no data" until the first refusal; these start at 0 instead.
var (
	// Transports agents deliver batches over.
	Transports = []string{"quic", "https"}
	// RejectReasons are the reasons ingest refuses a point for
	// (ingest.ReasonNames; metrics_test holds the two together).
	RejectReasons = []string{"too_many_results", "bad_check_name", "in_future", "too_old", "too_many_points", "bad_metric",
		"reserved_label", "series_limit"}
	// HelloReasons are the reasons a connection is refused at Hello.
	HelloReasons = []string{"no_hello", "bad_hello", "bad_request", "unsupported_version", "unauthenticated",
		"token_check_failed", "forbidden", "unbound_token", "busy"}
	// BatchReasons are the reasons a batch is answered with a refusal.
	BatchReasons = []string{"oversized", "truncated", "read_error", "empty", "undecodable", "seq_zero", "second_frame",
		"not_finished", "store_busy", "store_deadline", "store_failed", "revoked"}
	// StoreOps are the store calls Store times.
	StoreOps = []string{"write", "series", "points", "rollups", "latest_results", "history", "token"}
)

// initKnown creates the series of the known label values at 0.
func (m *Metrics) initKnown() {
	for _, t := range Transports {
		m.batches.WithLabelValues(t)
		m.points.WithLabelValues(t)
		m.ackLatency.WithLabelValues(t)
		for _, r := range BatchReasons {
			m.refused.batches.WithLabelValues(t, r)
		}
	}
	for _, r := range RejectReasons {
		m.rejected.WithLabelValues(r)
	}
	for _, r := range HelloReasons {
		m.refused.hellos.WithLabelValues(r)
	}
	for _, op := range StoreOps {
		if op != "write" { // timed by store_write_seconds
			m.storeQuery.WithLabelValues(op)
		}
		m.storeErrors.WithLabelValues(op)
	}
}

// Registry is where the metrics are, for tests and further collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// StoreHead exposes how many points the embedded store holds in memory
// (points returns it), against its head_points limit.
func (m *Metrics) StoreHead(points func() int, limit int) {
	if m != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "vigil_collector_store_head_points",
			Help: "Numeric points the embedded store holds in memory, durable in its write-ahead records, not yet written as chunks: " +
				"flushed at store.head_points (" + strconv.Itoa(limit) + ") or after 30 minutes.",
		}, func() float64 { return float64(points()) }))
	}
}

// RollupLagName is the gauge RollupLag exposes.
const RollupLagName = "vigil_collector_rollup_lag_seconds"

// RollupLag exposes lag (the rollup job's Lag) at every scrape as the gauge
// vigil_collector_rollup_lag_seconds, one series per rollup resolution
// whose lag is known. Computed at scrape time, it keeps growing when the
// job is stuck, not only when it runs.
func (m *Metrics) RollupLag(lag func(store.Resolution) (time.Duration, bool)) {
	if m != nil {
		m.reg.MustRegister(&rollupLag{lag: lag, desc: prometheus.NewDesc(RollupLagName,
			"Seconds since the oldest rollup work of this resolution not yet done fell due (its windows' end plus the grace period): "+
				"0 when the rollup job is caught up, at most about its 15 s interval while it keeps up, "+
				"growing a second per second while rollups are stopped or failing.",
			[]string{"resolution"}, nil)})
	}
}

type rollupLag struct {
	desc *prometheus.Desc
	lag  func(store.Resolution) (time.Duration, bool)
}

func (c *rollupLag) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *rollupLag) Collect(ch chan<- prometheus.Metric) {
	for _, res := range store.Resolutions {
		if res.Window() == 0 {
			continue // raw points are not rolled up
		}
		if d, ok := c.lag(res); ok {
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, d.Seconds(), res.String())
		}
	}
}

// AgentConnected adds delta (1 or -1) to the connected agents.
func (m *Metrics) AgentConnected(delta int) {
	if m != nil {
		m.agentsConnected.Add(float64(delta))
	}
}

// Batch counts one stored and acked batch of points, acked d after it was read.
func (m *Metrics) Batch(transport string, points int, d time.Duration) {
	if m == nil {
		return
	}
	m.batches.WithLabelValues(transport).Inc()
	m.points.WithLabelValues(transport).Add(float64(points))
	m.ackLatency.WithLabelValues(transport).Observe(d.Seconds())
}

// Rejected counts n points refused for reason.
func (m *Metrics) Rejected(reason string, n int) {
	if m != nil && n > 0 {
		m.rejected.WithLabelValues(reason).Add(float64(n))
	}
}

// HTTP wraps h, the API's ServeMux, counting requests by the pattern that
// routed them (Request.Pattern, set by the mux), so paths with ids do not
// each become a series.
func (m *Metrics) HTTP(h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" || route == "/" {
			route = "other"
		}
		m.httpRequests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
		m.httpDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// QueryRefusedName counts queries refused by a query limit.
const QueryRefusedName = "vigil_collector_query_refused_total"

// initQuery registers the query limits' refusal counter with each reason
// at 0, so a rate() over it works from the first refusal.
func (m *Metrics) initQuery() {
	m.queryRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: QueryRefusedName,
		Help: "Queries refused by a query limit ([query] in the config), by reason: " + strings.Join(querylimit.Reasons, ", ") + "."},
		[]string{"reason"})
	for _, r := range querylimit.Reasons {
		m.queryRefused.WithLabelValues(r)
	}
	m.reg.MustRegister(m.queryRefused)
}

// QueryRefused counts one query refused by a query limit, by reason
// (querylimit.Reasons).
func (m *Metrics) QueryRefused(reason string) {
	if m != nil {
		m.queryRefused.WithLabelValues(reason).Inc()
	}
}

// StoreHealth is the embedded store's state at a scrape.
type StoreHealth struct {
	FreeBytes, MinFreeBytes uint64
	ReadOnly                bool
	ReadErrors              uint64
	Refused                 map[string]uint64 // by reason
}

// StoreHealth exposes the embedded store's free space against its floor,
// whether it refuses writes, its failed reads and its refused writes by
// reason, read from health at every scrape.
func (m *Metrics) StoreHealth(health func() StoreHealth) {
	if m != nil {
		m.reg.MustRegister(&storeHealth{health: health})
	}
}

var (
	storeFreeDesc = prometheus.NewDesc("vigil_collector_store_free_bytes",
		"Free space of the data directory's file system at the last reading (each second at most).", nil, nil)
	storeMinFreeDesc = prometheus.NewDesc("vigil_collector_store_min_free_bytes",
		"store.min_free_bytes: under this free space writes are refused.", nil, nil)
	storeReadOnlyDesc = prometheus.NewDesc("vigil_collector_store_read_only",
		"1 while the store refuses writes (free space under the floor, disk full, write fault), else 0.", nil, nil)
	storeReadErrorsDesc = prometheus.NewDesc("vigil_collector_store_read_errors_total",
		"Store reads that failed (not cancelled ones): damaged files, I/O errors.", nil, nil)
	storeRefusedDesc = prometheus.NewDesc("vigil_collector_store_writes_refused_total",
		"Writes the store refused, by reason (free_space, disk_full, write_fault).", []string{"reason"}, nil)
)

type storeHealth struct{ health func() StoreHealth }

func (c *storeHealth) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{storeFreeDesc, storeMinFreeDesc, storeReadOnlyDesc, storeReadErrorsDesc, storeRefusedDesc} {
		ch <- d
	}
}

func (c *storeHealth) Collect(ch chan<- prometheus.Metric) {
	h := c.health()
	ro := 0.0
	if h.ReadOnly {
		ro = 1
	}
	ch <- prometheus.MustNewConstMetric(storeFreeDesc, prometheus.GaugeValue, float64(h.FreeBytes))
	ch <- prometheus.MustNewConstMetric(storeMinFreeDesc, prometheus.GaugeValue, float64(h.MinFreeBytes))
	ch <- prometheus.MustNewConstMetric(storeReadOnlyDesc, prometheus.GaugeValue, ro)
	ch <- prometheus.MustNewConstMetric(storeReadErrorsDesc, prometheus.CounterValue, float64(h.ReadErrors))
	for _, reason := range []string{"free_space", "disk_full", "write_fault"} {
		ch <- prometheus.MustNewConstMetric(storeRefusedDesc, prometheus.CounterValue, float64(h.Refused[reason]), reason)
	}
}

// tokenLookups counts token checks by result (see auth.LookupCounter);
// registered on first use, so merges of other metrics stay apart.
var tokenLookupsOpts = prometheus.CounterOpts{Name: "vigil_collector_token_lookups_total",
	Help: "Token checks by result: cached (from memory within token_cache.ttl), store (the store answered), " +
		"stale (the store failed or was slower than token_cache.lookup_timeout; a recently confirmed token was accepted), " +
		"failed (the store failed and no recent confirmation was cached)."}

// TokenLookup counts one token check with result.
func (m *Metrics) TokenLookup(result string) {
	if m == nil {
		return
	}
	m.ShowTokenLookups()
	m.tokenLookups.WithLabelValues(result).Inc()
}

// ShowTokenLookups registers the token check counter, at zero for every
// result, so it shows from the first scrape.
func (m *Metrics) ShowTokenLookups() {
	if m == nil {
		return
	}
	m.tokenOnce.Do(func() {
		m.tokenLookups = prometheus.NewCounterVec(tokenLookupsOpts, []string{"result"})
		m.reg.MustRegister(m.tokenLookups)
		for _, r := range []string{"cached", "store", "stale", "failed"} {
			m.tokenLookups.WithLabelValues(r)
		}
	})
}
