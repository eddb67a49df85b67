package decode

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/http2/hpack"
)

// h2BlockKind says what a header block's fields are for.
type h2BlockKind uint8

const (
	h2bDiscard  h2BlockKind = iota // decoded only to keep HPACK in sync
	h2bRequest                     // the header section of a request
	h2bPush                        // the request of a PUSH_PROMISE
	h2bResponse                    // a response's header section, interim or final
	h2bTrailers                    // a trailer section
)

// h2Block is the header block a direction is reading: a HEADERS or
// PUSH_PROMISE frame and the CONTINUATION frames after it (RFC 9113
// section 4.3). Its fragments go to HPACK in pieces of h2BlockChunk bytes
// and at END_HEADERS; what it keeps is bounded by MaxHead and the
// connection's budget, whatever the block's length.
type h2Block struct {
	active    bool
	stream    uint32 // the stream of its HEADERS or PUSH_PROMISE frame
	target    uint32 // the stream its fields describe: the promised one for PUSH_PROMISE
	kind      h2BlockKind
	endStream bool // END_STREAM on its HEADERS frame
	frames    int
	buf       []byte   // fragment bytes not yet written to HPACK
	fields    []Header // the fields kept
	size      int      // header list size so far (RFC 9113 section 6.5.2: name, value and 32 each)
	kept      int      // bytes of fields kept, counted in h2Conn.kept
	over      bool     // fields past MaxHead or the budget were not kept
	regular   bool     // a regular field was seen: pseudo-header fields must come before
}

// blockStart starts the header block of a HEADERS or PUSH_PROMISE frame
// and decides, from the state of its stream, what its fields are.
func (c *h2Conn) blockStart(d *h2Dir, promised uint32) {
	f := &d.f
	b := &d.blk
	*b = h2Block{
		active:    true,
		stream:    f.stream,
		target:    f.stream,
		frames:    1,
		buf:       b.buf[:0],
		fields:    b.fields[:0],
		endStream: f.typ == H2Headers && f.flags&h2FlagEndStream != 0,
	}
	if f.typ == H2PushPromise {
		b.kind = c.pushKind(d, promised)
	} else {
		b.kind = c.headersKind(d)
	}
	d.dec.SetEmitEnabled(b.kind != h2bDiscard)
}

// headersKind opens a stream for a request, or finds the stream a HEADERS
// frame continues (RFC 9113 section 5.1).
func (c *h2Conn) headersKind(d *h2Dir) h2BlockKind {
	id := d.f.stream
	if s := c.streams[id]; s != nil {
		m := s.msg(d.side)
		switch {
		case m.ended:
			c.report(d.side, h2kAfterEnd, id, "HEADERS after END_STREAM (RFC 9113 section 5.1)")
			return h2bDiscard
		case m.headers:
			return h2bTrailers
		case d.side == Server:
			return h2bResponse
		}
		// A client HEADERS on a stream it did not open: a pushed one.
		c.report(d.side, h2kAfterEnd, id, "HEADERS from the client on a pushed stream (RFC 9113 section 8.4)")
		return h2bDiscard
	}
	if d.side == Server {
		// A stream the client reset may still see its response in
		// flight; streams past h2StreamsMax were reported already.
		if c.idle(id) {
			c.report(d.side, h2kIdleStream, id, "HEADERS from the server on a stream no request opened (RFC 9113 section 5.1)")
		}
		return h2bDiscard
	}
	switch {
	case id%2 == 0:
		c.report(d.side, h2kIdleStream, id, "HEADERS from the client on an even-numbered stream (RFC 9113 section 5.1.1)")
		return h2bDiscard
	case id <= c.last[Client]:
		c.report(d.side, h2kClosedStream, id, fmt.Sprintf("HEADERS on a closed stream: the client already opened stream %d (RFC 9113 section 5.1.1)", c.last[Client]))
		return h2bDiscard
	}
	c.last[Client] = id
	s := c.open(id)
	if s == nil {
		return h2bDiscard
	}
	c.seq++
	s.seq = c.seq
	return h2bRequest
}

// pushKind opens the stream a PUSH_PROMISE promises (RFC 9113 section
// 6.6); its fields are the pushed request's.
func (c *h2Conn) pushKind(d *h2Dir, promised uint32) h2BlockKind {
	id := d.f.stream
	switch {
	case d.side == Client:
		c.report(d.side, h2kPush, id, "PUSH_PROMISE from the client (RFC 9113 section 8.4)")
		return h2bDiscard
	case promised == 0 || promised%2 == 1 || promised <= c.last[Server]:
		c.report(d.side, h2kPush, id, fmt.Sprintf("PUSH_PROMISE of stream %d, not a new even-numbered stream (RFC 9113 section 6.6)", promised))
		return h2bDiscard
	}
	c.last[Server] = promised
	if s := c.streams[id]; s == nil || s.pushed {
		c.report(d.side, h2kPush, id, "PUSH_PROMISE on a stream that is not an open request (RFC 9113 section 6.6)")
	}
	s := c.open(promised)
	if s == nil {
		return h2bDiscard
	}
	c.seq++
	s.seq = c.seq
	s.pushed = true
	s.req.ended = true // "a promised request ... MUST NOT include a request body" (RFC 9113 section 8.4.1)
	d.blk.target = promised
	return h2bPush
}

// blockContinue counts a CONTINUATION frame of the block.
func (c *h2Conn) blockContinue(d *h2Dir) {
	b := &d.blk
	b.frames++
	if b.frames == h2BlockFrames+1 && c.once(d.side, h2kFlood) {
		c.reportNow(d.side, h2kFlood, b.stream, fmt.Sprintf("header block of more than %d frames (a CONTINUATION flood?): decoded on, fields past MaxHead not kept", h2BlockFrames))
	}
}

// blockBytes takes fragment bytes. They go to HPACK once h2BlockChunk of
// them are gathered, and at END_HEADERS: the points where HPACK can
// report an error depend on the bytes only, not on how they were split.
func (c *h2Conn) blockBytes(d *h2Dir, p []byte) {
	b := &d.blk
	for len(p) > 0 && !d.hpackBad {
		n := min(len(p), h2BlockChunk-len(b.buf))
		if len(b.buf) == 0 && n == h2BlockChunk {
			c.hpackWrite(d, p[:n])
		} else {
			b.buf = append(b.buf, p[:n]...)
			if len(b.buf) == h2BlockChunk {
				c.flushBlock(d)
			}
		}
		p = p[n:]
	}
}

func (c *h2Conn) flushBlock(d *h2Dir) {
	b := &d.blk
	if len(b.buf) > 0 {
		c.hpackWrite(d, b.buf)
	}
	b.buf = b.buf[:0]
}

func (c *h2Conn) hpackWrite(d *h2Dir, p []byte) {
	if d.hpackBad {
		return
	}
	if _, err := d.dec.Write(p); err != nil {
		c.hpackFail(d, err)
	}
}

// hpackFail reports that d's HPACK context is lost: every later header
// block of d's side would be decoded against a table that is not the
// peer's (RFC 9113 section 4.3), so none is decoded any more.
func (c *h2Conn) hpackFail(d *h2Dir, err error) {
	if d.hpackBad {
		return
	}
	d.hpackBad = true
	d.blk.buf = d.blk.buf[:0]
	if c.once(d.side, h2kHPACK) {
		c.reportNow(d.side, h2kHPACK, d.blk.stream, h2HPACKMsg(err, d.side))
	}
}

func h2HPACKMsg(err error, side Side) string {
	return fmt.Sprintf("hpack: %v (a COMPRESSION_ERROR, RFC 9113 section 4.3): the %s's header fields are not decoded for the rest of the connection", err, side)
}

// lostBlock ends a header block that a frame about to be reported
// interrupted: HPACK has seen part of it, so its context is lost.
func (c *h2Conn) lostBlock(d *h2Dir) {
	if !d.hpackBad {
		d.hpackBad = true
		if c.once(d.side, h2kHPACK) {
			c.later(d, h2kHPACK, d.blk.stream, h2HPACKMsg(errors.New("header block interrupted"), d.side))
		}
	}
	c.dropBlock(d)
}

// dropBlock forgets the block being read.
func (c *h2Conn) dropBlock(d *h2Dir) {
	b := &d.blk
	c.kept -= b.kept
	b.kept = 0
	clear(b.fields)
	b.fields = b.fields[:0]
	b.buf = b.buf[:0]
	b.active = false
}

// field receives one decoded field from HPACK. It keeps it if MaxHead and
// the budget allow, and checks it against RFC 9113 section 8.2.
func (c *h2Conn) field(d *h2Dir, hf hpack.HeaderField) {
	b := &d.blk
	size := len(hf.Name) + len(hf.Value) + 32
	b.size += size
	switch {
	case b.over || b.kind == h2bDiscard:
		return
	case b.size > c.maxHead:
		b.over = true
		d.dec.SetEmitEnabled(false)
		if c.once(d.side, h2kHeadTooLarge) {
			c.reportNow(d.side, h2kHeadTooLarge, b.target, fmt.Sprintf("header section larger than %d bytes (MaxHead): its fields past that are not kept", c.maxHead))
		}
		return
	case c.kept+size > c.budget:
		b.over = true
		d.dec.SetEmitEnabled(false)
		if c.once(d.side, h2kBudget) {
			c.reportNow(d.side, h2kBudget, b.target, fmt.Sprintf("open streams keep %d bytes of fields and bodies, the connection's bound: fields past it are not kept", c.budget))
		}
		return
	}
	c.kept += size
	b.kept += size
	b.fields = append(b.fields, Header{Name: hf.Name, Value: hf.Value})
	c.checkField(d, hf.Name, hf.Value)
}

// checkField checks a field against RFC 9113 section 8.2.
func (c *h2Conn) checkField(d *h2Dir, name, value string) {
	b := &d.blk
	pseudo := len(name) > 0 && name[0] == ':'
	if pseudo {
		if b.regular && c.once(d.side, h2kPseudo) {
			c.reportNow(d.side, h2kPseudo, b.target, fmt.Sprintf("pseudo-header field %q after a regular field (RFC 9113 section 8.3)", h2Clip(name)))
		}
	} else {
		b.regular = true
	}
	if !h2ValidName(name, pseudo) && c.once(d.side, h2kFieldName) {
		c.reportNow(d.side, h2kFieldName, b.target, fmt.Sprintf("field name %q: not lowercase, or with a character RFC 9113 section 8.2.1 forbids", h2Clip(name)))
	}
	if !h2ValidValue(value) && c.once(d.side, h2kFieldValue) {
		c.reportNow(d.side, h2kFieldValue, b.target, fmt.Sprintf("field %q: value %q has CR, LF or NUL, or starts or ends with whitespace (RFC 9113 section 8.2.1)", h2Clip(name), h2Clip(value)))
	}
	if pseudo {
		return
	}
	// RFC 9113 section 8.2.2: "An endpoint MUST NOT generate an HTTP/2
	// message containing connection-specific header fields", with one
	// exception: TE with the value "trailers".
	conn := false
	switch len(name) {
	case 2:
		conn = strings.EqualFold(name, "te") && value != "trailers"
	case 7:
		conn = strings.EqualFold(name, "upgrade")
	case 10:
		conn = strings.EqualFold(name, "connection") || strings.EqualFold(name, "keep-alive")
	case 16:
		conn = strings.EqualFold(name, "proxy-connection")
	case 17:
		conn = strings.EqualFold(name, "transfer-encoding")
	}
	if conn && c.once(d.side, h2kConnField) {
		c.reportNow(d.side, h2kConnField, b.target, fmt.Sprintf("connection-specific field %q (RFC 9113 section 8.2.2)", h2Clip(name)))
	}
}

// h2ValidName: "A field name MUST NOT contain characters in the ranges
// 0x00-0x20, 0x41-0x5a, or 0x7f-0xff (all ranges inclusive)", and a
// pseudo-header field's name starts with one colon.
func h2ValidName(name string, pseudo bool) bool {
	i := 0
	if pseudo {
		i = 1
	}
	if len(name) == i {
		return false
	}
	for ; i < len(name); i++ {
		if b := name[i]; b <= 0x20 || 'A' <= b && b <= 'Z' || b >= 0x7f || b == ':' {
			return false
		}
	}
	return true
}

// h2ValidValue: "A field value MUST NOT contain the zero value (ASCII NUL,
// 0x00), line feed (ASCII LF, 0x0a), or carriage return (ASCII CR, 0x0d)
// at any position", nor start or end with SP or HTAB.
func h2ValidValue(v string) bool {
	if v == "" {
		return true
	}
	if b := v[0]; b == ' ' || b == '\t' {
		return false
	}
	if b := v[len(v)-1]; b == ' ' || b == '\t' {
		return false
	}
	for i := 0; i < len(v); i++ {
		if b := v[i]; b <= '\r' && (b == 0 || b == '\n' || b == '\r') {
			return false
		}
	}
	return true
}

// blockEnd completes the header block at END_HEADERS and gives its fields
// to their stream.
func (c *h2Conn) blockEnd(d *h2Dir) {
	c.flushBlock(d)
	if !d.hpackBad {
		if err := d.dec.Close(); err != nil {
			c.hpackFail(d, err)
		}
	}
	b := &d.blk
	b.active = false
	if s := c.streams[b.target]; s != nil && b.kind != h2bDiscard {
		switch b.kind {
		case h2bRequest, h2bPush:
			c.requestHeaders(d, s)
		case h2bResponse:
			c.responseHeaders(d, s)
		case h2bTrailers:
			c.trailers(d, s)
		}
		if b.endStream {
			c.endSide(d.side, b.target)
		}
	}
	c.dropBlock(d)
}

// take copies the block's fields into dst, a stream's, and moves their
// share of the budget with them. Both slices keep their arrays, so a
// connection in its steady state allocates nothing here.
func (c *h2Conn) take(d *h2Dir, dst *[]Header, kept *int) {
	b := &d.blk
	*dst = append((*dst)[:0], b.fields...)
	*kept += b.kept
	b.kept = 0
}
