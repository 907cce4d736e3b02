package plugin

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/vigilmon/vigil/agent/check"
)

// ParseNagios reads Nagios / Monitoring Plugins output and exit code into r,
// which it resets first. See the package documentation for the format.
func ParseNagios(out []byte, exitCode int, r *check.Result) error {
	r.Reset()
	switch exitCode {
	case 0:
		r.Status = check.OK
	case 1:
		r.Status = check.Warn
	case 2:
		r.Status = check.Crit
	default:
		r.Status = check.Unknown
	}
	inPerf := false   // past the '|' that ends the long output
	var long []string // lines of long output
	var unknown []string
	for n, line := range lines(out) {
		switch {
		case n == 1:
			text, perf, ok := strings.Cut(line, "|")
			r.Message = strings.TrimSpace(text)
			if ok {
				if err := parsePerfdata(perf, n, r, &unknown); err != nil {
					return finish(r, err)
				}
			}
		case inPerf:
			if err := parsePerfdata(line, n, r, &unknown); err != nil {
				return finish(r, err)
			}
		default:
			text, perf, ok := strings.Cut(line, "|")
			if t := strings.TrimSpace(text); t != "" {
				long = append(long, t)
			}
			if ok {
				inPerf = true
				if err := parsePerfdata(perf, n, r, &unknown); err != nil {
					return finish(r, err)
				}
			}
		}
	}
	r.Message = joinLongOutput(r.Message, long)
	switch {
	case r.Message == "" && exitCode != 0:
		r.Message = exitMessage(exitCode)
	case exitCode < 0 || exitCode > 3:
		r.Message = fmt.Sprintf("%s (exit code %d)", r.Message, exitCode)
	}
	if len(unknown) > 0 {
		r.Message = withNote(r.Message, "[unknown (U): "+strings.Join(unknown, ", ")+"]")
	}
	return finish(r, nil)
}

// joinLongOutput makes the first line and the long output one message
// line: the first line whole, then the long output's lines, each after
// "; " (or a space when the line before ends with ';' already, as check_disk's
// do). finish then cuts what does not fit in MaxMessageBytes with "…".
func joinLongOutput(first string, long []string) string {
	var b strings.Builder
	b.WriteString(first)
	for _, l := range long {
		if b.Len() > MaxMessageBytes {
			break // the rest would be cut anyway
		}
		switch {
		case b.Len() == 0:
		case strings.HasSuffix(b.String(), ";"):
			b.WriteByte(' ')
		default:
			b.WriteString("; ")
		}
		b.WriteString(l)
	}
	return b.String()
}

// parsePerfdata parses the performance data s found on line n; the
// labels of items whose value is U (unknown) are added to unknown, at
// most maxUnknownNamed of them.
func parsePerfdata(s string, n int, r *check.Result, unknown *[]string) error {
	fail := func(format string, a ...any) error {
		return &ParseError{Format: FormatNagios, Line: n, Reason: "perfdata " + fmt.Sprintf(format, a...)}
	}
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			return nil
		}
		start := i
		var label string
		if s[i] == '\'' {
			var b strings.Builder
			closed := false
			for i++; i < len(s); i++ {
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i++
						continue
					}
					closed = true
					i++
					break
				}
				b.WriteByte(s[i])
			}
			if !closed {
				return fail("%s: quoted label without closing quote", quote(s[start:]))
			}
			label = b.String()
			if i >= len(s) || s[i] != '=' {
				return fail("label %s: want '=' right after the closing quote", quote(label))
			}
		} else {
			for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' {
				i++
			}
			if i >= len(s) || s[i] != '=' {
				return fail("%s: no '=' (want 'label'=value[UOM];[warn];[crit];[min];[max])", quote(s[start:i]))
			}
			label = s[start:i]
		}
		i++ // '='
		vstart := i
		for i < len(s) && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		if label == "" {
			return fail("%s: empty label", quote(s[start:i]))
		}
		isU, err := perfItem(label, s[vstart:i], r)
		if err != nil {
			return fail("%s: %v", quote(label), err)
		}
		if isU && len(*unknown) < maxUnknownNamed {
			*unknown = append(*unknown, quote(label))
		}
	}
}

// maxUnknownNamed bounds the perfdata labels with value U that a message
// names.
const maxUnknownNamed = 8

// uomScale maps the units of measure of the Nagios plugin guidelines to
// base units, as Prometheus names them: seconds and bytes. A kilobyte is
// 1024 bytes, as check_disk and check_swap compute it. %, s and B are
// kept; c (a counter) has no unit.
var uomScale = map[string]struct {
	unit string
	mul  float64 // value * mul, or
	div  float64 // value / div (exact for decimal fractions of a second)
}{
	"s":  {"s", 1, 1},
	"ms": {"s", 1, 1e3},
	"us": {"s", 1, 1e6},
	"%":  {"%", 1, 1},
	"B":  {"B", 1, 1},
	"KB": {"B", 1 << 10, 1},
	"MB": {"B", 1 << 20, 1},
	"GB": {"B", 1 << 30, 1},
	"TB": {"B", 1 << 40, 1},
}

// longestSuffix is the longest name suffix of a perfdata item's
// threshold and bound metrics: a label kept as a metric name must leave
// room for it.
const longestSuffix = "_crit_inside_max"

// perfItem adds the metrics of one perfdata item: its value (in base
// units), its thresholds (a number or a range) and its bounds. isU reports
// a value of U (unknown), which adds nothing.
func perfItem(label, spec string, r *check.Result) (isU bool, err error) {
	parts := strings.Split(spec, ";")
	if len(parts) > 5 {
		for _, p := range parts[5:] {
			if p != "" {
				return false, fmt.Errorf("%d ';'-separated fields, want at most 5 (value;warn;crit;min;max)", len(parts))
			}
		}
	}
	val := parts[0]
	if val == "" {
		return false, fmt.Errorf("no value")
	}
	if val == "U" {
		return true, nil // the plugin could not measure it
	}
	num, uom := splitNumber(val)
	if num == "" {
		return false, fmt.Errorf("value %s is not a number", quote(val))
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(v, 0) {
		return false, fmt.Errorf("value %s is out of range", quote(num))
	}
	typ, unit := check.Gauge, ""
	mul, div := 1.0, 1.0
	switch sc, known := uomScale[uom]; {
	case uom == "":
	case uom == "c":
		typ = check.Counter
	case known:
		unit, mul, div = sc.unit, sc.mul, sc.div
	case isUnitWord(uom):
		unit = uom
	default:
		return false, fmt.Errorf("value %s: unit of measure %s is not one of s ms us %% B KB MB GB TB c (a decimal comma?)", quote(val), quote(uom))
	}
	scale := func(x float64) (float64, bool) {
		x = x * mul / div
		return x, !math.IsInf(x, 0)
	}
	v, ok := scale(v)
	if !ok {
		return false, fmt.Errorf("value %s is out of range in %s", quote(val), unit)
	}

	name := label
	var labels []check.Label
	if !validName(label) || len(label) > MaxNameBytes-len(longestSuffix) {
		if p := labelValueProblem(label); p != "" {
			return false, fmt.Errorf("label is %s", p)
		}
		name = "value"
		labels = []check.Label{{Key: "perfdata", Value: label}}
	}
	add := func(suffix string, x float64) error {
		x, ok := scale(x)
		if !ok {
			return fmt.Errorf("%s is out of range in %s", suffix[1:], unit)
		}
		return addMetric(r, check.Metric{Name: name + suffix, Labels: labels, Type: check.Gauge, Value: x, Unit: unit})
	}
	if err := addMetric(r, check.Metric{Name: name, Labels: labels, Type: typ, Value: v, Unit: unit}); err != nil {
		return false, err
	}

	for k, suffix := range [...]string{"", "_warn", "_crit", "_min", "_max"} {
		if k == 0 || k >= len(parts) {
			continue
		}
		t := parts[k]
		if uom != "" && uom != "c" {
			t = strings.TrimSuffix(t, uom)
		}
		if t == "" || t == "U" {
			continue
		}
		if !isDecimal(t) {
			what := map[int]string{1: "warn threshold", 2: "crit threshold", 3: "min", 4: "max"}[k]
			if k > 2 {
				return false, fmt.Errorf("%s %s is not a number", what, quote(parts[k]))
			}
			rg, ok := parseRange(t)
			if !ok {
				return false, fmt.Errorf("%s %s is neither a number nor a range ([@][start|~]:[end])", what, quote(parts[k]))
			}
			// A range does not fit one number: its ends become two
			// gauges, named for how the plugin compares (outside the
			// range alerts; with @, inside it does).
			if rg.inside {
				suffix += "_inside"
			}
			if rg.hasStart {
				if err := add(suffix+"_min", rg.start); err != nil {
					return false, err
				}
			}
			if rg.hasEnd {
				if err := add(suffix+"_max", rg.end); err != nil {
					return false, err
				}
			}
			continue
		}
		tv, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsInf(tv, 0) {
			return false, fmt.Errorf("%s value %s is out of range", suffix[1:], quote(t))
		}
		if err := add(suffix, tv); err != nil {
			return false, err
		}
	}
	return false, nil
}

// isUnitWord reports whether a non-standard unit of measure is kept:
// 1 to 16 bytes of letters, '%', '/' or '°' (KiB, MiB, ns, °C, req/s).
func isUnitWord(s string) bool {
	if len(s) > 16 {
		return false
	}
	for _, c := range s {
		if !unicode.IsLetter(c) && c != '%' && c != '/' && c != '°' {
			return false
		}
	}
	return true
}

// threshold is a Nagios threshold range: [@][start:][end], start ~ for
// minus infinity, no end for plus infinity, no "start:" for 0.
type threshold struct {
	start, end       float64
	hasStart, hasEnd bool // false: infinite
	inside           bool // @: alert inside the range, else outside
}

// parseRange reads a Nagios threshold range other than a plain number.
func parseRange(s string) (threshold, bool) {
	var t threshold
	rest, inside := strings.CutPrefix(s, "@")
	t.inside = inside
	start, end, colon := strings.Cut(rest, ":")
	if !colon {
		start, end = "0", start // @10 is @0:10
	}
	if end == "" && (!colon || start == "") {
		return t, false // "", "@", ":"
	}
	switch {
	case start == "~":
	case start == "":
		t.hasStart = true // ":10" is 0:10, as the plugins' own parser reads it
	case isDecimal(start):
		v, err := strconv.ParseFloat(start, 64)
		if err != nil || math.IsInf(v, 0) {
			return t, false
		}
		t.start, t.hasStart = v, true
	default:
		return t, false
	}
	if end != "" {
		if !isDecimal(end) {
			return t, false
		}
		v, err := strconv.ParseFloat(end, 64)
		if err != nil || math.IsInf(v, 0) {
			return t, false
		}
		t.end, t.hasEnd = v, true
	}
	return t, true
}
