package filter

import "github.com/frametap/frametap/capture"

// Matcher evaluates a Filter over a stream of events in capture order,
// judging each event as it comes with what is known so far (see the
// package doc, "Streaming"). It keeps a small context per connection and
// drops it at the connection's close, so its memory is bounded by the
// connections open at once.
//
// A Matcher is not safe for concurrent use.
type Matcher struct {
	e     evaluator
	conns map[uint64]*connState
	free  []*connState
}

// maxFree bounds the connection states a Matcher keeps for reuse.
const maxFree = 64

// NewMatcher returns a Matcher for f.
func (f *Filter) NewMatcher() *Matcher {
	return &Matcher{e: evaluator{f: f}, conns: make(map[uint64]*connState)}
}

// Match feeds ev, the next event of the stream, and reports whether it
// matches. It does not keep ev.
func (m *Matcher) Match(ev *capture.Event) bool {
	c := m.conns[ev.Conn]
	if c == nil || ev.Kind == capture.KindOpen {
		if c == nil {
			if n := len(m.free); n > 0 {
				c, m.free = m.free[n-1], m.free[:n-1]
			} else {
				c = new(connState)
			}
			m.conns[ev.Conn] = c
		}
		*c = connState{}
	}
	fc := c.feed(ev, &m.e)
	ok := m.e.match(m.e.f.root, ev, &fc)
	if ev.Kind == capture.KindClose {
		delete(m.conns, ev.Conn)
		if len(m.free) < maxFree {
			m.free = append(m.free, c)
		}
	}
	return ok
}

// slots is how many exchanges a connState remembers at once: HTTP/1.1
// has one in flight (a few when pipelined); HTTP/2 may have more, and an
// exchange pushed out is judged without its facts.
const slots = 16

// connState is the streaming context of one connection.
type connState struct {
	flags  uint8
	src    uint64 // ~src bits
	any    uint64 // exchange bits true of some exchange so far
	server string // the open's server, for ~dst

	ws   uint64 // exchange bits of the exchange that upgraded to WebSocket
	xs   [slots]exch
	tick uint64
	dir  [2]dirState
}

// exch is what a connState remembers of one exchange.
type exch struct {
	seq    int
	stream uint32
	bits   uint64
	done   bool   // its final response was seen
	used   uint64 // when it was last touched; 0 for a free slot
}

// feed records ev in c and returns the facts to judge it with.
func (c *connState) feed(ev *capture.Event, e *evaluator) facts {
	c.flags |= evidence(ev)
	var x *exch
	var fc facts
	wsEvent := false
	switch ev.Kind {
	case capture.KindOpen:
		c.server = ev.Server
		src, dst := e.openBits(ev)
		c.src |= src
		c.any |= dst
	case capture.KindRequest, capture.KindResponse:
		x = c.exchange(ev.Seq, streamOf(ev), true)
		x.bits |= e.exchangeBits(ev, c.server)
		c.any |= x.bits
		if ev.Kind == capture.KindResponse && (ev.Status >= 200 || ev.Status == 101) {
			x.done = true
		}
	case capture.KindUpgrade:
		x = c.exchange(ev.Seq, streamOf(ev), false)
		if x != nil && evidence(ev)&flagWS != 0 {
			c.ws = x.bits
		}
	case capture.KindFrame:
		fc.op = c.dir[dir(ev)].frame(ev)
		wsEvent = true
	case capture.KindMessage:
		fc.op, fc.masked = c.dir[dir(ev)].message(ev)
		wsEvent = true
	case kindEIO:
		wsEvent = ev.Seq == 0
		if !wsEvent {
			x = c.exchange(ev.Seq, streamOf(ev), false)
		}
	case kindSSE, kindChunk:
		x = c.exchange(ev.Seq, streamOf(ev), false)
	default:
		if s := streamOf(ev); s != 0 {
			x = c.exchange(0, s, false)
		}
	}
	fc.flags, fc.src = c.flags, c.src
	switch {
	case x != nil:
		fc.xbits = x.bits
	case wsEvent && streamOf(ev) != 0:
		if x = c.exchange(0, streamOf(ev), false); x != nil {
			fc.xbits = x.bits
		}
	case wsEvent:
		fc.xbits = c.ws
	default:
		fc.xbits = c.any
	}
	return fc
}

// exchange finds the exchange of seq (or of stream, when not 0), making
// one when create is set: in a free slot, else in place of the least
// recently used finished exchange, else of the least recently used one.
func (c *connState) exchange(seq int, stream uint32, create bool) *exch {
	c.tick++
	var victim *exch
	for i := range c.xs {
		x := &c.xs[i]
		if x.used != 0 && (stream != 0 && x.stream == stream || stream == 0 && x.seq == seq) {
			x.used = c.tick
			return x
		}
		switch {
		case victim == nil, x.used == 0 && victim.used != 0,
			x.used != 0 && victim.used != 0 && x.done && !victim.done,
			x.used != 0 && victim.used != 0 && x.done == victim.done && x.used < victim.used:
			victim = x
		}
	}
	if !create {
		return nil
	}
	*victim = exch{seq: seq, stream: stream, used: c.tick}
	return victim
}
