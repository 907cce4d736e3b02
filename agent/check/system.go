package check

import "context"

// The system check reports the host's uptime, its processes and who is
// logged in. On Linux users counts the USER_PROCESS records of utmp
// (/var/run/utmp); where utmp is not kept (Debian 13 and other
// systemd-only hosts), it counts systemd-logind's sessions of class user
// from /run/systemd/sessions instead. When the host keeps neither (most
// containers), users is left out.
func init() {
	Register(Def[NoOptions]{
		Name:    "system",
		Default: true,
		Doc:     `The host's uptime, processes and login sessions. No options.`,
		Metrics: []MetricDef{
			{Name: "uptime_seconds", Type: Gauge, Doc: "time since boot"},
			{Name: "processes", Type: Gauge, Doc: "processes that exist now (not threads)"},
			{Name: "users", Type: Gauge, Optional: true,
				Doc: "login sessions, as who(1) lists them; left out where the host keeps no record of them"},
		},
		New: func(*NoOptions) (Check, error) { return &systemCheck{}, nil },
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
