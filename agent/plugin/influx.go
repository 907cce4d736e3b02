package plugin

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/vigilmon/vigil/agent/check"
)

// ParseInflux reads InfluxDB line protocol into r, which it resets first.
// See the package documentation for naming and what a non-zero exit does.
func ParseInflux(out []byte, exitCode int, r *check.Result) error {
	r.Reset()
	for n, line := range lines(out) {
		if skipInfluxLine(line) {
			continue
		}
		if err := influxLine(line, r); err != nil {
			var de *lineprotocol.DecodeError
			switch {
			case !strings.Contains(strings.TrimSpace(line), " "):
				err = errors.New("no fields: want measurement[,tag=value...] field=value[,field=value...] [timestamp]")
			case errors.As(err, &de):
				err = fmt.Errorf("column %d: %w", de.Column, de.Err)
			}
			return finish(r, &ParseError{Format: FormatInflux, Line: n, Reason: err.Error()})
		}
	}
	r.Status = check.OK
	if exitCode != 0 {
		r.Status = check.Unknown
		r.Message = exitMessage(exitCode)
	}
	return finish(r, nil)
}

// skipInfluxLine reports whether a line is blank or a comment.
func skipInfluxLine(line string) bool {
	t := strings.TrimLeft(line, " \t\r")
	return t == "" || t[0] == '#'
}

// influxLineOK reports whether line is one complete, valid entry.
func influxLineOK(line string) bool {
	if skipInfluxLine(line) {
		return false
	}
	var r check.Result
	return influxLine(line, &r) == nil
}

// influxLine adds the metrics of the entries on one line to r.
func influxLine(line string, r *check.Result) error {
	dec := lineprotocol.NewDecoderWithBytes([]byte(line))
	for dec.Next() {
		m, err := dec.Measurement()
		if err != nil {
			return err
		}
		measurement := string(m)
		var labels []check.Label
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				return err
			}
			if k == nil {
				break
			}
			key := string(k)
			if !validLabelKey(key) {
				return fmt.Errorf("tag key %s is not a valid label key: use %s", quote(key), labelKeyRule)
			}
			for _, l := range labels {
				if l.Key == key {
					return fmt.Errorf("tag %s appears twice", key)
				}
			}
			if len(labels) == MaxLabels {
				return fmt.Errorf("more than %d tags", MaxLabels)
			}
			if p := labelValueProblem(string(v)); p != "" {
				return fmt.Errorf("value of tag %s is %s", key, p)
			}
			labels = append(labels, check.Label{Key: key, Value: string(v)})
		}
		start := len(r.Metrics)
		for {
			k, v, err := dec.NextField()
			if err != nil {
				return err
			}
			if k == nil {
				break
			}
			name := measurement + "." + string(k)
			if !validName(name) {
				return fmt.Errorf("metric name %s (measurement %s, field %s) is not valid: use %s",
					quote(name), quote(measurement), quote(string(k)), nameRule)
			}
			met := check.Metric{Name: name, Labels: labels, Type: check.Gauge}
			switch v.Kind() {
			case lineprotocol.Float:
				met.Value = v.FloatV()
			case lineprotocol.Int:
				met.Value = float64(v.IntV())
			case lineprotocol.Uint:
				met.Value = float64(v.UintV())
			case lineprotocol.Bool:
				if v.BoolV() {
					met.Value = 1
				}
			case lineprotocol.String:
				s, err := stringValue(v.StringV())
				if err != nil {
					return fmt.Errorf("field %s: %v", quote(string(k)), err)
				}
				met.Type, met.Str = check.String, s
			default:
				return fmt.Errorf("field %s: unsupported value kind %v", quote(string(k)), v.Kind())
			}
			if err := addMetric(r, met); err != nil {
				return err
			}
		}
		if len(r.Metrics) == start {
			return errors.New("entry has no fields")
		}
		// Validated, then ignored: results carry their scheduled time.
		if _, err := dec.Time(lineprotocol.Nanosecond, time.Time{}); err != nil {
			return err
		}
	}
	return nil
}
