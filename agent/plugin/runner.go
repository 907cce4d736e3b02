package plugin

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/vigilmon/vigil/agent/check"
)

// stderrTailBytes is how much of the end of a long stderr is kept to find
// the line that says why the plugin failed.
const stderrTailBytes = 1024

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

// NotFoundError is a plugin path that leads to no file.
type NotFoundError struct {
	Path    string
	Missing string // the first path on the way that does not exist, if known
}

func (e *NotFoundError) Error() string {
	if e.Missing == "" || e.Missing == e.Path {
		return fmt.Sprintf("plugin %s: not found", e.Path)
	}
	return fmt.Sprintf("plugin %s: not found: %s does not exist", e.Path, e.Missing)
}

// Unwrap makes errors.Is(err, fs.ErrNotExist) hold.
func (e *NotFoundError) Unwrap() error { return fs.ErrNotExist }

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
	skipped map[string]string // check id -> the skipped lines last logged
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
	return &Runner{dir: o.Dir, sem: make(chan struct{}, o.Concurrency), log: o.Logger, waitDelay: time.Second, refused: map[string]string{}, skipped: map[string]string{}}
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
	skipped, err := parse(cfg.Format, out, res.exitCode, r)
	rn.logSkipped(ctx, checkID, path, skipped)
	if err != nil {
		return finish(r, fmt.Errorf("plugin %s: %w", path, err))
	}
	// A message that only says "plugin exited with code N" (maybe with a
	// note after it) gets stderr's reason.
	if em := exitMessage(res.exitCode); res.exitCode != 0 && (r.Message == em || strings.HasPrefix(r.Message, em+" [")) {
		if line := lastStderrLine(res.stderr); line != "" {
			r.Message = em + ": " + cleanMessage(line, maxStderrInMessage) + r.Message[len(em):]
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
		if nf := (*NotFoundError)(nil); errors.As(err, &nf) {
			return "", &NotFoundError{Path: path, Missing: cmp.Or(nf.Missing, rn.dir)}
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
		if errors.Is(err, fs.ErrNotExist) {
			rn.log.WarnContext(ctx, "plugin not found", slog.String("check", checkID), slog.String("err", msg))
			return
		}
		rn.log.WarnContext(ctx, "plugin refused: it could be changed by a user other than root and the agent's", slog.String("check", checkID), slog.String("err", msg))
	}
}

// logSkipped logs the lines of a plugin's output that the parser skipped,
// at most MaxSkippedReported of them, once, and again only when what is
// skipped changes: the result's message and its plugin_parse_errors metric
// say it every run.
func (rn *Runner) logSkipped(ctx context.Context, checkID, path string, s Skipped) {
	note := s.note()
	rn.mu.Lock()
	last, seen := rn.skipped[checkID]
	if note == "" {
		delete(rn.skipped, checkID)
	} else {
		rn.skipped[checkID] = note
	}
	rn.mu.Unlock()
	if note == "" || seen && last == note {
		return
	}
	errs := make([]string, len(s.Errors))
	for i, e := range s.Errors {
		errs[i] = e.Error()
	}
	rn.log.WarnContext(ctx, "plugin output lines skipped: they are not in the format; the other lines count",
		slog.String("check", checkID),
		slog.String("plugin", path),
		slog.Int("lines", s.Lines),
		slog.String("first", strings.Join(errs, "; ")))
}

// maxStderrInMessage bounds the stderr line added to a result's message.
const maxStderrInMessage = 160

// lastStderrLine is the last line of a plugin's stderr that says
// something: a Python traceback ends with "SyntaxError: ..." or
// "KeyError: 'x'", after lines of source and of ^^^^ markers; a shell
// says "line 3: foo: not found" last. A line without a letter or digit
// (markers, rules, braces) says nothing. When stderr was cut, its tail is
// read, since that is where the reason is.
func lastStderrLine(b *capBuffer) string {
	text := b.String()
	if b.cut {
		text = string(b.tail)
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			text = text[i+1:] // the tail starts inside a line
		}
	}
	for text != "" {
		var line string
		if i := strings.LastIndexByte(text, '\n'); i >= 0 {
			text, line = text[:i], text[i+1:]
		} else {
			text, line = "", text
		}
		line = strings.TrimSpace(line)
		if strings.IndexFunc(line, func(c rune) bool { return unicode.IsLetter(c) || unicode.IsDigit(c) }) >= 0 {
			return line
		}
	}
	return ""
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
	res := execResult{stdout: &capBuffer{max: cfg.MaxOutputBytes}, stderr: &capBuffer{max: StderrBytes, tailMax: stderrTailBytes}}
	tctx, cancel := context.WithTimeout(ctx, cfg.Timeout.Duration)
	defer cancel()

	command := func(name, argv0 string, args ...string) *exec.Cmd {
		cmd := exec.CommandContext(tctx, name, args...)
		cmd.Args[0] = argv0
		cmd.Env = pluginEnv(cfg.Env, checkID, interval)
		cmd.Stdin = nil // the null device: reads see end of file
		cmd.Stdout, cmd.Stderr = res.stdout, res.stderr
		cmd.WaitDelay = rn.waitDelay
		setGroup(cmd)
		cmd.Cancel = func() error { return killGroup(cmd) }
		return cmd
	}
	cmd := command(real, path, cfg.Args...)
	err := cmd.Start()
	if err != nil && noInterpreter(err) {
		// A script without "#!" (or with a typo in it: "#/usr/bin/env
		// bash") is run by /bin/sh, as execvp and shells do on ENOEXEC:
		// plugins written for other agents rely on it. The file is the one
		// checked; a binary for another system is not fed to the shell.
		if why := notScript(real); why != "" {
			return res, fmt.Errorf("plugin %s: start: %w (%s)", path, err, why)
		}
		cmd = command(shellPath, shellPath, append([]string{real}, cfg.Args...)...)
		err = cmd.Start()
	}
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

// notScript says why the file at path, which the kernel would not
// execute, is no shell script either ("" if it may be one): it holds a NUL
// byte in its first 512 bytes, as binaries do.
func notScript(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	if bytes.IndexByte(head[:n], 0) >= 0 {
		return "a binary file, not a script; built for another system?"
	}
	return ""
}

// capBuffer keeps the first max bytes written to it and drops the rest,
// so that a plugin writing more is never blocked on a full pipe; with
// tailMax set, it also keeps the last tailMax bytes written. It has no
// ReadFrom method on purpose: io.Copy must go through Write.
type capBuffer struct {
	buf     []byte
	max     int
	cut     bool
	tail    []byte
	tailMax int
}

func (b *capBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if b.tailMax > 0 {
		if len(p) >= b.tailMax {
			b.tail = append(b.tail[:0], p[len(p)-b.tailMax:]...)
		} else {
			if drop := len(b.tail) + len(p) - b.tailMax; drop > 0 {
				b.tail = append(b.tail[:0], b.tail[drop:]...)
			}
			b.tail = append(b.tail, p...)
		}
	}
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
