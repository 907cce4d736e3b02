package querylimit

import (
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

// DefaultSubqueryStep is the step of a subquery written without one
// (x[1h:]), Prometheus' default evaluation interval; the engine must use
// the same (promql.EngineOpts.NoStepSubqueryIntervalFn).
const DefaultSubqueryStep = time.Minute

// CheckExpr refuses a parsed expression whose tree is deeper than
// MaxDepth or one of whose subqueries takes more than MaxSubquerySteps
// steps. span is a range query's end minus start (0 for an instant
// query): the engine evaluates a top-level subquery once over the span
// plus its range. A nested subquery's steps multiply with its parents',
// a bound on its cost however the engine shares the work.
func (l Limits) CheckExpr(e parser.Expr, span time.Duration) error {
	c := exprCheck{l: l}
	c.walk(e, 1, 1, span)
	return c.err
}

type exprCheck struct {
	l   Limits
	err error
}

// walk visits n at depth, under subqueries that take outer steps in all;
// it recurses no deeper than MaxDepth+1 whatever the tree.
func (c *exprCheck) walk(n parser.Node, depth int, outer float64, span time.Duration) {
	if c.err != nil {
		return
	}
	if depth > c.l.MaxDepth {
		c.err = refuse(ReasonDepth, "max_depth", "the query's expression nests more than %d deep", c.l.MaxDepth)
		return
	}
	if sq, ok := n.(*parser.SubqueryExpr); ok {
		step := sq.Step
		if step <= 0 {
			step = DefaultSubqueryStep
		}
		// Float: 30d over 1ms nested twice overflows an int64.
		steps := outer * float64(sq.Range+span) / float64(step)
		if steps > float64(c.l.MaxSubquerySteps) {
			c.err = refuse(ReasonSubquerySteps, "max_subquery_steps",
				"the subquery [%v:%v] takes %.0f steps; at most %d allowed: widen its step or shorten its range",
				sq.Range, step, steps, c.l.MaxSubquerySteps)
			return
		}
		outer, span = max(steps, 1), 0
	}
	for _, ch := range parser.Children(n) {
		c.walk(ch, depth+1, outer, span)
	}
}
