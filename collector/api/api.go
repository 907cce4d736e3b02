// Package api serves the collector's HTTP API (DESIGN §7): health checks
// for load balancers, the token-protected /v1 endpoints (queries, token
// administration, enrollment, HTTPS ingest), the Prometheus query API
// under /prometheus/api/v1/ and the collector's own /metrics.
//
// Handlers return a value or an error (errors.go); one wrapper checks the
// token, writes the answer as JSON and logs each 5xx once.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/vigilmon/vigil/collector/ingest"
	"github.com/vigilmon/vigil/collector/metrics"
	"github.com/vigilmon/vigil/collector/promapi"
	"github.com/vigilmon/vigil/collector/querylimit"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/internal/lograte"
)

// API is the HTTP handler of the collector.
type API struct {
	Store store.Store
	Log   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Observer, if set, is told of each batch POST /v1/ingest stored
	// (alarm evaluation), as on the QUIC path.
	Observer ingest.BatchObserver
	// Alarms, if set, is told of each change to a tenant's alarms,
	// plans and suppressions (the alarm evaluator), so they apply at once.
	Alarms Invalidator
	// Validator checks batches sent to POST /v1/ingest; a zero MaxAge
	// means the default raw retention (ingest.go).
	Validator ingest.Validator
	// Name is this collector's name, recorded on agents that deliver over HTTPS.
	Name string
	// Retention of each resolution, for /v1/query's choice of resolution;
	// zero entries mean store.DefaultRetention.
	Retention store.Retention
	// Metrics is served at GET /metrics and counts requests; nil: the
	// route answers 404 and nothing is counted.
	Metrics *metrics.Metrics
	// Version is the collector's, reported by the Prometheus API's
	// status/buildinfo.
	Version string
	// Query bounds the cost of /v1/query and the Prometheus API's query
	// and query_range, with one queue for all of them; nil means
	// querylimit.Defaults.
	Query *querylimit.Guard

	// StoreDeadline bounds how long POST /v1/ingest waits for the store
	// before answering 503 retry_later; zero: ingest.DefaultStoreDeadline.
	StoreDeadline time.Duration

	// Ready, when set, is asked by /readyz after the store's Ping: an
	// error (writes refused, reads failing) makes it 503 with the reason.
	Ready func() error

	// Prom, when set, is the Prometheus API, shared with the rule runner
	// so both use one engine; nil: one made from the fields above.
	Prom *promapi.API

	promOnce sync.Once
	prom     *promapi.API

	seen seenAgents // when each agent delivering over HTTPS was last recorded

	writes sync.WaitGroup  // ingest store writes still running after their answer
	logs   lograte.Limiter // warnings a client can trigger
}

// route is one served endpoint: a ServeMux pattern ("METHOD /path").
type route struct {
	pattern string
	h       http.Handler
}

// routes are the endpoints of DESIGN §7; openapi_test.go checks that
// each is in openapi.json.
func (a *API) routes() []route {
	rs := []route{
		{"GET /healthz", http.HandlerFunc(a.healthz)},
		{"GET /readyz", http.HandlerFunc(a.readyz)},
		{"GET /v1/openapi.json", http.HandlerFunc(serveOpenAPI)},
		{"GET /v1/agents", a.read(a.agents)},
		{"GET /v1/agents/{id}/checks", a.read(a.agentChecks)},
		{"GET /v1/checks/{agent}/{check}/history", a.read(a.checkHistory)},
		{"GET /v1/series", a.read(a.series)},
		{"GET /v1/query", a.read(a.query)},
		{"GET /v1/latest", a.read(a.latest)},
		{"POST /v1/tokens", a.admin(a.createToken)},
		{"GET /v1/tokens", a.admin(a.listTokens)},
		{"DELETE /v1/tokens/{id}", a.admin(a.revokeToken)},
		{"POST /v1/ingest", a.serve("send results", []store.Role{store.RoleAgent}, MaxIngestBody, writeVigilError, a.ingest)},
		{"POST /v1/enroll", a.serve("enroll agents", []store.Role{store.RoleEnroll, store.RoleAdmin}, maxEnrollBody, writeVigilError, a.enroll)},
		{"GET /v1/alarms", a.read(listPaged("alarms", func(ctx context.Context, t string) ([]store.Alarm, error) { return a.Store.Alarms(ctx, t) }, func(al *store.Alarm) string { return al.ID }, alarmOut))},
		{"POST /v1/alarms", a.alarmAdmin(a.createAlarm)},
		{"POST /v1/alarms/test", a.alarmTest(a.testAlarm)},
		{"GET /v1/alarms/{id}", a.read(a.getAlarm)},
		{"PUT /v1/alarms/{id}", a.alarmAdmin(a.updateAlarm)},
		{"DELETE /v1/alarms/{id}", a.alarmAdmin(a.deleteAlarm)},
		{"GET /v1/alarms/{id}/states", a.read(a.alarmStates)},
		{"GET /v1/alarms/{id}/history", a.read(a.alarmHistory)},
		{"POST /v1/alarms/{id}/backtest", a.alarmTest(a.backtestAlarm)},
		{"GET /v1/notification-plans", a.read(listPaged("plans", func(ctx context.Context, t string) ([]store.NotificationPlan, error) { return a.Store.Plans(ctx, t) }, func(p *store.NotificationPlan) string { return p.ID }, planOut))},
		{"POST /v1/notification-plans", a.alarmAdmin(a.createPlan)},
		{"GET /v1/notification-plans/{id}", a.read(a.getPlan)},
		{"PUT /v1/notification-plans/{id}", a.alarmAdmin(a.updatePlan)},
		{"DELETE /v1/notification-plans/{id}", a.alarmAdmin(a.deletePlan)},
		{"GET /v1/suppressions", a.read(listPaged("suppressions", func(ctx context.Context, t string) ([]store.Suppression, error) { return a.Store.Suppressions(ctx, t) }, func(s *store.Suppression) string { return s.ID }, suppressionOut))},
		{"POST /v1/suppressions", a.alarmAdmin(a.createSuppression)},
		{"GET /v1/suppressions/{id}", a.read(a.getSuppression)},
		{"PUT /v1/suppressions/{id}", a.alarmAdmin(a.updateSuppression)},
		{"DELETE /v1/suppressions/{id}", a.alarmAdmin(a.deleteSuppression)},
	}
	if a.Metrics != nil {
		rs = append(rs, route{"GET /metrics", a.Metrics.Handler()})
	}
	// The Prometheus HTTP API, for Grafana and promtool: the tenant is the
	// token's, as everywhere.
	a.promOnce.Do(func() {
		if a.Query == nil {
			a.Query = &querylimit.Guard{Log: a.Log, Counter: a.Metrics}
		}
		a.prom = a.Prom
		if a.prom == nil {
			a.prom = &promapi.API{Store: a.Store, Retention: a.Retention, Version: a.Version, Now: a.Now, Guard: a.Query, Log: a.Log}
		}
	})
	for _, ep := range a.prom.Endpoints() {
		h := a.promRead(ep.Serve)
		rs = append(rs, route{"GET /prometheus/api/v1" + ep.Path, h}, route{"POST /prometheus/api/v1" + ep.Path, h})
	}
	return rs
}

// promRead wraps serve, an endpoint of the Prometheus API, so it only runs
// for a valid read (or admin) token; the token's errors are written in
// Prometheus' shape, and serve writes its own answers.
func (a *API) promRead(serve func(w http.ResponseWriter, r *http.Request, tenant string)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, err := a.authenticate(r, "read", readRoles...)
		if err != nil {
			a.answer(w, r, tok, nil, err, writePromError)
			return
		}
		serve(w, r, tok.Tenant)
	})
}

// Handler returns the routes.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, r := range a.routes() {
		mux.Handle(r.pattern, r.h)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
	})
	// Any other path or method under /prometheus/ is answered in
	// Prometheus' shape too, after the token check as for the rest.
	mux.Handle("/prometheus/", a.promRead(func(w http.ResponseWriter, r *http.Request, _ string) {
		promapi.WriteError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path))
	}))
	return a.Metrics.HTTP(mux)
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.Store.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "store": err.Error()})
		return
	}
	if a.Ready != nil {
		if err := a.Ready(); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "store": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "store": "ok"})
}

// bearer takes the token from a Bearer header or from the password of basic
// auth, for clients (Grafana, promtool) that can only send the latter.
func bearer(r *http.Request) (string, bool) {
	// The scheme is case-insensitive (RFC 7235 §2.1): "bearer" is Bearer.
	h := r.Header.Get("Authorization")
	if scheme, t, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
		if t = strings.TrimSpace(t); t != "" {
			return t, true
		}
	}
	if _, pw, ok := r.BasicAuth(); ok && pw != "" {
		return pw, true
	}
	return "", false
}
