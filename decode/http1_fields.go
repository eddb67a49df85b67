package decode

import (
	"fmt"
	"strings"
)

// h1Fields is what the decoder needs from a head's fields, gathered in one pass.
type h1Fields struct {
	host        string
	hosts       int
	cl, te      int // how many Content-Length and Transfer-Encoding fields
	connUpgrade bool
	upgrade     string
	key         string // Sec-WebSocket-Key
	accept      string // Sec-WebSocket-Accept
	protocol    string // Sec-WebSocket-Protocol
	extensions  string // Sec-WebSocket-Extensions
	h2settings  string // HTTP2-Settings (RFC 7540 section 3.2.1)
}

// h1FieldErrMax is how many errors the field lines of one head or trailer
// section report one by one; the rest are counted in one last error, so
// that a head of abuse costs one head's worth of capture.
const h1FieldErrMax = 8

// h1ErrCount counts the errors of one head's field lines.
type h1ErrCount int

// next counts one more error and reports whether it is to be reported.
func (e *h1ErrCount) next() bool {
	*e++
	return *e <= h1FieldErrMax
}

// parseFields parses field lines (RFC 9112 section 5) into dst, keeping
// names and order as sent. It reports what breaks the grammar and decodes
// it as far as it goes: obsolete line folding is joined with a space
// (section 5.2), whitespace before the colon is trimmed, a value with CR or
// NUL is kept as sent. Its work is linear in the size of the head.
func (c *Conn) parseFields(s *h1Stream, rest string, dst []Header, f *h1Fields, seq int) []Header {
	var errs h1ErrCount
	for rest != "" {
		var line string
		line, rest = h1NextLine(rest)
		if line == "" {
			break
		}
		if h1Folded(line) {
			// RFC 9112 section 2.2: "a recipient that receives
			// whitespace between the start-line and the first header
			// field MUST [...] consume each whitespace-preceded line
			// without further processing of it".
			var n int
			n, rest = h1SkipFolds(rest)
			if errs.next() {
				c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: %d whitespace-preceded lines with no field before them, ignored (RFC 9112 section 2.2), the first %q", n+1, h1Clip(line)))
			}
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			if errs.next() {
				c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: no colon in %q", h1Clip(line)))
			}
			_, rest = h1SkipFolds(rest) // they continue the line ignored
			continue
		}
		if n := h1TrimOWS(name); n != name {
			if errs.next() {
				c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: whitespace before the colon in %q (RFC 9112 section 5.1)", h1Clip(name)))
			}
			name = n
		}
		if name == "" || !h1Token(name) {
			if errs.next() {
				c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: invalid field name %q", h1Clip(name)))
			}
			if name == "" {
				_, rest = h1SkipFolds(rest) // they continue the line ignored
				continue
			}
		}
		value = h1TrimOWS(value)
		if h1Folded(rest) {
			var n int
			value, n, rest = unfold(value, rest)
			if errs.next() {
				c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: obsolete line folding in %q, %d lines joined (RFC 9112 section 5.2)", h1Clip(name), n+1))
			}
		}
		if bad := h1BadValue(value); bad != "" {
			if errs.next() {
				c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: %s in the value of %q, kept as sent (RFC 9110 section 5.5)", bad, h1Clip(name)))
			}
		}
		dst = append(dst, Header{name, value})
	}
	if more := int(errs) - h1FieldErrMax; more > 0 {
		what := "head"
		if s.state == h1Trailers {
			what = "trailer section"
		}
		plural := "s"
		if more == 1 {
			plural = ""
		}
		c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: and %d more error%s in this %s, not reported one by one", more, plural, what))
	}
	for i := range dst {
		h := &dst[i]
		switch len(h.Name) {
		case 4:
			if strings.EqualFold(h.Name, "Host") {
				if f.hosts == 0 {
					f.host = h.Value
				}
				f.hosts++
			}
		case 7:
			if strings.EqualFold(h.Name, "Upgrade") && f.upgrade == "" {
				f.upgrade = h.Value
			}
		case 10:
			if strings.EqualFold(h.Name, "Connection") && h1HasToken(h.Value, "upgrade") {
				f.connUpgrade = true
			}
		case 14:
			if strings.EqualFold(h.Name, "Content-Length") {
				f.cl++
			} else if strings.EqualFold(h.Name, "HTTP2-Settings") && f.h2settings == "" {
				f.h2settings = h.Value
			}
		case 17:
			if strings.EqualFold(h.Name, "Transfer-Encoding") {
				f.te++
			} else if strings.EqualFold(h.Name, "Sec-WebSocket-Key") && f.key == "" {
				f.key = h.Value
			}
		case 20:
			if strings.EqualFold(h.Name, "Sec-WebSocket-Accept") && f.accept == "" {
				f.accept = h.Value
			}
		case 22:
			if strings.EqualFold(h.Name, "Sec-WebSocket-Protocol") {
				f.protocol = joinList(f.protocol, h.Value)
			}
		case 24:
			if strings.EqualFold(h.Name, "Sec-WebSocket-Extensions") {
				f.extensions = joinList(f.extensions, h.Value)
			}
		}
	}
	return dst
}

// h1Folded reports whether rest starts with a line that continues the one
// before it: obs-fold = OWS CRLF RWS (RFC 9112 section 5.2).
func h1Folded(rest string) bool {
	return rest != "" && (rest[0] == ' ' || rest[0] == '\t')
}

// h1SkipFolds skips the continuation lines at the start of rest. It returns
// how many there were and what follows them.
func h1SkipFolds(rest string) (n int, after string) {
	for ; h1Folded(rest); n++ {
		_, rest = h1NextLine(rest)
	}
	return n, rest
}

// unfold joins a folded field value: value, then each continuation line at
// the start of rest, trimmed, with one space between the parts that are not
// empty, as section 5.2 asks ("replace each received obs-fold with one or
// more SP octets"). It returns the value, how many lines it took from rest,
// and what follows them. It sizes the value first and copies each byte
// once: a field folded 16,000 times costs one allocation of its size.
func unfold(value, rest string) (joined string, n int, after string) {
	end := 0 // of the continuation lines in rest
	for ; h1Folded(rest[end:]); n++ {
		i := strings.IndexByte(rest[end:], '\n')
		if i < 0 {
			end = len(rest)
			n++
			break
		}
		end += i + 1
	}
	var b strings.Builder
	b.Grow(len(value) + end)
	b.WriteString(value)
	for lines := rest[:end]; lines != ""; {
		var line string
		line, lines = h1NextLine(lines)
		if part := h1TrimOWS(line); part != "" {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(part)
		}
	}
	return b.String(), n, rest[end:]
}

// h1BadValue names the characters of a field value that RFC 9110 section
// 5.5 calls "invalid and dangerous": "Field values containing CR, LF, or
// NUL characters are invalid and dangerous, due to the varying ways that
// implementations might parse and interpret those characters" (a bare LF
// always ends a line here). It returns "" for a value without them.
func h1BadValue(v string) string {
	cr, nul := strings.IndexByte(v, '\r') >= 0, strings.IndexByte(v, 0) >= 0
	switch {
	case cr && nul:
		return "bare CR and NUL"
	case cr:
		return "bare CR"
	case nul:
		return "NUL"
	}
	return ""
}

// joinList combines the values of a repeated list field (RFC 9110 section 5.3).
func joinList(a, b string) string {
	if a == "" {
		return b
	}
	return a + ", " + b
}

// h1HasToken reports whether a comma-separated list contains tok, ignoring case.
func h1HasToken(list, tok string) bool {
	for item := range strings.SplitSeq(list, ",") {
		if strings.EqualFold(h1TrimOWS(item), tok) {
			return true
		}
	}
	return false
}

// h1Authority returns the authority of an absolute-form request-target
// (RFC 9112 section 3.2.2), without userinfo; "" for any other form. The
// target starts with a scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
// (RFC 3986 section 3.1), so an origin-form target with "://" in its
// query is not taken for one.
func h1Authority(target string) string {
	scheme, rest, ok := strings.Cut(target, "://")
	if !ok || !h1Scheme(scheme) {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	return rest
}

// h1Scheme reports whether s is a URI scheme (RFC 3986 section 3.1).
func h1Scheme(s string) bool {
	if s == "" || !('a' <= s[0]|0x20 && s[0]|0x20 <= 'z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c|0x20 && c|0x20 <= 'z' || h1Digit(c) || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// h1TrimOWS trims optional whitespace (RFC 9110 section 5.6.3).
func h1TrimOWS(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[i:j]
}

func h1Digit(b byte) bool { return '0' <= b && b <= '9' }

func h1Letter(b byte) bool { return 'a' <= b|0x20 && b|0x20 <= 'z' }

func h1Token(s string) bool {
	for i := 0; i < len(s); i++ {
		if !h1TokenChar[s[i]] {
			return false
		}
	}
	return true
}

// h1TokenChar is tchar of RFC 9110 section 5.6.2.
var h1TokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// h1Clip shortens what an error message quotes.
func h1Clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
