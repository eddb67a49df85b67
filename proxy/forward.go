package proxy

import (
	"errors"
	"fmt"
	"net"
	"strings"
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

// targetAddr is the upstream a request names (CONNECT's authority, or an
// absolute-form http:// target's), or "" when it names none.
func targetAddr(method, target string) string {
	if method == "CONNECT" {
		return target
	}
	authority, _, err := splitAbsolute(target)
	if err != nil {
		return ""
	}
	return authorityAddr(authority)
}

// authorityAddr adds http's default port to an authority without one.
func authorityAddr(authority string) string {
	if _, _, err := net.SplitHostPort(authority); err == nil {
		return authority
	}
	return net.JoinHostPort(strings.Trim(authority, "[]"), "80")
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

// splitAbsolute splits an absolute-form http:// target (RFC 9112 section
// 3.2.2) into its authority and its origin-form (path and query, "/" when
// empty), keeping the bytes as the client sent them.
func splitAbsolute(target string) (authority, path string, err error) {
	scheme, rest, ok := strings.Cut(target, "://")
	if !ok {
		return "", "", fmt.Errorf("request target %q is not absolute-form: configure frametap as the HTTP proxy, or use --mode reverse:http://host:port", target)
	}
	switch strings.ToLower(scheme) {
	case "http", "ws":
	case "https", "wss":
		return "", "", fmt.Errorf("request target %q: %s:// must be tunneled with CONNECT", target, scheme)
	default:
		return "", "", fmt.Errorf("request target %q: unsupported scheme %q", target, scheme)
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, path = rest[:end], rest[end:]
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:] // userinfo is not sent on (RFC 9110 section 4.2.4)
	}
	if authority == "" {
		return "", "", fmt.Errorf("request target %q has no host", target)
	}
	if i := strings.IndexByte(path, '#'); i >= 0 {
		path = path[:i]
	}
	if path == "" || path[0] == '?' {
		path = "/" + path
	}
	return authority, path, nil
}

// rewriteHead appends the head to send upstream for a request received in
// absolute-form: origin-form target, Host set to the target's authority
// (RFC 9112 section 3.2.2), and the hop-by-hop fields of RFC 9110 section
// 7.6.1 handled: fields named by Connection, Keep-Alive, Proxy-Connection
// and Proxy-Authorization are dropped, and Connection keeps only the options
// frametap honours end to end (close, keep-alive, upgrade) because it
// relays the body bytes and the upgrade unchanged. Other fields keep their
// order and casing.
func rewriteHead(dst []byte, head *decode.Request, path, authority string) []byte {
	var keep []string // Connection options passed on
	named := map[string]bool{}
	for _, h := range head.Headers {
		if !strings.EqualFold(h.Name, "Connection") {
			continue
		}
		for opt := range strings.SplitSeq(h.Value, ",") {
			opt = strings.ToLower(strings.TrimSpace(opt))
			switch opt {
			case "":
			case "close", "keep-alive", "upgrade":
				keep = append(keep, opt)
			default:
				named[opt] = true
			}
		}
	}
	dst = append(dst, head.Method...)
	dst = append(dst, ' ')
	dst = append(dst, path...)
	dst = append(dst, ' ')
	dst = append(dst, head.Proto...)
	dst = append(dst, "\r\n"...)
	sawHost := false
	for _, h := range head.Headers {
		name := strings.ToLower(h.Name)
		switch {
		case name == "host":
			if sawHost {
				continue
			}
			sawHost = true
			dst = appendField(dst, h.Name, authority)
			continue
		case name == "connection":
			continue // rewritten below
		case name == "keep-alive", name == "proxy-connection", name == "proxy-authorization":
			continue
		case named[name]:
			continue
		}
		dst = appendField(dst, h.Name, h.Value)
	}
	if !sawHost {
		dst = appendField(dst, "Host", authority)
	}
	if len(keep) > 0 {
		dst = appendField(dst, "Connection", strings.Join(keep, ", "))
	}
	return append(dst, "\r\n"...)
}

func appendField(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = append(dst, value...)
	return append(dst, "\r\n"...)
}
