package alarm

import (
	"strconv"
	"time"
)

// State is an alarm's state for one agent.
type State uint8

// The states, in the order the binary state encoding stores them: never
// renumber.
const (
	// StateNone: no state has settled yet (a new alarm, or a new agent).
	StateNone State = iota
	StateOK
	StateWarning
	StateCritical
	// StateUnknown: the check could not run (its status is unknown), so
	// the criteria were not evaluated.
	StateUnknown
	// StateNoData: no result arrived within Settings.NoDataAfter periods.
	StateNoData
	// StateAgentDown: the agent's session is gone (Agent only; a check
	// alarm is held, not moved, while its agent is down).
	StateAgentDown
	numStates
)

var stateNames = [numStates]string{"NONE", "OK", "WARNING", "CRITICAL", "UNKNOWN", "NO_DATA", "AGENT_DOWN"}

func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// ParseState reads a state's name as String writes it.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if n == name {
			return State(i), true
		}
	}
	return StateNone, false
}

// CheckStatus is the status an agent reported for one run of a check
// (protocol.Status without its unspecified value).
type CheckStatus uint8

const (
	StatusOK CheckStatus = iota
	StatusWarn
	StatusCrit
	// StatusUnknown: the check could not run (timeout, plugin failed to
	// start, unparsable output).
	StatusUnknown
)

// state maps a check's own status onto an alarm state: what an alarm
// without criteria, or whose criteria return nothing, reports.
func (s CheckStatus) state() State {
	switch s {
	case StatusOK:
		return StateOK
	case StatusWarn:
		return StateWarning
	case StatusCrit:
		return StateCritical
	}
	return StateUnknown
}

// Value is one metric's value in a check result: a number (gauges and
// counters) or a string.
type Value struct {
	num      float64
	str      string
	isString bool
}

// Num is a numeric metric value.
func Num(f float64) Value { return Value{num: f} }

// Str is a string metric value.
func Str(s string) Value { return Value{str: s, isString: true} }

// IsString says whether v holds a string.
func (v Value) IsString() bool { return v.isString }

// Float is v's number (0 for a string).
func (v Value) Float() float64 { return v.num }

// String is v's string, or its number formatted as interpolation writes it.
func (v Value) String() string {
	if v.isString {
		return v.str
	}
	return formatNum(v.num)
}

func formatNum(f float64) string {
	if f == float64(int64(f)) && f < 1e15 && f > -1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// Metric is one named value of a result.
type Metric struct {
	Name  string
	Value Value
}

// Result is one run of one check, as criteria see it.
type Result struct {
	// Time is the run's scheduled time (not its arrival), so a result
	// replayed from an agent's spool is judged by when it happened.
	Time    time.Time
	Status  CheckStatus
	Message string
	// Metrics are searched in order, the first of a name wins. A slice,
	// not a map: a result holds a few metrics, criteria read a few, and
	// building a map per result at ingest would cost more than all the
	// evaluation (BenchmarkSplitAndEvaluate).
	Metrics []Metric
}

// Metric looks a metric up by name.
func (r *Result) Metric(name string) (Value, bool) {
	for i := range r.Metrics {
		if r.Metrics[i].Name == name {
			return r.Metrics[i].Value, true
		}
	}
	return Value{}, false
}

// Keep copies r with only the named metrics (Criteria.PreviousMetrics of
// the alarms on the check): what a caller keeps as the previous result,
// since a Splitter reuses the memory of the results it returns.
func (r *Result) Keep(names []string) Result {
	k := Result{Time: r.Time, Status: r.Status}
	for _, name := range names {
		if v, ok := r.Metric(name); ok {
			k.Metrics = append(k.Metrics, Metric{Name: name, Value: v})
		}
	}
	return k
}
