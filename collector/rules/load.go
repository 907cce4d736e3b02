package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"go.yaml.in/yaml/v3"

	"github.com/vigilmon/vigil/collector/querylimit"
)

// Limits bound what a rule file may ask of the collector. Zero fields
// mean DefaultLimits.
type Limits struct {
	// MaxFileBytes bounds one rule file.
	MaxFileBytes int
	// MaxGroups bounds the groups of one file, MaxRules the rules of one
	// group.
	MaxGroups, MaxRules int
	// MaxAlertsPerRule bounds the alerts (pending, firing or kept firing)
	// of one rule; a group's own limit, if lower, wins. A rule over it
	// fails its evaluation and drops its alerts, as Prometheus does.
	MaxAlertsPerRule int
	// MaxTemplateBytes bounds one expanded label or annotation; longer
	// ones are cut.
	MaxTemplateBytes int
	// MinInterval bounds a group's interval from below.
	MinInterval time.Duration
	// Query bounds each rule's expression as the query endpoints do
	// (length, nesting, subquery steps).
	Query querylimit.Limits
}

// DefaultLimits are generous for hand-written rule files and small enough
// that one tenant's file cannot hold the collector.
var DefaultLimits = Limits{
	MaxFileBytes:     1 << 20,
	MaxGroups:        500,
	MaxRules:         500,
	MaxAlertsPerRule: 10000,
	MaxTemplateBytes: 16 << 10,
	MinInterval:      10 * time.Second,
}

// DefaultInterval is the interval of a group that sets none (Prometheus'
// global evaluation_interval default).
const DefaultInterval = time.Minute

// WithDefaults returns l with its zero fields set from DefaultLimits.
func (l Limits) WithDefaults() Limits {
	set := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	set(&l.MaxFileBytes, DefaultLimits.MaxFileBytes)
	set(&l.MaxGroups, DefaultLimits.MaxGroups)
	set(&l.MaxRules, DefaultLimits.MaxRules)
	set(&l.MaxAlertsPerRule, DefaultLimits.MaxAlertsPerRule)
	set(&l.MaxTemplateBytes, DefaultLimits.MaxTemplateBytes)
	if l.MinInterval == 0 {
		l.MinInterval = DefaultLimits.MinInterval
	}
	l.Query = l.Query.WithDefaults()
	return l
}

// GroupSpec is a validated rule group of a file.
type GroupSpec struct {
	File, Name  string
	Interval    time.Duration
	QueryOffset time.Duration
	// Limit is the group's limit on alerts per rule (0: none besides
	// Limits.MaxAlertsPerRule).
	Limit int
	Rules []RuleSpec
}

// RuleSpec is a validated alerting rule.
type RuleSpec struct {
	Name          string
	Expr          string
	For           time.Duration
	KeepFiringFor time.Duration
	// Labels are the rule's labels over the group's; values are templates.
	Labels      map[string]string
	Annotations map[string]string
}

// ErrRecordingRule is in the chain of the error refusing a recording rule.
var ErrRecordingRule = errors.New("recording rules are not supported (only alerting rules are); compute the expression in the alert's expr instead")

var ruleParser = parser.NewParser(parser.Options{})

// quiet takes rulefmt's warning about multi-document files: Parse
// refuses them itself.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// LoadFile reads and parses the rule file at path.
func LoadFile(path string, l Limits) ([]GroupSpec, error) {
	l = l.WithDefaults()
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rule file %s: %w", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(l.MaxFileBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("rule file %s: %w", path, err)
	}
	return Parse(path, b, l)
}

// Parse parses and validates the rule file named file with contents b:
// the checks of Prometheus' rulefmt (promtool check rules), then the
// limits, then what this package does not support. The error names the
// file, and the group and rule where there is one; it lists every
// problem rulefmt found.
func Parse(file string, b []byte, l Limits) ([]GroupSpec, error) {
	l = l.WithDefaults()
	fail := func(format string, args ...any) error {
		return fmt.Errorf("rule file %s: "+format, append([]any{file}, args...)...)
	}
	if len(b) > l.MaxFileBytes {
		return nil, fail("larger than %d bytes (limit max_file_bytes)", l.MaxFileBytes)
	}
	// Bound the groups and rules before rulefmt validates them: its
	// template checks cost per rule.
	if err := precount(b, l); err != nil {
		return nil, fail("%w", err)
	}
	rgs, errs := rulefmt.Parse(b, false, model.LegacyValidation, ruleParser, quiet)
	if len(errs) > 0 {
		return nil, fail("%w", errors.Join(errs...))
	}
	if rgs == nil {
		return nil, nil
	}
	out := make([]GroupSpec, 0, len(rgs.Groups))
	for _, g := range rgs.Groups {
		gfail := func(format string, args ...any) error {
			return fail("group %q: "+format, append([]any{g.Name}, args...)...)
		}
		if len(g.Rules) > l.MaxRules {
			return nil, gfail("has %d rules; at most %d allowed (limit max_rules)", len(g.Rules), l.MaxRules)
		}
		gs := GroupSpec{File: file, Name: g.Name, Interval: time.Duration(g.Interval), Limit: g.Limit}
		if gs.Interval == 0 {
			gs.Interval = DefaultInterval
		}
		if gs.Interval < l.MinInterval {
			return nil, gfail("interval %v is shorter than %v (limit min_interval)", gs.Interval, l.MinInterval)
		}
		if g.QueryOffset != nil {
			gs.QueryOffset = time.Duration(*g.QueryOffset)
		}
		if g.Limit < 0 {
			return nil, gfail("limit %d is negative", g.Limit)
		}
		for i, r := range g.Rules {
			rfail := func(format string, args ...any) error {
				name := r.Alert
				kind := "alert"
				if r.Record != "" {
					name, kind = r.Record, "record"
				}
				return gfail("rule %d (%s: %q): "+format, append([]any{i + 1, kind, name}, args...)...)
			}
			if r.Record != "" {
				return nil, rfail("%w", ErrRecordingRule)
			}
			if err := l.Query.CheckText(r.Expr); err != nil {
				return nil, rfail("expr: %w", err)
			}
			e, err := ruleParser.ParseExpr(r.Expr)
			if err != nil {
				return nil, rfail("expr: %w", err)
			}
			if err := l.Query.CheckExpr(e, 0); err != nil {
				return nil, rfail("expr: %w", err)
			}
			if t := e.Type(); t != parser.ValueTypeVector && t != parser.ValueTypeScalar {
				// Prometheus loads these and fails every evaluation; a
				// refusal at load tells the author at once.
				return nil, rfail("expr has type %s; an alert needs an instant vector or a scalar", t)
			}
			if r.For < 0 || r.KeepFiringFor < 0 {
				return nil, rfail("for and keep_firing_for must not be negative")
			}
			rs := RuleSpec{
				Name: r.Alert, Expr: r.Expr,
				For: time.Duration(r.For), KeepFiringFor: time.Duration(r.KeepFiringFor),
				Labels: map[string]string{}, Annotations: map[string]string{},
			}
			for k, v := range g.Labels {
				rs.Labels[k] = v
			}
			for k, v := range r.Labels {
				rs.Labels[k] = v
			}
			for k, v := range r.Annotations {
				rs.Annotations[k] = v
			}
			gs.Rules = append(gs.Rules, rs)
		}
		out = append(out, gs)
	}
	return out, nil
}

// precount refuses a file with more groups, or a group with more rules,
// than l allows, from a cheap decode that keeps only the counts.
func precount(b []byte, l Limits) error {
	var shape struct {
		Groups []struct {
			Name  string     `yaml:"name"`
			Rules []struct{} `yaml:"rules"`
		} `yaml:"groups"`
	}
	d := yaml.NewDecoder(bytes.NewReader(b))
	if err := d.Decode(&shape); err != nil {
		return nil // rulefmt reports it with its position
	}
	var more any
	if err := d.Decode(&more); !errors.Is(err, io.EOF) {
		// rulefmt reads only the first document and drops the rest
		// with a log line; refusing tells the one who wrote it.
		return errors.New("holds more than one YAML document; put all groups in one")
	}
	if len(shape.Groups) > l.MaxGroups {
		return fmt.Errorf("has %d groups; at most %d allowed (limit max_groups)", len(shape.Groups), l.MaxGroups)
	}
	for _, g := range shape.Groups {
		if len(g.Rules) > l.MaxRules {
			return fmt.Errorf("group %q: has %d rules; at most %d allowed (limit max_rules)", g.Name, len(g.Rules), l.MaxRules)
		}
	}
	return nil
}

// sortedKeys lists m's keys in order.
func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
