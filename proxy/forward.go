package proxy

import (
	"errors"
	"fmt"
	"math"
	"net"
	"time"

	"github.com/frametap/frametap/decode"
)

// connectOK is frametap's answer to a CONNECT it could dial.
const connectOK = "HTTP/1.1 200 Connection established\r\n\r\n"

// route is what a request head asks of a forward proxy.
type route struct {
	seq     int    // the request's
	addr    string // upstream host:port
	connect bool   // CONNECT: open a tunnel
	head    []byte // the head to send upstream (absolute-form → origin-form)
	err     error  // the request cannot be routed: answer 400
}

// forwarder is regular mode's front, an explicit HTTP proxy: each request
// names its upstream (absolute-form) and is sent there with its head
// rewritten (head.go); CONNECT opens a tunnel. It runs on the client
// goroutine and is the only code that dials, replaces or writes to the
// upstream.
type forwarder struct {
	c       *conn
	tun     tunnel // after CONNECT: bytes pass unchanged, decoded as the tunnel's
	rt      route  // the route being acted on (planned under c.mu)
	headBuf []byte // reused for rewritten heads; dropped after one huge head
}

func newForwarder(c *conn) *forwarder { return &forwarder{c: c, tun: tunnel{c: c}} }

func (f *forwarder) start() error { return nil }
func (f *forwarder) release()     { f.tun.release() }

// clientChunk forwards one chunk from the client. Request heads are held by
// the decoder until complete, then routed and rewritten; everything else
// (bodies, tunnels, WebSocket frames) passes unchanged, up to where the
// decoder finds that the client's bytes broke their framing.
func (f *forwarder) clientChunk(b []byte) error {
	c := f.c
	if f.tun.on {
		return f.tun.chunk(b)
	}
	c.count(decode.Client, len(b))
	for len(b) > 0 {
		n, wasHead, rt, err := f.step(b)
		if wasHead && c.pcapOn() {
			c.pcapHead = append(c.pcapHead, b[:n]...)
		}
		rest := b[n:]
		switch {
		case err != nil:
			return f.refuseBroken(err, rest)
		case rt != nil:
			if err := f.route(rt, rest); err != nil {
				return err
			}
			if f.tun.park.held() && len(rest) > 0 {
				// The client did not wait for the 200: what follows the
				// CONNECT is the tunnel's (and counted there).
				c.count(decode.Client, -len(rest))
				return f.tun.first(rest)
			}
		case !wasHead:
			if err := f.write(b[:n]); err != nil {
				return err
			}
		}
		if n == 0 {
			return fmt.Errorf("decoder made no progress on %d bytes", len(b))
		}
		b = rest
	}
	return nil
}

// step decodes client bytes up to the next request-head boundary and, at a
// complete head, plans its route while the head is valid.
func (f *forwarder) step(b []byte) (n int, wasHead bool, rt *route, err error) {
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken {
		return len(b), true, nil, nil // dropped: recoverPanic closed the sockets
	}
	c.rec.now = time.Now()
	wasHead = c.dec.AtRequestHead()
	n, head, err := c.feedClient(b)
	if head != nil && err == nil {
		f.rt = f.plan(head)
		rt = &f.rt
	}
	c.rec.flush()
	c.arm()
	return n, wasHead, rt, err
}

// plan decides where a request head goes and rewrites it. Callers hold
// c.mu (head belongs to the decoder).
func (f *forwarder) plan(head *decode.Request) route {
	if head.Method == "CONNECT" {
		if _, _, err := net.SplitHostPort(head.Target); err != nil {
			return route{seq: head.Seq, err: fmt.Errorf("CONNECT target %q is not host:port", head.Target)}
		}
		return route{seq: head.Seq, addr: head.Target, connect: true}
	}
	authority, path, err := splitAbsolute(head.Target)
	if err != nil {
		return route{seq: head.Seq, err: err}
	}
	if v := f.c.in.via; v.absolute() {
		// Upstream mode: the request goes to the upstream proxy, which
		// wants absolute-form and its own credentials.
		f.headBuf = appendHead(f.headBuf[:0], head, "http://"+authority+path, authority, v.auth)
	} else {
		f.headBuf = rewriteHead(f.headBuf[:0], head, path, authority)
	}
	return route{seq: head.Seq, addr: authorityAddr(authority), head: f.headBuf}
}

// route acts on a planned request: it opens a tunnel, or makes sure the
// upstream is rt.addr and sends it the rewritten head. rest is what
// follows the head in the chunk.
func (f *forwarder) route(rt *route, rest []byte) error {
	c := f.c
	if rt.err != nil {
		c.awaitResponses(1) // earlier responses reach the client before the 400
		c.recordFailure("client", rt.err)
		return c.answer(400, "Bad Request", rt.err.Error(), rt.seq, rest)
	}
	up := c.up.Load()
	if up != nil && up.addr == rt.addr && !rt.connect {
		if gone := c.awaitResponses(math.MaxInt); gone {
			return f.serverGone(up)
		}
		return f.writeHead(rt.head)
	}
	if up != nil {
		// Another upstream: what this one owes reaches the client first.
		// Only then is it known whether the server ended the connection,
		// which the client was told of.
		if gone := c.awaitResponses(1); gone {
			return f.serverGone(up)
		}
		c.retire()
	}
	var nc net.Conn
	var err error
	if rt.connect {
		nc, err = c.dial(rt.addr)
	} else {
		nc, err = c.dialHTTP(rt.addr)
	}
	if err != nil {
		c.recordFailure("server", err)
		return c.answer(502, "Bad Gateway", err.Error(), rt.seq, rest)
	}
	if rt.connect {
		return f.openTunnel(nc, rt.addr)
	}
	c.attach(nc, rt.addr)
	return f.writeHead(rt.head)
}

// refuseBroken ends a connection whose request bytes stopped being
// decodable: a head that cannot be parsed or framed, or a body that broke
// its framing. Nothing is forwarded from the chunk where it broke on, so
// a request smuggled behind it never reaches the upstream (RFC 9112
// section 11.2). The responses due before it reach the client, then the
// upstream is closed and the client is answered 400, unless the server
// had answered that request already.
func (f *forwarder) refuseBroken(err error, rest []byte) error {
	c := f.c
	seq := 0
	if he, ok := errors.AsType[*decode.HTTPError](err); ok {
		seq = he.Seq
	}
	due := 0
	if seq != 0 {
		due = 1 // that request was delivered and counts as pending: no answer will come
	}
	c.awaitResponses(due)
	c.retire()
	if seq != 0 && c.answered(seq) {
		lingerClose(c.client)
		return errAnswered
	}
	return c.answer(400, "Bad Request", "cannot parse the request: "+err.Error(), seq, rest)
}

// serverGone stops a request from going on after the server closed the
// connection. frametap passed the server's end on to the client, so the
// client takes the connection as over: sending a later pipelined request
// to a new upstream would have side effects nobody sees the answer to.
func (f *forwarder) serverGone(up *upstream) error {
	f.c.recordFailure("client", fmt.Errorf("the server %s closed the connection, and frametap passed that on: a request sent after it was not forwarded", up.addr))
	return errAnswered
}

// openTunnel answers a CONNECT whose upstream nc was dialed, and opens the
// tunnel.
func (f *forwarder) openTunnel(nc net.Conn, addr string) error {
	c := f.c
	// Answer before the upstream's bytes may flow: a server that speaks
	// first must not get ahead of the 200.
	c.setServer(addr)
	c.note(connectOK)
	if c.pcapOn() {
		c.mu.Lock()
		c.pcapLocal(c.pcapHead, "CONNECT "+addr)
		c.pcapData(decode.Server, []byte(connectOK), time.Now())
		c.pcapClose()
		c.mu.Unlock()
		c.dropPcapHead()
	}
	if _, err := c.client.Write([]byte(connectOK)); err != nil {
		nc.Close()
		return fmt.Errorf("write to client: %w", err)
	}
	f.tun.open(nc, addr)
	return nil
}

// writeHead sends a rewritten head upstream, then lets go of a buffer that
// one huge head made large.
func (f *forwarder) writeHead(head []byte) error {
	err := f.write(head)
	if cap(f.headBuf) > maxKeptHead {
		f.headBuf = nil
	}
	f.c.dropPcapHead() // the head was forwarded: the file has it as sent
	return err
}

func (f *forwarder) write(b []byte) error {
	up := f.c.up.Load()
	if up == nil {
		return errors.New("client sent bytes with no upstream to take them")
	}
	f.c.pcapForward(b)
	if _, err := up.conn.Write(b); err != nil {
		return fmt.Errorf("write to server: %w", err)
	}
	return nil
}
