package plugin

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/vigilmon/vigil/agent/check"
)

// ParseCloudkick reads Cloudkick / Rackspace agent plugin output into r,
// which it resets first. See the package documentation for the format, for
// the lines it skips and for what a non-zero exit code does.
func ParseCloudkick(out []byte, exitCode int, r *check.Result) error {
	_, err := parseCloudkick(out, exitCode, r)
	return err
}

// MaxSkippedReported is how many skipped lines a result's message and the
// runner's log name; the rest are only counted.
const MaxSkippedReported = 3

// Skipped is what a parser left out of a result: the lines it could not
// read (Cloudkick output only, as the Rackspace agent skips them too).
type Skipped struct {
	Lines  int           // how many lines were skipped
	Errors []*ParseError // the first MaxSkippedReported of them
}

func (s *Skipped) add(err *ParseError) {
	s.Lines++
	if len(s.Errors) < MaxSkippedReported {
		s.Errors = append(s.Errors, err)
	}
}

// ParseErrorsMetric is the gauge that counts the lines skipped in a
// Cloudkick plugin's output; it is only reported when lines were skipped.
const ParseErrorsMetric = "plugin_parse_errors"

// parseCloudkick is ParseCloudkick that also returns the lines it skipped.
// Like the Rackspace agent it logs (here: returns) and skips a line it
// cannot read, keeping the others; only output with no readable line at
// all fails, with the first line's error.
func parseCloudkick(out []byte, exitCode int, r *check.Result) (Skipped, error) {
	r.Reset()
	var st ckState
	var skipped Skipped
	good := 0
	for n, line := range lines(out) {
		text := strings.TrimSpace(line)
		if text == "" {
			continue
		}
		if err := st.line(text, n, r); err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				pe = &ParseError{Format: FormatCloudkick, Line: n, Reason: err.Error()}
			}
			skipped.add(pe)
			continue
		}
		good++
	}
	if good == 0 && skipped.Lines > 0 && exitCode == 0 {
		// Nothing readable: not Cloudkick output at all. (With a non-zero
		// exit, the plugin failed before its status line: the exit code
		// and stderr say more than the parse error.)
		return skipped, finish(r, skipped.Errors[0])
	}

	r.Status = check.OK
	if st.legacy != 0 {
		r.Status = st.legacy
	}
	r.Message = st.status
	if st.unavailable {
		r.Status = check.Unknown
		if !st.gotStatus {
			r.Message = "plugin reported state unavailable"
		}
	}
	if exitCode != 0 {
		if st.legacy == 0 {
			r.Status = check.Unknown
		}
		if st.gotStatus && st.status != "" {
			r.Message = fmt.Sprintf("%s (exit code %d)", st.status, exitCode)
		} else {
			r.Message = exitMessage(exitCode)
		}
	}
	if skipped.Lines > 0 {
		r.Message = withNote(r.Message, skipped.note())
		if len(r.Metrics) < MaxMetrics {
			r.Metrics = append(r.Metrics, check.Metric{Name: ParseErrorsMetric, Type: check.Gauge, Value: float64(skipped.Lines)})
		}
	}
	return skipped, finish(r, nil)
}

// note says in a few words which lines were skipped and why, for a
// result's message: "[2 lines skipped; line 1: unrecognized line …]".
func (s *Skipped) note() string {
	if s.Lines == 0 {
		return ""
	}
	var b strings.Builder
	if s.Lines == 1 {
		b.WriteString("[1 line skipped")
	} else {
		fmt.Fprintf(&b, "[%d lines skipped", s.Lines)
	}
	for _, e := range s.Errors {
		fmt.Fprintf(&b, "; line %d: %s", e.Line, e.Reason)
	}
	b.WriteString("]")
	return b.String()
}

// minNoteBytes is how much of a message a note may claim from the text
// before it, so that a long status text cannot hide the note entirely.
const minNoteBytes = 96

// withNote appends note to msg within MaxMessageBytes: msg keeps at least
// all but minNoteBytes of the room, the note is cut at the end.
func withNote(msg, note string) string {
	if note == "" {
		return msg
	}
	if msg == "" {
		return note
	}
	room := MaxMessageBytes - 1 - min(len(note), minNoteBytes)
	return cleanMessage(msg, room) + " " + note
}

// ckState is what a Cloudkick output has said so far.
type ckState struct {
	gotStatus, gotState, gotTimestamp bool
	status                            string       // status text
	legacy                            check.Status // from "status ok|warn|err", or 0
	unavailable                       bool
}

var ckTypes = map[string]string{
	"string": "string", "gauge": "gauge", "double": "double", "float": "double",
	"int32": "int32", "uint32": "uint32", "int64": "int64", "uint64": "uint64", "int": "int64",
}

const ckTypeList = "string, gauge, int32, uint32, int64, uint64, double, int or float"

// line parses one non-blank, trimmed line numbered n.
func (st *ckState) line(text string, n int, r *check.Result) error {
	fail := func(format string, a ...any) error {
		return &ParseError{Format: FormatCloudkick, Line: n, Reason: fmt.Sprintf(format, a...)}
	}
	kw, rest := cutWord(text)
	switch kw {
	case "status":
		if st.gotStatus {
			return nil // the Rackspace agent keeps the first status line
		}
		st.gotStatus = true
		word, msg := cutWord(rest)
		var s check.Status
		switch word {
		case "ok":
			s = check.OK
		case "warn":
			s = check.Warn
		case "err":
			s = check.Crit
		}
		if s == 0 {
			st.status = rest
			return nil
		}
		st.legacy, st.status = s, msg
		if err := addMetric(r, check.Metric{Name: "legacy_state", Type: check.String, Str: word}); err != nil {
			return fail("%v", err)
		}
		return nil

	case "state":
		var unavailable bool
		switch rest {
		case "available":
		case "unavailable":
			unavailable = true
		default:
			return fail("state %s: want \"state available\" or \"state unavailable\"", quote(rest))
		}
		if !st.gotState {
			st.gotState, st.unavailable = true, unavailable
		}
		return nil

	case "timestamp":
		ms, err := strconv.ParseInt(rest, 10, 64)
		if err != nil || ms < 0 {
			return fail("timestamp %s: want milliseconds since 1970 as a non-negative integer", quote(rest))
		}
		st.gotTimestamp = true
		return nil

	case "metric":
		m, err := ckMetric(rest)
		if err != nil {
			return fail("%v", err)
		}
		if err := addMetric(r, m); err != nil {
			return fail("%v", err)
		}
		return nil
	}
	return fail("unrecognized line %s: want status, state, timestamp or metric", quote(text))
}

const ckMetricForm = "want \"metric <name> <type> <value> [unit]\""

// ckMetric parses what follows "metric ".
func ckMetric(rest string) (check.Metric, error) {
	name, rest := cutWord(rest)
	typ, value := cutWord(rest)
	if name == "" {
		return check.Metric{}, errors.New("metric without name: " + ckMetricForm)
	}
	if !validName(name) {
		return check.Metric{}, fmt.Errorf("metric name %s is not valid: use %s", quote(name), nameRule)
	}
	if typ == "" {
		return check.Metric{}, fmt.Errorf("metric %s has no type: %s", name, ckMetricForm)
	}
	kind, ok := ckTypes[typ]
	if !ok {
		return check.Metric{}, fmt.Errorf("metric %s: unknown type %s (want %s)", name, quote(typ), ckTypeList)
	}
	if value == "" {
		return check.Metric{}, fmt.Errorf("metric %s has no value: %s", name, ckMetricForm)
	}
	if kind == "string" {
		s, err := stringValue(value)
		if err != nil {
			return check.Metric{}, fmt.Errorf("metric %s: %v", name, err)
		}
		return check.Metric{Name: name, Type: check.String, Str: s}, nil
	}

	value, unit := cutWord(value)
	if unit != "" {
		if strings.ContainsAny(unit, " \t") {
			return check.Metric{}, fmt.Errorf("metric %s: too many words after the value: a %s metric takes a value and at most one unit word", name, typ)
		}
		if p := unitProblem(unit); p != "" {
			return check.Metric{}, fmt.Errorf("metric %s: unit %s is %s", name, quote(unit), p)
		}
	}
	var v float64
	switch kind {
	case "gauge", "double":
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || !isDecimal(value) {
			return check.Metric{}, fmt.Errorf("metric %s: value %s is not a finite number", name, quote(value))
		}
		v = f
	case "int32", "int64":
		bits := 32
		if kind == "int64" {
			bits = 64
		}
		i, err := strconv.ParseInt(value, 10, bits)
		if err != nil {
			return check.Metric{}, fmt.Errorf("metric %s: value %s is not an integer in the range of %s", name, quote(value), typ)
		}
		v = float64(i)
	case "uint32", "uint64":
		bits := 32
		if kind == "uint64" {
			bits = 64
		}
		u, err := strconv.ParseUint(value, 10, bits)
		if err != nil {
			return check.Metric{}, fmt.Errorf("metric %s: value %s is not an integer in the range of %s", name, quote(value), typ)
		}
		v = float64(u)
	}
	return check.Metric{Name: name, Type: check.Gauge, Value: v, Unit: unit}, nil
}

// isDecimal reports whether s is a plain decimal number:
// [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?
// (strconv.ParseFloat also takes "inf", hex and underscores).
func isDecimal(s string) bool {
	num, rest := splitNumber(s)
	return num != "" && rest == ""
}

// splitNumber splits the leading decimal number off s.
func splitNumber(s string) (num, rest string) {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return "", s
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := j
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k > j {
			i = k
		}
	}
	return s[:i], s[i:]
}
