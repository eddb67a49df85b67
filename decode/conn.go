package decode

import "fmt"

// Bounds of what a Conn keeps beside heads and bodies.
const (
	h1WaitMax   = 64 << 10 // client bytes held while an upgrade or a CONNECT waits for its answer
	h1QueueMax  = 1024     // requests without a final response (pipelining)
	h1HeldMax   = 8        // responses held until the request they answer has ended
	h1QueueKeep = 256      // room for requests kept once none is pending: retainMax bytes of h1Exchange
)

// Conn decodes both directions of one TCP connection: HTTP/1.x exchanges
// (RFC 9112), then, after a 101, WebSocket (RFC 6455), or after a 2xx to
// CONNECT, what runs in the tunnel.
//
// A Conn is not safe for concurrent use: the caller serialises calls to it
// (frametap holds a per-connection lock), and the Handler is called from the
// goroutine that calls Feed, FeedRequest or End.
type Conn struct {
	h       Handler
	cfg     Config
	maxBody int
	maxHead int

	dir      [2]h1Stream  // indexed by Side
	seq      int          // the last Seq given to a request
	queue    []h1Exchange // requests whose final response has not completed, oldest first
	open     h1Exchange   // the request being read (head done, body not); seq 0 when none
	answered bool         // open's final response has completed already
	held     []Response   // responses that completed before open did, delivered after it
	dropped  bool         // interim responses past h1HeldMax were dropped (reported once)
	lost     bool         // client bytes were not decoded as requests (an error was reported)
	wait     []byte       // client bytes held until the answer to an upgrade or CONNECT

	ws [2]*wsStream // after a 101 to a WebSocket upgrade
	hs CloseHandshake

	prog Progress // h, when it follows messages while they stream; nil otherwise
}

// NewConn returns a Conn that decodes with the bounds of cfg and reports to h.
func NewConn(cfg Config, h Handler) *Conn {
	c := &Conn{h: h, cfg: cfg, maxBody: cfg.maxBody(), maxHead: cfg.maxHead()}
	c.prog, _ = h.(Progress)
	c.dir[Client].side = Client
	c.dir[Server].side = Server
	return c
}

// Feed decodes bytes that side from sent, all of p. It keeps no reference
// to p.
func (c *Conn) Feed(from Side, p []byte) {
	c.feed(&c.dir[from], p, false)
}

// FeedRequest decodes client bytes like Feed, but returns early so that a
// routing proxy can rewrite request heads: right after a request head
// completes (head != nil; head.Body is nil; head is valid until the next
// call), and right before the first byte of a new request head. n is how
// many bytes of p it consumed; it is more than 0 when p is not empty. err is
// set when the client's bytes stopped being decodable in this call: a
// request head that could not be decoded or whose framing cannot be
// trusted, or a body that broke its framing (a bad chunk line). It is an
// *HTTPError, reported through Handler.Error as well, and the client
// direction is not decoded any more. When its Seq is not 0, that request
// was delivered and waits for its response like any other (Pending counts
// it): a routing proxy that refuses it must not wait for that response.
func (c *Conn) FeedRequest(p []byte) (n int, head *Request, err error) {
	s := &c.dir[Client]
	s.headErr = nil
	n, head = c.feed(s, p, true)
	return n, head, s.headErr
}

// AtRequestHead reports whether the next client byte would belong to a
// request head: a routing proxy holds such bytes instead of forwarding them.
func (c *Conn) AtRequestHead() bool {
	s := &c.dir[Client]
	return s.state == h1Head && !s.rawHead
}

// Pending returns how many requests have no complete final response yet.
func (c *Conn) Pending() int { return len(c.queue) }

// End says that side from sent its last byte (EOF or an error). It
// completes a response framed by the end of the stream (RFC 9112 section
// 6.3), and reports anything cut short (a head, a body, a chunk) as an
// error. A request or response whose body was cut short is still
// delivered with what arrived; one whose head was cut short is not.
func (c *Conn) End(from Side) {
	c.begin()
	s := &c.dir[from]
	switch s.state {
	case h1Ended:
		return
	case h1Head, h1Body, h1ChunkSize, h1ChunkData, h1ChunkCR, h1ChunkLF, h1Trailers, h1UntilClose:
		c.endHTTP1(s)
	case h1Wait:
		s.endPending = true // End again once the bytes held are decoded
		return
	case h1WS:
		if w := c.ws[from]; w != nil {
			w.end(c.h)
			c.noteClose(from)
		}
	}
	s.state = h1Ended
	s.head = reuse(s.head)
	s.letGo()
	if cl := &c.dir[Client]; from == Server && cl.state == h1Wait {
		// No answer will come: what the client sent next is not decoded.
		cl.state = h1Opaque
		if cl.endPending {
			cl.state = h1Ended
		}
		c.wait = reuse(c.wait)
	}
}

// feed decodes p, bytes of s.side: it is where a connection switches from
// one protocol to the next, by the state of each direction. With stop set
// (FeedRequest) it returns right after a request head, and before the first
// byte of the next one.
func (c *Conn) feed(s *h1Stream, p []byte, stop bool) (n int, head *Request) {
	c.begin()
	for n < len(p) {
		switch s.state {
		case h1Head:
			if len(s.head) == 0 {
				if stop && n > 0 {
					s.off += int64(n)
					return n, nil
				}
				s.msgOff = s.off + int64(n)
			}
			k, started := c.headBytes(s, p[n:], stop)
			n += k
			if started && stop && s.headOut {
				s.headOut = false
				s.off += int64(n)
				return n, &s.req
			}
		case h1Body, h1ChunkData, h1ChunkSize, h1ChunkCR, h1ChunkLF, h1Trailers, h1UntilClose:
			n += c.bodyBytes(s, p[n:])
		case h1Wait:
			c.hold(s, p[n:])
			s.off -= int64(len(p) - n) // counted when replayed
			n = len(p)
		case h1WS:
			if w := c.ws[s.side]; w != nil {
				w.feed(p[n:], c.h)
				c.noteClose(s.side)
			}
			n = len(p)
		case h1Tunnel:
			// "the next client byte decides": a method starts with a
			// letter; TLS starts with 0x16, and a server that speaks
			// first is no HTTP server.
			if s.side == Server || !h1Letter(p[n]) {
				c.opaqueBoth()
				break
			}
			s.state = h1Head
			if sv := &c.dir[Server]; sv.state == h1Tunnel {
				sv.state = h1Head
			}
		default: // h1Opaque, h1Ended
			n = len(p)
		}
	}
	s.off += int64(n)
	return n, nil
}

// begin starts a call into the Conn: the request head that FeedRequest
// handed out in the call before, valid until this one, is let go.
func (c *Conn) begin() {
	if cl := &c.dir[Client]; cl.letGoLater {
		cl.letGo()
	}
}

// hold keeps client bytes sent before the answer to an upgrade or CONNECT.
func (c *Conn) hold(s *h1Stream, p []byte) {
	if len(c.wait)+len(p) > h1WaitMax {
		c.wait = reuse(c.wait)
		c.fatal(s, ErrHTTPSequence, c.seq, fmt.Sprintf("more than %d bytes sent before the answer to request %d: the client's bytes are not decoded", h1WaitMax, c.seq))
		return
	}
	c.wait = grow(c.wait, len(p), h1WaitMax)
	c.wait = append(c.wait, p...)
}

// replay decodes the client bytes held while waiting for an answer, from
// state on.
func (c *Conn) replay(state h1State) {
	s := &c.dir[Client]
	buf := c.wait
	c.wait = nil // replaying may hold bytes again
	s.state = state
	c.feed(s, buf, false)
	if s.state == h1Head && len(s.head) > 0 {
		s.rawHead = true // its first bytes were forwarded as they came
	}
	if c.wait == nil {
		c.wait = reuse(buf)
	}
	if s.endPending {
		s.endPending = false
		c.End(Client)
	}
}

// opaqueBoth stops decoding both directions.
func (c *Conn) opaqueBoth() {
	for i := range c.dir {
		if c.dir[i].state != h1Ended {
			c.dir[i].state = h1Opaque
		}
	}
	c.wait = reuse(c.wait)
	if cl := &c.dir[Client]; cl.endPending {
		cl.state = h1Ended
	}
}
