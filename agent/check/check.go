// Package check holds the agent's built-in checks. Each check is one file
// whose init registers it here with a Def: its options and their defaults,
// their sample configuration and its metrics, declared beside its code
// (like node_exporter's collectors and Telegraf's sample.conf).
package check

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// Check is one built-in check. Run appends the check's metrics to r; an
// error makes the result's status unknown with the error as its message.
// A Check is never run concurrently with itself.
type Check interface {
	Run(ctx context.Context, r *Result) error
}

// Type is the kind of a metric's value.
type Type uint8

const (
	Gauge Type = iota + 1
	Counter
	String
)

func (t Type) String() string {
	switch t {
	case Gauge:
		return "gauge"
	case Counter:
		return "counter"
	case String:
		return "string"
	}
	return "unknown"
}

// Status of a check result.
type Status uint8

const (
	OK Status = iota + 1
	Warn
	Crit
	Unknown
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	case Crit:
		return "crit"
	}
	return "unknown"
}

// Label is one key/value pair of a metric.
type Label struct {
	Key, Value string
}

// Metric is one value a check reports.
type Metric struct {
	Name   string
	Labels []Label
	Type   Type
	Value  float64
	Str    string // for String metrics
	Unit   string
}

// Result is one run of a check. Status defaults to OK when a check leaves it
// unset and returns no error.
type Result struct {
	Status  Status
	Message string
	Metrics []Metric
}

// Reset empties r, keeping its capacity so a reused Result does not allocate.
func (r *Result) Reset() {
	r.Status = 0
	r.Message = ""
	r.Metrics = r.Metrics[:0]
}

// Gauge appends a gauge metric.
func (r *Result) Gauge(name string, v float64, labels ...Label) {
	r.Metrics = append(r.Metrics, Metric{Name: name, Type: Gauge, Value: v, Labels: labels})
}

// Counter appends a counter metric.
func (r *Result) Counter(name string, v float64, labels ...Label) {
	r.Metrics = append(r.Metrics, Metric{Name: name, Type: Counter, Value: v, Labels: labels})
}

// MetricDef declares one metric of a check. A check's list of them is
// written once, beside its code: the sample configuration and README's
// table of built-in metrics are made from it, and tests hold every metric
// a check emits to it (name, type, label keys).
type MetricDef struct {
	Name string
	Type Type
	// Doc says what the value is, in a line.
	Doc string
	// Optional: some hosts do not have it, and a run leaves it out there.
	Optional bool
}

// Def defines a built-in check whose options are an O. The check's file
// passes it to Register from its init, so adding a check touches that
// file alone.
type Def[O any] struct {
	// Name is the check's id in config and on the wire.
	Name string
	// Default says whether the check runs when the config does not mention it.
	Default bool
	// Doc describes the check at the top of its [checks.<name>] table in
	// the sample configuration: plain text, each line becoming a "##" line.
	Doc string
	// Labels are the label keys of every series the check reports, in order.
	Labels []string
	// Metrics are all the metrics the check reports.
	Metrics []MetricDef
	// Defaults returns new options holding the defaults; config decodes the
	// check's TOML table over them. Nil: a new(O) (NoOptions has none).
	Defaults func() *O
	// Sample documents the options in the sample configuration: "##" lines
	// of documentation and "# key = default" settings (continuation lines
	// start "#   " or "# ]"). A test decodes the settings strictly into O
	// and compares them to Defaults.
	Sample string
	// New builds the check from its options.
	New func(o *O) (Check, error)
}

// Factory is a registered check, its options type erased: config decodes
// any check's table into Options() by reflection.
type Factory struct {
	Name    string
	Default bool
	Doc     string
	Labels  []string
	Metrics []MetricDef
	// Options returns a pointer to a new options struct holding the
	// defaults; config decodes the check's TOML table into it.
	Options func() any
	// New builds the check from options returned by Options; nil stands
	// for the defaults.
	New func(opts any) (Check, error)

	sample string
}

// Register adds a check; it is called from the init of the check's file.
// A Def that contradicts itself (two metrics of one name, no metrics, no
// New) panics there, at the start of every test and of the agent.
func Register[O any](d Def[O]) {
	defaults := d.Defaults
	if defaults == nil {
		defaults = func() *O { return new(O) }
	}
	if err := validDef(d.Name, d.Metrics, d.New == nil); err != nil {
		panic(err)
	}
	register(Factory{
		Name:    d.Name,
		Default: d.Default,
		Doc:     d.Doc,
		Labels:  d.Labels,
		Metrics: d.Metrics,
		Options: func() any { return defaults() },
		New: func(opts any) (Check, error) {
			o, err := optionsAs(d.Name, opts, defaults)
			if err != nil {
				return nil, err
			}
			return d.New(o)
		},
		sample: d.Sample,
	})
}

func validDef(name string, metrics []MetricDef, noNew bool) error {
	if name == "" || noNew || len(metrics) == 0 {
		return fmt.Errorf("check %q: a Def needs a Name, a New and its Metrics", name)
	}
	seen := map[string]bool{}
	for _, m := range metrics {
		if m.Name == "" || m.Type == 0 || m.Doc == "" || seen[m.Name] {
			return fmt.Errorf("check %q: metric %q: a name of its own, a Type and a Doc each", name, m.Name)
		}
		seen[m.Name] = true
	}
	return nil
}

// Metric returns the declared metric of the check by name.
func (f Factory) Metric(name string) (MetricDef, bool) {
	for _, m := range f.Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return MetricDef{}, false
}

var (
	mu       sync.Mutex
	registry = map[string]Factory{}
)

func register(f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[f.Name]; dup {
		panic(fmt.Sprintf("check %q registered twice", f.Name))
	}
	registry[f.Name] = f
}

// Lookup returns the factory of a check.
func Lookup(name string) (Factory, bool) {
	mu.Lock()
	defer mu.Unlock()
	f, ok := registry[name]
	return f, ok
}

// All returns every registered check, sorted by name.
func All() []Factory {
	mu.Lock()
	defer mu.Unlock()
	out := make([]Factory, 0, len(registry))
	for _, f := range registry {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// NoOptions is the options type of a check that has none.
type NoOptions struct{}
