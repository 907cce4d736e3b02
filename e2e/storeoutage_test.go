package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilmon/vigil/agent/spool"
	"github.com/vigilmon/vigil/agent/transport"
	"github.com/vigilmon/vigil/collector/api"
	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/ingest"
	"github.com/vigilmon/vigil/collector/rollup"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/pebble"
	"github.com/vigilmon/vigil/protocol"
)

// outageStore is the real store with a switch that makes it fail as an
// unreachable Cassandra does: every write and Ping errors out.
type outageStore struct {
	store.Store
	down          atomic.Bool
	failed, wrote atomic.Int64
}

var errStoreDown = errors.New("store unreachable (test outage)")

func (s *outageStore) Write(ctx context.Context, w *store.WriteRequest) error {
	if s.down.Load() {
		s.failed.Add(1)
		return errStoreDown
	}
	if err := s.Store.Write(ctx, w); err != nil {
		return err
	}
	s.wrote.Add(1)
	return nil
}

func (s *outageStore) MarkPending(ctx context.Context, res store.Resolution, slot int64, ws []store.Window) error {
	if s.down.Load() {
		return errStoreDown
	}
	return s.Store.MarkPending(ctx, res, slot, ws)
}

func (s *outageStore) Ping(ctx context.Context) error {
	if s.down.Load() {
		return errStoreDown
	}
	return s.Store.Ping(ctx)
}

// selfSignedFiles writes a certificate for 127.0.0.1 and its key.
func selfSignedFiles(t *testing.T, dir string) (tls.Certificate, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "collector"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, caFile
}

// TestStoreOutage runs the collector's QUIC ingest (in process, over a
// store that the test takes down) against the agent's spool and QUIC
// transport. While the store is down no batch is acked, the agent keeps
// every batch in its spool, and /readyz says the store is down; once it
// is back, every point is stored exactly once.
func TestStoreOutage(t *testing.T) {
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	pst, err := pebble.Open(filepath.Join(dir, "store"), pebble.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer pst.Close()
	st := &outageStore{Store: pst}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	token, _, err := auth.Create(ctx, st, "acme", store.RoleAgent, "web-1")
	if err != nil {
		t.Fatal(err)
	}

	// The collector side, as collector.Run wires it.
	cert, caFile := selfSignedFiles(t, dir)
	srv := &ingest.Server{Store: rollup.Track(st), Log: log, Name: "c1",
		Validator: ingest.Validator{MaxAge: time.Hour}, MaxInflight: 4, MaxFrameBytes: protocol.DefaultMaxFrameBytes}
	ln, err := srv.Listen("127.0.0.1:0", cert)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	sctx, stopServer := context.WithCancel(context.Background())
	wg.Go(func() {
		if err := srv.Serve(sctx, ln); err != nil {
			t.Errorf("ingest: %v", err)
		}
	})
	apiSrv := httptest.NewServer((&api.API{Store: st, Log: log}).Handler())
	defer apiSrv.Close()

	// The agent side: its spool, and a sender that acks the spool only on
	// the collector's Ack.
	sp, err := spool.Open(filepath.Join(dir, "spool"), spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	// Registered after the spool's Close, so it runs before it: stop the
	// sender and the server and wait for them.
	defer func() {
		cancel()
		stopServer()
		ln.Close()
		wg.Wait()
	}()
	tc, err := transport.TLSConfig{CAFile: caFile}.Load(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	var acks, sendErrors atomic.Int64
	wg.Go(func() {
		var sess *transport.Session
		defer func() {
			if sess != nil {
				sess.Close("test over")
			}
		}()
		for ctx.Err() == nil {
			if sess == nil {
				var derr error
				sess, derr = transport.Dial(ctx, ln.Addr().String(), tc, &protocol.Hello{
					ProtocolVersion: protocol.Version, AgentId: "web-1", Token: token, Hostname: "web-1"})
				if derr != nil {
					sess = nil
					time.Sleep(50 * time.Millisecond)
					continue
				}
			}
			b, err := sp.Next(ctx)
			if err != nil {
				return
			}
			sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
			ack, err := sess.Send(sctx, b)
			scancel()
			if err != nil {
				sendErrors.Add(1)
				sp.Release(b.GetSeq())
				select {
				case <-sess.Done():
					sess = nil
				default:
				}
				time.Sleep(20 * time.Millisecond)
				continue
			}
			if ack.GetRejected() != 0 {
				t.Errorf("batch %d: %d points rejected: %v", b.GetSeq(), ack.GetRejected(), ack.GetErrors())
			}
			if err := sp.Ack(b.GetSeq()); err != nil {
				t.Errorf("spool ack: %v", err)
			}
			acks.Add(1)
		}
	})

	start := time.Now().Add(-10 * time.Minute).UnixMilli()
	n := 0
	appendBatches := func(k int) {
		t.Helper()
		for range k {
			r := &protocol.CheckResult{Check: "plugin.seq", TimestampMs: start + int64(n)*1000, Status: protocol.Status_STATUS_OK,
				Metrics: []*protocol.Metric{{Name: "seq", Type: protocol.MetricType_METRIC_TYPE_GAUGE, Value: float64(n)}}}
			if _, _, err := sp.Append([]*protocol.CheckResult{r}); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (acks %d, spool %+v, failed writes %d)", what, acks.Load(), sp.Stats(), st.failed.Load())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	readyz := func() int {
		resp, err := http.Get(apiSrv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// Store up: batches are acked.
	appendBatches(10)
	waitFor("the first batches to be acked", func() bool { return acks.Load() == 10 })

	// Store down: nothing is acked, everything stays spooled.
	st.down.Store(true)
	appendBatches(20)
	waitFor("failed writes", func() bool { return st.failed.Load() >= 20 })
	time.Sleep(300 * time.Millisecond)
	if got := acks.Load(); got != 10 {
		t.Fatalf("%d batches acked while the store was down, want none after the first 10", got)
	}
	if s := sp.Stats(); s.Batches != 20 {
		t.Fatalf("spool holds %d batches during the outage, want 20", s.Batches)
	}
	if code := readyz(); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage: %d, want 503", code)
	}

	// Store back: the spool drains, each point is stored once.
	st.down.Store(false)
	appendBatches(5)
	waitFor("the spool to drain", func() bool { return acks.Load() == 35 && sp.Stats().Batches == 0 })
	if code := readyz(); code != http.StatusOK {
		t.Errorf("/readyz after the outage: %d, want 200", code)
	}
	ss, err := st.Series(ctx, store.SeriesFilter{Tenant: "acme", Agent: "web-1", Check: "plugin.seq", Metric: "seq"})
	if err != nil || len(ss) != 1 {
		t.Fatalf("series: %v, %v", ss, err)
	}
	ps, err := st.Points(ctx, ss[0].ID, start, start+int64(n)*1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != n {
		t.Fatalf("%d points stored, want %d", len(ps), n)
	}
	for i, p := range ps {
		if p.TS != start+int64(i)*1000 || p.Value != float64(i) {
			t.Fatalf("point %d = %+v, want ts %d value %d", i, p, start+int64(i)*1000, i)
		}
	}
	if st.failed.Load() == 0 || sendErrors.Load() == 0 {
		t.Errorf("the outage was not exercised: %d failed writes, %d send errors", st.failed.Load(), sendErrors.Load())
	}
	// Every batch was written at least once and acked exactly once.
	if st.wrote.Load() < int64(n) {
		t.Errorf("%d successful writes for %d batches", st.wrote.Load(), n)
	}
}
