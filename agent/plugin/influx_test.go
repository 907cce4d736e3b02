package plugin

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vigilmon/vigil/agent/check"
)

func TestParseInflux(t *testing.T) {
	tests := []parserTest{
		{
			// InfluxDB line protocol documentation example.
			name:    "weather",
			out:     "weather,location=us-midwest temperature=82 1465839830100400200\n",
			status:  check.OK,
			metrics: []check.Metric{gauge("weather.temperature", 82, "", lbl("location", "us-midwest"))},
		},
		{
			name:    "doc example with string field",
			out:     "myMeasurement,tag1=value1,tag2=value2 fieldKey=\"fieldValue\" 1556813561098000000\n",
			status:  check.OK,
			metrics: []check.Metric{str("myMeasurement.fieldKey", "fieldValue", lbl("tag1", "value1"), lbl("tag2", "value2"))},
		},
		{
			name: "telegraf exec script, every field type, comments, blank lines, no timestamps",
			out: "# produced by my script\n\ncpu,cpu=cpu-total,host=h1 usage_idle=98.5,usage_user=1.25\n" +
				"app i=-5i,u=7u,b=t,f=false,s=\"say \\\"hi\\\"\",e=1e3\r\n   \n",
			status: check.OK,
			metrics: []check.Metric{
				gauge("cpu.usage_idle", 98.5, "", lbl("cpu", "cpu-total"), lbl("host", "h1")),
				gauge("cpu.usage_user", 1.25, "", lbl("cpu", "cpu-total"), lbl("host", "h1")),
				gauge("app.i", -5, ""), gauge("app.u", 7, ""), gauge("app.b", 1, ""), gauge("app.f", 0, ""),
				str("app.s", `say "hi"`), gauge("app.e", 1000, ""),
			},
		},
		{
			name:    "names with dots, colons and dashes",
			out:     "nginx.conn:active-x,_tag=v count=3\n",
			status:  check.OK,
			metrics: []check.Metric{gauge("nginx.conn:active-x.count", 3, "", lbl("_tag", "v"))},
		},
		{
			name:    "escaped tag value with space and comma",
			out:     `disk,path=/var/lib\ my\,dir used=1` + "\n",
			status:  check.OK,
			metrics: []check.Metric{gauge("disk.used", 1, "", lbl("path", "/var/lib my,dir"))},
		},
		{
			name:    "non-zero exit keeps metrics",
			out:     "m v=1\n",
			exit:    1,
			status:  check.Unknown,
			msg:     "plugin exited with code 1",
			metrics: []check.Metric{gauge("m.v", 1, "")},
		},
		{name: "empty", out: "", status: check.OK},
		{name: "only comments", out: "# a\n  # b\n", status: check.OK},
	}
	testParser(t, FormatInflux, tests)
}

func TestParseInfluxErrors(t *testing.T) {
	var many []string
	for i := 0; i < 17; i++ {
		many = append(many, fmt.Sprintf("t%d=v", i))
	}
	tests := []errorCase{
		{"no fields", "cpu\n", []string{"line 1", "no fields"}},
		{"field without value", "cpu value\n", []string{"line 1", "column"}},
		{"tag only", "cpu,host=a\n", []string{"line 1", "no fields"}},
		{"upper-case tag key", "cpu,Host=a value=1\n", []string{"line 1", `tag key "Host" is not a valid label key`}},
		{"dash in tag key", "cpu,host-name=a value=1\n", []string{`tag key "host-name"`}},
		{"digit first in tag key", "cpu,1st=a value=1\n", []string{`tag key "1st"`}},
		{"tag key too long", "cpu," + strings.Repeat("k", 65) + "=a value=1\n", []string{"is not a valid label key"}},
		{"tag twice", "cpu,a=1,a=2 v=1\n", []string{"tag a appears twice"}},
		{"too many tags", "cpu," + strings.Join(many, ",") + " v=1\n", []string{"more than 16 tags"}},
		{"tag value too long", "cpu,a=" + strings.Repeat("v", 257) + " v=1\n", []string{"value of tag a is longer than 256 bytes"}},
		{"bad timestamp", "cpu value=1 abc\n", []string{"line 1", "timestamp"}},
		{"text after timestamp", "cpu value=1i 1 extra\n", []string{"line 1", "after timestamp"}},
		{"unterminated string", "cpu value=\"abc\n", []string{"line 1"}},
		{"bad integer", "cpu value=1.5i\n", []string{"line 1", "value"}},
		{"int overflow", "cpu value=99999999999999999999i\n", []string{"line 1", "out of range"}},
		{"invalid field name char", "cpu usage/idle=1\n", []string{"line 1", `metric name "cpu.usage/idle"`, `field "usage/idle"`}},
		{"space in measurement", `my\ measurement value=1` + "\n", []string{`measurement "my measurement"`}},
		{"name too long", strings.Repeat("m", 120) + " field_long=1\n", []string{"is not valid"}},
		{"string too long", "cpu s=\"" + strings.Repeat("s", 1025) + "\"\n", []string{`field "s"`, "longer than 1024 bytes"}},
		{"error on line 3", "a v=1\n\nb v=\n", []string{"line 3"}},
		{"nagios output", "OK - fine | a=1\n", []string{"line 1"}},
		{"cloudkick output", "status ok\n", []string{"line 1"}},
		{"too many metrics", "m " + strings.TrimSuffix(strings.Repeat("f=1,", 1), ",") + "\n" + strings.Repeat("m a=1,b=1,c=1,d=1\n", MaxMetrics/4), []string{"more than 2000 metrics"}},
	}
	testParser(t, FormatInflux, errorCases(0, tests))
}
