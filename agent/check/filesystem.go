package check

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// The filesystem check reports, per mounted filesystem (labels mount,
// device, fstype), what df(1) shows. Pseudo and virtual filesystems (proc,
// tmpfs, overlay, ...) are skipped by default, and so are filesystems of
// size 0. A mount point mounted over another is reported once, for the
// filesystem on top.
//
// A mount that cannot be statted (permission denied, stale NFS handle) is
// skipped and named in the result's message; the rest are reported. statfs
// on a hung NFS or FUSE mount can block for ever, so each mount is statted
// by a worker goroutine and waited for at most mount_timeout: a mount that
// takes longer is skipped, the result's status is warn, and later runs skip
// that mount without waiting until its pending statfs returns. Only one
// goroutine per hung mount is ever left blocked.
func init() {
	Register(Def[FilesystemOptions]{
		Name:    "filesystem",
		Default: true,
		Doc: `Per mounted filesystem, as df shows it. A filesystem mounted again
elsewhere (a bind mount) is reported once, at its first mount point.`,
		Labels: []string{"mount", "device", "fstype"},
		Metrics: []MetricDef{
			{Name: "total_bytes", Type: Gauge, Doc: "size of the filesystem"},
			{Name: "used_bytes", Type: Gauge, Doc: "bytes in use"},
			{Name: "free_bytes", Type: Gauge, Doc: "bytes available to non-root (df's Avail: blocks reserved for root are neither used nor free)"},
			{Name: "used_percent", Type: Gauge, Doc: "used / (used + free) * 100, as df's Use%"},
			{Name: "inodes_total", Type: Gauge, Doc: "inodes (0 on filesystems without a fixed number: btrfs)"},
			{Name: "inodes_used", Type: Gauge, Doc: "inodes in use"},
		},
		Defaults: newFilesystemOptions,
		Sample: `## Mount points to report, as globs ("/", "/data/*"). Empty: every mount
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
# mount_timeout = "5s"`,
		New: func(o *FilesystemOptions) (Check, error) { return newFilesystemCheck(o) },
	})
}

// FilesystemOptions are the options of the filesystem check.
type FilesystemOptions struct {
	// IncludeMounts lists the mount points to report, as path.Match globs
	// ("/", "/data/*"; "*" does not match "/"). Empty reports every mount
	// not excluded.
	IncludeMounts []string `toml:"include_mounts"`
	// ExcludeMounts lists mount points never to report, as globs
	// ("/var/lib/docker/*"). An exclusion wins over an inclusion.
	ExcludeMounts []string `toml:"exclude_mounts"`
	// IncludeFstypes lists the filesystem types to report, as globs
	// ("ext4", "xfs", "nfs*"). Empty reports every type not excluded.
	IncludeFstypes []string `toml:"include_fstypes"`
	// ExcludeFstypes lists filesystem types never to report, as globs;
	// an exclusion wins over an inclusion. Default: pseudo and virtual
	// filesystems, which hold no data of their own or only memory (tmpfs)
	// or are layers over another filesystem (overlay, squashfs snaps). To
	// report one of them, set a list without it.
	ExcludeFstypes []string `toml:"exclude_fstypes"`
	// MountTimeout bounds the wait for one mount's statfs. A mount that
	// does not answer in time (hung NFS server) is skipped, and skipped at
	// once by later runs until its statfs returns.
	MountTimeout Duration `toml:"mount_timeout"`
}

// defaultExcludeFstypes are the pseudo and virtual filesystems of Linux,
// macOS and the BSDs.
var defaultExcludeFstypes = []string{
	"autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs",
	"debugfs", "devfs", "devpts", "devtmpfs", "efivarfs", "fdescfs",
	"fuse.gvfsd-fuse", "fuse.lxcfs", "fuse.portal", "fusectl", "hugetlbfs",
	"mqueue", "nsfs", "nullfs", "overlay", "proc", "procfs", "pstore",
	"ramfs", "rootfs", "rpc_pipefs", "securityfs", "selinuxfs", "squashfs",
	"sysfs", "tmpfs", "tracefs",
}

func newFilesystemOptions() *FilesystemOptions {
	return &FilesystemOptions{
		ExcludeFstypes: append([]string(nil), defaultExcludeFstypes...),
		MountTimeout:   Duration{Duration: 5 * time.Second},
	}
}

func newFilesystemCheck(o *FilesystemOptions) (*filesystemCheck, error) {
	mounts, err := newNameFilter("include_mounts", o.IncludeMounts, "exclude_mounts", o.ExcludeMounts)
	if err != nil {
		return nil, err
	}
	fstypes, err := newNameFilter("include_fstypes", o.IncludeFstypes, "exclude_fstypes", o.ExcludeFstypes)
	if err != nil {
		return nil, err
	}
	if o.MountTimeout.Duration <= 0 {
		return nil, fmt.Errorf("mount_timeout: must be positive, not %s", o.MountTimeout)
	}
	return &filesystemCheck{
		mounts:   mounts,
		fstypes:  fstypes,
		timeout:  o.MountTimeout.Duration,
		stuck:    make(map[string]struct{}),
		seen:     make(map[uint64]struct{}),
		top:      make(map[string]*seriesEntry),
		statfs:   statMount,
		unescape: unescapeMount,
	}, nil
}

// fsUsage is what statfs says of one filesystem, in bytes and inodes.
type fsUsage struct {
	total, used, free, inodesTotal, inodesUsed uint64
}

type filesystemCheck struct {
	mounts, fstypes nameFilter
	timeout         time.Duration
	rd              mountReader // OS-specific
	statfs          func(path string) (fsUsage, error)
	unescape        func(raw []byte) string

	// Entries are keyed by mount, fstype and device as listed (escaped),
	// so that two filesystems stacked on one mount point (autofs, then
	// binfmt_misc) each keep their entry; labels are mount, device, fstype.
	cache  seriesCache
	key    []byte
	order  []*seriesEntry          // reported entries, in mount order
	devs   []uint64                // device of each entry of order; 0: unknown
	seen   map[uint64]struct{}     // devices reported this run
	top    map[string]*seriesEntry // mount point → last entry mounted on it
	timer  *time.Timer
	worker *statWorker // nil when none is idle
	skips  []string    // mounts skipped this run, with why

	mu    sync.Mutex          // guards stuck and the workers' busy and abandoned
	stuck map[string]struct{} // mounts whose statfs timed out and has not returned
}

// statWorker runs statfs for a Run, one mount at a time. A worker whose
// statfs times out is abandoned: it exits when that statfs returns.
type statWorker struct {
	req             chan string // "" asks the worker to exit
	resp            chan statResult
	busy, abandoned bool // guarded by filesystemCheck.mu
}

type statResult struct {
	u   fsUsage
	err error
}

var (
	errMountTimeout = errors.New("statfs timed out")
	errMountStuck   = errors.New("statfs still blocked since an earlier run")
)

func (c *filesystemCheck) Run(ctx context.Context, r *Result) error {
	c.cache.begin()
	c.order = c.order[:0]
	c.devs = c.devs[:0]
	c.skips = c.skips[:0]
	clear(c.top)
	clear(c.seen)
	err := c.rd.read(ctx, func(mount, fstype, device []byte, dev uint64) {
		c.key = append(append(append(append(append(c.key[:0], mount...), 0), fstype...), 0), device...)
		e := c.cache.lookup(c.key, func(string) *seriesEntry {
			return c.newEntry(mount, fstype, device)
		})
		if e.report {
			c.order = append(c.order, e)
			c.devs = append(c.devs, dev)
			c.top[e.mount] = e
		}
	})
	if err != nil {
		return err
	}
	c.cache.end()

	hung := false
	var w *statWorker
	defer func() { c.stopWorker(w) }()
	for i, e := range c.order {
		mount := e.mount
		if c.top[mount] != e {
			continue // mounted over, or listed twice and done
		}
		delete(c.top, mount)
		// A filesystem mounted again elsewhere (a bind mount, such as the
		// PrivateTmp and ReadWritePaths of the agent's own systemd unit) is
		// reported once, at its first mount point.
		if dev := c.devs[i]; dev != 0 {
			if _, dup := c.seen[dev]; dup {
				continue
			}
			c.seen[dev] = struct{}{}
		}
		var u fsUsage
		u, w, err = c.stat(ctx, w, mount)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			hung = hung || err == errMountTimeout || err == errMountStuck
			c.skips = append(c.skips, e.labels[0].Value, err.Error())
			continue
		}
		if u.total == 0 {
			continue
		}
		r.Gauge("total_bytes", float64(u.total), e.labels...)
		r.Gauge("used_bytes", float64(u.used), e.labels...)
		r.Gauge("free_bytes", float64(u.free), e.labels...)
		r.Gauge("used_percent", percent(float64(u.used), float64(u.used)+float64(u.free)), e.labels...)
		r.Gauge("inodes_total", float64(u.inodesTotal), e.labels...)
		r.Gauge("inodes_used", float64(u.inodesUsed), e.labels...)
	}
	if len(c.skips) > 0 {
		r.Message = skipMessage(c.skips)
		if hung {
			r.Status = Warn
		}
	}
	return nil
}

func (c *filesystemCheck) newEntry(mount, fstype, device []byte) *seriesEntry {
	m, f := c.unescape(mount), c.unescape(fstype)
	return &seriesEntry{
		labels: []Label{
			{Key: "mount", Value: labelValue(m)},
			{Key: "device", Value: labelValue(c.unescape(device))},
			{Key: "fstype", Value: labelValue(f)},
		},
		report: m != "" && c.mounts.match(m) && c.fstypes.match(f),
		mount:  m,
	}
}

// stat runs statfs on a mount with worker w, starting one if w is nil, and
// returns the worker to use next (nil after w was abandoned).
func (c *filesystemCheck) stat(ctx context.Context, w *statWorker, mount string) (fsUsage, *statWorker, error) {
	c.mu.Lock()
	if _, ok := c.stuck[mount]; ok {
		c.mu.Unlock()
		return fsUsage{}, w, errMountStuck
	}
	if w == nil {
		if w = c.worker; w == nil {
			w = &statWorker{req: make(chan string, 1), resp: make(chan statResult, 1)}
		}
		c.worker = nil
		go c.work(w)
	}
	w.busy = true
	c.mu.Unlock()

	w.req <- mount
	if c.timer == nil {
		c.timer = time.NewTimer(c.timeout)
	} else {
		c.timer.Reset(c.timeout)
	}
	select {
	case res := <-w.resp:
		c.timer.Stop()
		return res.u, w, res.err
	case <-c.timer.C:
	case <-ctx.Done():
		c.timer.Stop()
	}
	c.mu.Lock()
	if !w.busy { // the answer came just now
		c.mu.Unlock()
		res := <-w.resp
		return res.u, w, res.err
	}
	w.abandoned = true
	c.stuck[mount] = struct{}{}
	c.mu.Unlock()
	return fsUsage{}, nil, errMountTimeout
}

// stopWorker makes the Run's worker exit and keeps it for the next Run.
func (c *filesystemCheck) stopWorker(w *statWorker) {
	if w == nil {
		return
	}
	w.req <- ""
	<-w.resp // the worker's last word: it touches w no more
	c.worker = w
}

func (c *filesystemCheck) work(w *statWorker) {
	for mount := range w.req {
		if mount == "" {
			w.resp <- statResult{}
			return
		}
		u, err := c.statfs(mount)
		c.mu.Lock()
		w.busy = false
		abandoned := w.abandoned
		if abandoned {
			delete(c.stuck, mount)
		}
		c.mu.Unlock()
		if abandoned {
			return
		}
		w.resp <- statResult{u, err}
	}
}

// skipMessage says which mounts were skipped and why, within the 256
// characters of a status message.
func skipMessage(skips []string) string {
	const max = 256
	var b strings.Builder
	n := len(skips) / 2
	if n == 1 {
		b.WriteString("skipped 1 mount: ")
	} else {
		fmt.Fprintf(&b, "skipped %d mounts: ", n)
	}
	for i := 0; i < len(skips); i += 2 {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(skips[i])
		b.WriteString(": ")
		b.WriteString(skips[i+1])
		if b.Len() > max {
			break
		}
	}
	return truncate(b.String(), max)
}
