package pebble

import (
	"context"
	"fmt"
	"log/slog"
	"os"
)

// slogLogger routes Pebble's log lines to slog: its informational chatter at
// debug level (quiet by default), its errors at error level.
type slogLogger struct{ l *slog.Logger }

func (s slogLogger) Infof(format string, args ...any) {
	if s.l.Enabled(context.Background(), slog.LevelDebug) {
		s.l.Debug(fmt.Sprintf(format, args...))
	}
}

func (s slogLogger) Errorf(format string, args ...any) {
	s.l.Error(fmt.Sprintf(format, args...))
}

// Fatalf is called by Pebble on a broken invariant, after which it cannot
// continue safely; like Pebble's default logger it ends the process.
func (s slogLogger) Fatalf(format string, args ...any) {
	s.l.Error(fmt.Sprintf(format, args...), "fatal", true)
	os.Exit(1)
}
