package enroll

import (
	"strings"
)

// setting is one key of one table, with its value as a TOML literal. An
// empty value removes the key.
type setting struct {
	table, key, value string
}

// edit sets keys in a TOML document and keeps everything else as it was,
// comments included: it rewrites only the lines of the keys it sets (a
// value spanning several lines is replaced whole), inserts a missing key
// right after its table's header, and appends a missing table at the end.
// It understands enough TOML to find table headers and key lines outside
// multi-line strings and arrays; callers decode the result to check it.
func edit(doc string, sets []setting) string {
	lines := strings.SplitAfter(doc, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for _, s := range sets {
		lines = apply(lines, s)
	}
	return strings.Join(lines, "")
}

func apply(lines []string, s setting) []string {
	clean := cleanStarts(lines)
	header, table := -1, ""
	for i, l := range lines {
		if !clean[i] {
			continue
		}
		t := strings.TrimSpace(l)
		if name, ok := headerName(t); ok {
			table = name
			if name == s.table && header < 0 {
				header = i
			}
			continue
		}
		if table != s.table || t == "" || t[0] == '#' {
			continue
		}
		if k, _, ok := strings.Cut(t, "="); !ok || unquote(strings.TrimSpace(k)) != s.key {
			continue
		}
		// The key's value runs until the next line that starts clean.
		end := i + 1
		for end < len(lines) && !clean[end] {
			end++
		}
		var repl []string
		if s.value != "" {
			repl = []string{indentOf(l) + s.key + " = " + s.value + "\n"}
		}
		return splice(lines, i, end, repl)
	}
	if s.value == "" {
		return lines
	}
	if header < 0 {
		if n := len(lines); n > 0 {
			if !strings.HasSuffix(lines[n-1], "\n") {
				lines[n-1] += "\n"
			}
			lines = append(lines, "\n")
		}
		return append(lines, "["+s.table+"]\n", s.key+" = "+s.value+"\n")
	}
	indent := ""
	for _, l := range lines[header+1:] {
		if t := strings.TrimSpace(l); t != "" {
			if _, isHeader := headerName(t); !isHeader {
				indent = indentOf(l)
			}
			break
		}
	}
	if !strings.HasSuffix(lines[header], "\n") {
		lines[header] += "\n"
	}
	return splice(lines, header+1, header+1, []string{indent + s.key + " = " + s.value + "\n"})
}

func splice(lines []string, from, to int, repl []string) []string {
	out := make([]string, 0, len(lines)-(to-from)+len(repl))
	out = append(out, lines[:from]...)
	out = append(out, repl...)
	return append(out, lines[to:]...)
}

// headerName returns the table name of a [table] or [[table]] line.
func headerName(t string) (string, bool) {
	if !strings.HasPrefix(t, "[") {
		return "", false
	}
	t = strings.TrimLeft(t, "[")
	end := strings.Index(t, "]")
	if end < 0 {
		return "", false
	}
	parts := strings.Split(t[:end], ".")
	for i, p := range parts {
		parts[i] = unquote(strings.TrimSpace(p))
	}
	return strings.Join(parts, "."), true
}

func unquote(k string) string {
	if len(k) >= 2 && (k[0] == '"' && k[len(k)-1] == '"' || k[0] == '\'' && k[len(k)-1] == '\'') {
		return k[1 : len(k)-1]
	}
	return k
}

func indentOf(l string) string {
	return l[:len(l)-len(strings.TrimLeft(l, " \t"))]
}

// cleanStarts reports for each line whether it begins outside any value:
// not inside a multi-line string nor an open array or inline table.
func cleanStarts(lines []string) []bool {
	clean := make([]bool, len(lines))
	depth := 0
	ml := "" // the delimiter of the multi-line string we are in
	for i, l := range lines {
		clean[i] = depth == 0 && ml == ""
		for j := 0; j < len(l); j++ {
			c := l[j]
			if ml != "" {
				if ml == `"""` && c == '\\' {
					j++
					continue
				}
				if strings.HasPrefix(l[j:], ml) {
					j += len(ml) - 1
					ml = ""
				}
				continue
			}
			switch {
			case c == '#':
				j = len(l)
			case strings.HasPrefix(l[j:], `"""`), strings.HasPrefix(l[j:], `'''`):
				ml = l[j : j+3]
				j += 2
			case c == '"' || c == '\'':
				// A one-line string: skip to its closing quote.
				for j++; j < len(l) && l[j] != c; j++ {
					if c == '"' && l[j] == '\\' {
						j++
					}
				}
			case c == '[' || c == '{':
				depth++
			case c == ']' || c == '}':
				if depth > 0 {
					depth--
				}
			}
		}
	}
	return clean
}
