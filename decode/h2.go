package decode

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/net/http2"
)

// This file holds the exported HTTP/2 values and the h2Conn that decodes
// one HTTP/2 connection (RFC 9113). h2_frame.go reads frames,
// h2_headers.go decodes header blocks, h2_stream.go follows streams.

// H2Handler is a Handler that also receives the header of every HTTP/2
// frame. A Handler that is not an H2Handler gets everything else.
type H2Handler interface {
	Handler
	H2Frame(Side, *H2Frame)
}

// H2Type is an HTTP/2 frame type (RFC 9113 section 6, RFC 9218 section 7.1).
type H2Type uint8

// The frame types frametap names; others print as "0xNN".
const (
	H2Data           H2Type = 0x0
	H2Headers        H2Type = 0x1
	H2Priority       H2Type = 0x2
	H2RSTStream      H2Type = 0x3
	H2Settings       H2Type = 0x4
	H2PushPromise    H2Type = 0x5
	H2Ping           H2Type = 0x6
	H2GoAway         H2Type = 0x7
	H2WindowUpdate   H2Type = 0x8
	H2Continuation   H2Type = 0x9
	H2PriorityUpdate H2Type = 0x10
)

// h2TypeNames names every frame type without allocating.
var h2TypeNames = func() (t [256]string) {
	for i := range t {
		t[i] = fmt.Sprintf("0x%02x", i)
	}
	copy(t[:], []string{"DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"})
	t[H2PriorityUpdate] = "PRIORITY_UPDATE"
	return t
}()

// String returns the type's name, e.g. "HEADERS", or "0x0a" for a type
// frametap does not know.
func (t H2Type) String() string { return h2TypeNames[t] }

// H2Code is an HTTP/2 error code (RFC 9113 section 7).
type H2Code uint32

// String returns the code's name, e.g. "CANCEL", or "0x1f" for an unknown
// code.
func (c H2Code) String() string {
	if c <= 0xd {
		return http2.ErrCode(c).String()
	}
	return fmt.Sprintf("0x%02x", uint32(c))
}

// H2Setting is one setting of a SETTINGS frame (RFC 9113 section 6.5.1).
type H2Setting struct {
	ID    uint16
	Value uint32
}

// Name returns the setting's name, e.g. "HEADER_TABLE_SIZE" or
// "ENABLE_CONNECT_PROTOCOL", or "0x0a" for an unknown one.
func (s H2Setting) Name() string {
	if s.ID >= 1 && s.ID <= 9 && s.ID != 7 {
		return http2.SettingID(s.ID).String()
	}
	return fmt.Sprintf("0x%02x", s.ID)
}

// H2Frame is the header of one HTTP/2 frame (RFC 9113 section 4.1) with
// the fields of its payload that say what it does. It is reported once
// those fields have arrived: after the 9-byte header and the padding
// length, priority or promised stream of a DATA, HEADERS or PUSH_PROMISE
// frame, and after the whole payload of the other frames; so before
// anything its payload carries. Settings is valid only during the call.
type H2Frame struct {
	Stream uint32
	Type   H2Type
	Flags  uint8
	Len    int // payload length, padding included

	// Undecoded says that the payload's fields could not be read: the
	// frame is malformed (RFC 9113 section 6) or too long to buffer. An
	// error follows, and the fields below are zero.
	Undecoded bool

	Settings   []H2Setting // SETTINGS: in wire order, unknown ones included
	Ack        bool        // SETTINGS, PING: the ACK flag
	Code       H2Code      // RST_STREAM, GOAWAY
	LastStream uint32      // GOAWAY
	Increment  uint32      // WINDOW_UPDATE
	Promised   uint32      // PUSH_PROMISE
}

// H2Stats says how many streams an HTTP/2 connection carried: those opened
// by HEADERS or PUSH_PROMISE (and stream 1 of an h2c upgrade), and the most
// that were open at once.
type H2Stats struct {
	Streams int
	MaxOpen int
}

// Causes of the errors an HTTP/2 connection reports. Each such error is an
// *H2Error that wraps one of them (or, on a WebSocket stream, a WebSocket
// decoder error).
var (
	// ErrH2Preface reports a client connection preface other than
	// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 section 3.4): the
	// client's bytes are not decoded any more.
	ErrH2Preface = errors.New("http2 connection preface")
	// ErrH2Frame reports a frame that breaks RFC 9113 section 6: a wrong
	// length for its type, padding longer than the payload, a stream
	// identifier where none may be, or none where one must be.
	ErrH2Frame = errors.New("http2 malformed frame")
	// ErrH2FrameSize reports a frame longer than the receiver's
	// SETTINGS_MAX_FRAME_SIZE (RFC 9113 section 4.2).
	ErrH2FrameSize = errors.New("http2 frame size")
	// ErrH2Sequence reports a frame where RFC 9113 sections 5.1, 6.2 and
	// 6.10 do not allow it: a first frame other than SETTINGS, a header
	// block interrupted, a CONTINUATION without one, HEADERS on a closed
	// stream, DATA on an idle one, a SETTINGS ACK without SETTINGS.
	ErrH2Sequence = errors.New("http2 frame out of sequence")
	// ErrH2HPACK reports a header block that HPACK (RFC 7541) cannot
	// decode. The decoding context of that direction is lost with it, so
	// its header blocks are not decoded for the rest of the connection;
	// frames still are.
	ErrH2HPACK = errors.New("http2 header compression")
	// ErrH2Headers reports a header section that breaks RFC 9113 section
	// 8: field names that are not lowercase, values with CR, LF or NUL,
	// pseudo-header fields missing, repeated, unknown or after regular
	// ones, connection-specific fields, a content-length that disagrees
	// with the DATA, trailers without END_STREAM.
	ErrH2Headers = errors.New("http2 header section")
	// ErrH2Limit reports traffic past one of frametap's bounds: streams
	// tracked at once, bytes kept across open streams, a CONTINUATION
	// flood, unacknowledged SETTINGS, WebSocket streams decoded at once, a
	// control frame too long to buffer, an HPACK table larger than 1 MiB.
	// What is past the bound is counted but not kept.
	ErrH2Limit = errors.New("http2 decoder limit")
	// ErrH2CutShort reports a connection that ended inside a frame, a
	// header block, or a stream.
	ErrH2CutShort = errors.New("http2 cut short")
)

// H2Error is an HTTP/2 rule broken by the bytes of one side, or one of
// frametap's bounds reached. Its message says where, e.g. "stream 3:
// HEADERS after END_STREAM". Each kind of error is reported once per side
// and connection. It is not changed once reported, so it is safe to share.
type H2Error struct {
	Side   Side
	Stream uint32 // the stream concerned; 0 for the connection
	Opaque bool   // Side's bytes are not decoded any more
	Err    error  // one of the ErrH2* sentinels, ErrHeadTooLarge, or a WebSocket decoder's error
	Msg    string
}

func (e *H2Error) Error() string { return e.Msg }
func (e *H2Error) Unwrap() error { return e.Err }

// Bounds of what an h2Conn keeps.
const (
	h2StreamsMax  = 1024     // streams tracked at once; others are counted, not decoded
	h2CtlMax      = 16 << 10 // payload bytes buffered for a control frame
	h2BlockChunk  = 16 << 10 // header block bytes gathered before they go to HPACK
	h2BlockFrames = 128      // frames of one header block before it is called a CONTINUATION flood
	h2HeldMax     = 8        // interim responses held per stream until its request ends
	h2WSMax       = 4        // WebSocket streams decoded at once
	h2PendMax     = 8        // SETTINGS sent and not yet acknowledged, per side
	h2TableMax    = 1 << 20  // HPACK dynamic table allowed, whatever SETTINGS_HEADER_TABLE_SIZE says
	h2FreeMax     = 64       // stream states kept for reuse, with at most:
	h2FreeBody    = 4 << 10  // bytes of body buffer each
	h2FreeFields  = 64       // header fields each, per list
)

// h2Budget is how many bytes an h2Conn keeps across its open streams: their
// header fields (counted as RFC 9113 section 6.5.2 counts them), bodies,
// trailers and held responses. With the defaults, 8 MiB of bodies and
// 1 MiB of fields: 8 bodies at once at their full MaxBody.
func h2Budget(maxBody, maxHead int) int { return 8*maxBody + 16*maxHead }

// h2Preface is the client connection preface (RFC 9113 section 3.4).
const h2Preface = http2.ClientPreface

// h2PrefaceStart reports whether p and the client connection preface agree
// on their common length: p is a prefix of the preface, or starts with it.
// Conn uses it to tell HTTP/2 with prior knowledge from HTTP/1.x.
func h2PrefaceStart(p []byte) bool {
	n := min(len(p), len(h2Preface))
	return string(p[:n]) == h2Preface[:n]
}

// h2Start says how an HTTP/2 connection began.
type h2Start struct {
	// seq is the Seq of the last exchange before HTTP/2 began: the
	// CONNECT of a tunnel, or the HTTP/1.1 request that asked for h2c.
	// HTTP/2 exchanges are numbered from seq+1.
	seq int
	// upgrade says the connection switched by "Upgrade: h2c" and a 101
	// (RFC 7540 section 3.2): stream 1 is half-closed by the client and
	// carries the response to that request, whose Seq is seq.
	upgrade bool
	// settings is the HTTP2-Settings field of that request: the client's
	// SETTINGS payload in base64url, acknowledged by the 101.
	settings string
}

// h2Settings are the settings of one side that the decoder follows.
type h2Settings struct {
	table uint32 // SETTINGS_HEADER_TABLE_SIZE: the side's HPACK decoder's limit
	frame uint32 // SETTINGS_MAX_FRAME_SIZE: the largest frame the side accepts
}

var h2Initial = h2Settings{table: 4096, frame: 16384} // RFC 9113 section 6.5.2

// h2Conn decodes both directions of one HTTP/2 connection (RFC 9113) from
// chunks split anywhere. It reports frames, exchanges, the WebSocket
// streams of extended CONNECTs (RFC 8441) and errors to a Handler, in the
// order the bytes carry them, and keeps bounded state whatever the peers
// send: see the h2* bounds and h2Budget.
//
// An h2Conn is not safe for concurrent use; it calls the Handler from the
// goroutine that calls feed or end.
type h2Conn struct {
	h       Handler
	fh      H2Handler // h, if it takes frames
	cfg     Config
	maxBody int
	maxHead int
	budget  int
	kept    int // bytes kept across open streams and the header blocks being read

	dir   [2]h2Dir
	set   [2]h2Settings            // the settings each side sent that the other acknowledged
	pend  [2][h2PendMax]h2Settings // each side's settings not yet acknowledged, oldest first
	npend [2]int

	streams map[uint32]*h2Stream
	free    []*h2Stream
	last    [2]uint32 // the highest stream each side opened: client by HEADERS, server by PUSH_PROMISE
	seq     int       // the last Seq given
	total   int       // streams opened
	maxOpen int
	wsOpen  int // WebSocket streams being decoded

	said [2]uint64 // error kinds reported, per side (h2Kind bits)

	// Scratch for the events, reused.
	req   Request
	resp  Response
	up    Upgrade
	frame H2Frame
}

// newH2Conn returns an h2Conn that decodes with the bounds of cfg and
// reports to h. The client's first bytes must be the connection preface.
func newH2Conn(cfg Config, h Handler, st h2Start) *h2Conn {
	c := &h2Conn{
		h:       h,
		cfg:     cfg,
		maxBody: cfg.maxBody(),
		maxHead: cfg.maxHead(),
		set:     [2]h2Settings{h2Initial, h2Initial},
		streams: make(map[uint32]*h2Stream),
		seq:     st.seq,
	}
	c.fh, _ = h.(H2Handler)
	c.budget = h2Budget(c.maxBody, c.maxHead)
	for i := range c.dir {
		c.dir[i].init(c, Side(i))
	}
	if st.upgrade {
		c.startUpgrade(st)
	}
	return c
}

// startUpgrade sets up an h2c connection (RFC 7540 section 3.2): the
// client's HTTP2-Settings apply as acknowledged, and stream 1 waits for
// the response to the request that asked for the upgrade.
func (c *h2Conn) startUpgrade(st h2Start) {
	p, err := h2DecodeSettings(st.settings)
	switch {
	case err != nil:
		c.report(Client, h2kSettingValue, 0, fmt.Sprintf("HTTP2-Settings: %v (RFC 7540 section 3.2.1)", err))
	default:
		c.set[Client] = c.applySettings(Client, c.set[Client], p)
	}
	c.syncTable(Client)
	s := c.open(1)
	s.seq = st.seq
	s.req.headers, s.req.ended, s.req.delivered = true, true, true
	c.last[Client] = 1
}

// feed decodes bytes that side sent, all of p. It keeps no reference to p.
func (c *h2Conn) feed(side Side, p []byte) {
	d := &c.dir[side]
	for len(p) > 0 {
		switch d.state {
		case h2sPreface:
			p = c.preface(d, p)
		case h2sHeader:
			p = c.frameHeader(d, p)
		case h2sPrefix:
			p = c.framePrefix(d, p)
		case h2sContent:
			p = c.frameContent(d, p)
		case h2sPad:
			n := min(len(p), d.pad)
			d.pad -= n
			p = p[n:]
			c.step(d)
		default: // h2sOpaque, h2sEnded
			return
		}
	}
}

// preface checks the client connection preface byte by byte, so that a
// wrong one fails at its first wrong byte however the bytes are split.
func (c *h2Conn) preface(d *h2Dir, p []byte) []byte {
	for len(p) > 0 && d.pre < len(h2Preface) {
		if p[0] != h2Preface[d.pre] {
			c.opaque(d, fmt.Sprintf("connection preface: byte %d is %#02x, want %q (RFC 9113 section 3.4)", d.pre, p[0], h2Preface[d.pre]))
			return nil
		}
		d.pre++
		p = p[1:]
	}
	if d.pre == len(h2Preface) {
		d.state = h2sHeader
	}
	return p
}

// opaque stops decoding d's direction.
func (c *h2Conn) opaque(d *h2Dir, msg string) {
	d.state = h2sOpaque
	c.h.Error(d.side, &H2Error{Side: d.side, Opaque: true, Err: ErrH2Preface, Msg: msg})
}

// end says that side sent its last byte. It reports a frame, header block
// or preface cut short, and ends the streams that side left open: their
// messages are delivered with what arrived.
func (c *h2Conn) end(side Side) {
	d := &c.dir[side]
	switch d.state {
	case h2sEnded:
		return
	case h2sPreface:
		if d.pre > 0 {
			c.report(side, h2kCutShort, 0, fmt.Sprintf("connection preface cut short: %d of %d bytes", d.pre, len(h2Preface)))
		}
	case h2sHeader:
		if d.hn > 0 {
			c.report(side, h2kCutShort, 0, fmt.Sprintf("frame header cut short: %d of 9 bytes", d.hn))
		}
	case h2sPrefix, h2sContent, h2sPad:
		f := &d.f
		c.report(side, h2kCutShort, f.stream, fmt.Sprintf("%s frame cut short: %d of %d payload bytes", f.typ, f.len-d.remaining(), f.len))
	}
	c.flushLater(d)
	if d.blk.active {
		c.report(side, h2kBlockCut, d.blk.stream, "header block cut short at end of stream")
		c.dropBlock(d)
	}
	d.state = h2sEnded
	c.endStreams(side)
}

// stats says how many streams the connection carried.
func (c *h2Conn) stats() H2Stats { return H2Stats{Streams: c.total, MaxOpen: c.maxOpen} }

// h2Kind is a kind of error, reported once per side and connection.
type h2Kind uint8

const (
	h2kPreface h2Kind = iota
	h2kFirstSettings
	h2kFrame
	h2kFrameSize
	h2kCtlTooLarge
	h2kContinuation
	h2kClosedStream
	h2kIdleStream
	h2kAfterEnd
	h2kSettingsAck
	h2kSettingsFlood
	h2kSettingValue
	h2kHPACK
	h2kFieldName
	h2kFieldValue
	h2kPseudo
	h2kConnField
	h2kStatus
	h2kHeadTooLarge
	h2kBudget
	h2kStreams
	h2kFlood
	h2kHeld
	h2kContentLength
	h2kTrailers
	h2kWSMax
	h2kPush
	h2kNoHeaders
	h2kConnectData
	h2kTableSize
	h2kCutShort
	h2kBlockCut
	h2kStreamsCut
	h2kUnanswered
)

// h2KindErr is the sentinel each kind wraps.
var h2KindErr = [...]error{
	h2kPreface:       ErrH2Preface,
	h2kFirstSettings: ErrH2Sequence,
	h2kFrame:         ErrH2Frame,
	h2kFrameSize:     ErrH2FrameSize,
	h2kCtlTooLarge:   ErrH2Limit,
	h2kContinuation:  ErrH2Sequence,
	h2kClosedStream:  ErrH2Sequence,
	h2kIdleStream:    ErrH2Sequence,
	h2kAfterEnd:      ErrH2Sequence,
	h2kSettingsAck:   ErrH2Sequence,
	h2kSettingsFlood: ErrH2Limit,
	h2kSettingValue:  ErrH2Frame,
	h2kHPACK:         ErrH2HPACK,
	h2kFieldName:     ErrH2Headers,
	h2kFieldValue:    ErrH2Headers,
	h2kPseudo:        ErrH2Headers,
	h2kConnField:     ErrH2Headers,
	h2kStatus:        ErrH2Headers,
	h2kHeadTooLarge:  ErrHeadTooLarge,
	h2kBudget:        ErrH2Limit,
	h2kStreams:       ErrH2Limit,
	h2kFlood:         ErrH2Limit,
	h2kHeld:          ErrH2Limit,
	h2kContentLength: ErrH2Headers,
	h2kTrailers:      ErrH2Headers,
	h2kWSMax:         ErrH2Limit,
	h2kPush:          ErrH2Sequence,
	h2kNoHeaders:     ErrH2Sequence,
	h2kConnectData:   ErrH2Sequence,
	h2kTableSize:     ErrH2Limit,
	h2kCutShort:      ErrH2CutShort,
	h2kBlockCut:      ErrH2CutShort,
	h2kStreamsCut:    ErrH2CutShort,
	h2kUnanswered:    ErrH2CutShort,
}

// once reports whether an error of kind k from side is the first of its
// kind on the connection, and marks it reported. Callers build messages
// only when it says yes, so that repeated errors cost nothing.
func (c *h2Conn) once(side Side, k h2Kind) bool {
	bit := uint64(1) << k
	if c.said[side]&bit != 0 {
		return false
	}
	c.said[side] |= bit
	return true
}

// report reports an error of kind k, once per side and connection.
func (c *h2Conn) report(side Side, k h2Kind, stream uint32, msg string) {
	if !c.once(side, k) {
		return
	}
	c.reportNow(side, k, stream, msg)
}

// reportNow reports an error that the caller checked with once.
func (c *h2Conn) reportNow(side Side, k h2Kind, stream uint32, msg string) {
	if stream != 0 {
		msg = fmt.Sprintf("stream %d: %s", stream, msg)
	}
	c.h.Error(side, &H2Error{Side: side, Stream: stream, Err: h2KindErr[k], Msg: msg})
}

// h2IDList names streams for an error message, the first few of them:
// "stream 3", "streams 1, 3 and 5".
func h2IDList(ids []uint32) string {
	var b strings.Builder
	b.WriteString("stream")
	if len(ids) > 1 {
		b.WriteByte('s')
	}
	b.WriteByte(' ')
	for i, id := range ids {
		if i == 8 {
			fmt.Fprintf(&b, " and %d more", len(ids)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, id)
	}
	return b.String()
}

// sortedIDs returns the identifiers of the open streams in order, so that
// what the end of a connection reports does not depend on map order.
func (c *h2Conn) sortedIDs() []uint32 {
	ids := make([]uint32, 0, len(c.streams))
	for id := range c.streams {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// h2Clip shortens what an error message quotes.
func h2Clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
