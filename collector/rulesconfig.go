package collector

import (
	"fmt"
	"path/filepath"

	"github.com/vigilmon/vigil/collector/rules"
)

// Rules is [rules]: Prometheus alerting rule files evaluated on the
// series of the tenant they are bound to (issue 16). A file is bound to
// a tenant by listing it under that tenant's [[rules.tenant]]; the same
// file under two tenants is evaluated for each, on its own series.
type Rules struct {
	// Enabled evaluates the rules (default true); false loads nothing.
	Enabled *bool `toml:"enabled"`
	// Tenants are [[rules.tenant]]: name and files.
	Tenants []RulesTenant `toml:"tenant"`
}

// RulesTenant is one [[rules.tenant]].
type RulesTenant struct {
	// Name is the tenant whose series the rules query and to whom
	// /prometheus/api/v1/rules and /alerts show them.
	Name string `toml:"name"`
	// Files are globs of rule files, as Prometheus' rule_files.
	Files []string `toml:"files"`
}

// On reports whether rules are evaluated.
func (r *Rules) On() bool { return r.Enabled == nil || *r.Enabled }

func (r *Rules) defaults() error {
	if r.Enabled == nil {
		on := true
		r.Enabled = &on
	}
	seen := map[string]bool{}
	for i, t := range r.Tenants {
		if t.Name == "" {
			return fmt.Errorf("rules.tenant[%d]: name is required", i)
		}
		if seen[t.Name] {
			return fmt.Errorf("rules.tenant %q: listed twice; put all its files in one [[rules.tenant]]", t.Name)
		}
		seen[t.Name] = true
		if len(t.Files) == 0 {
			return fmt.Errorf("rules.tenant %q: files is empty", t.Name)
		}
		for _, f := range t.Files {
			if _, err := filepath.Match(f, ""); err != nil {
				return fmt.Errorf("rules.tenant %q: files %q: %w", t.Name, f, err)
			}
		}
	}
	return nil
}

// RuleFiles is [rules] for rules.LoadSet; nil when rules are off.
func (c *Config) RuleFiles() []rules.TenantFiles {
	if !c.Rules.On() {
		return nil
	}
	out := make([]rules.TenantFiles, 0, len(c.Rules.Tenants))
	for _, t := range c.Rules.Tenants {
		out = append(out, rules.TenantFiles{Tenant: t.Name, Globs: t.Files})
	}
	return out
}

// RuleLimits bounds rule files: each expr within the [query] limits.
func (c *Config) RuleLimits() rules.Limits {
	return rules.Limits{Query: c.Query.Limits()}
}

// CheckRules loads the rule files of [rules] without running them, so a
// config check refuses a bad file as the start would.
func (c *Config) CheckRules() error {
	_, err := rules.LoadSet(c.RuleFiles(), c.RuleLimits(), func(string) rules.QueryFunc { return nil }, nil)
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	return nil
}
