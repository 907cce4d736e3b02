package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigilmon/vigil/collector/querylimit"
	"github.com/vigilmon/vigil/collector/rollup"
	"github.com/vigilmon/vigil/collector/store"
)

const (
	defaultPoints = 500
	maxPoints     = 11000
	maxSeries     = 1000
	maxRange      = 400 * 24 * time.Hour
	defaultRange  = time.Hour
)

type agentJSON struct {
	ID        string            `json:"id"`
	Hostname  string            `json:"hostname"`
	Connected bool              `json:"connected"`
	Collector string            `json:"collector,omitempty"`
	LastSeen  time.Time         `json:"last_seen"`
	Version   string            `json:"version"`
	Labels    map[string]string `json:"labels"`
}

func (a *API) agents(w http.ResponseWriter, r *http.Request, tok store.Token) {
	if !allowParams(w, r, "limit", "cursor") {
		return
	}
	pg, err := parsePage(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	list, err := a.Store.Agents(r.Context(), tok.Tenant)
	if err != nil {
		a.storeError(w, "list agents", tok, err)
		return
	}
	list, next := paginate(list, func(ag *store.Agent) string { return ag.ID }, pg)
	out := make([]agentJSON, 0, len(list))
	for _, ag := range list {
		labels := ag.Labels
		if labels == nil {
			labels = map[string]string{}
		}
		out = append(out, agentJSON{ID: ag.ID, Hostname: ag.Hostname, Connected: ag.Connected, Collector: ag.Collector,
			LastSeen: ag.LastSeen, Version: ag.Version, Labels: labels})
	}
	writePage(w, "agents", out, next)
}

type seriesJSON struct {
	ID     string            `json:"id"`
	Agent  string            `json:"agent"`
	Check  string            `json:"check"`
	Metric string            `json:"metric"`
	Labels map[string]string `json:"labels"`
	Type   string            `json:"type"`
	Unit   string            `json:"unit"`
}

func (a *API) series(w http.ResponseWriter, r *http.Request, tok store.Token) {
	if !allowParams(w, r, "agent", "check", "metric", "label", "limit", "cursor") {
		return
	}
	pg, err := parsePage(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	f, ok := filter(w, r.URL.Query(), tok)
	if !ok {
		return
	}
	list, err := a.Store.Series(r.Context(), f)
	if err != nil {
		a.storeError(w, "list series", tok, err)
		return
	}
	list, next := paginate(list, seriesCursorKey, pg)
	out := make([]seriesJSON, 0, len(list))
	for _, s := range list {
		out = append(out, seriesJSON{ID: s.ID.String(), Agent: s.Agent, Check: s.Check, Metric: s.Metric,
			Labels: labelMap(s.Labels), Type: s.Type.String(), Unit: s.Unit})
	}
	writePage(w, "series", out, next)
}

type queryJSON struct {
	Agent      string            `json:"agent"`
	Check      string            `json:"check"`
	Metric     string            `json:"metric"`
	Labels     map[string]string `json:"labels"`
	Resolution string            `json:"resolution"`
	Points     [][2]any          `json:"points"`
}

// Aggregations of agg=, and what each takes from a window's statistics.
var aggs = map[string]func(r *store.Rollup) float64{
	"avg":   func(r *store.Rollup) float64 { return r.Sum / float64(r.Count) },
	"min":   func(r *store.Rollup) float64 { return r.Min },
	"max":   func(r *store.Rollup) float64 { return r.Max },
	"sum":   func(r *store.Rollup) float64 { return r.Sum },
	"count": func(r *store.Rollup) float64 { return float64(r.Count) },
	"last":  func(r *store.Rollup) float64 { return r.Last },
}

// queryParams is a parsed /v1/query request.
type queryParams struct {
	filter   store.SeriesFilter
	from, to int64 // ms, from < to
	points   int
	res      store.Resolution
	resSet   bool // resolution= given
	agg      string
	rate     bool
}

// parseQuery reads the parameters of /v1/query; the error names the
// parameter at fault.
func (a *API) parseQuery(q url.Values, tok store.Token) (queryParams, error) {
	p := queryParams{filter: store.SeriesFilter{Tenant: tok.Tenant, Agent: q.Get("agent"), Check: q.Get("check"), Metric: q.Get("metric")}, agg: "avg"}
	labels := q["label"]
	if len(labels) > 16 {
		return p, errors.New("label: at most 16 label filters")
	}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" {
			return p, fmt.Errorf("label %q: want key:value", l)
		}
		p.filter.Labels = append(p.filter.Labels, store.Label{Key: k, Value: v})
	}
	now := a.now()
	to, err := parseTime(q.Get("to"), now, now)
	if err != nil {
		return p, fmt.Errorf("to: %v", err)
	}
	from, err := parseTime(q.Get("from"), now, to.Add(-defaultRange))
	if err != nil {
		return p, fmt.Errorf("from: %v", err)
	}
	if !from.Before(to) {
		return p, fmt.Errorf("from (%s) must be before to (%s)", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	if to.Sub(from) > maxRange {
		return p, fmt.Errorf("from..to spans %v; at most %v allowed", to.Sub(from).Round(time.Second), maxRange)
	}
	p.from, p.to = from.UnixMilli(), to.UnixMilli()
	if p.from >= p.to {
		return p, errors.New("from and to must be at least a millisecond apart")
	}
	p.points = defaultPoints
	if s := q.Get("points"); s != "" {
		p.points, err = strconv.Atoi(s)
		if err != nil || p.points < 1 || p.points > maxPoints {
			return p, fmt.Errorf("points %q: want a whole number from 1 to %d", s, maxPoints)
		}
	}
	if s := q.Get("resolution"); s != "" {
		if p.res, err = store.ParseResolution(s); err != nil {
			return p, fmt.Errorf("resolution %q: want raw, 5m or 1h", s)
		}
		p.resSet = true
	} else {
		p.res = a.pickResolution(p.from, now.UnixMilli())
	}
	if s := q.Get("agg"); s != "" {
		if aggs[s] == nil {
			return p, fmt.Errorf("agg %q: want avg, min, max, sum, count or last", s)
		}
		p.agg = s
	}
	switch s := q.Get("fn"); s {
	case "":
	case "rate":
		if q.Get("agg") != "" {
			return p, errors.New("agg: not used with fn=rate (each point is the counter's increase per second since the one before)")
		}
		p.rate = true
	default:
		return p, fmt.Errorf("fn %q: want rate", s)
	}
	return p, nil
}

// pickResolution is the finest resolution whose retention reaches back to
// from (DESIGN §7), or the coarsest.
func (a *API) pickResolution(from, now int64) store.Resolution {
	for _, r := range store.Resolutions {
		keep := a.Retention[r]
		if keep <= 0 {
			keep = store.DefaultRetention[r]
		}
		if from >= now-keep.Milliseconds() {
			return r
		}
	}
	return store.Res1h
}

func (a *API) query(w http.ResponseWriter, r *http.Request, tok store.Token) {
	if !allowParams(w, r, "agent", "check", "metric", "label", "from", "to", "points", "resolution", "agg", "fn") {
		return
	}
	p, err := a.parseQuery(r.URL.Query(), tok)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	// The query limits: a slot in the queue shared with PromQL, a
	// timeout from the request's arrival, and a budget of points read.
	ctx, cancel := a.Query.Context(r.Context(), 0)
	defer cancel()
	release, err := a.Query.Enter(ctx)
	if err != nil {
		a.queryRefused(w, tok, r, err)
		return
	}
	defer release()
	list, err := a.Store.Series(ctx, p.filter)
	if err != nil {
		a.queryStoreError(w, "query series", tok, r, err)
		return
	}
	if len(list) > maxSeries {
		writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("the query matches %d series, at most %d allowed: add agent, check, metric or label", len(list), maxSeries))
		return
	}
	if p.rate {
		for _, s := range list {
			if s.Type != store.Counter {
				writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("fn=rate: %s/%s/%s is a %s; rate applies to counters only: narrow the query with check= and metric=",
					s.Agent, s.Check, s.Metric, s.Type))
				return
			}
		}
	}
	budget := querylimit.NewBudget(a.Query.L().MaxSamples)
	out := make([]queryJSON, 0, len(list))
	for _, s := range list {
		res := p.res
		if s.Type == store.String {
			res = store.Raw // strings have no rollups
		}
		pts, err := a.seriesPoints(ctx, &s, res, &p, budget)
		if err != nil {
			a.queryStoreError(w, "read points", tok, r, err)
			return
		}
		out = append(out, queryJSON{Agent: s.Agent, Check: s.Check, Metric: s.Metric, Labels: labelMap(s.Labels),
			Resolution: res.String(), Points: pts})
	}
	writeJSON(w, http.StatusOK, map[string]any{"series": out})
}

// queryStoreError answers a failed read of /v1/query: a refusal by a
// query limit, the query's deadline, or the store's failure.
func (a *API) queryStoreError(w http.ResponseWriter, what string, tok store.Token, r *http.Request, err error) {
	if err = a.Query.Err(err); !a.queryRefused(w, tok, r, err) {
		a.storeError(w, what, tok, err)
	}
}

// queryRefused answers err when it is a refusal by a query limit, counted
// and logged, and reports whether it was.
func (a *API) queryRefused(w http.ResponseWriter, tok store.Token, r *http.Request, err error) bool {
	if errors.Is(err, context.Canceled) {
		return true // the client went away: nobody to answer
	}
	if !a.Query.Refused(err, tok.Tenant, r.URL.RawQuery) {
		return false
	}
	ref, _ := querylimit.AsRefusal(err)
	switch ref.Reason {
	case querylimit.ReasonConcurrency:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "busy", err.Error())
	case querylimit.ReasonTimeout:
		writeError(w, http.StatusServiceUnavailable, "timeout", err.Error())
	default:
		writeError(w, http.StatusUnprocessableEntity, "too_large", err.Error())
	}
	return true
}

// cell is one output point before it is rendered: a raw point, a rollup
// window, or a group of either.
type cell struct {
	ts  int64
	acc rollup.Acc
	str string
}

// seriesPoints reads one series at res and returns at most p.points
// points. When there are more, they are grouped into intervals of equal
// width (a multiple of the resolution's window), each stamped with its
// start and aggregated with p.agg (strings: the last value).
func (a *API) seriesPoints(ctx context.Context, s *store.Series, res store.Resolution, p *queryParams, budget *querylimit.Budget) ([][2]any, error) {
	var cells []cell
	origin, unit := p.from, int64(1000)
	// One more than the budget allows: a read over it is refused without
	// materialising the rest.
	limit := budget.Left() + 1
	if res == store.Raw {
		pts, err := a.Store.Points(ctx, s.ID, p.from, p.to, limit)
		if err != nil {
			return nil, err
		}
		if err := budget.Spend(len(pts)); err != nil {
			return nil, err
		}
		cells = make([]cell, 0, len(pts))
		for _, pt := range pts {
			c := cell{ts: pt.TS, str: pt.Str}
			if s.Type != store.String {
				c.acc.AddValue(pt.Value)
				if c.acc.Empty() { // NaN: keep it as a point of its own
					c.acc.R = store.Rollup{Count: 1, Sum: pt.Value, Min: pt.Value, Max: pt.Value, First: pt.Value, Last: pt.Value}
				}
			}
			cells = append(cells, c)
		}
	} else {
		unit = res.Window()
		origin = store.Floor(p.from, unit)
		rs, err := a.Store.ReadRollups(ctx, res, s.ID, origin, p.to, limit)
		if err != nil {
			return nil, err
		}
		if err := budget.Spend(len(rs)); err != nil {
			return nil, err
		}
		cells = make([]cell, 0, len(rs))
		for _, w := range rs {
			c := cell{ts: w.TS}
			c.acc.AddRollup(w)
			cells = append(cells, c)
		}
	}
	if len(cells) > p.points {
		cells = group(cells, origin, p.to, unit, p.points)
	}
	return render(cells, s.Type, p), nil
}

// group merges cells into at most n intervals from origin to to, each a
// whole number of units wide.
func group(cells []cell, origin, to, unit int64, n int) []cell {
	span := to - origin
	step := (span + int64(n) - 1) / int64(n)
	step = (step + unit - 1) / unit * unit
	out := make([]cell, 0, n)
	for _, c := range cells {
		start := origin + (c.ts-origin)/step*step
		if len(out) == 0 || out[len(out)-1].ts != start {
			out = append(out, cell{ts: start})
		}
		g := &out[len(out)-1]
		g.acc.AddRollup(c.acc.R)
		g.str = c.str
	}
	return out
}

// render turns cells into [ts, value] pairs: the aggregate, the string,
// or with fn=rate the counter's increase per second since the cell
// before (across resets), so the first cell has no rate.
func render(cells []cell, t store.MetricType, p *queryParams) [][2]any {
	out := make([][2]any, 0, len(cells))
	agg := aggs[p.agg]
	for i := range cells {
		c := &cells[i]
		switch {
		case t == store.String:
			out = append(out, [2]any{c.ts, c.str})
		case p.rate:
			if i == 0 || c.acc.Empty() || cells[i-1].acc.Empty() {
				continue
			}
			prev := &cells[i-1]
			inc := c.acc.R.Increase
			if c.acc.R.First >= prev.acc.R.Last {
				inc += c.acc.R.First - prev.acc.R.Last
			} else {
				inc += c.acc.R.First // a reset between the two
			}
			out = append(out, [2]any{c.ts, number(inc / (float64(c.ts-prev.ts) / 1000))})
		default:
			out = append(out, [2]any{c.ts, number(agg(&c.acc.R))})
		}
	}
	return out
}

// number renders v for JSON, which has no NaN or infinities: those are
// null.
func number(v float64) any {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return json.Number(strconv.FormatFloat(v, 'g', -1, 64))
}

func (a *API) storeError(w http.ResponseWriter, what string, tok store.Token, err error) {
	a.Log.Error("store error", "op", what, "tenant", tok.Tenant, "err", err)
	writeError(w, http.StatusServiceUnavailable, "unavailable", what+": the store failed; try again")
}

// allowParams refuses parameters the endpoint does not know, so a typo
// such as ?metirc= is an error instead of a silently wider answer.
func allowParams(w http.ResponseWriter, r *http.Request, known ...string) bool {
	for k := range r.URL.Query() {
		ok := false
		for _, n := range known {
			if k == n {
				ok = true
				break
			}
		}
		if !ok {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("unknown parameter %q (known: %s)", k, strings.Join(known, ", ")))
			return false
		}
	}
	return true
}

func filter(w http.ResponseWriter, q url.Values, tok store.Token) (store.SeriesFilter, bool) {
	f := store.SeriesFilter{Tenant: tok.Tenant, Agent: q.Get("agent"), Check: q.Get("check"), Metric: q.Get("metric")}
	labels := q["label"]
	if len(labels) > 16 {
		writeError(w, http.StatusBadRequest, "bad_request", "label: at most 16 label filters")
		return f, false
	}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" {
			writeError(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("label %q: want key:value", l))
			return f, false
		}
		f.Labels = append(f.Labels, store.Label{Key: k, Value: v})
	}
	return f, true
}

func labelMap(ls []store.Label) map[string]string {
	m := make(map[string]string, len(ls))
	for _, l := range ls {
		m[l.Key] = l.Value
	}
	return m
}

// parseTime reads RFC 3339, milliseconds since the epoch, "now", or a
// duration relative to now such as -5m, -1h or -7d.
func parseTime(s string, now, def time.Time) (time.Time, error) {
	switch {
	case s == "":
		return def, nil
	case s == "now":
		return now, nil
	case s[0] == '-' || s[0] == '+':
		d, err := parseDuration(s[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("%q: %v", s, err)
		}
		if s[0] == '-' {
			d = -d
		}
		return now.Add(d), nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want RFC 3339, milliseconds since the epoch, or relative such as -1h", s)
	}
	return t, nil
}

// parseDuration is time.ParseDuration plus a "d" unit for days.
func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.ParseFloat(n, 64)
		if err != nil || days < 0 || days > 10000 {
			return 0, fmt.Errorf("bad number of days")
		}
		return time.Duration(days * 24 * float64(time.Hour)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration (use s, m, h or d)")
	}
	return d, nil
}
