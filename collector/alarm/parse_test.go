package alarm

import (
	"strings"
	"testing"
	"time"
)

func TestParseGood(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"empty", "", ""},
		{"only comments", "# nothing\n/* at\nall */\n", ""},
		{"issue example",
			`if (metric['used_percent'] > 90) { return new AlarmStatus(CRITICAL, 'disk #{used_percent}% full'); }`,
			"if (metric['used_percent'] > 90) {\n  return new AlarmStatus(CRITICAL, 'disk #{used_percent}% full');\n}\n"},
		{"default return", `return new AlarmStatus(OK);`, "return new AlarmStatus(OK);\n"},
		{"settings and comments", `:set consecutiveCount=3
:set consistencyLevel=QUORUM
# comment
:set recoveryCount=2;
/* c-style */ if (metric["busy_workers"] > 2) { return new AlarmStatus(WARNING); }`,
			":set consistencyLevel=QUORUM\n:set consecutiveCount=3\n:set recoveryCount=2\nif (metric['busy_workers'] > 2) {\n  return new AlarmStatus(WARNING);\n}\n"},
		{"settings on one line", `:set consecutiveCount=3 if (metric['a'] >= 1) { return new AlarmStatus(OK); }`,
			":set consecutiveCount=3\nif (metric['a'] >= 1) {\n  return new AlarmStatus(OK);\n}\n"},
		{"else if and else",
			`if (metric['a'] < 1) { return new AlarmStatus(CRITICAL); } else if (metric['a'] <= 2) { return new AlarmStatus(WARNING); } else { return new AlarmStatus(OK, "fine"); }`,
			"if (metric['a'] < 1) {\n  return new AlarmStatus(CRITICAL);\n} else if (metric['a'] <= 2) {\n  return new AlarmStatus(WARNING);\n} else {\n  return new AlarmStatus(OK, 'fine');\n}\n"},
		{"logic precedence", `if (metric['a'] == 1 || metric['b'] != 2 && metric['c'] > 3) { return OK }`,
			"if (metric['a'] == 1 || metric['b'] != 2 && metric['c'] > 3) {\n  return new AlarmStatus(OK);\n}\n"},
		{"parentheses kept where needed", `if ((metric['a'] == 1 || metric['b'] == 2) && (metric['c'] == 3 && (metric['d'] == 4))) { return OK }`,
			"if ((metric['a'] == 1 || metric['b'] == 2) && (metric['c'] == 3 && metric['d'] == 4)) {\n  return new AlarmStatus(OK);\n}\n"},
		{"functions", `if (previous(metric['fp']) != metric['fp'] && rate(metric['rx']) > 5242880 || percentage(metric['used'], metric['total']) > 90) { return CRITICAL, "x" }`,
			"if (previous(metric['fp']) != metric['fp'] && rate(metric['rx']) > 5242880 || percentage(metric['used'], metric['total']) > 90) {\n  return new AlarmStatus(CRITICAL, 'x');\n}\n"},
		{"regex", `if (metric['body'] regex ".*forbidden.*" && metric['banner'] nregex '^SSH') { return new AlarmStatus(CRITICAL) }`,
			"if (metric['body'] regex '.*forbidden.*' && metric['banner'] nregex '^SSH') {\n  return new AlarmStatus(CRITICAL);\n}\n"},
		{"numbers", `if (metric['a'] > -200 && metric['b'] < 1.2e-7 && metric['c'] == 2773.2 && metric['d'] > 1E+21) { return OK }`,
			"if (metric['a'] > -200 && metric['b'] < 1.2e-07 && metric['c'] == 2773.2 && metric['d'] > 1e+21) {\n  return new AlarmStatus(OK);\n}\n"},
		{"string escapes", `if (metric['a'] == '"Foo\'s bar\"' || metric['b'] == "'Bar's foo\'" || metric['c'] == '\u0027abc\\\n\t') { return OK }`,
			"if (metric['a'] == '\"Foo\\'s bar\"' || metric['b'] == '\\'Bar\\'s foo\\'' || metric['c'] == '\\'abc\\\\\\n\\t') {\n  return new AlarmStatus(OK);\n}\n"},
		{"other backslashes kept for regexes", `if (metric['v'] regex '^\d+\.\d+$') { return OK }`,
			"if (metric['v'] regex '^\\\\d+\\\\.\\\\d+$') {\n  return new AlarmStatus(OK);\n}\n"},
		{"nested if", `if (metric['a'] > 1) { if (metric['b'] > 1) { return WARNING } return CRITICAL }`,
			"if (metric['a'] > 1) {\n  if (metric['b'] > 1) {\n    return new AlarmStatus(WARNING);\n  }\n  return new AlarmStatus(CRITICAL);\n}\n"},
		{"short form from the how-to", "if (metric['duration'] > 2000) {\n  return CRITICAL, \"took #{duration} ms\"\n}\nreturn OK, \"normal\"",
			"if (metric['duration'] > 2000) {\n  return new AlarmStatus(CRITICAL, 'took #{duration} ms');\n}\nreturn new AlarmStatus(OK, 'normal');\n"},
		{"empty else", `if (metric['a'] > 1) { } else { }`, "if (metric['a'] > 1) {\n} else {\n}\n"},
		{"ten conditionals", strings.Repeat(`if (metric['a'] > 1) { return OK }`, 10), strings.Repeat("if (metric['a'] > 1) {\n  return new AlarmStatus(OK);\n}\n", 10)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.src)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := c.String(); got != tc.want {
				t.Fatalf("printed\n%s\nwant\n%s", got, tc.want)
			}
			again, err := Parse(c.String())
			if err != nil {
				t.Fatalf("reparse: %v", err)
			}
			if again.String() != tc.want {
				t.Fatalf("reprinted\n%s\nwant\n%s", again.String(), tc.want)
			}
		})
	}
}

func TestParseSettings(t *testing.T) {
	c, err := Parse(":set consecutiveCount=4\nreturn OK")
	if err != nil {
		t.Fatal(err)
	}
	if c.ConsecutiveCount() != 4 || c.RecoveryCount() != 4 {
		t.Fatalf("counts %d/%d, want 4/4 (recovery defaults to consecutive)", c.ConsecutiveCount(), c.RecoveryCount())
	}
	c, err = Parse(":set recoveryCount=2")
	if err != nil {
		t.Fatal(err)
	}
	if c.ConsecutiveCount() != 1 || c.RecoveryCount() != 2 {
		t.Fatalf("counts %d/%d, want 1/2", c.ConsecutiveCount(), c.RecoveryCount())
	}
	c, err = Parse("if (rate(metric['a']) > 1 || previous(metric['b']) == 'x' || rate(metric['a']) > 2) { return OK }")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.PreviousMetrics(), ","); got != "a,b" {
		t.Fatalf("PreviousMetrics %q, want a,b", got)
	}
}

func TestParseBad(t *testing.T) {
	deep := strings.Repeat("(", MaxDepth+2) + "metric['a'] > 1" + strings.Repeat(")", MaxDepth+2)
	many := make([]string, 0, MaxComparisons+1)
	for range MaxComparisons + 1 {
		many = append(many, "metric['a'] > 1")
	}
	tests := []struct {
		name, src, want string
	}{
		{"too long", strings.Repeat(" ", MaxCriteriaLen+1), "criteria: 16385 bytes, more than the limit of 16384"},
		{"eleven conditionals", strings.Repeat("if (metric['a'] > 1) { return OK }\n", 11),
			"criteria:11:1: more than 10 conditionals (if and else if count together)"},
		{"eleven with else if", "if (metric['a'] > 1) { return OK }" + strings.Repeat(" else if (metric['a'] > 1) { return OK }", 10),
			"criteria:1:401: more than 10 conditionals (if and else if count together)"},
		{"too deep", "if " + deep + " { return OK }", "criteria:1:21: nested more than 16 deep (blocks, parentheses and percentage() together)"},
		{"too many comparisons", "if (" + strings.Join(many, " && ") + ") { return OK }",
			"criteria:1:1905: more than 100 comparisons"},
		{"missing paren", "if (metric['a'] > 1 { return OK }", "criteria:1:21: expected ')' after the condition, found '{'"},
		{"no braces", "if (metric['a'] > 1) return OK", "criteria:1:22: expected '{' after the condition, found 'return'"},
		{"unclosed block", "if (metric['a'] > 1) {\n  return OK\n", "criteria:3:1: expected '}', found end of input"},
		{"bare operand", "if (metric['a']) { return OK }", "criteria:1:16: expected a comparison operator (==, !=, <, <=, >, >=, regex or nregex), found ')'"},
		{"typo in metric", "if (metrc['a'] > 1) { return OK }", "criteria:1:5: expected a value (metric['name'], previous(), rate(), percentage(), a number or a string), found 'metrc'"},
		{"unquoted metric", "if (metric[a] > 1) { return OK }", "criteria:1:12: expected a metric name in quotes, found 'a'"},
		{"empty metric name", "if (metric[''] > 1) { return OK }", "criteria:1:12: metric name must be 1 to 128 bytes, found 0"},
		{"long metric name", "if (metric['" + strings.Repeat("m", 129) + "'] > 1) { return OK }", "criteria:1:12: metric name must be 1 to 128 bytes, found 129"},
		{"bad state", "return new AlarmStatus(FOO);", "criteria:1:24: expected OK, WARNING or CRITICAL, found 'FOO'"},
		{"lowercase state", "return new AlarmStatus(critical);", "criteria:1:24: expected OK, WARNING or CRITICAL, found 'critical'"},
		{"no state", "return;", "criteria:1:7: expected 'new AlarmStatus(', OK, WARNING or CRITICAL after 'return', found ';'"},
		{"message not a string", "return new AlarmStatus(OK, 5);", "criteria:1:28: expected a message string after ',', found number 5"},
		{"unclosed AlarmStatus", "return new AlarmStatus(OK, 'x';", "criteria:1:31: expected ')' after the AlarmStatus arguments, found ';'"},
		{"long message", "return OK, '" + strings.Repeat("m", MaxMessageLen+1) + "'", "criteria:1:12: message of 257 bytes, more than the limit of 256"},
		{"long string", "if (metric['a'] == '" + strings.Repeat("s", MaxStringLen+1) + "') { return OK }", "criteria:1:20: string of 257 bytes, more than the limit of 256"},
		{"long token cut", "return " + strings.Repeat("W", 500), "criteria:1:8: expected 'new AlarmStatus(', OK, WARNING or CRITICAL after 'return', found 'WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW...'"},
		{"statement expected", "metric['a'] > 1", "criteria:1:1: expected 'if' or 'return', found 'metric'"},
		{"set after statement", "return OK\n:set consecutiveCount=2", "criteria:2:1: ':set' must come before the first statement"},
		{"count too big", ":set consecutiveCount=6", "criteria:1:23: consecutiveCount must be a whole number from 1 to 5, found 6"},
		{"count zero", ":set consecutiveCount=0", "criteria:1:23: consecutiveCount must be a whole number from 1 to 5, found 0"},
		{"count fraction", ":set recoveryCount=1.5", "criteria:1:20: recoveryCount must be a whole number from 1 to 5, found 1.5"},
		{"count not number", ":set consecutiveCount=three", "criteria:1:23: expected a whole number from 1 to 5 for consecutiveCount, found 'three'"},
		{"count twice", ":set consecutiveCount=2\n:set consecutiveCount=3", "criteria:2:6: consecutiveCount is set twice"},
		{"unknown setting", ":set foo=1", "criteria:1:6: unknown setting 'foo' (known: consecutiveCount, recoveryCount, consistencyLevel)"},
		{"bad consistency", ":set consistencyLevel=MOST", "criteria:1:23: expected ONE, QUORUM or ALL for consistencyLevel, found 'MOST'"},
		{"colon without set", ":sett consecutiveCount=1", "criteria:1:2: expected 'set' after ':', found 'sett'"},
		{"slash comment", "// not a comment\nreturn OK", "criteria:1:1: '//' does not start a comment in the alarm language; use '#' or '/* */'"},
		{"unterminated comment", "return OK /* never\nclosed", "criteria:1:11: unterminated comment: '/*' without '*/'"},
		{"unterminated string", "return OK, 'abc\n'", "criteria:1:12: unterminated string: missing closing '"},
		{"short unicode escape", `return OK, '\u12'`, "criteria:1:13: \\u needs four hex digits"},
		{"surrogate escape", `return OK, '\uD83D'`, "criteria:1:13: \\uD83D is a UTF-16 surrogate; write the character itself"},
		{"invalid utf8", "return OK # \xff", "criteria:1:13: invalid UTF-8"},
		{"unexpected char", "if (metric['a'] > 1) { return OK } @", "criteria:1:36: unexpected character '@'"},
		{"malformed number", "if (metric['a'] > 1.2.3) { return OK }", "criteria:1:19: malformed number \"1.2.\""},
		{"number out of range", "if (metric['a'] > 1e999) { return OK }", "criteria:1:19: number 1e999 out of range"},
		{"regex on number", "if (metric['a'] regex 5) { return OK }", "criteria:1:23: regex needs a string literal on its right, found number 5"},
		{"regex on metric", "if (metric['a'] nregex metric['b']) { return OK }", "criteria:1:24: nregex needs a string literal on its right, found 'metric'"},
		{"bad regex", "if (metric['a'] regex 'a(b') { return OK }", "criteria:1:23: bad regular expression 'a(b': missing closing )"},
		{"regex too complex", "if (metric['a'] regex 'a{1000}') { return OK }", "criteria:1:23: regular expression too complex: 1002 instructions, more than the limit of 300"},
		{"regexes too complex together", "if (" + strings.Repeat("metric['a'] regex 'a{250}' || ", 3) + "metric['a'] regex 'a{250}') { return OK }",
			"criteria:1:113: regular expressions too complex together: 1008 instructions, more than the limit of 1000"},
		{"ordering a string", "if (metric['a'] > 'x') { return OK }", "criteria:1:19: > compares numbers, found string 'x'"},
		{"rate of a number", "if (rate(5) > 1) { return OK }", "criteria:1:10: expected metric['name'] as the argument of rate(), found number 5"},
		{"percentage one argument", "if (percentage(metric['a']) > 1) { return OK }", "criteria:1:27: expected ',' between the arguments of percentage(), found ')'"},
		{"else without block", "if (metric['a'] > 1) { return OK } else return OK", "criteria:1:41: expected '{' or 'if' after 'else', found 'return'"},
		{"single equals", "if (metric['a'] = 1) { return OK }", "criteria:1:17: expected a comparison operator (==, !=, <, <=, >, >=, regex or nregex), found '='"},
		{"and without right side", "if (metric['a'] > 1 &&) { return OK }", "criteria:1:23: expected a value (metric['name'], previous(), rate(), percentage(), a number or a string), found ')'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(tc.src)
			if err == nil {
				t.Fatalf("Parse accepted it:\n%s", c)
			}
			if err.Error() != tc.want {
				t.Fatalf("error\n%s\nwant\n%s", err, tc.want)
			}
		})
	}
}

// The example in the package documentation parses and means what it says.
func TestDocExample(t *testing.T) {
	c, err := Parse(`:set consecutiveCount=3        # optional settings, before any statement
/* comments: '#' to the end of the line, or C style */
if (metric['used_percent'] > 90) {
  return new AlarmStatus(CRITICAL, 'disk #{used_percent}% full on #{mount}');
} else if (metric['used_percent'] > 80 && rate(metric['writes']) > 1000) {
  return new AlarmStatus(WARNING);
}
return new AlarmStatus(OK);`)
	if err != nil {
		t.Fatal(err)
	}
	prev := res(StatusOK, "", t0.Add(-10*time.Second), "writes", 0)
	for _, tc := range []struct {
		r    *Result
		want Outcome
	}{
		{res(StatusOK, "m", t0, "used_percent", 91, "mount", "/"), Outcome{StateCritical, "disk 91% full on /"}},
		{res(StatusOK, "m", t0, "used_percent", 85, "writes", 20000), Outcome{StateWarning, "m"}},
		{res(StatusOK, "m", t0, "used_percent", 85, "writes", 5000), Outcome{StateOK, "m"}},
	} {
		if got := c.Evaluate(tc.r, prev); got != tc.want {
			t.Errorf("%v: got %+v, want %+v", tc.r.Metrics, got, tc.want)
		}
	}
	if c.ConsecutiveCount() != 3 {
		t.Errorf("consecutiveCount %d", c.ConsecutiveCount())
	}
}
