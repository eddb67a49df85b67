package decode

import (
	"fmt"

	"github.com/gobwas/ws"
)

// start checks a frame header and prepares for its payload.
func (w *wsStream) start(hd ws.Header, h Handler) {
	w.cur, w.left, w.off, w.body = hd, hd.Length, 0, true
	op := hd.OpCode

	// RFC 6455 section 5.2: "%x3-7 are reserved for further non-control
	// frames", "%xB-F are reserved for further control frames".
	if op.IsReserved() {
		w.violate(h, fmt.Sprintf("reserved opcode 0x%x", uint8(op)))
	}
	// Section 5.5: "All control frames MUST have a payload length of 125
	// bytes or less and MUST NOT be fragmented."
	if op.IsControl() {
		if hd.Length > ws.MaxControlFramePayloadSize {
			w.violate(h, fmt.Sprintf("control frame payload %d > %d", hd.Length, ws.MaxControlFramePayloadSize))
		}
		if !hd.Fin {
			w.violate(h, "fragmented control frame")
		}
	}
	// Section 5.2: RSV1-3 "MUST be 0 unless an extension is negotiated
	// that defines meanings for non-zero values". RFC 7692 section 6: the
	// Per-Message Compressed bit goes on the first frame of a message only.
	for i, bit := range [3]uint8{4, 2, 1} {
		switch {
		case hd.Rsv&bit == 0:
		case w.ext.rsv&bit == 0:
			w.violate(h, fmt.Sprintf("RSV%d set without an extension that defines it", i+1))
		case bit == 4 && w.ext.rsv == 4 && op.IsControl():
			w.violate(h, "RSV1 set on a control frame")
		case bit == 4 && w.ext.rsv == 4 && op == ws.OpContinuation:
			w.violate(h, "RSV1 set on a continuation frame")
		}
	}
	// Section 5.1: a client masks all frames it sends, a server none.
	if w.from == Client && !hd.Masked {
		w.violate(h, "client frame not masked")
	}
	if w.from == Server && hd.Masked {
		w.violate(h, "server frame masked")
	}
	// Section 5.2: "the minimal number of bytes MUST be used to encode
	// the length".
	if l := w.hdr[1] & 0x7f; l == 126 && hd.Length < 126 || l == 127 && hd.Length <= 0xffff {
		w.violate(h, "payload length not minimally encoded")
	}

	switch {
	case op.IsReserved():
		w.kind = wsSkip
	case op.IsControl():
		w.kind = wsControl
		w.ctl = w.ctl[:0]
	default:
		w.kind = wsData
		// Section 5.5.1: "The application MUST NOT send any further data
		// frames after sending a Close frame."
		if w.closed {
			w.violate(h, "data frame after close")
		}
		w.startData(hd, h)
	}
}

// startData handles the fragmentation rules of RFC 6455 section 5.4 for a
// data frame.
func (w *wsStream) startData(hd ws.Header, h Handler) {
	m := &w.msg
	if hd.OpCode == ws.OpContinuation {
		if m.active {
			m.frames++
			return
		}
		w.violate(h, "continuation without a started message")
		// Decode it as a message of its own, opcode 0.
	} else if m.active {
		w.violate(h, "new data frame inside a fragmented message")
		w.finishMessage(h, false)
	}
	compressed := hd.Rsv&4 != 0 && w.ext.pmd && hd.OpCode != ws.OpContinuation
	*m = wsMessage{
		active:     true,
		op:         uint8(hd.OpCode),
		frames:     1,
		compressed: compressed,
		buf:        m.buf[:0],
		text:       hd.OpCode == ws.OpText,
	}
	if compressed {
		switch {
		case w.infl == nil && w.ext.deflate && !w.noInflate:
			w.noInflate = true
			h.Error(w.from, ErrNoInflate)
		case w.infl != nil && w.infl.lost:
			if !w.lostSaid {
				w.lostSaid = true
				h.Error(w.from, ErrContextLost)
			}
		case w.infl != nil:
			m.inflate = true
		}
		// The text check needs the inflated bytes.
		m.text = m.text && m.inflate
	}
}

// payload takes the current frame's payload bytes from p and returns what
// is left of p.
func (w *wsStream) payload(p []byte, h Handler) []byte {
	n := len(p)
	if int64(n) > w.left {
		n = int(w.left)
	}
	chunk := p[:n]
	switch w.kind {
	case wsControl:
		w.ctl = w.keep(w.ctl, chunk, max(w.max, ws.MaxControlFramePayloadSize))
	case wsData:
		w.data(chunk)
	}
	w.left -= int64(n)
	w.off += int64(n)
	if w.left == 0 {
		w.body = false
		w.finishFrame(h)
	}
	return p[n:]
}

// keep appends to buf, unmasked, the bytes of chunk that fit under limit.
// It never modifies chunk: those bytes are relayed.
func (w *wsStream) keep(buf, chunk []byte, limit int) []byte {
	n := min(len(chunk), limit-len(buf))
	if n <= 0 {
		return buf
	}
	buf = growPooled(buf, n, limit) // given back when idle (idle.go)
	l := len(buf)
	buf = append(buf, chunk[:n]...)
	if w.cur.Masked {
		ws.Cipher(buf[l:], w.cur.Mask, int(w.off&3))
	}
	return buf
}

// data takes payload bytes of a data frame.
func (w *wsStream) data(chunk []byte) {
	m := &w.msg
	m.wire += int64(len(chunk))
	l := len(m.buf)
	m.buf = w.keep(m.buf, chunk, w.max)
	kept := len(m.buf) - l
	if kept < len(chunk) {
		m.over = true
	}
	if !m.text || m.inflate || m.utf8.bad {
		return
	}
	m.utf8.write(m.buf[l:])
	// The bytes past the limit are checked too, through scratch.
	rest, off := chunk[kept:], w.off+int64(kept)
	var scratch [128]byte // not a field: a stream held 512 bytes for this rare case
	for len(rest) > 0 && !m.utf8.bad {
		s := scratch[:copy(scratch[:], rest)]
		if w.cur.Masked {
			ws.Cipher(s, w.cur.Mask, int(off&3))
		}
		m.utf8.write(s)
		rest, off = rest[len(s):], off+int64(len(s))
	}
}

// finishFrame completes the frame whose payload was just read.
func (w *wsStream) finishFrame(h Handler) {
	switch w.kind {
	case wsControl:
		w.control(h)
	case wsData:
		if w.cur.Fin {
			w.finishMessage(h, false)
		}
	}
}
