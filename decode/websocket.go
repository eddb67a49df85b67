package decode

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// Violation is a WebSocket frame or message that breaks a rule of RFC 6455
// or RFC 7692. Decoding goes on after it. A Violation is not changed once
// reported, so it is safe for concurrent use.
type Violation struct {
	Frame int    // 1-based index of the frame, counted per direction, that broke the rule
	Rule  string // the rule, e.g. "fragmented control frame"
}

func (v *Violation) Error() string { return v.Rule }

// Errors of the WebSocket frame decoder.
var (
	// ErrFrameLength reports a frame header whose 64-bit payload length
	// has its most significant bit set (RFC 6455 section 5.2): the frame
	// cannot be delimited, so the rest of the direction is not decoded.
	ErrFrameLength = errors.New("websocket frame length has the most significant bit set; rest of the stream not decoded")
	// ErrEndMidFrame reports a direction that ended inside a frame.
	ErrEndMidFrame = errors.New("stream ended mid-frame")
	// ErrEndMidMessage reports a direction that ended inside a fragmented
	// message.
	ErrEndMidMessage = errors.New("stream ended mid-message")
)

// wsFrameKind says where the payload of the current frame goes.
type wsFrameKind uint8

const (
	wsSkip    wsFrameKind = iota // reserved opcode: payload ignored
	wsControl                    // close, ping, pong
	wsData                       // text, binary, continuation
)

// wsMessage is a data message being reassembled.
type wsMessage struct {
	active     bool
	op         uint8
	frames     int
	wire       int64
	compressed bool // RSV1 on the first frame
	inflate    bool // compressed, and buf collects the wire bytes to inflate
	text       bool // the payload is checked as UTF-8
	buf        []byte
	over       bool // buf could not keep every byte
	utf8       utf8Stream
}

// wsStream decodes the frames and messages of one direction of a WebSocket
// connection (RFC 6455 section 5, RFC 7692). Bytes may arrive split
// anywhere; memory stays bounded by Config.MaxMessage whatever the frame
// headers announce. The *Frame and *Message it passes to a Handler are
// reused: they are valid only during the call.
//
// A wsStream is not safe for concurrent use.
type wsStream struct {
	from Side
	max  int
	ext  wsExtensions
	infl *inflater // nil when messages are not inflated

	dead      bool // an undecodable header: the rest is ignored
	nframes   int
	closed    bool // a close frame was sent
	lostSaid  bool // ErrContextLost was reported
	noInflate bool // ErrNoInflate was reported

	// Header bytes, kept across feed calls until the header is complete.
	hdr  [ws.MaxHeaderSize]byte
	hn   int
	hbuf [ws.MaxHeaderSize]byte
	hr   bytes.Reader

	// The frame whose payload is being read.
	cur  ws.Header
	kind wsFrameKind
	body bool // reading cur's payload
	left int64
	off  int64

	msg wsMessage
	ctl []byte // control frame payload, at most max(max, 125) bytes

	closeSeen   bool
	closeCode   int
	closeReason string

	out     []byte // inflated payload, at most max bytes
	scratch [512]byte

	frame Frame
	ev    Message
}

func newWSStream(from Side, cfg Config, extensions string) (*wsStream, error) {
	w := &wsStream{from: from, max: cfg.maxMessage()}
	x, err := parseWSExtensions(from, extensions)
	w.ext = x
	if x.deflate && w.max > 0 {
		w.infl = newInflater(x, w.max)
	}
	return w, err
}

// deflate reports whether permessage-deflate was negotiated.
func (w *wsStream) deflate() bool { return w.ext.pmd }

// closeFrame returns the status code and reason of the first close frame
// this direction sent.
func (w *wsStream) closeFrame() (code int, reason string, seen bool) {
	return w.closeCode, w.closeReason, w.closeSeen
}

func (w *wsStream) violate(h Handler, rule string) {
	h.Error(w.from, &Violation{Frame: w.nframes, Rule: rule})
}

// feed decodes the next bytes of the direction.
func (w *wsStream) feed(p []byte, h Handler) {
	for len(p) > 0 && !w.dead {
		if w.body {
			p = w.payload(p, h)
			continue
		}
		p = w.header(p, h)
	}
}

// wsHeaderLen returns the length of a frame header from its second byte
// (RFC 6455 section 5.2).
func wsHeaderLen(b byte) int {
	n := 2
	switch b & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b&0x80 != 0 {
		n += 4
	}
	return n
}

// header collects header bytes from p and starts the frame once they are
// all there. It returns what is left of p.
func (w *wsStream) header(p []byte, h Handler) []byte {
	for {
		need := 2
		if w.hn >= 2 {
			need = wsHeaderLen(w.hdr[1])
		}
		if w.hn == need {
			break
		}
		if len(p) == 0 {
			return p
		}
		n := copy(w.hdr[w.hn:need], p)
		w.hn += n
		p = p[n:]
	}
	w.hr.Reset(w.hdr[:w.hn])
	w.hn = 0
	hd, err := ws.ReadHeaderBuffer(&w.hr, w.hbuf[:])
	w.nframes++
	if err != nil {
		// The only error left with all bytes present: the length's MSB.
		w.dead = true
		h.Error(w.from, fmt.Errorf("frame %d: %w", w.nframes, ErrFrameLength))
		return nil
	}
	w.frame = Frame{Fin: hd.Fin, RSV: hd.Rsv, Opcode: uint8(hd.OpCode), Masked: hd.Masked, Len: hd.Length}
	h.Frame(w.from, &w.frame)
	w.start(hd, h)
	if w.left == 0 {
		w.body = false
		w.finishFrame(h)
	}
	return p
}

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
	buf = wsGrow(buf, n, limit)
	l := len(buf)
	buf = append(buf, chunk[:n]...)
	if w.cur.Masked {
		ws.Cipher(buf[l:], w.cur.Mask, int(w.off&3))
	}
	return buf
}

// wsGrow makes room for n more bytes in buf without exceeding capacity
// limit, growing as bytes arrive rather than as headers announce.
func wsGrow(buf []byte, n, limit int) []byte {
	if cap(buf)-len(buf) >= n {
		return buf
	}
	c := max(2*cap(buf), len(buf)+n, 512)
	c = min(c, limit)
	nb := make([]byte, len(buf), c)
	copy(nb, buf)
	return nb
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
	for len(rest) > 0 && !m.utf8.bad {
		s := w.scratch[:copy(w.scratch[:], rest)]
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

// control emits a control frame as a message of its own. Up to 125 bytes
// are kept whatever Config.MaxMessage says, for the close code and reason.
func (w *wsStream) control(h Handler) {
	p := w.ctl[:min(len(w.ctl), w.max)]
	w.ev = Message{
		Opcode:    uint8(w.cur.OpCode),
		Frames:    1,
		Len:       w.cur.Length,
		WireLen:   w.cur.Length,
		Payload:   p,
		Truncated: int64(len(p)) < w.cur.Length,
	}
	if w.cur.OpCode == ws.OpClose {
		w.closed = true
		w.closeBody(h)
		if !w.closeSeen {
			w.closeSeen, w.closeCode, w.closeReason = true, w.ev.CloseCode, w.ev.CloseReason
		}
	}
	h.Message(w.from, &w.ev)
}

// closeBody reads and checks the body of a close frame (RFC 6455 sections
// 5.5.1 and 7.4) into w.ev.
func (w *wsStream) closeBody(h Handler) {
	b := w.ctl
	switch {
	case w.cur.Length == 0:
		return
	case w.cur.Length == 1:
		// "If there is a body, the first two bytes of the body MUST be a
		// 2-byte unsigned integer".
		w.violate(h, "close frame payload of 1 byte")
		return
	case len(b) < 2:
		return
	}
	code, reason := ws.ParseCloseFrameData(b)
	w.ev.CloseCode, w.ev.CloseReason = int(code), reason
	switch {
	case code.IsNotUsed(), code.IsProtocolReserved(), code == ws.StatusNoMeaningYet,
		code.IsProtocolSpec() && !code.IsProtocolDefined() && !(1012 <= code && code <= 1014),
		code >= 5000:
		// 1012-1014 are registered with IANA since RFC 6455.
		w.violate(h, fmt.Sprintf("close code %d sent on the wire", code))
	}
	if int64(len(b)) == w.cur.Length && !utf8.ValidString(reason) {
		w.violate(h, "invalid UTF-8 in close reason")
	}
}

// finishMessage emits the data message in w.msg. partial says the
// direction ended before its final frame.
func (w *wsStream) finishMessage(h Handler, partial bool) {
	m := &w.msg
	w.ev = Message{
		Opcode:     m.op,
		Frames:     m.frames,
		Len:        m.wire,
		WireLen:    m.wire,
		Compressed: m.compressed,
		Payload:    m.buf,
		Truncated:  m.over,
	}
	switch {
	case m.inflate && partial:
		// An incomplete deflate stream: shown as it arrived.
	case m.inflate && m.over:
		h.Error(w.from, fmt.Errorf("frame %d: %w: %d > %d bytes", w.nframes, ErrCompressedTooLarge, m.wire, w.max))
		w.infl.lose()
	case m.inflate:
		w.inflate(h)
	}
	if m.text && !partial {
		m.utf8.close()
	}
	if m.utf8.bad {
		w.violate(h, "invalid UTF-8 in text message")
	}
	h.Message(w.from, &w.ev)
	m.active = false
	m.buf = m.buf[:0]
}

// inflate inflates the compressed message in w.msg.buf into w.ev. It
// stops once the message has inflated past the inflater's limit: the work
// one message costs is bounded, and its Len is then a lower bound.
func (w *wsStream) inflate(h Handler) {
	m, f := &w.msg, w.infl
	f.begin(m.buf)
	out := w.out[:0]
	var n int64
	var err error
	for n <= f.limit {
		var b []byte
		b, err = f.next()
		n += int64(len(b))
		if k := min(len(b), w.max-len(out)); k > 0 {
			out = wsGrow(out, k, w.max)
			out = append(out, b[:k]...)
		}
		if m.text && !m.utf8.bad {
			m.utf8.write(b)
		}
		if err != nil {
			break
		}
	}
	f.end()
	w.out = out
	switch {
	case err == nil:
		// Stopped at the limit, before the end of the message.
		h.Error(w.from, fmt.Errorf("frame %d: %w past %d bytes: stopped inflating; len is a lower bound", w.nframes, ErrInflateLimit, f.limit))
		f.lose()
		// The bytes not inflated are not checked; what was inflated was.
		m.text = false
		w.ev.Len, w.ev.Payload, w.ev.Truncated = n, out, true
		return
	case err != io.EOF:
		// Shown with its raw bytes.
		h.Error(w.from, fmt.Errorf("frame %d: %w: %w", w.nframes, ErrInflate, err))
		m.text, m.utf8 = false, utf8Stream{}
		return
	}
	w.ev.Len, w.ev.Payload, w.ev.Truncated = n, out, n > int64(len(out))
}

// end reports a frame or fragmented message the direction left unfinished.
func (w *wsStream) end(h Handler) {
	if w.dead {
		return
	}
	switch {
	case w.hn > 0:
		need := 2
		if w.hn >= 2 {
			need = wsHeaderLen(w.hdr[1])
		}
		h.Error(w.from, fmt.Errorf("%w: %d of %d header bytes", ErrEndMidFrame, w.hn, need))
	case w.body:
		h.Error(w.from, fmt.Errorf("%w: %d of %d payload bytes", ErrEndMidFrame, w.off, w.cur.Length))
	}
	if w.msg.active {
		h.Error(w.from, fmt.Errorf("%w: %s message of %d frames without a final one", ErrEndMidMessage, OpName(w.msg.op), w.msg.frames))
		w.finishMessage(h, true)
	}
	w.hn, w.body = 0, false
}

// utf8Stream checks that bytes written in pieces are valid UTF-8.
type utf8Stream struct {
	part [utf8.UTFMax]byte // the start of a rune cut by the end of a piece
	n    int
	bad  bool
}

func (u *utf8Stream) write(p []byte) {
	for u.n > 0 && len(p) > 0 && !u.bad {
		u.part[u.n] = p[0]
		u.n++
		p = p[1:]
		if !utf8.FullRune(u.part[:u.n]) {
			continue
		}
		r, size := utf8.DecodeRune(u.part[:u.n])
		u.bad = r == utf8.RuneError && size == 1
		u.n = 0
	}
	if len(p) == 0 || u.bad {
		return
	}
	// Leave out a rune the piece cuts short: at most 3 bytes from the end.
	i := len(p)
	for j := len(p) - 1; j >= 0 && j >= len(p)-utf8.UTFMax+1; j-- {
		if !utf8.RuneStart(p[j]) {
			continue
		}
		if !utf8.FullRune(p[j:]) {
			i = j
		}
		break
	}
	if !utf8.Valid(p[:i]) {
		u.bad = true
		return
	}
	u.n = copy(u.part[:], p[i:])
}

// close marks the text invalid if it ends inside a rune.
func (u *utf8Stream) close() {
	if u.n > 0 {
		u.bad = true
	}
}
