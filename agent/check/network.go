package check

import "context"

// The network check reports, per network interface (label interface), the
// kernel's cumulative counters since the interface appeared:
//
//	rx_bytes, tx_bytes      bytes received, sent
//	rx_packets, tx_packets  packets received, sent
//	rx_errors, tx_errors    packets with errors
//	rx_dropped, tx_dropped  packets dropped (on Linux rx_dropped includes
//	                        packets missed for lack of buffer space)
//
// All are counters: rates are computed at query time. On Linux these are
// the interfaces of the agent's network namespace (/proc/net/dev).
func init() {
	Register(Factory{
		Name:    "network",
		Default: true,
		Options: func() any { return newNetworkOptions() },
		New: func(opts any) (Check, error) {
			o, err := optionsAs("network", opts, newNetworkOptions)
			if err != nil {
				return nil, err
			}
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
type netCounters [8]uint64

var netMetrics = [8]string{
	"rx_bytes", "tx_bytes", "rx_packets", "tx_packets",
	"rx_errors", "tx_errors", "rx_dropped", "tx_dropped",
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
		for i, m := range netMetrics {
			r.Counter(m, float64(v[i]), e.labels...)
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
