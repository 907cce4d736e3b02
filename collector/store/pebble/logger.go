package pebble

import (
	"context"
	"fmt"
	"log/slog"
)

// slogLogger routes Pebble's log lines to slog: its informational chatter at
// debug level (quiet by default), its errors at error level.
type slogLogger struct {
	l *slog.Logger
	h *health
}

func (s slogLogger) Infof(format string, args ...any) {
	if s.l.Enabled(context.Background(), slog.LevelDebug) {
		s.l.Debug(fmt.Sprintf(format, args...))
	}
}

func (s slogLogger) Errorf(format string, args ...any) {
	s.l.Error(fmt.Sprintf(format, args...))
}

// Fatalf is called by Pebble when a write it cannot undo failed (the
// write-ahead log or the MANIFEST, typically on a full disk) or an
// invariant broke; Pebble's own logger ends the process there. A collector
// that ends serves no reads either, so instead the store stops taking
// writes (health.setFatal) and: on a goroutine of ours (a Write, Open),
// Fatalf panics for guarded to return the error; on one of Pebble's
// background goroutines, which cannot continue correctly, it parks that
// goroutine for good. Reads do not wait for it; Close skips the database.
func (s slogLogger) Fatalf(format string, args ...any) {
	err := fmt.Errorf(format, args...)
	for _, a := range args {
		if cause, ok := a.(error); ok {
			// Keep the cause (ENOSPC) for errors.Is.
			err = fatalError{msg: err.Error(), cause: cause}
			break
		}
	}
	if underGuard() {
		if s.h != nil {
			s.h.setFatal(err)
		}
		panic(fatalPanic{err})
	}
	if s.h != nil {
		s.h.setFatal(err)
	} else {
		s.l.Error(err.Error(), "fatal", true)
	}
	select {}
}

// fatalError is the message of a Pebble fatal error with the error among
// its arguments as its cause.
type fatalError struct {
	msg   string
	cause error
}

func (e fatalError) Error() string { return e.msg }
func (e fatalError) Unwrap() error { return e.cause }
