// Package packaging holds the files that make Vigil's .deb and .rpm
// packages (systemd units, sample configs, maintainer scripts; the nfpm
// recipes are in mkpkg) and the tests that hold them to the code and
// install the real packages.
package packaging

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/pelletier/go-toml/v2"
	"github.com/vigilmon/vigil/collector"
)

// setting is a commented-out "# key = value" line of a sample config.
var setting = regexp.MustCompile(`^(\s*)# ([a-z0-9_]+ = .*)$`)

// uncomment makes every commented-out setting of a sample active.
func uncomment(sample []byte) []byte {
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(sample))
	for sc.Scan() {
		b.WriteString(setting.ReplaceAllString(sc.Text(), "$1$2"))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// tomlKeys lists the dotted TOML keys of a config struct.
func tomlKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("toml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[collector.Duration]() {
			keys = append(keys, tomlKeys(f.Type, prefix+tag+".")...)
			continue
		}
		keys = append(keys, prefix+tag)
	}
	return keys
}

func flatten(m map[string]any, prefix string, out map[string]bool) {
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			out[prefix+k] = true // a table, or a map setting such as replication
			flatten(sub, prefix+k+".", out)
			continue
		}
		out[prefix+k] = true
	}
}

// The sample collector.toml must parse as shipped and with every setting
// uncommented, show every key of collector.Config, and show the real
// defaults.
func TestCollectorSample(t *testing.T) {
	sample, err := os.ReadFile("collector.toml")
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := collector.ParseConfig(sample)
	if err != nil {
		t.Fatalf("collector.toml as shipped: %v", err)
	}
	full := uncomment(sample)
	all, err := collector.ParseConfig(full)
	if err != nil {
		t.Fatalf("collector.toml with every setting uncommented: %v", err)
	}

	var doc map[string]any
	if err := toml.Unmarshal(full, &doc); err != nil {
		t.Fatal(err)
	}
	shown := map[string]bool{}
	flatten(doc, "", shown)
	for _, k := range tomlKeys(reflect.TypeFor[collector.Config](), "") {
		// An array of tables has no default to uncomment: the sample
		// shows it as an example.
		if !shown[k] && !(k == "rules.tenant" && bytes.Contains(sample, []byte("##   [[rules.tenant]]"))) {
			t.Errorf("collector.toml does not show %s", k)
		}
	}

	// Settings shown commented out are at their defaults, but for the
	// examples below.
	all.Name, all.HTTP.CertFile, all.HTTP.KeyFile = shipped.Name, "", ""
	all.Store.Cassandra = shipped.Store.Cassandra
	if !reflect.DeepEqual(shipped, all) {
		t.Errorf("a commented-out setting of collector.toml is not its default:\nshipped:     %+v\nuncommented: %+v", shipped, all)
	}
}

// The units keep the hardening the issue asks for; the agent's must leave
// /proc visible.
func TestUnits(t *testing.T) {
	for name, want := range map[string][]string{
		"vigil-agent": {"User=vigil", "NoNewPrivileges=yes", "ProtectSystem=strict",
			"ReadWritePaths=/var/lib/vigil/agent", "ProtectHome=read-only", "PrivateTmp=yes",
			"ExecStart=/usr/bin/vigil-agent run --config /etc/vigil/agent.toml"},
		"vigil-collector": {"User=vigil", "NoNewPrivileges=yes", "ProtectSystem=strict",
			"ReadWritePaths=/var/lib/vigil/collector", "ProtectHome=yes", "PrivateTmp=yes",
			"ExecStart=/usr/bin/vigil-collector run --config /etc/vigil/collector.toml"},
	} {
		b, err := os.ReadFile("systemd/" + name + ".service")
		if err != nil {
			t.Fatal(err)
		}
		lines := map[string]bool{}
		for _, l := range strings.Split(string(b), "\n") {
			lines[strings.TrimSpace(l)] = true
		}
		for _, w := range want {
			if !lines[w] {
				t.Errorf("%s.service: no line %q", name, w)
			}
		}
		if name == "vigil-agent" {
			for _, bad := range []string{"ProtectProc=invisible", "ProtectProc=noaccess", "ProcSubset=pid", "ProtectHome=yes", "ProtectHome=tmpfs"} {
				if lines[bad] {
					t.Errorf("%s.service: %s would break the agent's checks", name, bad)
				}
			}
		}
	}
}

// The agent's import graph is its footprint budget: neither nfpm nor any
// of the collector may be in it.
func TestAgentLinksNoPackagingOrCollector(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../cmd/vigil-agent").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.Contains(p, "nfpm") || strings.HasPrefix(p, "github.com/vigilmon/vigil/collector") ||
			strings.Contains(p, "pebble") {
			t.Errorf("vigil-agent links %s", p)
		}
	}
}
