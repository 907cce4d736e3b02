// Package tomlconf holds what the agent's and the collector's TOML config
// files share: strict decoding (unknown keys are errors with their line),
// and the value types both write as strings: Duration and LogLevel.
package tomlconf

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
)

// Duration is a time.Duration written in TOML as a Go duration string such
// as "10s", "1m30s" or "168h".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (use a number and a unit, such as \"30s\", \"1m\" or \"168h\")", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// LogLevel is a slog.Level written in TOML by name. Its zero value is
// slog.LevelInfo, the default of both daemons.
type LogLevel slog.Level

// LogLevels names the levels a config may set, for errors and docs.
const LogLevels = "debug, info, warn or error"

// UnmarshalText accepts what slog.Level.UnmarshalText accepts: a level name
// in any case, optionally with an offset such as "debug-2".
func (l *LogLevel) UnmarshalText(b []byte) error {
	var v slog.Level
	if err := v.UnmarshalText(b); err != nil {
		return fmt.Errorf("invalid log level %q: want %s", b, LogLevels)
	}
	*l = LogLevel(v)
	return nil
}

// MarshalText writes the level in lower case, as a config file has it.
func (l LogLevel) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

func (l LogLevel) String() string { return strings.ToLower(slog.Level(l).String()) }

// Level makes a LogLevel a slog.Leveler.
func (l LogLevel) Level() slog.Level { return slog.Level(l) }

// Decode decodes doc into v strictly: a key v has no field for is an error
// naming the key and its line, so a typo never silently falls back to a
// default; a bad value is an error naming its line, column and key.
func Decode(doc []byte, v any) error {
	d := toml.NewDecoder(bytes.NewReader(doc))
	d.DisallowUnknownFields()
	err := d.Decode(v)
	if err == nil {
		return nil
	}
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) && len(strict.Errors) > 0 {
		var msgs []string
		for _, e := range strict.Errors {
			row, _ := e.Position()
			msgs = append(msgs, fmt.Sprintf("line %d: unknown key %q", row, strings.Join(e.Key(), ".")))
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		if key := de.Key(); len(key) > 0 {
			return fmt.Errorf("line %d column %d: %s: %s", row, col, strings.Join(key, "."), msg)
		}
		return fmt.Errorf("line %d column %d: %s", row, col, msg)
	}
	return err
}
