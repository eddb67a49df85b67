package decode

import (
	"fmt"
	"strings"
)

// What a complete header section means for its stream: a request's
// pseudo-header fields (RFC 9113 section 8.3.1), a response's status
// (section 8.3.2), trailers (section 8.1).

// h2Fields is what the decoder needs from a header section's regular
// fields.
type h2Fields struct {
	host         string
	clen         int64 // content-length, -1 when absent or invalid
	wsProtocol   string
	wsExtensions string
}

// scanFields reads the fields the decoder acts on, and checks
// content-length (RFC 9113 section 8.1.1).
func (c *h2Conn) scanFields(d *h2Dir, hs []Header) h2Fields {
	f := h2Fields{clen: -1}
	for _, h := range hs {
		switch len(h.Name) {
		case 4:
			if f.host == "" && strings.EqualFold(h.Name, "host") {
				f.host = h.Value
			}
		case 14:
			if !strings.EqualFold(h.Name, "content-length") {
				break
			}
			n, ok := h2ParseLength(h.Value)
			switch {
			case !ok:
				c.report(d.side, h2kContentLength, d.blk.target, fmt.Sprintf("content-length %q is not a number (RFC 9110 section 8.6)", h2Clip(h.Value)))
			case f.clen >= 0 && n != f.clen:
				c.report(d.side, h2kContentLength, d.blk.target, fmt.Sprintf("conflicting content-length values %d and %d (RFC 9110 section 8.6)", f.clen, n))
			default:
				f.clen = n
			}
		case 22:
			if strings.EqualFold(h.Name, "sec-websocket-protocol") {
				f.wsProtocol = h2Join(f.wsProtocol, h.Value)
			}
		case 24:
			if strings.EqualFold(h.Name, "sec-websocket-extensions") {
				f.wsExtensions = h2Join(f.wsExtensions, h.Value)
			}
		}
	}
	return f
}

// h2Join combines the values of a repeated list field (RFC 9110 section 5.3).
func h2Join(a, b string) string {
	if a == "" {
		return b
	}
	return a + ", " + b
}

// h2ParseLength parses content-length = 1*DIGIT, up to 2^63-1.
func h2ParseLength(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// requestHeaders gives a request's header section (or a PUSH_PROMISE's)
// to its stream and maps the pseudo-header fields (RFC 9113 section
// 8.3.1). A CONNECT is delivered at once: its stream carries a tunnel or a
// WebSocket, not a body.
func (c *h2Conn) requestHeaders(d *h2Dir, s *h2Stream) {
	b := &d.blk
	checked := !d.hpackBad && !b.over
	c.take(d, &s.req.hdrs, &s.req.kept)
	s.req.headers = true
	var seen uint8
	for _, h := range s.req.hdrs {
		if h.Name == "" || h.Name[0] != ':' {
			continue
		}
		var dst *string
		var bit uint8
		switch h.Name {
		case ":method":
			dst, bit = &s.method, 1
		case ":path":
			dst, bit = &s.target, 2
		case ":authority":
			dst, bit = &s.host, 4
		case ":scheme":
			dst, bit = &s.scheme, 8
		case ":protocol":
			dst, bit = &s.protocol, 16
		default:
			c.report(d.side, h2kPseudo, s.id, fmt.Sprintf("request with pseudo-header field %q (RFC 9113 section 8.3.1)", h2Clip(h.Name)))
			continue
		}
		if seen&bit != 0 {
			c.report(d.side, h2kPseudo, s.id, fmt.Sprintf("pseudo-header field %q repeated (RFC 9113 section 8.3)", h.Name))
			continue
		}
		seen |= bit
		*dst = h.Value
	}
	f := c.scanFields(d, s.req.hdrs)
	s.req.clen = f.clen
	if s.host == "" {
		s.host = f.host
	}
	s.connect = s.method == "CONNECT"
	s.head = s.method == "HEAD"
	if checked {
		// RFC 9113 sections 8.3.1 and 8.5, RFC 8441 section 4.
		plainConnect := s.connect && s.protocol == ""
		missing := ""
		switch {
		case seen&1 == 0:
			missing = ":method"
		case plainConnect && seen&4 == 0:
			missing = ":authority"
		case !plainConnect && seen&8 == 0:
			missing = ":scheme"
		case !plainConnect && s.target == "":
			missing = ":path"
		}
		switch {
		case missing != "":
			c.report(d.side, h2kPseudo, s.id, fmt.Sprintf("request without %s (RFC 9113 section 8.3.1)", missing))
		case plainConnect && seen&(2|8) != 0:
			c.report(d.side, h2kPseudo, s.id, "CONNECT with :scheme or :path (RFC 9113 section 8.5)")
		case s.protocol != "" && !s.connect:
			c.report(d.side, h2kPseudo, s.id, fmt.Sprintf(":protocol with method %q, not CONNECT (RFC 8441 section 4)", h2Clip(s.method)))
		}
	}
	if s.connect && s.target == "" {
		s.target = s.host // as the authority-form of HTTP/1.1 (RFC 9112 section 3.2.3)
	}
	c.requestHead(s)
	if s.pushed || s.connect {
		c.deliverRequest(s)
	}
}

// responseHeaders gives a response's header section to its stream: an
// interim one (1xx) is delivered, or held until the request is; a final
// one waits for the end of the body, unless it is a 2xx to a CONNECT.
func (c *h2Conn) responseHeaders(d *h2Dir, s *h2Stream) {
	b := &d.blk
	status, ok := 0, false
	for _, h := range b.fields {
		if h.Name == "" || h.Name[0] != ':' {
			continue
		}
		if h.Name != ":status" {
			c.report(d.side, h2kPseudo, s.id, fmt.Sprintf("response with pseudo-header field %q (RFC 9113 section 8.3.2)", h2Clip(h.Name)))
			continue
		}
		if ok {
			c.report(d.side, h2kPseudo, s.id, "pseudo-header field \":status\" repeated (RFC 9113 section 8.3)")
			continue
		}
		ok = true
		if n, valid := h2ParseLength(h.Value); valid && len(h.Value) == 3 {
			status = int(n)
		} else {
			c.report(d.side, h2kStatus, s.id, fmt.Sprintf(":status %q is not a 3-digit code (RFC 9110 section 15)", h2Clip(h.Value)))
		}
	}
	if !ok && !d.hpackBad && !b.over {
		c.report(d.side, h2kPseudo, s.id, "response without :status (RFC 9113 section 8.3.2)")
	}
	if 100 <= status && status < 200 {
		if status == 101 || b.endStream {
			c.report(d.side, h2kStatus, s.id, fmt.Sprintf("interim response %d: HTTP/2 has no 101, and an interim response has no END_STREAM (RFC 9113 section 8.1)", status))
		}
		c.responseHead(s, status, b.fields)
		c.interim(d, s, status)
		return
	}
	c.take(d, &s.resp.hdrs, &s.resp.kept)
	s.resp.headers = true
	s.status = status
	f := c.scanFields(d, s.resp.hdrs)
	s.resp.clen = f.clen
	c.responseHead(s, status, s.resp.hdrs)
	c.startPush(s, b.endStream) // issue 10
	if s.connect && status/100 == 2 {
		c.connected(s, f)
	}
}

// trailers gives a trailer section to its message (RFC 9113 section 8.1).
func (c *h2Conn) trailers(d *h2Dir, s *h2Stream) {
	b := &d.blk
	m := s.msg(d.side)
	c.take(d, &m.trls, &m.kept)
	for _, h := range m.trls {
		if h.Name != "" && h.Name[0] == ':' {
			c.report(d.side, h2kPseudo, s.id, fmt.Sprintf("pseudo-header field %q in a trailer section (RFC 9113 section 8.1)", h2Clip(h.Name)))
			break
		}
	}
	if !b.endStream {
		c.report(d.side, h2kTrailers, s.id, "second header section without END_STREAM (RFC 9113 section 8.1)")
	}
}
