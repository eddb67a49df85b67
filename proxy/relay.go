package proxy

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/frametap/frametap/decode"
)

// This file is the relay every front shares: the client goroutine's read
// loop, decoding each chunk under the connection's lock before it is
// forwarded, the one place the client goroutine waits for responses, and
// the read deadline that bounds an HTTP client between exchanges.

// Sentinels that end a connection's client loop.
var (
	// errAnswered: frametap answered the client itself (400, 408, 502)
	// and ended the connection; the answer is recorded.
	errAnswered = errors.New("answered by frametap")
	// errSwitched: c.client changed (TLS was put on the client socket);
	// the loop goes on reading the new c.client.
	errSwitched = errors.New("client connection switched to TLS")
	// errIdle: the client kept the connection without a request for
	// --idle-timeout (or never sent one): closed, a normal end.
	errIdle = errors.New("idle connection closed by frametap")
)

// relayClient runs the client → server direction until the client ends,
// then waits for the upstream to finish. It is the client goroutine's loop.
func (c *conn) relayClient() {
	r := newChunkReader(c.client)
	for {
		err := r.read(c.useClient)
		if err == nil {
			continue
		}
		if errors.Is(err, errSwitched) {
			r = newChunkReader(c.client)
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if err = c.expired(); err == nil {
				continue
			}
		}
		if errors.Is(err, errAnswered) {
			return
		}
		c.endClient(err)
		return
	}
}

// relayClientChunk forwards one client chunk through the front, under the
// client → server direction's write lock (inject.go).
func (c *conn) relayClientChunk(b []byte) error {
	return c.forward(decode.Client, b, c.frontChunk)
}

// endClient ends the client direction: the decoder learns that the client
// sent its last byte, the upstream gets the client's FIN (or is closed, on
// an error or an idle close), and the client goroutine waits for the
// upstream's copier.
func (c *conn) endClient(err error) {
	c.mu.Lock()
	if !c.broken {
		c.rec.now = time.Now()
		c.dec.End(decode.Client)
		c.rec.flush()
	}
	c.fail(err)
	switch {
	case errors.Is(err, io.EOF):
		c.pcapEnd(decode.Client)
	case !isNormalEnd(err):
		c.pcapReset(decode.Client, err)
	}
	c.mu.Unlock()
	c.kickInjections() // one waiting for this direction finds it ended
	up := c.up.Load()
	switch {
	case up == nil:
	case errors.Is(err, io.EOF):
		closeWrite(up.conn)
		<-up.done
	default:
		c.retire()
	}
}

// decodeClient decodes client bytes that pass unchanged (a tunnel, a
// WebSocket, reverse mode) and records their events.
func (c *conn) decodeClient(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rec.now = time.Now()
	c.pcapData(decode.Client, b, c.rec.now)
	if c.broken {
		return
	}
	c.bytes[decode.Client] += int64(len(b))
	c.rec.relayed(decode.Client, len(b))
	for len(b) > 0 {
		n, _, _ := c.feedClient(b)
		if n == 0 {
			break
		}
		b = b[n:]
	}
	c.rec.flush()
	c.rec.idle(c.dec.Idle()) // an idle WebSocket holds no payload buffer, nor a scratch event
	c.arm()
}

// relayOpaque decodes client bytes that pass unchanged and forwards them.
func (c *conn) relayOpaque(b []byte) error {
	c.decodeClient(b)
	up := c.up.Load()
	if up == nil {
		return errors.New("client sent bytes with no upstream to take them")
	}
	if _, err := up.conn.Write(b); err != nil {
		return fmt.Errorf("write to server: %w", err)
	}
	return nil
}

// feedClient decodes client bytes up to the next request-head boundary
// (decode.Conn.FeedRequest) and keeps track of a request head being
// received, for the header timeout. Callers hold mu.
func (c *conn) feedClient(b []byte) (n int, head *decode.Request, err error) {
	wasHead := c.dec.AtRequestHead()
	n, head, err = c.dec.FeedRequest(b)
	k := &c.clock
	if n > 0 {
		k.tlsIdle = false
	}
	switch {
	case head != nil || err != nil:
		k.held, k.served = false, true
	case wasHead && n > 0 && !k.held:
		k.held, k.heldSince = true, c.rec.now
		if !k.served {
			k.heldSince = c.accepted // the first head is owed from the start
		}
	}
	return n, head, err
}

// decodeServer decodes a chunk from the server and records its events.
// It is the copier's hot path: one lock, no allocation.
func (c *conn) decodeServer(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rec.now = time.Now()
	c.pcapData(decode.Server, b, c.rec.now)
	if c.broken {
		return
	}
	c.bytes[decode.Server] += int64(len(b))
	c.rec.relayed(decode.Server, len(b))
	c.dec.Feed(decode.Server, b)
	c.rec.flush()
	c.rec.idle(c.dec.Idle())
	c.arm()
	if c.waiting {
		c.settle.Signal() // a response may have completed
	}
}

// endServer tells the decoder that the server sent its last byte, and
// records err unless it is a normal end. It marks up ended in the same
// step: a response framed by the close completes here, and a client
// goroutine that then finds no response due must also find the server gone.
func (c *conn) endServer(up *upstream, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	up.ended = true
	if c.waiting {
		c.settle.Signal()
	}
	if !c.broken {
		c.rec.now = time.Now()
		c.dec.End(decode.Server)
		c.rec.flush()
		c.arm()
	}
	c.fail(err)
	switch {
	case errors.Is(err, io.EOF):
		c.pcapEnd(decode.Server)
	case !isNormalEnd(err):
		c.pcapReset(decode.Server, err)
	}
	c.kickInjections() // one waiting for this direction finds it ended
}

// awaitResponses is where the client goroutine waits for the upstream: it
// returns once at most due requests are without their response, or once
// no response can come any more (no upstream, it ended, the connection is
// closing). It reports whether the server ended the upstream itself
// (gone): frametap passed that end on to the client, so nothing may be
// sent on the client's behalf after it. Responses reach the client in
// request order because the client goroutine then retires the upstream,
// which waits for the copier's last write, before it writes or dials.
func (c *conn) awaitResponses(due int) (gone bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		up := c.up.Load()
		switch {
		case up == nil || c.closed.Load() || c.broken:
			return false
		case up.ended:
			return !up.retired
		case c.dec.Pending() <= due:
			return false
		}
		c.waiting = true
		c.settle.Wait()
		c.waiting = false
	}
}

// answered reports whether the final response to request seq was
// recorded.
func (c *conn) answered(seq int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rec.lastFinal >= seq
}

// recordFailure records an error frametap met itself (a dial, a refusal).
func (c *conn) recordFailure(from string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rec.now = time.Now()
	c.rec.failure(from, err)
	c.rec.flush()
}

// count adds n bytes (negative: takes them back) to what side sent.
func (c *conn) count(side decode.Side, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bytes[side] += int64(n)
	c.rec.relayed(side, n)
}

// clientWait is what the client's read deadline bounds.
type clientWait uint8

const (
	waitNone  clientWait = iota // bytes flow as a stream, or the server's turn: no deadline
	waitSniff                   // the front waits for the first byte (sniffWait)
	waitHead                    // a request head is owed: --header-timeout
	waitIdle                    // nothing is owed: --idle-timeout
)

// deadlineClock is the read deadline frametap keeps on the client socket
// of an HTTP connection, as nginx's client_header_timeout and
// keepalive_timeout and haproxy's timeout http-request and http-keep-alive
// do (RFC 9112 section 9.5 lets a server close an idle connection): the
// first request head is owed within --header-timeout of the accept, a
// later one within --header-timeout of its first byte, and between
// exchanges the client may keep the connection --idle-timeout. There is no
// deadline while a body, a WebSocket or a tunnel's bytes flow, or while
// the server owes a response.
type deadlineClock struct {
	wait      clientWait
	since     time.Time // waitHead: since when the head is owed
	deadline  time.Time
	held      bool      // bytes of a request head came, the head is not complete
	heldSince time.Time //
	served    bool      // a request head completed on this connection
	tlsIdle   bool      // frametap terminated TLS in a tunnel and no request came yet
}

// arm sets the client's read deadline from the connection's state after
// a chunk was decoded. It costs a few comparisons when nothing changed.
// Callers hold mu.
func (c *conn) arm() {
	k := &c.clock
	if k.wait == waitSniff {
		return // the front's own deadline stands until it ends it
	}
	want, since := c.clientWait()
	if want == k.wait && (want != waitHead || since.Equal(k.since)) {
		return
	}
	k.wait, k.since, k.deadline = want, since, time.Time{}
	switch want {
	case waitHead:
		k.deadline = since.Add(c.p.headerTimeout)
	case waitIdle:
		k.deadline = c.rec.now.Add(c.p.idleTimeout)
	}
	c.raw.SetReadDeadline(k.deadline)
}

// clientWait says what the client owes, and since when. Callers hold mu.
func (c *conn) clientWait() (clientWait, time.Time) {
	k := &c.clock
	switch {
	case c.broken:
	case !c.dec.AtRequestHead():
		if k.tlsIdle && c.p.idleTimeout > 0 {
			return waitIdle, time.Time{}
		}
	case k.held:
		if c.p.headerTimeout > 0 {
			return waitHead, k.heldSince
		}
	case c.dec.Pending() > 0:
	case !k.served:
		if c.p.headerTimeout > 0 {
			return waitHead, c.accepted
		}
	case c.p.idleTimeout > 0:
		return waitIdle, time.Time{}
	}
	return waitNone, time.Time{}
}

// sniffFor arms the front's wait for the first client byte: if none comes
// within d, expired runs on the client goroutine.
func (c *conn) sniffFor(d time.Duration, expired func() error) {
	c.sniff = expired
	c.mu.Lock()
	defer c.mu.Unlock()
	k := &c.clock
	k.wait, k.deadline = waitSniff, time.Now().Add(d)
	c.raw.SetReadDeadline(k.deadline)
}

// endSniff ends the front's wait for the first client byte; the next
// chunk decoded sets the deadline from the HTTP state.
func (c *conn) endSniff() {
	c.sniff = nil
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clock.wait, c.clock.deadline = waitNone, time.Time{}
	c.raw.SetReadDeadline(time.Time{})
}

// expired acts on a client read that hit its deadline: the front's sniff
// ends, a connection idle too long is closed quietly, one owing a request
// head too long is answered 408. It returns nil when reading goes on.
func (c *conn) expired() error {
	if c.sniff != nil {
		f := c.sniff
		c.endSniff()
		return f()
	}
	c.mu.Lock()
	k := c.clock
	held, pending := k.held, c.dec.Pending()
	if k.wait == waitNone {
		c.raw.SetReadDeadline(time.Time{})
	}
	c.mu.Unlock()
	if k.wait == waitNone || time.Now().Before(k.deadline) {
		return nil // re-armed since it fired
	}
	if k.wait == waitIdle || !held {
		return errIdle // nothing of a request came: a browser's preconnect does this
	}
	why := fmt.Sprintf("no complete request head within %v (--header-timeout)", c.p.headerTimeout)
	if pending > 0 {
		// Responses are still due: a 408 cannot be put in its turn.
		c.mu.Lock()
		c.rec.cut = why + ", frametap closed the connection: "
		c.mu.Unlock()
		return errors.New(why)
	}
	return c.answerTimeout(why)
}
