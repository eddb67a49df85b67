package decode

import (
	"fmt"
	"slices"
	"strings"

	"golang.org/x/net/http2"
)

// HTTP/2 (RFC 9113) is decoded by the h2* files: this one holds the h2Conn
// of one connection; h2_event.go the values and errors it reports;
// h2_frame.go reads frames; h2_settings.go follows SETTINGS;
// h2_headers.go turns header blocks into fields (HPACK, RFC 7541);
// h2_sections.go reads requests, responses and trailers from them;
// h2_stream.go follows streams and delivers their exchanges.

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
	prog    Progress  // h, if it follows messages while they stream (h2_progress.go)
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

	// Issue 10: h's optional interfaces (h2_push.go), and how many
	// streams' bodies stream now.
	pusher    Push
	streaming int

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
	c.prog, _ = h.(Progress)
	c.pusher, _ = h.(Push)
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
