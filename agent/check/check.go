// Package check holds the agent's built-in checks. Each check is one file
// whose init registers it here, with its options and their defaults
// declared beside its code (like node_exporter's collectors).
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

// Factory builds a check from its options.
type Factory struct {
	// Name is the check's id in config and on the wire.
	Name string
	// Default says whether the check runs when the config does not mention it.
	Default bool
	// Options returns a pointer to a new options struct holding the
	// defaults; config decodes the check's TOML table into it. Its fields
	// carry `toml` tags and comments documenting each option.
	Options func() any
	// New builds the check from options returned by Options.
	New func(opts any) (Check, error)
}

var (
	mu       sync.Mutex
	registry = map[string]Factory{}
)

// Register adds a check; it is called from the init of the check's file.
func Register(f Factory) {
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
