package filter

import (
	"sync"
	"time"

	"github.com/frametap/frametap/capture"
)

// OutputOptions configures an Output. The zero value gives the defaults.
type OutputOptions struct {
	// MaxHeldEvents bounds the events one stream holds back while their
	// verdict waits for a response or a message. Past it the oldest are
	// judged with what is known. If zero, 256 is used.
	MaxHeldEvents int
	// MaxHeldBytes bounds the body, payload and header bytes one stream
	// holds back, as MaxHeldEvents does. If zero, 2 MiB is used: a request
	// with a body at frametap's default --max-body (1 MiB) waits whole.
	MaxHeldBytes int
	// Now stamps the meta event. If nil, time.Now is used.
	Now func() time.Time
}

// Output is a capture.Output that passes on to another only the events a
// Filter selects, keeping the capture well formed:
//
//   - the first event it writes is a meta event (conn 0) recording the
//     filter (see KindMeta);
//   - a connection's open is written just before its first selected event
//     (or when the open itself is selected), and its close when any of its
//     events was written (or the close itself is selected); a connection
//     with nothing selected leaves no trace;
//   - events keep their order within a connection.
//
// Events are judged as a Matcher judges them (with what is known so far),
// except that a stream holds back an event whose verdict the next few
// events settle: a request, until its final response, when the filter
// looks at responses (~c, ~h, ~hs, ~websocket, ~sse); a frame, until its
// message, when the filter looks at payloads (~b, ~bq, ~bs, ~jq, ~sio,
// ~code). So -w --filter '~c 500' keeps whole exchanges, and --filter
// '~b error' keeps the frames of the messages it keeps. What is held is
// bounded (OutputOptions); the connection's close, or Close, settles it.
//
// Output is safe for concurrent use as its destination is; each Stream is
// used by one goroutine at a time, as capture.Stream says.
type Output struct {
	next capture.Output
	f    *Filter
	opt  OutputOptions
	pool sync.Pool // of *outStream, with their buffers, for the next connections
}

// NewOutput returns an Output writing to next the events f selects. It
// writes the meta event at once, through a stream of its own, and returns
// that stream's Flush error.
func NewOutput(next capture.Output, f *Filter, opt OutputOptions) (*Output, error) {
	if opt.MaxHeldEvents <= 0 {
		opt.MaxHeldEvents = 256
	}
	if opt.MaxHeldBytes <= 0 {
		opt.MaxHeldBytes = 2 << 20
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	meta := MetaEvent(f, opt.Now())
	s := next.Stream()
	s.Add(meta)
	err := s.Flush()
	s.Close()
	return &Output{next: next, f: f, opt: opt}, err
}

// MetaEvent returns the meta event of a capture written with f: kind
// "meta", conn 0, time t, and the filter's source as its "filter".
func MetaEvent(f *Filter, t time.Time) *capture.Event {
	ev := &capture.Event{Kind: KindMeta, Time: t}
	setMetaFilter(ev, f.Source())
	return ev
}

// Stream returns the filtering stream of one connection.
func (o *Output) Stream() capture.Stream {
	s, _ := o.pool.Get().(*outStream)
	if s == nil {
		s = &outStream{o: o, e: evaluator{f: o.f}}
	}
	s.next = o.next.Stream()
	return s
}

// Why a held event waits.
const (
	waitNone uint8 = iota
	waitResp       // a request waits for its final response
	waitMsg        // a frame waits for its message
)

// liveMsg marks a held frame whose message is the event being added.
const liveMsg = -2

// held is an event a stream holds back: a copy whose slices live in the
// stream's arena.
type held struct {
	ev     capture.Event
	fc     facts // as of when it was added
	wait   uint8
	msg    int // waitMsg: q position of its message, liveMsg, or -1
	size   int
	seq    int
	stream uint32
}

// outStream filters one connection's events. It is used by one goroutine
// at a time.
type outStream struct {
	o    *Output
	next capture.Stream
	e    evaluator
	c    connState

	open      capture.Event // the connection's open, until written
	haveOpen  bool
	wroteOpen bool
	passed    bool // some event was written
	closed    bool // the close was judged

	q     []held // held events: q[head:]
	head  int
	live  *capture.Event // the event Add is judging, the message of frames marked liveMsg
	bytes int            // size of the held events
	arena []byte
	hdrs  []capture.Header
}

// Add judges ev, or holds it back until it can be judged.
func (s *outStream) Add(ev *capture.Event) {
	f := s.o.f
	if ev.Kind == capture.KindOpen {
		s.open, s.haveOpen, s.wroteOpen = *ev, true, false
	}
	fc := s.c.feed(ev, &s.e)
	s.live = ev
	defer func() { s.live = nil }()
	wait := waitNone
	switch {
	case ev.Kind == capture.KindRequest && f.needResp:
		wait = waitResp
	case ev.Kind == capture.KindFrame && f.needMsg:
		wait = waitMsg
	case ev.Kind == capture.KindResponse && (ev.Status >= 200 || ev.Status == 101):
		s.settleRequests(ev.Seq, streamOf(ev))
	case ev.Kind == capture.KindMessage:
		s.settleFrames(ev)
	}
	if ev.Kind == capture.KindClose {
		s.drain(true)
		s.judge(ev, &fc)
		s.closed = true
		return
	}
	s.drain(false)
	if s.head == len(s.q) && wait == waitNone {
		s.judge(ev, &fc)
		return
	}
	s.hold(ev, fc, wait)
	for s.held() > s.o.opt.MaxHeldEvents || s.bytes > s.o.opt.MaxHeldBytes || len(s.arena) > 4*s.o.opt.MaxHeldBytes {
		s.judgeFront()
	}
}

// settleRequests ends the wait of the held requests a final response
// answers.
func (s *outStream) settleRequests(seq int, stream uint32) {
	for i := s.head; i < len(s.q); i++ {
		h := &s.q[i]
		if h.wait == waitResp && (stream != 0 && h.stream == stream || stream == 0 && h.seq == seq) {
			h.wait = waitNone
		}
	}
}

// settleFrames gives the held frames of message ev their message: all
// the waiting data frames of its direction, or its control frame.
func (s *outStream) settleFrames(ev *capture.Event) {
	ctrl := isControl(ev)
	for i := s.head; i < len(s.q); i++ {
		h := &s.q[i]
		if h.wait == waitMsg && h.ev.From == ev.From && isControl(&h.ev) == ctrl {
			h.wait, h.msg = waitNone, liveMsg
			if ctrl {
				return
			}
		}
	}
}

// held returns how many events are held.
func (s *outStream) held() int { return len(s.q) - s.head }

// hold queues a copy of ev.
func (s *outStream) hold(ev *capture.Event, fc facts, wait uint8) {
	pos := len(s.q)
	for i := s.head; i < len(s.q); i++ {
		if s.q[i].msg == liveMsg {
			s.q[i].msg = pos
		}
	}
	h := held{fc: fc, wait: wait, msg: -1, seq: ev.Seq, stream: streamOf(ev)}
	h.ev = *ev
	h.ev.Headers, h.size = s.copyHeaders(ev.Headers, h.size)
	h.ev.Trailers, h.size = s.copyHeaders(ev.Trailers, h.size)
	h.ev.Body = s.copyBytes(ev.Body)
	h.ev.Payload = s.copyBytes(ev.Payload)
	h.size += len(ev.Body) + len(ev.Payload)
	if x := ev.EIO; x != nil { // issue 10, Socket.IO
		h.ev.EIO = &capture.EIO{}
		*h.ev.EIO = *x
		h.ev.EIO.Args, h.ev.EIO.SIOData = s.copyBytes(x.Args), s.copyBytes(x.SIOData)
		h.size += len(x.Args) + len(x.SIOData)
	}
	s.q = append(s.q, h)
	s.bytes += h.size
}

func (s *outStream) copyBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	n := len(s.arena)
	s.arena = append(s.arena, b...)
	return s.arena[n:len(s.arena):len(s.arena)]
}

func (s *outStream) copyHeaders(hs []capture.Header, size int) ([]capture.Header, int) {
	if hs == nil {
		return nil, size
	}
	n := len(s.hdrs)
	s.hdrs = append(s.hdrs, hs...)
	for _, h := range hs {
		size += len(h[0]) + len(h[1])
	}
	return s.hdrs[n:len(s.hdrs):len(s.hdrs)], size
}

// drain judges the held events from the front while they wait for
// nothing; with force, all of them.
func (s *outStream) drain(force bool) {
	for s.head < len(s.q) && (force || s.q[s.head].wait == waitNone) {
		s.judgeFront()
	}
}

// judgeFront judges the oldest held event with what is known now.
func (s *outStream) judgeFront() {
	h := &s.q[s.head]
	fc := h.fc
	fc.flags, fc.src = s.c.flags, s.c.src
	switch h.ev.Kind {
	case capture.KindRequest, capture.KindResponse, capture.KindUpgrade, kindSSE, kindChunk:
		if x := s.c.exchange(h.seq, h.stream, false); x != nil {
			fc.xbits = x.bits
		}
	case kindEIO: // issue 10: the packets of a polling body belong to its exchange (a WebSocket's, to the upgrade's)
		if h.seq == 0 {
			break
		}
		if x := s.c.exchange(h.seq, h.stream, false); x != nil {
			fc.xbits = x.bits
		}
	case capture.KindFrame, capture.KindMessage:
	default:
		fc.xbits = s.c.any
	}
	switch {
	case h.msg >= 0:
		fc.msg = &s.q[h.msg].ev
	case h.msg == liveMsg:
		fc.msg = s.live
	}
	s.judge(&h.ev, &fc)
	s.bytes -= h.size
	s.q[s.head] = held{}
	s.head++
	switch {
	case s.head == len(s.q):
		s.q, s.head, s.arena, s.hdrs = s.q[:0], 0, s.arena[:0], s.hdrs[:0]
	case s.head >= 1024 && s.head > s.held():
		// The queue has not emptied for a while: move what is held down.
		n := copy(s.q, s.q[s.head:])
		for i := range s.q[:n] {
			if s.q[i].msg >= 0 {
				s.q[i].msg -= s.head
			}
		}
		clear(s.q[n:])
		s.q, s.head = s.q[:n], 0
	}
}

// judge writes ev on when it is selected; a close also when anything of
// its connection was written.
func (s *outStream) judge(ev *capture.Event, fc *facts) {
	ok := s.e.match(s.e.f.root, ev, fc)
	if ev.Kind == capture.KindClose {
		ok = ok || s.passed
	}
	if !ok {
		return
	}
	if s.haveOpen && !s.wroteOpen {
		s.wroteOpen = true
		if ev.Kind != capture.KindOpen {
			s.next.Add(&s.open)
		}
	}
	s.next.Add(ev)
	s.passed = true
}

// Flush passes on what was written; held events stay held.
func (s *outStream) Flush() error {
	return s.next.Flush()
}

// Close judges what is still held, flushes and closes the destination
// stream.
func (s *outStream) Close() {
	s.drain(true)
	s.next.Flush()
	s.next.Close()
	// Keep the buffers for the next connection, unless one grew large.
	o, scratch, q, arena, hdrs := s.o, s.e.scratch, s.q[:0], s.arena[:0], s.hdrs[:0]
	if cap(arena) > o.opt.MaxHeldBytes || cap(scratch) > o.opt.MaxHeldBytes {
		scratch, arena = nil, nil
	}
	if cap(hdrs) > 4096 {
		hdrs = nil
	}
	*s = outStream{o: o, e: evaluator{f: o.f, scratch: scratch}, q: q, arena: arena, hdrs: hdrs}
	o.pool.Put(s)
}
