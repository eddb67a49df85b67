package push

import (
	"cmp"
	"slices"
	"time"

	"github.com/frametap/frametap/capture"
)

// Bounds of what a Summary keeps.
const (
	maxPending   = 64   // requests of one connection waiting for a response
	maxH2Streams = 256  // HTTP/2 streams of one connection whose frame bytes are counted
	maxPollKeys  = 256  // method+path pairs counted per host; the rest share one
	maxSamples   = 1024 // hold times and poll intervals kept per row for medians (the latest)
)

// Row is what one host pushed by one mechanism. Wire counts the bytes both
// ways of the exchanges and connections of the row: for HTTP/1.x the heads
// as sent (request and status lines, fields, CRLFs) and the bodies, for
// HTTP/2 the frames of the stream (9-byte headers and payloads, when the
// capture has h2frame events), for WebSocket every frame's header and
// payload. Payload is what the server pushed: the bodies of polls that
// returned news, of long polls that returned, SSE events' data, streamed
// chunks, the payload of server-to-client WebSocket data messages.
type Row struct {
	Host      string    // the request's Host (or :authority), else the connection's server
	Mechanism Mechanism // never None for rows of pushed messages; None gathers the rest
	Conns     int       // connections that contributed
	Exchanges int       // HTTP exchanges (a WebSocket's or stream's counts once)
	Messages  int64     // pushed messages
	Payload   int64     // their payload bytes
	Wire      int64     // bytes on the wire both ways
	First     time.Time // the row's first event
	Last      time.Time // its last

	// Polling (and None): requests of one method and path.
	Polls      int           // poll responses
	EmptyPolls int           // of which said nothing new: 204, 304, no body, or the same body as the poll before
	Cadence    time.Duration // median interval between two polls of one method and path

	// Long-polling.
	Hold time.Duration // median wait_ms of the long polls
}

// Overhead is the bytes on the wire that were not payload.
func (r Row) Overhead() int64 { return max(r.Wire-r.Payload, 0) }

// OverheadPerMessage is Overhead over Messages, 0 when there were none.
func (r Row) OverheadPerMessage() float64 {
	if r.Messages == 0 {
		return 0
	}
	return float64(r.Overhead()) / float64(r.Messages)
}

// OverheadShare is the share of the wire bytes that were not payload, 0-1.
func (r Row) OverheadShare() float64 {
	if r.Wire == 0 {
		return 0
	}
	return float64(r.Overhead()) / float64(r.Wire)
}

// PerSecond is Messages over the time from First to Last, 0 when that is
// not above 0.
func (r Row) PerSecond() float64 {
	d := r.Last.Sub(r.First)
	if d <= 0 {
		return 0
	}
	return float64(r.Messages) / d.Seconds()
}

// EmptyShare is the share of polls that said nothing new, 0-1.
func (r Row) EmptyShare() float64 {
	if r.Polls == 0 {
		return 0
	}
	return float64(r.EmptyPolls) / float64(r.Polls)
}

// Summary aggregates capture events into Rows. Feed it every event of a
// capture, in order, with Add; Rows may be called at any time. Its state is
// bounded per open connection and per host (method+path pairs, samples for
// medians), and grows with the number of hosts. It is not safe for
// concurrent use.
type Summary struct {
	cfg   Config
	conns map[uint64]*connState
	rows  map[rowKey]*acc
	polls map[pollKey]*pollState
	hosts map[string]int // poll keys per host
	last  *acc           // the row the last exchange went to

	pollConns map[rowKey]int // the connections of the none and polling rows (conns.go)
}

// NewSummary returns an empty Summary.
func NewSummary(cfg Config) *Summary {
	return &Summary{
		cfg:   cfg,
		conns: make(map[uint64]*connState),
		rows:  make(map[rowKey]*acc),
		polls: make(map[pollKey]*pollState),
		hosts: make(map[string]int),

		pollConns: make(map[rowKey]int),
	}
}

type rowKey struct {
	host string
	mech Mechanism
}

// acc is a Row being summed, with the samples of its medians.
type acc struct {
	Row
	holds samples
}

type pollKey struct {
	host, method, path string
}

// pollState is one method+path on a host: its exchanges, held until Rows
// says whether there were enough of them to be polling.
type pollState struct {
	acc
	lastReq  time.Time
	lastBody uint64
	seen     bool
	gaps     samples
	askers   []*hostPolls // while it is none: the connections that asked (conns.go)
}

// exchange is a request waiting for its response, or a response whose body
// streams.
type exchange struct {
	seq    int
	stream uint32
	method string
	path   string
	t      time.Time
	wire   int64
	row    rowKey // for a streaming response
}

// connState is what a Summary keeps of an open connection.
type connState struct {
	host    string
	cls     Conn
	pending []exchange
	streams []exchange
	h2      map[uint32]int64 // frame bytes per HTTP/2 stream
	ws      rowKey           // the row of its WebSocket, once upgraded

	rows  []rowKey              // the rows of pushing mechanisms it was counted in
	polls map[string]*hostPolls // its part in the none and polling rows, by host
}

// Add takes the capture's next event.
func (s *Summary) Add(ev *capture.Event) {
	if ev.Conn == 0 {
		return // gap, meta
	}
	c := s.conns[ev.Conn]
	if c == nil {
		if ev.Kind == capture.KindClose {
			return
		}
		c = &connState{cls: Conn{Config: s.cfg}}
		s.conns[ev.Conn] = c
	}
	c.cls.Add(ev)
	switch ev.Kind {
	case capture.KindOpen:
		c.host = ev.Server
	case capture.KindClose:
		delete(s.conns, ev.Conn)
	case capture.KindRequest:
		s.request(c, ev)
	case capture.KindResponse:
		s.response(c, ev)
	case capture.KindSSE, capture.KindChunk:
		if x := c.stream(ev.Seq, ev.Stream); x != nil {
			a := s.row(c, x.row, ev)
			a.Messages++
			a.Wire += ev.Len
			if ev.Kind == capture.KindSSE {
				a.Payload += int64(len(ev.Payload))
			} else {
				a.Payload += ev.Len
			}
		}
	case capture.KindStreamEnd:
		c.endStream(ev.Seq, ev.Stream)
	case capture.KindFrame:
		if c.ws.mech != "" {
			s.row(c, c.ws, ev).Wire += wsHeaderLen(ev.Len, ev.Masked) + ev.Len
		}
	case capture.KindMessage:
		if c.ws.mech != "" && ev.From == "server" && (ev.Op == "text" || ev.Op == "binary") {
			if c.ws.mech == SocketIO && !eioMessage(ev.Payload) {
				return // Engine.IO's ping, pong, noop, upgrade: framing
			}
			a := s.row(c, c.ws, ev)
			a.Messages++
			a.Payload += ev.WireLen
		}
	case capture.KindH2Frame:
		if ev.Stream != 0 {
			c.h2Bytes(ev.Stream, 9+ev.Len)
		}
	}
}

// started moves the First of the row last touched back to t, the start of
// its exchange.
func (s *Summary) started(t time.Time) {
	if a := s.last; a != nil && !t.IsZero() && t.Before(a.First) {
		a.First = t
	}
}

// row returns the accumulator of k, counting c in it and ev's time.
func (s *Summary) row(c *connState, k rowKey, ev *capture.Event) *acc {
	a := s.rows[k]
	if a == nil {
		a = &acc{Row: Row{Host: k.host, Mechanism: k.mech}}
		s.rows[k] = a
	}
	if !c.counted(k) {
		a.Conns++
	}
	a.touch(ev)
	s.last = a
	return a
}

// touch widens the row's time to ev's.
func (a *acc) touch(ev *capture.Event) {
	if a.First.IsZero() || ev.Time.Before(a.First) {
		a.First = ev.Time
	}
	if ev.Time.After(a.Last) {
		a.Last = ev.Time
	}
}

func (s *Summary) request(c *connState, ev *capture.Event) {
	if ev.Host != "" && c.host == "" || ev.Host != "" && len(c.pending) == 0 {
		c.host = ev.Host
	}
	if len(c.pending) == maxPending {
		c.pending = c.pending[1:]
	}
	x := exchange{seq: ev.Seq, stream: ev.Stream, method: ev.Method, path: pathOf(ev.Target), t: ev.Time}
	x.wire = requestHeadLen(ev) + ev.BodyLen
	c.pending = append(c.pending, x)
}

func (s *Summary) response(c *connState, ev *capture.Event) {
	x, ok := c.take(ev.Seq, ev.Stream, ev.Status < 200 && ev.Status != 101)
	if !ok {
		x = exchange{seq: ev.Seq, stream: ev.Stream, t: ev.Time}
	}
	wire := x.wire + responseHeadLen(ev)
	if ev.Status < 200 && ev.Status != 101 {
		c.addPending(ev.Seq, ev.Stream, responseHeadLen(ev))
		return
	}
	if !ev.Streaming {
		wire += ev.BodyLen
	}
	if n, ok := c.h2[ev.Stream]; ok && ev.Stream != 0 {
		wire = n // the frames of the stream, as sent
		delete(c.h2, ev.Stream)
	}
	host := c.host
	mech := c.cls.Mechanism()
	defer s.started(x.t) // the row's time starts at the request
	news := ev.BodyLen > 0 && ev.Status != 204 && ev.Status != 304
	switch {
	case ev.Status == 101 || ev.Streaming && mech == SocketIO:
		k := rowKey{host, mech}
		if mech != SocketIO {
			k.mech = WebSocket
		}
		if ev.Status == 101 {
			c.ws = k
		} else {
			c.streams = append(c.streams, exchange{seq: ev.Seq, stream: ev.Stream, row: k})
		}
		a := s.row(c, k, ev)
		a.Exchanges++
		a.Wire += wire
	case mech == SocketIO:
		a := s.row(c, rowKey{host, SocketIO}, ev)
		a.Exchanges++
		a.Wire += wire
		if ev.BodyLen > 0 {
			n := eioMessages(ev.Body)
			a.Messages += n
			if n > 0 {
				a.Payload += ev.BodyLen
			}
		}
	case ev.Streaming:
		k := rowKey{host, Streaming}
		if IsEventStream(ev.Headers) {
			k.mech = SSE
		}
		if len(c.streams) < maxPending {
			c.streams = append(c.streams, exchange{seq: ev.Seq, stream: ev.Stream, row: k})
		}
		a := s.row(c, k, ev)
		a.Exchanges++
		a.Wire += wire
	case ev.Timed && ev.Wait >= s.cfg.longPoll():
		a := s.row(c, rowKey{host, LongPolling}, ev)
		a.Exchanges++
		a.Wire += wire
		a.holds.add(ev.Wait)
		if news {
			a.Messages++
			a.Payload += ev.BodyLen
		}
	default:
		s.poll(c, host, x, ev, wire, news)
	}
}

// poll adds c's exchange to its method+path.
func (s *Summary) poll(c *connState, host string, x exchange, ev *capture.Event, wire int64, news bool) {
	k := pollKey{host, x.method, x.path}
	p := s.polls[k]
	if p == nil {
		if s.hosts[host] >= maxPollKeys {
			k.method, k.path = "", "*"
			p = s.polls[k]
		}
		if p == nil {
			p = &pollState{}
			s.polls[k] = p
			s.hosts[host]++
		}
	}
	p.touch(ev)
	s.last = &p.acc
	p.Exchanges++
	p.Wire += wire
	p.Polls++
	s.countPoll(c, host, p)
	body := hashBytes(ev.Body) ^ uint64(ev.BodyLen)
	if news && p.seen && body == p.lastBody {
		news = false // the same body again
	}
	p.lastBody, p.seen = body, true
	if news {
		p.Messages++
		p.Payload += ev.BodyLen
	} else {
		p.EmptyPolls++
	}
	if !p.lastReq.IsZero() && !x.t.IsZero() && x.t.After(p.lastReq) {
		p.gaps.add(x.t.Sub(p.lastReq))
	}
	if !x.t.IsZero() {
		p.lastReq = x.t
	}
}

// Rows returns one row per host and mechanism, by host, then from the most
// to the least capable mechanism (Socket.IO first, None last).
func (s *Summary) Rows() []Row {
	rows := make(map[rowKey]*acc, len(s.rows))
	for k, a := range s.rows {
		c := *a
		c.holds = samples{}
		c.Hold = a.holds.median()
		rows[k] = &c
	}
	gaps := make(map[rowKey]*samples)
	for k, p := range s.polls {
		mech := None
		if p.Polls >= s.cfg.minPolls() {
			mech = Polling
		}
		rk := rowKey{k.host, mech}
		a := rows[rk]
		if a == nil {
			a = &acc{Row: Row{Host: k.host, Mechanism: mech}}
			rows[rk] = a
		}
		a.merge(&p.Row)
		if mech == Polling {
			g := gaps[rk]
			if g == nil {
				g = &samples{}
				gaps[rk] = g
			}
			g.v = append(g.v, p.gaps.v...)
		}
	}
	for k, g := range gaps {
		rows[k].Cadence = g.median()
	}
	for k, a := range rows {
		switch k.mech {
		case None:
			// Nothing of its exchanges was pushed: a body is an answer.
			a.Messages, a.Payload = 0, 0
			fallthrough
		case Polling:
			a.Conns = s.pollConns[k]
		}
	}
	out := make([]Row, 0, len(rows))
	for _, a := range rows {
		out = append(out, a.Row)
	}
	slices.SortFunc(out, func(a, b Row) int {
		if c := cmp.Compare(a.Host, b.Host); c != 0 {
			return c
		}
		return cmp.Compare(b.Mechanism.rank(), a.Mechanism.rank())
	})
	return out
}

// merge adds the sums of r but its Conns: a connection that asked for
// several paths counts once in the row.
func (a *acc) merge(r *Row) {
	a.Exchanges += r.Exchanges
	a.Messages += r.Messages
	a.Payload += r.Payload
	a.Wire += r.Wire
	a.Polls += r.Polls
	a.EmptyPolls += r.EmptyPolls
	if a.First.IsZero() || !r.First.IsZero() && r.First.Before(a.First) {
		a.First = r.First
	}
	if r.Last.After(a.Last) {
		a.Last = r.Last
	}
}
