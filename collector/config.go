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
	// Backend is "embedded" (Pebble under data_dir; the default).
	Backend string `toml:"backend"`
	// RawRetention is how long raw points are kept (default 168h = 7 d).
	RawRetention Duration `toml:"raw_retention"`
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
	switch c.Store.Backend {
	case "":
		c.Store.Backend = "embedded"
	case "embedded":
	default:
		return fmt.Errorf("store.backend %q: want embedded", c.Store.Backend)
	}
	if c.Store.RawRetention.Duration == 0 {
		c.Store.RawRetention.Duration = 7 * 24 * time.Hour
	}
	if c.Store.RawRetention.Duration < time.Hour {
		return fmt.Errorf("store.raw_retention %v: at least 1h", c.Store.RawRetention)
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
