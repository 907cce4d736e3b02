package pebble

import (
	"encoding/binary"
	"errors"
	"fmt"

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
	nsAlarm    = 'A' // A | kind | ...                             → alarm records (alarm.go)
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
	putInt64(k[2:10], store.BucketOf(ts, res.BucketWidth()))
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
	if store.BucketOf(ts, res.BucketWidth()) != b {
		return 0, id, 0, fmt.Errorf("point key ts %d outside bucket %d: %w", ts, b, errCorrupt)
	}
	return res, id, ts, nil
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

func seriesIDKey(id store.SeriesID) []byte {
	return append([]byte{nsSeriesID}, id[:]...)
}

func agentKey(tenant, id string) []byte {
	return appendTuple(appendTuple([]byte{nsAgent}, tenant), id)
}

func tokenKey(h store.TokenHash) []byte {
	return append([]byte{nsToken}, h[:]...)
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

// history: key h | bucket (8) | T(tenant) T(agent) T(check) | ts (8); value
// status | duration | message. Raw bucket width, so retention drops history
// with the raw points.
func appendHistoryKey(dst []byte, tenant string, r *store.CheckResult) []byte {
	dst = append(dst, nsHistory)
	dst = append(dst, make([]byte, 8)...)
	putInt64(dst[len(dst)-8:], store.BucketOf(r.TS, Raw.BucketWidth()))
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

// walKey is w | seq (8, big-endian): one record per Write with numeric points.
func walKey(seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = nsWAL
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

// walSeqKey holds the highest sequence number handed out when a flush (or
// WriteChunks) committed, so that numbers keep growing after every record
// has been deleted.
var walSeqKey = []byte{nsMeta, 'w', 'a', 'l', 's', 'e', 'q'}

// chunkKeyLen is a chunk's key: p | Raw | bucket | series | last ts (8) |
// seq (8); its value is first ts (8) | block, zstd left out (block.go).
// Chunks sort among the series' point keys by their last point, so a read
// from ts seeks past every chunk that ends before ts, and skips without
// decoding the chunks that start after its range.
const chunkKeyLen = pointKeyLen + 8

func putChunkKey(k []byte, b int64, id store.SeriesID, last int64, seq uint64) {
	_ = k[chunkKeyLen-1]
	k[0], k[1] = nsPoint, byte(Raw)
	putInt64(k[2:10], b)
	copy(k[10:26], id[:])
	putInt64(k[26:34], last)
	binary.BigEndian.PutUint64(k[34:42], seq)
}

// dirtyKey is m | "dirty:" | bucket (8): raw bucket b has uncompressed points.
func dirtyKey(b int64) []byte {
	k := append([]byte{nsMeta}, "dirty:"...)
	k = append(k, make([]byte, 8)...)
	putInt64(k[len(k)-8:], b)
	return k
}

var dirtyPrefix = []byte{nsMeta, 'd', 'i', 'r', 't', 'y', ':'}

// blockKeyLen is the length of a block key: a point key without its ts.
const blockKeyLen = pointKeyLen - 8
