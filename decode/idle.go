package decode

// Idle gives back the buffers of the connection's WebSocket streams that
// hold nothing in progress: the payload of the last message, the inflated
// one, a control frame's. The proxy calls it after each chunk it relayed,
// so that an idle WebSocket holds no payload buffer, while a busy one
// reuses pooled buffers across messages (issue 15: what an idle WebSocket
// costs).
func (c *Conn) Idle() {
	for _, w := range c.ws {
		if w != nil {
			w.idle()
		}
	}
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
