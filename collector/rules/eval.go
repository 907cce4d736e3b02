package rules

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/template"
)

// QueryFunc evaluates an instant query at ts, Prometheus' rules.QueryFunc.
// The caller binds it to one tenant's series.
type QueryFunc func(ctx context.Context, expr string, ts time.Time) (promql.Vector, error)

// EngineQueryFunc evaluates with eng over q (one tenant's queryable), as
// Prometheus' rules.EngineQueryFunc: a scalar result becomes a vector of
// one sample without labels.
func EngineQueryFunc(eng *promql.Engine, q storage.Queryable, opts promql.QueryOpts) QueryFunc {
	return func(ctx context.Context, expr string, ts time.Time) (promql.Vector, error) {
		qy, err := eng.NewInstantQuery(ctx, q, opts, expr, ts)
		if err != nil {
			return nil, err
		}
		defer qy.Close()
		res := qy.Exec(ctx)
		if res.Err != nil {
			return nil, res.Err
		}
		switch v := res.Value.(type) {
		case promql.Vector:
			return v, nil
		case promql.Scalar:
			return promql.Vector{promql.Sample{T: v.T, F: v.V, Metric: labels.EmptyLabels()}}, nil
		}
		return nil, fmt.Errorf("rule result is a %s, not a vector or scalar", res.Value.Type())
	}
}

// State of an alert, as Prometheus names it.
type State int

const (
	StateInactive State = iota
	StatePending
	StateFiring
)

func (s State) String() string {
	switch s {
	case StatePending:
		return "pending"
	case StateFiring:
		return "firing"
	}
	return "inactive"
}

// Health of a rule after its last evaluation, as Prometheus names it.
const (
	HealthUnknown = "unknown"
	HealthOK      = "ok"
	HealthErr     = "err"
)

// ResolvedRetention is how long a resolved alert stays in a rule's state,
// so that its resolution can still be sent (Prometheus keeps 15 m).
const ResolvedRetention = 15 * time.Minute

// Alert is one alert of a rule: one series of its expression's result.
type Alert struct {
	// Labels are the series' labels without __name__, with the rule's
	// (expanded) and alertname; Annotations are expanded.
	Labels, Annotations labels.Labels
	State               State
	Value               float64
	// ActiveAt is when it became pending; FiredAt when it fired;
	// ResolvedAt when it went inactive; KeepFiringSince when its series
	// went away while keep_firing_for held it firing. Zero: not so.
	ActiveAt, FiredAt, ResolvedAt, KeepFiringSince time.Time
}

// Counter counts what evaluation refused or cut, by reason.
type Counter interface {
	RuleRefused(reason string)
}

// Reasons a Counter is given.
const (
	// ReasonAlertLimit: a rule had more alerts than its limit; its
	// evaluation failed and its alerts were dropped.
	ReasonAlertLimit = "alert_limit"
	// ReasonTemplateCut: an expanded label or annotation was cut to
	// MaxTemplateBytes.
	ReasonTemplateCut = "template_cut"
	// ReasonTemplateError: a template failed; its value is the error.
	ReasonTemplateError = "template_error"
)

// Reasons lists every reason, so a counter shows each from the start.
var Reasons = []string{ReasonAlertLimit, ReasonTemplateCut, ReasonTemplateError}

// Rule is an alerting rule and its state.
type Rule struct {
	Spec RuleSpec

	// Guarded by the group's mu; written only under its evalMu too.
	active   map[uint64]*Alert
	health   string
	lastErr  error
	lastEval time.Time
	evalDur  time.Duration
}

// Group evaluates the rules of one group for one tenant. Eval is driven
// by the caller's clock; Group starts no goroutines. Its methods are safe
// for concurrent use.
type Group struct {
	Spec   GroupSpec
	Tenant string

	query   QueryFunc
	limits  Limits
	counter Counter

	// evalMu serialises Eval; mu guards the state below and the rules'.
	evalMu   sync.Mutex
	mu       sync.Mutex
	rules    []*Rule
	lastEval time.Time
	evalDur  time.Duration

	// evals and failures count rule evaluations, for the collector's
	// metrics.
	evals, failures atomic.Uint64
}

// NewGroup returns the group spec of tenant, querying with q. counter may
// be nil.
func NewGroup(tenant string, spec GroupSpec, q QueryFunc, l Limits, counter Counter) *Group {
	g := &Group{Spec: spec, Tenant: tenant, query: q, limits: l.WithDefaults(), counter: counter}
	for _, rs := range spec.Rules {
		g.rules = append(g.rules, &Rule{Spec: rs, active: map[uint64]*Alert{}, health: HealthUnknown})
	}
	return g
}

func (g *Group) count(reason string) {
	if g.counter != nil {
		g.counter.RuleRefused(reason)
	}
}

// Eval evaluates every rule of the group at ts, in order, as Prometheus
// does once per interval. A rule's failure is its health and lastError;
// it does not stop the others. Eval returns the first rule error, for
// logging.
func (g *Group) Eval(ctx context.Context, ts time.Time) error {
	g.evalMu.Lock()
	defer g.evalMu.Unlock()
	start := time.Now()
	var first error
	for _, r := range g.rules {
		rstart := time.Now()
		err := g.evalRule(ctx, r, ts)
		g.mu.Lock()
		r.evalDur = time.Since(rstart)
		r.lastEval = ts
		r.lastErr = err
		r.health = HealthOK
		if err != nil {
			r.health = HealthErr
		}
		g.mu.Unlock()
		g.evals.Add(1)
		if err != nil {
			g.failures.Add(1)
		}
		if err != nil && first == nil {
			first = fmt.Errorf("tenant %s: group %q: rule %q: %w", g.Tenant, g.Spec.Name, r.Spec.Name, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	g.mu.Lock()
	g.lastEval = ts
	g.evalDur = time.Since(start)
	g.mu.Unlock()
	return first
}

// ErrDuplicateLabelSet is a result with two series whose alert labels are
// the same (Prometheus' error of the same name).
var ErrDuplicateLabelSet = errors.New("vector contains metrics with the same labelset after applying alert labels")

func (g *Group) limit() int {
	l := g.limits.MaxAlertsPerRule
	if g.Spec.Limit > 0 && g.Spec.Limit < l {
		l = g.Spec.Limit
	}
	return l
}

func (g *Group) evalRule(ctx context.Context, r *Rule, ts time.Time) error {
	res, err := g.query(ctx, r.Spec.Expr, ts.Add(-g.Spec.QueryOffset))
	if err != nil {
		return err
	}
	limit := g.limit()
	if len(res) > limit {
		// Refused before templating each: a result over the limit
		// costs nothing more than its query.
		g.mu.Lock()
		r.active = map[uint64]*Alert{}
		g.mu.Unlock()
		g.count(ReasonAlertLimit)
		return fmt.Errorf("exceeded limit of %d with %d alerts", limit, len(res))
	}

	seen := make(map[uint64]struct{}, len(res))
	fresh := make(map[uint64]*Alert, len(res))
	lb := labels.NewBuilder(labels.EmptyLabels())
	for _, s := range res {
		if s.H != nil {
			return errors.New("the expression returns native histograms; an alert needs floats")
		}
		data := template.AlertTemplateData(s.Metric.Map(), nil, "", s)
		lb.Reset(s.Metric)
		lb.Del(model.MetricNameLabel)
		for _, k := range sortedKeys(r.Spec.Labels) {
			lb.Set(k, g.expand(ctx, r, r.Spec.Labels[k], data, ts))
		}
		lb.Set(labels.AlertName, r.Spec.Name)
		ls := lb.Labels()
		sb := labels.NewScratchBuilder(len(r.Spec.Annotations))
		for _, k := range sortedKeys(r.Spec.Annotations) {
			sb.Add(k, g.expand(ctx, r, r.Spec.Annotations[k], data, ts))
		}
		h := ls.Hash()
		if _, dup := fresh[h]; dup {
			return ErrDuplicateLabelSet
		}
		seen[h] = struct{}{}
		fresh[h] = &Alert{Labels: ls, Annotations: sb.Labels(), State: StatePending, Value: s.F, ActiveAt: ts}
	}
	// Queries and templates ran unlocked, so that the API reads the
	// previous state meanwhile; the state changes at once.
	g.mu.Lock()
	defer g.mu.Unlock()
	for h, a := range fresh {
		if old, ok := r.active[h]; ok && old.State != StateInactive {
			old.Value, old.Annotations = a.Value, a.Annotations
			continue
		}
		r.active[h] = a
	}

	n := 0
	for h, a := range r.active {
		if _, ok := seen[h]; !ok {
			keep := false
			if a.State == StateFiring && r.Spec.KeepFiringFor > 0 {
				if a.KeepFiringSince.IsZero() {
					a.KeepFiringSince = ts
				}
				keep = ts.Sub(a.KeepFiringSince) < r.Spec.KeepFiringFor
			}
			if a.State == StatePending || (!a.ResolvedAt.IsZero() && ts.Sub(a.ResolvedAt) > ResolvedRetention) {
				delete(r.active, h)
			}
			if a.State != StateInactive && !keep {
				a.State = StateInactive
				a.ResolvedAt = ts
			}
			if !keep {
				continue
			}
		} else {
			a.KeepFiringSince = time.Time{}
		}
		n++
		if a.State == StatePending && ts.Sub(a.ActiveAt) >= r.Spec.For {
			a.State = StateFiring
			a.FiredAt = ts
		}
	}
	if n > limit {
		r.active = map[uint64]*Alert{}
		g.count(ReasonAlertLimit)
		return fmt.Errorf("exceeded limit of %d with %d alerts", limit, n)
	}
	return nil
}

// tmplDefs are the variables Prometheus defines for alert templates.
const tmplDefs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"

// expand expands text as Prometheus expands an alert's label or
// annotation, its query function bound to the group's tenant and to the
// query limits; a failure becomes the value, as in Prometheus.
func (g *Group) expand(ctx context.Context, r *Rule, text string, data any, ts time.Time) string {
	if !strings.Contains(text, "{{") {
		return g.cut(text)
	}
	q := func(ctx context.Context, expr string, ts time.Time) (promql.Vector, error) {
		if err := g.limits.Query.CheckText(expr); err != nil {
			return nil, err
		}
		return g.query(ctx, expr, ts)
	}
	e := template.NewTemplateExpander(ctx, tmplDefs+text, "__alert_"+r.Spec.Name, data,
		model.Time(ts.UnixMilli()), template.QueryFunc(q), nil, nil)
	out, err := e.Expand()
	if err != nil {
		g.count(ReasonTemplateError)
		out = fmt.Sprintf("<error expanding template: %s>", err)
	}
	return g.cut(out)
}

// cut bounds s to MaxTemplateBytes, on a rune boundary.
func (g *Group) cut(s string) string {
	max := g.limits.MaxTemplateBytes
	if len(s) <= max {
		return s
	}
	g.count(ReasonTemplateCut)
	const mark = "…"
	i := max - len(mark)
	for i > 0 && !utf8RuneStart(s[i]) {
		i--
	}
	return s[:i] + mark
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// Alerts returns a copy of every alert of the group's rules, resolved
// ones still retained included, ordered by rule then labels.
func (g *Group) Alerts() []Alert {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []Alert
	for _, r := range g.rules {
		out = append(out, r.alerts(true)...)
	}
	return out
}

// alerts lists r's alerts sorted by labels; inactive ones only if all.
func (r *Rule) alerts(all bool) []Alert {
	out := make([]Alert, 0, len(r.active))
	for _, a := range r.active {
		if all || a.State != StateInactive {
			out = append(out, *a)
		}
	}
	sortAlerts(out)
	return out
}

// state is the highest state of r's alerts.
func (r *Rule) state() State {
	s := StateInactive
	for _, a := range r.active {
		s = max(s, a.State)
	}
	return s
}
