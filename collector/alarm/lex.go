package alarm

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tNumber
	tString
	tPunct // ( ) { } [ ] , ; = :
	tOp    // == != < <= > >= && ||
)

type token struct {
	kind tokKind
	text string  // identifier, punctuation or operator as written; a string's decoded value
	num  float64 // tNumber
	line int
	col  int
}

// describe names a token in an error message, cut to a readable length.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tIdent:
		return "'" + clip(t.text) + "'"
	case tNumber:
		return "number " + clip(t.text)
	case tString:
		return "string " + clip(quote(t.text))
	}
	return "'" + t.text + "'"
}

func clip(s string) string {
	const n = 40
	if len(s) <= n {
		return s
	}
	return truncate(s, n) + "..."
}

// lexer turns criteria into tokens. Columns count characters, from 1.
type lexer struct {
	src       string
	pos       int
	line, col int
}

func (l *lexer) errorf(line, col int, format string, args ...any) error {
	return &Error{Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// advance moves past n bytes that hold no newline.
func (l *lexer) advance(n int) {
	l.col += utf8.RuneCountInString(l.src[l.pos : l.pos+n])
	l.pos += n
}

// skip passes white space and comments: '#' to the end of the line and
// '/* */'. '//' is refused because the reference says it is not a comment,
// and reading it as one would hide the rest of a line the author meant.
func (l *lexer) skip() error {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '\n':
			l.pos++
			l.line++
			l.col = 1
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			l.pos++
			l.col++
		case c == '#':
			end := strings.IndexByte(l.src[l.pos:], '\n')
			if end < 0 {
				end = len(l.src) - l.pos
			}
			l.advance(end)
		case c == '/' && strings.HasPrefix(l.src[l.pos:], "/*"):
			line, col := l.line, l.col
			end := strings.Index(l.src[l.pos+2:], "*/")
			if end < 0 {
				return l.errorf(line, col, "unterminated comment: '/*' without '*/'")
			}
			for _, r := range l.src[l.pos : l.pos+2+end+2] {
				if r == '\n' {
					l.line++
					l.col = 1
				} else {
					l.col++
				}
			}
			l.pos += 2 + end + 2
		case c == '/' && strings.HasPrefix(l.src[l.pos:], "//"):
			return l.errorf(l.line, l.col, "'//' does not start a comment in the alarm language; use '#' or '/* */'")
		default:
			return nil
		}
	}
	return nil
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (l *lexer) next() (token, error) {
	if err := l.skip(); err != nil {
		return token{}, err
	}
	t := token{line: l.line, col: l.col}
	if l.pos >= len(l.src) {
		return t, nil
	}
	rest := l.src[l.pos:]
	c := rest[0]
	switch {
	case isIdentStart(c):
		n := 1
		for n < len(rest) && (isIdentStart(rest[n]) || isDigit(rest[n])) {
			n++
		}
		t.kind, t.text = tIdent, rest[:n]
		l.advance(n)
		return t, nil
	case isDigit(c) || c == '-' && len(rest) > 1 && isDigit(rest[1]):
		return l.number(t)
	case c == '\'' || c == '"':
		return l.str(t)
	}
	for _, op := range [...]string{"==", "!=", "<=", ">=", "&&", "||", "<", ">"} {
		if strings.HasPrefix(rest, op) {
			t.kind, t.text = tOp, op
			l.advance(len(op))
			return t, nil
		}
	}
	if strings.IndexByte("(){}[],;=:", c) >= 0 {
		t.kind, t.text = tPunct, rest[:1]
		l.advance(1)
		return t, nil
	}
	r, _ := utf8.DecodeRuneInString(rest)
	if r == utf8.RuneError {
		return t, l.errorf(t.line, t.col, "invalid UTF-8")
	}
	return t, l.errorf(t.line, t.col, "unexpected character %q", r)
}

// number scans -?D+(.D+)?([eE][+-]?D+)?.
func (l *lexer) number(t token) (token, error) {
	rest := l.src[l.pos:]
	n := 0
	if rest[0] == '-' {
		n++
	}
	digits := func() {
		for n < len(rest) && isDigit(rest[n]) {
			n++
		}
	}
	digits()
	if n+1 < len(rest) && rest[n] == '.' && isDigit(rest[n+1]) {
		n++
		digits()
	}
	if n < len(rest) && (rest[n] == 'e' || rest[n] == 'E') {
		m := n + 1
		if m < len(rest) && (rest[m] == '+' || rest[m] == '-') {
			m++
		}
		if m < len(rest) && isDigit(rest[m]) {
			n = m
			digits()
		}
	}
	if n < len(rest) && (isIdentStart(rest[n]) || rest[n] == '.') {
		return t, l.errorf(t.line, t.col, "malformed number %q", rest[:n+1])
	}
	f, err := strconv.ParseFloat(rest[:n], 64)
	if err != nil {
		return t, l.errorf(t.line, t.col, "number %s out of range", rest[:n])
	}
	t.kind, t.num, t.text = tNumber, f, rest[:n]
	l.advance(n)
	return t, nil
}

// str scans a string in single or double quotes with the reference's
// escapes: \" \' \\ \b \f \n \r \t \uXXXX. Any other backslash is kept.
func (l *lexer) str(t token) (token, error) {
	quoteChar := l.src[l.pos]
	var b strings.Builder
	i := l.pos + 1
	col := l.col + 1
	for {
		if i >= len(l.src) || l.src[i] == '\n' {
			return t, l.errorf(t.line, t.col, "unterminated string: missing closing %c", quoteChar)
		}
		c := l.src[i]
		if c == quoteChar {
			i++
			col++
			break
		}
		if c != '\\' {
			r, size := utf8.DecodeRuneInString(l.src[i:])
			if r == utf8.RuneError && size == 1 {
				return t, l.errorf(t.line, col, "invalid UTF-8 in string")
			}
			b.WriteString(l.src[i : i+size])
			i += size
			col++
			continue
		}
		if i+1 >= len(l.src) {
			return t, l.errorf(t.line, t.col, "unterminated string: missing closing %c", quoteChar)
		}
		esc := l.src[i+1]
		switch esc {
		case '"', '\'', '\\':
			b.WriteByte(esc)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			if i+6 > len(l.src) {
				return t, l.errorf(t.line, col, "\\u needs four hex digits")
			}
			v, err := strconv.ParseUint(l.src[i+2:i+6], 16, 32)
			if err != nil {
				return t, l.errorf(t.line, col, "\\u needs four hex digits, found %q", l.src[i+2:i+6])
			}
			if v >= 0xD800 && v <= 0xDFFF {
				return t, l.errorf(t.line, col, "\\u%04X is a UTF-16 surrogate; write the character itself", v)
			}
			b.WriteRune(rune(v))
			i += 6
			col += 6
			continue
		default:
			// Kept as written, so that a regex reads as in other
			// languages: '\d+\.\d+' is the regex \d+\.\d+.
			b.WriteByte('\\')
			i++
			col++
			continue
		}
		i += 2
		col += 2
	}
	t.kind, t.text = tString, b.String()
	l.pos, l.col = i, col
	return t, nil
}
