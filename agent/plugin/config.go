package plugin

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/vigilmon/vigil/internal/tomlconf"
)

// Format names a plugin output format.
type Format string

const (
	// FormatAuto detects the format from each run's output (see the
	// package documentation for the rule).
	FormatAuto Format = ""
	// FormatCloudkick is the Cloudkick / Rackspace agent plugin format.
	FormatCloudkick Format = "cloudkick"
	// FormatNagios is the Nagios / Monitoring Plugins format.
	FormatNagios Format = "nagios"
	// FormatInflux is InfluxDB line protocol, as Telegraf exec scripts print.
	FormatInflux Format = "influx"
)

func (f Format) String() string {
	if f == FormatAuto {
		return "auto"
	}
	return string(f)
}

// Defaults and limits of a plugin check's configuration.
const (
	// DefaultDir is where a relative Config.Path is looked up.
	DefaultDir = "/usr/lib/vigil/plugins"
	// DefaultTimeout bounds a run when Config.Timeout is zero.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxOutputBytes is the stdout kept when Config.MaxOutputBytes is zero.
	DefaultMaxOutputBytes = 64 << 10
	// MaxOutputBytesLimit is the largest Config.MaxOutputBytes allowed.
	MaxOutputBytesLimit = 4 << 20
	// DefaultConcurrency is how many plugins a Runner runs at once by default.
	DefaultConcurrency = 4
	// StderrBytes is how much of a plugin's stderr is kept and logged.
	StderrBytes = 4 << 10
)

// Duration is a time.Duration written in TOML as a string such as "10s".
type Duration = tomlconf.Duration

// Config is one plugin check. The check's interval is not here: the
// scheduler owns it and passes it to Runner.Run.
type Config struct {
	// Path is the plugin executable: absolute, or relative to the plugin
	// directory (Runner's Dir, default /usr/lib/vigil/plugins), which a
	// relative path may not leave (not with "..", not through a symlink).
	// The file must be a regular executable file owned by root or by the
	// agent's user and writable by neither group nor others, and so must
	// every directory above it (up to /); symlinks on the way must be owned
	// by root or the agent's user.
	Path string `toml:"path"`
	// Args are passed to the plugin as they are, without a shell.
	Args []string `toml:"args"`
	// Env adds environment variables, as a TOML table of strings:
	//   env = { PGHOST = "db1", PGPORT = "5433" }
	// The plugin gets the agent's environment, these variables over it, and
	// VIGIL_CHECK_ID, VIGIL_CHECK_INTERVAL, RAX_CHECK_ID, RAX_CHECK_PERIOD
	// and RAX_CHECK_TYPE, which the agent sets and Env may not.
	// A table rather than a list of "K=V" strings: a key cannot appear twice.
	Env map[string]string `toml:"env"`
	// Timeout of one run, such as "10s" (default 30s). On timeout the
	// plugin's whole process group is killed and the result is unknown.
	Timeout Duration `toml:"timeout"`
	// Format of the plugin's output: "cloudkick" (also Rackspace agent
	// plugins), "nagios", "influx", or "" to detect it from each output.
	Format Format `toml:"format"`
	// MaxOutputBytes is how much stdout is kept (default 65536, at most
	// 4194304). The rest is dropped and the result's message says so.
	MaxOutputBytes int `toml:"max_output_bytes"`
}

// agentEnv are the variables the agent sets for every plugin.
var agentEnv = []string{"VIGIL_CHECK_ID", "VIGIL_CHECK_INTERVAL", "RAX_CHECK_ID", "RAX_CHECK_PERIOD", "RAX_CHECK_TYPE"}

// Validate checks the configuration; an error names the option at fault.
func (c *Config) Validate() error {
	if c.Path == "" {
		return fmt.Errorf("plugin path: must be set (an executable in %s, or an absolute path)", DefaultDir)
	}
	if strings.IndexByte(c.Path, 0) >= 0 {
		return fmt.Errorf("plugin path %q: contains a NUL byte", c.Path)
	}
	if !filepath.IsAbs(c.Path) && !filepath.IsLocal(c.Path) {
		return fmt.Errorf("plugin path %q: a relative path must stay inside the plugin directory; give a plugin elsewhere by its absolute path", c.Path)
	}
	for i, a := range c.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("plugin %s: args[%d]: contains a NUL byte", c.Path, i)
		}
	}
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case k == "":
			return fmt.Errorf("plugin %s: env: empty variable name", c.Path)
		case strings.ContainsAny(k, "=\x00"):
			return fmt.Errorf("plugin %s: env: variable name %q contains '=' or a NUL byte", c.Path, k)
		case strings.IndexByte(c.Env[k], 0) >= 0:
			return fmt.Errorf("plugin %s: env: value of %s contains a NUL byte", c.Path, k)
		}
		for _, a := range agentEnv {
			if strings.EqualFold(k, a) {
				return fmt.Errorf("plugin %s: env: %s is set by the agent and cannot be overridden", c.Path, a)
			}
		}
	}
	if c.Timeout.Duration < 0 {
		return fmt.Errorf("plugin %s: timeout: must not be negative (got %v)", c.Path, c.Timeout.Duration)
	}
	switch c.Format {
	case FormatAuto, FormatCloudkick, FormatNagios, FormatInflux:
	default:
		return fmt.Errorf("plugin %s: format: unknown format %q (want \"cloudkick\", \"nagios\", \"influx\", or \"\" to detect)", c.Path, string(c.Format))
	}
	if c.MaxOutputBytes < 0 || c.MaxOutputBytes > MaxOutputBytesLimit {
		return fmt.Errorf("plugin %s: max_output_bytes: must be between 1 and %d, or 0 for the default %d (got %d)",
			c.Path, MaxOutputBytesLimit, DefaultMaxOutputBytes, c.MaxOutputBytes)
	}
	return nil
}

// withDefaults returns c with zero options replaced by their defaults.
func (c Config) withDefaults() Config {
	if c.Timeout.Duration == 0 {
		c.Timeout.Duration = DefaultTimeout
	}
	if c.MaxOutputBytes == 0 {
		c.MaxOutputBytes = DefaultMaxOutputBytes
	}
	return c
}
