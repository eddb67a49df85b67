package decode

// HTTP/2 streams and the optional interfaces that follow messages as they
// stream: Progress (heads and body bytes, for timings) and Push (streaming
// responses, issue 10; push.go).

// progRequest hands a request's header section to Progress.
func (c *h2Conn) progRequest(s *h2Stream) {
	if c.prog == nil {
		return
	}
	c.prog.RequestHead(&Request{Seq: s.seq, Method: s.method, Target: s.target, Proto: "HTTP/2.0", Host: s.host,
		Headers: s.req.hdrs, Stream: s.id, Scheme: s.scheme, Protocol: s.protocol, Pushed: s.pushed})
}

// responseHead hands a final response's header section to Progress, and
// starts its body streaming when its type says so. end says the section
// ended the stream: there is no body.
func (c *h2Conn) responseHead(s *h2Stream, end bool) {
	r := Response{Seq: s.seq, Proto: "HTTP/2.0", Status: s.status, Headers: s.resp.hdrs, Stream: s.id}
	if c.prog != nil {
		c.prog.ResponseHead(&r)
	}
	if c.pusher == nil || end || s.head || s.connect || !s.req.delivered || s.status == 204 || s.status == 304 || c.streaming >= maxH2Streaming {
		return
	}
	k := streamingOf(s.resp.hdrs)
	if k != StreamSSE && k != StreamLines {
		return // chunks need HTTP/1.1 chunked framing
	}
	if s.push == nil {
		s.push = &pushStream{h: c.pusher, report: func(err error) { c.h.Error(Server, err) }}
	}
	s.push.start(k, s.seq, s.id, c.maxBody)
	c.streaming++
	r.Streaming = k
	c.pusher.StreamHead(&r)
}

// streamData takes DATA payload bytes of a message that is not a tunnel or
// a WebSocket: to Progress, and to the stream's pushStream when its body
// streams. It reports whether they were taken so.
func (c *h2Conn) streamData(s *h2Stream, side Side, p []byte) bool {
	if c.prog != nil && len(p) > 0 {
		c.prog.BodyBytes(side, s.seq, s.id, p)
	}
	if side != Server || !s.streaming() {
		return false
	}
	s.resp.bodyLen += int64(len(p))
	s.push.feed(p)
	return true
}

func (s *h2Stream) streaming() bool { return s.push != nil && s.push.kind != NotStreaming }

// endPush ends a streaming body as its response is delivered, or as its
// stream is forgotten.
func (c *h2Conn) endPush(s *h2Stream, r *Response) {
	if !s.streaming() {
		return
	}
	s.push.end(r)
	c.streaming--
}
