// Package metrics holds the collector's own Prometheus metrics (DESIGN §7,
// GET /metrics): ingest, store latency, HTTP requests and rollup lag.
// Every method of a nil *Metrics does nothing, so components built without
// metrics (tests) need no special case.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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

	hellosRefused *prometheus.CounterVec // reason; see hello.go
}

// latencyBuckets span 0.5 ms to 10 s.
var latencyBuckets = prometheus.ExponentialBucketsRange(0.0005, 10, 16)

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
	m.registerHello()
	return m
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
