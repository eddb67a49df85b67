package filter

import (
	"fmt"
	"strings"
)

// Error is a bad expression: what is wrong and the 1-based column (in
// characters) where it is.
type Error struct {
	Col int    // 1-based column of the offending token
	Msg string // what is wrong, without the position
}

// Error returns, e.g., `filter: unbalanced "(" at column 4`.
func (e *Error) Error() string {
	if e.Msg == msgEmpty {
		return "filter: " + msgEmpty
	}
	return fmt.Sprintf("filter: %s at column %d", e.Msg, e.Col)
}

const msgEmpty = "empty expression"

func errorf(col int, format string, args ...any) *Error {
	return &Error{Col: col, Msg: fmt.Sprintf(format, args...)}
}

// maxBits is how many exchange atoms (and, apart, ~src atoms) one
// expression may hold: each has a bit in a connection's facts.
const maxBits = 64

// nodeKind is what a node of the expression tree is.
type nodeKind uint8

const (
	nAtom nodeKind = iota
	nNot
	nAnd
	nOr
)

// node is a node of a parsed expression.
type node struct {
	kind nodeKind
	kids []*node // nNot: one; nAnd, nOr: two or more
	atom *atom   // nAtom
}

// Filter is a parsed filter expression. It is immutable and safe for
// concurrent use; the Matchers, Indexes and Outputs made from it are not
// shared.
type Filter struct {
	src  string
	root *node

	needResp bool // an atom's value on a request can change with its response
	needMsg  bool // an atom's value on a frame comes from its message
	nx, ns   int  // exchange atoms and ~src atoms, each with its bit
	atoms    []*atom
}

// Parse parses a filter expression (see the package doc and Help). A bad
// expression is an *Error.
func Parse(expr string) (*Filter, error) {
	toks, err := lex(expr)
	if err != nil {
		return nil, err
	}
	if err := balanced(toks); err != nil {
		return nil, err
	}
	p := &parser{toks: toks, f: &Filter{src: expr}}
	root, err := p.or(nil)
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		// balanced and or() leave nothing else behind; kept as a guard.
		return nil, errorf(t.col, "unexpected %q", t.text)
	}
	p.f.root = root
	return p.f, nil
}

// MustParse is Parse for expressions known to be good; it panics on an
// error.
func MustParse(expr string) *Filter {
	f, err := Parse(expr)
	if err != nil {
		panic(err)
	}
	return f
}

// Source returns the expression as it was given to Parse.
func (f *Filter) Source() string { return f.src }

// balanced reports the first parenthesis that has no partner.
func balanced(toks []token) error {
	var open []int
	for _, t := range toks {
		switch t.kind {
		case tLParen:
			open = append(open, t.col)
		case tRParen:
			if len(open) == 0 {
				return errorf(t.col, `unbalanced ")"`)
			}
			open = open[:len(open)-1]
		}
	}
	if len(open) > 0 {
		return errorf(open[len(open)-1], `unbalanced "("`)
	}
	return nil
}

// parser is a recursive-descent parser over tokens:
//
//	or      = and { "|" and }
//	and     = not { ["&"] not }      juxtaposition is "&"
//	not     = "!" not | primary
//	primary = "(" or ")" | atom [word] | word
type parser struct {
	toks  []token
	i     int
	f     *Filter
	depth int // of "(" and "!" around the current token
}

// maxDepth bounds the nesting of parentheses and "!", so that parsing,
// printing and matching, which recurse, stay shallow.
const maxDepth = 100

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

// or parses an or-expression; after is the operator or "(" before it, nil
// at the start.
func (p *parser) or(after *token) (*node, error) {
	left, err := p.and(after)
	if err != nil || p.peek().kind != tOr {
		return left, err
	}
	n := &node{kind: nOr}
	n.add(left)
	for p.peek().kind == tOr {
		op := p.next()
		right, err := p.and(&op)
		if err != nil {
			return nil, err
		}
		n.add(right)
	}
	return n, nil
}

func (p *parser) and(after *token) (*node, error) {
	left, err := p.not(after)
	if err != nil {
		return nil, err
	}
	var n *node
	for {
		var right *node
		switch t := p.peek(); t.kind {
		case tAnd:
			p.next()
			right, err = p.not(&t)
		case tAtom, tWord, tLParen, tNot:
			right, err = p.not(nil)
		default:
			if n == nil {
				return left, nil
			}
			return n, nil
		}
		if err != nil {
			return nil, err
		}
		if n == nil {
			n = &node{kind: nAnd}
			n.add(left)
		}
		n.add(right)
	}
}

func (p *parser) not(after *token) (*node, error) {
	if t := p.peek(); t.kind == tNot {
		p.next()
		if p.depth++; p.depth > maxDepth {
			return nil, errorf(t.col, "nested deeper than %d", maxDepth)
		}
		defer func() { p.depth-- }()
		kid, err := p.not(&t)
		if err != nil {
			return nil, err
		}
		return &node{kind: nNot, kids: []*node{kid}}, nil
	}
	return p.primary(after)
}

func (p *parser) primary(after *token) (*node, error) {
	t := p.next()
	switch t.kind {
	case tLParen:
		if p.peek().kind == tRParen {
			return nil, errorf(t.col, "empty parentheses")
		}
		if p.depth++; p.depth > maxDepth {
			return nil, errorf(t.col, "nested deeper than %d", maxDepth)
		}
		defer func() { p.depth-- }()
		n, err := p.or(&t)
		if err != nil {
			return nil, err
		}
		p.next() // the ")": balanced guarantees it
		return n, nil
	case tAtom:
		return p.atom(t)
	case tWord:
		a := &atom{spec: specByName["~u"], col: t.col}
		if err := a.parseArg(t.text, t.col); err != nil {
			return nil, err
		}
		return p.leaf(a)
	case tAnd, tOr:
		return nil, errorf(t.col, "%q needs an expression before it", t.text)
	}
	// tEOF or tRParen: the expression stopped where one was due.
	if after == nil || after.kind == tLParen {
		if t.kind == tEOF {
			return nil, &Error{Col: t.col, Msg: msgEmpty}
		}
		return nil, errorf(t.col, "unexpected %q", t.text)
	}
	return nil, errorf(after.col, "trailing %q", after.text)
}

func (p *parser) atom(t token) (*node, error) {
	s, ok := specByName[t.text]
	if !ok {
		return nil, errorf(t.col, "unknown atom %q", t.text)
	}
	a := &atom{spec: s, col: t.col}
	if s.arg != argNone {
		w := p.peek()
		if w.kind != tWord {
			return nil, errorf(w.col, "%s needs %s", s.name, s.arg)
		}
		p.next()
		if err := a.parseArg(w.text, w.col); err != nil {
			return nil, err
		}
	}
	return p.leaf(a)
}

// leaf records a in the filter, giving it its bit, and returns its node.
func (p *parser) leaf(a *atom) (*node, error) {
	f := p.f
	switch {
	case a.spec.scope == scopeExchange:
		if f.nx == maxBits {
			return nil, errorf(a.col, "more than %d host, URL, method, status, header and ~dst atoms", maxBits)
		}
		a.bit = 1 << f.nx
		f.nx++
	case a.spec.code == aSrc:
		if f.ns == maxBits {
			return nil, errorf(a.col, "more than %d ~src atoms", maxBits)
		}
		a.bit = 1 << f.ns
		f.ns++
	}
	switch a.spec.code {
	case aC, aHS, aH, aWebSocket, aSSE:
		f.needResp = true
	case aB, aBQ, aBS, aJQ, aSIO, aCode:
		f.needMsg = true
	}
	f.atoms = append(f.atoms, a)
	return &node{kind: nAtom, atom: a}, nil
}

// add appends k to the and/or node n, flattening a node of the same kind
// (both operators are associative).
func (n *node) add(k *node) {
	if k.kind == n.kind {
		n.kids = append(n.kids, k.kids...)
	} else {
		n.kids = append(n.kids, k)
	}
}

// String returns the expression in canonical form: every atom written
// out (a bare regex as ~u), "&" and "|" with spaces around, parentheses
// only where needed, arguments quoted only where needed. It parses back to
// a Filter with the same String and the same matches.
func (f *Filter) String() string {
	var b strings.Builder
	write(&b, f.root)
	return b.String()
}

func write(b *strings.Builder, n *node) {
	switch n.kind {
	case nAtom:
		b.WriteString(n.atom.spec.name)
		if n.atom.spec.arg != argNone {
			b.WriteByte(' ')
			b.WriteString(quote(n.atom.arg))
		}
	case nNot:
		b.WriteByte('!')
		k := n.kids[0]
		if k.kind == nAnd || k.kind == nOr {
			b.WriteByte('(')
			write(b, k)
			b.WriteByte(')')
		} else {
			write(b, k)
		}
	case nAnd, nOr:
		sep := " & "
		if n.kind == nOr {
			sep = " | "
		}
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(sep)
			}
			if n.kind == nAnd && k.kind == nOr {
				b.WriteByte('(')
				write(b, k)
				b.WriteByte(')')
			} else {
				write(b, k)
			}
		}
	}
}
