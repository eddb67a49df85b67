package decode

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

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
			// Kept for the connection's life: at most the 123 bytes a
			// close frame can carry (RFC 6455 section 5.5), whatever
			// one that breaks that rule sent.
			reason := w.ev.CloseReason
			if len(reason) > ws.MaxControlFramePayloadSize-2 {
				reason = strings.Clone(reason[:ws.MaxControlFramePayloadSize-2])
			}
			w.closeSeen, w.closeCode, w.closeReason = true, w.ev.CloseCode, reason
		}
	}
	h.Message(w.from, &w.ev)
	w.ev = Message{}
	w.ctl = reuse(w.ctl)
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
	w.ev = Message{}
	m.active = false
	m.buf = reuse(m.buf)
	w.out = reuse(w.out)
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
			out = growPooled(out, k, w.max)
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
