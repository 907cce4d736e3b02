package pebble

import (
	"bytes"
	"testing"
	"time"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/storetest"
)

// FuzzDecodeKey feeds arbitrary bytes to every decoder of on-disk keys and
// values and to the merge operator: none may panic, and what decodes must
// encode back to the same bytes (or, for values with varints, to bytes
// that decode the same).
func FuzzDecodeKey(f *testing.F) {
	sr := storetest.NewSeries("acme", "web\x001", "fs", "used", store.Gauge, "bytes", "mount", "/")
	cr := store.CheckResult{Agent: "a", Check: "cpu", TS: base, Status: store.StatusWarn, Message: "hot", DurationMS: 7}
	ag := store.Agent{Tenant: "acme", ID: "a", Hostname: "h", Labels: map[string]string{"k": "v"}, LastSeen: time.UnixMilli(base)}
	tk := store.Token{ID: "t", Tenant: "acme", Role: store.RoleRead, Created: time.UnixMilli(base)}
	fv := make([]byte, 9)
	putFloatValue(fv, 1.5)
	for _, seed := range [][2][]byte{
		{appendPointKey(nil, Raw, sr.ID, base), fv},
		{appendPointKey(nil, Res1h, sr.ID, -1), []byte{valString, 'x'}},
		{appendSeriesKey(nil, &sr.SeriesKey), appendSeriesValue(nil, &sr)},
		{seriesIDKey(sr.ID), appendSeriesIDValue(nil, &sr)},
		{agentKey("acme", "a"), appendAgentValue(nil, &ag)},
		{tokenKey(store.TokenHash{}), appendTokenValue(nil, &tk)},
		{appendLatestKey(nil, "acme", &cr), appendLatestValue(nil, &cr)},
		{appendHistoryKey(nil, "acme", &cr), appendResultBody(nil, &cr)},
		{{0, 0xFF, 0}, {0, 1}},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, k, v []byte) {
		if res, id, ts, err := decodePointKey(k); err == nil {
			if back := appendPointKey(nil, res, id, ts); !bytes.Equal(back, k) {
				t.Fatalf("point key %x decodes to %v %v %d, which encodes to %x", k, res, id, ts, back)
			}
		}
		var p store.Point
		if err := decodeValue(v, &p); err == nil {
			back := make([]byte, floatValueLen())
			if v[0] == valString {
				back = make([]byte, stringValueLen(p.Str))
				putStringValue(back, p.Str)
			} else {
				putFloatValue(back, p.Value)
			}
			if !bytes.Equal(back, v) {
				t.Fatalf("value %x decodes to %+v, which encodes to %x", v, p, back)
			}
		}
		if s, rest, err := decodeTuple(k); err == nil {
			if n := len(k) - len(rest); !bytes.Equal(appendTuple(nil, s), k[:n]) {
				t.Fatalf("tuple %x decodes to %q, which encodes to %x", k[:n], s, appendTuple(nil, s))
			}
		}
		if s, err := decodeSeries(k, v); err == nil {
			if !bytes.Equal(appendSeriesKey(nil, &s.SeriesKey), k) {
				t.Fatalf("series key %x does not round trip", k)
			}
		}
		var id store.SeriesID
		copy(id[:], k)
		_, _ = decodeSeriesIDValue(id, v)
		if a, err := decodeAgent(k, v); err == nil {
			if !bytes.Equal(agentKey(a.Tenant, a.ID), k) {
				t.Fatalf("agent key %x does not round trip", k)
			}
		}
		var h store.TokenHash
		copy(h[:], k)
		_, _ = decodeToken(h, v)
		if r, err := decodeLatest(k, v); err == nil {
			// Varints may be non-canonical on input; compare decoded records.
			if r2, err := decodeLatest(k, appendLatestValue(nil, &r)); err != nil || r2 != r {
				t.Fatalf("latest value %x decodes to %+v, which does not round trip: %+v %v", v, r, r2, err)
			}
		}
		if tenant, r, err := decodeHistory(k, v); err == nil {
			if !bytes.Equal(appendHistoryKey(nil, tenant, &r), k) {
				t.Fatalf("history key %x does not round trip", k)
			}
		}
		m, err := latestMerger.Merge(k, v)
		if err == nil {
			_ = m.MergeNewer(k)
			_ = m.MergeOlder(v)
			_, _, _ = m.Finish(true)
		}
	})
}
