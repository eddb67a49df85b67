package proxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/decode"
)

// errShutdown ends connections that were open when the proxy shut down.
var errShutdown = errors.New("frametap shut down")

// conn is one client connection and everything frametap knows of it.
//
// The client goroutine (serve) owns the connection's lifecycle; copy
// goroutines for upstreams run beside it. Decoding state, the event scratch
// and the output streams are guarded by mu, a lock of this connection only:
// each chunk is decoded and its events flushed under mu before it is
// forwarded, which is what keeps a connection's events in wire order (a
// request is recorded before the server can see it, so before its response).
type conn struct {
	p  *Proxy
	id uint64
	// raw is the accepted socket; client is what the relay reads and
	// writes: raw, or a TLS session on it once frametap intercepted TLS
	// (client changes only on the client goroutine, under mu, before the
	// upstream copier starts).
	raw    net.Conn
	client net.Conn
	// sniffExpired, when set, runs on the client goroutine if no client
	// byte came within sniffWait (a read deadline on raw).
	sniffExpired func() error

	mu       sync.Mutex
	changed  *sync.Cond // signalled when a server chunk was forwarded or an upstream ended (regular mode waits on it)
	dec      *decode.Conn
	streams  []capture.Stream
	now      time.Time     // when the chunk being decoded was read
	ev       capture.Event // scratch for the event being built
	hdrs     []capture.Header
	trls     []capture.Header
	bytes    [2]int64 // indexed by decode.Side
	server   string   // the current upstream's host:port
	err      error    // the first error that ended the connection abnormally
	upstream *upstream
	tls      bool // the client's TLS is terminated here: exchanges are https/wss

	// Read without mu, so that Shutdown never waits on a connection that
	// is itself waiting (on a capture output that stopped draining).
	closed atomic.Bool // abort was called

	// Regular mode: a decoded server chunk is on its way to the client, and
	// whether the client goroutine waits for that (forwarder.drain). Atomic,
	// so the relay takes no second lock per chunk to say it is done.
	writing  atomic.Bool
	draining atomic.Bool
	up       atomic.Pointer[upstream] // the current upstream, for abort
}

func newConn(p *Proxy, nc net.Conn) *conn {
	c := &conn{p: p, id: p.nextID.Add(1), raw: nc, client: nc}
	c.changed = sync.NewCond(&c.mu)
	c.dec = decode.NewConn(p.cfg.Decode, c)
	c.streams = make([]capture.Stream, len(p.cfg.Outputs))
	for i, o := range p.cfg.Outputs {
		c.streams[i] = o.Stream()
	}
	return c
}

// serve runs the connection to its end and records it.
func (c *conn) serve() {
	defer c.p.unregister(c)
	c.recordOpen()
	if c.p.cfg.Mode == Reverse {
		c.serveReverse()
	} else {
		c.serveRegular()
	}
	c.finish()
}

// recordOpen writes the open event. It is a function of its own so that its
// frame is not part of serve's, which stays on the stack for the life of the
// connection.
//
//go:noinline
func (c *conn) recordOpen() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = time.Now()
	ev := c.event(capture.KindOpen)
	ev.Client = c.client.RemoteAddr().String()
	ev.Mode = c.p.cfg.Mode.String()
	if c.p.cfg.Mode == Reverse {
		ev.Server = c.p.upAddr
	}
	c.add(ev)
	c.flush()
}

// finish closes both sides and writes the close event, the last of the
// connection.
func (c *conn) finish() {
	c.raw.Close() // not a TLS Close: its close_notify may wait on a client that does not read
	c.mu.Lock()
	up := c.upstream
	c.mu.Unlock()
	if up != nil {
		up.raw.Close()
		<-up.done
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		c.fail(errShutdown) // unless something else ended it first
	}
	c.now = time.Now()
	ev := c.event(capture.KindClose)
	ev.BytesFromClient = c.bytes[decode.Client]
	ev.BytesFromServer = c.bytes[decode.Server]
	if c.err != nil {
		ev.Err = c.err.Error()
	}
	if hs, ok := c.dec.CloseHandshake(); ok {
		ev.WebSocket = true
		if hs.Sent[hs.First] {
			ev.WSClosedBy = hs.First.String()
		}
		ev.WSCloseClean = hs.Sent[decode.Client] && hs.Sent[decode.Server] && c.err == nil
	}
	c.add(ev)
	c.flush()
	for _, s := range c.streams {
		s.Close()
	}
}

// abort ends the connection from outside (shutdown): closing the sockets
// unblocks every goroutine of the connection that waits on the network.
// It takes no lock of the connection's: a connection blocked in a capture
// output's Flush holds its lock, and Shutdown must still reach the others
// and keep to its deadline. It closes the sockets, under any TLS session.
func (c *conn) abort() {
	c.closed.Store(true)
	c.raw.Close()
	if up := c.up.Load(); up != nil {
		up.raw.Close()
	}
	c.changed.Broadcast()
}

// fail records the first abnormal end of the connection. Callers hold mu.
func (c *conn) fail(err error) {
	if c.err == nil && err != nil && !isNormalEnd(err) {
		c.err = err
	}
}

// isNormalEnd tells the ordinary ends of a stream from errors: EOF, and
// reads on a socket this connection closed itself.
func isNormalEnd(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)
}

// decodeChunk decodes bytes that side sent and records their events.
func (c *conn) decodeChunk(side decode.Side, b []byte) {
	c.mu.Lock()
	c.now = time.Now()
	c.bytes[side] += int64(len(b))
	c.dec.Feed(side, b)
	c.flush()
	if side == decode.Server && c.p.cfg.Mode == Regular {
		c.writing.Store(true) // until forwarded: see forwarder.drain
	}
	c.mu.Unlock()
}

// endSide tells the decoder that side sent its last byte.
func (c *conn) endSide(side decode.Side) {
	c.mu.Lock()
	c.now = time.Now()
	c.dec.End(side)
	c.flush()
	c.mu.Unlock()
}

// event resets the scratch event for kind. Callers hold mu.
//
// It clears the event in place: a composite literal would build a copy of
// the large Event on the stack of every caller, and the stack of an idle
// connection's goroutine is most of what the connection costs.
func (c *conn) event(kind capture.Kind) *capture.Event {
	ev := &c.ev
	*ev = capture.Event{}
	ev.Kind, ev.Conn, ev.Time = kind, c.id, c.now
	return ev
}

// add hands ev to every output. Callers hold mu.
func (c *conn) add(ev *capture.Event) {
	for _, s := range c.streams {
		s.Add(ev)
	}
}

// flush hands the chunk's events over; it blocks while an output is behind.
// Callers hold mu.
func (c *conn) flush() {
	for _, s := range c.streams {
		if err := s.Flush(); err != nil {
			c.p.warnOutput(err)
		}
	}
}

// errorEvent records an error that frametap itself met (a dial, a bad
// request it had to answer). Callers hold mu.
func (c *conn) errorEvent(from string, err error) {
	c.now = time.Now()
	ev := c.event(capture.KindError)
	ev.From = from
	ev.Msg = err.Error()
	c.add(ev)
}

// The decode.Handler methods: they run under mu, inside Feed or End.

func (c *conn) Request(r *decode.Request) {
	ev := c.event(capture.KindRequest)
	ev.Seq = r.Seq
	ev.Method = r.Method
	ev.Target = r.Target
	ev.Host = r.Host
	ev.Proto = r.Proto
	ev.Server = c.server
	if c.tls {
		ev.Scheme = "https"
	}
	if c.p.cfg.Mode == Regular {
		// A request that names its upstream is recorded before it is
		// routed: say where it goes, not where the last one went.
		if addr := targetAddr(r.Method, r.Target); addr != "" {
			ev.Server = addr
		}
	}
	c.addMessage(ev, r.Headers, r.Trailers, r.BodyLen, r.Body, r.Truncated)
}

func (c *conn) Response(r *decode.Response) {
	ev := c.event(capture.KindResponse)
	ev.Seq = r.Seq
	ev.Proto = r.Proto
	ev.Status = r.Status
	ev.StatusText = r.Reason
	ev.Server = c.server
	c.addMessage(ev, r.Headers, r.Trailers, r.BodyLen, r.Body, r.Truncated)
}

// addMessage fills in what requests and responses share (RFC 9112
// section 2.1: fields and a body) and records the event.
func (c *conn) addMessage(ev *capture.Event, headers, trailers []decode.Header, bodyLen int64, body []byte, truncated bool) {
	c.hdrs = appendHeaders(c.hdrs[:0], headers)
	c.trls = appendHeaders(c.trls[:0], trailers)
	ev.Headers, ev.Trailers = c.hdrs, c.trls
	ev.BodyLen, ev.Body, ev.Truncated = bodyLen, body, truncated
	c.add(ev)
}

func (c *conn) Upgrade(u *decode.Upgrade) {
	ev := c.event(capture.KindUpgrade)
	ev.Seq = u.Seq
	ev.Protocol = u.Protocol
	ev.Subprotocol = u.Subprotocol
	ev.Extensions = u.Extensions
	ev.AcceptOK = u.AcceptOK
	if c.tls {
		ev.Scheme = "wss"
	}
	c.add(ev)
}

func (c *conn) Frame(side decode.Side, f *decode.Frame) {
	ev := c.event(capture.KindFrame)
	ev.From = side.String()
	ev.Fin = f.Fin
	ev.RSV = f.RSV
	ev.Opcode = f.Opcode
	ev.Masked = f.Masked
	ev.Len = f.Len
	c.add(ev)
}

func (c *conn) Message(side decode.Side, m *decode.Message) {
	ev := c.event(capture.KindMessage)
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
	c.add(ev)
}

func (c *conn) Error(side decode.Side, err error) {
	ev := c.event(capture.KindError)
	ev.From = side.String()
	ev.Msg = err.Error()
	if c.closed.Load() {
		// A message cut short because frametap closed the connection is
		// not the peer's fault: say so.
		ev.Msg = "cut by frametap's shutdown: " + ev.Msg
	}
	c.add(ev)
}

func appendHeaders(dst []capture.Header, hs []decode.Header) []capture.Header {
	for _, h := range hs {
		dst = append(dst, capture.Header{h.Name, h.Value})
	}
	return dst
}
