package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"github.com/frametap/frametap/decode"
)

// upstream is one dialed server connection and the goroutine that copies
// what the server sends to the client.
type upstream struct {
	c    *conn
	conn net.Conn // what the relay reads and writes: raw, or a TLS session on it
	raw  net.Conn // the socket, closed to end the upstream at once
	addr string
	done chan struct{} // closed when copyToClient returns
	// retired is set when frametap closes this upstream to route the next
	// request elsewhere: its end is then frametap's doing, not the server's.
	retired atomic.Bool
	ended   bool // guarded by c.mu: copyToClient returned
	use     func([]byte) error
}

// dial connects to a host:port upstream within the proxy's dial timeout;
// Shutdown cancels it.
func (c *conn) dial(addr string) (net.Conn, error) {
	if re := c.p.cfg.AllowUpstream; re != nil && !re.MatchString(addr) {
		return nil, fmt.Errorf("upstream %s is not allowed by --allow-upstream %q: not dialed", addr, re)
	}
	ctx, cancel := context.WithTimeout(c.p.ctx, c.p.cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot reach upstream %s: %w", addr, err)
	}
	return nc, nil
}

// attach makes nc the connection's upstream and starts copying its bytes to
// the client.
func (c *conn) attach(nc net.Conn, addr string) *upstream {
	up := &upstream{c: c, conn: nc, raw: nc, addr: addr, done: make(chan struct{})}
	if tc, ok := nc.(*tls.Conn); ok {
		up.raw = tc.NetConn()
	}
	up.use = up.relayChunk
	c.mu.Lock()
	c.upstream = up
	c.server = addr
	c.mu.Unlock()
	c.up.Store(up)
	if c.closed.Load() { // Shutdown ran while we dialed: abort may not have seen this socket
		nc.Close()
	}
	go up.copyToClient()
	return up
}

// retire closes the current upstream because the next request goes to
// another host; it returns once that upstream's copier has stopped.
func (c *conn) retire() {
	up := c.upstream
	if up == nil {
		return
	}
	up.retired.Store(true)
	up.raw.Close()
	<-up.done
	c.mu.Lock()
	c.upstream = nil
	c.server = ""
	c.mu.Unlock()
	c.up.Store(nil)
}

// copyToClient relays server → client until the server ends. It is the
// second goroutine of a connection (named, so stack traces say what it is).
func (up *upstream) copyToClient() {
	c := up.c
	defer func() {
		c.mu.Lock()
		up.ended = true
		c.changed.Broadcast()
		c.mu.Unlock()
		close(up.done)
	}()
	r := newChunkReader(up.conn)
	for {
		err := r.read(up.use)
		if err == nil {
			continue
		}
		if up.retired.Load() {
			return
		}
		c.endSide(decode.Server)
		if errors.Is(err, io.EOF) {
			// Pass the server's FIN on: the client sees exactly what the
			// server did, and a response framed by close completes.
			closeWrite(c.client)
			return
		}
		c.mu.Lock()
		c.fail(err)
		c.mu.Unlock()
		c.raw.Close() // unblock the client goroutine: the connection is over
		return
	}
}

func (up *upstream) relayChunk(b []byte) error {
	c := up.c
	c.decodeChunk(decode.Server, b)
	_, err := c.client.Write(b)
	if c.p.cfg.Mode == Regular {
		// The client goroutine may be waiting for this response to be
		// out before it answers or reroutes (forwarder.drain): wake it,
		// taking the lock only then. drain sets draining before it reads
		// writing, and this clears writing before it reads draining, so
		// one of the two always sees the other.
		c.writing.Store(false)
		if c.draining.Load() {
			c.mu.Lock()
			c.changed.Broadcast()
			c.mu.Unlock()
		}
	}
	if err != nil {
		return fmt.Errorf("write to client: %w", err)
	}
	return nil
}

// serveReverse relays the client to the fixed upstream, both ways, decoding
// everything and changing nothing. With a CA it first sniffs the client's
// first byte: TLS is terminated (a certificate for the SNI, else the
// upstream's host), anything else is relayed as it comes.
func (c *conn) serveReverse() {
	p := c.p
	rv := &reverser{c: c}
	tg := tlsTarget{addr: p.upAddr, host: hostOnly(p.upAddr), tls: p.upTLS, serverName: hostOnly(p.upAddr)}
	if p.cfg.CA == nil {
		if err := rv.connect(tg, nil); err != nil {
			return
		}
	} else {
		rv.pending = &tg
		c.raw.SetReadDeadline(time.Now().Add(sniffWait))
		c.sniffExpired = func() error {
			tg := *rv.pending
			rv.pending = nil
			return rv.connect(tg, nil)
		}
	}
	c.copyFromClient(newChunkReader(c.client), rv.chunk)
}

// reverser is the client → server direction of a reverse-mode connection.
type reverser struct {
	c       *conn
	pending *tlsTarget // the first client byte decides whether TLS is intercepted
}

func (rv *reverser) chunk(b []byte) error {
	c := rv.c
	if rv.pending != nil {
		tg := *rv.pending
		rv.pending = nil
		c.sniffExpired = nil
		c.raw.SetReadDeadline(time.Time{})
		if b[0] == tlsRecordHandshake {
			return c.intercept(b, tg)
		}
		if err := rv.connect(tg, b); err != nil {
			return err
		}
	}
	c.decodeChunk(decode.Client, b)
	if _, err := c.upstream.conn.Write(b); err != nil {
		return fmt.Errorf("write to server: %w", err)
	}
	return nil
}

// connect dials the upstream (with TLS when tg.tls) and attaches it. If it
// cannot, the client gets a 502 (first holds client bytes read already)
// and connect returns errAnswered.
func (rv *reverser) connect(tg tlsTarget, first []byte) error {
	c := rv.c
	nc, err := c.connectUpstream(c.p.ctx, tg, "")
	if err != nil {
		if len(first) > 0 {
			c.mu.Lock()
			c.client = &prefixConn{Conn: c.client, prefix: bytes.Clone(first)}
			c.mu.Unlock()
		}
		c.refuse(err)
		return errAnswered
	}
	c.attach(nc, tg.addr)
	return nil
}

// copyFromClient runs the client → server direction until the client ends,
// then waits for the upstream to finish.
func (c *conn) copyFromClient(r *chunkReader, use func([]byte) error) {
	for {
		err := r.read(use)
		if err == nil {
			continue
		}
		if errors.Is(err, errAnswered) {
			return
		}
		if errors.Is(err, errSwitched) {
			r = newChunkReader(c.client)
			continue
		}
		if c.sniffExpired != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			expired := c.sniffExpired
			c.sniffExpired = nil
			c.raw.SetReadDeadline(time.Time{})
			if err = expired(); err == nil {
				continue
			}
			if errors.Is(err, errAnswered) {
				return
			}
		}
		c.endSide(decode.Client)
		c.mu.Lock()
		up := c.upstream
		c.fail(err)
		c.mu.Unlock()
		if up == nil {
			return
		}
		if errors.Is(err, io.EOF) {
			closeWrite(up.conn)
		} else {
			up.conn.Close()
		}
		<-up.done
		return
	}
}

// refuse answers a client whose upstream cannot be dialed in reverse mode:
// it reads the request (so the 502 pairs with it in the capture), then
// answers 502 with the reason and closes.
func (c *conn) refuse(dialErr error) {
	c.mu.Lock()
	c.errorEvent("server", dialErr)
	c.flush()
	c.mu.Unlock()

	c.client.SetReadDeadline(time.Now().Add(5 * time.Second))
	r := newChunkReader(c.client)
	gotHead := false
	for !gotHead {
		err := r.read(func(b []byte) error {
			for len(b) > 0 && !gotHead {
				c.mu.Lock()
				c.now = time.Now()
				n, head, perr := c.dec.FeedRequest(b)
				c.bytes[decode.Client] += int64(n)
				c.flush()
				c.mu.Unlock()
				if perr != nil || n == 0 {
					return errAnswered
				}
				gotHead = head != nil
				b = b[n:]
			}
			return nil
		})
		if err != nil {
			break
		}
	}
	c.answer(502, "Bad Gateway", dialErr.Error(), gotHead)
}

// errAnswered ends a connection that frametap answered itself (400, 502).
var errAnswered = errors.New("answered by frametap")

// answer writes frametap's own response and ends the connection: the
// response says Connection: close. When record is set the response is fed
// to the decoder as server bytes, so it pairs with the request it answers.
func (c *conn) answer(status int, text, reason string, record bool) error {
	body := "frametap: " + reason + "\n"
	resp := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, text, len(body), body)
	c.mu.Lock()
	if record {
		c.now = time.Now()
		c.dec.Feed(decode.Server, []byte(resp))
		c.flush()
	}
	c.mu.Unlock()
	c.client.SetWriteDeadline(time.Now().Add(5 * time.Second))
	c.client.Write([]byte(resp))
	lingerClose(c.client)
	return errAnswered
}

// lingerClose half-closes nc and reads what the client still sends for a
// moment, so that closing does not reset the connection before the client
// has read frametap's answer.
func lingerClose(nc net.Conn) {
	closeWrite(nc)
	nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	io.Copy(io.Discard, io.LimitReader(nc, 1<<20))
}

// closeWrite half-closes a connection where the transport allows it, and
// closes it otherwise.
func closeWrite(nc net.Conn) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	nc.Close()
}
