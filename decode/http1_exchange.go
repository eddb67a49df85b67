package decode

import (
	"bytes"
	"fmt"
)

// h1Exchange is what pairing a response with its request needs to know.
type h1Exchange struct {
	seq        int
	head       bool // HEAD: the response has no body
	connect    bool // CONNECT: a 2xx opens a tunnel
	upgrade    bool // Connection: upgrade with an Upgrade field (RFC 9110 section 7.8)
	websocket  bool // the Upgrade field offers websocket
	key        string
	protocol   string // Sec-WebSocket-Protocol offered
	extensions string // Sec-WebSocket-Extensions offered
	h2c        bool   // the Upgrade field offers h2c (RFC 7540 section 3.2)
	h2settings string // its HTTP2-Settings
}

// waits reports whether the client's next bytes may not be HTTP, depending
// on the answer.
func (e *h1Exchange) waits() bool { return e.connect || e.upgrade }

// headBytes decodes bytes of a request or response head from p, and the
// head once they complete it. It returns how many it consumed, and whether
// a request or response was started. With handOut set (FeedRequest) a
// request head is kept for the caller until its next call.
func (c *Conn) headBytes(s *h1Stream, p []byte, handOut bool) (n int, started bool) {
	n, text, first, tooLarge := s.scanHead(p, c.maxHead)
	if first >= 0 && first != '\r' && !s.begun && c.prog != nil {
		s.begun = true
		c.prog.Begin(s.side)
	}
	if text != nil || tooLarge {
		s.begun = false // the next head begins anew
	}
	// The first byte is checked before the head is complete, so that
	// binary input fails at once; its error wins over any other, so that
	// it does not depend on how the input is split.
	msg := ""
	if first >= 0 && first != '\r' {
		msg = firstByteMsg(s.side, byte(first))
	}
	switch {
	case msg != "":
		s.head = reuse(s.head)
		s.headErr = c.fatal(s, ErrHTTPSyntax, 0, msg)
	case tooLarge:
		s.head = reuse(s.head)
		s.headErr = c.fatal(s, ErrHeadTooLarge, 0, fmt.Sprintf("header too large: more than %d bytes", c.maxHead))
	case text != nil:
		s.headOut = handOut && !s.rawHead && s.side == Client
		started = c.headDone(s, text)
		if !started {
			s.headOut = false
		}
		s.head = reuse(s.head) // text, which may be its bytes, is decoded
	}
	return n, started
}

// endHTTP1 ends a direction in an HTTP/1.x state: it completes a response
// framed by the end of the stream (RFC 9112 section 6.3), and reports
// anything cut short (a head, a body, a chunk). A message whose body was
// cut short is still delivered with what arrived; one whose head was cut
// short is not.
func (c *Conn) endHTTP1(s *h1Stream) {
	what := "request"
	if s.side == Server {
		what = "response"
	}
	switch s.state {
	case h1Head:
		if h1Blank(s.head) {
			break
		}
		// A head cut short is no message: nothing of it was delivered
		// to its peer as one.
		c.report(s, ErrHTTPCutShort, 0, what+" head cut short at end of stream")
		c.lost = c.lost || s.side == Client
	case h1Body:
		c.report(s, ErrHTTPCutShort, s.seqNo(), fmt.Sprintf("body cut short: %d of %d bytes", s.bodyLen, s.want))
		c.endMessage(s)
	case h1ChunkSize, h1ChunkData, h1ChunkCR, h1ChunkLF:
		c.report(s, ErrHTTPCutShort, s.seqNo(), fmt.Sprintf("chunked body cut short after %d bytes", s.bodyLen))
		c.endMessage(s)
	case h1Trailers:
		c.report(s, ErrHTTPCutShort, s.seqNo(), "trailer section cut short at end of stream")
		c.endMessage(s)
	case h1UntilClose:
		c.endMessage(s)
	}
}

// headDone decodes a complete head. It reports whether a request or
// response was started.
func (c *Conn) headDone(s *h1Stream, text []byte) bool {
	if text[0] != '\r' {
		if msg := firstByteMsg(s.side, text[0]); msg != "" {
			s.headErr = c.fatal(s, ErrHTTPSyntax, 0, msg)
			return false
		}
	}
	if s.side == Client {
		return c.requestHead(s, string(text))
	}
	return c.responseHead(s, string(text))
}

// requestHead decodes a request head (RFC 9112 section 3), gives the
// request its Seq and queues it for its response, and sets up reading its
// body (section 6.3): a request without Content-Length or
// Transfer-Encoding has none, and a CONNECT with either is refused.
func (c *Conn) requestHead(s *h1Stream, text string) bool {
	line, rest := h1NextLine(text)
	method, target, proto, msg := parseRequestLine(line)
	if msg != "" {
		s.headErr = c.fatal(s, ErrHTTPSyntax, 0, msg)
		return false
	}
	if len(c.queue) == h1QueueMax {
		s.headErr = c.fatal(s, ErrHTTPSequence, 0, fmt.Sprintf("more than %d requests without a response: the client's bytes are not decoded", h1QueueMax))
		return false
	}
	s.newMessage()
	c.seq++
	seq := c.seq
	var f h1Fields
	s.hdrs = c.parseFields(s, rest, s.hdrs[:0], &f, seq)
	if f.hosts > 1 {
		c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: %d Host fields (RFC 9112 section 3.2)", f.hosts))
	}
	r := &s.req
	*r = Request{Seq: seq, Method: method, Target: target, Proto: proto, Host: f.host, Headers: s.hdrs}
	// RFC 9112 section 3.2.2: "When an origin server receives a request
	// with an absolute-form of request-target, the origin server MUST
	// ignore the received Host header field (if any) and instead use the
	// host information of the request-target."
	if a := h1Authority(target); a != "" {
		r.Host = a
	} else if r.Host == "" && method == "CONNECT" {
		r.Host = target
	}
	if c.prog != nil {
		c.prog.RequestHead(r)
	}
	ex := h1Exchange{seq: seq, head: method == "HEAD", connect: method == "CONNECT"}
	if f.connUpgrade && f.upgrade != "" {
		ex.upgrade = true
		if h1HasToken(f.upgrade, "websocket") {
			ex.websocket, ex.key, ex.protocol, ex.extensions = true, f.key, f.protocol, f.extensions
		}
		if h1HasToken(f.upgrade, "h2c") {
			ex.h2c, ex.h2settings = true, f.h2settings
		}
	}
	c.queue = append(c.queue, ex)
	c.open, c.answered = ex, false
	kind, n, msg := c.framing(s, &f, seq)
	if msg == "" && ex.connect && (f.te > 0 || kind == h1Length) {
		// RFC 9110 section 9.3.6: "A CONNECT request message does not
		// have content." Bytes after its head belong to the tunnel, so a
		// body would be read as one thing here and another upstream.
		what := "Transfer-Encoding"
		if f.te == 0 {
			what = fmt.Sprintf("Content-Length %d", n)
		}
		msg = fmt.Sprintf("CONNECT request with content (%s): it has none (RFC 9110 section 9.3.6)", what)
	}
	if msg != "" {
		s.headErr = c.fatal(s, ErrHTTPFraming, seq, msg)
		c.endRequest(s)
		s.state = h1Opaque
		return true
	}
	switch kind {
	case h1Length:
		s.want, s.remain = n, n
		s.state = h1Body
	case h1Chunked:
		s.resetChunkLine()
		s.state = h1ChunkSize
	default:
		c.endRequest(s)
	}
	return true
}

// responseHead decodes a response head (RFC 9112 section 4), pairs it with
// the oldest request waiting for an answer, and sets up reading its body
// (section 6.3): responses to HEAD, 1xx, 204, 304 and a 2xx to CONNECT
// have none.
func (c *Conn) responseHead(s *h1Stream, text string) bool {
	line, rest := h1NextLine(text)
	proto, status, reason, msg := parseStatusLine(line)
	if msg != "" {
		c.fatal(s, ErrHTTPSyntax, 0, msg)
		return false
	}
	s.newMessage()
	var ex *h1Exchange
	seq := 0
	if len(c.queue) > 0 {
		ex = &c.queue[0]
		seq = ex.seq
	}
	s.fields = h1Fields{}
	s.hdrs = c.parseFields(s, rest, s.hdrs[:0], &s.fields, seq)
	s.resp = Response{Seq: seq, Proto: proto, Status: status, Reason: reason, Headers: s.hdrs}
	if c.prog != nil {
		c.prog.ResponseHead(&s.resp)
	}
	if seq == 0 && !c.lost {
		// Unless the client sent bytes that were not decoded: this
		// answers them (typically a 400), and their error was reported.
		c.report(s, ErrHTTPSequence, 0, fmt.Sprintf("status line: response %d with no request outstanding", status))
	}
	if status < 200 || status == 204 || status == 304 || ex != nil && (ex.head || ex.connect && status/100 == 2) {
		c.endResponse(s)
		return true
	}
	kind, n, msg := c.framing(s, &s.fields, seq)
	if msg != "" {
		c.fatal(s, ErrHTTPFraming, seq, msg)
		c.endResponse(s)
		if s.state != h1Ended {
			s.state = h1Opaque
		}
		return true
	}
	c.pushAtHead(s, kind, n) // issue 10
	switch kind {
	case h1Length:
		s.want, s.remain = n, n
		s.state = h1Body
	case h1Chunked:
		s.resetChunkLine()
		s.state = h1ChunkSize
	case h1Close:
		s.state = h1UntilClose
	default:
		c.endResponse(s)
	}
	return true
}

func (c *Conn) endMessage(s *h1Stream) {
	if s.side == Client {
		c.endRequest(s)
	} else {
		c.endResponse(s)
	}
}

// endRequest delivers the request being read, then the responses that
// completed before it did.
func (c *Conn) endRequest(s *h1Stream) {
	r := &s.req
	r.Body, r.Truncated = s.bodyOut()
	r.BodyLen = s.bodyLen
	r.Trailers = s.trailersOut()
	c.h.Request(r)
	if s.headOut {
		// FeedRequest hands the head out, valid until the next call.
		r.Body, r.Trailers, r.BodyLen, r.Truncated = nil, nil, 0, false
		s.letGoLater = true
	} else {
		s.letGo()
	}
	ex, answered := c.open, c.answered
	c.open, c.answered = h1Exchange{}, false
	for i := range c.held {
		c.h.Response(&c.held[i])
	}
	clear(c.held)
	c.held, c.dropped = c.held[:0], false
	s.state = h1Head
	if ex.waits() && !answered {
		s.state = h1Wait
	}
}

// endResponse delivers a complete response, then lets go of what it holds.
func (c *Conn) endResponse(s *h1Stream) {
	c.deliverResponse(s)
	s.letGo()
}

// deliverResponse delivers a complete response, holding it if its request
// is not complete yet, and acts on what it answered: a 101 switches
// protocols (RFC 9110 section 15.2.2), a 2xx to CONNECT opens a tunnel
// (section 9.3.6), any other final answer to those lets the client's held
// bytes be decoded as HTTP.
func (c *Conn) deliverResponse(s *h1Stream) {
	r := &s.resp
	r.Body, r.Truncated = s.bodyOut()
	r.BodyLen = s.bodyLen
	r.Trailers = s.trailersOut()
	if s.streaming() {
		s.push.end(r) // issue 10: what is left of the stream, then its counts
	}
	s.state = h1Head
	interim := r.Status < 200 && r.Status != 101
	paired := r.Seq != 0 && !interim
	var ex h1Exchange
	if paired && len(c.queue) > 0 && c.queue[0].seq == r.Seq {
		ex = c.queue[0]
		copy(c.queue, c.queue[1:])
		c.queue[len(c.queue)-1] = h1Exchange{} // its strings point into a head
		c.queue = c.queue[:len(c.queue)-1]
		if len(c.queue) == 0 && cap(c.queue) > h1QueueKeep {
			c.queue = nil // a burst of pipelined requests is over
		}
	}
	switching := paired && (r.Status == 101 || ex.connect && r.Status/100 == 2)
	if r.Seq != 0 && r.Seq == c.open.seq {
		if !switching {
			switch {
			case len(c.held) < h1HeldMax || paired:
				c.held = append(c.held, cloneResponse(r))
			case !c.dropped:
				c.dropped = true
				c.report(s, ErrHTTPSequence, r.Seq, fmt.Sprintf("more than %d interim responses before the end of the request they answer: later ones are not reported", h1HeldMax))
			}
			c.answered = c.answered || paired
			return
		}
		c.fatal(s, ErrHTTPSequence, r.Seq, fmt.Sprintf("%d before the end of the request it answers: the rest of the connection is not decoded", r.Status))
		c.endRequest(&c.dir[Client])
		c.h.Response(r)
		c.opaqueBoth()
		return
	}
	c.h.Response(r)
	switch {
	case r.Status == 101:
		c.switchProtocols(s, &ex, paired)
	case switching:
		s.state = h1Tunnel
		if c.dir[Client].state == h1Wait {
			c.replay(h1Tunnel)
		}
	case paired && ex.waits() && c.dir[Client].state == h1Wait:
		c.replay(h1Head)
	}
}

func cloneResponse(r *Response) Response {
	d := *r
	d.Headers = append([]Header(nil), r.Headers...)
	if r.Trailers != nil {
		d.Trailers = append([]Header(nil), r.Trailers...)
	}
	if r.Body != nil {
		d.Body = bytes.Clone(r.Body)
	}
	return d
}
