// Package config reads the agent's TOML configuration. Decoding is strict:
// a key the agent does not know is an error naming the key and its line,
// so a typo never silently falls back to a default.
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/vigilmon/vigil/agent/check"
	"github.com/vigilmon/vigil/agent/plugin"
	"github.com/vigilmon/vigil/agent/spool"
	"github.com/vigilmon/vigil/internal/tomlconf"
)

// Duration is a time.Duration written in TOML as a string such as "10s";
// one type for every duration of the agent's and the collector's configs.
type Duration = tomlconf.Duration

// Config is the whole agent configuration.
type Config struct {
	Agent     Agent
	Transport Transport
	Spool     Spool
	Log       Log
	// Checks holds every enabled built-in check, by name.
	Checks map[string]CheckConfig
	// Plugins holds every enabled plugin check, by check id (plugin.NAME).
	Plugins map[string]PluginConfig
}

// Agent is the [agent] table.
type Agent struct {
	// ID names this server to the collector; default: the hostname.
	ID string `toml:"id"`
	// Token is the agent token; TokenFile, if set, is read instead.
	Token     string `toml:"token"`
	TokenFile string `toml:"token_file"`
	// Labels are attached to the agent (not to each metric).
	Labels map[string]string `toml:"labels"`
	// Interval is the default interval of every check (default 30s).
	Interval Duration `toml:"interval"`
	// Timeout is the default timeout of every check (default: the interval, at most 30s).
	Timeout Duration `toml:"timeout"`
	// StateDir holds the agent's state (spool); default /var/lib/vigil/agent.
	StateDir string `toml:"state_dir"`
	// PluginDir is where relative plugin paths are found (default /usr/lib/vigil/plugins).
	PluginDir string `toml:"plugin_dir"`
	// PluginConcurrency is how many plugins may run at once (default 4).
	PluginConcurrency int `toml:"plugin_concurrency"`
}

// Transport is the [transport] table.
type Transport struct {
	// Collectors lists collector QUIC addresses (host:port), preferred first.
	Collectors []string `toml:"collectors"`
	// CAFile verifies the collector's certificate; empty means system roots.
	CAFile string `toml:"ca_file"`
	// ServerName overrides the name checked in the collector's certificate.
	ServerName string `toml:"server_name"`
	// CertFile and KeyFile are an optional client certificate.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// HTTPS is the collector's API URL (https://HOST:PORT; http:// only on a
	// loopback host) for the fallback POST /v1/ingest where QUIC cannot get
	// through; empty means no fallback.
	HTTPS string `toml:"https"`
	// AckTimeout is how long a batch may wait for its Ack before the
	// collector is taken as failed and the next one is tried (default 3s).
	AckTimeout Duration `toml:"ack_timeout"`
	// ProbeInterval is the longest gap between checks, while on a
	// collector other than the first, whether a preferred one is back
	// (default 30s): the first comes about reconnect_min after the
	// failover, then the gap doubles up to this.
	ProbeInterval Duration `toml:"probe_interval"`
	// ReconnectMin and ReconnectMax bound the exponential backoff, with
	// full jitter, between rounds of failed connection attempts
	// (defaults 1s and 15s). A lost session is retried within
	// reconnect_min; a collector's "busy, retry after N s" overrides the
	// backoff for one round.
	ReconnectMin Duration `toml:"reconnect_min"`
	ReconnectMax Duration `toml:"reconnect_max"`
	// ClockOffsetWarn: when this host's clock is off the collector's by
	// more than this at a connect, the agent logs a warning (default 30s).
	// The offset is reported as agent.clock_offset_seconds either way.
	ClockOffsetWarn Duration `toml:"clock_offset_warn"`
}

// Spool is the [spool] table: the on-disk queue that holds every batch
// until a collector acks it, under agent.state_dir/spool.
type Spool struct {
	// MaxBytes bounds the spool (default 268435456 = 256 MiB); when full,
	// the oldest batches are dropped and counted.
	MaxBytes int64 `toml:"max_bytes"`
	// Sync is the fsync policy: "interval" (default: group commit every
	// sync_interval), "always" (every batch), or "never" (the OS decides).
	Sync spool.SyncPolicy `toml:"sync"`
	// SyncInterval is the group commit period (default 1s): a crash of the
	// machine loses at most this much of the not yet delivered results.
	SyncInterval Duration `toml:"sync_interval"`
}

// Log is the [log] table.
type Log struct {
	// Level is debug, info, warn or error (default info).
	Level tomlconf.LogLevel `toml:"level"`
	// Format is text or json (default text).
	Format string `toml:"format"`
}

// Schedule holds the settings every check has, whatever its kind.
type Schedule struct {
	// Enabled turns a check off with false; a check is on by default when
	// it is one of the default checks or has a table in the config.
	Enabled *bool `toml:"enabled"`
	// Interval between runs (default: agent.interval; minimum 1s).
	Interval Duration `toml:"interval"`
	// Timeout of one run (default: agent.timeout, at most the interval).
	Timeout Duration `toml:"timeout"`
}

// pluginTable is one [plugins.NAME] table: the plugin's own options
// (path, args, env, timeout, format, max_output_bytes) plus its schedule.
type pluginTable struct {
	// Enabled = false keeps the plugin configured but not run.
	Enabled *bool `toml:"enabled"`
	// Interval between runs (default: agent.interval; minimum 1s).
	Interval Duration `toml:"interval"`
	plugin.Config
}

// PluginConfig is one plugin check's resolved configuration.
type PluginConfig struct {
	ID       string // plugin.NAME
	Interval time.Duration
	Plugin   plugin.Config
}

// CheckConfig is one built-in check's resolved configuration.
type CheckConfig struct {
	Name     string
	Interval time.Duration
	Timeout  time.Duration
	// Options is the pointer the check's Factory.Options returned, decoded.
	Options any
}

const (
	// DefaultReconnectMax is the backoff ceiling: at 15 s with full jitter
	// an agent is back on average 7.5 s after a long outage ends (at 60 s
	// it was 30 s) while a fleet of 10,000 still spreads its attempts to
	// under 1,000 a second, which the collector's hello admission limit
	// absorbs.
	DefaultReconnectMax = 15 * time.Second
	// DefaultClockOffsetWarn is one default check interval: past it a
	// host's points land in another interval than its neighbours' of the
	// same moment. An NTP-synced host is within milliseconds, and the
	// measurement's own error is at most half a round trip.
	DefaultClockOffsetWarn = 30 * time.Second
	DefaultInterval        = 30 * time.Second
	MinInterval            = time.Second
	maxFileBytes           = 1 << 20
)

var (
	agentIDRe    = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)
	pluginNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	labelKeyRe   = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,63}$`)
)

// Load reads and validates the config file at path.
func Load(path string) (*Config, error) {
	b, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	if err := checkConfigFile(f, path); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	if len(b) > maxFileBytes {
		return nil, fmt.Errorf("config %s: larger than %d bytes", path, maxFileBytes)
	}
	return b, nil
}

// Default returns the configuration used when there is no config file:
// every default check with default options.
func Default() (*Config, error) { return Parse(nil) }

// Parse decodes and validates a config document.
func Parse(doc []byte) (*Config, error) {
	factories := check.All()
	docType, sections := documentType(factories)
	v := reflect.New(docType)
	// Defaults go in before decoding so that keys absent from the file keep them.
	checksV := v.Elem().FieldByName("Checks")
	for i, f := range factories {
		sec := reflect.New(sections[i])
		sec.Elem().Field(1).Set(reflect.ValueOf(f.Options()).Elem())
		checksV.Field(i).Set(sec)
	}
	if err := tomlconf.Decode(doc, v.Interface()); err != nil {
		return nil, err
	}
	present, err := checkTables(doc)
	if err != nil {
		return nil, err
	}

	c := &Config{
		Agent:     v.Elem().FieldByName("Agent").Interface().(Agent),
		Transport: v.Elem().FieldByName("Transport").Interface().(Transport),
		Spool:     v.Elem().FieldByName("Spool").Interface().(Spool),
		Log:       v.Elem().FieldByName("Log").Interface().(Log),
		Checks:    map[string]CheckConfig{},
		Plugins:   map[string]PluginConfig{},
	}
	if err := c.defaults(); err != nil {
		return nil, err
	}
	for i, f := range factories {
		sec := checksV.Field(i).Elem()
		sched := sec.Field(0).Interface().(Schedule)
		on := f.Default || present[f.Name]
		if sched.Enabled != nil {
			on = *sched.Enabled
		}
		if !on {
			continue
		}
		cc := CheckConfig{Name: f.Name, Interval: sched.Interval.Duration, Timeout: sched.Timeout.Duration}
		if cc.Interval == 0 {
			cc.Interval = c.Agent.Interval.Duration
		}
		if cc.Interval < MinInterval {
			return nil, fmt.Errorf("checks.%s.interval: %v is below the minimum of %v", f.Name, cc.Interval, MinInterval)
		}
		switch {
		case cc.Timeout > cc.Interval:
			return nil, fmt.Errorf("checks.%s.timeout: %v is longer than the interval %v; runs would overlap", f.Name, cc.Timeout, cc.Interval)
		case cc.Timeout < 0:
			return nil, fmt.Errorf("checks.%s.timeout: must not be negative", f.Name)
		case cc.Timeout == 0 && c.Agent.Timeout.Duration > 0:
			cc.Timeout = min(cc.Interval, c.Agent.Timeout.Duration)
		case cc.Timeout == 0:
			cc.Timeout = min(cc.Interval, 30*time.Second)
		}
		opts := reflect.New(sections[i].Field(1).Type)
		opts.Elem().Set(sec.Field(1))
		cc.Options = opts.Interface()
		if _, err := f.New(cc.Options); err != nil {
			return nil, fmt.Errorf("checks.%s: %w", f.Name, err)
		}
		c.Checks[f.Name] = cc
	}
	tables := v.Elem().FieldByName("Plugins").Interface().(map[string]pluginTable)
	for name, t := range tables {
		pc, err := c.plugin(name, t)
		if err != nil {
			return nil, err
		}
		if t.Enabled == nil || *t.Enabled {
			c.Plugins[pc.ID] = pc
		}
	}
	return c, nil
}

func (c *Config) plugin(name string, t pluginTable) (PluginConfig, error) {
	if !pluginNameRe.MatchString(name) {
		return PluginConfig{}, fmt.Errorf("plugins.%s: name must be 1-64 characters of A-Z a-z 0-9 _ -", name)
	}
	pc := PluginConfig{ID: "plugin." + name, Interval: t.Interval.Duration, Plugin: t.Config}
	if pc.Interval == 0 {
		pc.Interval = c.Agent.Interval.Duration
	}
	if pc.Interval < MinInterval {
		return pc, fmt.Errorf("plugins.%s.interval: %v is below the minimum of %v", name, pc.Interval, MinInterval)
	}
	if pc.Plugin.Timeout.Duration == 0 {
		pc.Plugin.Timeout.Duration = min(pc.Interval, c.Agent.Timeout.Duration)
		if pc.Plugin.Timeout.Duration == 0 {
			pc.Plugin.Timeout.Duration = min(pc.Interval, plugin.DefaultTimeout)
		}
	}
	if err := pc.Plugin.Validate(); err != nil {
		return pc, fmt.Errorf("plugins.%s: %w", name, err)
	}
	return pc, nil
}

func (c *Config) defaults() error {
	if c.Agent.ID == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("agent.id is not set and the hostname cannot be read: %w", err)
		}
		c.Agent.ID = h
	}
	if !agentIDRe.MatchString(c.Agent.ID) {
		return fmt.Errorf("agent.id %q: must be 1-128 characters of A-Z a-z 0-9 . _ -", c.Agent.ID)
	}
	if c.Agent.Token == "" && c.Agent.TokenFile != "" {
		b, err := readTokenFile(c.Agent.TokenFile)
		if err != nil {
			return fmt.Errorf("agent.token_file: %w", err)
		}
		c.Agent.Token = strings.TrimSpace(string(b))
	}
	if len(c.Agent.Labels) > 16 {
		return fmt.Errorf("agent.labels: %d labels, at most 16 allowed", len(c.Agent.Labels))
	}
	for k, v := range c.Agent.Labels {
		if !labelKeyRe.MatchString(k) {
			return fmt.Errorf("agent.labels: key %q must match [a-z_][a-z0-9_]{0,63}", k)
		}
		if len(v) > 256 {
			return fmt.Errorf("agent.labels.%s: value longer than 256 bytes", k)
		}
	}
	if c.Agent.Interval.Duration == 0 {
		c.Agent.Interval.Duration = DefaultInterval
	}
	if c.Agent.Interval.Duration < MinInterval {
		return fmt.Errorf("agent.interval: %v is below the minimum of %v", c.Agent.Interval, MinInterval)
	}
	if c.Agent.StateDir == "" {
		c.Agent.StateDir = "/var/lib/vigil/agent"
	}
	if c.Agent.PluginDir == "" {
		c.Agent.PluginDir = plugin.DefaultDir
	}
	if c.Agent.PluginConcurrency == 0 {
		c.Agent.PluginConcurrency = plugin.DefaultConcurrency
	}
	if c.Agent.PluginConcurrency < 1 || c.Agent.PluginConcurrency > 256 {
		return fmt.Errorf("agent.plugin_concurrency %d: want 1 to 256", c.Agent.PluginConcurrency)
	}
	for i, a := range c.Transport.Collectors {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return fmt.Errorf("transport.collectors[%d] %q: want host:port: %w", i, a, err)
		}
	}
	for _, d := range []struct {
		name     string
		v        *Duration
		def, min time.Duration
	}{
		{"ack_timeout", &c.Transport.AckTimeout, 3 * time.Second, 100 * time.Millisecond},
		{"probe_interval", &c.Transport.ProbeInterval, 30 * time.Second, time.Second},
		{"reconnect_min", &c.Transport.ReconnectMin, time.Second, 10 * time.Millisecond},
		{"reconnect_max", &c.Transport.ReconnectMax, DefaultReconnectMax, 10 * time.Millisecond},
		{"clock_offset_warn", &c.Transport.ClockOffsetWarn, DefaultClockOffsetWarn, time.Second},
	} {
		if d.v.Duration == 0 {
			d.v.Duration = d.def
		}
		if d.v.Duration < d.min {
			return fmt.Errorf("transport.%s: %v is below the minimum of %v", d.name, d.v.Duration, d.min)
		}
	}
	if c.Transport.ReconnectMax.Duration < c.Transport.ReconnectMin.Duration {
		return fmt.Errorf("transport.reconnect_max %v is below reconnect_min %v", c.Transport.ReconnectMax, c.Transport.ReconnectMin)
	}
	if (c.Transport.CertFile == "") != (c.Transport.KeyFile == "") {
		return errors.New("transport: cert_file and key_file must be set together")
	}
	if h := c.Transport.HTTPS; h != "" {
		u, err := url.Parse(h)
		if err != nil || u.Hostname() == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" ||
			!(u.Scheme == "https" || u.Scheme == "http" && (u.Hostname() == "localhost" || net.ParseIP(u.Hostname()).IsLoopback())) {
			return fmt.Errorf("transport.https %q: want https://HOST:PORT (http:// only on a loopback address)", h)
		}
	}
	if c.Spool.MaxBytes == 0 {
		c.Spool.MaxBytes = spool.DefaultMaxBytes
	}
	if c.Spool.MaxBytes < 64<<10 {
		return fmt.Errorf("spool.max_bytes %d: at least 65536 (64 KiB)", c.Spool.MaxBytes)
	}
	if c.Spool.Sync == "" {
		c.Spool.Sync = spool.SyncInterval
	}
	if c.Spool.SyncInterval.Duration == 0 {
		c.Spool.SyncInterval.Duration = spool.DefaultSyncInterval
	}
	if c.Spool.SyncInterval.Duration < 10*time.Millisecond || c.Spool.SyncInterval.Duration > time.Minute {
		return fmt.Errorf("spool.sync_interval %v: want 10ms to 1m", c.Spool.SyncInterval)
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

// documentType builds the document's Go type: the fixed tables plus one
// [checks.NAME] table per registered check, whose type embeds Schedule and
// the check's own options so a typo anywhere is caught with its line.
func documentType(factories []check.Factory) (reflect.Type, []reflect.Type) {
	var checkFields []reflect.StructField
	var sections []reflect.Type
	for i, f := range factories {
		ot := reflect.TypeOf(f.Options()).Elem()
		sec := reflect.StructOf([]reflect.StructField{
			{Name: "Schedule", Type: reflect.TypeOf(Schedule{}), Anonymous: true},
			{Name: ot.Name(), Type: ot, Anonymous: true},
		})
		sections = append(sections, sec)
		checkFields = append(checkFields, reflect.StructField{
			Name: fmt.Sprintf("C%d", i),
			Type: reflect.PointerTo(sec),
			Tag:  reflect.StructTag(fmt.Sprintf(`toml:%q`, f.Name)),
		})
	}
	doc := reflect.StructOf([]reflect.StructField{
		{Name: "Agent", Type: reflect.TypeOf(Agent{}), Tag: `toml:"agent"`},
		{Name: "Transport", Type: reflect.TypeOf(Transport{}), Tag: `toml:"transport"`},
		{Name: "Spool", Type: reflect.TypeOf(Spool{}), Tag: `toml:"spool"`},
		{Name: "Log", Type: reflect.TypeOf(Log{}), Tag: `toml:"log"`},
		{Name: "Checks", Type: reflect.StructOf(checkFields), Tag: `toml:"checks"`},
		{Name: "Plugins", Type: reflect.TypeOf(map[string]pluginTable{}), Tag: `toml:"plugins"`},
	})
	return doc, sections
}

// checkTables returns the names of the [checks.*] tables the document has.
func checkTables(doc []byte) (map[string]bool, error) {
	var raw struct {
		Checks map[string]any `toml:"checks"`
	}
	if err := toml.Unmarshal(doc, &raw); err != nil {
		return nil, err
	}
	present := map[string]bool{}
	for name := range raw.Checks {
		present[name] = true
	}
	return present, nil
}
