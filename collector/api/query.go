package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
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

func (a *API) agents(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r, "limit", "cursor"); err != nil {
		return nil, err
	}
	pg, err := parsePage(r.URL.Query())
	if err != nil {
		return nil, badRequest("%v", err)
	}
	list, err := a.Store.Agents(r.Context(), tok.Tenant)
	if err != nil {
		return nil, storeFailed("list agents", err)
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
	return pageReply("agents", out, next), nil
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

func (a *API) series(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r, "agent", "check", "metric", "label", "limit", "cursor"); err != nil {
		return nil, err
	}
	pg, err := parsePage(r.URL.Query())
	if err != nil {
		return nil, badRequest("%v", err)
	}
	f, err := filter(r.URL.Query(), tok)
	if err != nil {
		return nil, err
	}
	list, err := a.Store.Series(r.Context(), f)
	if err != nil {
		return nil, storeFailed("list series", err)
	}
	list, next := paginate(list, seriesCursorKey, pg)
	out := make([]seriesJSON, 0, len(list))
	for _, s := range list {
		out = append(out, seriesJSON{ID: s.ID.String(), Agent: s.Agent, Check: s.Check, Metric: s.Metric,
			Labels: labelMap(s.Labels), Type: s.Type.String(), Unit: s.Unit})
	}
	return pageReply("series", out, next), nil
}

type queryJSON struct {
	Agent  string            `json:"agent"`
	Check  string            `json:"check"`
	Metric string            `json:"metric"`
	Labels map[string]string `json:"labels"`
	// Resolution is what each point stands for: "raw" (one point as
	// stored), "5m" or "1h" (one rollup window), or the wider interval
	// ("8s", "10m", "2h") points were grouped into to stay within points=.
	Resolution string `json:"resolution"`
	// Read is the stored resolution the points come from (raw, 5m, 1h).
	Read string `json:"read_resolution"`
	// Agg is the aggregation giving each value when a point stands for
	// more than one stored value; absent for raw points, strings and
	// fn=rate.
	Agg    string   `json:"agg,omitempty"`
	Points [][2]any `json:"points"`
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

func (a *API) query(r *http.Request, tok store.Token) (any, error) {
	if err := allowParams(r, "agent", "check", "metric", "label", "from", "to", "points", "resolution", "agg", "fn"); err != nil {
		return nil, err
	}
	p, err := a.parseQuery(r.URL.Query(), tok)
	if err != nil {
		return nil, badRequest("%v", err)
	}
	// The query limits: a slot in the queue shared with PromQL, a
	// timeout from the request's arrival, and a budget of points read.
	ctx, cancel := a.Query.Context(r.Context(), 0)
	defer cancel()
	release, err := a.Query.Enter(ctx)
	if err != nil {
		return nil, a.queryErr("enter the query queue", tok, r, err)
	}
	defer release()
	list, err := a.Store.Series(ctx, p.filter)
	if err != nil {
		return nil, a.queryErr("query series", tok, r, err)
	}
	if len(list) > maxSeries {
		return nil, badRequest("the query matches %d series, at most %d allowed: add agent, check, metric or label", len(list), maxSeries)
	}
	if p.rate {
		for _, s := range list {
			if s.Type != store.Counter {
				return nil, badRequest("fn=rate: %s/%s/%s is a %s; rate applies to counters only: narrow the query with check= and metric=",
					s.Agent, s.Check, s.Metric, s.Type)
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
		q, err := a.seriesPoints(ctx, &s, res, &p, budget)
		if err != nil {
			return nil, a.queryErr("read points", tok, r, err)
		}
		q.Agent, q.Check, q.Metric, q.Labels = s.Agent, s.Check, s.Metric, labelMap(s.Labels)
		out = append(out, q)
	}
	return map[string]any{"series": out}, nil
}

// queryErr is the answer to a failed step what of /v1/query: a refusal
// by a query limit (counted and logged by the guard), the query's
// deadline, or the store's failure.
func (a *API) queryErr(what string, tok store.Token, r *http.Request, err error) error {
	err = a.Query.Err(err)
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away: nobody reads the answer.
		return &httpError{status: 499, code: "canceled", message: "the client closed the request", logged: true}
	}
	if !a.Query.Refused(err, tok.Tenant, r.URL.RawQuery) {
		return storeFailed(what, err)
	}
	ref, _ := querylimit.AsRefusal(err)
	var e *httpError
	switch ref.Reason {
	case querylimit.ReasonConcurrency:
		e = errorf(http.StatusServiceUnavailable, "busy", "%v", err).withHeader("Retry-After", "1")
	case querylimit.ReasonTimeout:
		e = errorf(http.StatusServiceUnavailable, "timeout", "%v", err)
	default:
		e = errorf(http.StatusUnprocessableEntity, "too_large", "%v", err)
	}
	e.logged = true
	return e
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
func (a *API) seriesPoints(ctx context.Context, s *store.Series, res store.Resolution, p *queryParams, budget *querylimit.Budget) (queryJSON, error) {
	out := queryJSON{Resolution: res.String(), Read: res.String()}
	var cells []cell
	origin, unit := p.from, int64(1000)
	// One more than the budget allows: a read over it is refused without
	// materialising the rest.
	limit := budget.Left() + 1
	if res == store.Raw {
		pts, err := a.Store.Points(ctx, s.ID, p.from, p.to, limit)
		if err != nil {
			return out, err
		}
		if err := budget.Spend(len(pts)); err != nil {
			return out, err
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
			return out, err
		}
		if err := budget.Spend(len(rs)); err != nil {
			return out, err
		}
		cells = make([]cell, 0, len(rs))
		for _, w := range rs {
			c := cell{ts: w.TS}
			c.acc.AddRollup(w)
			cells = append(cells, c)
		}
	}
	if len(cells) > p.points {
		var step int64
		cells, step = group(cells, origin, p.to, unit, p.points)
		out.Resolution = formatInterval(step)
	}
	if s.Type != store.String && !p.rate && out.Resolution != store.Raw.String() {
		out.Agg = p.agg
	}
	out.Points = render(cells, s.Type, p)
	return out, nil
}

// formatInterval writes ms in its largest whole unit: 8s, 10m, 2h, 3d.
func formatInterval(ms int64) string {
	for _, u := range []struct {
		ms   int64
		unit string
	}{{86_400_000, "d"}, {3_600_000, "h"}, {60_000, "m"}, {1000, "s"}} {
		if ms%u.ms == 0 {
			return strconv.FormatInt(ms/u.ms, 10) + u.unit
		}
	}
	return strconv.FormatInt(ms, 10) + "ms"
}

// group merges cells into at most n intervals from origin to to, each a
// whole number of units wide, and returns the intervals' width.
func group(cells []cell, origin, to, unit int64, n int) ([]cell, int64) {
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
	return out, step
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

// allowParams refuses parameters the endpoint does not know, so a typo
// such as ?metirc= is an error instead of a silently wider answer.
func allowParams(r *http.Request, known ...string) error {
	for k := range r.URL.Query() {
		if !slices.Contains(known, k) {
			return badRequest("unknown parameter %q (known: %s)", k, strings.Join(known, ", "))
		}
	}
	return nil
}

func filter(q url.Values, tok store.Token) (store.SeriesFilter, error) {
	f := store.SeriesFilter{Tenant: tok.Tenant, Agent: q.Get("agent"), Check: q.Get("check"), Metric: q.Get("metric")}
	labels := q["label"]
	if len(labels) > 16 {
		return f, badRequest("label: at most 16 label filters")
	}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, ":")
		if !ok || k == "" {
			return f, badRequest("label %q: want key:value", l)
		}
		f.Labels = append(f.Labels, store.Label{Key: k, Value: v})
	}
	return f, nil
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
