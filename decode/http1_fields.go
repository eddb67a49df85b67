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
}

// parseFields parses field lines (RFC 9112 section 5) into dst, keeping
// names and order as sent. It reports what breaks the grammar and decodes
// it as far as it goes: obsolete line folding is joined with a space
// (section 5.2), whitespace before the colon is trimmed.
func (c *Conn) parseFields(s *h1Stream, rest string, dst []Header, f *h1Fields, seq int) []Header {
	for rest != "" {
		var line string
		line, rest = h1NextLine(rest)
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(dst) == 0 {
				c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: continuation line %q with no field before it", h1Clip(line)))
				continue
			}
			c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: obsolete line folding in %q (RFC 9112 section 5.2)", h1Clip(dst[len(dst)-1].Name)))
			h := &dst[len(dst)-1]
			h.Value = h1TrimOWS(h.Value + " " + h1TrimOWS(line))
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: no colon in %q", h1Clip(line)))
			continue
		}
		if n := h1TrimOWS(name); n != name {
			c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: whitespace before the colon in %q (RFC 9112 section 5.1)", h1Clip(name)))
			name = n
		}
		if name == "" || !h1Token(name) {
			c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: invalid field name %q", h1Clip(name)))
			if name == "" {
				continue
			}
		}
		dst = append(dst, Header{name, h1TrimOWS(value)})
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
