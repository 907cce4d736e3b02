package check

import "context"

// The system check reports:
//
//	uptime_seconds  time since boot
//	processes       processes that exist now (not threads)
//	users           user login sessions, as who(1) lists them
//
// On Linux users counts the USER_PROCESS records of utmp (/var/run/utmp);
// where utmp is not kept (Debian 13 and other systemd-only hosts), it
// counts systemd-logind's sessions of class user from /run/systemd/sessions
// instead. When the host keeps neither (most containers), users is left out.
func init() {
	Register(Factory{
		Name:    "system",
		Default: true,
		Options: func() any { return newNoOptions() },
		New: func(opts any) (Check, error) {
			if _, err := optionsAs("system", opts, newNoOptions); err != nil {
				return nil, err
			}
			return &systemCheck{}, nil
		},
	})
}

type sysStats struct {
	uptime    float64 // seconds
	processes uint64
	users     uint64
	hasUsers  bool
}

type systemCheck struct {
	rd sysReader // OS-specific
}

func (c *systemCheck) Run(ctx context.Context, r *Result) error {
	s, err := c.rd.read(ctx)
	if err != nil {
		return err
	}
	r.Gauge("uptime_seconds", s.uptime)
	r.Gauge("processes", float64(s.processes))
	if s.hasUsers {
		r.Gauge("users", float64(s.users))
	}
	return nil
}
