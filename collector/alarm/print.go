package alarm

import (
	"strconv"
	"strings"
)

// String prints the criteria in canonical form: settings first, one
// statement a line, two-space indents, 'return new AlarmStatus(...);'.
// Parse reads it back to the same criteria.
func (c *Criteria) String() string {
	var b strings.Builder
	if c.consistencyLevel != "" {
		b.WriteString(":set consistencyLevel=" + c.consistencyLevel + "\n")
	}
	if c.consecutiveCount != 0 {
		b.WriteString(":set consecutiveCount=" + strconv.Itoa(c.consecutiveCount) + "\n")
	}
	if c.recoveryCount != 0 {
		b.WriteString(":set recoveryCount=" + strconv.Itoa(c.recoveryCount) + "\n")
	}
	printStmts(&b, c.stmts, 0)
	return b.String()
}

func printStmts(b *strings.Builder, stmts []stmt, indent int) {
	for _, s := range stmts {
		b.WriteString(strings.Repeat("  ", indent))
		printStmt(b, s, indent)
		b.WriteByte('\n')
	}
}

func printStmt(b *strings.Builder, s stmt, indent int) {
	switch s := s.(type) {
	case *returnStmt:
		b.WriteString("return new AlarmStatus(")
		b.WriteString(s.state.String())
		if s.msg != nil {
			b.WriteString(", ")
			writeQuoted(b, s.msg.src)
		}
		b.WriteString(");")
	case *ifStmt:
		b.WriteString("if (")
		printExpr(b, s.cond, 0)
		b.WriteString(") {\n")
		printStmts(b, s.then, indent+1)
		b.WriteString(strings.Repeat("  ", indent) + "}")
		if s.els == nil {
			return
		}
		if len(s.els) == 1 {
			if elif, ok := s.els[0].(*ifStmt); ok {
				b.WriteString(" else ")
				printStmt(b, elif, indent)
				return
			}
		}
		b.WriteString(" else {\n")
		printStmts(b, s.els, indent+1)
		b.WriteString(strings.Repeat("  ", indent) + "}")
	}
}

// printExpr writes e, in parentheses where the parent binds tighter (|| in
// &&) or where a same-operator chain leans right, which parsing, left to
// right, would not rebuild.
func printExpr(b *strings.Builder, e expr, parentPrec int) {
	switch e := e.(type) {
	case *cmpExpr:
		printOperand(b, e.l)
		b.WriteString(" " + opNames[e.op] + " ")
		printOperand(b, e.r)
	case *logicExpr:
		prec, op := 1, " || "
		if e.and {
			prec, op = 2, " && "
		}
		paren := prec < parentPrec
		if paren {
			b.WriteByte('(')
		}
		printExpr(b, e.l, prec)
		b.WriteString(op)
		printExpr(b, e.r, prec+1)
		if paren {
			b.WriteByte(')')
		}
	}
}

func printOperand(b *strings.Builder, o operand) {
	switch o := o.(type) {
	case *numLit:
		b.WriteString(formatNum(o.v))
	case *strLit:
		writeQuoted(b, o.v)
	case *metricRef:
		switch o.fn {
		case fnPrevious:
			b.WriteString("previous(")
		case fnRate:
			b.WriteString("rate(")
		}
		b.WriteString("metric[")
		writeQuoted(b, o.name)
		b.WriteByte(']')
		if o.fn != fnNone {
			b.WriteByte(')')
		}
	case *percentage:
		b.WriteString("percentage(")
		printOperand(b, o.part)
		b.WriteString(", ")
		printOperand(b, o.total)
		b.WriteByte(')')
	}
}
