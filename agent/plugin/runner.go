package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigilmon/vigil/agent/check"
)

// ErrTimeout is wrapped by Run's error when a plugin ran past its timeout.
var ErrTimeout = errors.New("timed out")

// RefusedError is a plugin file that the runner will not execute.
type RefusedError struct {
	Path   string
	Reason string // the rule broken, e.g. "writable by others (mode 0777)"
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("plugin %s: refused: %s", e.Path, e.Reason)
}

// RunnerOptions configures a Runner.
type RunnerOptions struct {
	// Dir is where a relative Config.Path is looked up (default DefaultDir).
	Dir string
	// Concurrency is how many plugins run at once, over all plugin checks
	// (default DefaultConcurrency).
	Concurrency int
	// Logger receives plugins' stderr (default slog.Default()).
	Logger *slog.Logger
}

// Runner runs plugins, at most Concurrency at a time. It is safe for
// concurrent use; all plugin checks of an agent share one.
type Runner struct {
	dir       string
	sem       chan struct{}
	log       *slog.Logger
	waitDelay time.Duration // how long Wait waits for stdout after the plugin ends

	mu      sync.Mutex
	refused map[string]string // check id -> the refusal last logged
}

// NewRunner returns a Runner with the given options.
func NewRunner(o RunnerOptions) *Runner {
	if o.Dir == "" {
		o.Dir = DefaultDir
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Runner{dir: o.Dir, sem: make(chan struct{}, o.Concurrency), log: o.Logger, waitDelay: time.Second, refused: map[string]string{}}
}

// RunOnce runs one plugin outside the scheduler, as "vigil-agent check
// --plugin PATH" does: no concurrency limit, check id "plugin.<file name>",
// interval 30s (the agent's default) in the environment, stderr logged to
// slog.Default(). A relative cfg.Path is taken from the current directory
// and need not stay below it; the ownership and mode rules are the agent's.
func RunOnce(ctx context.Context, cfg Config) (check.Result, error) {
	var r check.Result
	if abs, err := filepath.Abs(cfg.Path); err == nil && cfg.Path != "" {
		cfg.Path = abs
	}
	rn := NewRunner(RunnerOptions{Dir: ".", Concurrency: 1})
	id := "plugin." + strings.TrimSuffix(filepath.Base(cfg.Path), filepath.Ext(cfg.Path))
	err := rn.Run(ctx, cfg, id, 30*time.Second, &r)
	return r, err
}

// Check adapts one plugin check to check.Check for the scheduler.
func (rn *Runner) Check(cfg Config, checkID string, interval time.Duration) check.Check {
	return &pluginCheck{rn: rn, cfg: cfg, id: checkID, interval: interval}
}

type pluginCheck struct {
	rn       *Runner
	cfg      Config
	id       string
	interval time.Duration
}

func (c *pluginCheck) Run(ctx context.Context, r *check.Result) error {
	return c.rn.Run(ctx, c.cfg, c.id, c.interval, r)
}

// Run runs the plugin of cfg once for the check checkID scheduled every
// interval, and fills r (reset first) from its output. r is always filled:
// when the run failed (invalid config, refused file, no free slot before ctx
// ended, start error, timeout, killed by a signal, malformed output), its
// status is unknown, its message is the returned error's text (cut to
// MaxMessageBytes) and it has no metrics. A plugin that reports a bad status
// itself (Nagios exit 2, Cloudkick "status err") is not an error.
func (rn *Runner) Run(ctx context.Context, cfg Config, checkID string, interval time.Duration, r *check.Result) error {
	r.Reset()
	if err := cfg.Validate(); err != nil {
		return finish(r, err)
	}
	cfg = cfg.withDefaults()
	path := cfg.Path
	if !filepath.IsAbs(path) {
		path = filepath.Join(rn.dir, path)
	}

	select {
	case rn.sem <- struct{}{}:
	case <-ctx.Done():
		return finish(r, fmt.Errorf("plugin %s: not run: no free slot: %w", path, context.Cause(ctx)))
	}
	defer func() { <-rn.sem }()

	real, err := rn.trusted(cfg.Path, path)
	if err != nil {
		rn.logRefusal(ctx, checkID, err)
		return finish(r, err)
	}
	rn.logRefusal(ctx, checkID, nil)
	res, err := rn.exec(ctx, cfg, path, real, checkID, interval)
	if res.stderr.Len() > 0 {
		defer rn.logStderr(ctx, checkID, path, res.stderr, r)
	}
	if err != nil {
		return finish(r, err)
	}

	out := res.stdout.Bytes()
	if res.stdout.cut {
		if i := bytes.LastIndexByte(out, '\n'); i >= 0 {
			out = out[:i+1]
		} else {
			out = nil
		}
	}
	if err := Parse(cfg.Format, out, res.exitCode, r); err != nil {
		return finish(r, fmt.Errorf("plugin %s: %w", path, err))
	}
	if r.Message == exitMessage(res.exitCode) {
		if line, _, _ := strings.Cut(strings.TrimSpace(res.stderr.String()), "\n"); line != "" {
			r.Message += ": " + line
		}
	}
	if res.stdout.cut {
		note := fmt.Sprintf(" [output cut at %d bytes]", cfg.MaxOutputBytes)
		r.Message = strings.TrimSpace(cleanMessage(r.Message, MaxMessageBytes-len(note)) + note)
	}
	return finish(r, nil)
}

// trusted returns the real path to execute for the configured path
// (joined to the plugin directory as path when relative), once the
// StrictModes rules hold for it (see resolve). A relative path must also
// end, symlinks followed, inside the plugin directory: a link there may
// not lead to a program elsewhere, which the config would have had to name
// by its absolute path.
func (rn *Runner) trusted(configured, path string) (string, error) {
	real, err := resolve(path, false)
	if err != nil || filepath.IsAbs(configured) {
		return real, err
	}
	dir, err := resolve(rn.dir, true)
	if err != nil {
		reason := err.Error()
		if re := (*RefusedError)(nil); errors.As(err, &re) {
			reason = re.Reason
		}
		return "", &RefusedError{Path: path, Reason: "plugin directory " + rn.dir + ": " + reason}
	}
	if !strings.HasPrefix(real, strings.TrimSuffix(dir, string(filepath.Separator))+string(filepath.Separator)) {
		return "", &RefusedError{Path: path, Reason: fmt.Sprintf(
			"resolves to %s, outside the plugin directory %s; fix: move the plugin into %s, or give its absolute path in the config",
			real, dir, dir)}
	}
	return real, nil
}

// logRefusal logs a refused plugin once, and again only when the reason
// changes or after the plugin ran: the result's message carries it every
// run, the log need not.
func (rn *Runner) logRefusal(ctx context.Context, checkID string, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	rn.mu.Lock()
	last, seen := rn.refused[checkID]
	if msg == "" {
		delete(rn.refused, checkID)
	} else {
		rn.refused[checkID] = msg
	}
	rn.mu.Unlock()
	if msg != "" && (!seen || last != msg) {
		rn.log.WarnContext(ctx, "plugin refused: it could be changed by a user other than root and the agent's", slog.String("check", checkID), slog.String("err", msg))
	}
}

func (rn *Runner) logStderr(ctx context.Context, checkID, path string, stderr *capBuffer, r *check.Result) {
	level := slog.LevelInfo
	if r.Status == check.Unknown {
		level = slog.LevelWarn
	}
	rn.log.Log(ctx, level, "plugin wrote to stderr",
		slog.String("check", checkID),
		slog.String("plugin", path),
		slog.String("stderr", strings.ToValidUTF8(stderr.String(), "\uFFFD")),
		slog.Bool("stderr_cut", stderr.cut))
}

type execResult struct {
	exitCode       int
	stdout, stderr *capBuffer
}

// exec runs the plugin to its end, or kills it at its timeout or when ctx
// is done.
//
// real is the file executed; path, as configured, stays the plugin's
// argv[0], so that multi-call plugins reached through a symlink
// (check_host -> check_icmp) still see the name they were called by.
func (rn *Runner) exec(ctx context.Context, cfg Config, path, real, checkID string, interval time.Duration) (execResult, error) {
	res := execResult{stdout: &capBuffer{max: cfg.MaxOutputBytes}, stderr: &capBuffer{max: StderrBytes}}
	tctx, cancel := context.WithTimeout(ctx, cfg.Timeout.Duration)
	defer cancel()

	cmd := exec.CommandContext(tctx, real, cfg.Args...)
	cmd.Args[0] = path
	cmd.Env = pluginEnv(cfg.Env, checkID, interval)
	cmd.Stdin = nil // the null device: reads see end of file
	cmd.Stdout, cmd.Stderr = res.stdout, res.stderr
	cmd.WaitDelay = rn.waitDelay
	setGroup(cmd)
	cmd.Cancel = func() error { return killGroup(cmd) }

	err := cmd.Start()
	if err != nil {
		return res, fmt.Errorf("plugin %s: start: %w", path, err)
	}
	err = cmd.Wait()
	// Whatever the plugin left running in its group goes with it.
	_ = killGroup(cmd)

	st := cmd.ProcessState
	switch {
	case st != nil && st.Exited():
		// It ended by itself, maybe just as the deadline passed, or it left
		// a descendant holding stdout (exec.ErrWaitDelay): its output counts.
		res.exitCode = st.ExitCode()
		return res, nil
	case ctx.Err() != nil:
		return res, fmt.Errorf("plugin %s: stopped, process group killed: %w", path, context.Cause(ctx))
	case tctx.Err() != nil:
		return res, fmt.Errorf("plugin %s: %w after %v, process group killed", path, ErrTimeout, cfg.Timeout.Duration)
	case st != nil:
		return res, fmt.Errorf("plugin %s: %s", path, st.String())
	}
	return res, fmt.Errorf("plugin %s: %w", path, err)
}

// pluginEnv is the environment of a plugin: the agent's, then extra, then
// the variables that tell the plugin which check it runs for.
func pluginEnv(extra map[string]string, checkID string, interval time.Duration) []string {
	env := os.Environ()
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+extra[k])
	}
	secs := strconv.FormatFloat(interval.Seconds(), 'f', -1, 64)
	return append(env,
		"VIGIL_CHECK_ID="+checkID,
		"VIGIL_CHECK_INTERVAL="+secs,
		"RAX_CHECK_ID="+checkID,
		"RAX_CHECK_PERIOD="+secs,
		"RAX_CHECK_TYPE=agent.plugin",
	)
}

// capBuffer keeps the first max bytes written to it and drops the rest,
// so that a plugin writing more is never blocked on a full pipe. It has no
// ReadFrom method on purpose: io.Copy must go through Write.
type capBuffer struct {
	buf []byte
	max int
	cut bool
}

func (b *capBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := b.max - len(b.buf); n > room {
		b.cut = true
		p = p[:max(room, 0)]
	}
	b.buf = append(b.buf, p...)
	return n, nil
}

func (b *capBuffer) Bytes() []byte  { return b.buf }
func (b *capBuffer) String() string { return string(b.buf) }
func (b *capBuffer) Len() int       { return len(b.buf) }
