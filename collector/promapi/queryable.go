// Package promapi serves the Prometheus HTTP API (query, query_range,
// series, labels, label values, metadata, buildinfo) over the store, with
// Prometheus' own PromQL engine reading the store through a
// storage.Queryable (DESIGN §3, §7).
//
// A series of check c, metric m and labels ls is the Prometheus series
// {__name__="c_m", agent="…", check="c", ls…}, the name with every
// character outside [a-zA-Z0-9_:] replaced by _. When that replacement
// changed m (latency.p99, a-b), the series also has the label metric="m",
// so that a.b and a_b of one check stay two series. String metrics have
// no Prometheus form and are left out.
//
// The mapping is one-to-one: ingest refuses the label keys it adds
// (ReservedLabel) and drops labels with empty values, which Prometheus
// does not tell from absent ones.
//
// Two kinds of series the collector makes itself map differently:
//
//   - A check's status and duration, which ingest derives from every check
//     result as the metrics vigil.status and vigil.duration_seconds of the
//     check, are vigil_check_status{agent, check} and
//     vigil_check_duration_seconds{agent, check}: one name for all checks,
//     so that one alert covers them. Ingest refuses agent metrics named
//     vigil.* and checks whose Prometheus form starts with vigil_, so
//     nothing else has these names.
//   - A series imported from Prometheus (vigil-collector import) is stored
//     under the check vigil.import, which ingest refuses, and keeps its
//     name and labels exactly: {__name__="m", its labels…}. The importer
//     refuses series carrying both an agent and a check label, the labels
//     every other series has, so the two kinds never share a label set.
package promapi

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/vigilmon/vigil/collector/querylimit"
	"github.com/vigilmon/vigil/collector/store"
)

// MaxSeries bounds the series one selector may match.
const MaxSeries = 20000

// errTooManySeries is returned by a selector matching more than MaxSeries.
var errTooManySeries = fmt.Errorf("the selector matches more than %d series: add agent=, check= or a name", MaxSeries)

// MetricName is the Prometheus name of metric of check.
func MetricName(check, metric string) string {
	return sanitize(check + "_" + metric)
}

// sanitize replaces the characters outside [a-zA-Z0-9_:] of n by _, and
// puts _ before a leading digit.
func sanitize(n string) string {
	b := []byte(n)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':') {
			b[i] = '_'
		}
	}
	if len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		return "_" + string(b)
	}
	return string(b)
}

// Names of the series the collector makes itself (see the package comment).
const (
	// ImportCheck is the check of imported series.
	ImportCheck = "vigil.import"
	// StatusMetric and DurationMetric are the metrics ingest derives from
	// every check result: its status as a Nagios exit code (0 ok,
	// 1 warning, 2 critical, 3 unknown) and its duration in seconds.
	StatusMetric   = "vigil.status"
	DurationMetric = "vigil.duration_seconds"
	// ReservedMetricPrefix starts the metric names ingest refuses from
	// agents: the collector's own.
	ReservedMetricPrefix = "vigil."
	// checkSeriesPrefix starts the Prometheus names of the derived series.
	checkSeriesPrefix = "vigil_check_"
)

// ReservedCheck reports whether check names a check that agents may not
// send: one whose Prometheus form is vigil or starts with vigil_ (vigil,
// vigil.import, vigil_x, vigil-x…), which could share names with the
// collector's own series.
func ReservedCheck(check string) bool {
	return strings.HasPrefix(MetricName(check, ""), "vigil_")
}

// Name is the Prometheus name of s.
func Name(s *store.Series) string {
	switch {
	case s.Check == ImportCheck:
		return s.Metric
	case strings.HasPrefix(s.Metric, ReservedMetricPrefix):
		return sanitize(checkSeriesPrefix + s.Metric[len(ReservedMetricPrefix):])
	}
	return MetricName(s.Check, s.Metric)
}

// The labels the mapping adds besides __name__.
const (
	AgentLabel  = "agent"
	CheckLabel  = "check"
	MetricLabel = "metric" // only on series whose metric name MetricName changed
)

// ReservedLabel reports whether a series label with key k would collide
// with a label the mapping adds: agent, check, metric and every __ key
// (Prometheus keeps those for itself, __name__ among them).
func ReservedLabel(k string) bool {
	return k == AgentLabel || k == CheckLabel || k == MetricLabel || strings.HasPrefix(k, "__")
}

// promSafe reports whether MetricName keeps metric as it is.
func promSafe(metric string) bool {
	for i := 0; i < len(metric); i++ {
		c := metric[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == ':') {
			return false
		}
	}
	return true
}

// Labels is the Prometheus label set of s.
func Labels(s *store.Series) labels.Labels {
	b := labels.NewScratchBuilder(4 + len(s.Labels))
	b.Add(model.MetricNameLabel, Name(s))
	if s.Check == ImportCheck {
		// The labels as imported (the importer checked them).
		for _, l := range s.Labels {
			if l.Value != "" {
				b.Add(l.Key, l.Value)
			}
		}
		b.Sort()
		return b.Labels()
	}
	b.Add(AgentLabel, s.Agent)
	b.Add(CheckLabel, s.Check)
	if !promSafe(s.Metric) && !strings.HasPrefix(s.Metric, ReservedMetricPrefix) {
		b.Add(MetricLabel, s.Metric)
	}
	for _, l := range s.Labels {
		// Ingest refuses reserved keys and drops empty values; series
		// stored before it did are read without them, the series' own
		// labels winning.
		if ReservedLabel(l.Key) || l.Value == "" {
			continue
		}
		b.Add(l.Key, l.Value)
	}
	b.Sort()
	return b.Labels()
}

// queryable reads one tenant's series at one resolution.
type queryable struct {
	st     store.Store
	tenant string
	res    store.Resolution
	// budget is the samples the query may still load; nil: no bound
	// (series and label lookups load none).
	budget *querylimit.Budget
}

func (q *queryable) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{q: q, mint: mint, maxt: maxt}, nil
}

type querier struct {
	q          *queryable
	mint, maxt int64
}

func (*querier) Close() error { return nil }

// match lists the numeric series of the tenant whose labels match ms,
// narrowing the store's scan by agent and check equality matchers.
func (q *querier) match(ctx context.Context, ms []*labels.Matcher) ([]store.Series, []labels.Labels, error) {
	f := store.SeriesFilter{Tenant: q.q.tenant}
	for _, m := range ms {
		if m.Type == labels.MatchEqual && m.Value != "" {
			switch m.Name {
			case "agent":
				f.Agent = m.Value
			case "check":
				f.Check = m.Value
			}
		}
	}
	all, err := q.q.st.Series(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	if f.Check != "" && f.Check != ImportCheck {
		// An imported series' check label, if it has one, is an ordinary
		// label: the store holds it under ImportCheck. (Its agent is its
		// agent label when it has one, so narrowing by agent stays right.)
		imported, err := q.q.st.Series(ctx, store.SeriesFilter{Tenant: f.Tenant, Agent: f.Agent, Check: ImportCheck})
		if err != nil {
			return nil, nil, err
		}
		all = append(all, imported...)
	}
	var (
		out   []store.Series
		lsets []labels.Labels
	)
next:
	for i := range all {
		s := &all[i]
		if s.Type == store.String {
			continue
		}
		ls := Labels(s)
		for _, m := range ms {
			if !m.Matches(ls.Get(m.Name)) {
				continue next
			}
		}
		if len(out) == MaxSeries {
			return nil, nil, errTooManySeries
		}
		out = append(out, *s)
		lsets = append(lsets, ls)
	}
	return out, lsets, nil
}

func (q *querier) Select(ctx context.Context, sortSeries bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	list, lsets, err := q.match(ctx, ms)
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	from, to := q.mint, q.maxt
	if hints != nil {
		from, to = hints.Start, hints.End
	}
	set := &seriesSet{i: -1}
	if hints != nil && hints.Func == "series" {
		// Only the labels are wanted (the series API).
		for _, ls := range lsets {
			set.series = append(set.series, promql.Series{Metric: ls})
		}
	} else {
		set.series = make([]promql.Series, len(list))
		if err := q.readAll(ctx, list, lsets, set.series, from, to); err != nil {
			return storage.ErrSeriesSet(err)
		}
	}
	if sortSeries {
		slices.SortFunc(set.series, func(a, b promql.Series) int { return labels.Compare(a.Metric, b.Metric) })
	}
	return set
}

// readAll reads list[i] into out[i], on up to GOMAXPROCS goroutines that
// it waits for: a query over many series is bound by the store's reads.
func (q *querier) readAll(ctx context.Context, list []store.Series, lsets []labels.Labels, out []promql.Series, from, to int64) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range min(runtime.GOMAXPROCS(0), len(list)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(list) || ctx.Err() != nil {
					return
				}
				s, err := q.read(ctx, &list[i], lsets[i], from, to)
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				out[i] = s
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// read returns the samples of s in [from, to] (ms, inclusive). From
// rollups, a window is one sample at its end: its last value for counters
// (so rate() sees the cumulative count), its mean for gauges.
func (q *querier) read(ctx context.Context, s *store.Series, ls labels.Labels, from, to int64) (promql.Series, error) {
	out := promql.Series{Metric: ls}
	// Ask the store for one more than the budget allows, so a read over
	// it is refused without materialising the rest.
	limit := 0
	if q.q.budget != nil {
		limit = q.q.budget.Left() + 1
	}
	if q.q.res == store.Raw {
		pts, err := q.q.st.Points(ctx, s.ID, from, to+1, limit)
		if err != nil {
			return out, err
		}
		if err := q.spend(len(pts)); err != nil {
			return out, err
		}
		out.Floats = make([]promql.FPoint, len(pts))
		for i, p := range pts {
			out.Floats[i] = promql.FPoint{T: p.TS, F: p.Value}
		}
		return out, nil
	}
	w := q.q.res.Window()
	rs, err := q.q.st.ReadRollups(ctx, q.q.res, s.ID, store.Floor(from-w, w), to-w+1, limit)
	if err != nil {
		return out, err
	}
	if err := q.spend(len(rs)); err != nil {
		return out, err
	}
	out.Floats = make([]promql.FPoint, 0, len(rs))
	for _, r := range rs {
		if r.Count == 0 {
			continue
		}
		v := r.Sum / float64(r.Count)
		if s.Type == store.Counter {
			v = r.Last
		}
		out.Floats = append(out.Floats, promql.FPoint{T: r.TS + w, F: v})
	}
	return out, nil
}

func (q *querier) spend(n int) error {
	if q.q.budget == nil {
		return nil
	}
	return q.q.budget.Spend(n)
}

func (q *querier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	_, lsets, err := q.match(ctx, ms)
	if err != nil {
		return nil, nil, err
	}
	var out []string
	for _, ls := range lsets {
		if v := ls.Get(name); v != "" {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return limit(slices.Compact(out), hints), nil, nil
}

func (q *querier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	_, lsets, err := q.match(ctx, ms)
	if err != nil {
		return nil, nil, err
	}
	var out []string
	for _, ls := range lsets {
		ls.Range(func(l labels.Label) { out = append(out, l.Name) })
	}
	slices.Sort(out)
	return limit(slices.Compact(out), hints), nil, nil
}

func limit(vs []string, h *storage.LabelHints) []string {
	if h != nil && h.Limit > 0 && len(vs) > h.Limit {
		return vs[:h.Limit]
	}
	return vs
}

type seriesSet struct {
	series []promql.Series
	i      int
}

func (s *seriesSet) Next() bool { s.i++; return s.i < len(s.series) }
func (s *seriesSet) At() storage.Series {
	return promql.NewStorageSeries(s.series[s.i])
}
func (s *seriesSet) Err() error                        { return nil }
func (s *seriesSet) Warnings() annotations.Annotations { return nil }
