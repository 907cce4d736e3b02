package collector

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/vigilmon/vigil/collector/auth"
	"github.com/vigilmon/vigil/collector/ingest"
	"github.com/vigilmon/vigil/collector/querylimit"
	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/cassandra"
	"github.com/vigilmon/vigil/internal/tomlconf"
)

// Duration is a time.Duration written in TOML as a string such as "168h";
// one type for every duration of the agent's and the collector's configs.
type Duration = tomlconf.Duration

// Config is the collector's configuration file.
type Config struct {
	// Name identifies this collector in agents' records; default: hostname.
	Name string `toml:"name"`
	// DataDir holds the embedded store; default /var/lib/vigil/collector.
	DataDir string `toml:"data_dir"`
	QUIC    QUIC   `toml:"quic"`
	HTTP    HTTP   `toml:"http"`
	Store   Store  `toml:"store"`
	Log     Log    `toml:"log"`
	// Query bounds what one query may cost (DESIGN §9).
	Query  Query  `toml:"query"`
	Limits Limits `toml:"limits"`
	Ingest Ingest `toml:"ingest"`
	// TokenCache is [token_cache]: how token checks ride out a slow store.
	TokenCache TokenCache `toml:"token_cache"`
	// Alarms is [alarms]: evaluation at ingest and notification delivery.
	Alarms Alarms `toml:"alarms"`
	// Rules is [rules]: Prometheus alerting rule files per tenant.
	Rules Rules `toml:"rules"`
}

// Limits bounds what agents may make the collector keep (DESIGN §9). A
// series is active from its first accepted point until series_active_for
// passes without one; counts are per collector, in memory, and start at
// zero when it starts. A new series past a limit is refused per point
// with reason series_limit in the Ack; series already active always pass.
type Limits struct {
	// MaxSeriesPerAgent is the most series one agent may have active
	// (default 5000).
	MaxSeriesPerAgent int `toml:"max_series_per_agent"`
	// MaxSeriesPerTenant is the most series a tenant's agents may have
	// active together (default 100000).
	MaxSeriesPerTenant int `toml:"max_series_per_tenant"`
	// MaxNewSeriesPerAgentPerHour is how many new series one agent may
	// start per hour (default 10000, at least max_series_per_agent so an
	// agent's series fit again after a restart).
	MaxNewSeriesPerAgentPerHour int `toml:"max_new_series_per_agent_per_hour"`
	// SeriesActiveFor is how long a series counts after its last point
	// (default 1h).
	SeriesActiveFor Duration `toml:"series_active_for"`
}

// SeriesLimits is [limits] for ingest.
func (c *Config) SeriesLimits() ingest.SeriesLimits {
	return ingest.SeriesLimits{PerAgent: c.Limits.MaxSeriesPerAgent, PerTenant: c.Limits.MaxSeriesPerTenant,
		NewPerAgentHour: c.Limits.MaxNewSeriesPerAgentPerHour, Active: c.Limits.SeriesActiveFor.Duration}
}

func (l *Limits) defaults() error {
	for _, k := range []struct {
		name     string
		v        *int
		def, max int
	}{
		{"max_series_per_agent", &l.MaxSeriesPerAgent, 5000, 1 << 24},
		{"max_series_per_tenant", &l.MaxSeriesPerTenant, 100000, 1 << 26},
		{"max_new_series_per_agent_per_hour", &l.MaxNewSeriesPerAgentPerHour, 10000, 1 << 24},
	} {
		if *k.v == 0 {
			*k.v = k.def
		}
		if *k.v < 1 || *k.v > k.max {
			return fmt.Errorf("limits.%s %d: want 1 to %d", k.name, *k.v, k.max)
		}
	}
	if l.MaxNewSeriesPerAgentPerHour < l.MaxSeriesPerAgent {
		return fmt.Errorf("limits.max_new_series_per_agent_per_hour %d: want at least limits.max_series_per_agent (%d), or agents cannot start their series again after a restart",
			l.MaxNewSeriesPerAgentPerHour, l.MaxSeriesPerAgent)
	}
	if l.SeriesActiveFor.Duration == 0 {
		l.SeriesActiveFor.Duration = time.Hour
	}
	if l.SeriesActiveFor.Duration < time.Minute || l.SeriesActiveFor.Duration > 7*24*time.Hour {
		return fmt.Errorf("limits.series_active_for %v: want 1m to 168h", l.SeriesActiveFor.Duration)
	}
	return nil
}

// QUIC is the agent ingest listener.
type QUIC struct {
	// Listen is host:port for QUIC (UDP); default 0.0.0.0:4433.
	Listen string `toml:"listen"`
	// CertFile and KeyFile are the collector's TLS certificate (required).
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// MaxInflight is how many batches one agent may have in flight (default 8).
	MaxInflight int `toml:"max_inflight"`
	// Hello is [quic.hello]: admission of agents' handshakes.
	Hello QUICHello `toml:"hello"`
}

// QUICHello is [quic.hello]. After a collector restart or an outage the
// whole fleet says Hello at once; past max_pending handshakes in progress
// the collector answers Reject UNAVAILABLE with a retry_after drawn from
// 1 s to retry_after_max, which the agents honour, so the herd is spread
// over that time instead of piling up on the store.
type QUICHello struct {
	// MaxPending is how many agent handshakes (connection accepted to
	// agent recorded) may be in progress at once (default 256).
	MaxPending int `toml:"max_pending"`
	// RetryAfterMax bounds the retry_after told to agents refused as busy
	// (default 5s; whole seconds, 1s to 10m).
	RetryAfterMax Duration `toml:"retry_after_max"`
}

func (h *QUICHello) defaults() error {
	if h.MaxPending == 0 {
		h.MaxPending = 256
	}
	if h.MaxPending < 1 || h.MaxPending > 100_000 {
		return fmt.Errorf("quic.hello.max_pending %d: want 1 to 100000", h.MaxPending)
	}
	if h.RetryAfterMax.Duration == 0 {
		h.RetryAfterMax.Duration = 5 * time.Second
	}
	if d := h.RetryAfterMax.Duration; d < time.Second || d > 10*time.Minute || d%time.Second != 0 {
		return fmt.Errorf("quic.hello.retry_after_max %v: want whole seconds from 1s to 10m (agents are told a number of seconds)", d)
	}
	return nil
}

// HTTP is the API listener.
type HTTP struct {
	// Listen is host:port for the API; default 127.0.0.1:8080.
	Listen string `toml:"listen"`
	// CertFile and KeyFile enable HTTPS. Without them the API is plain
	// HTTP, which is allowed only on a loopback address.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
}

// Store selects and tunes the storage backend.
type Store struct {
	// Backend is "embedded" (Pebble under data_dir; the default) or
	// "cassandra" (the [store.cassandra] cluster).
	Backend string `toml:"backend"`
	// RawRetention is how long raw points are kept (default 168h = 7 d);
	// Retention5m and Retention1h keep the rollups (default 840h = 35 d
	// and 9600h = 400 d). Cassandra expires by TTL: run migrate after
	// changing them.
	RawRetention Duration `toml:"raw_retention"`
	Retention5m  Duration `toml:"retention_5m"`
	Retention1h  Duration `toml:"retention_1h"`
	// HeadPoints is, for the embedded store, how many numeric points it
	// keeps in memory (16 bytes each) before writing them to disk as
	// compressed chunks; they are durable before that in its write-ahead
	// records, which a restart replays. Default 4194304 (64 MiB).
	HeadPoints int `toml:"head_points"`
	// HeadSeries bounds the series the embedded store keeps in memory
	// (about 150 bytes each): each flush forgets those not written since
	// the flush before, and all of them past this. Default 1048576.
	HeadSeries int `toml:"head_series"`
	// MinFreeBytes is, for the embedded store, the free space of data_dir's
	// file system under which writes are refused (no acks, /readyz 503)
	// while reads go on; writes resume when space is freed. Default
	// 268435456 (256 MiB: room for Pebble's flushes and compactions).
	MinFreeBytes int64 `toml:"min_free_bytes"`
	// Cassandra is the cluster of backend "cassandra".
	Cassandra StoreCassandra `toml:"cassandra"`
}

// StoreCassandra is [store.cassandra]: see cassandra.Config.
type StoreCassandra struct {
	// Hosts are contact points; Port is their CQL port (default 9042).
	Hosts []string `toml:"hosts"`
	Port  int      `toml:"port"`
	// Keyspace (default "vigil").
	Keyspace string `toml:"keyspace"`
	// LocalDC is the data center of this collector's region (required).
	LocalDC string `toml:"local_dc"`
	// Replication is the replication factor per data center, for migrate
	// (default: 3 in local_dc).
	Replication map[string]int `toml:"replication"`
	// Consistency of reads and writes (default LOCAL_QUORUM).
	Consistency string `toml:"consistency"`
	// Username and Password, when the cluster requires them.
	Username string `toml:"username"`
	Password string `toml:"password"`
	TLS      struct {
		Enabled    bool   `toml:"enabled"`
		CAFile     string `toml:"ca_file"`
		CertFile   string `toml:"cert_file"`
		KeyFile    string `toml:"key_file"`
		ServerName string `toml:"server_name"`
	} `toml:"tls"`
	// ConnectTimeout (default 5s) and Timeout of one request (default 10s).
	ConnectTimeout Duration `toml:"connect_timeout"`
	Timeout        Duration `toml:"timeout"`
	// WriteConcurrency bounds the write requests in flight (default 64).
	WriteConcurrency int `toml:"write_concurrency"`
	// AllowRemoteDC lets requests go to other data centers when no node
	// of local_dc is up (default false: the store is unavailable instead).
	AllowRemoteDC bool `toml:"allow_remote_dc"`
}

// TokenCache is [token_cache]: see auth.CacheConfig. Revocation on this
// collector is immediate; made elsewhere, it takes effect within ttl (or
// max_stale while this collector cannot read the store).
type TokenCache struct {
	// TTL: a valid token is accepted without asking the store (default 30s).
	TTL Duration `toml:"ttl"`
	// MaxStale: while the store fails or is slow, a token it confirmed
	// this recently is still accepted (default 5m).
	MaxStale Duration `toml:"max_stale"`
	// LookupTimeout bounds one token lookup in the store (default 2s).
	LookupTimeout Duration `toml:"lookup_timeout"`
	// Size is the most tokens cached (default 100000).
	Size int `toml:"size"`
}

// TokenCacheConfig is [token_cache] as auth.CacheConfig.
func (c *Config) TokenCacheConfig() auth.CacheConfig {
	tc := &c.TokenCache
	return auth.CacheConfig{TTL: tc.TTL.Duration, MaxStale: tc.MaxStale.Duration, LookupTimeout: tc.LookupTimeout.Duration, Size: tc.Size}
}

// Retention is the retention of each resolution.
func (c *Config) Retention() store.Retention {
	return store.Retention{c.Store.RawRetention.Duration, c.Store.Retention5m.Duration, c.Store.Retention1h.Duration}
}

// CassandraConfig is [store.cassandra] with the retention, before
// cassandra.Config.Defaults.
func (c *Config) CassandraConfig() cassandra.Config {
	sc := &c.Store.Cassandra
	return cassandra.Config{
		Hosts: sc.Hosts, Port: sc.Port, Keyspace: sc.Keyspace, LocalDC: sc.LocalDC, Replication: sc.Replication,
		Consistency: sc.Consistency, Username: sc.Username, Password: sc.Password,
		TLS: cassandra.TLS{Enabled: sc.TLS.Enabled, CAFile: sc.TLS.CAFile, CertFile: sc.TLS.CertFile,
			KeyFile: sc.TLS.KeyFile, ServerName: sc.TLS.ServerName},
		ConnectTimeout: sc.ConnectTimeout.Duration, Timeout: sc.Timeout.Duration,
		WriteConcurrency: sc.WriteConcurrency, Retention: c.Retention(), AllowRemoteDC: sc.AllowRemoteDC,
	}
}

// Ingest bounds what one agent's connection or batch may cost the collector.
type Ingest struct {
	// StoreDeadline is how long a batch (QUIC or HTTPS) waits for the
	// store before the agent is told to retry later (default 2s, 100ms to
	// 1m). Keep it below the agents' transport.ack_timeout (3s by default):
	// an agent that hears nothing in time takes the collector for dead and
	// reconnects. The write itself runs on and may still succeed.
	StoreDeadline Duration `toml:"store_deadline"`
	// HelloTimeout is how long a new QUIC connection may take to send its
	// Hello before it is closed (default 10s, 1s to 5m).
	HelloTimeout Duration `toml:"hello_timeout"`
}

// defaults fills in and checks [ingest].
func (in *Ingest) defaults() error {
	if in.StoreDeadline.Duration == 0 {
		in.StoreDeadline.Duration = 2 * time.Second
	}
	if d := in.StoreDeadline.Duration; d < 100*time.Millisecond || d > time.Minute {
		return fmt.Errorf("ingest.store_deadline %v: want 100ms to 1m, below the agents' ack_timeout", d)
	}
	if in.HelloTimeout.Duration == 0 {
		in.HelloTimeout.Duration = 10 * time.Second
	}
	if d := in.HelloTimeout.Duration; d < time.Second || d > 5*time.Minute {
		return fmt.Errorf("ingest.hello_timeout %v: want 1s to 5m", d)
	}
	return nil
}

// Log sets the log level (debug, info, warn, error) and format (text, json).
type Log struct {
	Level  tomlconf.LogLevel `toml:"level"`
	Format string            `toml:"format"`
}

// LoadConfig reads and validates a collector config file.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 1<<20+1))
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	if len(b) > 1<<20 {
		return nil, fmt.Errorf("config %s: larger than 1 MiB", path)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes strictly (unknown keys are errors with their line)
// and fills in defaults.
func ParseConfig(doc []byte) (*Config, error) {
	var c Config
	if err := tomlconf.Decode(doc, &c); err != nil {
		return nil, err
	}
	if err := c.defaults(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) defaults() error {
	if c.Name == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("name is not set and the hostname cannot be read: %w", err)
		}
		c.Name = h
	}
	if c.DataDir == "" {
		c.DataDir = "/var/lib/vigil/collector"
	}
	if c.QUIC.Listen == "" {
		c.QUIC.Listen = "0.0.0.0:4433"
	}
	if c.QUIC.MaxInflight == 0 {
		c.QUIC.MaxInflight = 8
	}
	if c.QUIC.MaxInflight < 1 || c.QUIC.MaxInflight > 1000 {
		return fmt.Errorf("quic.max_inflight %d: want 1 to 1000", c.QUIC.MaxInflight)
	}
	if err := c.QUIC.Hello.defaults(); err != nil {
		return err
	}
	if c.HTTP.Listen == "" {
		c.HTTP.Listen = "127.0.0.1:8080"
	}
	for name, addr := range map[string]string{"quic.listen": c.QUIC.Listen, "http.listen": c.HTTP.Listen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%s %q: want host:port: %w", name, addr, err)
		}
	}
	if (c.HTTP.CertFile == "") != (c.HTTP.KeyFile == "") {
		return errors.New("http: cert_file and key_file must be set together")
	}
	if c.HTTP.CertFile == "" && !loopback(c.HTTP.Listen) {
		return fmt.Errorf("http.listen %q: plain HTTP is only allowed on a loopback address; set http.cert_file and http.key_file for HTTPS", c.HTTP.Listen)
	}
	for _, r := range []struct {
		name string
		d    *Duration
		def  time.Duration
	}{
		{"raw_retention", &c.Store.RawRetention, store.DefaultRetention[store.Raw]},
		{"retention_5m", &c.Store.Retention5m, store.DefaultRetention[store.Res5m]},
		{"retention_1h", &c.Store.Retention1h, store.DefaultRetention[store.Res1h]},
	} {
		if r.d.Duration == 0 {
			r.d.Duration = r.def
		}
		if r.d.Duration < time.Hour {
			return fmt.Errorf("store.%s %v: at least 1h", r.name, r.d.Duration)
		}
	}
	if c.Store.HeadPoints == 0 {
		c.Store.HeadPoints = 4 << 20
	}
	if c.Store.HeadPoints < 10_000 || c.Store.HeadPoints > 1<<28 {
		return fmt.Errorf("store.head_points %d: want 10000 to 268435456", c.Store.HeadPoints)
	}
	if c.Store.HeadSeries == 0 {
		c.Store.HeadSeries = 1 << 20
	}
	if c.Store.HeadSeries < 1000 || c.Store.HeadSeries > 1<<26 {
		return fmt.Errorf("store.head_series %d: want 1000 to 67108864", c.Store.HeadSeries)
	}
	if c.Store.MinFreeBytes == 0 {
		c.Store.MinFreeBytes = 256 << 20
	}
	if c.Store.MinFreeBytes < 16<<20 {
		return fmt.Errorf("store.min_free_bytes %d: want at least 16777216 (16 MiB), room for Pebble to flush and compact", c.Store.MinFreeBytes)
	}
	switch c.Store.Backend {
	case "":
		c.Store.Backend = "embedded"
	case "embedded":
	case "cassandra":
		cc := c.CassandraConfig()
		if err := cc.Defaults(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("store.backend %q: want embedded or cassandra", c.Store.Backend)
	}
	if err := c.Query.defaults(); err != nil {
		return err
	}
	if err := c.Limits.defaults(); err != nil {
		return err
	}
	if err := c.Ingest.defaults(); err != nil {
		return err
	}
	tc := c.TokenCacheConfig()
	if err := tc.Defaults(); err != nil {
		return err
	}
	c.TokenCache = TokenCache{TTL: Duration{Duration: tc.TTL}, MaxStale: Duration{Duration: tc.MaxStale}, LookupTimeout: Duration{Duration: tc.LookupTimeout}, Size: tc.Size}
	if err := c.Alarms.defaults(); err != nil {
		return err
	}
	if err := c.Rules.defaults(); err != nil {
		return err
	}
	switch c.Log.Format {
	case "":
		c.Log.Format = "text"
	case "text", "json":
	default:
		return fmt.Errorf("log.format %q: want text or json", c.Log.Format)
	}
	return nil
}

func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// httpWriteTimeout bounds writing an API answer (http.Server.WriteTimeout):
// past it the client gets an empty reply, so a query's timeout stays
// below it by maxQueryTimeoutMargin, the time to write its error.
const (
	httpWriteTimeout      = 60 * time.Second
	maxQueryTimeoutMargin = 10 * time.Second
)

// Query is [query]: the limits of /v1/query and the Prometheus API's query
// and query_range (see querylimit.Limits).
type Query struct {
	// MaxLength bounds a PromQL expression's bytes (default 65536).
	MaxLength int `toml:"max_length"`
	// MaxDepth bounds its nesting, of brackets before it is parsed and of
	// its expression tree after (default 100).
	MaxDepth int `toml:"max_depth"`
	// MaxSubquerySteps bounds a subquery's range (plus a range query's
	// span) over its step, nested subqueries multiplied (default 11000).
	MaxSubquerySteps int `toml:"max_subquery_steps"`
	// MaxSamples bounds the samples one query loads, Prometheus'
	// query.max-samples (default 50000000); for /v1/query, the points.
	MaxSamples int `toml:"max_samples"`
	// MaxConcurrent queries run at once (default 20); others wait up to
	// QueueWait (default 10s), then get 503.
	MaxConcurrent int      `toml:"max_concurrent"`
	QueueWait     Duration `toml:"queue_wait"`
	// Timeout bounds a query from its arrival, queue included (default
	// 30s, at most 50s: the HTTP write timeout of 60s less time to write
	// the error).
	Timeout Duration `toml:"timeout"`
}

// Limits is the [query] table as querylimit.Limits.
func (q *Query) Limits() querylimit.Limits {
	return querylimit.Limits{MaxLength: q.MaxLength, MaxDepth: q.MaxDepth, MaxSubquerySteps: q.MaxSubquerySteps,
		MaxSamples: q.MaxSamples, MaxConcurrent: q.MaxConcurrent, QueueWait: q.QueueWait.Duration, Timeout: q.Timeout.Duration}
}

func (q *Query) defaults() error {
	d := querylimit.Defaults
	for _, v := range []struct {
		key      string
		p        *int
		def      int
		min, max int
	}{
		// The request body is at most 1 MiB.
		{"max_length", &q.MaxLength, d.MaxLength, 16, 1 << 20},
		{"max_depth", &q.MaxDepth, d.MaxDepth, 2, 1000},
		{"max_subquery_steps", &q.MaxSubquerySteps, d.MaxSubquerySteps, 1, 10_000_000},
		{"max_samples", &q.MaxSamples, d.MaxSamples, 1000, 1_000_000_000},
		{"max_concurrent", &q.MaxConcurrent, d.MaxConcurrent, 1, 1000},
	} {
		if *v.p == 0 {
			*v.p = v.def
		}
		if *v.p < v.min || *v.p > v.max {
			return fmt.Errorf("query.%s %d: want %d to %d", v.key, *v.p, v.min, v.max)
		}
	}
	if q.Timeout.Duration == 0 {
		q.Timeout.Duration = d.Timeout
	}
	if maxT := httpWriteTimeout - maxQueryTimeoutMargin; q.Timeout.Duration < time.Second || q.Timeout.Duration > maxT {
		return fmt.Errorf("query.timeout %v: want 1s to %v (the HTTP write timeout, %v, less %v to write the answer)",
			q.Timeout.Duration, maxT, httpWriteTimeout, maxQueryTimeoutMargin)
	}
	if q.QueueWait.Duration == 0 {
		q.QueueWait.Duration = d.QueueWait
	}
	if q.QueueWait.Duration < time.Millisecond || q.QueueWait.Duration > q.Timeout.Duration {
		return fmt.Errorf("query.queue_wait %v: want 1ms to query.timeout (%v)", q.QueueWait.Duration, q.Timeout.Duration)
	}
	return nil
}

// Alarms is [alarms]: evaluating alarms on the check results this
// collector stores, and delivering their notifications (issue 16).
type Alarms struct {
	// Enabled evaluates alarms and delivers notifications (default true).
	Enabled *bool `toml:"enabled"`
	// LeaseTTL is how long a tenant's evaluation lease lasts unrenewed
	// (default 30s, 1s to 10m): how long alarms of a tenant go
	// unevaluated after its evaluating collector dies.
	LeaseTTL Duration `toml:"lease_ttl"`
	// QueueSize bounds the stored batches waiting for evaluation (default
	// 4096, 1 to 1000000); past it batches are not evaluated (counted in
	// vigil_alarm_eval_dropped_batches_total).
	QueueSize int `toml:"queue_size"`
	// Refresh is how often alarm definitions are read again (default 30s).
	Refresh Duration `toml:"refresh"`
	// DeliveryConcurrency is how many tenants' notifications are sent at
	// once (default 4, 1 to 256).
	DeliveryConcurrency int `toml:"delivery_concurrency"`
}

// On reports whether alarms are evaluated.
func (a *Alarms) On() bool { return a.Enabled == nil || *a.Enabled }

func (a *Alarms) defaults() error {
	if a.Enabled == nil {
		on := true
		a.Enabled = &on
	}
	if a.LeaseTTL.Duration == 0 {
		a.LeaseTTL.Duration = 30 * time.Second
	}
	if a.LeaseTTL.Duration < time.Second || a.LeaseTTL.Duration > 10*time.Minute {
		return fmt.Errorf("alarms.lease_ttl %v: want 1s to 10m", a.LeaseTTL.Duration)
	}
	if a.QueueSize == 0 {
		a.QueueSize = 4096
	}
	if a.QueueSize < 1 || a.QueueSize > 1_000_000 {
		return fmt.Errorf("alarms.queue_size %d: want 1 to 1000000", a.QueueSize)
	}
	if a.Refresh.Duration == 0 {
		a.Refresh.Duration = 30 * time.Second
	}
	if a.Refresh.Duration < time.Second {
		return fmt.Errorf("alarms.refresh %v: want at least 1s", a.Refresh.Duration)
	}
	if a.DeliveryConcurrency == 0 {
		a.DeliveryConcurrency = 4
	}
	if a.DeliveryConcurrency < 1 || a.DeliveryConcurrency > 256 {
		return fmt.Errorf("alarms.delivery_concurrency %d: want 1 to 256", a.DeliveryConcurrency)
	}
	return nil
}
