package cassandra

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vigilmon/vigil/collector/store"
)

// closedPort returns a 127.0.0.1 port where nothing listens.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// poll waits until cond holds or the deadline passes.
func poll(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKeepsTryingWhileUnreachable opens a store on a closed port and
// waits through several reconnection attempts. Each attempt needs a host
// policy of its own: reusing one made gocql panic on the second attempt,
// about a second after start, so a collector started during an outage
// crash-looped under systemd.
func TestKeepsTryingWhileUnreachable(t *testing.T) {
	for _, remote := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow_remote_dc=%v", remote), func(t *testing.T) {
			port := closedPort(t)
			var buf syncBuffer
			s, err := open(Config{Hosts: []string{"127.0.0.1"}, Port: port, LocalDC: "dc1", AllowRemoteDC: remote,
				ConnectTimeout: 200 * time.Millisecond}, slog.New(slog.NewTextHandler(&buf, nil)),
				backoff{min: 20 * time.Millisecond, max: 100 * time.Millisecond})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			poll(t, 15*time.Second, "fewer than 6 connection attempts", func() bool { return s.attempts.Load() >= 6 })
			if err := s.Ping(t.Context()); !errors.Is(err, ErrUnavailable) {
				t.Errorf("Ping = %v, want ErrUnavailable", err)
			}
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			out := buf.String()
			if n := strings.Count(out, "cassandra unavailable"); n != 1 {
				t.Errorf("logged unavailable %d times over %d attempts, want once:\n%s", n, s.attempts.Load(), out)
			}
			if strings.Contains(out, "another reason") {
				t.Errorf("logged a change of reason while the reason stayed the same:\n%s", out)
			}
		})
	}
}

func TestHostPolicyPerAttempt(t *testing.T) {
	for _, c := range []struct {
		remote     bool
		wantFilter bool
	}{
		{remote: false, wantFilter: true},
		{remote: true, wantFilter: false},
	} {
		cfg := Config{Hosts: []string{"a"}, LocalDC: "dc1", AllowRemoteDC: c.remote}
		if err := cfg.Defaults(); err != nil {
			t.Fatal(err)
		}
		use := &remoteUse{log: slog.New(slog.DiscardHandler), local: "dc1"}
		a, b := newHostPolicy(&cfg, use), newHostPolicy(&cfg, use)
		if a.selection == b.selection {
			t.Errorf("allow_remote_dc=%v: two attempts share a host selection policy", c.remote)
		}
		if (a.filter != nil) != c.wantFilter {
			t.Errorf("allow_remote_dc=%v: host filter %v, want one: %v", c.remote, a.filter, c.wantFilter)
		}
		cl := gocql.NewCluster("a")
		a.apply(cl)
		if cl.PoolConfig.HostSelectionPolicy != a.selection || (cl.HostFilter != nil) != c.wantFilter {
			t.Errorf("allow_remote_dc=%v: apply set policy %v filter %v", c.remote, cl.PoolConfig.HostSelectionPolicy, cl.HostFilter)
		}
	}
}

func TestDCFilter(t *testing.T) {
	down := errors.New("gocql: unable to create session: control: unable to connect to initial hosts: host was filtered")
	for _, c := range []struct {
		name     string
		seen     []string
		wantNoDC bool
		wantText string
	}{
		{name: "nothing answered", seen: nil},
		{name: "local node", seen: []string{"dc1"}},
		{name: "local and remote", seen: []string{"dc2", "dc1"}},
		{name: "remote only", seen: []string{"dc2", "dc3", "dc2"}, wantNoDC: true, wantText: `local_dc "dc1"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &dcFilter{local: "dc1"}
			for _, dc := range c.seen {
				if got := f.acceptDC(dc); got != (dc == "dc1") {
					t.Errorf("acceptDC(%q) = %v", dc, got)
				}
			}
			err := f.explain(down)
			if errors.Is(err, ErrNoLocalDC) != c.wantNoDC || !errors.Is(err, down) {
				t.Fatalf("explain = %v; want ErrNoLocalDC: %v, wrapping the driver's error", err, c.wantNoDC)
			}
			if c.wantNoDC {
				for _, want := range []string{c.wantText, "dc2, dc3", "allow_remote_dc"} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
			}
		})
	}
	// A node whose data center is not known yet is not local.
	f := &dcFilter{local: "dc1"}
	if f.Accept(&gocql.HostInfo{}) {
		t.Error("a host without a data center was accepted")
	}
	var nilFilter *dcFilter
	if err := nilFilter.explain(down); err != down {
		t.Errorf("explain without a filter = %v", err)
	}
}

func TestRemoteUseLogsAtMostOnceAMinute(t *testing.T) {
	var buf syncBuffer
	r := &remoteUse{log: slog.New(slog.NewTextHandler(&buf, nil)), local: "dc1"}
	for range 1000 {
		r.saw("dc2")
	}
	if n := strings.Count(buf.String(), "another data center"); n != 1 {
		t.Fatalf("logged %d times, want 1:\n%s", n, buf.String())
	}
	// A minute later the next request logs, with the count since.
	r.mu.Lock()
	r.last = r.last.Add(-remoteUseLogEvery)
	r.mu.Unlock()
	r.saw("dc3")
	out := buf.String()
	if n := strings.Count(out, "another data center"); n != 2 || !strings.Contains(out, "requests=1000") || !strings.Contains(out, "remote_dc=dc2,dc3") {
		t.Errorf("second line missing or wrong:\n%s", out)
	}
}

// flakyProxy forwards 127.0.0.1 connections to a node, after refusing
// them (accept, then close at once) until open is called.
type flakyProxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	open    bool
	refused int
	wg      sync.WaitGroup
}

func newFlakyProxy(t *testing.T, target string) *flakyProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{ln: ln, target: target}
	p.wg.Go(p.serve)
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *flakyProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *flakyProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		open := p.open
		if !open {
			p.refused++
		}
		p.mu.Unlock()
		if !open {
			c.Close()
			continue
		}
		p.wg.Go(func() { p.forward(c) })
	}
}

func (p *flakyProxy) forward(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	// Each direction copies until its source ends, then half-closes its
	// destination so the peer sees the end. Errors just end the copy: the
	// proxy cutting connections is its purpose, so there is nothing to report.
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		_ = dst.(*net.TCPConn).CloseWrite()
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
}

func (p *flakyProxy) refusals() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}

// TestConnectsAfterRefusals starts a store in front of a proxy that
// refuses connections for a while, then forwards them to the real node:
// the store keeps trying and then serves.
func TestConnectsAfterRefusals(t *testing.T) {
	c := testCluster(t, "vigil_test", store.Retention{})
	proxy := newFlakyProxy(t, net.JoinHostPort(c.Hosts[0], fmt.Sprint(c.Port)))
	c.Hosts, c.Port = []string{"127.0.0.1"}, proxy.port()
	s, err := open(c, slog.New(slog.DiscardHandler), backoff{min: 100 * time.Millisecond, max: 500 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	poll(t, 15*time.Second, "fewer than 4 attempts refused", func() bool { return s.attempts.Load() >= 4 && proxy.refusals() >= 4 })
	if err := s.Ping(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Ping while refused = %v, want ErrUnavailable", err)
	}
	proxy.mu.Lock()
	proxy.open = true
	proxy.mu.Unlock()
	poll(t, 15*time.Second, "store did not connect once the node was reachable", func() bool { return s.Ping(t.Context()) == nil })
}

// TestWrongLocalDC opens a store whose local_dc names no data center of
// the cluster: it must not serve from the node's real data center, and
// its error says which data centers there are.
func TestWrongLocalDC(t *testing.T) {
	c := testCluster(t, "vigil_test", store.Retention{})
	realDC := c.LocalDC
	c.LocalDC, c.Replication = "no-such-dc", map[string]int{"no-such-dc": 1}
	s, err := open(c, slog.New(slog.DiscardHandler), backoff{min: 100 * time.Millisecond, max: time.Second})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	err = s.Ping(t.Context())
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, ErrNoLocalDC) || !strings.Contains(err.Error(), realDC) {
		t.Fatalf("Ping = %v; want ErrUnavailable wrapping ErrNoLocalDC and naming %s", err, realDC)
	}
	// Allowed, the same store serves from the other data center.
	c.AllowRemoteDC = true
	s2, err := open(c, slog.New(slog.DiscardHandler), defaultBackoff)
	if err != nil {
		t.Fatalf("Open with allow_remote_dc: %v", err)
	}
	defer s2.Close()
	if err := s2.Ping(t.Context()); err != nil {
		t.Errorf("Ping with allow_remote_dc = %v", err)
	}
}
