package decode

import "encoding/binary"

// This file tells where WebSocket messages end, for a proxy that writes
// messages of its own into a connection (frametap's inject): it may do so
// only between messages, never inside a frame nor between the frames of a
// fragmented message (RFC 6455 section 5.4: "the fragments of one message
// MUST NOT be interleaved between the fragments of another message"). It
// reads the decoder's state and never changes it.

// WebSocket reports whether the bytes from side are decoded as WebSocket
// over HTTP/1.1 (RFC 6455): the 101 was decoded, its handshake was a
// WebSocket one, and the direction neither ended nor met a frame it could
// not delimit.
func (c *Conn) WebSocket(from Side) bool {
	w := c.ws[from]
	return c.dir[from].state == h1WS && w != nil && !w.dead
}

// CloseSent reports whether side from sent a WebSocket close frame (RFC
// 6455 section 5.5.1: after it, "the application MUST NOT send any further
// data frames").
func (c *Conn) CloseSent(from Side) bool {
	w := c.ws[from]
	return w != nil && w.closed
}

// AtMessageBoundary reports whether the bytes fed so far from side end at a
// WebSocket message boundary: not inside a frame, and not inside a
// fragmented data message (control frames between its fragments do not end
// it). It is false when the direction is not WebSocket (see WebSocket).
func (c *Conn) AtMessageBoundary(from Side) bool {
	if !c.WebSocket(from) {
		return false
	}
	w := c.ws[from]
	return w.hn == 0 && !w.body && !w.msg.active
}

// NextMessageBoundary returns how many bytes of p, fed next from side,
// bring the direction to a message boundary (AtMessageBoundary): the
// smallest n > 0 that does, or 0 when it is at one already. ok is false
// when no prefix of p does (the message under way goes on past p, or the
// direction is not WebSocket). It reads p's frame headers without
// changing the decoder; p's bytes must still be fed.
func (c *Conn) NextMessageBoundary(from Side, p []byte) (n int, ok bool) {
	if !c.WebSocket(from) {
		return 0, false
	}
	w := c.ws[from]
	if w.hn == 0 && !w.body && !w.msg.active {
		return 0, true
	}
	s := boundaryScan{active: w.msg.active}
	s.hn = copy(s.hdr[:], w.hdr[:w.hn])
	if w.body {
		s.body, s.left = true, w.left
		s.ends = w.kind == wsData && w.cur.Fin
		s.data = w.kind == wsData
	}
	return s.scan(p)
}

// boundaryScan follows frame boundaries through bytes not yet fed, as
// wsStream.feed would, keeping only what says where a message ends.
type boundaryScan struct {
	hdr    [14]byte // header bytes of the frame being collected
	hn     int
	body   bool  // inside a payload
	left   int64 // payload bytes still to come
	data   bool  // the current frame is a data frame (not control, not reserved)
	ends   bool  // the current frame is a data frame with FIN: its end ends the message
	active bool  // a data message is under way
}

func (s *boundaryScan) scan(p []byte) (int, bool) {
	i := 0
	for {
		if s.body {
			take := int64(len(p) - i)
			if take > s.left {
				take = s.left
			}
			i += int(take)
			s.left -= take
			if s.left > 0 {
				return 0, false
			}
			s.body = false
			if s.ends {
				s.active = false
			}
			if !s.active {
				return i, true
			}
			continue
		}
		need := 2
		if s.hn >= 2 {
			need = wsHeaderLen(s.hdr[1])
		}
		for s.hn < need {
			if i == len(p) {
				return 0, false
			}
			s.hdr[s.hn] = p[i]
			s.hn++
			i++
			if s.hn == 2 {
				need = wsHeaderLen(s.hdr[1])
			}
		}
		s.start()
	}
}

// start reads the header collected in s.hdr (RFC 6455 section 5.2) and
// enters its payload.
func (s *boundaryScan) start() {
	h := s.hdr[:s.hn]
	s.hn = 0
	fin, op := h[0]&0x80 != 0, h[0]&0x0f
	var length int64
	switch l := h[1] & 0x7f; l {
	case 126:
		length = int64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		length = int64(binary.BigEndian.Uint64(h[2:10]) &^ (1 << 63)) // the decoder stops at a set MSB; so does nothing here
	default:
		length = int64(l)
	}
	s.data = op < 8 && op <= 2 // continuation, text, binary; 3-7 are reserved and skipped
	s.ends = false
	if s.data {
		// A data frame starts a message (an orphan continuation is one of
		// its own), or continues the one under way.
		s.active = true
		s.ends = fin
	}
	s.body, s.left = true, length
}
