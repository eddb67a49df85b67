package decode

import "fmt"

// h2Msg is one direction of a stream: a request or a response.
type h2Msg struct {
	headers   bool // its (final) header section arrived
	ended     bool // END_STREAM, a reset, or the end of the connection
	delivered bool // given to the Handler
	hdrs      []Header
	trls      []Header
	body      []byte
	bodyLen   int64
	over      bool  // body bytes were left out: never kept again, so Body stays a prefix
	clen      int64 // content-length, -1 if none
	kept      int   // bytes of hdrs, trls and body, counted in h2Conn.kept
}

// h2Interim is a 1xx response held until its request is delivered.
type h2Interim struct {
	status int
	hdrs   []Header
}

// h2Stream is what the decoder keeps of an open stream (RFC 9113 section
// 5.1). It is forgotten as soon as both directions have ended, and reused.
type h2Stream struct {
	id      uint32
	live    bool // in h2Conn.streams: a frame being read may outlive its stream
	seq     int
	pushed  bool
	connect bool // :method CONNECT: a 2xx makes the stream a tunnel
	head    bool // :method HEAD: the response has no content
	tunnel  bool // a CONNECT answered by a 2xx: DATA are not a body

	method, target, host, scheme, protocol string
	status                                 int

	req, resp h2Msg
	held      []h2Interim
	heldKept  int

	ws  [2]*wsStream // after a 2xx to an extended CONNECT for websocket
	wsh h2WSHandler

	push *pushStream // issue 10: the response's body streams (h2_push.go)
}

func (s *h2Stream) msg(side Side) *h2Msg {
	if side == Client {
		return &s.req
	}
	return &s.resp
}

// open starts tracking stream id; nil when h2StreamsMax streams are open.
// Either way the stream counts in the connection's total.
func (c *h2Conn) open(id uint32) *h2Stream {
	c.total++
	if len(c.streams) >= h2StreamsMax {
		if c.once(Client, h2kStreams) {
			c.reportNow(Client, h2kStreams, id, fmt.Sprintf("more than %d streams open at once: streams past that are counted, not decoded", h2StreamsMax))
		}
		return nil
	}
	var s *h2Stream
	if n := len(c.free); n > 0 {
		s = c.free[n-1]
		c.free = c.free[:n-1]
	} else {
		s = &h2Stream{}
	}
	*s = h2Stream{
		id:   id,
		live: true,
		req:  h2Msg{hdrs: s.req.hdrs, trls: s.req.trls, body: s.req.body, clen: -1},
		resp: h2Msg{hdrs: s.resp.hdrs, trls: s.resp.trls, body: s.resp.body, clen: -1},
		held: s.held,
		wsh:  h2WSHandler{c: c, id: id},
		push: s.push,
	}
	// A side whose bytes ended sends nothing on a new stream either.
	s.req.ended = c.dir[Client].state == h2sEnded
	s.resp.ended = c.dir[Server].state == h2sEnded
	c.streams[id] = s
	c.maxOpen = max(c.maxOpen, len(c.streams))
	return s
}

// idle reports whether no frame could have opened stream id yet (RFC 9113
// section 5.1.1): odd streams are the client's, even ones the server's.
func (c *h2Conn) idle(id uint32) bool {
	if id%2 == 1 {
		return id > c.last[Client]
	}
	return id > c.last[Server]
}

// close forgets a stream whose two directions have ended, and keeps its
// buffers for the next one if they are small.
func (c *h2Conn) close(s *h2Stream) {
	delete(c.streams, s.id)
	if s.ws[Client] != nil || s.ws[Server] != nil {
		c.wsOpen--
	}
	c.releaseMsg(&s.req)
	c.releaseMsg(&s.resp)
	c.releaseHeld(s)
	c.endPush(s, &Response{}) // issue 10: a stream forgotten before its response was delivered
	s.ws = [2]*wsStream{}
	s.live = false
	s.method, s.target, s.host, s.scheme, s.protocol = "", "", "", "", ""
	if len(c.free) < h2FreeMax {
		c.free = append(c.free, s)
	}
}

// releaseMsg gives back what a message kept, once it was delivered.
func (c *h2Conn) releaseMsg(m *h2Msg) {
	c.kept -= m.kept
	m.kept = 0
	m.hdrs = h2Reuse(m.hdrs)
	m.trls = h2Reuse(m.trls)
	m.body = m.body[:0]
	if cap(m.body) > h2FreeBody {
		m.body = nil
	}
}

func (c *h2Conn) releaseHeld(s *h2Stream) {
	c.kept -= s.heldKept
	s.heldKept = 0
	for i := range s.held {
		s.held[i].hdrs = h2Reuse(s.held[i].hdrs)
	}
	s.held = s.held[:0]
}

// h2Reuse empties hs for reuse, dropping its strings.
func h2Reuse(hs []Header) []Header {
	if cap(hs) > h2FreeFields {
		return nil
	}
	clear(hs[:cap(hs)])
	return hs[:0]
}

// dataStart finds the stream a DATA frame's payload goes to, reporting
// DATA where RFC 9113 sections 5.1 and 8.1 allow none.
func (c *h2Conn) dataStart(d *h2Dir) {
	id := d.f.stream
	s := c.streams[id]
	if s == nil {
		// A closed stream may still see DATA in flight after a reset;
		// an idle one may not.
		if c.idle(id) {
			c.report(d.side, h2kIdleStream, id, "DATA on an idle stream (RFC 9113 section 5.1)")
		}
		return
	}
	m := s.msg(d.side)
	switch {
	case m.ended:
		c.report(d.side, h2kAfterEnd, id, "DATA after END_STREAM (RFC 9113 section 5.1)")
		return
	case !m.headers:
		c.report(d.side, h2kNoHeaders, id, fmt.Sprintf("DATA before the %s's header section (RFC 9113 section 8.1)", h2What(d.side)))
		return
	case s.connect && !s.tunnel && d.side == Client:
		c.report(d.side, h2kConnectData, id, "DATA on a CONNECT stream before its 2xx: not decoded (RFC 9113 section 8.5)")
		return
	case m.delivered && !s.tunnel:
		return
	}
	d.target = s
}

// data takes DATA payload bytes: to the stream's WebSocket decoder, or
// into its body.
func (c *h2Conn) data(d *h2Dir, p []byte) {
	s := d.target
	if s == nil || !s.live || s.id != d.f.stream {
		return
	}
	if w := s.ws[d.side]; w != nil {
		w.feed(p, &s.wsh)
		return
	}
	if s.tunnel {
		return
	}
	c.bodyBytes(d.side, s, p)
	if c.streamData(s, d.side, p) {
		return
	}
	m := s.msg(d.side)
	m.bodyLen += int64(len(p))
	if m.over {
		return
	}
	n := min(len(p), c.maxBody-len(m.body))
	if c.kept+n > c.budget {
		n = max(0, c.budget-c.kept)
		if c.once(d.side, h2kBudget) {
			c.reportNow(d.side, h2kBudget, s.id, fmt.Sprintf("open streams keep %d bytes of fields and bodies, the connection's bound: bodies past it are truncated", c.budget))
		}
	}
	if n > 0 {
		m.body = h2Grow(m.body, n, c.maxBody)
		m.body = append(m.body, p[:n]...)
		c.kept += n
		m.kept += n
	}
	m.over = n < len(p)
}

// h2Grow makes room for n more bytes in buf without passing capacity
// limit, growing as bytes arrive rather than as a content-length says.
func h2Grow(buf []byte, n, limit int) []byte {
	if cap(buf)-len(buf) >= n {
		return buf
	}
	nb := make([]byte, len(buf), min(max(2*cap(buf), len(buf)+n, 512), limit))
	copy(nb, buf)
	return nb
}

// endSide ends side's message on stream id (END_STREAM): a request is
// delivered, a response too once its request has been.
func (c *h2Conn) endSide(side Side, id uint32) {
	s := c.streams[id]
	if s == nil {
		return
	}
	m := s.msg(side)
	if m.ended {
		return
	}
	m.ended = true
	if w := s.ws[side]; w != nil {
		w.end(&s.wsh)
	}
	if !m.delivered && m.clen >= 0 && m.clen != m.bodyLen && !s.tunnel && !(side == Server && (s.head || s.status == 204 || s.status == 304)) {
		c.report(side, h2kContentLength, id, fmt.Sprintf("content-length %d, but DATA carried %d bytes (RFC 9113 section 8.1.1)", m.clen, m.bodyLen))
	}
	switch {
	case side == Client && !m.delivered:
		c.deliverRequest(s)
	case side == Server && !m.headers:
		c.report(side, h2kNoHeaders, id, "END_STREAM before a final response header section (RFC 9113 section 8.1)")
	case side == Server && !m.delivered && s.req.delivered:
		c.deliverResponse(s, "")
	}
	if s.req.ended && s.resp.ended {
		c.close(s)
	}
}

// reset ends a stream by RST_STREAM (RFC 9113 section 6.4): what was not
// delivered yet is, a response that had not ended with the error code.
func (c *h2Conn) reset(from Side, id uint32, code H2Code) {
	s := c.streams[id]
	if s == nil {
		if c.idle(id) {
			c.report(from, h2kIdleStream, id, "RST_STREAM on an idle stream (RFC 9113 section 6.4)")
		}
		return
	}
	for _, side := range [2]Side{Client, Server} {
		if w := s.ws[side]; w != nil && !s.msg(side).ended {
			w.end(&s.wsh)
		}
	}
	s.req.ended = true
	if !s.req.delivered {
		c.deliverRequest(s)
	}
	if !s.resp.delivered {
		s.resp.ended = true
		c.deliverResponse(s, code.String())
	}
	c.close(s)
}

// deliverRequest reports a stream's request, then the responses that were
// held until it was.
func (c *h2Conn) deliverRequest(s *h2Stream) {
	m := &s.req
	r := &c.req
	*r = Request{
		Seq:       s.seq,
		Method:    s.method,
		Target:    s.target,
		Proto:     "HTTP/2.0",
		Host:      s.host,
		Headers:   m.hdrs,
		Trailers:  h2Nil(m.trls),
		BodyLen:   m.bodyLen,
		Truncated: m.bodyLen > int64(len(m.body)),
		Stream:    s.id,
		Scheme:    s.scheme,
		Protocol:  s.protocol,
		Pushed:    s.pushed,
	}
	if len(m.body) > 0 {
		r.Body = m.body
	}
	c.h.Request(r)
	*r = Request{}
	m.delivered = true
	c.releaseMsg(m)
	for i := range s.held {
		c.resp = Response{Seq: s.seq, Proto: "HTTP/2.0", Status: s.held[i].status, Headers: s.held[i].hdrs, Stream: s.id}
		c.h.Response(&c.resp)
	}
	c.resp = Response{}
	c.releaseHeld(s)
	if s.resp.ended && s.resp.headers && !s.resp.delivered {
		c.deliverResponse(s, "")
	}
}

// deliverResponse reports a stream's final response; reset is the error
// code of the RST_STREAM that cut it, if one did.
func (c *h2Conn) deliverResponse(s *h2Stream, reset string) {
	m := &s.resp
	r := &c.resp
	*r = Response{
		Seq:       s.seq,
		Proto:     "HTTP/2.0",
		Status:    s.status,
		Headers:   m.hdrs,
		Trailers:  h2Nil(m.trls),
		BodyLen:   m.bodyLen,
		Truncated: m.bodyLen > int64(len(m.body)),
		Stream:    s.id,
		Reset:     reset,
	}
	if len(m.body) > 0 {
		r.Body = m.body
	}
	c.endPush(s, r) // issue 10
	c.h.Response(r)
	*r = Response{}
	m.delivered = true
	c.releaseMsg(m)
}

func h2Nil(hs []Header) []Header {
	if len(hs) == 0 {
		return nil
	}
	return hs
}

// interim delivers a 1xx response, or holds it until its request is
// delivered (so that a request is always reported before its answers).
func (c *h2Conn) interim(d *h2Dir, s *h2Stream, status int) {
	b := &d.blk
	if s.req.delivered {
		c.resp = Response{Seq: s.seq, Proto: "HTTP/2.0", Status: status, Headers: b.fields, Stream: s.id}
		c.h.Response(&c.resp)
		c.resp = Response{}
		return
	}
	if len(s.held) == h2HeldMax {
		c.report(d.side, h2kHeld, s.id, fmt.Sprintf("more than %d interim responses before the end of the request they answer: later ones are not reported", h2HeldMax))
		return
	}
	s.held = append(s.held, h2Interim{status: status})
	h := &s.held[len(s.held)-1]
	c.take(d, &h.hdrs, &s.heldKept)
}

// connected acts on a 2xx to a CONNECT (RFC 9113 section 8.5): the
// response is delivered at once, and the stream carries a tunnel, or for
// an extended CONNECT (RFC 8441) the protocol it names, which is reported
// as an Upgrade; a WebSocket's DATA go to the WebSocket decoder.
func (c *h2Conn) connected(s *h2Stream, f h2Fields) {
	s.tunnel = true
	c.deliverResponse(s, "")
	if s.protocol == "" {
		return
	}
	u := &c.up
	*u = Upgrade{Seq: s.seq, Stream: s.id, Protocol: s.protocol, Subprotocol: f.wsProtocol, Extensions: f.wsExtensions}
	var err error
	websocket := h2EqualFold(s.protocol, "websocket")
	switch {
	case !websocket:
	case c.wsOpen == h2WSMax:
		c.report(Server, h2kWSMax, s.id, fmt.Sprintf("more than %d WebSocket streams at once: this one is not decoded", h2WSMax))
	default:
		s.ws[Client], err = newWSStream(Client, c.cfg, f.wsExtensions)
		s.ws[Server], _ = newWSStream(Server, c.cfg, f.wsExtensions)
		c.wsOpen++
		u.Deflate = s.ws[Server].deflate()
	}
	c.h.Upgrade(u)
	*u = Upgrade{}
	if err != nil {
		s.wsh.Error(Server, err)
	}
}

func h2EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i]|0x20 != b[i]|0x20 {
			return false
		}
	}
	return true
}

func h2What(side Side) string {
	if side == Client {
		return "request"
	}
	return "response"
}

// endStreams ends side's messages on every open stream at the end of its
// bytes: requests and responses cut short are delivered with what
// arrived, after one error that lists them.
func (c *h2Conn) endStreams(side Side) {
	if len(c.streams) == 0 {
		return
	}
	ids := c.sortedIDs()
	var cut, none []uint32
	for _, id := range ids {
		s := c.streams[id]
		m := s.msg(side)
		if m.ended {
			continue
		}
		m.ended = true
		if w := s.ws[side]; w != nil {
			w.end(&s.wsh)
		}
		switch {
		case m.delivered:
		case side == Server && !m.headers:
			none = append(none, id)
		default:
			cut = append(cut, id)
		}
	}
	if len(cut) > 0 && c.once(side, h2kStreamsCut) {
		c.reportNow(side, h2kStreamsCut, 0, fmt.Sprintf("the %s's bytes ended inside the %s of %s", side, h2What(side), h2IDList(cut)))
	}
	if len(none) > 0 && c.once(side, h2kUnanswered) {
		c.reportNow(side, h2kUnanswered, 0, fmt.Sprintf("the server's bytes ended with no response on %s", h2IDList(none)))
	}
	for _, id := range ids {
		s := c.streams[id]
		switch {
		case side == Client && !s.req.delivered:
			c.deliverRequest(s)
		case side == Server && s.resp.headers && !s.resp.delivered && s.req.delivered:
			c.deliverResponse(s, "")
		}
		if s.req.ended && s.resp.ended {
			c.close(s)
		}
	}
}

// h2WSHandler passes on what a stream's WebSocket decoders report, marked
// with the stream.
type h2WSHandler struct {
	c  *h2Conn
	id uint32
}

func (w *h2WSHandler) Request(*Request)   {}
func (w *h2WSHandler) Response(*Response) {}
func (w *h2WSHandler) Upgrade(*Upgrade)   {}

func (w *h2WSHandler) Frame(side Side, f *Frame) {
	f.Stream = w.id
	w.c.h.Frame(side, f)
}

func (w *h2WSHandler) Message(side Side, m *Message) {
	m.Stream = w.id
	w.c.h.Message(side, m)
}

func (w *h2WSHandler) Error(side Side, err error) {
	w.c.h.Error(side, &H2Error{Side: side, Stream: w.id, Err: err, Msg: fmt.Sprintf("stream %d: %v", w.id, err)})
}
