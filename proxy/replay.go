package proxy

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/decode"
)

// ReplayConfig configures Replay. Events and Conn are required.
type ReplayConfig struct {
	// Events is a capture (as capture.ReadFile returns it); Conn the
	// connection of it to replay.
	Events []capture.Event
	Conn   uint64
	// To, if set, is where to send instead of the original server: a URL
	// http://, https://, ws:// or wss://host:port. Host headers are then
	// sent as its host:port.
	To string
	// Speed scales the original spacing of requests and messages: 1 keeps
	// it, 2 halves it; 0 (or less) sends each as soon as the one before
	// allows (a request waits for the response before it, a message for
	// the upgrade).
	Speed float64
	// Outputs receive the events of the new connection, decoded and
	// recorded as a live one is (mode "replay").
	Outputs []capture.Output
	// Decode bounds what the decoder keeps.
	Decode decode.Config
	// UpstreamRoots verifies a TLS server's certificate; if nil, the
	// system's roots. Insecure skips the check (the tls event still says
	// whether it passed).
	UpstreamRoots *x509.CertPool
	Insecure      bool
	// DialContext connects to the server. If nil, a net.Dialer's is used.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Wait bounds each wait on the server: the dial, the TLS handshake, a
	// response, the server's answer to the close. If zero, 30 seconds.
	Wait time.Duration
	// Logger reports a failing output. If nil, slog.Default().
	Logger *slog.Logger
}

// ReplayResult says what a Replay did.
type ReplayResult struct {
	Server   string   // the host:port it connected to
	Requests int      // HTTP requests sent
	Messages int      // WebSocket messages sent
	Notes    []string // what was not sent as it was in the original, and why
}

// Replay opens a new connection to the server of connection cfg.Conn of a
// capture (or to cfg.To) and sends again what its client sent: its HTTP
// requests in order on the one connection, each after the response to the
// one before, then, after a WebSocket upgrade, the client's messages, with
// their original spacing (ReplayConfig.Speed), ending with the client's
// close frame when it sent one. What comes back is decoded and recorded
// to cfg.Outputs as a live connection is, so the two captures compare.
//
// A capture that cannot be replayed (no such connection, no client side, a
// body or payload cut at a limit, several servers without To) is an error
// before anything is dialed. Headers that cannot be sent as they were
// (Sec-WebSocket-Key, Host with To) are regenerated and listed in Notes.
// Client WebSocket messages are sent uncompressed, each in the frames it
// had when it was not compressed, masked with fresh keys.
func Replay(ctx context.Context, cfg ReplayConfig) (*ReplayResult, error) {
	pl, err := planReplay(cfg.Events, cfg.Conn, cfg.To)
	if err != nil {
		return nil, err
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	dial := cfg.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	res := &ReplayResult{Server: pl.addr, Notes: pl.notes}
	dctx, cancel := context.WithTimeout(ctx, cfg.Wait)
	nc, err := dial(dctx, "tcp", pl.addr)
	cancel()
	if err != nil {
		return res, fmt.Errorf("replay: cannot reach %s: %w", pl.addr, err)
	}
	r := &replayer{cfg: cfg, pl: pl, res: res, conn: nc, raw: nc}
	r.settle.L = &r.mu
	var warned atomic.Bool
	r.rec = newRecorder(1, cfg.Outputs, func(err error) {
		if warned.CompareAndSwap(false, true) {
			cfg.Logger.Error("capture output failing", "err", err)
		}
	}, &r.closed)
	r.rec.server = pl.addr
	r.dec = decode.NewConn(cfg.Decode, &r.rec)
	return res, r.run(ctx)
}

// replayer is one replay's connection: the sending goroutine (run) and
// the one reading the server (readServer) share the decoder and recorder
// under mu, as a proxied connection's two goroutines do.
type replayer struct {
	cfg  ReplayConfig
	pl   *replayPlan
	res  *ReplayResult
	conn net.Conn // raw, or a TLS session on it
	raw  net.Conn

	mu     sync.Mutex
	settle sync.Cond // on mu: the server sent something, or ended
	dec    *decode.Conn
	rec    recorder
	bytes  [2]int64
	ended  bool  // the server's direction ended
	err    error // what ended it, when not a normal end
	closed atomic.Bool
}

func (r *replayer) run(ctx context.Context) (err error) {
	r.mu.Lock()
	r.rec.now = time.Now()
	r.rec.open(r.raw.LocalAddr().String(), r.pl.addr, "replay")
	r.rec.flush()
	r.mu.Unlock()
	defer func() { r.finish(err) }()
	if r.pl.tls {
		if err := r.handshake(ctx); err != nil {
			return err
		}
	}
	done := make(chan struct{})
	go r.readServer(done)
	defer func() { r.raw.Close(); <-done }()
	stop := context.AfterFunc(ctx, func() { r.closed.Store(true); r.raw.Close() })
	defer stop()

	start := time.Now()
	for i := range r.pl.steps {
		st := &r.pl.steps[i]
		if r.cfg.Speed > 0 {
			if wait := time.Until(start.Add(time.Duration(float64(st.at) / r.cfg.Speed))); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					return ctx.Err()
				}
			}
		}
		if st.request() {
			if err := r.request(st); err != nil {
				return err
			}
			continue
		}
		if err := r.message(st); err != nil {
			return err
		}
	}
	return r.end()
}

// handshake puts TLS on the connection, as frametap does with an upstream,
// and records the server side's tls event.
func (r *replayer) handshake(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Wait)
	defer cancel()
	name := r.pl.serverName
	tc := &tls.Config{ServerName: name, RootCAs: r.cfg.UpstreamRoots, NextProtos: alpnHTTP1}
	verified := true
	if r.cfg.Insecure {
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			verified = verifyPeer(cs, r.cfg.UpstreamRoots, name) == nil
			return nil
		}
	}
	c := tls.Client(r.raw, tc)
	if err := c.HandshakeContext(ctx); err != nil {
		r.fail(fmt.Errorf("TLS with %s as %q: %w", r.pl.addr, name, err))
		return fmt.Errorf("replay: TLS with %s as %q: %w (trust its CA with --upstream-ca, or skip the check with -k)", r.pl.addr, name, err)
	}
	r.mu.Lock()
	r.rec.now = time.Now()
	r.rec.handshake(decode.Server, c.ConnectionState(), name, verified)
	r.rec.flush()
	r.mu.Unlock()
	r.conn = c
	return nil
}

// send decodes client bytes and writes them, as the relay does: recorded
// before the server can answer.
func (r *replayer) send(b []byte) error {
	r.mu.Lock()
	r.rec.now = time.Now()
	r.bytes[decode.Client] += int64(len(b))
	r.dec.Feed(decode.Client, b)
	r.rec.flush()
	r.mu.Unlock()
	if _, err := r.conn.Write(b); err != nil {
		return fmt.Errorf("replay: writing to %s: %w", r.pl.addr, err)
	}
	return nil
}

// request sends one request and waits for its final response.
func (r *replayer) request(st *replayStep) error {
	r.mu.Lock()
	gone := r.ended
	r.mu.Unlock()
	if gone {
		return fmt.Errorf("replay: the server closed the connection before request %d of the original (replayed %d)", st.seq, r.res.Requests)
	}
	if err := r.send(st.head); err != nil {
		return err
	}
	r.res.Requests++
	if err := r.await(func() bool { return r.dec.Pending() == 0 }, fmt.Sprintf("the response to request %d", st.seq), false); err != nil {
		return err
	}
	if st.ws {
		r.mu.Lock()
		ok := r.dec.WebSocket(decode.Client)
		r.mu.Unlock()
		if !ok {
			return fmt.Errorf("replay: the server did not switch request %d to WebSocket: its messages are not sent", st.seq)
		}
	}
	return nil
}

// message frames and sends one client WebSocket message.
func (r *replayer) message(st *replayStep) error {
	r.mu.Lock()
	ok := r.dec.WebSocket(decode.Client)
	r.mu.Unlock()
	if !ok {
		return errors.New("replay: the connection is not a WebSocket any more: the rest of the client's messages are not sent")
	}
	var b []byte
	p := st.data
	for i, n := range st.frames {
		op := st.op
		if i > 0 {
			op = 0
		}
		b = appendMaskedFrame(b, op, i == len(st.frames)-1, p[:n])
		p = p[n:]
	}
	if err := r.send(b); err != nil {
		return err
	}
	r.res.Messages++
	return nil
}

// appendMaskedFrame appends one client frame: RSV clear, masked with a
// fresh random key (RFC 6455 section 5.3).
func appendMaskedFrame(b []byte, op uint8, fin bool, p []byte) []byte {
	h := op
	if fin {
		h |= 0x80
	}
	b = append(b, h)
	switch n := len(p); {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var key [4]byte
	rand.Read(key[:])
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, p...)
	for i := range b[start:] {
		b[start+i] ^= key[i&3]
	}
	return b
}

// end finishes the client side. After the client's close frame it waits
// for the server to end the connection, which RFC 6455 section 7.1.1 asks
// the server to do first; a WebSocket client that never closed is ended
// with TCP alone, as it was; an HTTP client half-closes and waits for the
// server to end.
func (r *replayer) end() error {
	r.mu.Lock()
	ws := r.dec.WebSocket(decode.Client) || r.dec.CloseSent(decode.Client)
	sent := r.dec.CloseSent(decode.Client)
	r.mu.Unlock()
	switch {
	case ws && !sent:
		return nil
	case !ws:
		if tc, ok := r.conn.(*tls.Conn); ok {
			tc.CloseWrite()
		} else {
			closeWrite(r.conn)
		}
	}
	return r.await(func() bool { return false }, "the server to end the connection", true)
}

// await waits, for at most cfg.Wait, until cond holds (under mu) or the
// server's direction ended, which is an error unless endOK.
func (r *replayer) await(cond func() bool, what string, endOK bool) error {
	deadline := time.AfterFunc(r.cfg.Wait, func() {
		r.mu.Lock()
		r.settle.Broadcast()
		r.mu.Unlock()
	})
	defer deadline.Stop()
	start := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for !cond() {
		if r.ended {
			if r.err != nil {
				return fmt.Errorf("replay: waiting for %s: %w", what, r.err)
			}
			if endOK {
				return nil
			}
			return fmt.Errorf("replay: the server closed the connection while frametap waited for %s", what)
		}
		if time.Since(start) >= r.cfg.Wait {
			return fmt.Errorf("replay: no %s within %v", what, r.cfg.Wait)
		}
		r.settle.Wait()
	}
	return nil
}

// readServer decodes what the server sends until it ends.
func (r *replayer) readServer(done chan<- struct{}) {
	defer close(done)
	buf := make([]byte, chunkSize)
	for {
		n, err := r.conn.Read(buf)
		r.mu.Lock()
		if n > 0 {
			r.rec.now = time.Now()
			r.bytes[decode.Server] += int64(n)
			r.dec.Feed(decode.Server, buf[:n])
			r.rec.flush()
		}
		if err != nil {
			r.rec.now = time.Now()
			r.dec.End(decode.Server)
			r.rec.flush()
			r.ended = true
			if !isNormalEnd(err) && !r.closed.Load() {
				r.err = err
			}
		}
		r.settle.Broadcast()
		r.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// fail records an error of the replay itself.
func (r *replayer) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rec.now = time.Now()
	r.rec.failure("", err)
	r.rec.flush()
}

// finish ends the client direction and records the close event, with
// runErr when the replay stopped on one.
func (r *replayer) finish(runErr error) {
	r.raw.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	defer r.rec.close()
	r.rec.now = time.Now()
	r.dec.End(decode.Client)
	r.dec.End(decode.Server)
	var hs *decode.CloseHandshake
	if h, ok := r.dec.CloseHandshake(); ok {
		hs = &h
	}
	err := r.err
	if err == nil && runErr != nil {
		err = runErr
	}
	r.rec.end(r.bytes, err, hs, nil) // replay refuses HTTP/2
	r.rec.flush()
}
