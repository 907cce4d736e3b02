package tomlconf

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

type doc struct {
	Log struct {
		Level LogLevel `toml:"level"`
	} `toml:"log"`
	Agent struct {
		Interval Duration `toml:"interval"`
	} `toml:"agent"`
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		level     slog.Level
		interval  time.Duration
		err       string // substring; "" for success
	}{
		{"empty keeps zero values", "", slog.LevelInfo, 0, ""},
		{"level names in any case", "[log]\nlevel = \"WARN\"\n", slog.LevelWarn, 0, ""},
		{"level with offset", "[log]\nlevel = \"debug-4\"\n", slog.LevelDebug - 4, 0, ""},
		{"duration", "[agent]\ninterval = \"1m30s\"\n", slog.LevelInfo, 90 * time.Second, ""},
		{"bad level names key and allowed values", "[log]\nlevel = \"loud\"\n", 0, 0,
			`line 2 column 9: log.level: invalid log level "loud": want debug, info, warn or error`},
		{"bad duration names key", "[agent]\ninterval = \"ten\"\n", 0, 0, `agent.interval: invalid duration "ten"`},
		{"number for a duration", "[agent]\ninterval = 10\n", 0, 0, `invalid duration "10"`},
		{"unknown key with its line", "\n[log]\nlevl = \"info\"\n", 0, 0, `line 3: unknown key "log.levl"`},
		{"syntax error", "[log\n", 0, 0, "line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d doc
			err := Decode([]byte(tc.doc), &d)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Decode(%q) = %v, want an error containing %q", tc.doc, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%q): %v", tc.doc, err)
			}
			if d.Log.Level.Level() != tc.level || d.Agent.Interval.Duration != tc.interval {
				t.Errorf("Decode(%q) = level %v, interval %v; want %v, %v", tc.doc, d.Log.Level, d.Agent.Interval, tc.level, tc.interval)
			}
		})
	}
}

// MarshalText writes what UnmarshalText reads back, in the config's spelling.
func TestMarshalRoundTrip(t *testing.T) {
	for _, l := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelDebug - 2} {
		b, err := LogLevel(l).MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back LogLevel
		if err := back.UnmarshalText(b); err != nil || back.Level() != l {
			t.Errorf("level %v: wrote %q, read back %v, %v", l, b, back, err)
		}
		if string(b) != strings.ToLower(string(b)) {
			t.Errorf("level %v written as %q, want lower case", l, b)
		}
	}
	d := Duration{Duration: 90 * time.Second}
	b, _ := d.MarshalText()
	var back Duration
	if err := back.UnmarshalText(b); err != nil || back != d || string(b) != "1m30s" {
		t.Errorf("duration: wrote %q, read back %v, %v", b, back, err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{"", "[log]\nlevel = \"warn\"\n", "[agent]\ninterval = \"10s\"\n", "[log]\nlevel = \"INFO+2\"\n", "[log\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var d doc
		if err := Decode([]byte(s), &d); err != nil {
			return
		}
		// What decoded writes back and decodes to the same values.
		lb, _ := d.Log.Level.MarshalText()
		var l LogLevel
		if err := l.UnmarshalText(lb); err != nil || l != d.Log.Level {
			t.Fatalf("level %v: wrote %q, read back %v, %v", d.Log.Level, lb, l, err)
		}
		db, _ := d.Agent.Interval.MarshalText()
		var iv Duration
		if err := iv.UnmarshalText(db); err != nil || iv != d.Agent.Interval {
			t.Fatalf("duration %v: wrote %q, read back %v, %v", d.Agent.Interval, db, iv, err)
		}
	})
}
