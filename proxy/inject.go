package proxy

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/frametap/frametap/decode"
)

// This file writes WebSocket messages of frametap's own into a live
// connection (issue 14: inject). The rules it keeps:
//
//   - One writer per direction. Each direction of a connection has a write
//     lock (direction.wmu), a lock of that connection and direction only:
//     the goroutine that relays the direction (the client goroutine for
//     client → server, the upstream's copier for server → client) holds it
//     while it decodes and forwards one chunk, and an injection holds it
//     while it is decoded and written. Relayed bytes and injected frames
//     never interleave on the wire.
//   - Only at a message boundary: never inside a frame nor between the
//     frames of a fragmented message (RFC 6455 section 5.4). The decoder
//     knows where the direction is (decode.Conn.AtMessageBoundary).
//   - An injection waiting for the end of a message is handed to the
//     relaying goroutine (direction.pending): on its next chunk it forwards
//     up to the boundary (decode.Conn.NextMessageBoundary), writes the
//     injection, and forwards the rest. A direction that is idle is written
//     by the caller of Inject itself, once it holds the write lock. The
//     relay checks for a pending injection with one atomic load per chunk,
//     and allocates nothing for it.
//   - Injected frames are decoded like relayed ones, before they are
//     written, so they are in the capture in wire order, marked injected.

// InjectOp is the kind of message Inject writes.
type InjectOp uint8

const (
	InjectText   InjectOp = iota + 1 // a text message (UTF-8)
	InjectBinary                     // a binary message
	InjectPing                       // a ping control frame
	InjectPong                       // an unsolicited pong (RFC 6455 section 5.5.3: a heartbeat)
	InjectClose                      // a close control frame, starting the closing handshake
)

var injectOpNames = [...]string{InjectText: "text", InjectBinary: "binary", InjectPing: "ping", InjectPong: "pong", InjectClose: "close"}
var injectOpcodes = [...]byte{InjectText: 1, InjectBinary: 2, InjectPing: 9, InjectPong: 10, InjectClose: 8}

func (op InjectOp) String() string {
	if op.valid() {
		return injectOpNames[op]
	}
	return fmt.Sprintf("InjectOp(%d)", uint8(op))
}

func (op InjectOp) valid() bool   { return op >= InjectText && op <= InjectClose }
func (op InjectOp) control() bool { return op >= InjectPing }

// ParseInjectOp reads an InjectOp by its name: text, binary, ping, pong or
// close.
func ParseInjectOp(s string) (InjectOp, error) {
	for op, name := range injectOpNames {
		if name != "" && name == s {
			return InjectOp(op), nil
		}
	}
	return 0, fmt.Errorf("inject: unknown message type %q; want text, binary, ping, pong or close", s)
}

// Injection is one WebSocket message for Inject to write.
type Injection struct {
	Op InjectOp
	// Payload of text, binary, ping and pong messages; text must be UTF-8
	// (RFC 6455 section 5.6), a ping's or pong's at most 125 bytes.
	Payload []byte
	// CloseCode and CloseReason make a close frame's body (RFC 6455
	// section 5.5.1). CloseCode 0 sends a close frame without a body (then
	// CloseReason must be empty).
	CloseCode   int
	CloseReason string
	// OnWait, if set, is called once, from Inject's goroutine, when the
	// message has to wait for the end of one under way (to tell a user
	// why nothing happens yet).
	OnWait func()
}

// MaxInjectPayload bounds the payload of one injected message.
const MaxInjectPayload = 16 << 20

// Errors of Inject. Each is wrapped with what was asked; test with
// errors.Is.
var (
	// ErrInjectInvalid: the message breaks a rule of RFC 6455 (a close
	// code that may not be sent, a control payload over 125 bytes, text
	// that is not UTF-8). Nothing was sent.
	ErrInjectInvalid = errors.New("inject: invalid message")
	// ErrNoConnection: no open connection has that number. Nothing was
	// sent.
	ErrNoConnection = errors.New("inject: no such open connection")
	// ErrNotWebSocket: the connection does not carry a WebSocket over
	// HTTP/1.1 (yet, or any more: that direction ended). WebSocket over
	// HTTP/2 streams (RFC 8441) is refused too. Nothing was sent.
	ErrNotWebSocket = errors.New("inject: not a WebSocket over HTTP/1.1")
	// ErrAfterClose: that direction sent its close frame already; RFC
	// 6455 section 5.5.1 forbids data frames after it (and a second close
	// means nothing). Nothing was sent.
	ErrAfterClose = errors.New("inject: that direction already sent its close frame")
	// ErrConnectionClosed: the connection ended while the message waited
	// for the end of the message under way. Nothing was sent.
	ErrConnectionClosed = errors.New("inject: the connection closed before the message could be written")
)

// direction is the inject state of one direction of a connection.
type direction struct {
	wmu     sync.Mutex                // the direction's write lock (see the file comment)
	pending atomic.Pointer[injection] // an injection waiting for a message boundary
	turn    chan struct{}             // one Inject at a time on a direction (a token, taken lazily); later ones wait their turn, or their ctx
	once    sync.Once
}

// take waits for the direction's turn, or for ctx.
func (d *direction) take(ctx context.Context) error {
	d.once.Do(func() { d.turn = make(chan struct{}, 1) })
	select {
	case d.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("inject: waited for an earlier injection on that direction: %w; nothing was sent", ctx.Err())
	}
}

// injection is an Inject call in progress: its frame, ready to write.
type injection struct {
	frame  []byte
	op     InjectOp
	onWait func()
	done   chan error    // buffered: the outcome, once it was written or refused
	kick   chan struct{} // buffered: the direction may have reached a boundary
}

// frame validates m and returns it as one frame (FIN set, RSV clear),
// masked with a fresh random key when it goes to the server.
func (m Injection) frame(to decode.Side) ([]byte, error) {
	if !m.Op.valid() {
		return nil, fmt.Errorf("%w: unknown type %v", ErrInjectInvalid, m.Op)
	}
	payload := m.Payload
	switch m.Op {
	case InjectText:
		if !utf8.Valid(payload) {
			return nil, fmt.Errorf("%w: a text message must be UTF-8 (RFC 6455 section 5.6); send it as binary", ErrInjectInvalid)
		}
	case InjectClose:
		if len(payload) > 0 {
			return nil, fmt.Errorf("%w: a close message takes a code and a reason, not a payload", ErrInjectInvalid)
		}
		if err := checkCloseCode(m.CloseCode, m.CloseReason); err != nil {
			return nil, err
		}
		if m.CloseCode != 0 {
			payload = binary.BigEndian.AppendUint16(nil, uint16(m.CloseCode))
			payload = append(payload, m.CloseReason...)
		}
	}
	if m.Op.control() && len(payload) > 125 {
		return nil, fmt.Errorf("%w: a %v frame carries at most 125 bytes (RFC 6455 section 5.5), this one %d", ErrInjectInvalid, m.Op, len(payload))
	}
	if len(payload) > MaxInjectPayload {
		return nil, fmt.Errorf("%w: payload of %d bytes, more than the %d frametap injects", ErrInjectInvalid, len(payload), MaxInjectPayload)
	}
	masked := to == decode.Server
	n := len(payload)
	b := make([]byte, 0, 14+n)
	b = append(b, 0x80|injectOpcodes[m.Op]) // FIN, RSV1-3 clear: not compressed (RFC 7692 section 6)
	var mbit byte
	if masked {
		mbit = 0x80
	}
	switch {
	case n <= 125:
		b = append(b, mbit|byte(n))
	case n <= 0xffff:
		b = append(b, mbit|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, mbit|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, payload...), nil
	}
	// RFC 6455 section 5.3: "The masking key is a 32-bit value chosen at
	// random by the client ... derived from a strong source of entropy".
	var key [4]byte
	rand.Read(key[:])
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, payload...)
	for i := range b[start:] {
		b[start+i] ^= key[i&3]
	}
	return b, nil
}

// checkCloseCode applies RFC 6455 section 7.4 to a close code an endpoint
// sends: 1000-1003 and 1007-1011 are defined, 1012-1014 registered since
// with IANA, 3000-3999 are for libraries and frameworks, 4000-4999 for
// applications; 1004-1006 and 1015 "MUST NOT be set as a status code in a
// Close control frame by an endpoint", the rest of 1000-2999 is reserved,
// and below 1000 or from 5000 on nothing may be sent.
func checkCloseCode(code int, reason string) error {
	switch {
	case code == 0 && reason != "":
		return fmt.Errorf("%w: a close reason needs a code (RFC 6455 section 5.5.1: the body starts with the code)", ErrInjectInvalid)
	case code == 0:
		return nil
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014, code >= 3000 && code <= 4999:
	case code == 1004 || code == 1005 || code == 1006 || code == 1015:
		return fmt.Errorf("%w: close code %d is reserved and must never be sent in a close frame (RFC 6455 section 7.4.1); send 1000-1003, 1007-1014, 3000-4999, or none", ErrInjectInvalid, code)
	default:
		return fmt.Errorf("%w: close code %d may not be sent: RFC 6455 section 7.4 allows 1000-1003, 1007-1014 (defined and registered), 3000-3999 (libraries) and 4000-4999 (applications), or none", ErrInjectInvalid, code)
	}
	if !utf8.ValidString(reason) {
		return fmt.Errorf("%w: a close reason must be UTF-8 (RFC 6455 section 5.5.1)", ErrInjectInvalid)
	}
	return nil
}

// lookup returns the open connection numbered id.
func (p *Proxy) lookup(id uint64) *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		if c.id == id {
			return c
		}
	}
	return nil
}

// Injectable reports whether Inject could write a message to side to of
// connection id now: nil when the connection is open and carries a
// WebSocket over HTTP/1.1 whose direction toward to is open, else the
// error Inject would return (ErrNoConnection, ErrNotWebSocket,
// ErrAfterClose). It is for a user interface deciding what to offer.
func (p *Proxy) Injectable(id uint64, to decode.Side) error {
	c := p.lookup(id)
	if c == nil {
		return fmt.Errorf("%w: %d", ErrNoConnection, id)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.injectableLocked(to.Other(), 0)
}

// Inject writes m into connection id toward side to (decode.Server: as if
// the client had sent it; decode.Client: as if the server had), at the
// next message boundary of that direction, and returns once it is
// written: masked with a fresh random key toward the server, unmasked
// toward the client, FIN set and RSV1-3 clear, so that a negotiated
// permessage-deflate context is not disturbed (see
// docs/capture-format.md, "Injected messages"). It is recorded like any
// frame and message, with "injected": true.
//
// While the direction is inside a frame or a fragmented message, Inject
// waits for its end, or for ctx (then nothing is sent). Injections on one
// direction are written one at a time, in the order of their calls. Only
// WebSockets over HTTP/1.1 take injections. Errors are ErrInjectInvalid,
// ErrNoConnection, ErrNotWebSocket, ErrAfterClose, ErrConnectionClosed,
// ctx's error (nothing sent in each case), or a write error.
//
// Inject is safe for concurrent use.
func (p *Proxy) Inject(ctx context.Context, id uint64, to decode.Side, m Injection) error {
	frame, err := m.frame(to)
	if err != nil {
		return err
	}
	c := p.lookup(id)
	if c == nil {
		return fmt.Errorf("%w: %d", ErrNoConnection, id)
	}
	return c.inject(ctx, to.Other(), &injection{frame: frame, op: m.Op, onWait: m.OnWait, done: make(chan error, 1), kick: make(chan struct{}, 1)})
}

// injectableLocked says why a message of op could not be injected into the
// direction from now, or nil. Callers hold c.mu.
func (c *conn) injectableLocked(from decode.Side, op InjectOp) error {
	switch {
	case c.over || c.broken || c.closed.Load():
		return fmt.Errorf("%w: connection %d", ErrConnectionClosed, c.id)
	case !c.dec.WebSocket(from):
		return fmt.Errorf("%w: connection %d (its %s side does not carry WebSocket frames now; WebSocket over HTTP/2 streams is not supported)", ErrNotWebSocket, c.id, from)
	case c.dec.CloseSent(from) && op != InjectPing && op != InjectPong:
		return fmt.Errorf("%w: connection %d, the %s sent its close", ErrAfterClose, c.id, from)
	case from == decode.Client && c.up.Load() == nil:
		return fmt.Errorf("%w: connection %d has no server connection", ErrConnectionClosed, c.id)
	}
	return nil
}

// inject runs one Inject on the direction from (whose stream the frame
// joins): it offers the injection to the relay and writes it itself when
// the direction is idle at a boundary.
func (c *conn) inject(ctx context.Context, from decode.Side, in *injection) error {
	c.mu.Lock()
	err := c.injectableLocked(from, in.op)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	d := &c.dirs[from]
	if err := d.take(ctx); err != nil {
		return err
	}
	defer func() { <-d.turn }()
	d.pending.Store(in)
	for {
		if d.wmu.TryLock() {
			if d.pending.Load() == in {
				c.injectAt(from, in)
			}
			d.wmu.Unlock()
		}
		if in.onWait != nil {
			select {
			case err := <-in.done:
				return err
			default:
				in.onWait()
				in.onWait = nil
			}
		}
		select {
		case err := <-in.done:
			return err
		case <-in.kick:
		case <-ctx.Done():
			if d.pending.CompareAndSwap(in, nil) {
				return fmt.Errorf("inject: waited for the end of the %s's message under way: %w; nothing was sent", from, ctx.Err())
			}
			return <-in.done // taken by the relay: it is being written
		}
	}
}

// injectAt writes in if the direction is at a message boundary, and
// reports whether it is done with it (written, or refused because the
// connection can no longer take it). Callers hold the direction's wmu.
func (c *conn) injectAt(from decode.Side, in *injection) bool {
	d := &c.dirs[from]
	c.mu.Lock()
	if err := c.injectableLocked(from, in.op); err != nil {
		c.mu.Unlock()
		if d.pending.CompareAndSwap(in, nil) {
			in.done <- err
		}
		return true
	}
	if !c.dec.AtMessageBoundary(from) {
		c.mu.Unlock()
		return false
	}
	if !d.pending.CompareAndSwap(in, nil) {
		c.mu.Unlock()
		return true // its Inject gave up
	}
	var w io.Writer = c.client
	if from == decode.Client {
		w = c.up.Load().conn
	}
	c.rec.now = time.Now()
	c.rec.injected = true
	c.dec.Feed(from, in.frame)
	c.rec.injected = false
	c.rec.flush()
	c.mu.Unlock()
	if _, err := w.Write(in.frame); err != nil {
		in.done <- fmt.Errorf("inject: writing to the %s: %w", from.Other(), err)
		return true
	}
	in.done <- nil
	return true
}

// forward decodes and forwards a chunk of the direction from with fw,
// holding the direction's write lock; when an injection waits, it is
// written at the first message boundary in the chunk. It is the relay's
// path for every chunk: one lock of this direction, one atomic load, no
// allocation.
func (c *conn) forward(from decode.Side, b []byte, fw func([]byte) error) error {
	d := &c.dirs[from]
	d.wmu.Lock()
	var err error
	if d.pending.Load() == nil {
		err = fw(b)
	} else {
		err = c.forwardInjecting(from, b, fw)
	}
	d.wmu.Unlock()
	if in := d.pending.Load(); in != nil {
		// Its Inject may have found the lock held: the direction may be
		// idle at a boundary now.
		select {
		case in.kick <- struct{}{}:
		default:
		}
	}
	return err
}

// forwardInjecting is forward with an injection waiting: b is forwarded up
// to the next message boundary, the injection written there, and the rest
// forwarded. Callers hold the direction's wmu.
func (c *conn) forwardInjecting(from decode.Side, b []byte, fw func([]byte) error) error {
	d := &c.dirs[from]
	for len(b) > 0 {
		in := d.pending.Load()
		if in == nil {
			return fw(b)
		}
		c.mu.Lock()
		n, ok := c.dec.NextMessageBoundary(from, b)
		c.mu.Unlock()
		if !ok {
			return fw(b)
		}
		if n > 0 {
			if err := fw(b[:n]); err != nil {
				return err
			}
			b = b[n:]
		}
		if !c.injectAt(from, in) {
			return fw(b) // the bytes did not reach the boundary (a front held some): the next chunk will
		}
	}
	return nil
}

// kickInjections wakes the injections waiting on the connection, once it
// ended: they find it closed and return.
func (c *conn) kickInjections() {
	for i := range c.dirs {
		if in := c.dirs[i].pending.Load(); in != nil {
			select {
			case in.kick <- struct{}{}:
			default:
			}
		}
	}
}
