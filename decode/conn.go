package decode

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
)

// Bounds of what a Conn keeps beside heads and bodies.
const (
	h1WaitMax  = 64 << 10 // client bytes held while an upgrade or a CONNECT waits for its answer
	h1QueueMax = 1024     // requests without a final response (pipelining)
	h1HeldMax  = 8        // responses held until the request they answer has ended
)

// Conn decodes both directions of one TCP connection: HTTP/1.x exchanges
// (RFC 9112), then, after a 101, WebSocket (RFC 6455), or after a 2xx to
// CONNECT, what runs in the tunnel.
//
// A Conn is not safe for concurrent use: the caller serialises calls to it
// (frametap holds a per-connection lock), and the Handler is called from the
// goroutine that calls Feed, FeedRequest or End.
type Conn struct {
	h       Handler
	cfg     Config
	maxBody int
	maxHead int

	dir      [2]h1Stream  // indexed by Side
	seq      int          // the last Seq given to a request
	queue    []h1Exchange // requests whose final response has not completed, oldest first
	open     h1Exchange   // the request being read (head done, body not); seq 0 when none
	answered bool         // open's final response has completed already
	held     []Response   // responses that completed before open did, delivered after it
	dropped  bool         // interim responses past h1HeldMax were dropped (reported once)
	lost     bool         // client bytes were not decoded as requests (an error was reported)
	wait     []byte       // client bytes held until the answer to an upgrade or CONNECT

	ws [2]*wsStream // after a 101 to a WebSocket upgrade
	hs CloseHandshake
}

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
}

// waits reports whether the client's next bytes may not be HTTP, depending
// on the answer.
func (e *h1Exchange) waits() bool { return e.connect || e.upgrade }

// CloseHandshake is how the WebSocket closing handshake went (RFC 6455
// section 7.1), indexed by Side. First is valid when Sent[First].
type CloseHandshake struct {
	First  Side      // the side whose close frame came first
	Sent   [2]bool   // the side sent a close frame
	Code   [2]int    // its status code, 0 when it had no body
	Reason [2]string // its reason
}

// NewConn returns a Conn that decodes with the bounds of cfg and reports to h.
func NewConn(cfg Config, h Handler) *Conn {
	c := &Conn{h: h, cfg: cfg, maxBody: cfg.maxBody(), maxHead: cfg.maxHead()}
	c.dir[Client].side = Client
	c.dir[Server].side = Server
	return c
}

// Feed decodes bytes that side from sent, all of p. It keeps no reference
// to p.
func (c *Conn) Feed(from Side, p []byte) {
	c.feed(&c.dir[from], p, false)
}

// FeedRequest decodes client bytes like Feed, but returns early so that a
// routing proxy can rewrite request heads: right after a request head
// completes (head != nil; head.Body is nil; head is valid until the next
// call), and right before the first byte of a new request head. n is how
// many bytes of p it consumed; it is more than 0 when p is not empty. err is
// set when the client's bytes stopped being decodable in this call: a
// request head that could not be decoded or whose framing cannot be
// trusted, or a body that broke its framing (a bad chunk line). It is an
// *HTTPError, reported through Handler.Error as well, and the client
// direction is not decoded any more. When its Seq is not 0, that request
// was delivered and waits for its response like any other (Pending counts
// it): a routing proxy that refuses it must not wait for that response.
func (c *Conn) FeedRequest(p []byte) (n int, head *Request, err error) {
	s := &c.dir[Client]
	s.headErr = nil
	n, head = c.feed(s, p, true)
	return n, head, s.headErr
}

// AtRequestHead reports whether the next client byte would belong to a
// request head: a routing proxy holds such bytes instead of forwarding them.
func (c *Conn) AtRequestHead() bool {
	s := &c.dir[Client]
	return s.state == h1Head && !s.rawHead
}

// Pending returns how many requests have no complete final response yet.
func (c *Conn) Pending() int { return len(c.queue) }

// End says that side from sent its last byte (EOF or an error). It
// completes a response framed by the end of the stream (RFC 9112 section
// 6.3), and reports anything cut short (a head, a body, a chunk) as an
// error. A request or response whose body was cut short is still
// delivered with what arrived; one whose head was cut short is not.
func (c *Conn) End(from Side) {
	s := &c.dir[from]
	what := "request"
	if from == Server {
		what = "response"
	}
	switch s.state {
	case h1Ended:
		return
	case h1Head:
		if h1Blank(s.head) {
			break
		}
		// A head cut short is no message: nothing of it was delivered
		// to its peer as one.
		c.report(s, ErrHTTPCutShort, 0, what+" head cut short at end of stream")
		c.lost = c.lost || from == Client
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
	case h1Wait:
		s.endPending = true // End again once the bytes held are decoded
		return
	case h1WS:
		if w := c.ws[from]; w != nil {
			w.end(c.h)
			c.noteClose(from)
		}
	}
	s.state = h1Ended
	s.head = s.head[:0]
	if cl := &c.dir[Client]; from == Server && cl.state == h1Wait {
		// No answer will come: what the client sent next is not decoded.
		cl.state = h1Opaque
		if cl.endPending {
			cl.state = h1Ended
		}
		c.wait = c.wait[:0]
	}
}

// CloseHandshake says how the WebSocket closing handshake went; ok is false
// if the connection never switched to WebSocket.
func (c *Conn) CloseHandshake() (hs CloseHandshake, ok bool) {
	if c.ws[Client] == nil && c.ws[Server] == nil {
		return hs, false
	}
	c.noteClose(Client)
	c.noteClose(Server)
	return c.hs, true
}

// feed decodes p, bytes of s.side. With stop set (FeedRequest) it returns
// right after a request head, and before the first byte of the next one.
func (c *Conn) feed(s *h1Stream, p []byte, stop bool) (n int, head *Request) {
	for n < len(p) {
		switch s.state {
		case h1Head:
			if len(s.head) == 0 {
				if stop && n > 0 {
					s.off += int64(n)
					return n, nil
				}
				s.msgOff = s.off + int64(n)
			}
			k, text, first, tooLarge := s.scanHead(p[n:], c.maxHead)
			n += k
			// The first byte is checked before the head is complete, so
			// that binary input fails at once; its error wins over any
			// other, so that it does not depend on how the input is split.
			msg := ""
			if first >= 0 && first != '\r' {
				msg = firstByteMsg(s.side, byte(first))
			}
			switch {
			case msg != "":
				s.head = s.head[:0]
				s.headErr = c.fatal(s, ErrHTTPSyntax, 0, msg)
			case tooLarge:
				s.head = s.head[:0]
				s.headErr = c.fatal(s, ErrHeadTooLarge, 0, fmt.Sprintf("header too large: more than %d bytes", c.maxHead))
			case text != nil:
				raw := s.rawHead
				if c.headDone(s, text) && stop && !raw {
					s.off += int64(n)
					return n, &s.req
				}
			}
		case h1Body, h1ChunkData:
			k := int(min(s.remain, int64(len(p)-n)))
			s.keep(p[n:n+k], c.maxBody)
			n += k
			s.remain -= int64(k)
			if s.remain > 0 {
				break
			}
			if s.state == h1ChunkData {
				s.state = h1ChunkCR
			} else {
				c.endMessage(s)
			}
		case h1ChunkSize:
			k, done, msg := s.chunkLine(p[n:], c.maxHead)
			n += k
			switch {
			case msg != "":
				c.fatalBody(s, msg)
			case done && s.csize == 0:
				s.state = h1Trailers
				s.started = true
			case done:
				s.remain = s.csize
				s.state = h1ChunkData
			}
			if done || msg != "" {
				s.resetChunkLine()
			}
		case h1ChunkCR, h1ChunkLF:
			switch b := p[n]; {
			case b == '\r' && s.state == h1ChunkCR:
				s.state = h1ChunkLF
			case b == '\n':
				s.state = h1ChunkSize
			default:
				c.fatalBody(s, fmt.Sprintf("chunk data: %q instead of the CRLF after the chunk", b))
			}
			n++
		case h1Trailers:
			k, text, _, tooLarge := s.scanHead(p[n:], c.maxHead)
			n += k
			switch {
			case tooLarge:
				s.head = s.head[:0]
				c.fatalBody(s, fmt.Sprintf("trailer section too large: more than %d bytes", c.maxHead))
			case text != nil:
				if len(text) > 2 {
					s.trls = c.parseFields(s, string(text), s.trls[:0], &h1Fields{}, s.seqNo())
				}
				c.endMessage(s)
			}
		case h1UntilClose:
			s.keep(p[n:], c.maxBody)
			n = len(p)
		case h1Wait:
			c.hold(s, p[n:])
			s.off -= int64(len(p) - n) // counted when replayed
			n = len(p)
		case h1WS:
			if w := c.ws[s.side]; w != nil {
				w.feed(p[n:], c.h)
				c.noteClose(s.side)
			}
			n = len(p)
		case h1Tunnel:
			// "the next client byte decides": a method starts with a
			// letter; TLS starts with 0x16, and a server that speaks
			// first is no HTTP server.
			if s.side == Server || !h1Letter(p[n]) {
				c.opaqueBoth()
				break
			}
			s.state = h1Head
			if sv := &c.dir[Server]; sv.state == h1Tunnel {
				sv.state = h1Head
			}
		default: // h1Opaque, h1Ended
			n = len(p)
		}
	}
	s.off += int64(n)
	return n, nil
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
// Transfer-Encoding has none.
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
	ex := h1Exchange{seq: seq, head: method == "HEAD", connect: method == "CONNECT"}
	if f.connUpgrade && f.upgrade != "" {
		ex.upgrade = true
		if h1HasToken(f.upgrade, "websocket") {
			ex.websocket, ex.key, ex.protocol, ex.extensions = true, f.key, f.protocol, f.extensions
		}
	}
	c.queue = append(c.queue, ex)
	c.open, c.answered = ex, false
	kind, n, msg := c.framing(s, &f, seq)
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
	r.Body, r.Trailers, r.BodyLen, r.Truncated = nil, nil, 0, false
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

// endResponse delivers a complete response, holding it if its request is
// not complete yet, and acts on what it answered: a 101 switches protocols
// (RFC 9110 section 15.2.2), a 2xx to CONNECT opens a tunnel (section
// 9.3.6), any other final answer to those lets the client's held bytes be
// decoded as HTTP.
func (c *Conn) endResponse(s *h1Stream) {
	r := &s.resp
	r.Body, r.Truncated = s.bodyOut()
	r.BodyLen = s.bodyLen
	r.Trailers = s.trailersOut()
	s.state = h1Head
	interim := r.Status < 200 && r.Status != 101
	paired := r.Seq != 0 && !interim
	var ex h1Exchange
	if paired && len(c.queue) > 0 && c.queue[0].seq == r.Seq {
		ex = c.queue[0]
		copy(c.queue, c.queue[1:])
		c.queue = c.queue[:len(c.queue)-1]
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

// switchProtocols acts on a delivered 101 (RFC 9110 section 7.8): it
// reports the Upgrade, checks the WebSocket handshake (RFC 6455 section
// 4.2.2), and turns both directions to WebSocket, or to opaque for any
// other protocol.
func (c *Conn) switchProtocols(s *h1Stream, ex *h1Exchange, paired bool) {
	f := &s.fields
	seq := s.resp.Seq
	if !paired || !ex.upgrade {
		c.fatal(s, ErrHTTPSequence, seq, "101 Switching Protocols answers a request without Upgrade: the rest of the connection is not decoded")
		c.opaqueBoth()
		return
	}
	u := Upgrade{Seq: seq, Protocol: f.upgrade, Subprotocol: f.protocol, Extensions: f.extensions, Key: ex.key, Accept: f.accept}
	if !ex.websocket || !h1HasToken(f.upgrade, "websocket") {
		c.h.Upgrade(&u)
		if ex.websocket {
			c.report(s, ErrHandshake, seq, fmt.Sprintf("101 switches to %q, which the request did not offer", h1Clip(f.upgrade)))
		}
		c.opaqueBoth()
		return
	}
	want := wsAccept(ex.key)
	u.AcceptOK = ex.key != "" && f.accept == want
	ws, err := newWSStream(Client, c.cfg, f.extensions)
	c.ws[Client] = ws
	c.ws[Server], _ = newWSStream(Server, c.cfg, f.extensions)
	if c.ws[Server] != nil {
		u.Deflate = c.ws[Server].deflate()
	}
	c.h.Upgrade(&u)
	if !u.AcceptOK {
		c.report(s, ErrHandshake, seq, fmt.Sprintf("websocket: Sec-WebSocket-Accept %q is not the digest of Sec-WebSocket-Key %q, want %q (RFC 6455 section 4.2.2)", h1Clip(f.accept), h1Clip(ex.key), want))
	}
	if u.Subprotocol != "" && !h1HasToken(ex.protocol, u.Subprotocol) {
		c.report(s, ErrHandshake, seq, fmt.Sprintf("websocket: the 101 selects subprotocol %q, which the request did not offer (RFC 6455 section 4.1)", h1Clip(u.Subprotocol)))
	}
	if u.Extensions != "" && ex.extensions == "" {
		c.report(s, ErrHandshake, seq, fmt.Sprintf("websocket: the 101 selects extensions %q, but the request offered none (RFC 6455 section 9.1)", h1Clip(u.Extensions)))
	}
	if err != nil {
		c.h.Error(Server, err)
	}
	s.state = h1WS
	if c.dir[Client].state == h1Wait {
		c.replay(h1WS)
	}
}

// wsAccept is the Sec-WebSocket-Accept for key: base64(SHA-1(key +
// "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) (RFC 6455 section 4.2.2).
// gobwas/ws does not export its version.
func wsAccept(key string) string {
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// hold keeps client bytes sent before the answer to an upgrade or CONNECT.
func (c *Conn) hold(s *h1Stream, p []byte) {
	if len(c.wait)+len(p) > h1WaitMax {
		c.wait = c.wait[:0]
		c.fatal(s, ErrHTTPSequence, c.seq, fmt.Sprintf("more than %d bytes sent before the answer to request %d: the client's bytes are not decoded", h1WaitMax, c.seq))
		return
	}
	c.wait = append(c.wait, p...)
}

// replay decodes the client bytes held while waiting for an answer, from
// state on.
func (c *Conn) replay(state h1State) {
	s := &c.dir[Client]
	buf := c.wait
	c.wait = nil // replaying may hold bytes again
	s.state = state
	c.feed(s, buf, false)
	if s.state == h1Head && len(s.head) > 0 {
		s.rawHead = true // its first bytes were forwarded as they came
	}
	if c.wait == nil {
		c.wait = buf[:0]
	}
	if s.endPending {
		s.endPending = false
		c.End(Client)
	}
}

// opaqueBoth stops decoding both directions.
func (c *Conn) opaqueBoth() {
	for i := range c.dir {
		if c.dir[i].state != h1Ended {
			c.dir[i].state = h1Opaque
		}
	}
	c.wait = c.wait[:0]
	if cl := &c.dir[Client]; cl.endPending {
		cl.state = h1Ended
	}
}

// noteClose records the close frame side sent, and whether it came first.
func (c *Conn) noteClose(side Side) {
	w := c.ws[side]
	if w == nil || c.hs.Sent[side] {
		return
	}
	code, reason, seen := w.closeFrame()
	if !seen {
		return
	}
	c.hs.Sent[side], c.hs.Code[side], c.hs.Reason[side] = true, code, reason
	if !c.hs.Sent[side.Other()] {
		c.hs.First = side
	}
}

func (c *Conn) report(s *h1Stream, cause error, seq int, msg string) {
	c.h.Error(s.side, &HTTPError{Side: s.side, Seq: seq, Offset: s.msgOff, Err: cause, Msg: msg})
}

// fatal reports an error after which s.side's bytes are not decoded.
func (c *Conn) fatal(s *h1Stream, cause error, seq int, msg string) error {
	err := &HTTPError{Side: s.side, Seq: seq, Offset: s.msgOff, Opaque: true, Err: cause, Msg: msg}
	c.h.Error(s.side, err)
	s.state = h1Opaque
	c.lost = c.lost || s.side == Client
	return err
}

// fatalBody reports a body that breaks its framing and delivers the
// message with what arrived.
func (c *Conn) fatalBody(s *h1Stream, msg string) {
	err := c.fatal(s, ErrHTTPFraming, s.seqNo(), msg)
	if s.side == Client {
		s.headErr = err
	}
	c.endMessage(s)
	if s.state != h1Ended {
		s.state = h1Opaque
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
