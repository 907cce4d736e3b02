package alarm

import (
	"slices"
	"strconv"
	"time"

	"github.com/vigilmon/vigil/protocol"
)

// Instance is one labelled part of a check result, evaluated and tracked
// on its own: a filesystem check reports used_percent once per mount, and
// metric['used_percent'] > 90 means "any mount over 90 %", one Machine per
// mount, as Rackspace had one check per mount.
type Instance struct {
	// Key names the label set, {k="v",...} sorted by key; "" for a result
	// whose metrics have no labels. A Machine and the previous Result
	// are kept per (alarm, agent, Key).
	Key    string
	Result Result
}

// Splitter splits check results into instances, one per label set of
// their metrics. Metrics without labels belong to every instance, and an
// instance's labels read as string metrics after its metrics (so criteria
// can say metric['mount'] == '/' and messages #{mount}). A result with no
// labelled metric is one instance with key "".
//
// A Splitter reuses its memory: what Split returns is valid until the next
// Split. The zero value is ready; one per goroutine.
type Splitter struct {
	insts   []Instance
	metrics []Metric
	group   []int // per metric: its label set, -1 for none
	sets    [][]*protocol.Label
	sizes   []int // per set: metrics and labels
	cursor  []int
	// keys interns instance keys: the same label sets recur on every
	// result and across agents ({device="/dev/sda1",fstype="ext4",mount="/"}),
	// and looking a key up allocates nothing where building one does.
	keys map[string]string
}

// maxInterned bounds Splitter.keys; past it the map starts over.
const maxInterned = 4096

// Split splits cr.
func (s *Splitter) Split(cr *protocol.CheckResult) []Instance {
	base := Result{Time: time.UnixMilli(cr.GetTimestampMs()), Message: cr.GetMessage()}
	switch cr.GetStatus() {
	case protocol.Status_STATUS_OK:
		base.Status = StatusOK
	case protocol.Status_STATUS_WARN:
		base.Status = StatusWarn
	case protocol.Status_STATUS_CRIT:
		base.Status = StatusCrit
	default:
		base.Status = StatusUnknown
	}
	metrics := cr.GetMetrics()
	// Label sets are compared rather than keyed per metric; an agent sends
	// a set's metrics together, so the last set is tried first.
	s.group, s.sets, s.sizes = s.group[:0], s.sets[:0], s.sizes[:0]
	plain, last := 0, -1
	for _, m := range metrics {
		ls := m.GetLabels()
		g := -1
		switch {
		case len(ls) == 0:
			plain++
		case last >= 0 && sameLabels(s.sets[last], ls):
			g = last
		default:
			g = slices.IndexFunc(s.sets, func(set []*protocol.Label) bool { return sameLabels(set, ls) })
			if g < 0 {
				s.sets = append(s.sets, ls)
				s.sizes = append(s.sizes, len(ls))
				g = len(s.sets) - 1
			}
		}
		if g >= 0 {
			s.sizes[g]++
			last = g
		}
		s.group = append(s.group, g)
	}
	s.insts = s.insts[:0]
	if len(s.sets) == 0 {
		s.metrics = s.metrics[:0]
		for _, m := range metrics {
			s.metrics = append(s.metrics, Metric{Name: m.GetName(), Value: valueOf(m)})
		}
		base.Metrics = s.metrics
		return append(s.insts, Instance{Result: base})
	}
	// One buffer, a segment per set: its metrics, the plain ones, its labels.
	total := 0
	s.cursor = s.cursor[:0]
	for _, n := range s.sizes {
		s.cursor = append(s.cursor, total)
		total += n + plain
	}
	s.metrics = slices.Grow(s.metrics[:0], total)[:total]
	for i, m := range metrics {
		if g := s.group[i]; g >= 0 {
			s.metrics[s.cursor[g]] = Metric{Name: m.GetName(), Value: valueOf(m)}
			s.cursor[g]++
		}
	}
	for i, m := range metrics {
		if s.group[i] < 0 {
			for g := range s.sets {
				s.metrics[s.cursor[g]] = Metric{Name: m.GetName(), Value: valueOf(m)}
				s.cursor[g]++
			}
		}
	}
	start := 0
	for g, set := range s.sets {
		for _, l := range set {
			s.metrics[s.cursor[g]] = Metric{Name: l.GetKey(), Value: Str(l.GetValue())}
			s.cursor[g]++
		}
		end := s.cursor[g]
		r := base
		r.Metrics = s.metrics[start:end:end]
		start = end
		s.insts = append(s.insts, Instance{Key: s.key(set), Result: r})
	}
	return s.insts
}

func valueOf(m *protocol.Metric) Value {
	if m.GetType() == protocol.MetricType_METRIC_TYPE_STRING {
		return Str(m.GetStringValue())
	}
	return Num(m.GetValue())
}

// sameLabels says whether a and b hold the same labels, in any order.
func sameLabels(a, b []*protocol.Label) bool {
	if len(a) != len(b) {
		return false
	}
	for i, l := range a {
		if b[i].GetKey() == l.GetKey() && b[i].GetValue() == l.GetValue() {
			continue
		}
		found := false
		for _, m := range b {
			if m.GetKey() == l.GetKey() {
				if m.GetValue() != l.GetValue() {
					return false
				}
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func (s *Splitter) key(set []*protocol.Label) string {
	var kb [256]byte
	b := appendLabelKey(kb[:0], set)
	if k, ok := s.keys[string(b)]; ok {
		return k
	}
	if s.keys == nil || len(s.keys) >= maxInterned {
		s.keys = make(map[string]string)
	}
	k := string(b)
	s.keys[k] = k
	return k
}

// labelKey names a label set, sorted by key.
func labelKey(set []*protocol.Label) string {
	var kb [256]byte // the string conversion is then the one allocation
	return string(appendLabelKey(kb[:0], set))
}

func appendLabelKey(b []byte, set []*protocol.Label) []byte {
	// Insertion sort on a copy on the stack: a few labels, no allocation.
	var buf [16]*protocol.Label
	labels := buf[:0]
	if len(set) > len(buf) {
		labels = make([]*protocol.Label, 0, len(set))
	}
	for _, l := range set {
		i := len(labels)
		labels = append(labels, l)
		for ; i > 0 && labels[i-1].GetKey() > l.GetKey(); i-- {
			labels[i] = labels[i-1]
		}
		labels[i] = l
	}
	b = append(b, '{')
	for i, l := range labels {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, l.GetKey()...)
		b = append(b, '=')
		b = appendQuoted(b, l.GetValue())
	}
	return append(b, '}')
}

// appendQuoted appends v in double quotes, escaped as strconv.Quote does
// when it must be; label values rarely need it, and Quote's per-character
// checks were most of Split's cost.
func appendQuoted(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			return strconv.AppendQuote(b, v)
		}
	}
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}
