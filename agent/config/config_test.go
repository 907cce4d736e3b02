package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	_ "github.com/vigilmon/vigil/agent/check"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"typo in agent table", "[agent]\nid = \"a\"\n\nintreval = \"10s\"\n", `line 4: unknown key "agent.intreval"`},
		{"typo in check table", "[checks.cpu]\ninterval = \"5s\"\nintervall = \"5s\"\n", `line 3: unknown key "checks.cpu.intervall"`},
		{"unknown table", "[agnet]\nid = \"a\"\n", `unknown key "agnet`},
		{"unknown check", "[checks.cpuu]\n", `line 1: unknown key "checks.cpuu"`},
		{"bad duration", "[agent]\ninterval = \"ten\"\n", `invalid duration "ten"`},
		{"interval below minimum", "[checks.cpu]\ninterval = \"500ms\"\n", "checks.cpu.interval: 500ms is below the minimum of 1s"},
		{"timeout over interval", "[checks.cpu]\ninterval = \"5s\"\ntimeout = \"6s\"\n", "checks.cpu.timeout: 6s is longer than the interval 5s"},
		{"bad agent id", "[agent]\nid = \"a b\"\n", `agent.id "a b"`},
		{"bad collector", "[transport]\ncollectors = [\"nohost\"]\n", `transport.collectors[0] "nohost"`},
		{"bad label key", "[agent.labels]\nEnv = \"x\"\n", `agent.labels: key "Env"`},
		{"bad log level", "[log]\nlevel = \"loud\"\n", `log.level: invalid log level "loud": want debug, info, warn or error`},
		{"half a client cert", "[transport]\ncert_file = \"c.pem\"\n", "cert_file and key_file must be set together"},
		{"syntax error", "[agent\n", "line 1"},
		{"plugin path leaving plugin_dir", "[plugins.x]\npath = \"../outside/x.sh\"\n", `plugins.x: plugin path "../outside/x.sh": a relative path must stay inside the plugin directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseSchedule(t *testing.T) {
	doc := `
[agent]
id = "web-1"
token = "vgl_x"
interval = "10s"

[transport]
collectors = ["127.0.0.1:4433"]

[checks.cpu]
interval = "2s"
timeout = "1s"

[checks.load]
enabled = false
`
	c, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if c.Agent.ID != "web-1" || c.Agent.Token != "vgl_x" {
		t.Fatalf("agent: %+v", c.Agent)
	}
	cpu, ok := c.Checks["cpu"]
	if !ok || cpu.Interval != 2*time.Second || cpu.Timeout != time.Second {
		t.Fatalf("cpu: %+v", cpu)
	}
	if _, ok := c.Checks["load"]; ok {
		t.Fatal("load is disabled but configured")
	}
	mem, ok := c.Checks["memory"]
	if !ok || mem.Interval != 10*time.Second || mem.Timeout != 10*time.Second {
		t.Fatalf("memory should run with the agent's interval: %+v", mem)
	}
	if c.Log.Level.Level() != slog.LevelInfo || c.Log.Format != "text" || c.Agent.StateDir == "" {
		t.Fatalf("defaults not applied: %+v %+v", c.Log, c.Agent)
	}
}

func TestDefault(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"cpu", "memory", "filesystem", "load"} {
		cc, ok := c.Checks[name]
		if !ok {
			t.Fatalf("default config lacks check %s", name)
		}
		if cc.Interval != DefaultInterval {
			t.Fatalf("%s interval %v, want %v", name, cc.Interval, DefaultInterval)
		}
	}
}

func TestPlugins(t *testing.T) {
	doc := `
[agent]
interval = "20s"

[plugins.redis]
path = "check_redis"
args = ["-H", "127.0.0.1"]
env = { REDIS_PORT = "6380" }
format = "nagios"
interval = "5s"

[plugins.legacy]
path = "/opt/rax/plugin.sh"

[plugins.off]
path = "x"
enabled = false
`
	c, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	r, ok := c.Plugins["plugin.redis"]
	if !ok || r.Interval != 5*time.Second || r.Plugin.Timeout.Duration != 5*time.Second ||
		r.Plugin.Format != "nagios" || r.Plugin.Env["REDIS_PORT"] != "6380" || len(r.Plugin.Args) != 2 {
		t.Fatalf("redis: %+v", r)
	}
	l := c.Plugins["plugin.legacy"]
	if l.Interval != 20*time.Second || l.Plugin.Timeout.Duration != 20*time.Second {
		t.Fatalf("legacy: %+v", l)
	}
	if _, ok := c.Plugins["plugin.off"]; ok {
		t.Fatal("disabled plugin configured")
	}

	for _, tt := range []struct{ doc, want string }{
		{"[plugins.x]\npath = \"p\"\nfromat = \"nagios\"\n", `line 3: unknown key "plugins.x.fromat"`},
		{"[plugins.x]\nformat = \"nagios\"\n", "plugins.x: plugin path: must be set"},
		{"[plugins.x]\npath = \"p\"\nformat = \"xml\"\n", `plugins.x: plugin p: format: unknown format "xml"`},
		{"[plugins.\"a b\"]\npath = \"p\"\n", "plugins.a b: name must be"},
		{"[plugins.x]\npath = \"p\"\ninterval = \"100ms\"\n", "plugins.x.interval: 100ms is below the minimum"},
		{"[agent]\nplugin_concurrency = -1\n", "agent.plugin_concurrency -1"},
	} {
		if _, err := Parse([]byte(tt.doc)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want %q", tt.doc, err, tt.want)
		}
	}
}
