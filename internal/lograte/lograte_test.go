package lograte

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log destination safe for the timers' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

func TestLimiter(t *testing.T) {
	tests := []struct {
		name    string
		reasons []string // one Log call each, all with the same message
		want    []string // substrings of the lines logged, in order
	}{
		{"one line", []string{"timeout"}, []string{"reason=timeout"}},
		{"identical lines counted", []string{"timeout", "timeout", "timeout"},
			[]string{"reason=timeout", `"dropped (and 2 more like it in the last 200ms)" reason=timeout suppressed=2`}},
		{"different reasons each logged", []string{"timeout", "garbage", "timeout"},
			[]string{"reason=timeout", "reason=garbage", "more like it in the last 200ms)\" reason=timeout suppressed=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf syncBuffer
			log := slog.New(slog.NewTextHandler(&buf, nil))
			l := &Limiter{Window: 200 * time.Millisecond}
			for i, r := range tt.reasons {
				l.Warn(log, "dropped", r, "remote", fmt.Sprint("10.0.0.", i))
			}
			deadline := time.Now().Add(5 * time.Second)
			for len(buf.lines()) < len(tt.want) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			l.Close()
			got := buf.lines()
			if len(got) != len(tt.want) {
				t.Fatalf("logged %d lines, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("line %d: %s\nwant it to contain %s", i, got[i], w)
				}
			}
		})
	}
}

// A steady stream of one line yields about one line per window, and the
// count of the suppressed ones is never lost: Close reports what is pending.
func TestLimiterSteadyStream(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	l := &Limiter{Window: 100 * time.Millisecond}
	const n = 1000
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { l.Warn(log, "agent refused", "no hello", "i", i) })
	}
	wg.Wait()
	l.Close()
	got := buf.lines()
	total := 0
	for _, line := range got {
		total++
		var k int
		if i := strings.Index(line, "suppressed="); i >= 0 {
			if _, err := fmt.Sscanf(line[i:], "suppressed=%d", &k); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			total += k - 1
		}
	}
	if total != n || len(got) > 4 {
		t.Fatalf("%d lines accounting for %d calls, want a few lines for %d:\n%s", len(got), total, n, strings.Join(got, "\n"))
	}
}

func TestLimiterBoundedKeys(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	l := &Limiter{Window: time.Hour}
	for i := range maxKeys + 500 {
		l.Warn(log, "bad frame", fmt.Sprint("reason ", i))
	}
	if len(l.lines) != maxKeys+1 {
		t.Fatalf("%d keys tracked, want %d", len(l.lines), maxKeys+1)
	}
	l.Close()
	if got := len(buf.lines()); got != maxKeys+2 {
		t.Fatalf("%d lines, want %d (one per tracked reason, one for the rest, one count)", got, maxKeys+2)
	}
}
