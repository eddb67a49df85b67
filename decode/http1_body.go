package decode

import (
	"fmt"
	"math"
	"strings"
)

// h1Framing is how a message's body is delimited (RFC 9112 section 6.3).
type h1Framing uint8

const (
	h1NoBody h1Framing = iota
	h1Length
	h1Chunked
	h1Close
)

// framing reads the framing of a message with a body from its fields (RFC
// 9112 section 6.3). msg is set when the framing cannot be trusted, and the
// direction must go opaque: "If a message is received with both a
// Transfer-Encoding and a Content-Length header field, the
// Transfer-Encoding overrides the Content-Length" (reported, not fatal);
// a request whose final transfer coding is not chunked, or conflicting
// Content-Length values, are fatal.
func (c *Conn) framing(s *h1Stream, f *h1Fields, seq int) (kind h1Framing, n int64, msg string) {
	request := s.side == Client
	if f.te > 0 {
		chunks, last, unknown := 0, false, ""
		for _, h := range s.hdrs {
			if !strings.EqualFold(h.Name, "Transfer-Encoding") {
				continue
			}
			for item := range strings.SplitSeq(h.Value, ",") {
				tok, _, _ := strings.Cut(item, ";")
				tok = h1TrimOWS(tok)
				switch {
				case tok == "":
					continue
				case strings.EqualFold(tok, "chunked"):
					chunks++
					last = true
					continue
				case !knownCoding(tok):
					if unknown == "" {
						unknown = tok
					}
				}
				last = false
			}
		}
		switch {
		case request && unknown != "":
			return 0, 0, fmt.Sprintf("transfer-encoding: unknown coding %q (RFC 9112 section 6.1)", h1Clip(unknown))
		case chunks > 1:
			return 0, 0, "transfer-encoding: chunked applied more than once (RFC 9112 section 6.1)"
		case request && !last:
			return 0, 0, "transfer-encoding: a request's final coding must be chunked (RFC 9112 section 6.3)"
		}
		if f.cl > 0 {
			c.report(s, ErrHTTPFraming, seq, "both Transfer-Encoding and Content-Length: Transfer-Encoding wins (RFC 9112 section 6.3)")
		}
		if last {
			return h1Chunked, 0, ""
		}
		return h1Close, 0, ""
	}
	if f.cl > 0 {
		n = -1
		for _, h := range s.hdrs {
			if !strings.EqualFold(h.Name, "Content-Length") {
				continue
			}
			for item := range strings.SplitSeq(h.Value, ",") {
				item = h1TrimOWS(item)
				v, ok := parseLength(item)
				if !ok {
					return 0, 0, fmt.Sprintf("content-length: invalid value %q", h1Clip(item))
				}
				if n >= 0 && v != n {
					return 0, 0, fmt.Sprintf("content-length: conflicting values %d and %d", n, v)
				}
				n = v
			}
		}
		if n <= 0 {
			return h1NoBody, 0, ""
		}
		return h1Length, n, ""
	}
	if request {
		return h1NoBody, 0, ""
	}
	return h1Close, 0, ""
}

// knownCoding reports the transfer codings of the IANA registry that a
// request may carry before chunked (RFC 9112 section 7).
func knownCoding(tok string) bool {
	for _, k := range [...]string{"gzip", "x-gzip", "deflate", "compress", "x-compress", "identity"} {
		if strings.EqualFold(tok, k) {
			return true
		}
	}
	return false
}

// parseLength parses Content-Length = 1*DIGIT, refusing values past 2^63-1.
func parseLength(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if !h1Digit(s[i]) {
			return 0, false
		}
		d := int64(s[i] - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// chunkLine consumes a chunk-size line: chunk-size [ chunk-ext ] CRLF
// (RFC 9112 section 7.1). It returns the bytes consumed, whether the line
// is complete, and a message when it breaks the grammar.
func (s *h1Stream) chunkLine(p []byte, max int) (n int, done bool, msg string) {
	for n < len(p) {
		b := p[n]
		n++
		if b == '\n' {
			if !s.cdigits {
				return n, false, "chunk size: missing"
			}
			return n, true, ""
		}
		s.cline++
		if s.cline > max {
			return n, false, fmt.Sprintf("chunk size: line longer than %d bytes", max)
		}
		if s.cext {
			continue // chunk extensions are not interpreted
		}
		switch v := h1Unhex(b); {
		case v >= 0 && !s.cafter:
			if s.csize > math.MaxInt64>>4 {
				return n, false, "chunk size: more than 2^63-1"
			}
			s.csize = s.csize<<4 | int64(v)
			s.cdigits = true
		case b == ';' && s.cdigits:
			s.cext = true
		case (b == ' ' || b == '\t' || b == '\r') && s.cdigits:
			s.cafter = true // BWS before an extension, or the CR of CRLF
		default:
			return n, false, fmt.Sprintf("chunk size: invalid byte %q", b)
		}
	}
	return n, false, ""
}

func (s *h1Stream) resetChunkLine() {
	s.csize, s.cdigits, s.cafter, s.cext, s.cline = 0, false, false, false, 0
}

func h1Unhex(b byte) int {
	switch {
	case '0' <= b && b <= '9':
		return int(b - '0')
	case 'a' <= b && b <= 'f':
		return int(b-'a') + 10
	case 'A' <= b && b <= 'F':
		return int(b-'A') + 10
	}
	return -1
}
