package proxy

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/frametap/frametap/decode"
)

// connectOK is frametap's answer to a CONNECT it could dial.
const connectOK = "HTTP/1.1 200 Connection established\r\n\r\n"

// route is what a request head asks of a forward proxy.
type route struct {
	addr    string // upstream host:port
	connect bool   // CONNECT: open a tunnel
	head    []byte // the head to send upstream (absolute-form → origin-form)
	err     error  // the request cannot be routed: answer 400
}

// forwarder is the client → server direction of a regular-mode connection.
// It runs on the connection's own goroutine and is the only code that
// dials, replaces or writes to the upstream.
type forwarder struct {
	c       *conn
	tunnel  bool   // after CONNECT: bytes pass unchanged, decoded as a tunnel
	headBuf []byte // reused for rewritten heads
	// pending is the tunnel's upstream, dialed but not attached until the
	// first client byte says whether TLS is to be intercepted.
	pending *tlsTarget
	use     func([]byte) error
}

func (c *conn) serveRegular() {
	f := &forwarder{c: c}
	f.use = f.chunk
	c.copyFromClient(newChunkReader(c.client), f.use)
}

// chunk forwards one chunk from the client. Request heads are held by the
// decoder until complete, then routed and rewritten; everything else
// (bodies, tunnels, WebSocket frames) passes unchanged.
func (f *forwarder) chunk(b []byte) error {
	c := f.c
	if f.tunnel {
		if f.pending != nil {
			return f.firstTunnelChunk(b)
		}
		c.decodeChunk(decode.Client, b)
		return f.write(b)
	}
	c.mu.Lock()
	c.now = time.Now()
	c.bytes[decode.Client] += int64(len(b))
	c.mu.Unlock()
	for len(b) > 0 {
		c.mu.Lock()
		wasHead := c.dec.AtRequestHead()
		n, head, err := c.dec.FeedRequest(b)
		var rt route
		if head != nil {
			rt = f.plan(head)
		}
		c.flush()
		c.mu.Unlock()
		switch {
		case err != nil:
			f.drain(0) // earlier responses reach the client before the 400
			return c.answer(400, "Bad Request", "cannot parse the request: "+err.Error(), false)
		case head != nil:
			if err := f.route(rt); err != nil {
				return err
			}
			if rest := b[n:]; f.pending != nil && len(rest) > 0 {
				// The client did not wait for the 200: what follows the
				// CONNECT is the tunnel's (and counted already).
				c.mu.Lock()
				c.bytes[decode.Client] -= int64(len(rest))
				c.mu.Unlock()
				return f.firstTunnelChunk(rest)
			}
		case !wasHead:
			if err := f.write(b[:n]); err != nil {
				return err
			}
		}
		if n == 0 {
			return fmt.Errorf("decoder made no progress on %d bytes", len(b))
		}
		b = b[n:]
	}
	return nil
}

// firstTunnelChunk decides what the tunnel carries from its first client
// bytes: a TLS ClientHello is intercepted, anything else is relayed and
// decoded as it comes.
func (f *forwarder) firstTunnelChunk(b []byte) error {
	c := f.c
	tg := *f.pending
	f.pending = nil
	c.sniffExpired = nil
	c.raw.SetReadDeadline(time.Time{})
	if b[0] == tlsRecordHandshake {
		return c.intercept(b, tg)
	}
	c.attach(tg.nc, tg.addr)
	c.decodeChunk(decode.Client, b)
	return f.write(b)
}

// sniffExpired starts relaying a tunnel whose client has said nothing for
// sniffWait: the server may be one that speaks first.
func (f *forwarder) sniffExpired() error {
	tg := *f.pending
	f.pending = nil
	f.c.attach(tg.nc, tg.addr)
	return nil
}

func (f *forwarder) write(b []byte) error {
	up := f.c.upstream
	if up == nil {
		return errors.New("client sent bytes with no upstream to take them")
	}
	if _, err := up.conn.Write(b); err != nil {
		return fmt.Errorf("write to server: %w", err)
	}
	return nil
}

// plan decides where a request head goes and rewrites it. Callers hold mu
// (head belongs to the decoder).
func (f *forwarder) plan(head *decode.Request) route {
	if head.Method == "CONNECT" {
		if _, _, err := net.SplitHostPort(head.Target); err != nil {
			return route{err: fmt.Errorf("CONNECT target %q is not host:port", head.Target)}
		}
		return route{addr: head.Target, connect: true}
	}
	authority, path, err := splitAbsolute(head.Target)
	if err != nil {
		return route{err: err}
	}
	f.headBuf = rewriteHead(f.headBuf[:0], head, path, authority)
	return route{addr: authorityAddr(authority), head: f.headBuf}
}

// route acts on a planned request: it opens a tunnel, or makes sure the
// upstream is rt.addr and sends it the rewritten head.
func (f *forwarder) route(rt route) error {
	c := f.c
	if rt.err != nil {
		f.drain(1) // earlier responses reach the client before the 400
		c.mu.Lock()
		c.errorEvent("client", rt.err)
		c.flush()
		c.mu.Unlock()
		return c.answer(400, "Bad Request", rt.err.Error(), true)
	}
	if err := f.serverGone(); err != nil {
		return err
	}
	if c.upstream == nil || c.upstream.addr != rt.addr || rt.connect {
		f.drain(1)
		c.retire()
		nc, err := c.dial(rt.addr)
		if err != nil {
			c.mu.Lock()
			c.errorEvent("server", err)
			c.flush()
			c.mu.Unlock()
			return c.answer(502, "Bad Gateway", err.Error(), true)
		}
		if rt.connect {
			// Answer before the upstream's bytes may flow: a server that
			// speaks first must not get ahead of the 200.
			c.mu.Lock()
			c.server = rt.addr
			c.now = time.Now()
			c.dec.Feed(decode.Server, []byte(connectOK))
			c.flush()
			c.mu.Unlock()
			if _, err := c.client.Write([]byte(connectOK)); err != nil {
				nc.Close()
				return fmt.Errorf("write to client: %w", err)
			}
			f.tunnel = true
			if c.p.intercepts(rt.addr) {
				// Read the first client byte before the server's may flow.
				f.pending = &tlsTarget{nc: nc, addr: rt.addr, host: hostOnly(rt.addr), tls: true}
				c.raw.SetReadDeadline(time.Now().Add(sniffWait))
				c.sniffExpired = f.sniffExpired
				return nil
			}
		}
		c.attach(nc, rt.addr)
	}
	if rt.connect {
		return nil
	}
	return f.write(rt.head)
}

// drain waits until at most pending requests are without a response and
// every decoded response has been written to the client, so that
// responses reach the client in request order when frametap reroutes or
// answers itself.
func (f *forwarder) drain(pending int) {
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining.Store(true)
	defer c.draining.Store(false)
	for (c.dec.Pending() > pending || c.writing.Load()) && c.upstream != nil && !c.upstream.ended && !c.closed.Load() {
		c.changed.Wait()
	}
}

// serverGone stops a request from going on after the server closed the
// connection. frametap passed the server's end on to the client, so the
// client takes the connection as over: sending a later pipelined request
// to a new upstream would have side effects nobody sees the answer to.
func (f *forwarder) serverGone() error {
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if up := c.upstream; up != nil && up.ended && !up.retired.Load() {
		err := fmt.Errorf("the server %s closed the connection, and frametap passed that on: a request sent after it was not forwarded", up.addr)
		c.errorEvent("client", err)
		c.flush()
		return errAnswered
	}
	return nil
}
