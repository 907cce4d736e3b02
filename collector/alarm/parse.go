package alarm

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on criteria, checked by Parse. The reference's limits are kept
// where it has them (10 conditionals, consecutiveCount 1 to 5, metric names
// of 128 characters); strings are allowed longer than its 80 and 128
// characters so that no alarm Rackspace took is refused here.
const (
	MaxCriteriaLen   = 16 << 10 // bytes of criteria text
	MaxConditionals  = 10       // if and else if, together
	MaxComparisons   = 100      // comparisons in all conditions
	MaxDepth         = 16       // nested blocks, parentheses and percentage()
	MaxMetricNameLen = 128      // bytes, as ingest allows
	MaxStringLen     = 256      // bytes of a compared string or regex
	MaxMessageLen    = 256      // bytes of a status message, as ingest allows
	MaxCount         = 5        // consecutiveCount and recoveryCount
	// A regex's compiled size bounds its cost per byte matched: a 256-byte
	// literal compiles to about 260 instructions, while a few counted
	// repeats (a{1000}) make thousands and slow every result down.
	MaxRegexInsts      = 300  // per regex
	MaxRegexInstsTotal = 1000 // all regexes of the criteria together
)

// Error is a criteria error: where, and what was expected.
type Error struct {
	Line, Col int // from 1; 0 when the error is about the whole text
	Msg       string
}

func (e *Error) Error() string {
	if e.Line == 0 {
		return "criteria: " + e.Msg
	}
	return fmt.Sprintf("criteria:%d:%d: %s", e.Line, e.Col, e.Msg)
}

// Criteria are parsed alarm criteria, ready to evaluate. Safe for
// concurrent use.
type Criteria struct {
	stmts            []stmt
	consecutiveCount int // 0: not set
	recoveryCount    int // 0: not set
	consistencyLevel string
	conditionals     int
	uses             []string // metrics read by previous() or rate()
}

type stmt interface{ isStmt() }

type ifStmt struct {
	cond expr
	then []stmt
	els  []stmt // nil: no else; an else if is a one-element els holding an *ifStmt
}

type returnStmt struct {
	state State
	msg   *message // nil: the check's own message
}

func (*ifStmt) isStmt()     {}
func (*returnStmt) isStmt() {}

type expr interface{ isExpr() }

type logicExpr struct {
	and  bool // && (else ||)
	l, r expr
}

type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opLt
	opLe
	opGt
	opGe
	opRegex
	opNregex
)

var opNames = [...]string{"==", "!=", "<", "<=", ">", ">=", "regex", "nregex"}

type cmpExpr struct {
	op     cmpOp
	l, r   operand
	re     *regexp.Regexp // regex and nregex: r is its source, a string literal
	strLit bool           // a string literal on either side: == and != compare text
}

func (*logicExpr) isExpr() {}
func (*cmpExpr) isExpr()   {}

type operand interface{ isOperand() }

type fnKind uint8

const (
	fnNone fnKind = iota
	fnPrevious
	fnRate
)

type metricRef struct {
	name string
	fn   fnKind
}

type numLit struct{ v float64 }

type strLit struct{ v string }

type percentage struct{ part, total operand }

func (*metricRef) isOperand()  {}
func (*numLit) isOperand()     {}
func (*strLit) isOperand()     {}
func (*percentage) isOperand() {}

// message is a status message cut into text and #{metric} references at
// parse time, so that rendering does no scanning.
type message struct {
	src   string
	parts []msgPart
}

type msgPart struct {
	text   string
	metric bool // text is a metric name to substitute
}

func parseMessage(s string) *message {
	m := &message{src: s}
	for {
		i := strings.Index(s, "#{")
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i+2:], '}')
		if j < 0 {
			break
		}
		if i > 0 {
			m.parts = append(m.parts, msgPart{text: s[:i]})
		}
		m.parts = append(m.parts, msgPart{text: strings.TrimSpace(s[i+2 : i+2+j]), metric: true})
		s = s[i+2+j+1:]
	}
	if s != "" {
		m.parts = append(m.parts, msgPart{text: s})
	}
	return m
}

// Parse reads alarm criteria in the Rackspace alarm language (see the
// package documentation). Empty criteria are valid: the check's own status
// decides the state.
func Parse(src string) (*Criteria, error) {
	return parse(src, MaxCriteriaLen)
}

func parse(src string, maxLen int) (*Criteria, error) {
	if len(src) > maxLen {
		return nil, &Error{Msg: fmt.Sprintf("%d bytes, more than the limit of %d", len(src), maxLen)}
	}
	if !utf8.ValidString(src) {
		// Found again by the lexer with a position, unless it hides in a
		// comment, where it would be kept silently and printed wrongly.
		line, col := 1, 1
		for i, r := range src {
			if r == utf8.RuneError {
				if _, size := utf8.DecodeRuneInString(src[i:]); size == 1 {
					return nil, &Error{Line: line, Col: col, Msg: "invalid UTF-8"}
				}
			}
			if r == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
	}
	p := &parser{lex: lexer{src: src, line: 1, col: 1}, c: &Criteria{}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.settings(); err != nil {
		return nil, err
	}
	stmts, err := p.stmts(false)
	if err != nil {
		return nil, err
	}
	p.c.stmts = stmts
	return p.c, nil
}

type parser struct {
	lex         lexer
	tok         token
	depth       int
	comparisons int
	regexInsts  int
	c           *Criteria
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) errorf(t token, format string, args ...any) error {
	return &Error{Line: t.line, Col: t.col, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) expected(what string) error {
	return p.errorf(p.tok, "expected %s, found %s", what, p.tok.describe())
}

func (p *parser) is(kind tokKind, text string) bool {
	return p.tok.kind == kind && p.tok.text == text
}

// expect consumes the punctuation or keyword text, or fails saying what
// it was for.
func (p *parser) expect(kind tokKind, text, context string) error {
	if !p.is(kind, text) {
		return p.expected("'" + text + "'" + context)
	}
	return p.advance()
}

func (p *parser) enter(t token) error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errorf(t, "nested more than %d deep (blocks, parentheses and percentage() together)", MaxDepth)
	}
	return nil
}

// settings reads the leading ':set name=value' lines.
func (p *parser) settings() error {
	for p.is(tPunct, ":") {
		if err := p.advance(); err != nil {
			return err
		}
		if !p.is(tIdent, "set") {
			return p.expected("'set' after ':'")
		}
		if err := p.advance(); err != nil {
			return err
		}
		if p.tok.kind != tIdent {
			return p.expected("a setting name after ':set'")
		}
		name := p.tok
		if err := p.advance(); err != nil {
			return err
		}
		if err := p.expect(tPunct, "=", " after the setting name"); err != nil {
			return err
		}
		val := p.tok
		switch name.text {
		case "consecutiveCount", "recoveryCount":
			if val.kind != tNumber {
				return p.expected(fmt.Sprintf("a whole number from 1 to %d for %s", MaxCount, name.text))
			}
			n := int(val.num)
			if float64(n) != val.num || n < 1 || n > MaxCount {
				return p.errorf(val, "%s must be a whole number from 1 to %d, found %s", name.text, MaxCount, val.text)
			}
			dst := &p.c.consecutiveCount
			if name.text == "recoveryCount" {
				dst = &p.c.recoveryCount
			}
			if *dst != 0 {
				return p.errorf(name, "%s is set twice", name.text)
			}
			*dst = n
		case "consistencyLevel":
			if val.kind != tIdent || val.text != "ONE" && val.text != "QUORUM" && val.text != "ALL" {
				return p.expected("ONE, QUORUM or ALL for consistencyLevel")
			}
			if p.c.consistencyLevel != "" {
				return p.errorf(name, "consistencyLevel is set twice")
			}
			p.c.consistencyLevel = val.text
		default:
			return p.errorf(name, "unknown setting '%s' (known: consecutiveCount, recoveryCount, consistencyLevel)", name.text)
		}
		if err := p.advance(); err != nil {
			return err
		}
		if p.is(tPunct, ";") {
			if err := p.advance(); err != nil {
				return err
			}
		}
	}
	return nil
}

// stmts reads statements up to '}' (inBlock) or the end of input.
func (p *parser) stmts(inBlock bool) ([]stmt, error) {
	var out []stmt
	for {
		switch {
		case p.tok.kind == tEOF:
			if inBlock {
				return nil, p.expected("'}'")
			}
			return out, nil
		case inBlock && p.is(tPunct, "}"):
			return out, nil
		case p.is(tIdent, "if"):
			s, err := p.ifStmt()
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		case p.is(tIdent, "return"):
			s, err := p.returnStmt()
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		case p.is(tPunct, ":"):
			return nil, p.errorf(p.tok, "':set' must come before the first statement")
		default:
			return nil, p.expected("'if' or 'return'")
		}
	}
}

func (p *parser) block() ([]stmt, error) {
	open := p.tok
	if err := p.expect(tPunct, "{", ""); err != nil {
		return nil, err
	}
	if err := p.enter(open); err != nil {
		return nil, err
	}
	body, err := p.stmts(true)
	if err != nil {
		return nil, err
	}
	p.depth--
	return body, p.advance() // past '}'
}

func (p *parser) ifStmt() (*ifStmt, error) {
	p.c.conditionals++
	if p.c.conditionals > MaxConditionals {
		return nil, p.errorf(p.tok, "more than %d conditionals (if and else if count together)", MaxConditionals)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.expect(tPunct, "(", " after 'if'"); err != nil {
		return nil, err
	}
	cond, err := p.or()
	if err != nil {
		return nil, err
	}
	if err := p.expect(tPunct, ")", " after the condition"); err != nil {
		return nil, err
	}
	s := &ifStmt{cond: cond}
	if !p.is(tPunct, "{") {
		return nil, p.expected("'{' after the condition")
	}
	if s.then, err = p.block(); err != nil {
		return nil, err
	}
	if !p.is(tIdent, "else") {
		return s, nil
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.is(tIdent, "if") {
		elif, err := p.ifStmt()
		if err != nil {
			return nil, err
		}
		s.els = []stmt{elif}
		return s, nil
	}
	if !p.is(tPunct, "{") {
		return nil, p.expected("'{' or 'if' after 'else'")
	}
	if s.els, err = p.block(); err != nil {
		return nil, err
	}
	if s.els == nil {
		s.els = []stmt{} // keep "else {}" apart from no else
	}
	return s, nil
}

// returnStmt reads 'return new AlarmStatus(STATE[, 'message']);' or the
// older short form 'return STATE[, "message"]' that Rackspace's how-to
// articles show; the semicolon is optional in both.
func (p *parser) returnStmt() (*returnStmt, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	long := p.is(tIdent, "new")
	if long {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if err := p.expect(tIdent, "AlarmStatus", " after 'new'"); err != nil {
			return nil, err
		}
		if err := p.expect(tPunct, "(", " after 'AlarmStatus'"); err != nil {
			return nil, err
		}
	}
	r := &returnStmt{}
	switch {
	case p.is(tIdent, "OK"):
		r.state = StateOK
	case p.is(tIdent, "WARNING"):
		r.state = StateWarning
	case p.is(tIdent, "CRITICAL"):
		r.state = StateCritical
	default:
		if long {
			return nil, p.expected("OK, WARNING or CRITICAL")
		}
		return nil, p.expected("'new AlarmStatus(', OK, WARNING or CRITICAL after 'return'")
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.is(tPunct, ",") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if p.tok.kind != tString {
			return nil, p.expected("a message string after ','")
		}
		if len(p.tok.text) > MaxMessageLen {
			return nil, p.errorf(p.tok, "message of %d bytes, more than the limit of %d", len(p.tok.text), MaxMessageLen)
		}
		r.msg = parseMessage(p.tok.text)
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if long {
		if err := p.expect(tPunct, ")", " after the AlarmStatus arguments"); err != nil {
			return nil, err
		}
	}
	if p.is(tPunct, ";") {
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// or := and ('||' and)*; and := primary ('&&' primary)*.
func (p *parser) or() (expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.is(tOp, "||") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &logicExpr{l: l, r: r}
	}
	return l, nil
}

func (p *parser) and() (expr, error) {
	l, err := p.primary()
	if err != nil {
		return nil, err
	}
	for p.is(tOp, "&&") {
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := p.primary()
		if err != nil {
			return nil, err
		}
		l = &logicExpr{and: true, l: l, r: r}
	}
	return l, nil
}

// primary := '(' or ')' | operand op operand.
func (p *parser) primary() (expr, error) {
	if p.is(tPunct, "(") {
		open := p.tok
		if err := p.enter(open); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if err := p.expect(tPunct, ")", ""); err != nil {
			return nil, err
		}
		p.depth--
		return e, nil
	}
	start := p.tok
	l, err := p.operand()
	if err != nil {
		return nil, err
	}
	var op cmpOp
	switch {
	case p.tok.kind == tOp && p.tok.text != "&&" && p.tok.text != "||":
		for i, n := range opNames {
			if n == p.tok.text {
				op = cmpOp(i)
			}
		}
	case p.is(tIdent, "regex"):
		op = opRegex
	case p.is(tIdent, "nregex"):
		op = opNregex
	default:
		return nil, p.expected("a comparison operator (==, !=, <, <=, >, >=, regex or nregex)")
	}
	opTok := p.tok
	p.comparisons++
	if p.comparisons > MaxComparisons {
		return nil, p.errorf(start, "more than %d comparisons", MaxComparisons)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	rTok := p.tok
	r, err := p.operand()
	if err != nil {
		return nil, err
	}
	c := &cmpExpr{op: op, l: l, r: r}
	_, lLit := l.(*strLit)
	_, rLit := r.(*strLit)
	c.strLit = lLit || rLit
	switch op {
	case opRegex, opNregex:
		s, ok := r.(*strLit)
		if !ok {
			return nil, p.errorf(rTok, "%s needs a string literal on its right, found %s", opTok.text, rTok.describe())
		}
		if c.re, err = p.regex(rTok, s.v); err != nil {
			return nil, err
		}
	case opLt, opLe, opGt, opGe:
		for _, side := range [2]struct {
			o operand
			t token
		}{{l, start}, {r, rTok}} {
			if _, ok := side.o.(*strLit); ok {
				return nil, p.errorf(side.t, "%s compares numbers, found %s", opTok.text, side.t.describe())
			}
		}
	}
	return c, nil
}

// regex compiles a regex operand within the size limits.
func (p *parser) regex(t token, src string) (*regexp.Regexp, error) {
	// Sized before regexp compiles it, which costs more.
	sre, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil, p.errorf(t, "bad regular expression %s: %v", clip(quote(src)), unwrapRegexpErr(err))
	}
	prog, err := syntax.Compile(sre.Simplify())
	if err != nil {
		return nil, p.errorf(t, "bad regular expression %s: %v", clip(quote(src)), unwrapRegexpErr(err))
	}
	n := len(prog.Inst)
	if n > MaxRegexInsts {
		return nil, p.errorf(t, "regular expression too complex: %d instructions, more than the limit of %d", n, MaxRegexInsts)
	}
	p.regexInsts += n
	if p.regexInsts > MaxRegexInstsTotal {
		return nil, p.errorf(t, "regular expressions too complex together: %d instructions, more than the limit of %d", p.regexInsts, MaxRegexInstsTotal)
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, p.errorf(t, "bad regular expression %s: %v", clip(quote(src)), unwrapRegexpErr(err))
	}
	return re, nil
}

func unwrapRegexpErr(err error) string {
	// regexp's errors repeat the whole expression; keep the reason.
	s := err.Error()
	s = strings.TrimPrefix(s, "error parsing regexp: ")
	if i := strings.Index(s, ": `"); i >= 0 {
		return s[:i]
	}
	return s
}

// operand := metric['name'] | previous(metric['name']) |
// rate(metric['name']) | percentage(operand, operand) | number | string.
func (p *parser) operand() (operand, error) {
	t := p.tok
	switch {
	case t.kind == tNumber:
		return &numLit{v: t.num}, p.advance()
	case t.kind == tString:
		if len(t.text) > MaxStringLen {
			return nil, p.errorf(t, "string of %d bytes, more than the limit of %d", len(t.text), MaxStringLen)
		}
		return &strLit{v: t.text}, p.advance()
	case p.is(tIdent, "metric"):
		return p.metric(fnNone)
	case p.is(tIdent, "previous"), p.is(tIdent, "rate"):
		fn := fnPrevious
		if t.text == "rate" {
			fn = fnRate
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if err := p.expect(tPunct, "(", " after '"+t.text+"'"); err != nil {
			return nil, err
		}
		if !p.is(tIdent, "metric") {
			return nil, p.expected("metric['name'] as the argument of " + t.text + "()")
		}
		m, err := p.metric(fn)
		if err != nil {
			return nil, err
		}
		p.use(m.name)
		return m, p.expect(tPunct, ")", " after the argument of "+t.text+"()")
	case p.is(tIdent, "percentage"):
		if err := p.enter(t); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		if err := p.expect(tPunct, "(", " after 'percentage'"); err != nil {
			return nil, err
		}
		part, err := p.operand()
		if err != nil {
			return nil, err
		}
		if err := p.expect(tPunct, ",", " between the arguments of percentage()"); err != nil {
			return nil, err
		}
		total, err := p.operand()
		if err != nil {
			return nil, err
		}
		if err := p.expect(tPunct, ")", " after the arguments of percentage()"); err != nil {
			return nil, err
		}
		p.depth--
		return &percentage{part: part, total: total}, nil
	}
	return nil, p.expected("a value (metric['name'], previous(), rate(), percentage(), a number or a string)")
}

func (p *parser) metric(fn fnKind) (*metricRef, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	if err := p.expect(tPunct, "[", " after 'metric'"); err != nil {
		return nil, err
	}
	if p.tok.kind != tString {
		return nil, p.expected("a metric name in quotes")
	}
	name := p.tok
	if name.text == "" || len(name.text) > MaxMetricNameLen {
		return nil, p.errorf(name, "metric name must be 1 to %d bytes, found %d", MaxMetricNameLen, len(name.text))
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return &metricRef{name: name.text, fn: fn}, p.expect(tPunct, "]", " after the metric name")
}

func (p *parser) use(name string) {
	for _, n := range p.c.uses {
		if n == name {
			return
		}
	}
	p.c.uses = append(p.c.uses, name)
}

// ConsecutiveCount is ':set consecutiveCount', 1 when not set.
func (c *Criteria) ConsecutiveCount() int {
	if c.consecutiveCount == 0 {
		return 1
	}
	return c.consecutiveCount
}

// RecoveryCount is ':set recoveryCount' (a Vigil extension), the
// consecutive count when not set, as Rackspace uses one count for all.
func (c *Criteria) RecoveryCount() int {
	if c.recoveryCount == 0 {
		return c.ConsecutiveCount()
	}
	return c.recoveryCount
}

// Conditionals is how many if and else if the criteria hold.
func (c *Criteria) Conditionals() int { return c.conditionals }

// PreviousMetrics names the metrics that previous() and rate() read from
// the previous result: all a caller must keep of it.
func (c *Criteria) PreviousMetrics() []string { return append([]string(nil), c.uses...) }

func quote(s string) string {
	var b strings.Builder
	writeQuoted(&b, s)
	return b.String()
}

// writeQuoted writes s as a single-quoted literal the lexer reads back to s.
func writeQuoted(b *strings.Builder, s string) {
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\'' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f || r == utf8.RuneError:
			b.WriteString(`\u`)
			h := strconv.FormatInt(int64(r), 16)
			b.WriteString(strings.Repeat("0", 4-len(h)))
			b.WriteString(h)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
}
