package check

// SampleConfig returns the documented configuration of every built-in
// check, as TOML for the agent's config file: a [checks.<name>] table per
// check with each option commented out at its default (interval and
// timeout, the scheduler's, at example values). A test decodes it strictly
// with each check's Options, so it cannot drift from the code.
func SampleConfig() string { return sampleConfig }

const sampleConfig = `## Built-in checks. Each [checks.<name>] table configures one check; a
## check runs with its defaults when its table is absent. Every check takes
## these settings, read by the agent's scheduler rather than by the check:
##
##   enabled  = true    # false stops the check
##   interval = "30s"   # how often it runs; default: agent.interval (30s)
##   timeout  = "10s"   # a run taking longer is cancelled and its status is
##                      # unknown; default: agent.timeout, else the interval
##                      # (at most 30s)
##
## Below, each check's own options are commented out at their defaults, and
## interval and timeout at example values. Globs are path.Match patterns:
## "*" matches any run of characters but "/", "?" one character, "[a-z]" a
## class. Where a check has include and exclude lists, a name is reported
## when it matches the include list (or that list is empty) and does not
## match the exclude list: an exclusion wins.

[checks.cpu]
  ## Percent of CPU time, of all CPUs together, since the previous run:
  ## usage_percent, user_percent, system_percent, iowait_percent,
  ## steal_percent, idle_percent; and count, the number of online CPUs.
  ## The first run only reports count. No options.
  # interval = "30s"
  # timeout = "10s"

[checks.memory]
  ## total_bytes, used_bytes (total - available), available_bytes,
  ## used_percent, swap_total_bytes, swap_used_bytes. No options.
  # interval = "30s"
  # timeout = "10s"

[checks.filesystem]
  ## Per mounted filesystem (labels mount, device, fstype), as df shows:
  ## total_bytes, used_bytes, free_bytes (available to non-root),
  ## used_percent, inodes_total, inodes_used. A filesystem mounted again
  ## elsewhere (a bind mount) is reported once, at its first mount point.
  # interval = "30s"
  # timeout = "10s"
  ## Mount points to report, as globs ("/", "/data/*"). Empty: every mount
  ## not excluded.
  # include_mounts = []
  ## Mount points never to report, as globs ("/var/lib/docker/*").
  # exclude_mounts = []
  ## Filesystem types to report, as globs ("ext4", "xfs", "nfs*"). Empty:
  ## every type not excluded.
  # include_fstypes = []
  ## Filesystem types never to report, as globs. The default lists pseudo
  ## and virtual filesystems; to report one of them (overlay, tmpfs), set
  ## a list without it.
  # exclude_fstypes = [
  #   "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs",
  #   "debugfs", "devfs", "devpts", "devtmpfs", "efivarfs", "fdescfs",
  #   "fuse.gvfsd-fuse", "fuse.lxcfs", "fuse.portal", "fusectl", "hugetlbfs",
  #   "mqueue", "nsfs", "nullfs", "overlay", "proc", "procfs", "pstore",
  #   "ramfs", "rootfs", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs",
  #   "sysfs", "tmpfs", "tracefs",
  # ]
  ## Longest wait for one mount's statfs. A mount that does not answer in
  ## time (a hung NFS server) is skipped, the status is warn, and later
  ## runs skip it at once until its statfs returns.
  # mount_timeout = "5s"

[checks.disk]
  ## Per whole block device, partitions left out (label device):
  ## read_bytes, write_bytes, reads, writes, io_time_ms (counters).
  # interval = "30s"
  # timeout = "10s"
  ## Devices to report, as globs ("sd*", "nvme*"). Empty: every device not
  ## excluded.
  # include_devices = []
  ## Devices never to report, as globs. The default leaves out loop
  ## devices, RAM disks, zram and floppies. Device mapper (dm-*: LVM,
  ## dm-crypt) and RAID (md*) devices are reported; their I/O is counted
  ## again on the disks beneath them, so add "dm-*" to sum without
  ## counting twice.
  # exclude_devices = ["loop*", "ram*", "zram*", "fd*"]

[checks.network]
  ## Per network interface (label interface): rx_bytes, tx_bytes,
  ## rx_packets, tx_packets, rx_errors, tx_errors, rx_dropped, tx_dropped
  ## (counters).
  # interval = "30s"
  # timeout = "10s"
  ## Interfaces to report, as globs ("eth*", "en*"). Empty: every interface
  ## not excluded.
  # include_interfaces = []
  ## Interfaces never to report, as globs. The default leaves out the
  ## loopback ("lo0" on macOS and BSD); container hosts may add "veth*".
  # exclude_interfaces = ["lo", "lo0"]

[checks.load]
  ## load1, load5, load15: load averages over 1, 5 and 15 minutes, not
  ## divided by the number of CPUs. No options.
  # interval = "30s"
  # timeout = "10s"

[checks.system]
  ## uptime_seconds; processes (not threads); users, the login sessions
  ## who(1) lists (left out where the host keeps no record of them).
  ## No options.
  # interval = "30s"
  # timeout = "10s"
`
