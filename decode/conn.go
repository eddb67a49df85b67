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
// (RFC 9112), then, after a 101, WebSocket (RFC 6455) or HTTP/2 (h2c), or
// after a 2xx to CONNECT, what runs in the tunnel: HTTP/1.x, or HTTP/2 when
// its client preface comes first. HTTP/2 (RFC 9113) also starts a
// connection whose client sends the preface first, once SniffH2 asked for
// it, and one whose TLS negotiated h2 (ALPN).
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

	// HTTP/2.
	h2      *h2Conn  // once the connection speaks HTTP/2: both directions go to it
	sniffH2 bool     // the client's first bytes may be the HTTP/2 preface (SniffH2)
	npre    int      // client bytes held that agree with the preface (h1Sniff)
	sniffTo h1State  // what the client's bytes are when they are not the preface
	holdTo  h1State  // what the server's held bytes are then (h1Hold)
	early   []byte   // server bytes held while the client's may yet be the preface
	prog    Progress // h, when it follows messages while they stream; nil otherwise

	pusher Push // issue 10: h, when it takes streaming responses (push.go); nil otherwise
}

// NewConn returns a Conn that decodes with the bounds of cfg and reports to h.
func NewConn(cfg Config, h Handler) *Conn {
	c := &Conn{h: h, cfg: cfg, maxBody: cfg.maxBody(), maxHead: cfg.maxHead()}
	c.prog, _ = h.(Progress)
	c.pusher, _ = h.(Push) // issue 10
	m := new([2]h1Message) // one allocation for both directions
	c.dir[Client].side, c.dir[Client].h1Message = Client, &m[Client]
	c.dir[Server].side, c.dir[Server].h1Message = Server, &m[Server]
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
	return (s.state == h1Head || s.state == h1Sniff) && !s.rawHead
}

// SniffH2 makes the Conn tell HTTP/2 with prior knowledge (RFC 9113
// section 3.3) from HTTP/1.x by the client's first bytes: bytes that agree
// with the client connection preface are held until all 24 have come. A
// server's first bytes that may be its SETTINGS (a first byte 0) are held
// meanwhile, up to 64 KiB. Call it before the first Feed; a reverse proxy
// does, a forward proxy (whose requests must name their upstream) does not.
// Inside a CONNECT tunnel the preface is always sniffed.
func (c *Conn) SniffH2() {
	if c.dir[Client].off == 0 && c.dir[Client].state == h1Head {
		c.sniffH2 = true
	}
}

// ALPN tells the Conn the protocol that the TLS session whose plaintext it
// decodes from now on negotiated (RFC 7301), before that plaintext comes:
// "h2" switches both directions to HTTP/2 at once, so that the server's
// SETTINGS, which may come before the client's preface, are decoded as
// such; its exchanges are numbered after the CONNECT of a tunnel. Other
// protocols change nothing: HTTP/1.x is decoded as it comes.
func (c *Conn) ALPN(proto string) {
	if proto != "h2" || c.h2 != nil {
		return
	}
	c.sniffH2 = false
	c.startH2(h2Start{seq: c.seq}, "")
}

// H2Stats says how many streams the connection carried, when it spoke
// HTTP/2 (ok).
func (c *Conn) H2Stats() (st H2Stats, ok bool) {
	if c.h2 == nil {
		return st, false
	}
	return c.h2.stats(), true
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
	if from == Client && c.clientUndecided() {
		c.sniffed(false, 0, 0) // no preface: what was held is HTTP/1.x cut short
	}
	switch s.state {
	case h1Ended:
		return
	case h1Hold:
		s.endPending = true // End again once the client's first bytes decide
		return
	case h1H2:
		c.h2.end(from)
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
	if s.h1Message != nil { // nil once a WebSocket (dropHTTP1)
		s.head = reuse(s.head)
		s.letGo()
	}
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
			if c.sniffH2 && s.side == Client && s.off+int64(n) == 0 {
				s.state, c.sniffTo = h1Sniff, h1Head
				break
			}
			if len(s.head) == 0 && s.side == Server && p[n] == 0 && c.mayHold(s, n) {
				s.state, c.holdTo = h1Hold, h1Head
				break
			}
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
			// letter, as does the HTTP/2 preface; TLS starts with 0x16,
			// and a server that speaks first is no HTTP server, unless
			// what it sends may be HTTP/2 SETTINGS, held until the
			// client's bytes say.
			if s.side == Server && p[n] == 0 {
				s.state, c.holdTo = h1Hold, h1Tunnel
				break
			}
			if s.side == Server || !h1Letter(p[n]) {
				c.opaqueBoth()
				break
			}
			if p[n] == h2Preface[0] {
				s.state, c.sniffTo = h1Sniff, h1Head
				break
			}
			s.state = h1Head
			c.sniffed(false, 0, 0) // the server's bytes are HTTP/1.x too
		case h1Sniff:
			n += c.sniff(s, p[n:], n)
		case h1Hold:
			c.holdServer(s, p[n:])
			s.off -= int64(len(p) - n) // counted when replayed
			n = len(p)
		case h1H2:
			c.h2.feed(s.side, p[n:])
			n = len(p)
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

// clientUndecided reports whether the client's first bytes are still to say
// whether the connection speaks HTTP/2 with prior knowledge.
func (c *Conn) clientUndecided() bool {
	cl := &c.dir[Client]
	return cl.state == h1Sniff || cl.state == h1Tunnel || c.sniffH2 && cl.state == h1Head && cl.off == 0
}

// mayHold reports whether server bytes that start at p[n] of a chunk of s
// come before the client's first bytes decided the protocol, so that they
// may be the SETTINGS of an HTTP/2 server that speaks first.
func (c *Conn) mayHold(s *h1Stream, n int) bool {
	return s.off+int64(n) == 0 && c.sniffH2 && c.clientUndecided()
}

// sniff takes client bytes that may be the HTTP/2 client connection
// preface (RFC 9113 section 3.4), from n0 into the chunk being fed. Those
// that agree with it are held (they are the preface's own bytes, so only
// their count is kept) until all 24 have come, and HTTP/2 starts; at the
// first byte that differs, the bytes held are decoded as HTTP/1.x and so
// is the rest. It returns how many bytes of p it consumed.
func (c *Conn) sniff(s *h1Stream, p []byte, n0 int) int {
	k := 0
	for k < len(p) && c.npre < len(h2Preface) && p[k] == h2Preface[c.npre] {
		c.npre++
		k++
	}
	switch {
	case c.npre == len(h2Preface):
		c.sniffed(true, 0, 0)
	case k < len(p):
		c.sniffed(false, k, n0)
	}
	return k
}

// sniffed ends the wait for the client's first bytes: they are the HTTP/2
// preface (h2), or HTTP/1.x (or whatever a tunnel carries). The server's
// bytes held meanwhile are decoded as the same protocol. k is how many
// held client bytes came in the chunk being fed, from n0 into it.
func (c *Conn) sniffed(h2 bool, k, n0 int) {
	c.sniffH2 = false
	cl := &c.dir[Client]
	held := c.npre
	c.npre = 0
	if h2 {
		c.startH2(h2Start{seq: c.seq}, h2Preface)
		return
	}
	if cl.state == h1Sniff {
		cl.state = c.sniffTo
		if held > 0 {
			// The held bytes are decoded from where they started: the
			// first of them came k bytes before the end of what the
			// caller counts.
			cl.off += int64(n0) - int64(held-k)
			c.feed(cl, []byte(h2Preface[:held]), false)
			cl.off -= int64(n0) + int64(k)
		}
	}
	sv := &c.dir[Server]
	if sv.state != h1Hold {
		if sv.state == h1Tunnel && cl.state == h1Head {
			sv.state = h1Head
		}
		return
	}
	sv.state = c.holdTo
	if c.holdTo == h1Tunnel && cl.state == h1Head {
		sv.state = h1Head
	}
	c.releaseEarly(func(b []byte) { c.feed(sv, b, false) })
}

// startH2 switches both directions to HTTP/2: the client's bytes from pre
// on (the preface, when it was sniffed and held), then the server's bytes
// held meanwhile.
func (c *Conn) startH2(st h2Start, pre string) {
	c.h2 = newH2Conn(c.cfg, c.h, st)
	for i := range c.dir {
		if s := &c.dir[i]; s.state != h1Ended && s.state != h1Opaque {
			s.state = h1H2
		}
	}
	if pre != "" {
		c.h2.feed(Client, []byte(pre))
	}
	c.releaseEarly(func(b []byte) { c.h2.feed(Server, b) })
}

// upgradeH2 switches to HTTP/2 after a 101 to "Upgrade: h2c" (RFC 7540
// section 3.2): the rest of the server's bytes are HTTP/2, and so are the
// client's, held since its request, starting with the preface.
func (c *Conn) upgradeH2(seq int, settings string) {
	waiting := c.dir[Client].state == h1Wait
	c.startH2(h2Start{seq: seq, upgrade: true, settings: settings}, "")
	if waiting {
		c.replay(h1H2)
	}
}

// releaseEarly hands the server bytes held while the client's first bytes
// were awaited to feed, then acts on an End that came meanwhile.
func (c *Conn) releaseEarly(feed func([]byte)) {
	sv := &c.dir[Server]
	buf := c.early
	c.early = nil
	if len(buf) > 0 && sv.state != h1Hold {
		feed(buf)
	}
	c.early = reuse(buf)
	if sv.endPending && sv.state != h1Hold {
		sv.endPending = false
		c.End(Server)
	}
}

// holdServer keeps server bytes that came before the client's first bytes
// decided the protocol.
func (c *Conn) holdServer(s *h1Stream, p []byte) {
	if len(c.early)+len(p) > h1WaitMax {
		c.early = reuse(c.early)
		c.fatal(s, ErrHTTPSequence, 0, fmt.Sprintf("more than %d bytes sent by the server before the client's first bytes: the server's bytes are not decoded", h1WaitMax))
		return
	}
	c.early = grow(c.early, len(p), h1WaitMax)
	c.early = append(c.early, p...)
}

// opaqueBoth stops decoding both directions.
func (c *Conn) opaqueBoth() {
	for i := range c.dir {
		if c.dir[i].state != h1Ended {
			c.dir[i].state = h1Opaque
		}
	}
	c.wait = reuse(c.wait)
	c.early = reuse(c.early)
	for i := range c.dir {
		if s := &c.dir[i]; s.endPending {
			s.state = h1Ended
		}
	}
}
