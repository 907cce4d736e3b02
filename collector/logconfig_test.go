package collector

import (
	"log/slog"
	"strings"
	"testing"
)

// [log] and durations decode through internal/tomlconf: errors name the
// key, its line and what it takes.
func TestLogConfig(t *testing.T) {
	for _, tc := range []struct {
		doc    string
		level  slog.Level
		format string
		err    string
	}{
		{`name = "c1"`, slog.LevelInfo, "text", ""},
		{"name = \"c1\"\n[log]\nlevel = \"DEBUG\"\nformat = \"json\"\n", slog.LevelDebug, "json", ""},
		{"name = \"c1\"\n[log]\nlevel = \"error\"\n", slog.LevelError, "text", ""},
		{"name = \"c1\"\n[log]\nlevel = \"loud\"\n", 0, "", `line 3 column 9: log.level: invalid log level "loud": want debug, info, warn or error`},
		{"name = \"c1\"\n[log]\nformat = \"xml\"\n", 0, "", `log.format "xml": want text or json`},
		{"name = \"c1\"\n[store]\nraw_retention = \"a week\"\n", 0, "", `store.raw_retention: invalid duration "a week"`},
	} {
		c, err := ParseConfig([]byte(tc.doc))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.doc, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.doc, err)
			continue
		}
		if c.Log.Level.Level() != tc.level || c.Log.Format != tc.format {
			t.Errorf("%q: level %v format %q, want %v %q", tc.doc, c.Log.Level, c.Log.Format, tc.level, tc.format)
		}
	}
}
