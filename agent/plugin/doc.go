// Package plugin runs custom plugin checks (DESIGN §4): executables that
// print a result on stdout in one of three formats, which this package
// parses into a check.Result.
//
// # Running
//
// A Runner executes plugins with a bounded number running at once (default
// 4, one semaphore shared by every plugin check; waiting for a slot gives up
// when the context is done). For each run it:
//
//   - resolves a relative Config.Path against the plugin directory
//     (default /usr/lib/vigil/plugins);
//   - walks the path from / one component at a time, following symlinks
//     itself (at most 40), and refuses it unless every directory on the
//     way is owned by root or the agent's user and writable by neither
//     group nor others (sticky or not), every symlink is owned by root or
//     the agent's user, and the file is a regular executable file owned
//     likewise and writable by neither group nor others; a relative path
//     must also end inside the plugin directory. The message names the
//     path at fault, the rule and the fix, e.g. "plugin /x/y: refused:
//     directory /x is writable by others (mode 0777); fix: chmod o-w /x".
//     The real path found is executed, with the configured path as argv[0].
//     A path that leads to no file gives "plugin PATH: not found" (naming
//     the missing directory when that is what is missing);
//   - runs a file the kernel will not execute (ENOEXEC: no "#!" line, or a
//     typo in it such as "#/usr/bin/env bash") with /bin/sh, as execvp and
//     shells do: "/bin/sh REAL-PATH ARGS...", so the script's $0 is its real
//     path. A file with a NUL byte in its first 512 bytes (a binary for
//     another system) is not given to the shell: "exec format error";
//   - starts it in its own process group (unix) with stdin on the null
//     device (a read sees end of file at once), the agent's environment plus
//     Config.Env plus VIGIL_CHECK_ID, VIGIL_CHECK_INTERVAL (seconds),
//     and for Rackspace plugins RAX_CHECK_ID, RAX_CHECK_PERIOD (seconds)
//     and RAX_CHECK_TYPE=agent.plugin;
//   - keeps at most Config.MaxOutputBytes of stdout (default 64 KiB): the
//     rest is read and dropped, the kept part is cut back to its last whole
//     line, and the result's message says the output was cut;
//   - keeps at most 4 KiB of stderr and logs it with log/slog (attribute
//     "check" = the check id): at level warn when the result is unknown,
//     info otherwise. A message that would only say "plugin exited with
//     code N" also gets the last stderr line with a letter or digit in it
//     (at most 160 bytes; the last 1 KiB of a longer stderr is kept for
//     it): a Python traceback's "SyntaxError: invalid syntax" or
//     "KeyError: 'x'", a shell's "line 3: foo: not found";
//   - on timeout (Config.Timeout, default 30s) or when the context is done,
//     kills the whole process group with SIGKILL (on other systems than
//     unix: the process only);
//   - when the plugin has exited, waits at most one more second for its
//     stdout and stderr to close (exec.Cmd.WaitDelay: a background process
//     may still hold them), then kills whatever the plugin left running in
//     its process group. A process that left the group (setsid, daemons)
//     is not followed.
//
// A run that fails (refused or missing file, cannot start, timeout, killed
// by a signal, malformed output) gives status unknown with the reason as
// the message, and Run returns that same reason as an error. Run never
// panics on plugin output.
//
// # Cloudkick / Rackspace format
//
// Compatible with plugins written for the Cloudkick and Rackspace Cloud
// Monitoring agents. One directive per line; blank lines are skipped;
// leading and trailing white space (and a CR before the LF) are ignored:
//
//	status <text>                       message; status ok
//	status ok|warn|err <text>           legacy form: status ok, warn or crit,
//	                                    message <text>, and a string metric
//	                                    legacy_state = ok|warn|err, as the
//	                                    Rackspace agent adds
//	state available|unavailable         unavailable makes the status unknown
//	timestamp <ms>                      validated (a non-negative integer),
//	                                    then ignored: results are stamped with
//	                                    their scheduled time (DESIGN §3)
//	metric <name> <type> <value> [unit]
//
// The keyword must be a whole word. Only the first status, state and
// timestamp line counts (as in the Rackspace agent); later ones are checked
// and ignored. Metric names are kept whole, dots included (latency.p99), and
// must match [A-Za-z0-9_.:-]{1,128}. Types: string, gauge, int32, uint32,
// int64, uint64, double, and the aliases int (int64) and float (double).
// Integer types take integers within their range only; gauge and double take
// any finite decimal number. Every numeric type becomes a gauge. A string
// metric's value is the rest of the line (spaces kept, invalid UTF-8
// replaced, at most 1024 bytes) and it has no unit; a numeric metric takes at
// most one unit word (at most 64 bytes).
//
// A line that is none of these, or a directive that does not parse
// ("Checking things...", "metric b int32 1.5", "state maybe"), is skipped,
// as the Rackspace agent skips it; the other lines count. The result then
// has a gauge plugin_parse_errors (the number of lines skipped; absent
// when none were), and its message ends with a note naming the first
// three, cut to fit the 256-byte message with at least 96 bytes left for
// the note: "all good [2 lines skipped; line 1: unrecognized line
// "Checking things...": want status, state, timestamp or metric; line 4:
// ...]". The runner logs them at warn, once, and again when they change.
// Metric lines past the 2000-metric limit are skipped likewise. Output in
// which no line could be read fails the check (status unknown, the first
// line's error as message), unless the exit code is non-zero: then the
// plugin failed before its status line, and the message is "plugin exited
// with code N" with stderr's reason and the note.
//
// A non-zero exit code (the Rackspace agent treats it as an error): the
// status is that of a legacy "status ok|warn|err" line if there is one,
// otherwise unknown; the message is the status text followed by
// "(exit code N)", or "plugin exited with code N" when there is no status
// line. Metrics that parsed are kept.
//
// # Nagios / Monitoring Plugins format
//
// Exit code 0, 1, 2, 3 gives ok, warn, crit, unknown; any other code gives
// unknown. The message is the text of the first line before '|', followed
// by the long output: the text of each later non-blank line (before the
// '|' that ends it, if any) after "; " (or a space when the text before
// already ends with ';'). The first line is kept whole; the long output
// fills the rest of the 256 bytes and is cut with "…": a status message
// is one line (DESIGN §3), and the first line is the summary. Performance data follows '|' on the
// first line, and on the line of the long output that has a '|' and every
// line after it, as the Nagios plugin API describes:
//
//	'label'=value[UOM];[warn];[crit];[min];[max]
//
// Items are separated by spaces. A label in single quotes may hold spaces
// and '=', and two single quotes in a row stand for one. A label that is a valid metric name
// of at most 112 bytes (so that the longest suffix below, _crit_inside_max,
// fits) becomes the metric's name; any other label (such as "/" or
// "/ free") becomes the value of the label "perfdata" on a metric named
// "value", as Telegraf's Nagios parser does.
//
// The value "U" (the plugin could not measure it) adds no metric; the
// message ends with a note naming such items, at most 8:
// "OK [unknown (U): "a", "b"]". The status stays the exit code's.
//
// Units of measure of the plugin guidelines are converted to base units,
// as Prometheus names them (unit, value):
//
//	s            s, unchanged
//	ms, us       s, value / 1000, / 1000000
//	B            B, unchanged
//	KB MB GB TB  B, value * 1024, 1024², 1024³, 1024⁴ (check_disk's and
//	             check_swap's kilobyte is 1024 bytes)
//	%            %, unchanged
//	c            no unit; the metric is a counter
//
// Other alphabetic units (KiB, MiB, ns, °C …) are kept as they are, value
// unchanged; anything else is an error (such as "1,5": a decimal comma).
// Thresholds and bounds get the value's conversion and unit (a unit
// repeated on them is accepted).
//
// warn, crit, min and max that are plain numbers become gauges named with
// the suffixes _warn, _crit, _min and _max (same labels and unit). A range
// in warn or crit becomes up to two gauges. start:end alerts outside the
// range: _warn_min = start, _warn_max = end. @start:end alerts inside it:
// _warn_inside_min and _warn_inside_max. An infinite end has no gauge
// ("~:100" gives only _warn_max = 100, "10:" only _warn_min = 10), ":N" and
// "@N" start at 0, and crit works the same with _crit. A plain number N
// (which Nagios reads as 0:N) stays _warn = N. So `procs=107;10:20;@0:5`
// gives procs, procs_warn_min 10, procs_warn_max 20,
// procs_crit_inside_min 0 and procs_crit_inside_max 5. A malformed item
// fails the check with a message naming the line and the item.
//
// # Influx line protocol (Telegraf exec scripts)
//
// Parsed with github.com/influxdata/line-protocol/v2, one entry per line
// (blank lines and # comments skipped; raw newlines inside string fields are
// not supported, as InfluxDB's documentation also says). Each field becomes
// a metric named <measurement>.<field>, e.g. "cpu usage_idle=5" gives
// cpu.usage_idle; the name must match [A-Za-z0-9_.:-]{1,128}, otherwise the
// line is an error naming the measurement and field. Tags become labels;
// a tag key must match [a-z_][a-z0-9_]{0,63} and a value be at most 256
// bytes, with at most 16 tags: otherwise the line is an error naming the tag
// (keys are not rewritten, so two series never silently merge). Float,
// integer and unsigned fields become gauges, booleans gauges 0 or 1,
// strings string metrics. A timestamp is validated and ignored (DESIGN §3).
// Exit code 0 gives status ok; any other gives unknown with the exit code in
// the message, keeping the metrics that parsed.
//
// # Format detection
//
// With Config.Format empty, the output decides: if the first non-blank line
// starts with the word status, state, metric or timestamp, the output is
// Cloudkick (unless that line is not valid Cloudkick but is a valid line
// protocol entry, such as "metric value=1"); else, if the first line that is
// neither blank nor a # comment is a complete line protocol entry with at
// least one field, it is Influx; otherwise, if the first line has no '|'
// and a later line is a valid Cloudkick status or metric line (a plugin
// that prints "Checking things..." first), it is Cloudkick; otherwise it is
// Nagios. Configure the format explicitly where it is known: a Cloudkick
// plugin that fails before printing its status line would otherwise be
// read as Nagios.
package plugin
