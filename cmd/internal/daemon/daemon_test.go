//go:build !windows

package daemon

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

var testSpec = Spec{Name: "vigil-daemon-test", Config: "/nonexistent.toml"}

// runAsync runs Run in a goroutine and returns its result channel.
func runAsync(fn func(context.Context) error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- Run(testSpec, fn) }()
	return done
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// A run function that fails on its own ends Run with its error.
func TestRunReturnsRunError(t *testing.T) {
	boom := errors.New("boom")
	if err := wait(t, runAsync(func(context.Context) error { return boom })); !errors.Is(err, boom) {
		t.Fatalf("Run = %v, want %v", err, boom)
	}
}

// SIGTERM cancels the run function's context, and Run waits for it.
func TestRunStopsOnSIGTERM(t *testing.T) {
	started := make(chan struct{})
	var finished bool
	done := runAsync(func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		time.Sleep(50 * time.Millisecond) // a graceful stop takes a moment
		finished = true
		return nil
	})
	// Run registers for SIGTERM after starting fn. Until then, this
	// registration keeps the signal from ending the test; send until Run
	// returns.
	sink := make(chan os.Signal, 1)
	signal.Notify(sink, syscall.SIGTERM)
	defer signal.Stop(sink)
	<-started
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil || !finished {
				t.Fatalf("Run = %v, run function finished: %v", err, finished)
			}
			return
		case <-tick.C:
			if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after SIGTERM")
		}
	}
}

func TestVersionLine(t *testing.T) {
	got := VersionLine("vigil-agent", "v1.2.3", "0123456789ab")
	if !strings.HasPrefix(got, "vigil-agent v1.2.3 (commit 0123456789ab, go") {
		t.Fatalf("VersionLine = %q", got)
	}
}

func TestSpecConfig(t *testing.T) {
	c := Spec{Name: "x", Config: "/etc/vigil/x.toml"}.config()
	if strings.Join(c.Arguments, " ") != "run --config /etc/vigil/x.toml" {
		t.Errorf("service arguments %q", c.Arguments)
	}
	if _, ok := c.Option["ReloadSignal"]; ok {
		t.Error("ReloadSignal set for a program that does not reload")
	}
	if c := (Spec{Name: "x", ReloadOnHUP: true}).config(); c.Option["ReloadSignal"] != "HUP" {
		t.Error("ReloadOnHUP did not set ReloadSignal HUP")
	}
}
