package decode

import (
	"bytes"
	"fmt"
	"strings"
)

// scanHead consumes the bytes of a head (RFC 9112 section 2.1: a start line
// and field lines) or of a trailer section from p, up to and including the
// empty line that ends it. Lines end in CRLF or a bare LF. Once that empty
// line has arrived it returns the whole head, valid until the next call;
// tooLarge is set when the head would pass max bytes. first is the head's
// first byte, or -1 while there is none. Empty lines before a start line
// are skipped: "a server that is expecting to receive and parse a
// request-line SHOULD ignore at least one empty line (CRLF) received prior
// to the request-line" (RFC 9112 section 2.2).
func (s *h1Stream) scanHead(p []byte, max int) (n int, head []byte, first int, tooLarge bool) {
	from := 0 // where this head's bytes start in p
	for n < len(p) {
		j := bytes.IndexByte(p[n:], '\n')
		if j < 0 {
			rest := p[n:]
			s.lineCR = s.line == 0 && len(rest) == 1 && rest[0] == '\r'
			s.line += len(rest)
			n = len(p)
			break
		}
		size := s.line + j // bytes of the line before its LF
		empty := size == 0 || size == 1 && (j == 1 && p[n] == '\r' || j == 0 && s.lineCR)
		n += j + 1
		s.line, s.lineCR = 0, false
		if !empty {
			s.started = true
			continue
		}
		if !s.started {
			s.head = s.head[:0]
			from = n
			continue
		}
		first = s.headFirst(p, from, n)
		if len(s.head)+n-from > max {
			return n, nil, first, true
		}
		if len(s.head) == 0 {
			head = p[from:n]
		} else {
			s.head = grow(s.head, n-from, max)
			s.head = append(s.head, p[from:n]...)
			head = s.head
			s.head = s.head[:0] // the caller gives it back once head is decoded
		}
		s.started = false
		return n, head, first, false
	}
	first = s.headFirst(p, from, n)
	if len(s.head)+n-from > max {
		return n, nil, first, true
	}
	s.head = grow(s.head, n-from, max)
	s.head = append(s.head, p[from:n]...)
	return n, nil, first, false
}

// headFirst is the first byte of a head held in s.head, then p[from:n].
func (s *h1Stream) headFirst(p []byte, from, n int) int {
	switch {
	case len(s.head) > 0:
		return int(s.head[0])
	case from < n:
		return int(p[from])
	}
	return -1
}

// h1Blank reports whether a partial head holds only line ends.
func h1Blank(b []byte) bool {
	for _, c := range b {
		if c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// h1NextLine splits the first line off a head, without its CRLF or LF.
func h1NextLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// parseRequestLine parses request-line = method SP request-target SP
// HTTP-version (RFC 9112 section 3).
func parseRequestLine(line string) (method, target, proto, msg string) {
	sp := strings.IndexByte(line, ' ')
	if sp < 0 {
		return "", "", "", fmt.Sprintf("request line: no space in %q", h1Clip(line))
	}
	method = line[:sp]
	if method == "" || !h1Token(method) {
		return "", "", "", fmt.Sprintf("request line: invalid method %q", h1Clip(method))
	}
	rest := line[sp+1:]
	sp = strings.LastIndexByte(rest, ' ')
	if sp < 0 {
		return "", "", "", fmt.Sprintf("request line: no HTTP version in %q", h1Clip(line))
	}
	target, proto = rest[:sp], rest[sp+1:]
	if target == "" || strings.IndexFunc(target, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return "", "", "", fmt.Sprintf("request line: invalid target %q", h1Clip(target))
	}
	if msg := checkVersion(proto); msg != "" {
		return "", "", "", "request line: " + msg
	}
	return method, target, proto, ""
}

// parseStatusLine parses status-line = HTTP-version SP status-code SP
// [ reason-phrase ] (RFC 9112 section 4). A missing SP after the code is
// tolerated.
func parseStatusLine(line string) (proto string, status int, reason, msg string) {
	proto, rest, _ := strings.Cut(line, " ")
	if msg := checkVersion(proto); msg != "" {
		return "", 0, "", "status line: " + msg
	}
	code, reason, _ := strings.Cut(rest, " ")
	if len(code) != 3 || !h1Digit(code[0]) || !h1Digit(code[1]) || !h1Digit(code[2]) {
		return "", 0, "", fmt.Sprintf("status line: invalid status code %q", h1Clip(code))
	}
	status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	return proto, status, reason, ""
}

// checkVersion accepts HTTP/1.1 and HTTP/1.0 (RFC 9112 section 2.3).
func checkVersion(v string) string {
	switch v {
	case "HTTP/1.1", "HTTP/1.0":
		return ""
	}
	if len(v) == 8 && strings.HasPrefix(v, "HTTP/") && h1Digit(v[5]) && v[6] == '.' && h1Digit(v[7]) {
		return fmt.Sprintf("unsupported version %q", v)
	}
	return fmt.Sprintf("invalid version %q", h1Clip(v))
}

// firstByteMsg checks the first byte of a head before its line is complete,
// so that binary input fails at once instead of filling MaxHead. It names
// only that byte so that the message does not depend on how input is split.
func firstByteMsg(side Side, b byte) string {
	if side == Client {
		if h1TokenChar[b] {
			return ""
		}
		if b == 0x16 {
			return "request line: invalid method: first byte 0x16, a TLS handshake record (TLS sent where plain HTTP was expected)"
		}
		return fmt.Sprintf("request line: invalid method: first byte 0x%02x", b)
	}
	if b == 'H' {
		return ""
	}
	return fmt.Sprintf("status line: first byte 0x%02x, want \"HTTP/\"", b)
}
