// Package lograte keeps logs readable when a remote client can trigger a
// warning at will: the first of identical lines (same message, same reason)
// is logged at once, the rest of its window only counted, and the count
// logged when the window closes ("... and 499 more like it in the last 10s").
package lograte

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// DefaultWindow is the window of a zero Limiter.
const DefaultWindow = 10 * time.Second

// maxKeys bounds the lines tracked at once, since reasons can come from
// clients; lines beyond it share one key per message.
const maxKeys = 1024

// Limiter rate-limits identical log lines. The zero value is ready to use
// with DefaultWindow; a Limiter must not be copied after first use.
type Limiter struct {
	// Window is how long identical lines after the first are only counted.
	Window time.Duration

	mu     sync.Mutex
	lines  map[key]*line
	closed bool
}

type key struct{ msg, reason string }

type line struct {
	log        *slog.Logger
	level      slog.Level
	args       []any // of the latest suppressed line, logged with the count
	suppressed int
	timer      *time.Timer
}

func (l *Limiter) window() time.Duration {
	if l.Window > 0 {
		return l.Window
	}
	return DefaultWindow
}

// Log logs msg with reason and args on log, unless a line with the same
// msg and reason was logged less than a window ago; then it is counted
// and reported with the count at the end of that window.
func (l *Limiter) Log(log *slog.Logger, level slog.Level, msg, reason string, args ...any) {
	if !log.Enabled(context.Background(), level) {
		return
	}
	k := key{msg, reason}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		log.Log(context.Background(), level, msg, append([]any{"reason", reason}, args...)...)
		return
	}
	if ln, ok := l.lines[k]; ok {
		ln.suppressed++
		ln.log, ln.args = log, args
		l.mu.Unlock()
		return
	}
	if len(l.lines) >= maxKeys {
		k.reason = "(many different reasons)"
		if ln, ok := l.lines[k]; ok {
			ln.suppressed++
			ln.log, ln.args = log, args
			l.mu.Unlock()
			return
		}
	}
	if l.lines == nil {
		l.lines = map[key]*line{}
	}
	ln := &line{log: log, level: level}
	l.lines[k] = ln
	ln.timer = time.AfterFunc(l.window(), func() { l.tick(k) })
	l.mu.Unlock()
	log.Log(context.Background(), level, msg, append([]any{"reason", reason}, args...)...)
}

// Warn is Log at warning level.
func (l *Limiter) Warn(log *slog.Logger, msg, reason string, args ...any) {
	l.Log(log, slog.LevelWarn, msg, reason, args...)
}

// tick ends k's window: it logs the count of lines suppressed in it and,
// if there were any, opens another window, so a steady stream of identical
// lines yields one line per window.
func (l *Limiter) tick(k key) {
	l.mu.Lock()
	ln, ok := l.lines[k]
	if !ok {
		l.mu.Unlock()
		return
	}
	n, log, args := ln.suppressed, ln.log, ln.args
	ln.suppressed = 0
	if n == 0 {
		delete(l.lines, k)
	} else {
		ln.timer.Reset(l.window())
	}
	l.mu.Unlock()
	if n > 0 {
		l.report(k, ln.level, log, n, args)
	}
}

func (l *Limiter) report(k key, level slog.Level, log *slog.Logger, n int, args []any) {
	log.Log(context.Background(), level, fmt.Sprintf("%s (and %d more like it in the last %s)", k.msg, n, l.window()),
		append([]any{"reason", k.reason, "suppressed", n}, args...)...)
}

// Close stops the windows' timers and logs the counts still pending, so
// that a stopping program does not lose them. Lines logged after Close
// are logged at once, each.
func (l *Limiter) Close() {
	l.mu.Lock()
	l.closed = true
	lines := l.lines
	l.lines = nil
	l.mu.Unlock()
	for k, ln := range lines {
		if ln.timer != nil {
			ln.timer.Stop()
		}
		if ln.suppressed > 0 {
			l.report(k, ln.level, ln.log, ln.suppressed, ln.args)
		}
	}
}
