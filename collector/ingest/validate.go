package ingest

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vigilmon/vigil/collector/metrics"
	"github.com/vigilmon/vigil/collector/promapi"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/protocol"
)

// Limits on what one batch may hold (DESIGN §9).
const (
	MaxResultsPerBatch = 10000
	MaxPointsPerBatch  = 100000
	maxNameLen         = 128
	maxLabels          = 16
	maxLabelKeyLen     = 64
	maxLabelValueLen   = 256
	maxStringValueLen  = 4096
	maxMessageLen      = 256
	maxUnitLen         = 32
	maxFuture          = 10 * time.Minute
	maxErrors          = 10
)

// Validator turns batches into store writes, refusing bad points alone.
type Validator struct {
	// MaxAge is the oldest a point may be (the raw retention).
	MaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Series bounds the active series per agent and tenant; nil: no
	// bound. Shared by the QUIC and HTTPS ingest, which each hold a copy
	// of the Validator.
	Series *SeriesLimiter
}

// Reasons a point is refused, counted by the collector's metrics.
const (
	ReasonTooManyResults = iota
	ReasonBadCheck
	ReasonInFuture
	ReasonTooOld
	ReasonTooManyPoints
	ReasonBadMetric
	ReasonReservedLabel // a label key the Prometheus mapping adds itself
	ReasonSeriesLimit   // a new series past a SeriesLimits bound
	numReasons
)

// ReasonNames are the reasons' label values.
var ReasonNames = [numReasons]string{"too_many_results", "bad_check_name", "in_future", "too_old", "too_many_points", "bad_metric",
	"reserved_label", "series_limit"}

// Result is a batch's outcome, ready to become an Ack.
type Result struct {
	Write      store.WriteRequest
	Accepted   uint32
	Rejected   uint32
	RejectedBy [numReasons]uint32 // by Reason*
	Errors     []string
}

// Observe counts the batch's refused points by reason in m.
func (r *Result) Observe(m *metrics.Metrics) {
	for i, n := range r.RejectedBy {
		m.Rejected(ReasonNames[i], int(n))
	}
}

// reject refuses n points for one reason.
func (r *Result) reject(n, reason int, format string, args ...any) {
	r.Rejected += uint32(n)
	r.RejectedBy[reason] += uint32(n)
	if len(r.Errors) < maxErrors {
		r.Errors = append(r.Errors, fmt.Sprintf(format, args...))
	}
}

// Validate checks every result and metric of b for agent in tenant.
func (v *Validator) Validate(tenant, agent string, b *protocol.Batch) *Result {
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	newest := now.Add(maxFuture).UnixMilli()
	oldest := now.Add(-v.MaxAge).UnixMilli()
	res := &Result{Write: store.WriteRequest{Tenant: tenant}}
	points := 0
	// Whether each series of the batch was admitted.
	seen := map[store.SeriesID]bool{}
	var adm admission
	if v.Series != nil {
		adm = v.Series.begin(tenant, agent, now)
		defer adm.done()
	}
	for i, cr := range b.Results {
		if i >= MaxResultsPerBatch {
			n := 0
			for _, rest := range b.Results[i:] {
				n += len(rest.Metrics)
			}
			res.reject(n, ReasonTooManyResults, "batch %d: more than %d check results; the rest were refused", b.Seq, MaxResultsPerBatch)
			break
		}
		check := cr.GetCheck()
		if err := validName(check); err != nil {
			res.reject(len(cr.Metrics), ReasonBadCheck, "result %d: check name: %v", i, err)
			continue
		}
		if promapi.ReservedCheck(check) {
			res.reject(len(cr.Metrics), ReasonBadCheck, "result %d: check name %q: %v", i, check, errReservedCheck)
			continue
		}
		ts := cr.GetTimestampMs()
		if ts > newest {
			res.reject(len(cr.Metrics), ReasonInFuture, "check %s: timestamp %s is more than %v in the future", check, time.UnixMilli(ts).UTC().Format(time.RFC3339), maxFuture)
			continue
		}
		if ts < oldest {
			res.reject(len(cr.Metrics), ReasonTooOld, "check %s: timestamp %s is older than the raw retention of %v", check, time.UnixMilli(ts).UTC().Format(time.RFC3339), v.MaxAge)
			continue
		}
		status := store.Status(cr.GetStatus())
		if status < store.StatusOK || status > store.StatusUnknown {
			status = store.StatusUnknown
		}
		res.Write.Results = append(res.Write.Results, store.CheckResult{
			Agent: agent, Check: check, TS: ts, Status: status,
			Message: truncate(cr.GetMessage(), maxMessageLen), DurationMS: cr.GetDurationMs(),
		})
		for _, m := range cr.Metrics {
			if points >= MaxPointsPerBatch {
				res.reject(1, ReasonTooManyPoints, "check %s: batch holds more than %d points; the rest were refused", check, MaxPointsPerBatch)
				continue
			}
			points++
			s, p, err := convert(tenant, agent, check, ts, m)
			if err != nil {
				reason := ReasonBadMetric
				if errors.Is(err, errReservedLabel) {
					reason = ReasonReservedLabel
				}
				res.reject(1, reason, "check %s metric %q: %v", check, truncate(m.GetName(), maxNameLen), err)
				continue
			}
			admitted, ok := seen[s.ID]
			if !ok {
				why := limitOK
				if v.Series != nil {
					why = adm.admit(s.ID)
				}
				admitted = why == limitOK
				seen[s.ID] = admitted
				if admitted {
					res.Write.Series = append(res.Write.Series, s)
				} else if len(res.Errors) < maxErrors {
					// Formatted only while the Ack takes errors: a flood of
					// new series costs no allocation per point past them.
					res.reject(1, ReasonSeriesLimit, "check %s metric %q: series_limit: new series refused: %s", check, s.Metric, v.Series.explain(why))
					continue
				}
			}
			if !admitted {
				res.Rejected++
				res.RejectedBy[ReasonSeriesLimit]++
				continue
			}
			res.Write.Points = append(res.Write.Points, p)
			res.Accepted++
		}
		// The result's status and duration as series of their own, so
		// PromQL can alert on them. They are the collector's, not the
		// agent's: past a series limit they are left out without being
		// counted as refused points.
		for _, d := range derived(tenant, agent, check, ts, status, cr.GetDurationMs()) {
			admitted, ok := seen[d.s.ID]
			if !ok {
				admitted = v.Series == nil || adm.admit(d.s.ID) == limitOK
				seen[d.s.ID] = admitted
				if admitted {
					res.Write.Series = append(res.Write.Series, d.s)
				}
			}
			if admitted {
				res.Write.Points = append(res.Write.Points, d.p)
			}
		}
	}
	return res
}

// derivedPoint is a point ingest makes from a check result.
type derivedPoint struct {
	s store.Series
	p store.Point
}

// derived returns the points of a check result's status, as a Nagios
// exit code (0 ok, 1 warning, 2 critical, 3 unknown), and of its duration
// in seconds: the series promapi serves as vigil_check_status and
// vigil_check_duration_seconds. Both ingest paths (QUIC and HTTPS) get
// them here, from any agent version.
func derived(tenant, agent, check string, ts int64, status store.Status, durationMS uint32) [2]derivedPoint {
	var out [2]derivedPoint
	for i, m := range [2]struct {
		name string
		v    float64
	}{
		{promapi.StatusMetric, float64(status - store.StatusOK)},
		{promapi.DurationMetric, float64(durationMS) / 1000},
	} {
		s := store.Series{SeriesKey: store.SeriesKey{Tenant: tenant, Agent: agent, Check: check, Metric: m.name}, Type: store.Gauge}
		s.ID = s.SeriesKey.ID()
		out[i] = derivedPoint{s, store.Point{Series: s.ID, TS: ts, Value: m.v}}
	}
	return out
}

// errReservedCheck and errReservedMetric refuse the names of the
// collector's own series (promapi.ReservedCheck, ReservedMetricPrefix).
var (
	errReservedCheck  = errors.New("reserved: checks named vigil or starting with vigil. vigil_ or vigil- are the collector's own (rename the check)")
	errReservedMetric = errors.New("reserved: metric names starting with vigil. are the collector's own, such as vigil.status (rename the metric)")
)

// errReservedLabel refuses label keys the Prometheus mapping adds itself
// (promapi.ReservedLabel): with them, distinct series would share one
// Prometheus label set and queries over them would fail.
var errReservedLabel = errors.New("reserved: agent, check, metric and keys starting with __ are set by the collector (rename the label)")

func convert(tenant, agent, check string, ts int64, m *protocol.Metric) (store.Series, store.Point, error) {
	if err := validName(m.GetName()); err != nil {
		return store.Series{}, store.Point{}, err
	}
	if strings.HasPrefix(m.GetName(), promapi.ReservedMetricPrefix) {
		return store.Series{}, store.Point{}, errReservedMetric
	}
	s := store.Series{SeriesKey: store.SeriesKey{Tenant: tenant, Agent: agent, Check: check, Metric: m.GetName()}}
	if len(m.Labels) > maxLabels {
		return s, store.Point{}, fmt.Errorf("%d labels, at most %d allowed", len(m.Labels), maxLabels)
	}
	if len(m.Labels) > 0 {
		s.Labels = make([]store.Label, 0, len(m.Labels))
		for _, l := range m.Labels {
			if err := validLabelKey(l.GetKey()); err != nil {
				return s, store.Point{}, err
			}
			if promapi.ReservedLabel(l.GetKey()) {
				return s, store.Point{}, fmt.Errorf("label key %q: %w", l.GetKey(), errReservedLabel)
			}
			if len(l.GetValue()) > maxLabelValueLen || !printable(l.GetValue()) {
				return s, store.Point{}, fmt.Errorf("label %s: value must be at most %d bytes of printable UTF-8", l.GetKey(), maxLabelValueLen)
			}
			if l.GetValue() == "" {
				// Prometheus does not tell an empty label from an absent
				// one: keeping it would give two series one label set.
				continue
			}
			s.Labels = append(s.Labels, store.Label{Key: l.GetKey(), Value: l.GetValue()})
		}
		store.SortLabels(s.Labels)
		for i := 1; i < len(s.Labels); i++ {
			if s.Labels[i].Key == s.Labels[i-1].Key {
				return s, store.Point{}, fmt.Errorf("label %s appears twice", s.Labels[i].Key)
			}
		}
	}
	if len(m.GetUnit()) > maxUnitLen || !printable(m.GetUnit()) {
		return s, store.Point{}, fmt.Errorf("unit must be at most %d bytes of printable UTF-8", maxUnitLen)
	}
	s.Unit = m.GetUnit()
	s.ID = s.SeriesKey.ID()
	p := store.Point{Series: s.ID, TS: ts}
	switch m.GetType() {
	case protocol.MetricType_METRIC_TYPE_GAUGE, protocol.MetricType_METRIC_TYPE_COUNTER:
		s.Type = store.Gauge
		if m.GetType() == protocol.MetricType_METRIC_TYPE_COUNTER {
			s.Type = store.Counter
		}
		if math.IsNaN(m.GetValue()) || math.IsInf(m.GetValue(), 0) {
			return s, p, fmt.Errorf("value %v is not a finite number", m.GetValue())
		}
		p.Value = m.GetValue()
	case protocol.MetricType_METRIC_TYPE_STRING:
		s.Type = store.String
		if len(m.GetStringValue()) > maxStringValueLen {
			return s, p, fmt.Errorf("string value longer than %d bytes", maxStringValueLen)
		}
		p.Str = m.GetStringValue()
	default:
		return s, p, fmt.Errorf("unknown metric type %d", m.GetType())
	}
	return s, p, nil
}

// validName checks check and metric names: 1-128 bytes of [A-Za-z0-9_.:-].
func validName(n string) error {
	if len(n) == 0 || len(n) > maxNameLen {
		return fmt.Errorf("name must be 1-%d bytes, got %d", maxNameLen, len(n))
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-') {
			return fmt.Errorf("name %q: character %q not allowed (use A-Z a-z 0-9 _ . : -)", n, c)
		}
	}
	return nil
}

func validLabelKey(k string) error {
	ok := len(k) > 0 && len(k) <= maxLabelKeyLen && (k[0] == '_' || k[0] >= 'a' && k[0] <= 'z')
	for i := 1; ok && i < len(k); i++ {
		c := k[i]
		ok = c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
	}
	if !ok {
		return fmt.Errorf("label key %q must match [a-z_][a-z0-9_]{0,63}", truncate(k, maxLabelKeyLen))
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
