package plugin

import (
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
)

func TestConfigTOML(t *testing.T) {
	const doc = `
path = "check_pg.sh"
args = ["-H", "db1", "--warn=5"]
env = { PGPORT = "5433", PGUSER = "monitor" }
timeout = "15s"
format = "nagios"
max_output_bytes = 8192
`
	var c Config
	dec := toml.NewDecoder(strings.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Path != "check_pg.sh" || len(c.Args) != 3 || c.Env["PGPORT"] != "5433" || c.Timeout.Duration != 15*time.Second ||
		c.Format != FormatNagios || c.MaxOutputBytes != 8192 {
		t.Errorf("decoded %+v", c)
	}
	var bad Config
	if err := toml.Unmarshal([]byte(`timeout = "soon"`), &bad); err == nil || !strings.Contains(err.Error(), `invalid duration "soon"`) {
		t.Errorf("bad timeout: %v", err)
	}

	d := Config{Path: "p"}.withDefaults()
	if d.Timeout.Duration != DefaultTimeout || d.MaxOutputBytes != DefaultMaxOutputBytes {
		t.Errorf("defaults: %+v", d)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "plugin path: must be set"},
		{Config{Path: "a\x00b"}, "contains a NUL byte"},
		{Config{Path: "p", Args: []string{"ok", "b\x00"}}, "plugin p: args[1]: contains a NUL byte"},
		{Config{Path: "p", Env: map[string]string{"": "x"}}, "plugin p: env: empty variable name"},
		{Config{Path: "p", Env: map[string]string{"A=B": "x"}}, `plugin p: env: variable name "A=B" contains '='`},
		{Config{Path: "p", Env: map[string]string{"A": "x\x00"}}, "plugin p: env: value of A contains a NUL byte"},
		{Config{Path: "p", Env: map[string]string{"VIGIL_CHECK_ID": "x"}}, "plugin p: env: VIGIL_CHECK_ID is set by the agent"},
		{Config{Path: "p", Env: map[string]string{"rax_check_period": "x"}}, "env: RAX_CHECK_PERIOD is set by the agent"},
		{Config{Path: "p", Timeout: Duration{Duration: -time.Second}}, "plugin p: timeout: must not be negative"},
		{Config{Path: "p", Format: "Nagios"}, `plugin p: format: unknown format "Nagios"`},
		{Config{Path: "p", MaxOutputBytes: -1}, "plugin p: max_output_bytes: must be between 1 and 4194304"},
		{Config{Path: "p", MaxOutputBytes: MaxOutputBytesLimit + 1}, "max_output_bytes"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
	}
	for _, f := range []Format{FormatAuto, FormatCloudkick, FormatNagios, FormatInflux} {
		c := Config{Path: "/p", Format: f, MaxOutputBytes: MaxOutputBytesLimit, Env: map[string]string{"X": ""}}
		if err := c.Validate(); err != nil {
			t.Errorf("%v: %v", f, err)
		}
	}
}
