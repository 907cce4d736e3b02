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
//     The real path found is executed, with the configured path as argv[0];
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
//     info otherwise; the first stderr line is also added to a message that
//     would otherwise only say "plugin exited with code N";
//   - on timeout (Config.Timeout, default 30s) or when the context is done,
//     kills the whole process group with SIGKILL (on other systems than
//     unix: the process only);
//   - when the plugin has exited, waits at most one more second for its
//     stdout and stderr to close (exec.Cmd.WaitDelay: a background process
//     may still hold them), then kills whatever the plugin left running in
//     its process group. A process that left the group (setsid, daemons)
//     is not followed.
//
// A run that fails (refused file, cannot start, timeout, killed by a
// signal, malformed output) gives status unknown with the reason as the
// message, and Run returns that same reason as an error. Run never panics
// on plugin output.
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
// most one unit word (at most 64 bytes). Any other line fails the check with
// a message naming the line number and what is wrong.
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
// unknown. The message is the text of the first line before '|' (long
// output on later lines is not kept). Performance data follows '|' on the
// first line, and on the line of the long output that has a '|' and every
// line after it, as the Nagios plugin API describes:
//
//	'label'=value[UOM];[warn];[crit];[min];[max]
//
// Items are separated by spaces. A label in single quotes may hold spaces
// and '=', and two single quotes in a row stand for one. A label that is a valid metric name
// of at most 123 bytes (so that the suffixes below fit) becomes the metric's
// name; any other label (such as "/" or "/ free") becomes the value of the
// label "perfdata" on a metric named "value", as Telegraf's Nagios parser
// does. The value "U" (unknown) skips the item. UOM s, ms, us, %, B, KB, MB,
// GB, TB is kept as the metric's unit, value unchanged; c makes the metric a
// counter without unit; other alphabetic units (KiB, MiB, ns, °C …) are kept
// as they are; anything else is an error (such as "1,5": a decimal comma).
// warn, crit, min and max that are plain numbers become gauges named with
// the suffixes _warn, _crit, _min and _max (same labels and unit; a unit
// repeated on a threshold is accepted). Ranges in warn or crit (10:20, 10:,
// ~:10, @10:20, @5) are checked for syntax and not kept: a range does not
// fit one number, and alert rules belong on the collector side. A malformed
// item fails the check with a message naming the line and the item.
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
// least one field, it is Influx; otherwise it is Nagios. Configure the
// format explicitly where it is known: a Cloudkick plugin that fails before
// printing its status line would otherwise be read as Nagios.
package plugin
