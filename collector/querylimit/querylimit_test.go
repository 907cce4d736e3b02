package querylimit

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

func TestCheckText(t *testing.T) {
	l := Defaults
	for _, tt := range []struct {
		name, q string
		reason  string // "" : allowed
	}{
		{"plain", `sum(rate(cpu_usage{agent="a"}[5m]))`, ""},
		{"at the length", strings.Repeat("x", 65536), ""},
		{"a byte over", strings.Repeat("x", 65537), ReasonLength},
		{"1 MB", strings.Repeat("x", 1<<20), ReasonLength},
		{"100 deep", strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100), ""},
		{"101 deep", strings.Repeat("(", 101) + "1" + strings.Repeat(")", 101), ReasonDepth},
		{"100000 deep", strings.Repeat("(", 20000) + "1", ReasonDepth},
		{"brackets in strings", `x{a="` + strings.Repeat("(", 500) + `"}`, ""},
		{"escaped quote", `x{a="\"` + strings.Repeat("(", 500) + `"}`, ""},
		{"brackets in comments", "x # " + strings.Repeat("[", 500) + "\n", ""},
		{"mixed kinds", strings.Repeat("({[", 34), ReasonDepth},
		{"64 KiB operator chain", strings.Repeat("x+", 32767) + "x", ReasonDepth},
		{"64 KiB or chain", strings.Repeat("x or ", 13000) + "x", ReasonDepth},
		{"64 KiB unary chain", strings.Repeat("-", 65000) + "x", ReasonDepth},
		{"wide but shallow", strings.Repeat("sum(rate(a{b=~\"c|d\",e!=\"f\"}[5m]))+", 90) + "x", ""},
		{"chain of 90", strings.Repeat("x + ", 90) + "x", ""},
	} {
		err := l.CheckText(tt.q)
		checkReason(t, tt.name, err, tt.reason)
	}
}

func checkReason(t *testing.T, name string, err error, reason string) {
	t.Helper()
	r, ok := AsRefusal(err)
	switch {
	case reason == "" && err != nil:
		t.Errorf("%s: refused: %v", name, err)
	case reason != "" && !ok:
		t.Errorf("%s: want refusal %s, got %v", name, reason, err)
	case reason != "" && r.Reason != reason:
		t.Errorf("%s: refused for %s, want %s: %v", name, r.Reason, reason, err)
	case reason != "" && !strings.Contains(err.Error(), r.Key):
		t.Errorf("%s: message does not name the limit %s: %v", name, r.Key, err)
	}
}

func TestCheckExpr(t *testing.T) {
	l := Defaults
	p := parser.NewParser(parser.Options{})
	for _, tt := range []struct {
		name, q string
		span    time.Duration
		reason  string
	}{
		{"rate", `rate(x[5m])`, 0, ""},
		{"subquery 1h:1m", `max_over_time(rate(x[5m])[1h:1m])`, 0, ""},
		{"no step uses 1m", `max_over_time(x[7d:])`, 0, ""},
		{"no step over 11000 min", `max_over_time(x[8d:])`, 0, ReasonSubquerySteps},
		{"30d:1ms", `x[30d:1ms]`, 0, ReasonSubquerySteps},
		{"nested multiply", `max_over_time(max_over_time(x[1h:1m])[4h:1m])`, 0, ReasonSubquerySteps},
		{"nested within", `max_over_time(max_over_time(x[1h:1m])[2h:1h])`, 0, ""},
		{"range query span counts", `max_over_time(x[1h:1s])`, 3 * time.Hour, ReasonSubquerySteps},
		{"deep binary chain", strings.Repeat("1+", 200) + "1", 0, ReasonDepth},
		{"deep unary chain", strings.Repeat("-", 200) + "x", 0, ReasonDepth},
	} {
		e, err := p.ParseExpr(tt.q)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		checkReason(t, tt.name, l.CheckExpr(e, tt.span), tt.reason)
	}
}

// FuzzNesting: the pre-scan never panics, never reports less nesting
// than the brackets outside strings and comments have, and stops early.
func FuzzNesting(f *testing.F) {
	for _, s := range []string{"", "((1))", `x{a="(("}`, "x # ((\n(", "`((`", `"\`, "'\\'(", "]]]((("} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, q string, stop int) {
		stop = max(stop%64, 0)
		n := Nesting(q, stop)
		if n < 0 || n > stop+1 {
			t.Fatalf("Nesting(%q, %d) = %d", q, stop, n)
		}
		if !strings.ContainsAny(q, "\"'`#") {
			// Without strings and comments every bracket counts, and
			// operators may add to it.
			d, deepest := 0, 0
			for _, c := range q {
				switch c {
				case '(', '[', '{':
					d++
					deepest = max(deepest, d)
				case ')', ']', '}':
					d = max(d-1, 0)
				}
			}
			if want := min(deepest, stop+1); n < want {
				t.Fatalf("Nesting(%q, %d) = %d, want at least %d", q, stop, n, want)
			}
		}
	})
}

type counter map[string]int

func (c counter) QueryRefused(r string) { c[r]++ }

func TestGuardQueue(t *testing.T) {
	c := counter{}
	g := &Guard{Limits: Limits{MaxConcurrent: 2, QueueWait: 50 * time.Millisecond}, Counter: c}
	ctx := context.Background()
	r1, err1 := g.Enter(ctx)
	r2, err2 := g.Enter(ctx)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	// Full: the third waits out the queue and is refused.
	_, err := g.Enter(ctx)
	checkReason(t, "third", err, ReasonConcurrency)
	if !g.Refused(err, "acme", "x") || c[ReasonConcurrency] != 1 {
		t.Fatalf("refusal not counted: %v", c)
	}
	// A slot freed while waiting is taken.
	done := make(chan error, 1)
	g2 := &Guard{Limits: Limits{MaxConcurrent: 1, QueueWait: 10 * time.Second}}
	rel, _ := g2.Enter(ctx)
	go func() {
		r, err := g2.Enter(ctx)
		if err == nil {
			r()
		}
		done <- err
	}()
	rel()
	if err := <-done; err != nil {
		t.Fatalf("waiter: %v", err)
	}
	// The deadline ends the wait as a timeout.
	dctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	g3 := &Guard{Limits: Limits{MaxConcurrent: 1, QueueWait: 10 * time.Second}}
	if _, err := g3.Enter(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = g3.Enter(dctx)
	checkReason(t, "deadline", err, ReasonTimeout)
	r1()
	r2()
}

func TestBudget(t *testing.T) {
	b := NewBudget(10)
	if err := b.Spend(10); err != nil || b.Left() != 0 {
		t.Fatalf("spend 10 of 10: %v, left %d", err, b.Left())
	}
	err := b.Spend(1)
	checkReason(t, "over", err, ReasonSamples)
	if b.Left() != 0 {
		t.Fatalf("left %d after overdraw", b.Left())
	}
	var r *Refusal
	if !errors.As(err, &r) {
		t.Fatal("not a refusal")
	}
}
