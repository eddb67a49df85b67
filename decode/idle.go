package decode

// Idle gives back the buffers of the connection's WebSocket streams that
// hold nothing in progress: the payload of the last message, the inflated
// one, a control frame's. The proxy calls it after each chunk it relayed,
// so that an idle WebSocket holds no payload buffer, while a busy one
// reuses pooled buffers across messages (issue 15: what an idle WebSocket
// costs). Once both directions carry WebSocket frames it lets the HTTP/1.x
// state go too, and reports wsOnly, so that the caller can let go of what
// it keeps for HTTP.
func (c *Conn) Idle() (wsOnly bool) {
	for _, w := range c.ws {
		if w != nil {
			w.idle()
		}
	}
	return c.dropHTTP1()
}

// dropHTTP1 lets the HTTP/1.x state go once both directions carry
// WebSocket frames: nothing HTTP/1.x can come on the connection again, and
// what it holds (the upgrade's heads and fields, their buffers, the empty
// queue of exchanges) would otherwise stay for the WebSocket's whole life.
// It reports whether the connection carries WebSocket frames only.
func (c *Conn) dropHTTP1() bool {
	cl, sv := &c.dir[Client], &c.dir[Server]
	if cl.h1Message == nil {
		return cl.state == h1WS || cl.state == h1Ended
	}
	if cl.state != h1WS || sv.state != h1WS || cl.letGoLater || len(c.queue) > 0 {
		return false
	}
	cl.h1Message, sv.h1Message = nil, nil
	c.queue, c.held, c.open = nil, nil, h1Exchange{}
	c.wait, c.early = nil, nil
	return true
}

// idle gives back the stream's buffers that no message or frame in
// progress uses.
func (w *wsStream) idle() {
	if !w.msg.active {
		w.msg.buf = release(w.msg.buf)
	}
	if !w.body || w.kind != wsControl {
		w.ctl = release(w.ctl)
	}
	w.out = release(w.out)
}
