package config

import (
	"os"
	"strings"
	"testing"
)

// uncomment turns every "# " setting line of the sample into TOML.
func uncomment(sample string) string {
	var b strings.Builder
	for _, line := range strings.Split(sample, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "# ") {
			line = strings.TrimPrefix(trimmed, "# ")
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestSampleConfigParses(t *testing.T) {
	if _, err := Parse([]byte(SampleConfig())); err != nil {
		t.Fatalf("sample as shipped: %v", err)
	}
	c, err := Parse([]byte(uncomment(SampleConfig())))
	if err != nil {
		t.Fatalf("sample with every setting uncommented: %v", err)
	}
	if _, ok := c.Plugins["plugin.root_disk"]; !ok || c.Agent.ID != "web-1" || len(c.Transport.Collectors) != 1 {
		t.Fatalf("uncommented sample did not set what it shows: %+v", c)
	}
}

func TestPackagedSampleIsCurrent(t *testing.T) {
	b, err := os.ReadFile("../../packaging/agent.toml")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != SampleConfig() {
		t.Fatal("packaging/agent.toml differs from the sample: run `make generate` (or go generate ./agent/config)")
	}
}
