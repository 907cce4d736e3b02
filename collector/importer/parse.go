package importer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// sample is one parsed point: the series part of its line (metric name and
// labels, in the line's bytes), its value and timestamp (ms).
type sample struct {
	key    []byte // name and label set as written
	name   []byte
	labels []label // into the line's bytes, or unescaped copies
	value  float64
	ts     int64
}

type label struct{ key, value []byte }

var errNoTimestamp = errors.New("no timestamp (import needs timestamped samples)")

// parseText parses one line of Prometheus text exposition or OpenMetrics:
//
//	name{k="v",...} value timestamp
//
// Timestamps in ms (Prometheus) or in seconds with a fraction (OpenMetrics)
// are told apart by size: a ms timestamp after 1973 has 12 digits or more,
// a seconds one fewer. ok is false for blank lines and comments (# HELP,
// # TYPE, # EOF). labels is reused.
func parseText(line []byte, s *sample) (ok bool, err error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] == '#' {
		return false, nil
	}
	s.labels = s.labels[:0]
	i := 0
	for i < len(line) && line[i] != '{' && line[i] != ' ' && line[i] != '\t' {
		i++
	}
	s.name = line[:i]
	if len(s.name) == 0 {
		return false, errors.New("no metric name")
	}
	rest := line[i:]
	if len(rest) > 0 && rest[0] == '{' {
		rest = rest[1:]
		for {
			rest = skipBlanks(rest)
			if len(rest) == 0 {
				return false, errors.New("unterminated label set")
			}
			if rest[0] == '}' {
				rest = rest[1:]
				break
			}
			eq := bytes.IndexByte(rest, '=')
			if eq <= 0 {
				return false, errors.New("label without '='")
			}
			key := bytes.TrimSpace(rest[:eq])
			rest = skipBlanks(rest[eq+1:])
			if len(rest) == 0 || rest[0] != '"' {
				return false, fmt.Errorf("label %s: value not quoted", key)
			}
			val, n, err := unquote(rest)
			if err != nil {
				return false, fmt.Errorf("label %s: %w", key, err)
			}
			s.labels = append(s.labels, label{key, val})
			rest = skipBlanks(rest[n:])
			if len(rest) > 0 && rest[0] == ',' {
				rest = rest[1:]
			}
		}
	}
	s.key = line[:len(line)-len(rest)]
	val, rest := field(rest)
	if len(val) == 0 {
		return false, errors.New("no value")
	}
	ts, rest := field(rest)
	if len(ts) == 0 {
		return false, errNoTimestamp
	}
	if more, _ := field(rest); len(more) > 0 && more[0] != '#' { // an OpenMetrics exemplar starts with #
		return false, errors.New("trailing fields")
	}
	if s.value, err = parseFloat(val); err != nil {
		return false, fmt.Errorf("value %q: %w", val, err)
	}
	if s.ts, err = parseTimestamp(ts); err != nil {
		return false, fmt.Errorf("timestamp %q: %w", ts, err)
	}
	return true, nil
}

// field splits the first space-separated field off b.
func field(b []byte) (f, rest []byte) {
	b = skipBlanks(b)
	for i, c := range b {
		if c == ' ' || c == '\t' {
			return b[:i], b[i:]
		}
	}
	return b, nil
}

// skipBlanks drops leading spaces and tabs (bytes.TrimLeft builds its
// character set on every call).
func skipBlanks(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// unquote parses a quoted label value at the start of b and returns it and
// the bytes it took; escapes are \\, \" and \n.
func unquote(b []byte) ([]byte, int, error) {
	for i := 1; i < len(b); i++ {
		switch b[i] {
		case '"':
			return b[1:i], i + 1, nil
		case '\\':
			return unquoteEscaped(b)
		}
	}
	return nil, 0, errors.New("unterminated quoted value")
}

func unquoteEscaped(b []byte) ([]byte, int, error) {
	out := make([]byte, 0, len(b))
	for i := 1; i < len(b); i++ {
		switch c := b[i]; c {
		case '"':
			return out, i + 1, nil
		case '\\':
			if i+1 == len(b) {
				return nil, 0, errors.New("unterminated quoted value")
			}
			i++
			switch b[i] {
			case 'n':
				out = append(out, '\n')
			case '\\', '"':
				out = append(out, b[i])
			default:
				return nil, 0, fmt.Errorf("bad escape \\%c", b[i])
			}
		default:
			out = append(out, c)
		}
	}
	return nil, 0, errors.New("unterminated quoted value")
}

func parseFloat(b []byte) (float64, error) {
	switch string(b) {
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(string(b), 64) // no allocation: the conversion does not escape
}

// msDigits: a timestamp with at least this many integer digits is in ms.
const msDigits = 12

func parseTimestamp(b []byte) (int64, error) {
	dot := bytes.IndexByte(b, '.')
	intPart := b
	if dot >= 0 {
		intPart = b[:dot]
	}
	for len(intPart) > 0 && (intPart[0] == '-' || intPart[0] == '+') {
		intPart = intPart[1:]
	}
	digits := len(intPart)
	if dot < 0 && digits >= msDigits {
		return strconv.ParseInt(string(b), 10, 64)
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, err
	}
	ms := math.Round(f * 1000)
	if math.IsNaN(ms) || ms >= math.MaxInt64 || ms < math.MinInt64 {
		return 0, errors.New("out of range")
	}
	return int64(ms), nil
}

// vmLine is one line of VictoriaMetrics' JSON-lines export
// (/api/v1/export, /api/v1/import): one series and its samples.
type vmLine struct {
	Metric     map[string]string `json:"metric"`
	Values     []vmValue         `json:"values"`
	Timestamps []int64           `json:"timestamps"`
}

// vmValue is a number, or null / "NaN" / "Inf" as VictoriaMetrics writes
// those.
type vmValue float64

func (v *vmValue) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		b = b[1 : len(b)-1]
	}
	if string(b) == "null" {
		*v = vmValue(math.NaN())
		return nil
	}
	f, err := parseFloat(b)
	*v = vmValue(f)
	return err
}

func parseVM(line []byte, l *vmLine) (ok bool, err error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return false, nil
	}
	*l = vmLine{Values: l.Values[:0], Timestamps: l.Timestamps[:0]}
	if err := json.Unmarshal(line, l); err != nil {
		return false, err
	}
	if l.Metric["__name__"] == "" {
		return false, errors.New("no __name__ in metric")
	}
	if len(l.Values) != len(l.Timestamps) {
		return false, fmt.Errorf("%d values, %d timestamps", len(l.Values), len(l.Timestamps))
	}
	return true, nil
}
