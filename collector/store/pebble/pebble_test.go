package pebble

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/storetest"
)

var testOpts = Options{Logger: slog.New(slog.DiscardHandler), CacheSize: 8 << 20}

func openTest(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, testOpts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// openTemp opens a store in a fresh directory, closed at cleanup.
func openTemp(t testing.TB) *Store {
	t.Helper()
	s := openTest(t, t.TempDir())
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, t.TempDir()) })
}

func TestContractReopen(t *testing.T) {
	storetest.RunReopen(t, func(t *testing.T) func() (store.Store, error) {
		dir := t.TempDir()
		return func() (store.Store, error) { return Open(dir, testOpts) }
	})
}

const (
	base = 19676 * dayMS // 2023-11-15T00:00:00Z
)

func randID(r *rand.Rand) store.SeriesID {
	var id store.SeriesID
	for i := range id {
		id[i] = byte(r.UintN(4)) * 85 // few distinct bytes: many ties to order
	}
	return id
}

func randTS(r *rand.Rand) int64 {
	switch r.IntN(6) {
	case 0:
		return []int64{math.MinInt64, math.MinInt64 + 1, -1, 0, 1, math.MaxInt64 - 1, math.MaxInt64}[r.IntN(7)]
	case 1:
		return int64(r.Uint64())
	case 2:
		return store.BucketOf(base, dayMS)*dayMS + r.Int64N(3) - 1 // around a day boundary
	default:
		return base + r.Int64N(30*dayMS) - 15*dayMS
	}
}

func TestPointKeyRoundTripAndOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	type pk struct {
		res Resolution
		id  store.SeriesID
		ts  int64
	}
	var keys []pk
	for i := 0; i < 5000; i++ {
		k := pk{Resolution(r.IntN(int(numResolutions))), randID(r), randTS(r)}
		keys = append(keys, k)
		enc := appendPointKey(nil, k.res, k.id, k.ts)
		res, id, ts, err := decodePointKey(enc)
		if err != nil || res != k.res || id != k.id || ts != k.ts {
			t.Fatalf("round trip of %+v: got %v %v %v %v", k, res, id, ts, err)
		}
	}
	// Key order is (res, bucket, id, ts).
	order := func(a, b pk) int {
		if a.res != b.res {
			return int(a.res) - int(b.res)
		}
		w := a.res.BucketWidth()
		if ba, bb := store.BucketOf(a.ts, w), store.BucketOf(b.ts, w); ba != bb {
			if ba < bb {
				return -1
			}
			return 1
		}
		if c := bytes.Compare(a.id[:], b.id[:]); c != 0 {
			return c
		}
		switch {
		case a.ts < b.ts:
			return -1
		case a.ts > b.ts:
			return 1
		}
		return 0
	}
	for i := 1; i < len(keys); i++ {
		a, b := keys[i-1], keys[i]
		want := order(a, b)
		got := bytes.Compare(appendPointKey(nil, a.res, a.id, a.ts), appendPointKey(nil, b.res, b.id, b.ts))
		if (want < 0) != (got < 0) || (want == 0) != (got == 0) {
			t.Fatalf("order of %+v and %+v: keys compare %d, want %d", a, b, got, want)
		}
	}
}

func randString(r *rand.Rand) string {
	alphabet := []byte{0, 1, 0xFF, 0xFE, 'a', 'b', '/', '-'}
	b := make([]byte, r.IntN(6))
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

func TestTupleRoundTripAndOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20000; i++ {
		a := []string{randString(r), randString(r)}
		b := []string{randString(r), randString(r)}
		if r.IntN(4) == 0 {
			b[0] = a[0]
		}
		ea := appendTuple(appendTuple(nil, a[0]), a[1])
		eb := appendTuple(appendTuple(nil, b[0]), b[1])
		if want, got := slices.Compare(a, b), bytes.Compare(ea, eb); want != got {
			t.Fatalf("order of %q and %q: encodings compare %d, want %d", a, b, got, want)
		}
		s0, rest, err := decodeTuple(ea)
		if err != nil {
			t.Fatal(err)
		}
		s1, rest, err := decodeTuple(rest)
		if err != nil || len(rest) != 0 || s0 != a[0] || s1 != a[1] {
			t.Fatalf("round trip of %q: %q %q %q %v", a, s0, s1, rest, err)
		}
		// A whole leading tuple is a prefix only of keys that start with it.
		if bytes.HasPrefix(eb, appendTuple(nil, a[0])) != (b[0] == a[0]) {
			t.Fatalf("tuple %q is a prefix of %q", a[0], b)
		}
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	sr := storetest.NewSeries("acme", "web\x001", "fs", "used_bytes", store.Gauge, "bytes", "mount", "/", "z", "\x00\xff")
	got, err := decodeSeries(appendSeriesKey(nil, &sr.SeriesKey), appendSeriesValue(nil, &sr))
	if err != nil || !sameSeries(got, sr) {
		t.Errorf("series index: %+v, %v", got, err)
	}
	got, err = decodeSeriesIDValue(sr.ID, appendSeriesIDValue(nil, &sr))
	if err != nil || !sameSeries(got, sr) {
		t.Errorf("series by id: %+v, %v", got, err)
	}

	cr := store.CheckResult{Agent: "a", Check: "plugin.x", TS: -5, Status: store.StatusCrit, Message: "boom", DurationMS: math.MaxUint32}
	lr, err := decodeLatest(appendLatestKey(nil, "acme", &cr), appendLatestValue(nil, &cr))
	if err != nil || lr != cr {
		t.Errorf("latest: %+v, %v", lr, err)
	}
	tenant, hr, err := decodeHistory(appendHistoryKey(nil, "acme", &cr), appendResultBody(nil, &cr))
	if err != nil || hr != cr || tenant != "acme" {
		t.Errorf("history: %q %+v, %v", tenant, hr, err)
	}

	var p store.Point
	buf := make([]byte, 9)
	putFloatValue(buf, math.Inf(-1))
	if err := decodeValue(buf, &p); err != nil || p.Value != math.Inf(-1) {
		t.Errorf("float value: %+v %v", p, err)
	}
	buf = make([]byte, stringValueLen("hi"))
	putStringValue(buf, "hi")
	if err := decodeValue(buf, &p); err != nil || p.Str != "hi" {
		t.Errorf("string value: %+v %v", p, err)
	}
}

func sameSeries(a, b store.Series) bool {
	return a.ID == b.ID && a.Tenant == b.Tenant && a.Agent == b.Agent && a.Check == b.Check &&
		a.Metric == b.Metric && slices.Equal(a.Labels, b.Labels) && a.Type == b.Type && a.Unit == b.Unit
}

func write(t testing.TB, s *Store, w *store.WriteRequest) {
	t.Helper()
	if err := s.Write(context.Background(), w); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func TestExtremeTimestamps(t *testing.T) {
	s := openTemp(t)
	sr := storetest.NewSeries("acme", "a", "c", "m", store.Gauge, "")
	tss := []int64{math.MinInt64, math.MinInt64 + 1, -dayMS - 1, -dayMS, -1, 0, 1, math.MaxInt64 - 1, math.MaxInt64}
	var ps []store.Point
	for i, ts := range tss {
		ps = append(ps, store.Point{Series: sr.ID, TS: ts, Value: float64(i)})
	}
	write(t, s, &store.WriteRequest{Tenant: "acme", Series: []store.Series{sr}, Points: ps})
	got, err := s.Points(t.Context(), sr.ID, math.MinInt64, math.MaxInt64, 0)
	if err != nil {
		t.Fatal(err)
	}
	// MaxInt64 itself is outside [from, MaxInt64).
	if !slices.Equal(got, ps[:len(ps)-1]) {
		t.Errorf("got %v\nwant %v", got, ps[:len(ps)-1])
	}
	got, err = s.Points(t.Context(), sr.ID, -dayMS, 1, 0)
	if err != nil || !slices.Equal(got, ps[3:6]) {
		t.Errorf("[-day, 1): %v %v, want %v", got, err, ps[3:6])
	}
	got, err = s.Points(t.Context(), sr.ID, math.MaxInt64-1, math.MaxInt64, 0)
	if err != nil || !slices.Equal(got, ps[7:8]) {
		t.Errorf("last ms: %v %v", got, err)
	}
}

func TestDeleteBefore(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	sr := storetest.NewSeries("acme", "a", "cpu", "usage_percent", store.Gauge, "")
	var ps []store.Point
	var rs []store.CheckResult
	for d := int64(0); d < 10; d++ {
		for _, off := range []int64{0, 12 * hourMS, dayMS - 1} {
			ps = append(ps, store.Point{Series: sr.ID, TS: base + d*dayMS + off, Value: float64(d)})
			rs = append(rs, store.CheckResult{Agent: "a", Check: "cpu", TS: base + d*dayMS + off, Status: store.StatusOK})
		}
	}
	write(t, s, &store.WriteRequest{Tenant: "acme", Series: []store.Series{sr}, Points: ps, Results: rs})

	cutoff := base + 5*dayMS + hourMS // inside day 5: day 5 is kept whole
	if err := s.DeleteBefore(ctx, Raw, cutoff); err != nil {
		t.Fatal(err)
	}
	got, err := s.Points(ctx, sr.ID, math.MinInt64, math.MaxInt64, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, ps[15:]) {
		t.Errorf("after DeleteBefore: %d points from %d, want %d from %d", len(got), got[0].TS, len(ps[15:]), ps[15].TS)
	}
	// History went with the buckets; the latest result stays.
	n := 0
	it, err := s.db.NewIter(&pebbledb.IterOptions{LowerBound: []byte{nsHistory}, UpperBound: []byte{nsHistory + 1}})
	if err != nil {
		t.Fatal(err)
	}
	for valid := it.First(); valid; valid = it.Next() {
		_, cr, err := decodeHistory(it.Key(), it.Value())
		if err != nil {
			t.Fatal(err)
		}
		if cr.TS < base+5*dayMS {
			t.Errorf("history at %d survived", cr.TS)
		}
		n++
	}
	it.Close()
	if n != 15 {
		t.Errorf("%d history entries left, want 15", n)
	}
	lr, err := s.LatestResults(ctx, "acme", "a")
	if err != nil || len(lr) != 1 || lr[0].TS != rs[len(rs)-1].TS {
		t.Errorf("latest after DeleteBefore: %+v %v", lr, err)
	}
	// Other resolutions are untouched by a raw delete, and vice versa.
	if err := s.DeleteBefore(ctx, Res1h, math.MaxInt64); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Points(ctx, sr.ID, math.MinInt64, math.MaxInt64, 0); len(got) != 15 {
		t.Errorf("1h delete removed raw points: %d left", len(got))
	}
	if err := s.DeleteBefore(ctx, numResolutions, 0); err == nil {
		t.Error("DeleteBefore accepted an unknown resolution")
	}
}

func TestWriteRejectsBadRequests(t *testing.T) {
	s := openTemp(t)
	good := storetest.NewSeries("acme", "a", "cpu", "usage_percent", store.Gauge, "")
	other := storetest.NewSeries("evil", "a", "cpu", "usage_percent", store.Gauge, "")
	wrongID := good
	wrongID.ID = other.ID
	unsorted := storetest.NewSeries("acme", "a", "fs", "used", store.Gauge, "", "a", "1", "b", "2")
	unsorted.Labels[0], unsorted.Labels[1] = unsorted.Labels[1], unsorted.Labels[0]
	unsorted.ID = unsorted.SeriesKey.ID()
	dup := storetest.NewSeries("acme", "a", "fs", "used", store.Gauge, "", "a", "1", "a", "2")
	noType := storetest.NewSeries("acme", "a", "fs", "free", 0, "")
	for name, w := range map[string]*store.WriteRequest{
		"series of another tenant": {Tenant: "acme", Series: []store.Series{good, other}},
		"id not the key's hash":    {Tenant: "acme", Series: []store.Series{wrongID}},
		"unsorted labels":          {Tenant: "acme", Series: []store.Series{unsorted}},
		"repeated label":           {Tenant: "acme", Series: []store.Series{dup}},
		"no type":                  {Tenant: "acme", Series: []store.Series{noType}},
		"point of undefined series": {Tenant: "acme", Series: []store.Series{good},
			Points: []store.Point{{Series: good.ID, TS: base}, {Series: other.ID, TS: base}}},
	} {
		if err := s.Write(t.Context(), w); err == nil {
			t.Errorf("%s: Write accepted it", name)
		}
	}
	// Nothing of the refused batches was written.
	for _, tenant := range []string{"acme", "evil"} {
		if ss, err := s.Series(t.Context(), store.SeriesFilter{Tenant: tenant}); err != nil || len(ss) != 0 {
			t.Errorf("tenant %s has series %+v, %v", tenant, ss, err)
		}
	}
	if ps, _ := s.Points(t.Context(), good.ID, math.MinInt64, math.MaxInt64, 0); len(ps) != 0 {
		t.Errorf("points written: %v", ps)
	}
	if len(s.knownSeries()) != 0 {
		t.Errorf("refused series remembered as known: %v", s.knownSeries())
	}
}

func TestWriteCanceled(t *testing.T) {
	s := openTemp(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	sr := storetest.NewSeries("acme", "a", "cpu", "usage_percent", store.Gauge, "")
	err := s.Write(ctx, &store.WriteRequest{Tenant: "acme", Series: []store.Series{sr}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Write with canceled context: %v", err)
	}
}

func TestKnownSeries(t *testing.T) {
	s := openTemp(t)
	sr := storetest.NewSeries("acme", "a", "cpu", "usage_percent", store.Gauge, "percent")
	write(t, s, &store.WriteRequest{Tenant: "acme", Series: []store.Series{sr}})
	if got := s.knownSeries(); !slices.Equal(got, []store.SeriesID{sr.ID}) {
		t.Fatalf("known = %v", got)
	}
	if !s.isKnown(&sr) {
		t.Error("series not known after write")
	}
	changed := sr
	changed.Unit = "ratio"
	if s.isKnown(&changed) {
		t.Error("series with another unit counts as known")
	}
	write(t, s, &store.WriteRequest{Tenant: "acme", Series: []store.Series{changed}})
	got, err := s.seriesByID(t.Context(), sr.ID)
	if err != nil || got.Unit != "ratio" {
		t.Errorf("seriesByID after redefinition: %+v %v", got, err)
	}
	if _, err := s.seriesByID(t.Context(), store.SeriesID{1}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("seriesByID(unknown): %v", err)
	}
}

// TestLatestResultMerge writes results out of order across memtables and
// sstables, compacts, and checks that the highest timestamp wins everywhere.
func TestLatestResultMerge(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	r := rand.New(rand.NewPCG(5, 6))
	tss := r.Perm(200)
	for i, ts := range tss {
		w := &store.WriteRequest{Tenant: "acme", Results: []store.CheckResult{
			{Agent: "a", Check: "cpu", TS: int64(ts), Status: store.StatusOK, Message: "m"},
		}}
		write(t, s, w)
		if i%37 == 0 {
			if err := s.db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A tie: the later write wins.
	write(t, s, &store.WriteRequest{Tenant: "acme", Results: []store.CheckResult{
		{Agent: "a", Check: "cpu", TS: 199, Status: store.StatusCrit, Message: "tie"},
	}})
	check := func(when string) {
		t.Helper()
		lr, err := s.LatestResults(t.Context(), "acme", "a")
		if err != nil || len(lr) != 1 || lr[0].TS != 199 || lr[0].Message != "tie" {
			t.Errorf("%s: %+v %v", when, lr, err)
		}
	}
	check("before compaction")
	if err := s.db.Compact(t.Context(), []byte{nsLatest}, []byte{nsLatest + 1}, false); err != nil {
		t.Fatal(err)
	}
	check("after compaction")
	write(t, s, &store.WriteRequest{Tenant: "acme", Results: []store.CheckResult{{Agent: "a", Check: "cpu", TS: 5}}})
	check("after an old write")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTest(t, dir)
	defer s.Close()
	check("after reopen")
}

func TestMergerOperands(t *testing.T) {
	v := func(ts int64, msg string) []byte {
		return appendLatestValue(nil, &store.CheckResult{TS: ts, Message: msg})
	}
	cases := []struct {
		name  string
		ops   [][]byte // oldest first
		want  []byte
		older bool // feed with MergeOlder from the newest
	}{
		{"newer higher", [][]byte{v(1, "a"), v(2, "b")}, v(2, "b"), false},
		{"newer lower", [][]byte{v(2, "a"), v(1, "b")}, v(2, "a"), false},
		{"tie", [][]byte{v(2, "a"), v(2, "b")}, v(2, "b"), false},
		{"older tie", [][]byte{v(2, "a"), v(2, "b")}, v(2, "b"), true},
		{"older higher", [][]byte{v(3, "a"), v(2, "b"), v(1, "c")}, v(3, "a"), true},
		{"junk loses", [][]byte{v(-1, "a"), {1, 2}}, v(-1, "a"), false},
		{"junk loses older", [][]byte{{1}, v(-1, "a")}, v(-1, "a"), true},
	}
	for _, c := range cases {
		var m pebbledb.ValueMerger
		var err error
		if c.older {
			m, err = latestMerger.Merge(nil, c.ops[len(c.ops)-1])
			for i := len(c.ops) - 2; i >= 0 && err == nil; i-- {
				err = m.MergeOlder(c.ops[i])
			}
		} else {
			m, err = latestMerger.Merge(nil, c.ops[0])
			for _, op := range c.ops[1:] {
				if err == nil {
					err = m.MergeNewer(op)
				}
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := m.Finish(true)
		if err != nil || !bytes.Equal(got, c.want) {
			t.Errorf("%s: got %x %v, want %x", c.name, got, err, c.want)
		}
	}
}

func TestClose(t *testing.T) {
	s := openTemp(t)
	sr := storetest.NewSeries("acme", "a", "cpu", "usage_percent", store.Gauge, "")
	write(t, s, &store.WriteRequest{Tenant: "acme", Series: []store.Series{sr}, Points: []store.Point{{Series: sr.ID, TS: base}}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for name, err := range map[string]error{
		"Close": s.Close(),
		"Write": s.Write(ctx, &store.WriteRequest{Tenant: "acme", Series: []store.Series{sr}}),
		"Series": func() error {
			_, err := s.Series(ctx, store.SeriesFilter{Tenant: "acme"})
			return err
		}(),
		"Points": func() error {
			_, err := s.Points(ctx, sr.ID, 0, math.MaxInt64, 0)
			return err
		}(),
		"Agents":      func() error { _, err := s.Agents(ctx, "acme"); return err }(),
		"UpsertAgent": s.UpsertAgent(ctx, store.Agent{Tenant: "acme", ID: "a"}),
		"PutToken":    s.PutToken(ctx, store.Token{}),
		"TokenByHash": func() error { _, err := s.TokenByHash(ctx, store.TokenHash{}); return err }(),
		"Ping":        s.Ping(ctx),
		"LatestResults": func() error {
			_, err := s.LatestResults(ctx, "acme", "a")
			return err
		}(),
		"DeleteBefore": s.DeleteBefore(ctx, Raw, 0),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

// TestCloseDuringWrites closes while writers run: each write either
// succeeds or reports ErrClosed, and nothing panics.
func TestCloseDuringWrites(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	sr := storetest.NewSeries("acme", "a", "cpu", "usage_percent", store.Gauge, "")
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[int64]bool{}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(0); ; i++ {
				ts := base + int64(w)*1_000_000 + i
				err := s.Write(context.Background(), &store.WriteRequest{Tenant: "acme", Series: []store.Series{sr},
					Points: []store.Point{{Series: sr.ID, TS: ts, Value: 1}}})
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Write: %v", err)
					return
				}
				mu.Lock()
				acked[ts] = true
				mu.Unlock()
			}
		}()
	}
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 40 {
			break
		}
		// Let the writers make progress.
		if err := s.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	// Every acknowledged point is there after reopening.
	s = openTest(t, dir)
	defer s.Close()
	got, err := s.Points(t.Context(), sr.ID, math.MinInt64, math.MaxInt64, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(acked) {
		t.Errorf("%d points after reopen, %d acknowledged", len(got), len(acked))
	}
	for _, p := range got {
		if !acked[p.TS] {
			t.Errorf("point %d stored but never acknowledged", p.TS)
		}
	}
}

func TestLayoutVersion(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	if err := s.db.Set(versionKey, []byte{99}, pebbledb.Sync); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(dir, testOpts); err == nil {
		s.Close()
		t.Fatal("Open accepted another layout version")
	}
}

// TestCorruptRecords checks that a corrupt record on disk is an error for
// the reader, not a panic.
func TestCorruptRecords(t *testing.T) {
	s := openTemp(t)
	ctx := t.Context()
	sr := storetest.NewSeries("acme", "a", "cpu", "usage_percent", store.Gauge, "")
	write(t, s, &store.WriteRequest{Tenant: "acme", Series: []store.Series{sr}, Points: []store.Point{{Series: sr.ID, TS: base}}})
	b := s.db.NewBatch()
	_ = b.Set(appendPointKey(nil, Raw, sr.ID, base+1), []byte{7}, nil)
	_ = b.Set(append(appendTuple([]byte{nsAgent}, "acme"), 'x'), []byte{1}, nil)
	_ = b.Set(tokenKey(store.TokenHash{1}), []byte{1, 200}, nil)
	_ = b.Set(appendSeriesKey(nil, &store.SeriesKey{Tenant: "bad"}), []byte{1}, nil)
	if err := b.Commit(pebbledb.Sync); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Points(ctx, sr.ID, base, base+10, 0); !errors.Is(err, errCorrupt) {
		t.Errorf("Points over a corrupt value: %v", err)
	}
	if _, err := s.Agents(ctx, "acme"); !errors.Is(err, errCorrupt) {
		t.Errorf("Agents over a corrupt key: %v", err)
	}
	if _, err := s.TokenByHash(ctx, store.TokenHash{1}); !errors.Is(err, errCorrupt) {
		t.Errorf("TokenByHash of a corrupt record: %v", err)
	}
	if _, err := s.Series(ctx, store.SeriesFilter{Tenant: "bad"}); !errors.Is(err, errCorrupt) {
		t.Errorf("Series over a corrupt value: %v", err)
	}
}

// knownSeries reports the ids Write will not redefine; for tests.
func (s *Store) knownSeries() []store.SeriesID {
	s.head.mu.RLock()
	defer s.head.mu.RUnlock()
	var ids []store.SeriesID
	for id, hs := range s.head.series {
		if hs.defined {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b store.SeriesID) int { return bytes.Compare(a[:], b[:]) })
	return ids
}

// seriesByID returns the definition of one series, or store.ErrNotFound;
// for tests, as knownSeries.
func (s *Store) seriesByID(ctx context.Context, id store.SeriesID) (_ store.Series, err error) {
	defer func() { s.health.read(err) }()
	if err := s.acquire(); err != nil {
		return store.Series{}, err
	}
	defer s.mu.RUnlock()
	v, closer, err := s.db.Get(seriesIDKey(id))
	if errors.Is(err, pebbledb.ErrNotFound) {
		return store.Series{}, fmt.Errorf("pebble: series %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Series{}, fmt.Errorf("pebble: series %s: %w", id, err)
	}
	defer closer.Close()
	sr, err := decodeSeriesIDValue(id, v)
	if err != nil {
		return store.Series{}, fmt.Errorf("pebble: %w", err)
	}
	return sr, nil
}

const (
	hourMS = int64(time.Hour / time.Millisecond)
	dayMS  = 24 * hourMS
)
