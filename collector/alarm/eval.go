package alarm

import (
	"math"
	"strconv"
	"strings"
)

// Outcome is what criteria make of one check result.
type Outcome struct {
	State   State
	Message string
}

// Evaluate runs the criteria on r; prev is the same check's previous
// result (nil if none), read by previous() and rate().
//
// A result whose status is unknown is StateUnknown without evaluation. A
// comparison reading a metric that r (or prev) lacks is false; when no
// return statement is reached the check's own status decides, with its
// message.
func (c *Criteria) Evaluate(r, prev *Result) Outcome {
	if r.Status == StatusUnknown {
		return Outcome{State: StateUnknown, Message: r.Message}
	}
	if ret := run(c.stmts, r, prev); ret != nil {
		o := Outcome{State: ret.state, Message: r.Message}
		if ret.msg != nil {
			o.Message = ret.msg.render(r)
		}
		return o
	}
	return Outcome{State: r.Status.state(), Message: r.Message}
}

func run(stmts []stmt, r, prev *Result) *returnStmt {
	for _, s := range stmts {
		switch s := s.(type) {
		case *returnStmt:
			return s
		case *ifStmt:
			body := s.els
			if test(s.cond, r, prev) {
				body = s.then
			}
			if ret := run(body, r, prev); ret != nil {
				return ret
			}
		}
	}
	return nil
}

func test(e expr, r, prev *Result) bool {
	switch e := e.(type) {
	case *logicExpr:
		if e.and {
			return test(e.l, r, prev) && test(e.r, r, prev)
		}
		return test(e.l, r, prev) || test(e.r, r, prev)
	case *cmpExpr:
		return e.eval(r, prev)
	}
	return false
}

func (c *cmpExpr) eval(r, prev *Result) bool {
	l, ok := value(c.l, r, prev)
	if !ok {
		return false
	}
	if c.re != nil {
		var match bool
		if l.isString {
			match = c.re.MatchString(l.str)
		} else {
			match = c.re.MatchString(formatNum(l.num))
		}
		return match == (c.op == opRegex)
	}
	rv, ok := value(c.r, r, prev)
	if !ok {
		return false
	}
	if c.op == opEq || c.op == opNe {
		// A string literal on either side, or two strings, compare as
		// text; a number against a string literal compares as it would
		// print ("404" == 404), so an HTTP code sent as a gauge matches.
		if c.strLit || l.isString && rv.isString {
			return (l.String() == rv.String()) == (c.op == opEq)
		}
	}
	a, ok := l.number()
	if !ok {
		return false
	}
	b, ok := rv.number()
	if !ok {
		return false
	}
	switch c.op {
	case opEq:
		return a == b
	case opNe:
		return a != b
	case opLt:
		return a < b
	case opLe:
		return a <= b
	case opGt:
		return a > b
	case opGe:
		return a >= b
	}
	return false
}

// number is v as a number: a string metric counts if it parses as one.
func (v Value) number() (float64, bool) {
	if !v.isString {
		return v.num, true
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v.str), 64)
	if err != nil || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

// value evaluates an operand; false means missing (an absent metric, no
// previous result, a NaN, a division by zero).
func value(o operand, r, prev *Result) (Value, bool) {
	switch o := o.(type) {
	case *numLit:
		return Value{num: o.v}, true
	case *strLit:
		return Value{str: o.v, isString: true}, true
	case *metricRef:
		switch o.fn {
		case fnNone:
			return lookup(r, o.name)
		case fnPrevious:
			if prev == nil {
				return Value{}, false
			}
			return lookup(prev, o.name)
		case fnRate:
			// (V1 - V0) / (T1 - T0) per second, as the reference defines
			// it; a counter reset gives a negative rate.
			if prev == nil {
				return Value{}, false
			}
			dt := r.Time.Sub(prev.Time).Seconds()
			if dt <= 0 {
				return Value{}, false
			}
			v1, ok := numeric(r, o.name)
			if !ok {
				return Value{}, false
			}
			v0, ok := numeric(prev, o.name)
			if !ok {
				return Value{}, false
			}
			return Value{num: (v1 - v0) / dt}, true
		}
	case *percentage:
		pv, ok := value(o.part, r, prev)
		if !ok {
			return Value{}, false
		}
		tv, ok := value(o.total, r, prev)
		if !ok {
			return Value{}, false
		}
		part, ok := pv.number()
		if !ok {
			return Value{}, false
		}
		total, ok := tv.number()
		if !ok || total == 0 {
			return Value{}, false
		}
		return Value{num: 100 * part / total}, true
	}
	return Value{}, false
}

func lookup(r *Result, name string) (Value, bool) {
	v, ok := r.Metric(name)
	if !ok || !v.isString && math.IsNaN(v.num) {
		return Value{}, false
	}
	return v, true
}

func numeric(r *Result, name string) (float64, bool) {
	v, ok := lookup(r, name)
	if !ok {
		return 0, false
	}
	return v.number()
}

// render substitutes #{name} with the metric's value in r; a metric r
// lacks stays as written, as the reference interpolates only metrics
// that are present.
func (m *message) render(r *Result) string {
	if len(m.parts) == 1 && !m.parts[0].metric {
		return m.parts[0].text
	}
	var b strings.Builder
	b.Grow(len(m.src) + 16)
	for _, p := range m.parts {
		if !p.metric {
			b.WriteString(p.text)
			continue
		}
		if v, ok := lookup(r, p.text); ok {
			b.WriteString(v.String())
		} else {
			b.WriteString("#{")
			b.WriteString(p.text)
			b.WriteString("}")
		}
	}
	return b.String()
}
