package proxy

import (
	"crypto/tls"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/decode"
)

// Bounds of the scratch a recorder keeps between events: a message with
// more fields than this (one huge head) gets scratch of its own, dropped
// once its event is out.
const (
	maxKeptFields = 64
	maxKeptHead   = 4 << 10 // forwarder's rewritten head
)

// recorder turns what one connection's decoder reports into capture
// events and hands them to the outputs, in the order the bytes carried
// them. It is the decode.Handler of the connection's decode.Conn; new kinds
// of events (HTTP/2 streams, SSE) land here.
//
// A recorder is not safe for concurrent use: the connection calls it, and
// its decoder, under conn.mu only.
type recorder struct {
	conn    uint64
	streams []capture.Stream
	warn    func(error)  // a capture output failed (reported once per proxy)
	closed  *atomic.Bool // the connection is being shut down (conn.closed)

	// Set by the connection before it feeds the decoder.
	now     time.Time // when the bytes being decoded were read
	server  string    // the current upstream's host:port
	routing bool      // regular mode: a request names its own upstream
	tls     bool      // the client's TLS is terminated here: exchanges are https/wss
	cut     string    // when set, the prefix of errors about bytes frametap cut short itself

	// The open event (issue 12). The connection sets these when it is
	// accepted: openNow writes them, and so does event, before any other
	// event, while pendingOpen (a SOCKS5 or transparent connection is
	// opened once the client said where it goes: the open's server).
	listen      string    // the listener's address: the open's "listen"
	openClient  string    // the client's ip:port
	openMode    string    // the listener's mode
	openAt      time.Time // when the connection was accepted
	pendingOpen bool

	// What was recorded, for the connection to act on.
	lastRequest int // Seq of the last request recorded
	lastFinal   int // Seq of the last final (non-1xx) response recorded

	ev   *capture.Event // scratch for the event being built, from eventPool: nil between chunks (idle)
	hdrs []capture.Header
	trls []capture.Header
	sets []capture.Setting // scratch for an h2frame's settings

	// Issue 14: set while frametap's own injected frame is decoded.
	injected bool

	prog httpProgress // readable bodies, timings and live progress (recorder_http.go)

	push pushState // issue 10: streaming responses, the connection's push mechanism (recorder_push.go)
	eio  eioConn   // issue 10: Socket.IO's Engine.IO exchanges (recorder_eio.go)
}

func newRecorder(id uint64, outputs []capture.Output, warn func(error), closed *atomic.Bool) recorder {
	r := recorder{conn: id, warn: warn, closed: closed, streams: make([]capture.Stream, len(outputs))}
	for i, o := range outputs {
		r.streams[i] = o.Stream()
	}
	return r
}

// event returns the scratch event for kind.
func (r *recorder) event(kind capture.Kind) *capture.Event {
	if r.pendingOpen && kind != capture.KindOpen {
		r.openNow() // open comes first, whatever ends a connection early
	}
	if r.ev == nil {
		r.ev = eventPool.Get().(*capture.Event)
	}
	ev := r.ev
	ev.Kind, ev.Conn, ev.Time = kind, r.conn, r.now
	return ev
}

// eventPool holds the recorders' scratch events: an Event is about 1 KiB,
// which every connection held for its whole life, idle ones too (issue
// 15); now a connection takes one when it builds an event and gives it
// back after the chunk it was decoding (idle): a Get and a Put per chunk,
// not per event.
var eventPool = sync.Pool{New: func() any { return new(capture.Event) }}

// clearEvent clears the scratch event, so that nothing of the message (a
// body, a 64 KiB head's strings) stays referenced.
func (r *recorder) clearEvent() {
	if r.ev != nil {
		*r.ev = capture.Event{}
	}
}

// idle gives the scratch event back, cleared; the connection calls it
// once it has decoded a chunk. wsOnly says that the connection carries
// WebSocket frames only now (decode.Conn.Idle): the scratch kept for HTTP
// heads and timings goes too.
func (r *recorder) idle(wsOnly bool) {
	if r.ev != nil {
		*r.ev = capture.Event{}
		eventPool.Put(r.ev)
		r.ev = nil
	}
	if wsOnly && r.hdrs != nil {
		r.hdrs, r.trls = nil, nil
		r.prog.letHTTPGo()
	}
}

// add hands the scratch event to every output, then clears it and the
// scratch slices, so that nothing of the message (a body, a 64 KiB head's
// strings) stays referenced until the next event. Clearing here rather
// than in event keeps the cost the same: the event is large.
func (r *recorder) add() {
	r.push.mech.Add(r.ev) // issue 10
	for _, s := range r.streams {
		s.Add(r.ev)
	}
	r.clearEvent()
	r.hdrs = scrub(r.hdrs)
	r.trls = scrub(r.trls)
	r.sets = r.sets[:0] // names are constants, or short strings made for the event
	if cap(r.sets) > maxKeptFields {
		r.sets = nil
	}
}

// scrub empties a scratch slice, dropping references to what it held, and
// drops it altogether when one large message made it grow past the bound.
func scrub(hs []capture.Header) []capture.Header {
	if cap(hs) > maxKeptFields {
		return nil
	}
	clear(hs)
	return hs[:0]
}

// flush hands the events added so far over; it blocks while an output is
// behind (backpressure).
func (r *recorder) flush() {
	for _, s := range r.streams {
		if err := s.Flush(); err != nil {
			r.warn(err)
		}
	}
}

// close releases the streams after the connection's last event.
func (r *recorder) close() {
	r.prog.closeAll()
	for _, s := range r.streams {
		s.Close()
	}
}

// open records the connection's first event.
func (r *recorder) open(client, server, mode string) {
	ev := r.event(capture.KindOpen)
	ev.Client, ev.Server, ev.Mode = client, server, mode
	ev.Listen = r.listen
	r.pendingOpen = false
	r.add()
}

// openNow records the open event the connection prepared, at the time it
// was accepted, with the server known so far.
func (r *recorder) openNow() {
	now := r.now
	r.now = r.openAt
	r.open(r.openClient, r.server, r.openMode)
	r.now = now
}

// end records the connection's last event: bytes each way, what ended it
// (nil: a normal end), how a WebSocket closed, when hs is set, and how many
// streams an HTTP/2 connection carried, when h2 is set.
func (r *recorder) end(bytes [2]int64, err error, hs *decode.CloseHandshake, h2 *decode.H2Stats) {
	ev := r.event(capture.KindClose)
	ev.BytesFromClient = bytes[decode.Client]
	ev.BytesFromServer = bytes[decode.Server]
	if err != nil {
		ev.Err = err.Error()
	}
	if hs != nil {
		ev.WebSocket = true
		if hs.Sent[hs.First] {
			ev.WSClosedBy = hs.First.String()
		}
		ev.WSCloseClean = hs.Sent[decode.Client] && hs.Sent[decode.Server] && err == nil
	}
	if h2 != nil {
		ev.H2, ev.H2Streams, ev.H2MaxOpen = true, h2.Streams, h2.MaxOpen
	}
	ev.Push = string(r.push.mech.Mechanism()) // issue 10
	r.add()
	r.eioEnd() // issue 10, Socket.IO
}

// failure records an error that frametap itself met (a dial, a timeout, a
// request it had to refuse); from is "client", "server" or "".
func (r *recorder) failure(from string, err error) {
	ev := r.event(capture.KindError)
	ev.From = from
	ev.Msg = err.Error()
	r.add()
}

// handshake records a TLS session frametap terminated with side. For the
// server side, name is the name it verified and verified whether it did.
func (r *recorder) handshake(side decode.Side, cs tls.ConnectionState, name string, verified bool) {
	ev := r.event(capture.KindTLS)
	ev.Side = side.String()
	ev.SNI = cs.ServerName
	ev.ALPN = cs.NegotiatedProtocol
	ev.Version = tls.VersionName(cs.Version)
	ev.Cipher = tls.CipherSuiteName(cs.CipherSuite)
	if side == decode.Server {
		ev.SNI = name
		if len(cs.PeerCertificates) > 0 {
			ev.Subject = cs.PeerCertificates[0].Subject.String()
			ev.Issuer = cs.PeerCertificates[0].Issuer.String()
		}
		ev.Verified = verified
	}
	ev.Handshake = r.takeHandshake()
	r.add()
}

// The decode.Handler methods: the decoder calls them inside Feed,
// FeedRequest or End.

func (r *recorder) Request(q *decode.Request) {
	ev := r.event(capture.KindRequest)
	ev.Seq = q.Seq
	ev.Method = q.Method
	ev.Target = q.Target
	ev.Host = q.Host
	ev.Proto = q.Proto
	ev.Server = r.server
	if r.tls {
		ev.Scheme = "https"
	}
	if q.Stream != 0 {
		r.h2Request(ev, q)
	} else if r.routing {
		// A request that names its upstream is recorded before it is
		// routed (or refused): say where it goes, not where the last
		// one went.
		if addr := targetAddr(q.Method, q.Target); addr != "" {
			ev.Server = addr
		}
	}
	r.lastRequest = q.Seq
	ev.BodyLen = q.BodyLen
	r.finishMessage(ev, decode.Client, q.Stream)
	r.message(ev, q.Headers, q.Trailers, q.BodyLen, q.Body, q.Truncated)
	r.eioRequest(q) // issue 10, Socket.IO
}

func (r *recorder) Response(s *decode.Response) {
	if s.Streaming != decode.NotStreaming {
		r.streamEnd(s) // issue 10: its response was recorded at its head
		return
	}
	ev := r.event(capture.KindResponse)
	ev.Seq = s.Seq
	ev.Proto = s.Proto
	ev.Status = s.Status
	ev.StatusText = s.Reason
	ev.Server = r.server
	ev.Stream, ev.Reset = s.Stream, s.Reset
	if s.Status >= 200 || s.Status == 101 {
		r.lastFinal = max(r.lastFinal, s.Seq)
	}
	ev.BodyLen = s.BodyLen
	r.finishMessage(ev, decode.Server, s.Stream)
	r.message(ev, s.Headers, s.Trailers, s.BodyLen, s.Body, s.Truncated)
	r.eioResponse(s) // issue 10, Socket.IO
}

// message fills in what requests and responses share (RFC 9112 section
// 2.1: fields and a body) and records the event.
func (r *recorder) message(ev *capture.Event, headers, trailers []decode.Header, bodyLen int64, body []byte, truncated bool) {
	r.hdrs = appendHeaders(r.hdrs, headers)
	r.trls = appendHeaders(r.trls, trailers)
	ev.Headers, ev.Trailers = r.hdrs, r.trls
	ev.BodyLen, ev.Body, ev.Truncated = bodyLen, body, truncated
	r.add()
}

func (r *recorder) Upgrade(u *decode.Upgrade) {
	ev := r.event(capture.KindUpgrade)
	ev.Seq = u.Seq
	ev.Protocol = u.Protocol
	ev.Subprotocol = u.Subprotocol
	ev.Extensions = u.Extensions
	ev.AcceptOK = u.AcceptOK
	ev.Stream = u.Stream
	if r.tls {
		ev.Scheme = "wss"
	}
	r.add()
	r.eioUpgrade(u) // issue 10, Socket.IO
}

func (r *recorder) Frame(side decode.Side, f *decode.Frame) {
	ev := r.event(capture.KindFrame)
	ev.From = side.String()
	ev.Fin = f.Fin
	ev.RSV = f.RSV
	ev.Opcode = f.Opcode
	ev.Masked = f.Masked
	ev.Len = f.Len
	ev.Stream = f.Stream
	ev.Injected = r.injected
	r.add()
}

func (r *recorder) Message(side decode.Side, m *decode.Message) {
	ev := r.event(capture.KindMessage)
	ev.From = side.String()
	ev.Op = decode.OpName(m.Opcode)
	ev.Frames = m.Frames
	ev.Len = m.Len
	ev.WireLen = m.WireLen
	ev.Compressed = m.Compressed
	ev.Payload = m.Payload
	ev.Truncated = m.Truncated
	ev.Code = m.CloseCode
	ev.Reason = m.CloseReason
	ev.Stream = m.Stream
	ev.Injected = r.injected
	r.add()
	r.eioMessage(side, m) // issue 10, Socket.IO
}

func (r *recorder) Error(side decode.Side, err error) {
	ev := r.event(capture.KindError)
	ev.From = side.String()
	ev.Msg = err.Error()
	switch {
	case r.cut != "":
		// frametap stopped reading (a timeout, its own answer): what
		// the decoder calls cut short is frametap's doing.
		ev.Msg = r.cut + ev.Msg
	case r.closed != nil && r.closed.Load():
		// A message cut short because frametap closed the connection
		// is not the peer's fault: say so.
		ev.Msg = "cut by frametap's shutdown: " + ev.Msg
	}
	r.add()
}

// HTTP/2 (issue 9): the recorder is a decode.H2Handler.

// h2Request fills in what an HTTP/2 request carries beyond HTTP/1.x: its
// stream, its :scheme, its :protocol, whether it was pushed. A stream
// names no upstream of its own: it goes where its connection goes.
func (r *recorder) h2Request(ev *capture.Event, q *decode.Request) {
	ev.Stream = q.Stream
	ev.Scheme = q.Scheme
	ev.Protocol = q.Protocol
	ev.Pushed = q.Pushed
}

// H2Frame records one HTTP/2 frame header, before anything its payload
// causes.
func (r *recorder) H2Frame(side decode.Side, f *decode.H2Frame) {
	ev := r.event(capture.KindH2Frame)
	ev.From = side.String()
	ev.Stream = f.Stream
	ev.FrameType = f.Type.String()
	ev.Flags = f.Flags
	ev.Len = int64(f.Len)
	ev.Ack = f.Ack
	switch f.Type {
	case decode.H2Settings:
		for _, st := range f.Settings {
			r.sets = append(r.sets, capture.Setting{Name: st.Name(), Value: st.Value})
		}
		ev.Settings = r.sets
	case decode.H2RSTStream:
		ev.ErrCode = f.Code.String()
	case decode.H2GoAway:
		ev.ErrCode = f.Code.String()
		ev.LastStream = f.LastStream
	case decode.H2WindowUpdate:
		ev.Increment = f.Increment
	case decode.H2PushPromise:
		ev.Promised = f.Promised
	}
	r.add()
}

func appendHeaders(dst []capture.Header, hs []decode.Header) []capture.Header {
	for _, h := range hs {
		dst = append(dst, capture.Header{h.Name, h.Value})
	}
	return dst
}
