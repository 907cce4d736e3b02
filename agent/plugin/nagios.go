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
	inPerf := false // past the '|' that ends the long output
	for n, line := range lines(out) {
		switch {
		case n == 1:
			text, perf, ok := strings.Cut(line, "|")
			r.Message = strings.TrimSpace(text)
			if ok {
				if err := parsePerfdata(perf, n, r); err != nil {
					return finish(r, err)
				}
			}
		case inPerf:
			if err := parsePerfdata(line, n, r); err != nil {
				return finish(r, err)
			}
		default:
			if _, perf, ok := strings.Cut(line, "|"); ok {
				inPerf = true
				if err := parsePerfdata(perf, n, r); err != nil {
					return finish(r, err)
				}
			}
		}
	}
	switch {
	case r.Message == "" && exitCode != 0:
		r.Message = exitMessage(exitCode)
	case exitCode < 0 || exitCode > 3:
		r.Message = fmt.Sprintf("%s (exit code %d)", r.Message, exitCode)
	}
	return finish(r, nil)
}

// parsePerfdata parses the performance data s found on line n.
func parsePerfdata(s string, n int, r *check.Result) error {
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
		if err := perfItem(label, s[vstart:i], r); err != nil {
			return fail("%s: %v", quote(label), err)
		}
	}
}

// knownUOM are the units of measure of the Nagios plugin guidelines.
var knownUOM = map[string]bool{"s": true, "ms": true, "us": true, "%": true, "B": true, "KB": true, "MB": true, "GB": true, "TB": true, "c": true}

// perfItem adds the metrics of one perfdata item: its value and the
// thresholds and bounds that are plain numbers.
func perfItem(label, spec string, r *check.Result) error {
	parts := strings.Split(spec, ";")
	if len(parts) > 5 {
		for _, p := range parts[5:] {
			if p != "" {
				return fmt.Errorf("%d ';'-separated fields, want at most 5 (value;warn;crit;min;max)", len(parts))
			}
		}
	}
	val := parts[0]
	if val == "" {
		return fmt.Errorf("no value")
	}
	if val == "U" {
		return nil // the plugin could not measure it
	}
	num, uom := splitNumber(val)
	if num == "" {
		return fmt.Errorf("value %s is not a number", quote(val))
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsInf(v, 0) {
		return fmt.Errorf("value %s is out of range", quote(num))
	}
	typ, unit := check.Gauge, ""
	switch {
	case uom == "":
	case uom == "c":
		typ = check.Counter
	case knownUOM[uom] || isUnitWord(uom):
		unit = uom
	default:
		return fmt.Errorf("value %s: unit of measure %s is not one of s ms us %% B KB MB GB TB c (a decimal comma?)", quote(val), quote(uom))
	}

	name := label
	var labels []check.Label
	if !validName(label) || len(label) > MaxNameBytes-len("_warn") {
		if p := labelValueProblem(label); p != "" {
			return fmt.Errorf("label is %s", p)
		}
		name = "value"
		labels = []check.Label{{Key: "perfdata", Value: label}}
	}
	if err := addMetric(r, check.Metric{Name: name, Labels: labels, Type: typ, Value: v, Unit: unit}); err != nil {
		return err
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
			if (k == 1 || k == 2) && validRange(t) {
				continue // a range does not fit one number: checked, not kept
			}
			what := map[int]string{1: "warn threshold", 2: "crit threshold", 3: "min", 4: "max"}[k]
			if k <= 2 {
				return fmt.Errorf("%s %s is neither a number nor a range ([@][start|~]:[end])", what, quote(parts[k]))
			}
			return fmt.Errorf("%s %s is not a number", what, quote(parts[k]))
		}
		tv, err := strconv.ParseFloat(t, 64)
		if err != nil || math.IsInf(tv, 0) {
			return fmt.Errorf("%s value %s is out of range", suffix[1:], quote(t))
		}
		if err := addMetric(r, check.Metric{Name: name + suffix, Labels: labels, Type: check.Gauge, Value: tv, Unit: unit}); err != nil {
			return err
		}
	}
	return nil
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

// validRange reports whether s is a Nagios threshold range other than a
// plain number: [@][start:][end] where start may be ~ (minus infinity).
func validRange(s string) bool {
	s = strings.TrimPrefix(s, "@")
	start, end, colon := strings.Cut(s, ":")
	if !colon {
		return isDecimal(start)
	}
	if start != "" && start != "~" && !isDecimal(start) {
		return false
	}
	if end != "" && !isDecimal(end) {
		return false
	}
	return start != "" || end != ""
}
