package collector

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/vigilmon/vigil/collector/store"
	"github.com/vigilmon/vigil/collector/store/cassandra"
)

// Duration is a time.Duration written in TOML as a string such as "168h".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (use a number and a unit, such as \"168h\")", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

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
		WriteConcurrency: sc.WriteConcurrency, Retention: c.Retention(),
	}
}

// Log sets the log level (debug, info, warn, error) and format (text, json).
type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
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
	d := toml.NewDecoder(bytes.NewReader(doc))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		var strict *toml.StrictMissingError
		if errors.As(err, &strict) && len(strict.Errors) > 0 {
			var msgs []string
			for _, e := range strict.Errors {
				row, _ := e.Position()
				msgs = append(msgs, fmt.Sprintf("line %d: unknown key %q", row, strings.Join(e.Key(), ".")))
			}
			return nil, errors.New(strings.Join(msgs, "; "))
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, fmt.Errorf("line %d column %d: %s", row, col, de.Error())
		}
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
	switch c.Log.Level {
	case "":
		c.Log.Level = "info"
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level %q: want debug, info, warn or error", c.Log.Level)
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
