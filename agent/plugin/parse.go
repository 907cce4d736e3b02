package plugin

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vigilmon/vigil/agent/check"
)

// Limits on what one plugin run may report (DESIGN §3, §9).
const (
	MaxMetrics          = 2000 // metrics in one result
	MaxNameBytes        = 128  // metric name
	MaxLabels           = 16   // labels on one metric
	MaxLabelValueBytes  = 256  // label value
	MaxMessageBytes     = 256  // status message; longer ones are cut
	MaxStringValueBytes = 1024 // value of a string metric
	MaxUnitBytes        = 64   // unit of a metric
)

// ParseError is plugin output that does not follow its format.
type ParseError struct {
	Format Format
	Line   int // 1-based; 0 when the error is about no single line
	Reason string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s output line %d: %s", e.Format, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s output: %s", e.Format, e.Reason)
}

// Parse reads a plugin's stdout and exit code in format f (FormatAuto:
// detected with Detect) into r, which it resets first. On error, r has
// status unknown, the error as its message and no metrics.
func Parse(f Format, out []byte, exitCode int, r *check.Result) error {
	_, err := parse(f, out, exitCode, r)
	return err
}

// parse is Parse that also returns the lines a lenient parser skipped.
func parse(f Format, out []byte, exitCode int, r *check.Result) (Skipped, error) {
	if f == FormatAuto {
		f = Detect(out)
	}
	switch f {
	case FormatCloudkick:
		return parseCloudkick(out, exitCode, r)
	case FormatNagios:
		return Skipped{}, ParseNagios(out, exitCode, r)
	case FormatInflux:
		return Skipped{}, ParseInflux(out, exitCode, r)
	}
	r.Reset()
	return Skipped{}, finish(r, fmt.Errorf("unknown plugin output format %q", string(f)))
}

// Detect decides the format of a plugin's output; see the package
// documentation for the rule.
func Detect(out []byte) Format {
	first := true
	for _, line := range lines(out) {
		text := strings.TrimSpace(line)
		if text == "" {
			continue
		}
		if first {
			first = false
			kw, _ := cutWord(text)
			switch kw {
			case "status", "state", "metric", "timestamp":
				var r check.Result
				var st ckState
				if st.line(text, 1, &r) == nil {
					return FormatCloudkick
				}
				if influxLineOK(line) {
					return FormatInflux
				}
				return FormatCloudkick
			}
		}
		if text[0] == '#' {
			continue
		}
		if influxLineOK(line) {
			return FormatInflux
		}
		if !strings.Contains(text, "|") && laterCloudkickLine(out) {
			return FormatCloudkick
		}
		return FormatNagios
	}
	return FormatNagios
}

// laterCloudkickLine reports whether a line of out after the first
// non-blank one is a valid Cloudkick status or metric line: a Cloudkick
// plugin that prints something else first ("Checking things...") is still
// read as Cloudkick. Nagios long output rarely starts a line with the word
// status or metric, and one that did would need a '|' on its first line to
// stay Nagios.
func laterCloudkickLine(out []byte) bool {
	first := true
	for _, line := range lines(out) {
		text := strings.TrimSpace(line)
		if text == "" {
			continue
		}
		if first {
			first = false
			continue
		}
		kw, _ := cutWord(text)
		if kw != "status" && kw != "metric" {
			continue
		}
		var r check.Result
		var st ckState
		if st.line(text, 1, &r) == nil {
			return true
		}
	}
	return false
}

// lines yields each line of out with its 1-based number, without the line
// end ("\n" or "\r\n"). A final line without "\n" counts; an empty output
// has no lines.
func lines(out []byte) func(yield func(int, string) bool) {
	return func(yield func(int, string) bool) {
		n := 0
		for len(out) > 0 {
			n++
			var line []byte
			if i := bytes.IndexByte(out, '\n'); i >= 0 {
				line, out = out[:i], out[i+1:]
			} else {
				line, out = out, nil
			}
			line = bytes.TrimSuffix(line, []byte{'\r'})
			if !yield(n, string(line)) {
				return
			}
		}
	}
}

// cutWord splits s at its first run of spaces or tabs.
func cutWord(s string) (word, rest string) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t")
}

// validName reports whether s is a metric name: [A-Za-z0-9_.:-]{1,128}.
func validName(s string) bool {
	if len(s) == 0 || len(s) > MaxNameBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

const nameRule = "1 to 128 characters from A-Z a-z 0-9 _ . : -"

// validLabelKey reports whether s matches [a-z_][a-z0-9_]{0,63}.
func validLabelKey(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

const labelKeyRule = "a lower-case letter or _, then up to 63 of a-z 0-9 _"

// labelValueProblem says what is wrong with a label value, or "".
func labelValueProblem(s string) string {
	if len(s) > MaxLabelValueBytes {
		return fmt.Sprintf("longer than %d bytes", MaxLabelValueBytes)
	}
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	for _, c := range s {
		if unicode.IsControl(c) {
			return "contains a control character"
		}
	}
	return ""
}

// unitProblem says what is wrong with a unit, or "".
func unitProblem(s string) string {
	if len(s) > MaxUnitBytes {
		return fmt.Sprintf("longer than %d bytes", MaxUnitBytes)
	}
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	for _, c := range s {
		if unicode.IsControl(c) || unicode.IsSpace(c) {
			return "contains a space or control character"
		}
	}
	return ""
}

// stringValue makes a string metric's value valid UTF-8 and checks its size.
func stringValue(s string) (string, error) {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > MaxStringValueBytes {
		return "", fmt.Errorf("string value longer than %d bytes", MaxStringValueBytes)
	}
	return s, nil
}

// addMetric appends m to r unless r is full.
func addMetric(r *check.Result, m check.Metric) error {
	if len(r.Metrics) >= MaxMetrics {
		return fmt.Errorf("more than %d metrics", MaxMetrics)
	}
	r.Metrics = append(r.Metrics, m)
	return nil
}

// exitMessage is the message of a plugin that exited with code without
// saying why.
func exitMessage(code int) string {
	return "plugin exited with code " + strconv.Itoa(code)
}

// finish completes a parsed result: on error the status is unknown with
// the error as message and no metrics; the message is made valid UTF-8 on
// one line and cut to MaxMessageBytes. It returns err.
func finish(r *check.Result, err error) error {
	if err != nil {
		r.Status = check.Unknown
		r.Message = err.Error()
		r.Metrics = r.Metrics[:0]
	}
	if r.Status == 0 {
		r.Status = check.OK
	}
	r.Message = cleanMessage(r.Message, MaxMessageBytes)
	return err
}

// cleanMessage makes s valid UTF-8 without control characters and cuts it
// to at most limit bytes on a character boundary.
func cleanMessage(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(c rune) rune {
		if unicode.IsControl(c) {
			return ' '
		}
		return c
	}, s)
	s = strings.TrimSpace(s)
	if len(s) <= limit {
		return s
	}
	const ellipsis = "…"
	cut := max(limit-len(ellipsis), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// quote shows a piece of plugin output in an error, cut to a readable size.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}
