package pebble

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/vigilmon/vigil/collector/store"
)

// Key spaces: the first byte of every key.
const (
	nsMeta     = 'm' // m | name                                  → layout version
	nsPoint    = 'p' // p | res | bucket | series id | ts          → value
	nsSeries   = 's' // s | T(tenant) T(agent) T(check) T(metric) {T(key) T(value)} → id | type | unit
	nsSeriesID = 'i' // i | series id                              → type | unit | series tuple
	nsAgent    = 'a' // a | T(tenant) T(agent id)                  → agent record
	nsToken    = 't' // t | token hash                             → token record
	nsLatest   = 'l' // l | T(tenant) T(agent) T(check)            → latest result (merge operand)
	nsHistory  = 'h' // h | bucket | T(tenant) T(agent) T(check) | ts → result
	nsQueue    = 'q' // q | res | slot | window | series id       → empty
	nsWAL      = 'w' // w | seq                                   → write-ahead record (head.go)
)

// layoutVersion is stored under versionKey; Open refuses a directory written
// with a later layout and upgrades an earlier one. Version 2 added the
// head's write-ahead records and chunks (head.go), which a version 1 binary
// would not read.
const layoutVersion = 2

var versionKey = []byte{nsMeta, 'v', 'e', 'r', 's', 'i', 'o', 'n'}

// Resolution is store.Resolution; Write stores Raw points, WriteRollups
// the windows of Res5m and Res1h, each resolution in a key space of its
// own with its own bucket width (store.Resolution.BucketWidth). With the
// default retention (7 d, 35 d, 400 d) retention keeps 8, 6 and 15 buckets
// and overshoots by at most one bucket.
type Resolution = store.Resolution

const (
	Raw            = store.Raw
	Res5m          = store.Res5m
	Res1h          = store.Res1h
	numResolutions = store.NumResolutions
)

const (
	hourMS = int64(time.Hour / time.Millisecond)
	dayMS  = 24 * hourMS
)

// bucketOf is the bucket holding ts: floor(ts / width), also for negative ts.
func bucketOf(ts, width int64) int64 {
	q := ts / width
	if ts%width != 0 && ts < 0 {
		q--
	}
	return q
}

// bucketStart is the first ms of bucket b, clamped to the int64 range.
func bucketStart(b, width int64) int64 {
	if b <= bucketOf(math.MinInt64, width) {
		return math.MinInt64
	}
	return b * width
}

// lastBucket reports whether b is the last bucket that int64 timestamps reach.
func lastBucket(b, width int64) bool { return b >= bucketOf(math.MaxInt64, width) }

// Signed integers are stored big-endian with the sign bit flipped, so that
// byte order is numeric order.
func putInt64(b []byte, v int64) { binary.BigEndian.PutUint64(b, uint64(v)^(1<<63)) }
func getInt64(b []byte) int64    { return int64(binary.BigEndian.Uint64(b) ^ (1 << 63)) }

// Point keys: p | res (1) | bucket (8) | series id (16) | ts (8) = 34 bytes.
// The bucket comes first so that retention deletes whole buckets with one
// range tombstone; within a bucket a series' points are contiguous and in
// time order.
const pointKeyLen = 1 + 1 + 8 + 16 + 8

// putPointKey writes the key of (res, id, ts) into k[:pointKeyLen].
func putPointKey(k []byte, res Resolution, id store.SeriesID, ts int64) {
	_ = k[pointKeyLen-1]
	k[0] = nsPoint
	k[1] = byte(res)
	putInt64(k[2:10], bucketOf(ts, res.BucketWidth()))
	copy(k[10:26], id[:])
	putInt64(k[26:34], ts)
}

func appendPointKey(dst []byte, res Resolution, id store.SeriesID, ts int64) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, pointKeyLen)...)
	putPointKey(dst[n:], res, id, ts)
	return dst
}

// bucketKey is the first key of bucket b of res: every point of the bucket
// sorts at or after it, and every point of earlier buckets before it.
func bucketKey(res Resolution, b int64) []byte {
	k := make([]byte, 10)
	k[0] = nsPoint
	k[1] = byte(res)
	putInt64(k[2:10], b)
	return k
}

var errCorrupt = errors.New("corrupt record")

// decodePointKey parses a point key.
func decodePointKey(k []byte) (res Resolution, id store.SeriesID, ts int64, err error) {
	if len(k) != pointKeyLen || k[0] != nsPoint {
		return 0, id, 0, fmt.Errorf("point key of %d bytes: %w", len(k), errCorrupt)
	}
	res = Resolution(k[1])
	if res >= numResolutions {
		return 0, id, 0, fmt.Errorf("point key resolution %d: %w", k[1], errCorrupt)
	}
	b := getInt64(k[2:10])
	copy(id[:], k[10:26])
	ts = getInt64(k[26:34])
	if bucketOf(ts, res.BucketWidth()) != b {
		return 0, id, 0, fmt.Errorf("point key ts %d outside bucket %d: %w", ts, b, errCorrupt)
	}
	return res, id, ts, nil
}

// Point values carry a tag byte, so a value decodes without its series:
// 1 then the float64 bits (8 bytes, big-endian), or 2 then the string.
const (
	valFloat  = 1
	valString = 2
)

func floatValueLen() int          { return 9 }
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

// Queue keys: q | res (1) | slot (8) | window start (8) | series id (16).
const queueKeyLen = 1 + 1 + 8 + 8 + 16

func queueSlotKey(res Resolution, slot int64) []byte {
	k := make([]byte, 10, queueKeyLen)
	k[0] = nsQueue
	k[1] = byte(res)
	putInt64(k[2:10], slot)
	return k
}

func appendQueueKey(dst []byte, res Resolution, slot int64, w store.Window) []byte {
	dst = append(dst, queueSlotKey(res, slot)...)
	dst = append(dst, make([]byte, 8)...)
	putInt64(dst[len(dst)-8:], w.Start)
	return append(dst, w.Series[:]...)
}

func decodeQueueKey(k []byte) (res Resolution, slot int64, w store.Window, err error) {
	if len(k) != queueKeyLen || k[0] != nsQueue || !Resolution(k[1]).Valid() {
		return 0, 0, w, fmt.Errorf("queue key of %d bytes: %w", len(k), errCorrupt)
	}
	res = Resolution(k[1])
	slot = getInt64(k[2:10])
	w.Start = getInt64(k[10:18])
	copy(w.Series[:], k[18:])
	return res, slot, w, nil
}

// Cursor keys: m | "cursor:" | name; the value is the int64 (8 bytes).
func cursorKey(name string) []byte {
	return append([]byte{nsMeta, 'c', 'u', 'r', 's', 'o', 'r', ':'}, name...)
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

// Tuple encoding of strings inside keys: every 0x00 becomes 0x00 0xFF and
// the string ends with 0x00 0x01. Concatenated tuples sort like the list of
// their strings compared byte-wise, and a prefix of whole tuples is a key
// prefix, which is what makes Series(tenant, agent, check) a prefix scan.
func appendTuple(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			dst = append(dst, 0, 0xFF)
		} else {
			dst = append(dst, s[i])
		}
	}
	return append(dst, 0, 1)
}

// decodeTuple parses one tuple from the front of b.
func decodeTuple(b []byte) (s string, rest []byte, err error) {
	for i := 0; i < len(b); i++ {
		if b[i] != 0 {
			continue
		}
		if i+1 >= len(b) {
			return "", nil, fmt.Errorf("truncated tuple: %w", errCorrupt)
		}
		switch b[i+1] {
		case 1: // common case: no escapes
			return string(b[:i]), b[i+2:], nil
		case 0xFF:
			return decodeEscapedTuple(b)
		default:
			return "", nil, fmt.Errorf("bad tuple escape %#x: %w", b[i+1], errCorrupt)
		}
	}
	return "", nil, fmt.Errorf("unterminated tuple: %w", errCorrupt)
}

func decodeEscapedTuple(b []byte) (string, []byte, error) {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != 0 {
			out = append(out, b[i])
			continue
		}
		if i+1 >= len(b) {
			return "", nil, fmt.Errorf("truncated tuple: %w", errCorrupt)
		}
		switch b[i+1] {
		case 1:
			return string(out), b[i+2:], nil
		case 0xFF:
			out = append(out, 0)
			i++
		default:
			return "", nil, fmt.Errorf("bad tuple escape %#x: %w", b[i+1], errCorrupt)
		}
	}
	return "", nil, fmt.Errorf("unterminated tuple: %w", errCorrupt)
}

// appendSeriesTuple appends the tuples of a series key: tenant, agent,
// check, metric, then each label's key and value.
func appendSeriesTuple(dst []byte, k *store.SeriesKey) []byte {
	dst = appendTuple(dst, k.Tenant)
	dst = appendTuple(dst, k.Agent)
	dst = appendTuple(dst, k.Check)
	dst = appendTuple(dst, k.Metric)
	for _, l := range k.Labels {
		dst = appendTuple(dst, l.Key)
		dst = appendTuple(dst, l.Value)
	}
	return dst
}

// maxLabels bounds what a decoder accepts; DESIGN §3 allows 16.
const maxLabels = 64

func decodeSeriesTuple(b []byte, k *store.SeriesKey) error {
	var err error
	for _, f := range []*string{&k.Tenant, &k.Agent, &k.Check, &k.Metric} {
		if *f, b, err = decodeTuple(b); err != nil {
			return err
		}
	}
	k.Labels = nil
	for len(b) > 0 {
		if len(k.Labels) == maxLabels {
			return fmt.Errorf("more than %d labels: %w", maxLabels, errCorrupt)
		}
		var l store.Label
		if l.Key, b, err = decodeTuple(b); err != nil {
			return err
		}
		if l.Value, b, err = decodeTuple(b); err != nil {
			return err
		}
		k.Labels = append(k.Labels, l)
	}
	return nil
}

// seriesKey is s | series tuple.
func appendSeriesKey(dst []byte, k *store.SeriesKey) []byte {
	return appendSeriesTuple(append(dst, nsSeries), k)
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

func seriesIDKey(id store.SeriesID) []byte {
	return append([]byte{nsSeriesID}, id[:]...)
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

func agentKey(tenant, id string) []byte {
	return appendTuple(appendTuple([]byte{nsAgent}, tenant), id)
}

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

func tokenKey(h store.TokenHash) []byte {
	return append([]byte{nsToken}, h[:]...)
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

// checkTuple is T(tenant) T(agent) T(check).
func appendCheckTuple(dst []byte, tenant, agent, check string) []byte {
	return appendTuple(appendTuple(appendTuple(dst, tenant), agent), check)
}

// latest result: key l | T(tenant) T(agent) T(check); value ts (8) | status |
// duration (uvarint) | message. The value is a merge operand: the merger
// keeps the one with the highest ts (latestMerger).
func appendLatestKey(dst []byte, tenant string, r *store.CheckResult) []byte {
	return appendCheckTuple(append(dst, nsLatest), tenant, r.Agent, r.Check)
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

// history: key h | bucket (8) | T(tenant) T(agent) T(check) | ts (8); value
// status | duration | message. Raw bucket width, so retention drops history
// with the raw points.
func appendHistoryKey(dst []byte, tenant string, r *store.CheckResult) []byte {
	dst = append(dst, nsHistory)
	dst = append(dst, make([]byte, 8)...)
	putInt64(dst[len(dst)-8:], bucketOf(r.TS, Raw.BucketWidth()))
	dst = appendCheckTuple(dst, tenant, r.Agent, r.Check)
	dst = append(dst, make([]byte, 8)...)
	putInt64(dst[len(dst)-8:], r.TS)
	return dst
}

func historyBucketKey(b int64) []byte {
	k := make([]byte, 9)
	k[0] = nsHistory
	putInt64(k[1:], b)
	return k
}

func decodeHistory(k, v []byte) (tenant string, cr store.CheckResult, err error) {
	if len(k) < 1+8+6+8 || k[0] != nsHistory {
		return "", cr, fmt.Errorf("history key: %w", errCorrupt)
	}
	b := getInt64(k[1:9])
	rest := k[9 : len(k)-8]
	cr.TS = getInt64(k[len(k)-8:])
	if bucketOf(cr.TS, Raw.BucketWidth()) != b {
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

// prefixEnd is the smallest key after every key starting with p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xFF {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // no upper bound
}
