package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/frametap/frametap/decode"
)

// upstream is one dialed server connection being relayed, and the
// goroutine that copies what the server sends to the client.
type upstream struct {
	c    *conn
	conn net.Conn           // what the relay reads and writes: raw, or a TLS session on it
	raw  net.Conn           // the socket, closed to end the upstream at once
	addr string             // host:port
	done chan struct{}      // closed when copyToClient returns
	use  func([]byte) error // relayChunk, bound once: no allocation per chunk
	fw   func([]byte) error // forwardChunk, bound once

	// Guarded by c.mu.
	retired bool // frametap ended this upstream itself: its end is not the server's
	ended   bool // the server's end was decoded (endServer), or copyToClient returned
}

// testHookServerEnded, when set by a test, runs in the copier after it
// passed the server's FIN on and before it returns: the window in which
// the client goroutine must already see the upstream as ended.
var testHookServerEnded func()

// parked is an upstream dialed before frametap knows how to relay it: a
// CONNECT tunnel's, until the client's first byte says whether TLS is to
// be intercepted. Its owner (the front that dialed it) either hands it on
// with take or closes it with close, which it defers on every exit.
type parked struct {
	nc   net.Conn
	addr string
}

func (pk *parked) hold(nc net.Conn, addr string) { pk.nc, pk.addr = nc, addr }
func (pk *parked) held() bool                    { return pk.nc != nil }

// take hands the parked upstream on; its new owner must close it.
func (pk *parked) take() (net.Conn, string) {
	nc, addr := pk.nc, pk.addr
	pk.nc, pk.addr = nil, ""
	return nc, addr
}

func (pk *parked) close() {
	if pk.nc != nil {
		pk.nc.Close()
		pk.nc = nil
	}
}

// dialFunc dials a socket: Config.DialContext, or a net.Dialer's.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// errNotAllowed is wrapped by dial's error for an upstream that
// --allow-upstream refuses (a SOCKS5 client is told so by its reply code).
var errNotAllowed = errors.New("not allowed")

// dial connects to a host:port upstream within the proxy's dial timeout,
// once Config.AllowUpstream allows it: no name is looked up before that.
// In upstream mode the connection is a tunnel through the upstream proxy
// (via.go), which looks the name up itself. Shutdown cancels it.
func (c *conn) dial(addr string) (net.Conn, error) {
	if !c.p.allowed(addr) {
		return nil, fmt.Errorf("upstream %s is %w by --allow-upstream %q (it must match the whole host:port): not dialed", addr, errNotAllowed, c.p.cfg.AllowUpstream)
	}
	ctx, cancel := context.WithTimeout(c.p.ctx, c.p.cfg.DialTimeout)
	defer cancel()
	start := time.Now()
	var nc net.Conn
	var err error
	onOwnStack(func() {
		if v := c.in.via; v != nil {
			nc, err = v.tunnel(ctx, c.p.dialContext, addr)
		} else if nc, err = c.p.dialContext(ctx, "tcp", addr); err != nil {
			err = fmt.Errorf("cannot reach upstream %s: %w", addr, err)
		}
	})
	if err != nil {
		return nil, err
	}
	took := time.Since(start)
	c.mu.Lock()
	c.rec.dialed(took) // connect_ms
	c.mu.Unlock()
	return nc, nil
}

// onOwnStack runs f on a goroutine of its own and returns when f has.
// A dial goes deep (net's dialer, the socket's setup: more than 4 KiB of
// stack), and a goroutine's stack, once grown, stays that size while the
// goroutine lives, parked or not: the client goroutine of every idle
// connection held 8 KiB of stack for its one dial (issue 15). The cost is
// one goroutine per dial.
func onOwnStack(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

// dialHTTP connects for plain HTTP requests to addr. Through an upstream
// HTTP proxy it is a connection to the proxy itself, which takes the
// requests in absolute-form (via.absolute); otherwise it is dial's.
func (c *conn) dialHTTP(addr string) (net.Conn, error) {
	v := c.in.via
	if !v.absolute() {
		return c.dial(addr)
	}
	if !c.p.allowed(addr) {
		return c.dial(addr) // its refusal
	}
	ctx, cancel := context.WithTimeout(c.p.ctx, c.p.cfg.DialTimeout)
	defer cancel()
	return v.reach(ctx, c.p.dialContext)
}

// attach makes nc the connection's upstream and starts copying its bytes
// to the client. Client goroutine only.
func (c *conn) attach(nc net.Conn, addr string) {
	up := &upstream{c: c, conn: nc, raw: nc, addr: addr, done: make(chan struct{})}
	if tc, ok := nc.(*tls.Conn); ok {
		up.raw = tc.NetConn()
	}
	up.use = up.relayChunk
	up.fw = up.forwardChunk
	c.setServer(addr)
	c.mu.Lock()
	c.pcapOpen(up) // before the copier may write the server's first bytes
	c.mu.Unlock()
	c.up.Store(up)
	if c.closed.Load() { // Shutdown ran while we dialed: abort may not have seen this socket
		nc.Close()
	}
	go up.copyToClient()
}

// retire ends the current upstream by frametap's doing (the next request
// goes elsewhere, or frametap answers the client itself) and returns once
// its copier has stopped: from then on nothing else writes to the client.
// Client goroutine only.
func (c *conn) retire() {
	up := c.up.Load()
	if up == nil {
		return
	}
	c.mu.Lock()
	up.retired = true
	c.mu.Unlock()
	up.raw.Close()
	<-up.done
	c.up.Store(nil)
	c.setServer("")
	c.mu.Lock()
	c.pcapClose()
	c.mu.Unlock()
}

func (c *conn) setServer(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rec.server = addr
}

// copyToClient relays server → client until the server ends. It is the
// second goroutine of a connection (named, so stack traces say what it is).
func (up *upstream) copyToClient() {
	c := up.c
	defer up.finished()
	defer c.recoverPanic("server")
	r := newChunkReader(up.conn)
	for {
		err := r.read(up.use)
		if err == nil {
			continue
		}
		if up.isRetired() {
			return
		}
		c.endServer(up, err)
		if errors.Is(err, io.EOF) {
			// Pass the server's FIN on: the client sees exactly what the
			// server did, and a response framed by close completes.
			closeWrite(c.client)
			if testHookServerEnded != nil {
				testHookServerEnded()
			}
			return
		}
		c.raw.Close() // unblock the client goroutine: the connection is over
		return
	}
}

func (up *upstream) isRetired() bool {
	up.c.mu.Lock()
	defer up.c.mu.Unlock()
	return up.retired
}

// finished marks the upstream ended and wakes the client goroutine if it
// waits for responses.
func (up *upstream) finished() {
	c := up.c
	c.mu.Lock()
	up.ended = true
	c.settle.Signal()
	c.mu.Unlock()
	close(up.done)
}

// relayChunk forwards a server chunk under the server → client
// direction's write lock (inject.go).
func (up *upstream) relayChunk(b []byte) error {
	return up.c.forward(decode.Server, b, up.fw)
}

// forwardChunk decodes a server chunk, then forwards it to the client.
func (up *upstream) forwardChunk(b []byte) error {
	c := up.c
	c.decodeServer(b)
	if _, err := c.client.Write(b); err != nil {
		return fmt.Errorf("write to client: %w", err)
	}
	return nil
}
