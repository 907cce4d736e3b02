// Package querylimit bounds what one query may cost the collector (DESIGN
// §9): its length and nesting before it is parsed, its subqueries' steps
// before it is evaluated, the samples it loads, how many queries run at
// once, and how long one may take. A query over a limit is refused with a
// *Refusal naming the limit's config key; nothing a read token sends can
// crash the collector or hold it past the HTTP write timeout.
package querylimit

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Limits are the [query] settings. Zero fields mean Defaults.
type Limits struct {
	// MaxLength bounds a PromQL expression's bytes.
	MaxLength int
	// MaxDepth bounds the nesting of ( [ { in the text, checked before
	// parsing because parsing costs time quadratic in it, and the depth of
	// the parsed expression (operators nest without brackets).
	MaxDepth int
	// MaxSubquerySteps bounds the evaluation steps of a subquery: its
	// range (plus a range query's span) over its step; nested subqueries
	// multiply.
	MaxSubquerySteps int
	// MaxSamples bounds the samples one query loads from the store and
	// holds in the engine (Prometheus' query.max-samples); for /v1/query,
	// the points it reads.
	MaxSamples int
	// MaxConcurrent queries run at once (Prometheus'
	// query.max-concurrency); more wait in a queue up to QueueWait.
	MaxConcurrent int
	QueueWait     time.Duration
	// Timeout bounds a query from its arrival (queue included) to its
	// answer; it must stay below the HTTP write timeout so that a timed
	// out query still gets its error written.
	Timeout time.Duration
}

// Defaults are the limits a Prometheus user would expect: Prometheus'
// max-samples, max-concurrency and query_range point limit; the timeout
// below the collector's 60 s HTTP write timeout (Prometheus' 2 m would
// outlast it).
var Defaults = Limits{
	MaxLength:        65536,
	MaxDepth:         100,
	MaxSubquerySteps: 11000,
	MaxSamples:       50_000_000,
	MaxConcurrent:    20,
	QueueWait:        10 * time.Second,
	Timeout:          30 * time.Second,
}

// WithDefaults returns l with its zero fields set from Defaults.
func (l Limits) WithDefaults() Limits {
	set := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	set(&l.MaxLength, Defaults.MaxLength)
	set(&l.MaxDepth, Defaults.MaxDepth)
	set(&l.MaxSubquerySteps, Defaults.MaxSubquerySteps)
	set(&l.MaxSamples, Defaults.MaxSamples)
	set(&l.MaxConcurrent, Defaults.MaxConcurrent)
	if l.QueueWait == 0 {
		l.QueueWait = Defaults.QueueWait
	}
	if l.Timeout == 0 {
		l.Timeout = Defaults.Timeout
	}
	return l
}

// Reasons of refusal, the label of vigil_collector_query_refused_total.
const (
	ReasonLength        = "length"
	ReasonDepth         = "depth"
	ReasonSubquerySteps = "subquery_steps"
	ReasonSamples       = "samples"
	ReasonConcurrency   = "concurrency"
	ReasonTimeout       = "timeout"
)

// Reasons lists every reason, so the refusal counter shows each from the
// start.
var Reasons = []string{ReasonLength, ReasonDepth, ReasonSubquerySteps, ReasonSamples, ReasonConcurrency, ReasonTimeout}

// Refusal is a query refused by a limit.
type Refusal struct {
	// Reason is one of Reasons; Key is the config key of the limit.
	Reason, Key string
	msg         string
}

func (r *Refusal) Error() string { return r.msg + " (limit: " + r.Key + ")" }

func refuse(reason, key, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, Key: "query." + key, msg: fmt.Sprintf(format, args...)}
}

// AsRefusal returns the refusal in err's chain.
func AsRefusal(err error) (*Refusal, bool) {
	var r *Refusal
	ok := errors.As(err, &r)
	return r, ok
}

// TimedOut is the refusal of a query that ran out of time after d.
func TimedOut(d time.Duration) *Refusal {
	return refuse(ReasonTimeout, "timeout", "the query did not finish within %v", d)
}

// TooManySamples is the refusal of a query that loads more than max samples.
func TooManySamples(max int) *Refusal {
	return refuse(ReasonSamples, "max_samples", "the query would load more than %d samples; narrow its selectors or its range", max)
}

// CheckText refuses an expression that is too long or nested too deep,
// before it is parsed: the parser's time grows with the square of the
// expression tree's depth (4.4 s for a 64 KiB chain x+x+…), and later
// passes recurse along it.
func (l Limits) CheckText(q string) error {
	if len(q) > l.MaxLength {
		return refuse(ReasonLength, "max_length", "the query is %d bytes long; at most %d allowed", len(q), l.MaxLength)
	}
	if d := Nesting(q, l.MaxDepth); d > l.MaxDepth {
		return refuse(ReasonDepth, "max_depth", "the query nests brackets and operators more than %d deep", l.MaxDepth)
	}
	return nil
}

// Nesting bounds from above how deep q's expression tree is, without a
// parser, counted up to stop+1: each open ( [ or { is a level, and so is
// each operator (+ - * / % ^ < > = !, and, or, unless, atan2) within its
// bracket, since a chain of them nests as deep as it is long. String
// literals, comments and label matchers inside { } do not count.
// Unbalanced brackets are left for the parser to report.
func Nesting(q string, stop int) int {
	// ops[i] is the operators seen at bracket level i; braces > 0 while
	// inside label matchers.
	ops := []int{0}
	var open []byte
	depth, deepest, braces := 0, 0, 0
	note := func() bool {
		if depth > deepest {
			deepest = depth
		}
		return deepest > stop
	}
	for i := 0; i < len(q); i++ {
		switch c := q[i]; {
		case c == '(' || c == '[' || c == '{':
			open = append(open, c)
			ops = append(ops, 0)
			if c == '{' {
				braces++
			}
			depth++
			if note() {
				return deepest
			}
		case c == ')' || c == ']' || c == '}':
			if len(open) > 0 {
				if open[len(open)-1] == '{' {
					braces--
				}
				depth -= 1 + ops[len(ops)-1]
				open, ops = open[:len(open)-1], ops[:len(ops)-1]
			}
		case c == '"' || c == '\'' || c == '`':
			// Skip to the closing quote; only "" and '' have escapes.
			for i++; i < len(q) && q[i] != c; i++ {
				if q[i] == '\\' && c != '`' {
					i++
				}
			}
		case c == '#':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case strings.IndexByte("+-*/%^<>=!", c) >= 0:
			if braces == 0 {
				ops[len(ops)-1]++
				depth++
				if note() {
					return deepest
				}
			}
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_':
			j := i
			for j < len(q) && (q[j] >= 'a' && q[j] <= 'z' || q[j] >= 'A' && q[j] <= 'Z' || q[j] >= '0' && q[j] <= '9' || q[j] == '_' || q[j] == ':') {
				j++
			}
			switch strings.ToLower(q[i:j]) {
			case "and", "or", "unless", "atan2":
				if braces == 0 {
					ops[len(ops)-1]++
					depth++
					if note() {
						return deepest
					}
				}
			}
			i = j - 1
		}
	}
	return deepest
}
