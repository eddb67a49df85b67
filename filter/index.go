package filter

import "github.com/frametap/frametap/capture"

// Index evaluates a Filter over a whole capture: an event is judged with
// everything known of its connection, its exchange and (for a frame) its
// message, including what came after it (see the package doc, "Whole
// capture"). Events are added in capture order; Match may be asked at any
// time and answers with what has been added so far, so a live view can
// keep one Index and ask again as events arrive.
//
// An Index keeps 16 bytes per event and a little per connection and
// exchange; it does not keep the events: it reads them back through the
// function given to NewIndex. It is not safe for concurrent use.
type Index struct {
	e     evaluator
	at    func(i int) *capture.Event
	base  int
	recs  []rec
	conns []iconn
	live  map[uint64]int32 // conn number -> its iconn, for the latest open of that number
	xs    []uint64         // exchange bits, by exchange id
	gens  uint64           // the last Gen handed out
}

// rec is what an Index keeps of one event.
type rec struct {
	conn   int32 // index in conns
	exch   int32 // exchange id; -1 outside an exchange; -2 WebSocket before any upgrade
	msg    int32 // frame: how many events later its message comes; until known, 0 or (negative) a link, see iconn.frames
	op     uint8 // see facts.op
	masked bool  // see facts.masked
}

// iconn is what an Index keeps of one connection.
type iconn struct {
	flags  uint8
	src    uint64
	any    uint64
	server string
	seqs   [4]int32         // exchange id (+1) by seq, for seq 0-3: most connections have no more
	more   []int32          // exchange id (+1) by seq-4, for the others
	far    map[int]int32    // exchange id (+1) by seq, for a seq far beyond the others
	byStr  map[uint32]int32 // exchange id by HTTP/2 stream
	ws     int32            // exchange id of the WebSocket upgrade, -1 none
	dir    [2]dirState
	// Per direction, the last data frame awaiting its message (an index in
	// recs, -1 none); each such frame's rec.msg links back to the one
	// before it (minus the distance), 0 for the first.
	frames [2]int
	ctrl   [2]int // per direction, the control frame awaiting its message (index in recs), -1 none
	gen    uint64 // see Gen
}

// NewIndex returns an empty Index for f whose first event will have index
// base; at(i) must return event i while Match may be asked about it (and,
// for a frame, about its message), or nil once it is gone.
func (f *Filter) NewIndex(base int, at func(i int) *capture.Event) *Index {
	return &Index{e: evaluator{f: f}, at: at, base: base, live: make(map[uint64]int32)}
}

// Len returns the index of the next event to add.
func (x *Index) Len() int { return x.base + len(x.recs) }

// Add records ev, the event with index Len(). It does not keep ev.
func (x *Index) Add(ev *capture.Event) {
	i := x.Len()
	ci, ok := x.live[ev.Conn]
	if !ok || ev.Kind == capture.KindOpen {
		ci = int32(len(x.conns))
		x.conns = append(x.conns, iconn{ws: -1, frames: [2]int{-1, -1}, ctrl: [2]int{-1, -1}})
		x.live[ev.Conn] = ci
	}
	c := &x.conns[ci]
	flags, src, xany := c.flags, c.src, c.any
	c.flags |= evidence(ev)
	r := rec{conn: ci, exch: -1}
	wsEvent := false
	switch ev.Kind {
	case capture.KindOpen:
		c.server = ev.Server
		src, dst := x.e.openBits(ev)
		c.src |= src
		c.any |= dst
	case capture.KindRequest, capture.KindResponse:
		r.exch = x.exchange(c, ev.Seq, streamOf(ev), true)
		bits := x.e.exchangeBits(ev, c.server)
		x.xs[r.exch] |= bits
		c.any |= bits
	case capture.KindUpgrade:
		r.exch = x.exchange(c, ev.Seq, streamOf(ev), false)
		if r.exch >= 0 && evidence(ev)&flagWS != 0 {
			c.ws = r.exch
		}
	case capture.KindFrame:
		d := dir(ev)
		r.op = c.dir[d].frame(ev)
		wsEvent = true
		if ev.Opcode >= 8 {
			c.ctrl[d] = i - x.base
		} else {
			if p := c.frames[d]; p >= 0 {
				r.msg = -int32(i - x.base - p)
			}
			c.frames[d] = i - x.base
		}
	case capture.KindMessage:
		d := dir(ev)
		r.op, r.masked = c.dir[d].message(ev)
		wsEvent = true
		at := i - x.base
		if isControl(ev) {
			if f := c.ctrl[d]; f >= 0 {
				x.recs[f].msg = int32(at - f)
				c.ctrl[d] = -1
			}
		} else {
			for f := c.frames[d]; f >= 0; {
				back := -x.recs[f].msg
				x.recs[f].msg = int32(at - f)
				if back == 0 {
					break
				}
				f -= int(back)
			}
			c.frames[d] = -1
		}
	case kindEIO:
		wsEvent = ev.Seq == 0
		if !wsEvent {
			r.exch = x.exchange(c, ev.Seq, streamOf(ev), false)
		}
	case kindSSE, kindChunk:
		r.exch = x.exchange(c, ev.Seq, streamOf(ev), false)
	default:
		if s := streamOf(ev); s != 0 {
			r.exch = x.exchange(c, 0, s, false)
		}
	}
	if wsEvent {
		switch s := streamOf(ev); {
		case s != 0:
			r.exch = x.exchange(c, 0, s, false)
		case c.ws >= 0:
			r.exch = c.ws
		default:
			r.exch = -2
		}
	}
	if c.flags != flags || c.src != src || c.any != xany || c.gen == 0 {
		x.gens++
		c.gen = x.gens
	}
	x.recs = append(x.recs, r)
}

// exchange returns the id of the exchange of seq (or stream, when not 0),
// -1 when there is none and create is not set.
func (x *Index) exchange(c *iconn, seq int, stream uint32, create bool) int32 {
	if stream != 0 {
		if id, ok := c.byStr[stream]; ok {
			return id
		}
		if !create {
			return -1
		}
		if c.byStr == nil {
			c.byStr = make(map[uint32]int32)
		}
		id := x.newExchange()
		c.byStr[stream] = id
		return id
	}
	var slot *int32
	switch {
	case seq < 0:
		return -1
	case seq < len(c.seqs):
		slot = &c.seqs[seq]
	case seq-len(c.seqs) < len(c.more):
		slot = &c.more[seq-len(c.seqs)]
	case seq-len(c.seqs) >= len(c.more)+1024:
		// A seq far beyond the others (a damaged capture, say): kept
		// apart rather than growing more to it.
		if id, ok := c.far[seq]; ok {
			return id - 1
		}
		if !create {
			return -1
		}
		if c.far == nil {
			c.far = make(map[int]int32)
		}
		id := x.newExchange()
		c.far[seq] = id + 1
		return id
	case !create:
		return -1
	default:
		for len(c.more) <= seq-len(c.seqs) {
			c.more = append(c.more, 0)
		}
		slot = &c.more[seq-len(c.seqs)]
	}
	if *slot == 0 {
		if !create {
			return -1
		}
		*slot = x.newExchange() + 1
	}
	return *slot - 1
}

func (x *Index) newExchange() int32 {
	x.xs = append(x.xs, 0)
	return int32(len(x.xs) - 1)
}

// Gen returns the generation of what every event of event i's connection
// is judged with: its connection atoms' evidence, and the exchange atoms
// true of some exchange of it (what an event outside any exchange takes).
// It changes when an added event changes them, and differs between two
// connections (0 for an event not added). While it stays the same, the
// verdict on an event of the connection can change only by what is its
// own: a request or response by its exchange's other half, a frame by its
// message. A live view re-judges a connection's events when it changes.
func (x *Index) Gen(i int) uint64 {
	if i < x.base || i >= x.Len() {
		return 0
	}
	return x.conns[x.recs[i-x.base].conn].gen
}

// Match reports whether event i matches, judged with everything added so
// far. It is false for an event not added, or that at no longer returns.
func (x *Index) Match(i int) bool {
	if i < x.base || i >= x.Len() {
		return false
	}
	ev := x.at(i)
	if ev == nil {
		return false
	}
	r := &x.recs[i-x.base]
	c := &x.conns[r.conn]
	fc := facts{flags: c.flags, src: c.src, op: r.op, masked: r.masked}
	switch {
	case r.exch >= 0:
		fc.xbits = x.xs[r.exch]
	case r.exch == -1:
		fc.xbits = c.any
	}
	if r.msg > 0 && ev.Kind == capture.KindFrame {
		fc.msg = x.at(i + int(r.msg))
	}
	return x.e.match(x.e.f.root, ev, &fc)
}

// Select judges every event of a whole capture, given in capture order,
// and returns whether each matches (see Index). Nil events do not match.
func (f *Filter) Select(evs []*capture.Event) []bool {
	x := f.NewIndex(0, func(i int) *capture.Event { return evs[i] })
	x.recs = make([]rec, 0, len(evs))
	for _, ev := range evs {
		if ev == nil {
			ev = &capture.Event{}
		}
		x.Add(ev)
	}
	out := make([]bool, len(evs))
	for i, ev := range evs {
		out[i] = ev != nil && x.Match(i)
	}
	return out
}
