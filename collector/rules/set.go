package rules

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
)

// Set is the rule groups of every tenant, as the collector runs and
// serves them. Tenants are isolated: Groups answers only the tenant's own.
type Set struct {
	byTenant map[string][]*Group
}

// TenantFiles binds rule files (globs, as Prometheus' rule_files) to the
// tenant whose series their rules query.
type TenantFiles struct {
	Tenant string
	Globs  []string
}

// LoadSet loads every tenant's files and makes their groups, querying
// with query(tenant). The first bad file is the error, naming the file,
// group and rule (LoadFile's).
func LoadSet(tenants []TenantFiles, l Limits, query func(tenant string) QueryFunc, counter Counter) (*Set, error) {
	s := &Set{byTenant: map[string][]*Group{}}
	for _, tf := range tenants {
		seen := map[string]bool{}
		for _, glob := range tf.Globs {
			paths, err := filepath.Glob(glob)
			if err != nil {
				return nil, fmt.Errorf("tenant %s: rule files %q: %w", tf.Tenant, glob, err)
			}
			for _, p := range paths {
				if seen[p] {
					continue
				}
				seen[p] = true
				specs, err := LoadFile(p, l)
				if err != nil {
					return nil, fmt.Errorf("tenant %s: %w", tf.Tenant, err)
				}
				q := query(tf.Tenant)
				for _, spec := range specs {
					s.byTenant[tf.Tenant] = append(s.byTenant[tf.Tenant], NewGroup(tf.Tenant, spec, q, l, counter))
				}
			}
		}
	}
	return s, nil
}

// Groups returns tenant's groups, in file and file order; nil for a nil
// Set.
func (s *Set) Groups(tenant string) []*Group {
	if s == nil {
		return nil
	}
	return s.byTenant[tenant]
}

// Len is the number of groups of all tenants.
func (s *Set) Len() int {
	n := 0
	for _, gs := range s.byTenant {
		n += len(gs)
	}
	return n
}

// Run runs every group's loop (Run) until ctx ends.
func (s *Set) Run(ctx context.Context, log *slog.Logger) {
	var wg sync.WaitGroup
	for _, gs := range s.byTenant {
		for _, g := range gs {
			wg.Go(func() { Run(ctx, g, log) })
		}
	}
	wg.Wait()
}

// Stats are the counts of a Set for the collector's metrics.
type Stats struct {
	// Evaluations and Failures count rule evaluations since start.
	Evaluations, Failures uint64
	// Firing is the alerts firing now.
	Firing int
}

// Stats sums the counts of every group.
func (s *Set) Stats() Stats {
	var st Stats
	for _, gs := range s.byTenant {
		for _, g := range gs {
			st.Evaluations += g.evals.Load()
			st.Failures += g.failures.Load()
			g.mu.Lock()
			for _, r := range g.rules {
				for _, a := range r.active {
					if a.State == StateFiring {
						st.Firing++
					}
				}
			}
			g.mu.Unlock()
		}
	}
	return st
}
