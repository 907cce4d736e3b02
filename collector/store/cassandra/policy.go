package cassandra

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// hostPolicy is what one session gets: a host selection policy and a host
// filter, both new. gocql's token-aware policy panics when a second
// session inits it ("sharing token aware host selection policy between
// sessions is not supported"), so every connection attempt builds its own.
type hostPolicy struct {
	selection gocql.HostSelectionPolicy
	// filter is nil when remote data centers are allowed.
	filter *dcFilter
}

// newHostPolicy builds the policy of one session attempt: token-aware over
// DC-aware round robin. Strict (the default), a host filter keeps every
// node outside c.LocalDC out of the session, so with the local data
// center down the store is unavailable rather than silently reading and
// writing another region. With c.AllowRemoteDC, the DC-aware fallback may
// pick remote nodes, and remote logs when it does.
func newHostPolicy(c *Config, remote *remoteUse) hostPolicy {
	fallback := gocql.DCAwareRoundRobinPolicy(c.LocalDC)
	if c.AllowRemoteDC {
		fallback = &remoteWatch{HostSelectionPolicy: fallback, local: c.LocalDC, use: remote}
		return hostPolicy{selection: gocql.TokenAwareHostPolicy(fallback)}
	}
	return hostPolicy{
		selection: gocql.TokenAwareHostPolicy(fallback),
		filter:    &dcFilter{local: c.LocalDC},
	}
}

// apply sets p on cl, a copy of the store's cluster config.
func (p hostPolicy) apply(cl *gocql.ClusterConfig) {
	cl.PoolConfig.HostSelectionPolicy = p.selection
	if p.filter != nil {
		cl.HostFilter = p.filter
	}
}

// dcFilter accepts the nodes of the local data center and remembers the
// data centers of the nodes it refused, so that a wrong local_dc gives an
// error naming the data centers there are.
type dcFilter struct {
	local string

	mu       sync.Mutex
	accepted bool
	refused  []string
}

func (f *dcFilter) Accept(h *gocql.HostInfo) bool { return f.acceptDC(h.DataCenter()) }

func (f *dcFilter) acceptDC(dc string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if dc == f.local {
		f.accepted = true
		return true
	}
	if !slices.Contains(f.refused, dc) {
		f.refused = append(f.refused, dc)
	}
	return false
}

// ErrNoLocalDC is wrapped by the connection error when the nodes that
// answered are all outside local_dc (a wrong local_dc, or contact points
// of another data center while the local one is down).
var ErrNoLocalDC = errors.New("no node of local_dc answered")

// explain turns a failed connection attempt into ErrNoLocalDC when the
// only nodes reached were of other data centers.
func (f *dcFilter) explain(err error) error {
	if f == nil || err == nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.accepted || len(f.refused) == 0 {
		return err
	}
	dcs := slices.Clone(f.refused)
	slices.Sort(dcs)
	return fmt.Errorf("store.cassandra.local_dc %q: %w: the nodes reached are in data center %s: "+
		"set local_dc to this collector's data center (see `nodetool status`), or set allow_remote_dc = true "+
		"to let this collector use other data centers: %w",
		f.local, ErrNoLocalDC, strings.Join(dcs, ", "), err)
}

// remoteWatch is the DC-aware fallback of a store with AllowRemoteDC:
// the token-aware policy only leaves the local data center through its
// fallback, so watching the fallback's picks sees every remote request.
type remoteWatch struct {
	gocql.HostSelectionPolicy
	local string
	use   *remoteUse
}

func (w *remoteWatch) Pick(q gocql.ExecutableStatement) gocql.NextHost {
	next := w.HostSelectionPolicy.Pick(q)
	return func() gocql.SelectedHost {
		h := next()
		if h != nil {
			if dc := h.Info().DataCenter(); dc != w.local {
				w.use.saw(dc)
			}
		}
		return h
	}
}

// remoteUseLogEvery bounds how often the use of remote data centers is
// logged while it lasts.
const remoteUseLogEvery = time.Minute

// remoteUse logs requests sent outside local_dc (allow_remote_dc = true):
// the first at once, then at most one line a minute with the count since
// the last line. It outlives sessions, so reconnecting does not reset it.
type remoteUse struct {
	log   *slog.Logger
	local string

	mu     sync.Mutex
	last   time.Time
	count  int
	remote []string
}

func (r *remoteUse) saw(dc string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.count++
	if !slices.Contains(r.remote, dc) {
		r.remote = append(r.remote, dc)
	}
	now := time.Now()
	if !r.last.IsZero() && now.Sub(r.last) < remoteUseLogEvery {
		return
	}
	r.log.Warn("requests go to another data center: no node of local_dc is up (allow_remote_dc = true)",
		"local_dc", r.local, "remote_dc", strings.Join(r.remote, ","), "requests", r.count)
	r.last, r.count, r.remote = now, 0, r.remote[:0]
}
