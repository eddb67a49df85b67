package decode

// This file makes the HTTP/2 decoder follow streams while they flow
// (issue 13's Progress, issue 9's streams): a request's or response's
// head is handed over as soon as its header section is decoded, and each
// DATA frame's payload (padding left out) as it is read, so that a
// dashboard shows an HTTP/2 exchange in flight as it does an HTTP/1.x one,
// and the recorder times it. The complete message still comes through
// Request or Response at END_STREAM.

// requestHead tells Progress that stream s's request head arrived.
func (c *h2Conn) requestHead(s *h2Stream) {
	if c.prog == nil {
		return
	}
	q := &c.req
	*q = Request{
		Seq:      s.seq,
		Method:   s.method,
		Target:   s.target,
		Proto:    "HTTP/2.0",
		Host:     s.host,
		Headers:  s.req.hdrs,
		Stream:   s.id,
		Scheme:   s.scheme,
		Protocol: s.protocol,
		Pushed:   s.pushed,
	}
	c.prog.RequestHead(q)
	*q = Request{}
}

// responseHead tells Progress that a response head of stream s arrived:
// an interim one (1xx, status) with its fields hs, or the final one.
func (c *h2Conn) responseHead(s *h2Stream, status int, hs []Header) {
	if c.prog == nil {
		return
	}
	r := &c.resp
	*r = Response{Seq: s.seq, Proto: "HTTP/2.0", Status: status, Headers: hs, Stream: s.id}
	c.prog.ResponseHead(r)
	*r = Response{}
}

// bodyBytes hands body bytes of stream s from side to Progress.
func (c *h2Conn) bodyBytes(side Side, s *h2Stream, p []byte) {
	if c.prog != nil && len(p) > 0 {
		c.prog.BodyBytes(side, s.seq, s.id, p)
	}
}
