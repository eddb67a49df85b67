package decode

// HTTP/2 streams whose response body streams (Push: streaming responses,
// issue 10; push.go).

// startPush starts a final response's body streaming when its type says
// so. end says the header section ended the stream: there is no body.
// (Progress heard of the head from responseHead, h2_progress.go.)
func (c *h2Conn) startPush(s *h2Stream, end bool) {
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
	r := Response{Seq: s.seq, Proto: "HTTP/2.0", Status: s.status, Headers: s.resp.hdrs, Stream: s.id, Streaming: k}
	c.pusher.StreamHead(&r)
}

// streamData takes DATA payload bytes of a message that is not a tunnel or
// a WebSocket to the stream's pushStream when its body streams (Progress
// heard of them from bodyBytes, h2_progress.go). It reports whether they
// were taken so.
func (c *h2Conn) streamData(s *h2Stream, side Side, p []byte) bool {
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
