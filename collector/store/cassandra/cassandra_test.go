package cassandra

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from what the code sends; if the change is meant, run go test ./collector/store/cassandra -update and review the diff.\n--- got ---\n%s", path, got)
	}
}

func exampleConfig() Config {
	c := Config{Hosts: []string{"10.0.0.1"}, LocalDC: "eu-west", Replication: map[string]int{"us-east": 3, "eu-west": 3}}
	if err := c.Defaults(); err != nil {
		panic(err)
	}
	return c
}

// TestSchemaText pins the schema that `vigil-collector schema` prints and
// `vigil-collector migrate` applies.
func TestSchemaText(t *testing.T) {
	c := exampleConfig()
	golden(t, "schema.cql", SchemaText(&c))
}

// TestStatements pins every statement the store sends.
func TestStatements(t *testing.T) {
	c := exampleConfig()
	var b strings.Builder
	for _, st := range newStatements(c.Keyspace).all() {
		fmt.Fprintf(&b, "-- %s\n%s;\n\n", st[0], st[1])
	}
	b.WriteString("-- migrate, after the CREATE statements of the schema\n")
	for _, cql := range alterStatements(&c) {
		fmt.Fprintf(&b, "%s;\n\n", cql)
	}
	golden(t, "statements.cql", b.String())
}

// TestCQLSubset holds the text to what every Cassandra from 2.2 on runs,
// and to the data model's rules.
func TestCQLSubset(t *testing.T) {
	c := exampleConfig()
	var all []string
	for _, st := range Schema(&c) {
		all = append(all, st.CQL)
	}
	all = append(all, alterStatements(&c)...)
	lwt := map[string]bool{}
	st := newStatements(c.Keyspace)
	for _, s := range st.all() {
		all = append(all, s[1])
	}
	// The alarm store's lightweight transactions are the only ones.
	for _, s := range st.alarm.list() {
		lwt[s[1]] = true
	}
	for _, cql := range all {
		up := strings.ToUpper(cql)
		for _, bad := range []string{"ALLOW FILTERING", "CREATE INDEX", "CREATE CUSTOM INDEX", "MATERIALIZED VIEW",
			"SYSTEM_SCHEMA", "GROUP BY", "SASI", "READ_REPAIR_CHANCE", "PER PARTITION LIMIT", "COUNTER", "TRUNCATE", "SELECT *"} {
			if strings.Contains(up, bad) {
				t.Errorf("statement uses %s: %s", bad, cql)
			}
		}
		if strings.HasPrefix(up, "SELECT") && !strings.Contains(up, "WHERE") {
			t.Errorf("a read without a partition key: %s", cql)
		}
		if strings.HasPrefix(up, "INSERT") && strings.Contains(up, " IF NOT EXISTS") && !lwt[cql] {
			t.Errorf("a lightweight transaction: %s", cql)
		}
	}
}

func TestTWCSWindow(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		ttl  time.Duration
		unit string
		size int64
	}{
		{7 * day, "HOURS", 7},
		{35 * day, "HOURS", 35},
		{400 * day, "DAYS", 16},
		{90 * day, "DAYS", 3},
		{time.Hour, "MINUTES", 3},
		{2 * time.Second, "MINUTES", 1},
	} {
		unit, size := twcsWindow(c.ttl)
		if unit != c.unit || size != c.size {
			t.Errorf("twcsWindow(%v) = %d %s, want %d %s", c.ttl, size, unit, c.size, c.unit)
		}
		if c.ttl >= time.Hour {
			u := map[string]time.Duration{"MINUTES": time.Minute, "HOURS": time.Hour, "DAYS": day}[unit]
			if n := c.ttl / (time.Duration(size) * u); n < 20 || n > 30 {
				t.Errorf("twcsWindow(%v): %d windows per TTL, want 20 to 30", c.ttl, n)
			}
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Hosts: []string{"a"}, LocalDC: "dc1"}
	if err := c.Defaults(); err != nil {
		t.Fatal(err)
	}
	if c.Port != 9042 || c.Keyspace != "vigil" || c.Consistency != "LOCAL_QUORUM" || c.Replication["dc1"] != 3 ||
		c.WriteConcurrency != 64 || c.Timeout != 10*time.Second || c.Retention != store.DefaultRetention {
		t.Errorf("defaults: %+v", c)
	}
	for _, bad := range []struct {
		c    Config
		want string
	}{
		{Config{LocalDC: "dc1"}, "store.cassandra.hosts"},
		{Config{Hosts: []string{"a"}}, "store.cassandra.local_dc"},
		{Config{Hosts: []string{"a b"}, LocalDC: "dc1"}, "store.cassandra.hosts"},
		{Config{Hosts: []string{"a"}, LocalDC: "dc1", Keyspace: "Vigil"}, "store.cassandra.keyspace"},
		{Config{Hosts: []string{"a"}, LocalDC: "dc1", Keyspace: "a;drop"}, "store.cassandra.keyspace"},
		{Config{Hosts: []string{"a"}, LocalDC: "dc1", Replication: map[string]int{"dc2": 3}}, "store.cassandra.replication"},
		{Config{Hosts: []string{"a"}, LocalDC: "dc1", Replication: map[string]int{"dc1": 0}}, "store.cassandra.replication.dc1"},
		{Config{Hosts: []string{"a"}, LocalDC: "dc1", Replication: map[string]int{"dc1": 3, "x'y": 1}}, "store.cassandra.replication"},
		{Config{Hosts: []string{"a"}, LocalDC: "dc1", Consistency: "SERIAL"}, "store.cassandra.consistency"},
		{Config{Hosts: []string{"a"}, LocalDC: "dc1", Username: "u"}, "username and password"},
		{Config{Hosts: []string{"a"}, LocalDC: "dc1", TLS: TLS{CAFile: "x"}}, "store.cassandra.tls"},
		{Config{Hosts: []string{"a"}, LocalDC: "dc1", TLS: TLS{Enabled: true, CertFile: "x"}}, "store.cassandra.tls"},
		{Config{Hosts: []string{"a"}, LocalDC: "dc1", Timeout: time.Millisecond}, "store.cassandra.timeout"},
		{Config{Hosts: []string{"a"}, LocalDC: "dc1", WriteConcurrency: -1}, "store.cassandra.write_concurrency"},
		{Config{Hosts: []string{"a"}, LocalDC: "dc1", Port: 70000}, "store.cassandra.port"},
	} {
		err := bad.c.Defaults()
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("Defaults(%+v) = %v, want an error naming %s", bad.c, err, bad.want)
		}
	}
	c = Config{Hosts: []string{"a"}, LocalDC: "dc1", Consistency: "local_one"}
	if err := c.Defaults(); err != nil {
		t.Errorf("lower-case consistency: %v", err)
	}
}

func TestLabels(t *testing.T) {
	for _, ls := range [][]store.Label{nil, {{Key: "a", Value: ""}}, {{Key: "a", Value: "1"}, {Key: "b", Value: "x\x00y"}}} {
		enc := encodeLabels(ls)
		if enc == nil {
			t.Fatal("encodeLabels returned nil: a clustering column cannot be null")
		}
		back, err := decodeLabels(enc)
		if err != nil || len(back) != len(ls) {
			t.Fatalf("decodeLabels(%q) = %v, %v", enc, back, err)
		}
		for i := range ls {
			if back[i] != ls[i] {
				t.Errorf("label %d: %v, want %v", i, back[i], ls[i])
			}
		}
	}
	if _, err := decodeLabels([]string{"k"}); err == nil {
		t.Error("odd list decoded")
	}
}

func FuzzDecodeLabels(f *testing.F) {
	f.Add("a\x00b\x00c\x00d")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		kv := strings.Split(s, "\x00")
		ls, err := decodeLabels(kv)
		if err != nil {
			return
		}
		if back := encodeLabels(ls); strings.Join(back, "\x00") != s && len(ls) > 0 {
			t.Fatalf("%q decodes to %v, which encodes to %q", s, ls, back)
		}
	})
}

func TestWriteTime(t *testing.T) {
	if writeTime(1_700_000_000_000) != 1_700_000_000_000_000 {
		t.Error("writeTime is not µs")
	}
	if writeTime(-5) <= 0 || writeTime(1<<62) <= 0 {
		t.Error("writeTime out of range")
	}
	if writeTime(2) <= writeTime(1) {
		t.Error("writeTime not increasing")
	}
}

func TestIsOutage(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{gocql.ErrNoConnections, true},
		{context.DeadlineExceeded, true},
		{fmt.Errorf("wrapped: %w", gocql.ErrTimeoutNoResponse), true},
		{&gocql.RequestErrUnavailable{}, true},
		{&gocql.RequestErrWriteTimeout{}, true},
		{context.Canceled, false},
		{gocql.ErrNotFound, false},
		{ErrClosed, false},
	} {
		if got := isOutage(c.err); got != c.want {
			t.Errorf("isOutage(%T %v) = %v, want %v", c.err, c.err, got, c.want)
		}
	}
}

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestHealthLogsOncePerChange(t *testing.T) {
	var buf syncBuffer
	h := health{log: slog.New(slog.NewTextHandler(&buf, nil))}
	down := fmt.Errorf("write: %w", gocql.ErrNoConnections)
	for range 100 {
		if got := h.observe(down); got != down {
			t.Fatalf("observe(%v) = %v, want its input back", down, got)
		}
	}
	if h.state() == nil {
		t.Error("not down after failures")
	}
	for range 10 {
		if err := h.observe(nil); err != nil {
			t.Fatalf("observe(nil) = %v", err)
		}
		// The caller gave up: says nothing about Cassandra, and is passed back.
		if err := h.observe(context.Canceled); err != context.Canceled {
			t.Fatalf("observe(context.Canceled) = %v", err)
		}
	}
	if h.state() != nil {
		t.Error("still down after a success")
	}
	_ = h.observe(down) // returns down, checked above; this test counts log lines
	out := buf.String()
	if n := strings.Count(out, "cassandra unavailable"); n != 2 {
		t.Errorf("logged unavailable %d times, want 2:\n%s", n, out)
	}
	if n := strings.Count(out, "available again"); n != 1 {
		t.Errorf("logged recovery %d times, want 1:\n%s", n, out)
	}
}

// TestUnreachable opens a store on a port where nothing listens: it opens,
// fails every call with ErrUnavailable, reports it in Ping, logs once, and
// closes.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	var buf syncBuffer
	s, err := Open(Config{Hosts: []string{"127.0.0.1"}, Port: port, LocalDC: "dc1", ConnectTimeout: 200 * time.Millisecond},
		slog.New(slog.NewTextHandler(&buf, nil)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	sr := storetest.NewSeries("t1", "a", "cpu", "usage_percent", store.Gauge, "")
	w := &store.WriteRequest{Tenant: "t1", Series: []store.Series{sr}, Points: []store.Point{{Series: sr.ID, TS: 1, Value: 1}}}
	for range 5 {
		if err := s.Write(t.Context(), w); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("Write = %v, want ErrUnavailable", err)
		}
	}
	if err := s.Ping(t.Context()); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), strconv.Itoa(port)) {
		t.Errorf("Ping = %v, want ErrUnavailable naming the port", err)
	}
	if n := strings.Count(buf.String(), "cassandra unavailable"); n != 1 {
		t.Errorf("logged unavailable %d times, want 1:\n%s", n, buf.String())
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Write(t.Context(), w); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
}

// testCluster returns the config of the cluster VIGIL_TEST_CASSANDRA names
// (host:port), with its local data center asked from the node, or skips.
func testCluster(t *testing.T, keyspace string, retention store.Retention) Config {
	t.Helper()
	addr := os.Getenv("VIGIL_TEST_CASSANDRA")
	if addr == "" {
		t.Skip("no Cassandra: set VIGIL_TEST_CASSANDRA=host:port (e.g. 127.0.0.1:9042) to run the contract suite against a real node; " +
			"the tests create and use keyspaces vigil_test*")
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("VIGIL_TEST_CASSANDRA=%q: want host:port: %v", addr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatalf("VIGIL_TEST_CASSANDRA=%q: bad port", addr)
	}
	cl := gocql.NewCluster(host)
	cl.Port = port
	cl.ProtoVersion = 4
	cl.Timeout = 10 * time.Second
	sess, err := cl.CreateSession()
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	var dc, version string
	err = sess.Query("SELECT data_center, release_version FROM system.local").Scan(&dc, &version)
	sess.Close()
	if err != nil {
		t.Fatalf("read system.local of %s: %v", addr, err)
	}
	t.Logf("Cassandra %s, data center %s", version, dc)
	c := Config{Hosts: []string{host}, Port: port, Keyspace: keyspace, LocalDC: dc,
		Replication: map[string]int{dc: 1}, Retention: retention}
	migrateOnce.Lock()
	defer migrateOnce.Unlock()
	if !migrated[keyspace] {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := Migrate(ctx, c, nil); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		migrated[keyspace] = true
	}
	return c
}

var (
	migrateOnce sync.Mutex
	migrated    = map[string]bool{}
)

func openTest(t *testing.T, c Config) *Store {
	t.Helper()
	s, err := Open(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestContract(t *testing.T) {
	c := testCluster(t, "vigil_test", store.Retention{})
	storetest.Run(t, func(t *testing.T) store.Store { return openTest(t, c) })
}

func TestContractReopen(t *testing.T) {
	c := testCluster(t, "vigil_test", store.Retention{})
	storetest.RunReopen(t, func(t *testing.T) func() (store.Store, error) {
		return func() (store.Store, error) { return Open(c, slog.New(slog.DiscardHandler)) }
	})
}

func TestAlarmContract(t *testing.T) {
	c := testCluster(t, "vigil_test", store.Retention{})
	storetest.RunAlarms(t, func(t *testing.T, l store.AlarmLimits) store.Store {
		c := c
		c.AlarmLimits = l
		return openTest(t, c)
	})
}

func TestAlarmContractReopen(t *testing.T) {
	c := testCluster(t, "vigil_test", store.Retention{})
	storetest.RunAlarmsReopen(t, func(t *testing.T) func() (store.Store, error) {
		return func() (store.Store, error) { return Open(c, slog.New(slog.DiscardHandler)) }
	})
}

// TestMigrateIdempotent runs Migrate again on a migrated keyspace.
func TestMigrateIdempotent(t *testing.T) {
	c := testCluster(t, "vigil_test", store.Retention{})
	var n int
	if err := Migrate(t.Context(), c, func(string) { n++ }); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	if n != len(Schema(&c))+len(alterStatements(&c)) {
		t.Errorf("Migrate ran %d statements", n)
	}
}

// TestTTL checks retention by TTL in a keyspace whose resolutions live two
// seconds.
func TestTTL(t *testing.T) {
	c := testCluster(t, "vigil_test_ttl", store.Retention{2 * time.Second, 2 * time.Second, 2 * time.Second})
	s := openTest(t, c)
	defer s.Close()
	tenant := storetest.NewTenant(t)
	sr := storetest.NewSeries(tenant, "a1", "cpu", "usage_percent", store.Gauge, "percent")
	now := time.Now().UnixMilli()
	if err := s.Write(t.Context(), &store.WriteRequest{Tenant: tenant, Series: []store.Series{sr},
		Points: []store.Point{{Series: sr.ID, TS: now, Value: 1}}}); err != nil {
		t.Fatal(err)
	}
	win := store.Floor(now, store.Res5m.Window())
	if err := s.WriteRollups(t.Context(), store.Res5m, []store.Rollup{{Series: sr.ID, TS: win, Count: 1}}); err != nil {
		t.Fatal(err)
	}
	if ps, err := s.Points(t.Context(), sr.ID, now-1000, now+1000, 0); err != nil || len(ps) != 1 {
		t.Fatalf("Points before expiry = %v, %v", ps, err)
	}
	time.Sleep(3500 * time.Millisecond)
	if ps, err := s.Points(t.Context(), sr.ID, now-1000, now+1000, 0); err != nil || len(ps) != 0 {
		t.Errorf("Points after the TTL = %v, %v; want none", ps, err)
	}
	if rs, err := s.ReadRollups(t.Context(), store.Res5m, sr.ID, win, win+1, 0); err != nil || len(rs) != 0 {
		t.Errorf("ReadRollups after the TTL = %v, %v; want none", rs, err)
	}
	// The series index has no TTL.
	if ss, err := s.Series(t.Context(), store.SeriesFilter{Tenant: tenant}); err != nil || len(ss) != 1 {
		t.Errorf("Series after the TTL = %v, %v; want the series", ss, err)
	}
}

// TestBatchesStayInPartition writes many points of one series and day:
// they go in unlogged batches of one partition, and all arrive.
func TestBatchesStayInPartition(t *testing.T) {
	c := testCluster(t, "vigil_test", store.Retention{})
	s := openTest(t, c)
	defer s.Close()
	tenant := storetest.NewTenant(t)
	sr := storetest.NewSeries(tenant, "a1", "cpu", "usage_percent", store.Gauge, "percent")
	base := int64(19676) * 86400000
	w := &store.WriteRequest{Tenant: tenant, Series: []store.Series{sr}}
	for i := range 1000 { // spans two days
		w.Points = append(w.Points, store.Point{Series: sr.ID, TS: base + 86400000 - 500_000 + int64(i)*1000, Value: float64(i)})
	}
	if err := s.Write(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	ps, err := s.Points(t.Context(), sr.ID, base, base+2*86400000, 0)
	if err != nil || len(ps) != 1000 {
		t.Fatalf("Points = %d, %v; want 1000", len(ps), err)
	}
	for i, p := range ps {
		if p.Value != float64(i) {
			t.Fatalf("point %d = %v", i, p)
		}
	}
}
