package plugin

import (
	"strings"
	"testing"

	"github.com/vigilmon/vigil/agent/check"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		out  string
		want Format
	}{
		{"status ok fine\nmetric x int 1\n", FormatCloudkick},
		{"\n\n  metric x int 1\n", FormatCloudkick},
		{"state unavailable\n", FormatCloudkick},
		{"timestamp 1700000000000\nstatus ok\n", FormatCloudkick},
		{"status\n", FormatCloudkick},
		{"metric x int16 1\n", FormatCloudkick}, // invalid, but reported as Cloudkick
		{"metric value=1\n", FormatInflux},      // a measurement named "metric"
		{"status,host=a up=1i\n", FormatInflux},
		{"cpu,host=a usage=1\n", FormatInflux},
		{"# comment\n\ncpu usage=1 1700000000000000000\n", FormatInflux},
		{"weather temperature=82\nnot line protocol\n", FormatInflux},
		{"USERS OK - 0 users currently logged in |users=0;100;200;0\n", FormatNagios},
		{"DISK OK - free space: / 81300MiB (87% inode=97%);| /=12543066112B;267847005634;267847005634;0;270552530944\n", FormatNagios},
		{"OK\n", FormatNagios},
		{"PROCS OK: 70 processes | procs=70;;;0;\n", FormatNagios},
		{"check_load: Could not parse arguments\nUsage:\n", FormatNagios},
		{"cpu usage\n", FormatNagios},
		{"statusok x=1\n", FormatInflux},
		{"", FormatNagios},
		{"\n  \n", FormatNagios},
		// A Cloudkick plugin that prints something else first.
		{"Checking things...\nstatus ok fine\nmetric x int 1\n", FormatCloudkick},
		{"Connecting to db\nmetric conns int32 5\n", FormatCloudkick},
		{"Starting\nmetric x int16 1\n", FormatNagios},                     // no valid Cloudkick line
		{"DISK OK | /=1B\nstatus ok of /dev/sda\n", FormatNagios},          // '|' on the first line
		{"CRITICAL: 2 down\nservice a\nservice b\n", FormatNagios},         // long output
		{"WARNING: raid degraded\nstatus: rebuilding 40%\n", FormatNagios}, // "status:" is not the keyword
	}
	for _, tt := range tests {
		if got := Detect([]byte(tt.out)); got != tt.want {
			t.Errorf("Detect(%q) = %v, want %v", tt.out, got, tt.want)
		}
	}
}

func TestParseAuto(t *testing.T) {
	var r check.Result
	if err := Parse(FormatAuto, []byte("USERS OK - 0 users |users=0;100;200;0\n"), 0, &r); err != nil {
		t.Fatal(err)
	}
	sameMetrics(t, r.Metrics, []check.Metric{gauge("users", 0, ""), gauge("users_warn", 100, ""), gauge("users_crit", 200, ""), gauge("users_min", 0, "")})

	if err := Parse(FormatAuto, []byte("metric a int 1\n"), 0, &r); err != nil || len(r.Metrics) != 1 || r.Metrics[0].Name != "a" {
		t.Fatalf("cloudkick: %v %v", err, r.Metrics)
	}
	if err := Parse(FormatAuto, []byte("m a=1\n"), 0, &r); err != nil || len(r.Metrics) != 1 || r.Metrics[0].Name != "m.a" {
		t.Fatalf("influx: %v %v", err, r.Metrics)
	}
	// An explicit format is not second-guessed.
	if err := Parse(FormatNagios, []byte("metric a int 1\n"), 0, &r); err != nil || r.Message != "metric a int 1" {
		t.Fatalf("nagios: %v %q", err, r.Message)
	}
	err := Parse("xml", []byte("x"), 0, &r)
	if err == nil || !strings.Contains(err.Error(), `"xml"`) || r.Status != check.Unknown {
		t.Fatalf("unknown format: %v %v", err, r.Status)
	}
}
