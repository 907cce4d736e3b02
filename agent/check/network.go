package check

import "context"

// The network check reports, per network interface (label interface), the
// kernel's cumulative counters since the interface appeared. All are
// counters: rates are computed at query time. On Linux these are the
// interfaces of the agent's network namespace (/proc/net/dev).
func init() {
	Register(Def[NetworkOptions]{
		Name:    "network",
		Default: true,
		Doc: `Per network interface: the kernel's cumulative counters since the
interface appeared (rates are computed at query time).`,
		Labels:   []string{"interface"},
		Metrics:  netMetrics[:],
		Defaults: newNetworkOptions,
		Sample: `## Interfaces to report, as globs ("eth*", "en*"). Empty: every interface
## not excluded.
# include_interfaces = []
## Interfaces never to report, as globs. The default leaves out the
## loopback ("lo0" on macOS and BSD); container hosts may add "veth*".
# exclude_interfaces = ["lo", "lo0"]`,
		New: func(o *NetworkOptions) (Check, error) {
			f, err := newNameFilter("include_interfaces", o.IncludeInterfaces, "exclude_interfaces", o.ExcludeInterfaces)
			if err != nil {
				return nil, err
			}
			return &networkCheck{filter: f}, nil
		},
	})
}

// NetworkOptions are the options of the network check.
type NetworkOptions struct {
	// IncludeInterfaces lists the interfaces to report, as path.Match
	// globs ("eth*", "en[ops]*"); empty reports every interface not
	// excluded.
	IncludeInterfaces []string `toml:"include_interfaces"`
	// ExcludeInterfaces lists interfaces never to report, as globs; an
	// exclusion wins over an inclusion. Default: the loopback ("lo", and
	// "lo0" on macOS and BSD). Busy container hosts may add "veth*".
	ExcludeInterfaces []string `toml:"exclude_interfaces"`
}

func newNetworkOptions() *NetworkOptions {
	return &NetworkOptions{ExcludeInterfaces: []string{"lo", "lo0"}}
}

// netCounters are one interface's counters, in the order of netMetrics.
type netCounters [len(netMetrics)]uint64

// netMetrics are the network check's metrics, reported in this order from
// netCounters.
var netMetrics = [...]MetricDef{
	{Name: "rx_bytes", Type: Counter, Doc: "bytes received"},
	{Name: "tx_bytes", Type: Counter, Doc: "bytes sent"},
	{Name: "rx_packets", Type: Counter, Doc: "packets received"},
	{Name: "tx_packets", Type: Counter, Doc: "packets sent"},
	{Name: "rx_errors", Type: Counter, Doc: "packets received with errors"},
	{Name: "tx_errors", Type: Counter, Doc: "packets not sent for errors"},
	{Name: "rx_dropped", Type: Counter, Doc: "packets received and dropped (on Linux also those missed for lack of buffer space)"},
	{Name: "tx_dropped", Type: Counter, Doc: "packets dropped before sending"},
}

type networkCheck struct {
	filter nameFilter
	cache  seriesCache
	rd     netReader // OS-specific
}

func (c *networkCheck) Run(ctx context.Context, r *Result) error {
	c.cache.begin()
	err := c.rd.read(ctx, func(name []byte, v netCounters) {
		e := c.cache.lookup(name, c.newEntry)
		if !e.report {
			return
		}
		for i := range netMetrics {
			r.Counter(netMetrics[i].Name, float64(v[i]), e.labels...)
		}
	})
	if err != nil {
		return err
	}
	c.cache.end()
	return nil
}

func (c *networkCheck) newEntry(name string) *seriesEntry {
	return &seriesEntry{
		labels: []Label{{Key: "interface", Value: labelValue(name)}},
		report: c.filter.match(name),
	}
}
