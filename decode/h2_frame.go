package decode

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2State is where a direction is in its byte stream.
type h2State uint8

const (
	h2sPreface h2State = iota // client: the connection preface
	h2sHeader                 // the 9-byte frame header
	h2sPrefix                 // the fixed fields before a DATA, HEADERS or PUSH_PROMISE payload
	h2sContent                // the payload proper: left bytes
	h2sPad                    // padding: pad bytes
	h2sOpaque                 // not decoded (a bad preface)
	h2sEnded                  // end was called
)

// h2Sink is where the content of the current frame goes.
type h2Sink uint8

const (
	h2Skip      h2Sink = iota // nowhere: unknown type, malformed, or too long to buffer
	h2ToData                  // a stream's body or WebSocket
	h2ToBlock                 // the header block being read
	h2ToControl               // ctl, for the Framer once complete
)

// h2Hdr is a frame header (RFC 9113 section 4.1).
type h2Hdr struct {
	len    int
	typ    H2Type
	flags  uint8
	stream uint32
}

// Frame flags (RFC 9113 section 6).
const (
	h2FlagEndStream  = 0x1 // DATA, HEADERS
	h2FlagAck        = 0x1 // SETTINGS, PING
	h2FlagEndHeaders = 0x4 // HEADERS, PUSH_PROMISE, CONTINUATION
	h2FlagPadded     = 0x8 // DATA, HEADERS, PUSH_PROMISE
	h2FlagPriority   = 0x20
)

// h2Dir is the decoding state of one direction: the frame being read and
// the HPACK context of the header blocks this side sends.
//
// Frames are not held whole: DATA payloads go to their stream as they
// arrive, header block fragments to HPACK in pieces of at most
// h2BlockChunk bytes, and only control frames (SETTINGS, PING, GOAWAY,
// RST_STREAM, WINDOW_UPDATE, PRIORITY, PRIORITY_UPDATE; at most h2CtlMax
// bytes) are buffered, then parsed by an x/net/http2 Framer.
type h2Dir struct {
	side  Side
	state h2State
	pre   int // preface bytes matched

	hdr    [9]byte
	hn     int
	f      h2Hdr
	pfx    [6]byte // pad length (1), priority (5) or promised stream (4)
	pn     int
	pneed  int
	left   int // content bytes left
	pad    int // padding bytes left
	sink   h2Sink
	target *h2Stream // DATA: the stream its payload goes to, nil if none
	seen   bool      // a frame was read: the first must be SETTINGS

	ctl      []byte // a control frame, header and payload
	rd       bytes.Reader
	fr       *http2.Framer
	settings []H2Setting

	dec      *hpack.Decoder
	hpackBad bool // the HPACK context is lost: header blocks are not decoded
	blk      h2Block

	// Errors found in a frame header, reported right after the frame.
	later  [3]h2Later
	nlater int
}

// h2Later is an error held until its frame has been reported.
type h2Later struct {
	kind   h2Kind
	stream uint32
	msg    string
}

func (d *h2Dir) init(c *h2Conn, side Side) {
	d.side = side
	if side == Server {
		d.state = h2sHeader // the server's preface is its SETTINGS frame
	}
	d.fr = http2.NewFramer(nil, &d.rd)
	// The order of frames is checked here, PUSH_PROMISE blocks included.
	d.fr.AllowIllegalReads = true
	d.dec = hpack.NewDecoder(h2Initial.table, func(f hpack.HeaderField) { c.field(d, f) })
	d.dec.SetMaxStringLength(c.maxHead)
}

// remaining is how many payload bytes of the current frame have not arrived.
func (d *h2Dir) remaining() int {
	switch d.state {
	case h2sPrefix:
		return d.f.len - d.pn
	case h2sContent:
		return d.left + d.pad
	case h2sPad:
		return d.pad
	}
	return 0
}

// frameHeader collects the 9 bytes of a frame header and starts the frame.
func (c *h2Conn) frameHeader(d *h2Dir, p []byte) []byte {
	n := copy(d.hdr[d.hn:], p)
	d.hn += n
	if d.hn < len(d.hdr) {
		return nil
	}
	d.hn = 0
	h := &d.hdr
	d.f = h2Hdr{
		len:    int(h[0])<<16 | int(h[1])<<8 | int(h[2]),
		typ:    H2Type(h[3]),
		flags:  h[4],
		stream: binary.BigEndian.Uint32(h[5:]) & (1<<31 - 1),
	}
	c.startFrame(d)
	return p[n:]
}

// startFrame checks a frame header and sets up reading its payload.
func (c *h2Conn) startFrame(d *h2Dir) {
	f := &d.f
	if lim := c.limit(d.side.Other()).frame; f.len > int(lim) && c.once(d.side, h2kFrameSize) {
		c.later(d, h2kFrameSize, f.stream, fmt.Sprintf("%s frame of %d bytes: the %s's SETTINGS_MAX_FRAME_SIZE is %d (RFC 9113 section 4.2)", f.typ, f.len, d.side.Other(), lim))
	}
	if !d.seen {
		d.seen = true
		if (f.typ != H2Settings || f.flags&h2FlagAck != 0) && c.once(d.side, h2kFirstSettings) {
			c.later(d, h2kFirstSettings, 0, fmt.Sprintf("first frame is %s, not SETTINGS (RFC 9113 section 3.4)", f.typ))
		}
	}
	if d.blk.active && (f.typ != H2Continuation || f.stream != d.blk.stream) {
		if c.once(d.side, h2kContinuation) {
			c.later(d, h2kContinuation, f.stream, fmt.Sprintf("%s frame inside the header block of stream %d, which needs CONTINUATION frames until END_HEADERS (RFC 9113 section 6.10)", f.typ, d.blk.stream))
		}
		c.lostBlock(d)
	}
	d.pn, d.pneed, d.left, d.pad, d.sink, d.target = 0, 0, 0, 0, h2Skip, nil
	d.state = h2sPrefix
	padded := f.flags&h2FlagPadded != 0
	switch f.typ {
	case H2Data:
		d.sink = h2ToData
		if padded {
			d.pneed = 1
		}
	case H2Headers:
		d.sink = h2ToBlock
		if padded {
			d.pneed = 1
		}
		if f.flags&h2FlagPriority != 0 {
			d.pneed += 5
		}
	case H2PushPromise:
		d.sink = h2ToBlock
		d.pneed = 4
		if padded {
			d.pneed++
		}
	case H2Continuation:
		d.sink = h2ToBlock
	case H2Priority, H2RSTStream, H2Settings, H2Ping, H2GoAway, H2WindowUpdate, H2PriorityUpdate:
		if f.len > h2CtlMax {
			c.skipFrame(d, h2kCtlTooLarge, fmt.Sprintf("%s frame of %d bytes: frametap buffers at most %d; not decoded", f.typ, f.len, h2CtlMax))
			return
		}
		d.sink = h2ToControl
		d.ctl = append(d.ctl[:0], d.hdr[:]...)
	default:
		// RFC 9113 section 4.1: "Implementations MUST ignore and
		// discard frames of unknown types."
		c.emitFrame(d, false)
	}
	switch {
	case d.sink != h2ToData && d.sink != h2ToBlock:
	case f.stream == 0:
		c.skipFrame(d, h2kFrame, fmt.Sprintf("%s frame on stream 0 (RFC 9113 section 6)", f.typ))
		return
	case f.len < d.pneed:
		c.skipFrame(d, h2kFrame, fmt.Sprintf("%s frame of %d bytes: too short for the fields its flags 0x%02x announce (RFC 9113 section 6)", f.typ, f.len, f.flags))
		return
	case f.typ == H2Continuation && !d.blk.active:
		c.emitFrame(d, false)
		c.report(d.side, h2kContinuation, f.stream, "CONTINUATION frame without a header block to continue (RFC 9113 section 6.10)")
		d.sink = h2Skip
	}
	c.step(d)
}

// skipFrame reports the frame, undecoded, and an error, and skips its
// payload.
func (c *h2Conn) skipFrame(d *h2Dir, k h2Kind, msg string) {
	c.emitFrame(d, true)
	c.report(d.side, k, d.f.stream, msg)
	d.sink, d.pneed, d.left = h2Skip, 0, d.f.len
	d.state = h2sContent
	c.step(d)
}

// step moves past the parts of the frame that are complete, empty ones
// included, so that a frame ends as soon as its last byte arrives however
// the bytes are split.
func (c *h2Conn) step(d *h2Dir) {
	for {
		switch d.state {
		case h2sPrefix:
			if d.pn < d.pneed {
				return
			}
			c.prefixDone(d)
		case h2sContent:
			if d.left > 0 {
				return
			}
			d.state = h2sPad
		case h2sPad:
			if d.pad > 0 {
				return
			}
			d.state = h2sHeader
			c.endFrame(d)
			return
		default:
			return
		}
	}
}

// framePrefix collects the fixed fields before a payload.
func (c *h2Conn) framePrefix(d *h2Dir, p []byte) []byte {
	n := copy(d.pfx[d.pn:d.pneed], p)
	d.pn += n
	c.step(d)
	return p[n:]
}

// prefixDone reads the padding length, priority and promised stream of a
// DATA, HEADERS or PUSH_PROMISE frame (RFC 9113 sections 6.1, 6.2, 6.6),
// reports the frame, and sends its content on.
func (c *h2Conn) prefixDone(d *h2Dir) {
	f := &d.f
	d.state = h2sContent
	padLen := 0
	if f.flags&h2FlagPadded != 0 && d.pneed > 0 && d.sink != h2ToControl && f.typ != H2Continuation {
		padLen = int(d.pfx[0])
	}
	rest := f.len - d.pneed
	if d.sink == h2ToControl || d.sink == h2Skip {
		d.left = rest
		return
	}
	if rest < padLen {
		// "If the length of the padding is the length of the frame
		// payload or greater, the recipient MUST treat this as a
		// connection error" (RFC 9113 section 6.1).
		c.emitFrame(d, true)
		c.report(d.side, h2kFrame, f.stream, fmt.Sprintf("%s frame: %d bytes of padding in a %d-byte payload (RFC 9113 section 6.1)", f.typ, padLen, f.len))
		d.sink, d.left = h2Skip, rest
		return
	}
	d.left, d.pad = rest-padLen, padLen
	promised := uint32(0)
	if f.typ == H2PushPromise {
		promised = binary.BigEndian.Uint32(d.pfx[d.pneed-4:]) & (1<<31 - 1)
	}
	c.frame = H2Frame{Stream: f.stream, Type: f.typ, Flags: f.flags, Len: f.len, Promised: promised}
	c.frameEvent(d, &c.frame)
	switch f.typ {
	case H2Data:
		c.dataStart(d)
	case H2Headers, H2PushPromise:
		c.blockStart(d, promised)
	case H2Continuation:
		c.blockContinue(d)
	}
}

// frameContent takes content bytes of the current frame.
func (c *h2Conn) frameContent(d *h2Dir, p []byte) []byte {
	n := min(len(p), d.left)
	switch d.sink {
	case h2ToData:
		c.data(d, p[:n])
	case h2ToBlock:
		c.blockBytes(d, p[:n])
	case h2ToControl:
		d.ctl = append(d.ctl, p[:n]...)
	}
	d.left -= n
	c.step(d)
	return p[n:]
}

// endFrame acts on a frame whose last byte arrived.
func (c *h2Conn) endFrame(d *h2Dir) {
	f := &d.f
	switch d.sink {
	case h2ToData:
		d.target = nil
		if f.flags&h2FlagEndStream != 0 {
			c.endSide(d.side, f.stream)
		}
	case h2ToBlock:
		if f.flags&h2FlagEndHeaders != 0 {
			c.blockEnd(d)
		}
	case h2ToControl:
		c.control(d)
	}
}

// emitFrame reports the current frame with its header fields only.
func (c *h2Conn) emitFrame(d *h2Dir, undecoded bool) {
	f := &d.f
	c.frame = H2Frame{Stream: f.stream, Type: f.typ, Flags: f.flags, Len: f.len, Undecoded: undecoded}
	c.frameEvent(d, &c.frame)
}

// frameEvent reports a frame, then the errors its header caused. Every
// frame is reported once.
func (c *h2Conn) frameEvent(d *h2Dir, ev *H2Frame) {
	if c.fh != nil {
		c.fh.H2Frame(d.side, ev)
	}
	c.flushLater(d)
}

// later holds an error, which the caller checked with once, until the
// frame being read has been reported.
func (c *h2Conn) later(d *h2Dir, k h2Kind, stream uint32, msg string) {
	if d.nlater < len(d.later) {
		d.later[d.nlater] = h2Later{kind: k, stream: stream, msg: msg}
		d.nlater++
	}
}

func (c *h2Conn) flushLater(d *h2Dir) {
	for i := range d.later[:d.nlater] {
		l := &d.later[i]
		c.reportNow(d.side, l.kind, l.stream, l.msg)
		*l = h2Later{}
	}
	d.nlater = 0
}

// control parses a buffered control frame with the Framer, reports it and
// acts on it.
func (c *h2Conn) control(d *h2Dir) {
	f := &d.f
	d.rd.Reset(d.ctl)
	fr, err := d.fr.ReadFrame()
	if err != nil {
		c.emitFrame(d, true)
		if c.once(d.side, h2kFrame) {
			detail := err.Error()
			if e := d.fr.ErrorDetail(); e != nil {
				detail += ": " + e.Error()
			}
			c.reportNow(d.side, h2kFrame, f.stream, fmt.Sprintf("malformed %s frame of %d bytes: %s (RFC 9113 section 6)", f.typ, f.len, detail))
		}
		return
	}
	ev := &c.frame
	*ev = H2Frame{Stream: f.stream, Type: f.typ, Flags: f.flags, Len: f.len}
	switch fr := fr.(type) {
	case *http2.SettingsFrame:
		ev.Ack = fr.IsAck()
		d.settings = d.settings[:0]
		for i := range fr.NumSettings() {
			s := fr.Setting(i)
			d.settings = append(d.settings, H2Setting{ID: uint16(s.ID), Value: s.Val})
		}
		ev.Settings = d.settings
	case *http2.PingFrame:
		ev.Ack = fr.IsAck()
	case *http2.GoAwayFrame:
		ev.LastStream, ev.Code = fr.LastStreamID, H2Code(fr.ErrCode)
	case *http2.RSTStreamFrame:
		ev.Code = H2Code(fr.ErrCode)
	case *http2.WindowUpdateFrame:
		ev.Increment = fr.Increment
	}
	code := ev.Code
	c.frameEvent(d, ev)
	switch f.typ {
	case H2Settings:
		if f.flags&h2FlagAck != 0 {
			c.ack(d.side)
		} else {
			c.settingsFrame(d.side, d.settings)
		}
	case H2RSTStream:
		c.reset(d.side, f.stream, code)
	}
}
