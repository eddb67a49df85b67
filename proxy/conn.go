package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frametap/frametap/capture/pcapng"
	"github.com/frametap/frametap/decode"
)

// errShutdown ends connections that were open when the proxy shut down.
var errShutdown = errors.New("frametap shut down")

// front is how a connection finds its upstream and what it does with the
// client's bytes before the shared relay forwards them. Regular mode's
// forwarder routes each request to the host it names and opens CONNECT
// tunnels (upstream mode's too: its dials go through the upstream proxy,
// see conn.dial); reverse mode's reverser has one fixed upstream; the
// SOCKS5 front reads the destination from the client's handshake and the
// transparent one from the socket, and both then relay a tunnel as the
// forwarder does after a CONNECT (tunnel.go).
//
// A front's methods run on the connection's client goroutine, which owns
// the front and everything it holds.
type front interface {
	// start runs before the first client byte is read: dial, or arm a
	// sniff (conn.sniffFor). An error ends the connection (errAnswered
	// when frametap answered the client already).
	start() error
	// clientChunk takes bytes the client sent, valid only during the call.
	clientChunk(b []byte) error
	// release closes what the front still holds (an upstream dialed and
	// parked, never relayed). It runs on every exit of the connection.
	release()
}

// conn is one client connection: its sockets, its decoder and recorder,
// and the goroutines that relay it.
//
// Two goroutines run a connection: the client goroutine (serve), which
// reads the client, runs the front and owns the lifecycle; and, while an
// upstream is attached, that upstream's copier (upstream.copyToClient),
// which reads the server and writes to the client. The rules between them:
//
//   - Everything decoding and recording touches is guarded by mu, a lock
//     of this connection only: each chunk is decoded and its events
//     flushed under mu before it is forwarded, which keeps a connection's
//     events in wire order (a request is recorded before the server can
//     see it, so before its response).
//   - The client goroutine waits for the copier in one place,
//     awaitResponses, on one predicate under mu: how many responses are
//     due, and whether the upstream ended. The copier signals settle when
//     either may have changed.
//   - Only the client goroutine changes the upstream (attach, retire) and
//     client; it retires an upstream, waiting for its copier to finish,
//     before it writes to the client itself or dials another.
//   - abort (Shutdown) takes no lock of the connection: it closes the
//     sockets, which ends every wait on the network; closed and up are
//     atomic for it.
type conn struct {
	p        *Proxy
	in       *ingress // the listener it came in on, and its mode
	id       uint64
	raw      net.Conn  // the accepted socket
	accepted time.Time // when raw was accepted

	// Owned by the client goroutine. client is read by the copier too: it
	// changes only while no copier runs.
	client net.Conn // raw, or a TLS session on it once frametap terminated the client's TLS
	front  front
	sniff  func() error // set while the front waits for the first client byte; runs if none came in time

	mu      sync.Mutex
	settle  sync.Cond      // on mu: signalled when a response completed or the upstream ended, while the client goroutine waits
	dec     *decode.Conn   // guarded by mu
	rec     recorder       // guarded by mu; the decoder's Handler
	bytes   [2]int64       // guarded by mu; indexed by decode.Side
	err     error          // guarded by mu; the first error that ended the connection abnormally
	waiting bool           // guarded by mu; the client goroutine waits on settle
	broken  bool           // guarded by mu; a goroutine of this connection panicked: the decoder is not fed again
	clock   deadlineClock  // guarded by mu; the client's read deadline
	pcap    *pcapng.Stream // used under mu; nil without Config.Pcap (pcap.go)

	// Owned by the client goroutine: the bytes of the request head being
	// routed, while --pcap is on, for pcapLocal when frametap answers it
	// itself (a CONNECT, a refusal); a forwarded head is written as sent.
	pcapHead []byte

	// Written by the client goroutine; read by anyone, abort included.
	up     atomic.Pointer[upstream] // the upstream being relayed, if any
	closed atomic.Bool              // abort was called

	// Issue 14: inject (inject.go).
	dirs       [2]direction       // indexed by the decode.Side whose bytes go that way
	over       bool               // guarded by mu; finish ran: nothing more is written
	useClient  func([]byte) error // relayClientChunk, bound once: no allocation per chunk
	frontChunk func([]byte) error // front.clientChunk, bound once
}

func newConn(p *Proxy, in *ingress, nc net.Conn) *conn {
	c := &conn{p: p, in: in, id: p.nextID.Add(1), raw: nc, client: nc, accepted: time.Now()}
	c.settle.L = &c.mu
	c.rec = newRecorder(c.id, p.cfg.Outputs, p.warnOutput, &c.closed)
	c.rec.routing = in.mode == Regular || in.mode == UpstreamProxy
	c.rec.listen, c.rec.openClient, c.rec.openMode = in.listen, nc.RemoteAddr().String(), in.mode.String()
	c.rec.openAt, c.rec.pendingOpen = c.accepted, true
	c.rec.setupProgress(p.maxBody(), p.cfg.DecodeBodies)
	c.rec.setupPush(p.cfg.LongPoll)                        // issue 10
	c.rec.setupEIO(p.eio, p.cfg.SocketIOPath, p.maxBody()) // issue 10, Socket.IO
	c.dec = decode.NewConn(p.cfg.Decode, &c.rec)
	if p.cfg.Pcap != nil {
		c.pcap = p.cfg.Pcap.Stream()
	}
	switch in.mode {
	case Reverse:
		c.dec.SniffH2() // HTTP/2 with prior knowledge (h2c)
		c.front = newReverser(c)
	case SOCKS5:
		c.dec.SniffH2() // a tunnel: it may carry h2c, as a CONNECT tunnel may
		c.front = newSOCKSFront(c)
	case Transparent:
		c.dec.SniffH2()
		c.front = newTransparent(c)
	default:
		c.front = newForwarder(c)
	}
	c.frontChunk = c.front.clientChunk
	c.useClient = c.relayClientChunk
	return c
}

// serve runs the connection to its end and records it. It is the client
// goroutine.
func (c *conn) serve() {
	defer c.p.unregister(c)
	defer c.finish()
	defer c.front.release()
	defer c.recoverPanic("client")
	if c.in.mode != SOCKS5 && c.in.mode != Transparent {
		c.recordOpen() // those two open once they know the destination: their start does
	}
	if err := c.front.start(); err != nil {
		c.mu.Lock()
		c.fail(err)
		c.mu.Unlock()
		return
	}
	c.relayClient()
}

// recordOpen writes the open event. It is a function of its own so that its
// frame is not part of serve's, which stays on the stack for the life of the
// connection.
//
//go:noinline
func (c *conn) recordOpen() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.in.mode == Reverse {
		c.rec.server = c.in.upAddr
	}
	c.rec.now = c.accepted
	c.rec.openNow()
	c.rec.flush()
	c.arm()
}

// finish closes both sides and writes the close event, the last of the
// connection.
func (c *conn) finish() {
	defer func() {
		if v := recover(); v != nil { // recording after a panic may panic again
			c.p.log.Error("panic while closing a connection", "conn", c.id, "panic", v, "stack", string(debug.Stack()))
		}
	}()
	c.raw.Close() // not a TLS Close: its close_notify may wait on a client that does not read
	if up := c.up.Load(); up != nil {
		up.raw.Close()
		<-up.done
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	defer c.rec.close()
	c.over = true
	defer c.kickInjections()
	if c.closed.Load() {
		c.fail(errShutdown) // unless something else ended it first
	}
	var hs *decode.CloseHandshake
	var h2 *decode.H2Stats
	if !c.broken {
		if h, ok := c.dec.CloseHandshake(); ok {
			hs = &h
		}
		if st, ok := c.dec.H2Stats(); ok {
			h2 = &st
		}
	}
	c.rec.now = time.Now()
	c.rec.end(c.bytes, c.err, hs, h2)
	c.rec.flush()
	if c.err != nil {
		c.pcapReset(decode.Client, c.err)
	}
	c.pcapClose()
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
}

// fail records the first abnormal end of the connection. Callers hold mu.
func (c *conn) fail(err error) {
	if c.err == nil && err != nil && !isNormalEnd(err) {
		c.err = err
	}
}

// isNormalEnd tells the ordinary ends of a stream from errors: EOF, reads
// on a socket this connection closed itself, frametap's own answer, and an
// idle connection closed.
func isNormalEnd(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, errAnswered) || errors.Is(err, errIdle)
}

// recoverPanic, deferred by each goroutine of the connection, turns a
// panic into the end of this connection alone: it logs the stack, records
// an error event, and closes both sockets so that the other goroutine ends
// too. Every lock of the connection is released by a defer, so a panic
// never leaves mu held.
func (c *conn) recoverPanic(goroutine string) {
	v := recover()
	if v == nil {
		return
	}
	c.p.log.Error("panic in a connection: closing it", "conn", c.id, "goroutine", goroutine, "panic", v, "stack", string(debug.Stack()))
	err := fmt.Errorf("frametap bug: panic in the %s goroutine: %v; the connection was closed and the stack logged", goroutine, v)
	func() {
		defer func() { recover() }() // the output that panicked may panic again: finish logs it
		c.mu.Lock()
		defer c.mu.Unlock()
		c.broken = true
		c.fail(err)
		c.rec.clearEvent() // whatever was half built
		c.rec.now = time.Now()
		c.rec.failure("", err)
		c.rec.flush()
	}()
	c.raw.Close()
	if up := c.up.Load(); up != nil {
		up.raw.Close()
	}
}
