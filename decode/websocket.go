package decode

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/gobwas/ws"
)

// Frame is one WebSocket frame header (RFC 6455 section 5.2).
type Frame struct {
	Fin    bool
	RSV    uint8 // RSV1 is 4, RSV2 is 2, RSV3 is 1
	Opcode uint8
	Masked bool
	Len    int64 // payload length as announced

	Stream uint32 // the HTTP/2 stream that carries the WebSocket (RFC 8441); 0 over HTTP/1.1
}

// Message is one WebSocket message: a data message reassembled from its
// frames, or one control frame. Payload is valid only during the Handler call.
type Message struct {
	Opcode     uint8  // of the first frame: 1 text, 2 binary, 8 close, 9 ping, 10 pong
	Frames     int    // how many frames carried it
	Len        int64  // payload length after inflating; a lower bound when ErrInflateLimit stopped inflating
	WireLen    int64  // payload length on the wire (equals Len when not compressed)
	Compressed bool   // RSV1 on the first frame under permessage-deflate
	Payload    []byte // the first Config.MaxMessage bytes of the (inflated) payload
	Truncated  bool   // Payload is shorter than Len
	// Close frames only (RFC 6455 section 5.5.1).
	CloseCode   int    // 0 when the close frame had no body
	CloseReason string //

	Stream uint32 // the HTTP/2 stream that carries the WebSocket (RFC 8441); 0 over HTTP/1.1
}

// OpName names a WebSocket opcode: "text", "binary", "close", "ping",
// "pong", "continuation", or "0x3" style for reserved ones.
func OpName(op uint8) string {
	switch op {
	case 0:
		return "continuation"
	case 1:
		return "text"
	case 2:
		return "binary"
	case 8:
		return "close"
	case 9:
		return "ping"
	case 10:
		return "pong"
	}
	return fmt.Sprintf("0x%x", op)
}

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

	out []byte // inflated payload, at most max bytes

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
	w.ctl, w.msg.buf, w.out = reuse(w.ctl), reuse(w.msg.buf), reuse(w.out)
}
