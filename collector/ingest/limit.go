package ingest

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vigilmon/vigil/collector/store"
)

// SeriesLimits bound the series one agent and one tenant may keep active
// on one collector (DESIGN §9), so that no agent can grow the collector's
// memory, or its tenant's query cost, without bound.
//
// A series is active from the first point of it this collector accepts
// until Active passes without another. The counts live in this
// collector's memory only: after a restart every agent starts from zero
// (and with a full allowance of new series, so its existing series fit
// again), and with several collectors each counts what it receives.
type SeriesLimits struct {
	// PerAgent is the most series one agent may have active.
	PerAgent int
	// PerTenant is the most series all the agents of a tenant may have
	// active together.
	PerTenant int
	// NewPerAgentHour is how many series one agent may start per hour;
	// the allowance refills continuously, from full.
	NewPerAgentHour int
	// Active is how long a series stays active after its last point.
	Active time.Duration
}

// Why a new series is refused.
const (
	limitOK = iota
	limitAgent
	limitTenant
	limitNew
	numLimits
)

var limitNames = [numLimits]string{"", "max_series_per_agent", "max_series_per_tenant", "max_new_series_per_agent_per_hour"}

// SeriesLimiter enforces SeriesLimits. Its memory is a map entry per
// active series (about 60 bytes) and a small record per agent, so it is
// bounded by the limits, not by history.
type SeriesLimiter struct {
	limits SeriesLimits
	log    *slog.Logger
	// logEvery is how often one agent's refusals are logged at most.
	logEvery time.Duration

	mu      sync.RWMutex
	tenants map[string]*tenantSeries
}

// NewSeriesLimiter makes a limiter; log receives its rate-limited
// refusal lines (nil: slog.Default()).
func NewSeriesLimiter(l SeriesLimits, log *slog.Logger) *SeriesLimiter {
	if log == nil {
		log = slog.Default()
	}
	return &SeriesLimiter{limits: l, log: log, logEvery: time.Minute, tenants: map[string]*tenantSeries{}}
}

// tenantSeries is one tenant's active series; mu guards all of it and
// its agents.
type tenantSeries struct {
	mu     sync.Mutex
	series map[store.SeriesID]activeSeries
	agents map[string]*agentSeries
	swept  int64 // unix ns of the last sweep of expired series
}

// activeSeries is a series' owner and when its last point came (unix ns).
type activeSeries struct {
	agent *agentSeries
	last  int64
}

type agentSeries struct {
	active   int
	tokens   float64 // new series it may start now
	refilled int64   // unix ns tokens were last brought up to date
	gone     bool    // swept away; holders of a pointer look it up again

	// Refusals since the last log line, by limit, and when that was.
	refused [numLimits]int
	logged  int64
}

// tenant returns name's state, made if new.
func (l *SeriesLimiter) tenant(name string) *tenantSeries {
	l.mu.RLock()
	t := l.tenants[name]
	l.mu.RUnlock()
	if t != nil {
		return t
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if t = l.tenants[name]; t == nil {
		t = &tenantSeries{series: map[store.SeriesID]activeSeries{}, agents: map[string]*agentSeries{}}
		l.tenants[name] = t
	}
	return t
}

// agent returns name's state, made if new with a full allowance; t.mu
// must be held.
func (l *SeriesLimiter) agent(t *tenantSeries, name string, now int64) *agentSeries {
	a := t.agents[name]
	if a == nil {
		a = &agentSeries{tokens: float64(l.limits.NewPerAgentHour), refilled: now}
		t.agents[name] = a
	}
	return a
}

// refill brings a's allowance of new series up to now.
func (l *SeriesLimiter) refill(a *agentSeries, now int64) {
	if now <= a.refilled {
		return
	}
	max := float64(l.limits.NewPerAgentHour)
	a.tokens = min(max, a.tokens+float64(now-a.refilled)*max/float64(time.Hour))
	a.refilled = now
}

// sweep forgets t's series idle for longer than Active, and agents with
// none left and a full allowance; t.mu must be held.
func (l *SeriesLimiter) sweep(t *tenantSeries, now int64) {
	t.swept = now
	cutoff := now - int64(l.limits.Active)
	for id, s := range t.series {
		if s.last < cutoff {
			s.agent.active--
			delete(t.series, id)
		}
	}
	for name, a := range t.agents {
		l.refill(a, now)
		if a.active == 0 && a.tokens >= float64(l.limits.NewPerAgentHour) && a.refused == [numLimits]int{} {
			a.gone = true
			delete(t.agents, name)
		}
	}
}

// Active reports the active series of tenant and, if agent is not empty,
// of that agent.
func (l *SeriesLimiter) Active(tenant, agent string) (tenantActive, agentActive int) {
	t := l.tenant(tenant)
	t.mu.Lock()
	defer t.mu.Unlock()
	if a := t.agents[agent]; a != nil {
		agentActive = a.active
	}
	return len(t.series), agentActive
}

// admission is one batch's admission of series for one agent.
type admission struct {
	l         *SeriesLimiter
	t         *tenantSeries
	a         *agentSeries
	tenant    string
	agentName string
	now       int64
}

// begin starts admitting a batch of agent in tenant at now, first
// forgetting expired series when a sweep is due (every Active/60).
func (l *SeriesLimiter) begin(tenant, agent string, now time.Time) admission {
	ad := admission{l: l, t: l.tenant(tenant), tenant: tenant, agentName: agent, now: now.UnixNano()}
	ad.t.mu.Lock()
	if ad.now-ad.t.swept >= int64(max(l.limits.Active/60, time.Second)) {
		l.sweep(ad.t, ad.now)
	}
	ad.a = l.agent(ad.t, agent, ad.now)
	ad.t.mu.Unlock()
	return ad
}

// admit marks id active and returns limitOK, or the limit that refuses it
// as a new series. A series already active is always admitted.
func (ad *admission) admit(id store.SeriesID) int {
	l, t := ad.l, ad.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if ad.a.gone {
		ad.a = l.agent(t, ad.agentName, ad.now)
	}
	if s, ok := t.series[id]; ok {
		if s.last < ad.now {
			s.last = ad.now
			t.series[id] = s
		}
		return limitOK
	}
	a := ad.a
	why := limitOK
	switch {
	case a.active >= l.limits.PerAgent:
		why = limitAgent
	case len(t.series) >= l.limits.PerTenant:
		why = limitTenant
	default:
		l.refill(a, ad.now)
		if a.tokens < 1 {
			why = limitNew
		}
	}
	if why != limitOK {
		a.refused[why]++
		return why
	}
	a.tokens--
	a.active++
	t.series[id] = activeSeries{agent: a, last: ad.now}
	return limitOK
}

// done logs the agent's refusals, at most once per logEvery, with the
// count of those not logged since.
func (ad *admission) done() {
	l, t := ad.l, ad.t
	t.mu.Lock()
	a := ad.a
	if a.refused == [numLimits]int{} || ad.now-a.logged < int64(l.logEvery) {
		t.mu.Unlock()
		return
	}
	refused := a.refused
	a.refused = [numLimits]int{}
	a.logged = ad.now
	agentActive, tenantActive := a.active, len(t.series)
	t.mu.Unlock()
	for why, n := range refused {
		if n > 0 {
			l.log.Warn("new series refused: limit reached (this line is logged at most once a minute per agent)",
				"tenant", ad.tenant, "agent", ad.agentName, "limit", limitNames[why], "series_refused", n,
				"agent_active", agentActive, "tenant_active", tenantActive)
		}
	}
}

// explain says why a series was refused, for the Ack.
func (l *SeriesLimiter) explain(why int) string {
	switch why {
	case limitAgent:
		return fmt.Sprintf("the agent has %d active series, the limit (limits.max_series_per_agent); series idle for %v stop counting",
			l.limits.PerAgent, l.limits.Active)
	case limitTenant:
		return fmt.Sprintf("the tenant has %d active series, the limit (limits.max_series_per_tenant); series idle for %v stop counting",
			l.limits.PerTenant, l.limits.Active)
	default:
		return fmt.Sprintf("the agent started %d new series within the last hour, the limit (limits.max_new_series_per_agent_per_hour)",
			l.limits.NewPerAgentHour)
	}
}
