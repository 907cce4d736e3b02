package pebble

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/vigilmon/vigil/collector/store"
)

// Point values carry a tag byte, so a value decodes without its series:
// 1 then the float64 bits (8 bytes, big-endian), or 2 then the string.
const (
	valFloat  = 1
	valString = 2
)

func floatValueLen() int { return 9 }

func stringValueLen(s string) int { return 1 + len(s) }

func putFloatValue(v []byte, f float64) {
	v[0] = valFloat
	binary.BigEndian.PutUint64(v[1:9], math.Float64bits(f))
}

func putStringValue(v []byte, s string) {
	v[0] = valString
	copy(v[1:], s)
}

// A rollup window's value: 3, then count (8) and sum, min, max, first,
// last, increase as float64 bits (8 each), big-endian.
const (
	valRollup    = 3
	rollupValLen = 1 + 8 + 7*8
)

func putRollupValue(v []byte, r *store.Rollup) {
	_ = v[rollupValLen-1]
	v[0] = valRollup
	binary.BigEndian.PutUint64(v[1:9], uint64(r.Count))
	for i, f := range [...]float64{r.Sum, r.Min, r.Max, r.First, r.Last, r.Increase} {
		binary.BigEndian.PutUint64(v[9+8*i:], math.Float64bits(f))
	}
}

// decodeRollup parses a rollup value into r's statistics.
func decodeRollup(v []byte, r *store.Rollup) error {
	if len(v) != rollupValLen || v[0] != valRollup {
		return fmt.Errorf("rollup value of %d bytes: %w", len(v), errCorrupt)
	}
	r.Count = int64(binary.BigEndian.Uint64(v[1:9]))
	for i, f := range [...]*float64{&r.Sum, &r.Min, &r.Max, &r.First, &r.Last, &r.Increase} {
		*f = math.Float64frombits(binary.BigEndian.Uint64(v[9+8*i:]))
	}
	return nil
}

// decodeValue parses a point value into p.Value or p.Str.
func decodeValue(v []byte, p *store.Point) error {
	if len(v) == 0 {
		return fmt.Errorf("empty point value: %w", errCorrupt)
	}
	switch v[0] {
	case valFloat:
		if len(v) != 9 {
			return fmt.Errorf("float point value of %d bytes: %w", len(v), errCorrupt)
		}
		p.Value = math.Float64frombits(binary.BigEndian.Uint64(v[1:]))
		p.Str = ""
	case valString:
		p.Value = 0
		p.Str = string(v[1:])
	default:
		return fmt.Errorf("point value tag %d: %w", v[0], errCorrupt)
	}
	return nil
}

// The value under a series key: id (16) | type (1) | unit.
func appendSeriesValue(dst []byte, s *store.Series) []byte {
	dst = append(dst, s.ID[:]...)
	dst = append(dst, byte(s.Type))
	return append(dst, s.Unit...)
}

// decodeSeries parses an entry of the series index.
func decodeSeries(k, v []byte) (store.Series, error) {
	var s store.Series
	if len(k) == 0 || k[0] != nsSeries {
		return s, fmt.Errorf("series key: %w", errCorrupt)
	}
	if err := decodeSeriesTuple(k[1:], &s.SeriesKey); err != nil {
		return s, fmt.Errorf("series key: %w", err)
	}
	if len(v) < 17 {
		return s, fmt.Errorf("series value of %d bytes: %w", len(v), errCorrupt)
	}
	copy(s.ID[:], v[:16])
	s.Type = store.MetricType(v[16])
	s.Unit = string(v[17:])
	return s, nil
}

// The value under an id key: type (1) | uvarint len | unit | series tuple.
func appendSeriesIDValue(dst []byte, s *store.Series) []byte {
	dst = append(dst, byte(s.Type))
	dst = binary.AppendUvarint(dst, uint64(len(s.Unit)))
	dst = append(dst, s.Unit...)
	return appendSeriesTuple(dst, &s.SeriesKey)
}

func decodeSeriesIDValue(id store.SeriesID, v []byte) (store.Series, error) {
	s := store.Series{ID: id}
	r := reader{b: v}
	s.Type = store.MetricType(r.byte())
	s.Unit = r.str()
	if r.err != nil {
		return s, fmt.Errorf("series %s: %w", id, r.err)
	}
	if err := decodeSeriesTuple(r.b, &s.SeriesKey); err != nil {
		return s, fmt.Errorf("series %s: %w", id, err)
	}
	return s, nil
}

// reader decodes the fields of a record; the first error sticks and every
// later read returns a zero value.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("truncated %s: %w", what, errCorrupt)
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) < 1 {
		r.fail("byte")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) int64() int64 {
	if r.err != nil || len(r.b) < 8 {
		r.fail("int64")
		return 0
	}
	v := getInt64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(len(r.b)) {
		r.fail("string")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) time() time.Time {
	if r.byte() == 0 {
		return time.Time{}
	}
	sec := r.varint()
	nsec := r.uvarint()
	if r.err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 {
		r.err = fmt.Errorf("time with %d ns: %w", nsec, errCorrupt)
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}

// done reports the first error, or one for bytes left over.
func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		return fmt.Errorf("%d trailing bytes: %w", len(r.b), errCorrupt)
	}
	return r.err
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// appendTime stores 0 for the zero time, else 1, Unix seconds (varint) and
// nanoseconds (uvarint); the location is not kept, times come back in UTC.
func appendTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = binary.AppendVarint(dst, t.Unix())
	return binary.AppendUvarint(dst, uint64(t.Nanosecond()))
}

// Records carry a format version byte first.
const recordV1 = 1

// agent value: v1 | hostname | version | collector | connected | last seen |
// label count | sorted labels.
func appendAgentValue(dst []byte, a *store.Agent) []byte {
	dst = append(dst, recordV1)
	dst = appendStr(dst, a.Hostname)
	dst = appendStr(dst, a.Version)
	dst = appendStr(dst, a.Collector)
	c := byte(0)
	if a.Connected {
		c = 1
	}
	dst = append(dst, c)
	dst = appendTime(dst, a.LastSeen)
	dst = binary.AppendUvarint(dst, uint64(len(a.Labels)))
	for _, k := range slices.Sorted(maps.Keys(a.Labels)) {
		dst = appendStr(dst, k)
		dst = appendStr(dst, a.Labels[k])
	}
	return dst
}

func decodeAgent(k, v []byte) (store.Agent, error) {
	var a store.Agent
	if len(k) == 0 || k[0] != nsAgent {
		return a, fmt.Errorf("agent key: %w", errCorrupt)
	}
	rest := k[1:]
	var err error
	if a.Tenant, rest, err = decodeTuple(rest); err != nil {
		return a, fmt.Errorf("agent key: %w", err)
	}
	if a.ID, rest, err = decodeTuple(rest); err != nil {
		return a, fmt.Errorf("agent key: %w", err)
	}
	if len(rest) != 0 {
		return a, fmt.Errorf("agent key: trailing bytes: %w", errCorrupt)
	}
	r := reader{b: v}
	if ver := r.byte(); r.err == nil && ver != recordV1 {
		return a, fmt.Errorf("agent %s record version %d: %w", a.ID, ver, errCorrupt)
	}
	a.Hostname = r.str()
	a.Version = r.str()
	a.Collector = r.str()
	a.Connected = r.byte() == 1
	a.LastSeen = r.time()
	n := r.uvarint()
	if n > uint64(len(r.b)) { // every label takes at least 2 bytes
		r.fail("labels")
	}
	if n > 0 && r.err == nil {
		a.Labels = make(map[string]string, n)
		for i := uint64(0); i < n && r.err == nil; i++ {
			k := r.str()
			a.Labels[k] = r.str()
		}
	}
	if err := r.done(); err != nil {
		return a, fmt.Errorf("agent %s: %w", a.ID, err)
	}
	return a, nil
}

// token value: v1 | id | tenant | role | agent | created | revoked.
func appendTokenValue(dst []byte, t *store.Token) []byte {
	dst = append(dst, recordV1)
	dst = appendStr(dst, t.ID)
	dst = appendStr(dst, t.Tenant)
	dst = appendStr(dst, string(t.Role))
	dst = appendStr(dst, t.Agent)
	dst = appendTime(dst, t.Created)
	return appendTime(dst, t.Revoked)
}

func decodeToken(h store.TokenHash, v []byte) (store.Token, error) {
	t := store.Token{Hash: h}
	r := reader{b: v}
	if ver := r.byte(); r.err == nil && ver != recordV1 {
		return t, fmt.Errorf("token record version %d: %w", ver, errCorrupt)
	}
	t.ID = r.str()
	t.Tenant = r.str()
	t.Role = store.Role(r.str())
	t.Agent = r.str()
	t.Created = r.time()
	t.Revoked = r.time()
	if err := r.done(); err != nil {
		return t, fmt.Errorf("token %s: %w", t.ID, err)
	}
	return t, nil
}

func appendLatestValue(dst []byte, r *store.CheckResult) []byte {
	dst = append(dst, make([]byte, 8)...)
	putInt64(dst[len(dst)-8:], r.TS)
	return appendResultBody(dst, r)
}

func appendResultBody(dst []byte, r *store.CheckResult) []byte {
	dst = append(dst, byte(r.Status))
	dst = binary.AppendUvarint(dst, uint64(r.DurationMS))
	return append(dst, r.Message...)
}

func decodeResultBody(r *reader, cr *store.CheckResult) error {
	cr.Status = store.Status(r.byte())
	d := r.uvarint()
	if r.err != nil {
		return r.err
	}
	if d > math.MaxUint32 {
		return fmt.Errorf("result duration %d: %w", d, errCorrupt)
	}
	cr.DurationMS = uint32(d)
	cr.Message = string(r.b)
	return nil
}

// latestTS is the timestamp of a latest-result value.
func latestTS(v []byte) (int64, bool) {
	if len(v) < 8 {
		return 0, false
	}
	return getInt64(v), true
}

func decodeLatest(k, v []byte) (store.CheckResult, error) {
	var cr store.CheckResult
	if len(k) == 0 || k[0] != nsLatest {
		return cr, fmt.Errorf("result key: %w", errCorrupt)
	}
	rest := k[1:]
	var err error
	for _, f := range []*string{nil, &cr.Agent, &cr.Check} {
		var s string
		if s, rest, err = decodeTuple(rest); err != nil {
			return cr, fmt.Errorf("result key: %w", err)
		}
		if f != nil {
			*f = s
		}
	}
	if len(rest) != 0 {
		return cr, fmt.Errorf("result key: trailing bytes: %w", errCorrupt)
	}
	r := reader{b: v}
	cr.TS = r.int64()
	if err := decodeResultBody(&r, &cr); err != nil {
		return cr, fmt.Errorf("result %s/%s: %w", cr.Agent, cr.Check, err)
	}
	return cr, nil
}

func decodeHistory(k, v []byte) (tenant string, cr store.CheckResult, err error) {
	if len(k) < 1+8+6+8 || k[0] != nsHistory {
		return "", cr, fmt.Errorf("history key: %w", errCorrupt)
	}
	b := getInt64(k[1:9])
	rest := k[9 : len(k)-8]
	cr.TS = getInt64(k[len(k)-8:])
	if store.BucketOf(cr.TS, Raw.BucketWidth()) != b {
		return "", cr, fmt.Errorf("history ts %d outside bucket %d: %w", cr.TS, b, errCorrupt)
	}
	for _, f := range []*string{&tenant, &cr.Agent, &cr.Check} {
		if *f, rest, err = decodeTuple(rest); err != nil {
			return "", cr, fmt.Errorf("history key: %w", err)
		}
	}
	if len(rest) != 0 {
		return "", cr, fmt.Errorf("history key: trailing bytes: %w", errCorrupt)
	}
	r := reader{b: v}
	if err := decodeResultBody(&r, &cr); err != nil {
		return "", cr, fmt.Errorf("history %s/%s: %w", cr.Agent, cr.Check, err)
	}
	return tenant, cr, nil
}

const walVersion = 1

// appendRecord appends the write-ahead record of pts (numeric points):
//
//	version (1) | uvarint n | n × (series id (16) | varint ts delta | float64 bits (8, LE))
//
// ts deltas are against the previous point of the record (the first
// against 0): a batch's points mostly share their timestamp.
func appendRecord(dst []byte, pts []store.Point) []byte {
	dst = append(dst, walVersion)
	dst = binary.AppendUvarint(dst, uint64(len(pts)))
	prev := int64(0)
	for i := range pts {
		p := &pts[i]
		dst = append(dst, p.Series[:]...)
		dst = binary.AppendVarint(dst, p.TS-prev)
		prev = p.TS
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(p.Value))
	}
	return dst
}

// decodeRecord calls fn for each point of a record; it stops at the first
// error fn returns.
func decodeRecord(v []byte, fn func(id store.SeriesID, ts int64, val float64)) error {
	r := reader{b: v}
	if r.byte() != walVersion {
		return fmt.Errorf("write-ahead record version: %w", errCorrupt)
	}
	n := r.uvarint()
	// Every point takes at least 25 bytes.
	if r.err != nil || n > uint64(len(r.b))/25 {
		return fmt.Errorf("write-ahead record of %d points: %w", n, errCorrupt)
	}
	prev := int64(0)
	for range n {
		if len(r.b) < 16 {
			return fmt.Errorf("write-ahead record: %w", errCorrupt)
		}
		var id store.SeriesID
		copy(id[:], r.b[:16])
		r.b = r.b[16:]
		prev += r.varint()
		if r.err != nil || len(r.b) < 8 {
			return fmt.Errorf("write-ahead record: %w", errCorrupt)
		}
		val := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
		r.b = r.b[8:]
		fn(id, prev, val)
	}
	return r.done()
}
