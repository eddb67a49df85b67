package decode

// Streaming HTTP/1.x responses (issue 10; push.go): where the body
// decoder hands a streaming body to its pushStream instead of keeping it.

// pushAtHead starts a response body streaming when its type says so; kind
// is how the body is framed, n its Content-Length.
func (c *Conn) pushAtHead(s *h1Stream, kind h1Framing, n int64) {
	if c.pusher == nil || s.resp.Seq == 0 || kind == h1Length && n == 0 || c.open.seq == s.resp.Seq {
		// A response that begins before its request ended is delivered
		// after it (held): its body is kept, so that the capture never
		// shows a response before its request.
		return
	}
	k := streamingOf(s.hdrs)
	if k == NotStreaming || k == StreamChunks && kind != h1Chunked {
		return
	}
	c.pushStart(s, k)
}

// pushStart makes the response being read stream as kind, and says so.
func (c *Conn) pushStart(s *h1Stream, kind Streaming) {
	if s.push == nil {
		s.push = &pushStream{h: c.pusher, report: func(err error) { c.h.Error(Server, err) }}
	}
	s.push.start(kind, s.resp.Seq, 0, c.maxBody)
	s.resp.Streaming = kind
	c.pusher.StreamHead(&s.resp)
	s.resp.Streaming = NotStreaming
}

// streaming reports whether the body being read streams.
func (s *h1Stream) streaming() bool { return s.push != nil && s.push.kind != NotStreaming }

// keepBody takes body bytes: to the pushStream when the body streams, else
// into the kept body.
func (c *Conn) keepBody(s *h1Stream, p []byte) {
	if s.streaming() {
		s.bodyLen += int64(len(p))
		s.push.feed(p)
		return
	}
	s.keep(p, c.maxBody)
}

// pushChunkStart is called when a chunk's data begins: a chunked response
// that does not stream by its type asks whether it streams from now on,
// and if so what it kept so far is its first chunk.
func (c *Conn) pushChunkStart(s *h1Stream) {
	if s.side != Server || c.pusher == nil || s.streaming() || s.resp.Seq == 0 || c.open.seq == s.resp.Seq || !c.pusher.StillOpen(s.resp.Seq, 0) {
		return
	}
	c.pushStart(s, StreamChunks)
	if s.bodyLen > 0 {
		p := s.push
		p.chunk = Chunk{Seq: s.resp.Seq, Len: s.bodyLen, Data: s.body, Truncated: s.bodyLen > int64(len(s.body))}
		p.chunks++
		c.pusher.Chunk(&p.chunk)
		p.chunk.Data = nil
	}
	s.body = s.body[:0]
}

// pushChunkEnd is called when a chunk's data ended.
func (s *h1Stream) pushChunkEnd() {
	if s.streaming() && s.push.kind == StreamChunks {
		s.push.cut()
	}
}
