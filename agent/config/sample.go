package config

import "github.com/vigilmon/vigil/agent/check"

//go:generate sh -c "go run ../../cmd/vigil-agent config > ../../packaging/agent.toml"

// SampleConfig returns the commented agent configuration shipped as
// packaging/agent.toml (written by go generate; a test fails when it
// differs) and printed by `vigil-agent config`. Lines starting
// "##" document; lines starting "# " are settings at their defaults or at
// example values, to uncomment. A test parses it uncommented, strictly.
func SampleConfig() string { return sampleHead + "\n" + check.SampleConfig() + "\n" + samplePlugins }

const sampleHead = `## Vigil agent configuration (/etc/vigil/agent.toml).
## Strict TOML: an unknown key is an error naming the key and its line.
## Print this file with: vigil-agent config

[agent]
  ## Name of this server at the collector: 1-128 of A-Z a-z 0-9 . _ -.
  ## Default: the hostname.
  # id = "web-1"
  ## Agent token (role agent), from ` + "`vigil-collector token create --role agent`" + `.
  ## token_file, if set, is read instead, so the secret can live apart.
  # token = "vgl_..."
  # token_file = "/etc/vigil/agent-token"
  ## Labels of this agent (not of each metric); keys [a-z_][a-z0-9_]*, at most 16.
  # labels = { env = "prod", role = "web" }
  ## Default interval and timeout of every check and plugin.
  # interval = "30s"
  # timeout = "30s"
  ## Where the agent keeps its state.
  # state_dir = "/var/lib/vigil/agent"
  ## Where relative plugin paths are looked up, and how many plugins may
  ## run at once.
  # plugin_dir = "/usr/lib/vigil/plugins"
  # plugin_concurrency = 4

[transport]
  ## Collector QUIC addresses (host:port), preferred first.
  # collectors = ["collector.example.com:4433"]
  ## CA that signed the collector's certificate; empty: the system roots.
  # ca_file = "/etc/vigil/ca.pem"
  ## Name to verify in the collector's certificate; default: the host of
  ## the address.
  # server_name = ""
  ## Optional client certificate.
  # cert_file = ""
  # key_file = ""
  ## A batch not acked within ack_timeout marks the collector as failed:
  ## the agent moves to the next one and sends the batch again there.
  # ack_timeout = "3s"
  ## While on a collector other than the first, the agent checks whether
  ## a preferred one is back: first about reconnect_min after the failover,
  ## then at doubling gaps up to probe_interval.
  # probe_interval = "30s"
  ## Backoff between rounds of failed connection attempts: exponential,
  ## with full jitter, between these bounds. A lost session is retried
  ## within reconnect_min; a busy collector's "retry after" wins over it.
  # reconnect_min = "1s"
  # reconnect_max = "15s"
  ## Warn in the log when this host's clock is off the collector's by more
  ## than this (measured at each connect, reported as the agent check's
  ## clock_offset_seconds): results carry this host's time.
  # clock_offset_warn = "30s"
  ## The collector's HTTPS API, for delivery over POST /v1/ingest where
  ## QUIC (UDP) cannot get through; http:// only on a loopback address.
  ## Written by ` + "`vigil-agent setup`" + `; empty: no fallback.
  # https = "https://collector.example.com:8443"

[spool]
  ## Every batch is written here (state_dir/spool) before it is sent and
  ## removed when a collector acks it, so outages and restarts lose
  ## nothing. When full, the oldest batches are dropped and counted.
  # max_bytes = 268435456
  ## fsync policy: "interval" (group commit every sync_interval: a machine
  ## crash loses at most that much), "always" (every batch), "never".
  # sync = "interval"
  # sync_interval = "1s"

[log]
  ## debug, info, warn or error; text or json (to stderr).
  # level = "info"
  # format = "text"
`

const samplePlugins = `## Plugin checks: executables that print a result in the Cloudkick /
## Rackspace, Nagios or Influx line format. Each [plugins.NAME] table is
## the check plugin.NAME. The file, every directory above it up to /, and
## every symlink on the way must be owned by root or the agent's user, and
## the file and directories writable by neither group nor others (not /tmp).
## Options: path (absolute, or under agent.plugin_dir, which a relative
## path may not leave, not even through a symlink), args, env (a table),
## format ("cloudkick", "nagios", "influx", or "" to detect), timeout
## (default: the interval, at most agent.timeout), max_output_bytes
## (default 65536), interval, enabled.
# [plugins.root_disk]
# path = "/usr/lib/nagios/plugins/check_disk"
# args = ["-w", "10%", "-c", "5%", "-p", "/"]
# format = "nagios"
# interval = "60s"
# timeout = "10s"
# env = { LC_ALL = "C" }
# max_output_bytes = 65536
# enabled = true
`
