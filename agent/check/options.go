package check

import (
	"fmt"
	"path"

	"github.com/vigilmon/vigil/internal/tomlconf"
)

// Duration is a time.Duration that reads and writes itself in TOML as a
// Go duration string ("5s", "1m30s"), for options of built-in checks.
type Duration = tomlconf.Duration

// nameFilter decides which names (mount points, devices, interfaces) a
// check reports, from include and exclude lists of path.Match globs. A name
// is reported when the include list is empty or one of its patterns
// matches, and no pattern of the exclude list matches: an exclusion wins
// over an inclusion. Checks cache its answer per name, so matching costs
// nothing on the steady-state path.
type nameFilter struct {
	include, exclude []string
}

// newNameFilter validates the patterns; an error names the option and the
// bad pattern.
func newNameFilter(includeOpt string, include []string, excludeOpt string, exclude []string) (nameFilter, error) {
	if err := validGlobs(includeOpt, include); err != nil {
		return nameFilter{}, err
	}
	if err := validGlobs(excludeOpt, exclude); err != nil {
		return nameFilter{}, err
	}
	return nameFilter{
		include: append([]string(nil), include...),
		exclude: append([]string(nil), exclude...),
	}, nil
}

func validGlobs(opt string, patterns []string) error {
	for _, p := range patterns {
		if p == "" {
			return fmt.Errorf("%s: empty pattern", opt)
		}
		// path.Match checks the whole pattern, whatever the name.
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("%s: bad pattern %q: %w", opt, p, err)
		}
	}
	return nil
}

func (f nameFilter) match(name string) bool {
	if len(f.include) > 0 && !matchAny(f.include, name) {
		return false
	}
	return !matchAny(f.exclude, name)
}

func matchAny(patterns []string, name string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

// percent returns 100*part/whole clamped to [0, 100], and 0 when whole is 0.
func percent(part, whole float64) float64 {
	if whole <= 0 || part <= 0 {
		return 0
	}
	p := 100 * part / whole
	if p > 100 {
		return 100
	}
	return p
}

// optionsAs returns a check's options as *T, as made by the check's
// Factory.Options and filled by config; nil stands for the defaults. It is
// the one place options lose and regain their type: Register's Factory.
func optionsAs[T any](check string, opts any, defaults func() *T) (*T, error) {
	switch o := opts.(type) {
	case nil:
		return defaults(), nil
	case *T:
		if o == nil {
			return defaults(), nil
		}
		return o, nil
	}
	return nil, fmt.Errorf("%s: options of type %T, want %T", check, opts, new(T))
}
