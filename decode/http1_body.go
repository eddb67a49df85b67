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
// a request whose final transfer coding is not chunked, conflicting
// Content-Length values, and Transfer-Encoding in an HTTP/1.0 message are
// fatal.
func (c *Conn) framing(s *h1Stream, f *h1Fields, seq int) (kind h1Framing, n int64, msg string) {
	request := s.side == Client
	if f.te > 0 && s.proto() == "HTTP/1.0" {
		// RFC 9112 section 6.1: "A server or client that receives an
		// HTTP/1.0 message containing a Transfer-Encoding header field
		// MUST treat the message as if the framing is faulty, even if a
		// Content-Length is present".
		return 0, 0, "transfer-encoding in an HTTP/1.0 message: the framing is faulty (RFC 9112 section 6.1)"
	}
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

// bodyBytes decodes bytes of a body from p (RFC 9112 sections 6 and 7):
// Content-Length, chunked with its trailer section, or until the end of
// the stream. It returns how many it consumed; the message is delivered
// when they complete it.
func (c *Conn) bodyBytes(s *h1Stream, p []byte) (n int) {
	switch s.state {
	case h1Body, h1ChunkData:
		n = int(min(s.remain, int64(len(p))))
		c.keepBody(s, p[:n])
		c.bodyProgress(s, p[:n])
		s.remain -= int64(n)
		if s.remain > 0 {
			break
		}
		if s.state == h1ChunkData {
			s.state = h1ChunkCR
			s.pushChunkEnd()
		} else {
			c.endMessage(s)
		}
	case h1ChunkSize:
		k, done, msg := s.chunkLine(p, c.maxHead)
		n = k
		if done && s.cbareLF {
			msg = c.bareLF(s, "the chunk-size line ends in a bare LF")
		}
		switch {
		case msg != "":
			c.fatalBody(s, msg)
		case done && s.csize == 0:
			s.state = h1Trailers
			s.started = true
		case done:
			s.remain = s.csize
			s.state = h1ChunkData
			c.pushChunkStart(s)
		}
		if done || msg != "" {
			s.resetChunkLine()
		}
	case h1ChunkCR, h1ChunkLF:
		b := p[0]
		n = 1
		switch {
		case b == '\r' && s.state == h1ChunkCR:
			s.state = h1ChunkLF
		case b == '\n' && s.state == h1ChunkLF:
			s.state = h1ChunkSize
		case b == '\n':
			s.state = h1ChunkSize
			if msg := c.bareLF(s, "the chunk data is followed by a bare LF"); msg != "" {
				c.fatalBody(s, msg)
			}
		default:
			c.fatalBody(s, fmt.Sprintf("chunk data: %q instead of the CRLF after the chunk", b))
		}
	case h1Trailers:
		k, text, _, tooLarge := s.scanHead(p, c.maxHead)
		n = k
		switch {
		case tooLarge:
			s.head = reuse(s.head)
			c.fatalBody(s, fmt.Sprintf("trailer section too large: more than %d bytes", c.maxHead))
		case text != nil:
			if len(text) > 2 {
				s.trls = c.parseFields(s, string(text), s.trls[:0], &h1Fields{}, s.seqNo())
			}
			s.head = reuse(s.head) // text, which may be its bytes, is decoded
			c.endMessage(s)
		}
	case h1UntilClose:
		c.keepBody(s, p)
		c.bodyProgress(s, p)
		n = len(p)
	}
	return n
}

// bodyProgress hands body bytes to the Handler's Progress, if it has one.
func (c *Conn) bodyProgress(s *h1Stream, p []byte) {
	if c.prog != nil && len(p) > 0 {
		c.prog.BodyBytes(s.side, s.seqNo(), 0, p)
	}
}

// chunkLine consumes a chunk-size line: chunk-size [ chunk-ext ] CRLF
// (RFC 9112 section 7.1). It returns the bytes consumed, whether the line
// is complete, and a message when it breaks the grammar. A CR must be
// followed by LF; a line that ends in a bare LF is complete, with
// s.cbareLF set, and the caller decides what that means.
func (s *h1Stream) chunkLine(p []byte, max int) (n int, done bool, msg string) {
	for n < len(p) {
		b := p[n]
		n++
		if b == '\n' {
			if !s.cdigits {
				return n, false, "chunk size: missing"
			}
			s.cbareLF = !s.ccr
			return n, true, ""
		}
		if s.ccr {
			return n, false, "chunk size: a CR not followed by LF (RFC 9112 section 7.1)"
		}
		s.cline++
		if s.cline > max {
			return n, false, fmt.Sprintf("chunk size: line longer than %d bytes", max)
		}
		if b == '\r' && s.cdigits {
			s.ccr = true // the CR of CRLF
			continue
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
		case (b == ' ' || b == '\t') && s.cdigits:
			s.cafter = true // BWS before an extension
		default:
			return n, false, fmt.Sprintf("chunk size: invalid byte %q", b)
		}
	}
	return n, false, ""
}

func (s *h1Stream) resetChunkLine() {
	s.csize, s.cdigits, s.cafter, s.cext, s.ccr, s.cbareLF, s.cline = 0, false, false, false, false, false, 0
}

// bareLF handles a chunk line that ended in a bare LF: RFC 9112 section 7.1
// requires CRLF there; only the start line and fields may end in a bare LF
// (section 2.2). A request is refused (it returns a message for a fatal
// error), so that a routing proxy and the server behind it cannot disagree
// on where it ends; a response is reported once per body and decoded on,
// as browsers accept it.
func (c *Conn) bareLF(s *h1Stream, what string) (msg string) {
	if s.side == Client {
		return "chunked body: " + what + ", not CRLF (RFC 9112 section 7.1)"
	}
	if !s.bareLFSaid {
		s.bareLFSaid = true
		c.report(s, ErrHTTPFraming, s.seqNo(), "chunked body: "+what+", not CRLF (RFC 9112 section 7.1): decoded on as browsers do, not reported again in this body")
	}
	return ""
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
