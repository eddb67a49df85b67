package ui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/frametap/frametap/capture"
)

// This file is what the dashboard knows of HTTP/2 (issue 9): a
// connection's protocol (the PROTO column), its streams, how many were
// open at once, and the lanes of the exchanges view: which streams were
// open when each exchange began, so that multiplexing shows. It learns
// them from the h2frame events as they come (HEADERS opens a stream,
// END_STREAM both ways or RST_STREAM ends it), or, in a capture without
// frames (written with --filter, read from a HAR), from the exchanges;
// the close event's h2_streams and h2_max_open are the exact figures.

// Bounds of what a connection keeps of its streams.
const (
	// maxTrackedStreams is how many open streams a connection follows, as
	// the decoder does (streams past it are counted, not followed).
	maxTrackedStreams = 1024
	// maxLanes is how many lanes the exchanges view draws; a stream in a
	// lane past them shows as "+".
	maxLanes = 8
)

// h2Track is what the dashboard knows of a connection's HTTP/2 streams.
type h2Track struct {
	frames  []int // absolute indices of its h2frame events: the frames view (F)
	streams int   // streams opened
	maxOpen int   // the most open at once
	exact   bool  // streams and maxOpen are the close event's
	ws      bool  // a stream carried a WebSocket (RFC 8441)
	byFrame bool  // h2frame events come: they open and end streams, not the exchanges

	open       map[uint32]*h2Open // streams open now
	lanes      []uint32           // lane k holds stream lanes[k]; 0: free
	lastClient uint32             // the highest stream the client opened
}

// h2Open is one open stream.
type h2Open struct {
	lane  int     // its lane, -1 past maxLanes*8
	ended [2]bool // END_STREAM from the client [0] and from the server [1]
	strip string  // the lanes when it opened, as its row shows them
}

// h2Of returns c's HTTP/2 tracking, making it.
func (c *conn) h2Of() *h2Track {
	if c.h2 == nil {
		c.h2 = &h2Track{open: make(map[uint32]*h2Open)}
	}
	return c.h2
}

// applyH2 follows event i of c for HTTP/2.
func (c *conn) applyH2(i int, ev *capture.Event) {
	switch {
	case ev.Kind == capture.KindH2Frame:
		h := c.h2Of()
		h.frames = append(h.frames, i)
		h.byFrame = true
		h.frame(ev)
	case ev.Kind == capture.KindRequest && (ev.Stream != 0 || ev.Proto == "HTTP/2.0"):
		h := c.h2Of()
		if !h.byFrame && ev.Stream != 0 {
			h.start(ev.Stream, ev.Pushed)
		}
	case ev.Kind == capture.KindResponse && ev.Stream != 0 && c.h2 != nil && !c.h2.byFrame:
		if ev.Status >= 200 {
			c.h2.end(ev.Stream)
		}
	case ev.Kind == capture.KindUpgrade && ev.Stream != 0:
		c.h2Of().ws = c.h2Of().ws || strings.EqualFold(ev.Protocol, "websocket")
	case ev.Kind == capture.KindClose && ev.H2:
		h := c.h2Of()
		h.streams, h.maxOpen, h.exact = ev.H2Streams, ev.H2MaxOpen, true
		clear(h.open)
		clear(h.lanes)
	case ev.Kind == capture.KindClose && c.h2 != nil:
		clear(c.h2.open)
		clear(c.h2.lanes)
	}
	if c.h2 == nil {
		return
	}
	// The exchange of a stream: its id and the lanes when it opened.
	if ev.Stream != 0 && (ev.Kind == capture.KindRequest || ev.Kind == capture.KindResponse) {
		if x := c.exchangeOf(ev.Seq, false); x != nil {
			c.h2.mark(x, ev.Stream)
		}
	}
}

// mark gives exchange x its stream and, while the stream is open, its lanes.
func (h *h2Track) mark(x *exchange, stream uint32) {
	x.stream = stream
	if o := h.open[stream]; o != nil && x.lanes == "" {
		x.lanes = o.strip
	}
}

// frame follows one h2frame event (RFC 9113 section 5.1).
func (h *h2Track) frame(ev *capture.Event) {
	const endStream = 0x1
	id := ev.Stream
	side := 0
	if ev.From == "server" {
		side = 1
	}
	switch ev.FrameType {
	case "HEADERS":
		if side == 0 && id > h.lastClient && h.open[id] == nil {
			h.lastClient = id
			h.start(id, false)
		}
	case "PUSH_PROMISE":
		if ev.Promised != 0 && h.open[ev.Promised] == nil {
			h.start(ev.Promised, true)
		}
		return
	case "RST_STREAM":
		h.end(id)
		return
	}
	if (ev.FrameType == "HEADERS" || ev.FrameType == "DATA") && ev.Flags&endStream != 0 {
		if o := h.open[id]; o != nil {
			o.ended[side] = true
			if o.ended[0] && o.ended[1] {
				h.end(id)
			}
		}
	}
}

// start opens stream id; a pushed stream's request side has ended.
func (h *h2Track) start(id uint32, pushed bool) {
	if h.open[id] != nil {
		return
	}
	if !h.exact {
		h.streams++
	}
	if len(h.open) >= maxTrackedStreams {
		return
	}
	o := &h2Open{lane: -1}
	o.ended[0] = pushed
	for k, s := range h.lanes {
		if s == 0 {
			o.lane = k
			break
		}
	}
	if o.lane < 0 && len(h.lanes) < maxLanes*8 {
		h.lanes = append(h.lanes, 0)
		o.lane = len(h.lanes) - 1
	}
	if o.lane >= 0 {
		h.lanes[o.lane] = id
	}
	h.open[id] = o
	if !h.exact {
		h.maxOpen = max(h.maxOpen, len(h.open))
	}
	o.strip = h.strip(id)
}

// end closes stream id.
func (h *h2Track) end(id uint32) {
	o := h.open[id]
	if o == nil {
		return
	}
	if o.lane >= 0 {
		h.lanes[o.lane] = 0
	}
	delete(h.open, id)
}

// strip draws the lanes for stream id's row: ● its own, │ another open
// stream, a space a free lane; + when its lane is past the drawn ones.
func (h *h2Track) strip(id uint32) string {
	var sb strings.Builder
	n := min(len(h.lanes), maxLanes)
	for n > 0 && h.lanes[n-1] == 0 {
		n--
	}
	for k := range n {
		switch h.lanes[k] {
		case id:
			sb.WriteString("●")
		case 0:
			sb.WriteByte(' ')
		default:
			sb.WriteString("│")
		}
	}
	if o := h.open[id]; o != nil && (o.lane < 0 || o.lane >= maxLanes) {
		sb.WriteByte('+')
	}
	return sb.String()
}

// proto is the PROTO column's protocol: h1, h2 (over TLS), h2c
// (cleartext), ws (a WebSocket over HTTP/1.1), ws/h2 (a WebSocket on an
// HTTP/2 stream); "" before anything says.
func (c *conn) proto() string {
	switch {
	case c.h2 != nil && c.h2.ws:
		return "ws/h2"
	case c.h2 != nil && c.tls:
		return "h2"
	case c.h2 != nil:
		return "h2c"
	case c.ws:
		return "ws"
	case c.requests > 0 || c.pending > 0 && c.connectSeq == 0:
		return "h1"
	}
	return ""
}

// protoCell is the PROTO column: the protocol and, for HTTP/2 that
// multiplexed, the most streams open at once ("h2 ≤12"); the summary says
// how many streams there were.
func (c *conn) protoCell() string {
	p := c.proto()
	if c.h2 != nil && c.h2.maxOpen > 1 {
		p += " ≤" + strconv.Itoa(c.h2.maxOpen)
	}
	return p
}

// h2Summary ends the summary's first line for an HTTP/2 connection:
// ", up to 12 at once (HTTP/2 multiplexing)".
func (c *conn) h2Summary() string {
	h := c.h2
	s := ""
	if h.streams != c.requests && h.streams > 0 {
		s = fmt.Sprintf(" (%d %s)", h.streams, plural(h.streams, "stream", "streams"))
	}
	switch {
	case h.maxOpen > 1:
		s += fmt.Sprintf(", up to %d at once (HTTP/2 multiplexing)", h.maxOpen)
	case c.requests > 1:
		s += ", one at a time (HTTP/2)"
	default:
		s += " (HTTP/2)"
	}
	if h.ws {
		s += ", a WebSocket on a stream (RFC 8441)"
	}
	return s
}

// streamCell is the exchanges view's STREAM column.
func streamCell(x *exchange) string {
	if x.stream == 0 {
		return ""
	}
	return strconv.FormatUint(uint64(x.stream), 10)
}
