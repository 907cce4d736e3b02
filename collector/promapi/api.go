package promapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"

	"github.com/vigilmon/vigil/collector/querylimit"
	"github.com/vigilmon/vigil/collector/store"
)

const (
	// defaultLookback is Prometheus' staleness window.
	defaultLookback = 5 * time.Minute
	// maxPoints bounds the steps of a range query, as Prometheus does.
	maxPoints = 11000
	// rawSpan is the widest range a query reads raw points for; wider
	// ones read rollups at the coarsest window not above the step.
	rawSpan = 26 * time.Hour
	// apiLevel is the Prometheus version whose HTTP API this answers, for
	// clients (Grafana) that choose features by it.
	apiLevel = "2.42.0"
)

var promParser = parser.NewParser(parser.Options{})

// API answers the Prometheus HTTP API for one tenant per request.
type API struct {
	Store store.Store
	// Retention of each resolution, so queries older than the raw
	// retention read rollups; zero entries mean store.DefaultRetention.
	Retention store.Retention
	// Version is Vigil's, reported by status/buildinfo as the revision.
	Version string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Guard bounds query and query_range (length, depth, subquery steps,
	// samples, concurrency, time); nil means querylimit.Defaults, not
	// shared with other endpoints.
	Guard *querylimit.Guard

	once   sync.Once
	engine *promql.Engine
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *API) eng() *promql.Engine {
	a.once.Do(func() {
		if a.Guard == nil {
			a.Guard = &querylimit.Guard{}
		}
		l := a.Guard.L()
		a.engine = promql.NewEngine(promql.EngineOpts{
			MaxSamples:           l.MaxSamples,
			Timeout:              l.Timeout,
			LookbackDelta:        defaultLookback,
			EnableAtModifier:     true,
			EnableNegativeOffset: true,
			// Without it a subquery with no step ([1h:]) calls a nil func.
			NoStepSubqueryIntervalFn: func(int64) int64 { return querylimit.DefaultSubqueryStep.Milliseconds() },
		})
	})
	return a.engine
}

// Endpoint is one route under /prometheus/api/v1/: Path is the
// ServeMux path, Serve answers for a tenant.
type Endpoint struct {
	Path  string
	Serve func(w http.ResponseWriter, r *http.Request, tenant string)
}

// Endpoints lists the routes; each takes GET and form POST.
func (a *API) Endpoints() []Endpoint {
	return []Endpoint{
		{"/query", a.query},
		{"/query_range", a.queryRange},
		{"/series", a.series},
		{"/labels", a.labelNames},
		{"/label/{name}/values", a.labelValues},
		{"/metadata", a.metadata},
		{"/status/buildinfo", a.buildinfo},
	}
}

// apiErr is an error with its Prometheus errorType and HTTP status.
type apiErr struct {
	typ    string
	status int
	err    error
}

func badData(format string, args ...any) *apiErr {
	return &apiErr{"bad_data", http.StatusBadRequest, fmt.Errorf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func respond(w http.ResponseWriter, data any, warnings []string) {
	out := map[string]any{"status": "success", "data": data}
	if len(warnings) > 0 {
		out["warnings"] = warnings
	}
	writeJSON(w, http.StatusOK, out)
}

func fail(w http.ResponseWriter, e *apiErr) {
	writeJSON(w, e.status, map[string]any{"status": "error", "errorType": e.typ, "error": e.err.Error()})
}

// engineErr maps an evaluation error as Prometheus does.
func engineErr(err error) *apiErr {
	var (
		timeout  promql.ErrQueryTimeout
		canceled promql.ErrQueryCanceled
		storeErr promql.ErrStorage
	)
	switch {
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		return &apiErr{"timeout", http.StatusServiceUnavailable, err}
	case errors.As(err, &canceled), errors.Is(err, context.Canceled):
		return &apiErr{"canceled", http.StatusServiceUnavailable, err}
	case errors.Is(err, errTooManySeries):
		return &apiErr{"bad_data", http.StatusUnprocessableEntity, err}
	case errors.As(err, &storeErr):
		return &apiErr{"internal", http.StatusServiceUnavailable, fmt.Errorf("the store failed; try again: %w", err)}
	}
	return &apiErr{"execution", http.StatusUnprocessableEntity, err}
}

func parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		fail(w, badData("parse form: %v", err))
		return false
	}
	return true
}

// parseTime reads Unix seconds (with a fraction) or RFC 3339.
// queryParam parses the form and returns its PromQL expression; it
// answers the request itself when there is none.
func queryParam(w http.ResponseWriter, r *http.Request) (string, bool) {
	if !parseForm(w, r) {
		return "", false
	}
	qs := r.Form.Get("query")
	if qs == "" {
		fail(w, badData("invalid parameter \"query\": empty"))
		return "", false
	}
	return qs, true
}

// requiredTime parses the form's time parameter name, which must be there.
func requiredTime(r *http.Request, name string) (time.Time, *apiErr) {
	v := r.Form.Get(name)
	if v == "" {
		return time.Time{}, badData("invalid parameter %q: missing", name)
	}
	return parseTime(name, v, time.Time{})
}

func parseTime(name, s string, def time.Time) (time.Time, *apiErr) {
	if s == "" {
		return def, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e13 {
			return time.Time{}, badData("invalid parameter %q: %q is out of range", name, s)
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e9))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, badData("invalid parameter %q: cannot parse %q to a valid timestamp", name, s)
}

// parseDuration reads seconds (with a fraction) or a Prometheus duration.
func parseDuration(name, s string) (time.Duration, *apiErr) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		d := f * float64(time.Second)
		if d <= 0 || d > float64(math.MaxInt64) {
			return 0, badData("invalid parameter %q: %q must be a positive duration", name, s)
		}
		return time.Duration(d), nil
	}
	md, err := model.ParseDuration(s)
	d := time.Duration(md)
	if err != nil || d <= 0 {
		return 0, badData("invalid parameter %q: cannot parse %q to a valid duration", name, s)
	}
	return d, nil
}

// resolution picks what a query over [start, end] with step reads: raw
// for short ranges within the raw retention, else the coarsest rollup
// whose window is not above the step (and that still holds start).
func (a *API) resolution(start, end time.Time, step time.Duration) store.Resolution {
	keep := func(r store.Resolution) time.Duration {
		if d := a.Retention[r]; d > 0 {
			return d
		}
		return store.DefaultRetention[r]
	}
	// What the retention forces: the finest resolution that reaches back
	// to start (less the lookback).
	need := store.Raw
	for _, r := range store.Resolutions {
		need = r
		if !start.Add(-defaultLookback).Before(a.now().Add(-keep(r))) {
			break
		}
	}
	res := store.Raw
	if end.Sub(start) > rawSpan {
		for _, r := range store.Resolutions {
			if r != store.Raw && time.Duration(r.Window())*time.Millisecond <= step {
				res = r
			}
		}
	}
	return max(res, need)
}

// opts is the query options for res: the lookback covers a rollup
// window, so every step sees the window before it.
func opts(res store.Resolution) promql.QueryOpts {
	lb := defaultLookback
	if res != store.Raw {
		lb = max(lb, time.Duration(res.Window())*time.Millisecond+time.Minute)
	}
	return promql.NewPrometheusQueryOpts(false, lb, nil)
}

func (a *API) query(w http.ResponseWriter, r *http.Request, tenant string) {
	qs, ok := queryParam(w, r)
	if !ok {
		return
	}
	ts, e := parseTime("time", r.Form.Get("time"), a.now())
	if e != nil {
		fail(w, e)
		return
	}
	res := a.resolution(ts, ts, 0)
	a.run(w, r, tenant, qs, 0, res, func(ctx context.Context, qy storage.Queryable) (promql.Query, error) {
		return a.eng().NewInstantQuery(ctx, qy, opts(res), qs, ts)
	})
}

func (a *API) queryRange(w http.ResponseWriter, r *http.Request, tenant string) {
	qs, ok := queryParam(w, r)
	if !ok {
		return
	}
	start, e := requiredTime(r, "start")
	if e != nil {
		fail(w, e)
		return
	}
	end, e := requiredTime(r, "end")
	if e != nil {
		fail(w, e)
		return
	}
	if end.Before(start) {
		fail(w, badData("invalid parameter \"end\": end timestamp must not be before start time"))
		return
	}
	if r.Form.Get("step") == "" {
		fail(w, badData("invalid parameter \"step\": missing"))
		return
	}
	step, e := parseDuration("step", r.Form.Get("step"))
	if e != nil {
		fail(w, e)
		return
	}
	if end.Sub(start)/step > maxPoints {
		fail(w, badData("exceeded maximum resolution of %d points per timeseries. Try decreasing the query resolution (?step=XX)", maxPoints))
		return
	}
	res := a.resolution(start, end, step)
	a.run(w, r, tenant, qs, end.Sub(start), res, func(ctx context.Context, qy storage.Queryable) (promql.Query, error) {
		return a.eng().NewRangeQuery(ctx, qy, opts(res), qs, start, end, step)
	})
}

// run evaluates the expression qs within the query limits and answers
// the request: the text is checked before it is parsed, the tree before
// it is evaluated, and the store reads and the engine share one samples
// budget. span is a range query's end minus start (0: instant query);
// newQuery parses qs over the queryable.
func (a *API) run(w http.ResponseWriter, r *http.Request, tenant, qs string, span time.Duration, res store.Resolution,
	newQuery func(context.Context, storage.Queryable) (promql.Query, error)) {
	a.eng() // sets a.Guard
	l := a.Guard.L()
	if err := l.CheckText(qs); err != nil {
		fail(w, a.queryErr(err, tenant, qs, 0))
		return
	}
	d := l.Timeout
	if s := r.Form.Get("timeout"); s != "" {
		t, e := parseDuration("timeout", s)
		if e != nil {
			fail(w, e)
			return
		}
		d = min(d, t)
	}
	// From the request's arrival: the queue counts towards the timeout,
	// which must leave time to write the answer before the HTTP server's
	// write timeout cuts the connection.
	ctx, cancel := context.WithTimeout(r.Context(), d)
	defer cancel()
	release, err := a.Guard.Enter(ctx)
	if err != nil {
		if r, ok := querylimit.AsRefusal(err); ok && r.Reason == querylimit.ReasonConcurrency {
			w.Header().Set("Retry-After", "1")
		}
		fail(w, a.queryErr(err, tenant, qs, d))
		return
	}
	defer release()
	q, err := newQuery(ctx, &queryable{st: a.Store, tenant: tenant, res: res, budget: querylimit.NewBudget(l.MaxSamples)})
	if err != nil {
		fail(w, badData("invalid parameter \"query\": %v", err))
		return
	}
	defer q.Close()
	if st, ok := q.Statement().(*parser.EvalStmt); ok {
		if err := l.CheckExpr(st.Expr, span); err != nil {
			fail(w, a.queryErr(err, tenant, qs, d))
			return
		}
	}
	rs := q.Exec(ctx)
	if rs.Err != nil {
		fail(w, a.queryErr(rs.Err, tenant, qs, d))
		return
	}
	a.result(w, rs)
}

// queryErr maps an error of evaluating qs, counting and logging the
// refusals by a query limit; d is the query's timeout.
func (a *API) queryErr(err error, tenant, qs string, d time.Duration) *apiErr {
	var (
		samples promql.ErrTooManySamples
		timeout promql.ErrQueryTimeout
	)
	switch {
	case errors.As(err, &samples):
		err = querylimit.TooManySamples(a.Guard.L().MaxSamples)
	case errors.As(err, &timeout), errors.Is(err, context.DeadlineExceeded):
		err = querylimit.TimedOut(d)
	}
	if !a.Guard.Refused(err, tenant, qs) {
		return engineErr(err)
	}
	r, _ := querylimit.AsRefusal(err)
	switch r.Reason {
	case querylimit.ReasonSamples:
		return &apiErr{"execution", http.StatusUnprocessableEntity, err}
	case querylimit.ReasonConcurrency:
		return &apiErr{"unavailable", http.StatusServiceUnavailable, err}
	case querylimit.ReasonTimeout:
		return &apiErr{"timeout", http.StatusServiceUnavailable, err}
	}
	return badData("invalid parameter \"query\": %v", err)
}

// result renders a query result in Prometheus' JSON. Vectors and
// matrices are written straight into a buffer: a long range query has
// hundreds of thousands of points.
func (a *API) result(w http.ResponseWriter, res *promql.Result) {
	if res.Err != nil {
		fail(w, engineErr(res.Err))
		return
	}
	warnings, _ := res.Warnings.AsStrings("", 10, 10)
	b := make([]byte, 0, 4096)
	b = append(b, `{"status":"success","data":{"resultType":`...)
	switch v := res.Value.(type) {
	case promql.Vector:
		b = append(b, `"vector","result":[`...)
		for i, s := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendMetric(b, s.Metric)
			b = append(b, `,"value":`...)
			b = appendPoint(b, s.T, s.F)
			b = append(b, '}')
		}
		b = append(b, ']')
	case promql.Matrix:
		b = append(b, `"matrix","result":[`...)
		b = appendMatrix(b, v)
		b = append(b, ']')
	case promql.Scalar:
		b = append(b, `"scalar","result":`...)
		b = appendPoint(b, v.T, v.V)
	case promql.String:
		b = append(b, `"string","result":[`...)
		b = appendTS(b, v.T)
		b = append(b, ',')
		b = strconv.AppendQuote(b, v.V)
		b = append(b, ']')
	default:
		fail(w, &apiErr{"internal", http.StatusInternalServerError, fmt.Errorf("unexpected result type %T", res.Value)})
		return
	}
	b = append(b, '}')
	if len(warnings) > 0 {
		ws, _ := json.Marshal(warnings)
		b = append(b, `,"warnings":`...)
		b = append(b, ws...)
	}
	b = append(b, "}\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

func appendMetric(b []byte, ls labels.Labels) []byte {
	m, _ := ls.MarshalJSON()
	b = append(b, `{"metric":`...)
	return append(b, m...)
}

// appendTS appends t (ms) as Unix seconds.
// appendMatrix writes m's series, comma-separated. Formatting floats is
// the larger part of answering a range query (60 series × 361 steps: 2 ms
// of 5), so a large matrix is formatted in parts on GOMAXPROCS goroutines.
func appendMatrix(b []byte, m promql.Matrix) []byte {
	n := 0
	for _, s := range m {
		n += len(s.Floats)
	}
	b = slices.Grow(b, n*36) // `["1795132800.066","12345.678901234"],`
	parts := min(runtime.GOMAXPROCS(0), len(m), n/4096)
	if parts <= 1 {
		return appendSeries(b, m)
	}
	bufs := make([][]byte, parts)
	per := (len(m) + parts - 1) / parts
	var wg sync.WaitGroup
	for i := range parts {
		part := m[min(i*per, len(m)):min((i+1)*per, len(m))]
		wg.Go(func() { bufs[i] = appendSeries(make([]byte, 0, n*36/parts+1024), part) })
	}
	wg.Wait()
	wrote := false
	for _, p := range bufs {
		if len(p) == 0 {
			continue
		}
		if wrote {
			b = append(b, ',')
		}
		b = append(b, p...)
		wrote = true
	}
	return b
}

func appendSeries(b []byte, m promql.Matrix) []byte {
	for i, s := range m {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendMetric(b, s.Metric)
		b = append(b, `,"values":[`...)
		for j, p := range s.Floats {
			if j > 0 {
				b = append(b, ',')
			}
			b = appendPoint(b, p.T, p.F)
		}
		b = append(b, "]}"...)
	}
	return b
}

// appendTS writes t (ms) as Prometheus does, seconds as the shortest
// float: "1795132800.066". Up to 15 significant digits a decimal is its own
// shortest float, so integer formatting gives the same bytes at a fifth of
// the cost (a range query writes tens of thousands).
func appendTS(b []byte, t int64) []byte {
	const exact = 1e14 // ms: 11 digits of seconds and 3 of ms
	if t <= -exact || t >= exact {
		return strconv.AppendFloat(b, float64(t)/1000, 'f', -1, 64)
	}
	if t < 0 {
		b = append(b, '-')
		t = -t
	}
	b = strconv.AppendInt(b, t/1000, 10)
	ms := t % 1000
	if ms == 0 {
		return b
	}
	b = append(b, '.', byte('0'+ms/100))
	if ms%100 != 0 {
		b = append(b, byte('0'+ms/10%10))
		if ms%10 != 0 {
			b = append(b, byte('0'+ms%10))
		}
	}
	return b
}

func appendPoint(b []byte, t int64, v float64) []byte {
	b = append(b, '[')
	b = appendTS(b, t)
	b = append(b, ',', '"')
	switch {
	case math.IsNaN(v):
		b = append(b, "NaN"...)
	case math.IsInf(v, 1):
		b = append(b, "+Inf"...)
	case math.IsInf(v, -1):
		b = append(b, "-Inf"...)
	default:
		b = strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	return append(b, '"', ']')
}

// matchers parses match[] selectors.
func matchers(r *http.Request, required bool) ([][]*labels.Matcher, *apiErr) {
	sels := r.Form["match[]"]
	if required && len(sels) == 0 {
		return nil, badData("no match[] parameter provided")
	}
	var out [][]*labels.Matcher
	for _, s := range sels {
		ms, err := promParser.ParseMetricSelector(s)
		if err != nil {
			return nil, badData("invalid parameter \"match[]\": %v", err)
		}
		out = append(out, ms)
	}
	return out, nil
}

// querier opens a querier over [start, end] of the request (default: the
// raw retention up to now).
func (a *API) querier(r *http.Request, tenant string) (storage.Querier, *apiErr) {
	now := a.now()
	start, e := parseTime("start", r.Form.Get("start"), now.Add(-store.DefaultRetention[store.Raw]))
	if e != nil {
		return nil, e
	}
	end, e := parseTime("end", r.Form.Get("end"), now)
	if e != nil {
		return nil, e
	}
	if end.Before(start) {
		return nil, badData("invalid parameter \"end\": end timestamp must not be before start time")
	}
	q, _ := (&queryable{st: a.Store, tenant: tenant}).Querier(start.UnixMilli(), end.UnixMilli())
	return q, nil
}

func limitParam(r *http.Request) (int, *apiErr) {
	s := r.Form.Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badData("invalid parameter \"limit\": %q is not a non-negative whole number", s)
	}
	return n, nil
}

// lookup reads what series and label lookups share — the match[] sets,
// limit, and start/end as a querier — answering the error itself when one
// is bad.
func (a *API) lookup(w http.ResponseWriter, r *http.Request, tenant string, matchRequired bool) ([][]*labels.Matcher, int, storage.Querier, bool) {
	if !parseForm(w, r) {
		return nil, 0, nil, false
	}
	sets, e := matchers(r, matchRequired)
	if e == nil {
		var n int
		if n, e = limitParam(r); e == nil {
			var q storage.Querier
			if q, e = a.querier(r, tenant); e == nil {
				return sets, n, q, true
			}
		}
	}
	fail(w, e)
	return nil, 0, nil, false
}

func (a *API) series(w http.ResponseWriter, r *http.Request, tenant string) {
	sets, n, q, ok := a.lookup(w, r, tenant, true)
	if !ok {
		return
	}
	defer q.Close()
	seen := map[string]bool{}
	out := []labels.Labels{}
	for _, ms := range sets {
		set := q.Select(r.Context(), true, &storage.SelectHints{Func: "series"}, ms...)
		for set.Next() {
			ls := set.At().Labels()
			if k := ls.String(); !seen[k] {
				seen[k] = true
				out = append(out, ls)
			}
		}
		if err := set.Err(); err != nil {
			fail(w, engineErr(err))
			return
		}
	}
	slices.SortFunc(out, labels.Compare)
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	respond(w, out, nil)
}

func (a *API) labelNames(w http.ResponseWriter, r *http.Request, tenant string) {
	a.labels(w, r, tenant, "")
}

func (a *API) labelValues(w http.ResponseWriter, r *http.Request, tenant string) {
	name := r.PathValue("name")
	if strings.HasPrefix(name, "U__") {
		name = unescapeName(name)
	}
	if !model_LabelNameRE(name) {
		fail(w, badData("invalid label name: %q", name))
		return
	}
	a.labels(w, r, tenant, name)
}

// labels answers the label names (name == "") or the values of name.
func (a *API) labels(w http.ResponseWriter, r *http.Request, tenant, name string) {
	sets, n, q, ok := a.lookup(w, r, tenant, false)
	if !ok {
		return
	}
	defer q.Close()
	if len(sets) == 0 {
		sets = [][]*labels.Matcher{nil}
	}
	var out []string
	for _, ms := range sets {
		var (
			vs  []string
			err error
		)
		if name == "" {
			vs, _, err = q.LabelNames(r.Context(), nil, ms...)
		} else {
			vs, _, err = q.LabelValues(r.Context(), name, nil, ms...)
		}
		if err != nil {
			fail(w, engineErr(err))
			return
		}
		out = append(out, vs...)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	respond(w, out, nil)
}

// metadata answers the type and unit of each metric name.
func (a *API) metadata(w http.ResponseWriter, r *http.Request, tenant string) {
	if !parseForm(w, r) {
		return
	}
	n, e := limitParam(r)
	if e != nil {
		fail(w, e)
		return
	}
	list, err := a.Store.Series(r.Context(), store.SeriesFilter{Tenant: tenant})
	if err != nil {
		fail(w, engineErr(promql.ErrStorage{Err: err}))
		return
	}
	want := r.Form.Get("metric")
	type meta struct {
		Type string `json:"type"`
		Help string `json:"help"`
		Unit string `json:"unit"`
	}
	out := map[string][]meta{}
	for i := range list {
		s := &list[i]
		if s.Type == store.String {
			continue
		}
		name := Name(s)
		if want != "" && name != want {
			continue
		}
		if _, ok := out[name]; ok {
			continue
		}
		if n > 0 && len(out) >= n {
			break
		}
		out[name] = []meta{{Type: s.Type.String(), Help: fmt.Sprintf("Vigil check %s, metric %s", s.Check, s.Metric), Unit: s.Unit}}
	}
	respond(w, out, nil)
}

func (a *API) buildinfo(w http.ResponseWriter, r *http.Request, tenant string) {
	respond(w, map[string]string{
		"version":   apiLevel,
		"revision":  "vigil-" + a.Version,
		"branch":    "",
		"buildUser": "",
		"buildDate": "",
		"goVersion": runtime.Version(),
	}, nil)
}

// model_LabelNameRE checks a label name of the legacy character set.
func model_LabelNameRE(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// unescapeName undoes the U__ escaping clients use for label names in
// paths (U__ then _XX_ hex code points, __ for _).
func unescapeName(s string) string {
	s = strings.TrimPrefix(s, "U__")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '_' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '_' {
			b.WriteByte('_')
			i++
			continue
		}
		j := strings.IndexByte(s[i+1:], '_')
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		if cp, err := strconv.ParseUint(s[i+1:i+1+j], 16, 32); err == nil {
			b.WriteRune(rune(cp))
		}
		i += j + 1
	}
	return b.String()
}
