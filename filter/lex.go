package filter

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind is what a token is.
type tokKind uint8

const (
	tEOF    tokKind = iota
	tLParen         // (
	tRParen         // )
	tNot            // !
	tAnd            // &
	tOr             // |
	tAtom           // ~name
	tWord           // an argument or a bare regex, quoted or not
)

// token is one lexical token of an expression. col is the 1-based column
// (in characters) where it starts.
type token struct {
	kind   tokKind
	text   string // tAtom: the name with its "~"; tWord: the word, unquoted
	col    int
	quoted bool // tWord: it was written in quotes
}

// lex splits expr into tokens, ending with a tEOF token.
//
// Outside quotes, whitespace separates tokens and ( ) ! & | are operators.
// A token that starts with "~" is an atom name (letters and digits). A
// token that starts with " or ' is a quoted word up to the matching quote:
// a backslash escapes \, " and ', and stays as written before anything
// else, so regex escapes such as \d pass through. Any other token is an
// unquoted word: it runs to whitespace, or to a ), & or | that closes no
// parenthesis opened inside the word (so ~u /a/(b|c) is one regex), and a
// quote inside it opens a section that runs to the matching quote, kept
// with its quotes (so ~jq .name="a b" is one word).
func lex(expr string) ([]token, error) {
	var toks []token
	col := 1
	for i := 0; i < len(expr); {
		r, size := utf8.DecodeRuneInString(expr[i:])
		start := col
		switch {
		case unicode.IsSpace(r):
			i += size
			col++
			continue
		case r == '(' || r == ')' || r == '!' || r == '&' || r == '|':
			toks = append(toks, token{kind: opKinds[r], text: string(r), col: start})
			i += size
			col++
			continue
		case r == '~':
			j := i + 1
			for j < len(expr) && isNameByte(expr[j]) {
				j++
			}
			toks = append(toks, token{kind: tAtom, text: expr[i:j], col: start})
			col += j - i
			i = j
			continue
		case r == '"' || r == '\'':
			w, n, cols, ok := quoted(expr[i:])
			if !ok {
				return nil, errorf(start, "unterminated quote")
			}
			toks = append(toks, token{kind: tWord, text: w, col: start, quoted: true})
			i += n
			col += cols
			continue
		}
		n, cols, err := unquotedWord(expr[i:], start)
		if err != nil {
			return nil, err
		}
		toks = append(toks, token{kind: tWord, text: expr[i : i+n], col: start})
		i += n
		col += cols
	}
	return append(toks, token{kind: tEOF, col: col}), nil
}

var opKinds = map[rune]tokKind{'(': tLParen, ')': tRParen, '!': tNot, '&': tAnd, '|': tOr}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// quoted reads the quoted word at the start of s (s[0] is the quote). It
// returns the word, the bytes and characters it took, and false when the
// quote does not end.
func quoted(s string) (word string, n, cols int, ok bool) {
	q := s[0]
	var b strings.Builder
	cols = 1
	for i := 1; i < len(s); {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, cols + 1, true
		case c == '\\' && i+1 < len(s) && (s[i+1] == '\\' || s[i+1] == '"' || s[i+1] == '\''):
			b.WriteByte(s[i+1])
			i += 2
			cols += 2
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		b.WriteString(s[i : i+size])
		i += size
		cols++
	}
	return "", 0, 0, false
}

// unquotedWord measures the unquoted word at the start of s, which starts
// at column col.
func unquotedWord(s string, col int) (n, cols int, err error) {
	depth := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case unicode.IsSpace(r):
			return i, cols, nil
		case r == '(':
			depth++
		case r == ')' && depth > 0:
			depth--
		case (r == ')' || r == '&' || r == '|') && depth == 0:
			return i, cols, nil
		case r == '"' || r == '\'':
			j := strings.IndexByte(s[i+1:], byte(r))
			if j < 0 {
				return 0, 0, errorf(col+cols, "unterminated quote")
			}
			cols += 1 + utf8.RuneCountInString(s[i+1:i+1+j]) + 1
			i += 1 + j + 1
			continue
		}
		i += size
		cols++
	}
	return len(s), cols, nil
}

// quote writes w so that lex reads it back as one word with the same text:
// as it is when that is plain, else in double quotes.
func quote(w string) string {
	if plainWord(w) {
		return w
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(w); i++ {
		if w[i] == '"' || w[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(w[i])
	}
	b.WriteByte('"')
	return b.String()
}

// plainWord reports whether w lexes as one unquoted word equal to itself.
func plainWord(w string) bool {
	if w == "" || !utf8.ValidString(w) {
		return false
	}
	for i, r := range w {
		switch {
		case unicode.IsSpace(r) || !unicode.IsPrint(r),
			strings.ContainsRune(`()&|"'`, r),
			i == 0 && (r == '~' || r == '!'):
			return false
		}
	}
	return true
}
