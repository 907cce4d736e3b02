package check

import (
	"fmt"
	"strings"
)

//go:generate go test -count=1 -run ^TestREADMEMetricsTable$ . -update

// SampleConfig returns the documented configuration of every built-in
// check, as TOML for the agent's config file: a [checks.<name>] table per
// registered check, made from its Def (description, metrics, options
// commented out at their defaults), with interval and timeout, the
// scheduler's, at example values. A test decodes it strictly with each
// check's Options, so it cannot drift from the code.
func SampleConfig() string {
	var b strings.Builder
	b.WriteString(sampleIntro)
	for _, f := range All() {
		fmt.Fprintf(&b, "\n[checks.%s]\n", f.Name)
		for _, line := range strings.Split(f.Doc, "\n") {
			fmt.Fprintf(&b, "  ## %s\n", line)
		}
		writeSampleMetrics(&b, f)
		b.WriteString("  # interval = \"30s\"\n  # timeout = \"10s\"\n")
		if f.sample != "" {
			for _, line := range strings.Split(f.sample, "\n") {
				fmt.Fprintf(&b, "  %s\n", line)
			}
		}
	}
	return b.String()
}

// writeSampleMetrics lists the check's metrics, one "##" line each, their
// docs aligned; the type is said once when all have one.
func writeSampleMetrics(b *strings.Builder, f Factory) {
	width, typ := 0, f.Metrics[0].Type
	for _, m := range f.Metrics {
		width = max(width, len(m.Name))
		if m.Type != typ {
			typ = 0
		}
	}
	head := "Metrics"
	if typ != 0 {
		head += " (" + typ.String() + "s"
		if len(f.Labels) > 0 {
			head += "; labels " + strings.Join(f.Labels, ", ")
		}
		head += ")"
	} else if len(f.Labels) > 0 {
		head += " (labels " + strings.Join(f.Labels, ", ") + ")"
	}
	fmt.Fprintf(b, "  ## %s:\n", head)
	for _, m := range f.Metrics {
		doc := m.Doc
		if typ == 0 {
			doc = m.Type.String() + ": " + doc
		}
		lines := wrap(doc, sampleWidth-len("  ##   ")-width-2)
		fmt.Fprintf(b, "  ##   %-*s  %s\n", width, m.Name, lines[0])
		for _, l := range lines[1:] {
			fmt.Fprintf(b, "  ##   %-*s  %s\n", width, "", l)
		}
	}
}

// sampleWidth is the longest line the sample's metric lists make.
const sampleWidth = 78

// wrap breaks s at spaces into lines of at most n bytes (a longer word
// gets a line of its own).
func wrap(s string, n int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = w
		case len(line)+1+len(w) <= n:
			line += " " + w
		default:
			lines = append(lines, line)
			line = w
		}
	}
	return append(lines, line)
}

const sampleIntro = `## Built-in checks. Each [checks.<name>] table configures one check; a
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
`
