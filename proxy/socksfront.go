package proxy

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/frametap/frametap/decode"
)

// socksFront is SOCKS5 mode's front: it reads the client's handshake
// (socks5.go), dials the destination the request names, answers, and then
// relays a tunnel exactly as the forwarder does after a CONNECT. It runs
// on the client goroutine.
type socksFront struct {
	c   *conn
	tun tunnel
}

func newSOCKSFront(c *conn) *socksFront { return &socksFront{c: c, tun: tunnel{c: c}} }

func (s *socksFront) clientChunk(b []byte) error { return s.tun.chunk(b) }
func (s *socksFront) release()                   { s.tun.release() }

// start runs the handshake, all of it within --header-timeout of the
// accept. It reads exactly the bytes each message needs, so that nothing
// of the tunnel is read before the tunnel opens. The open event is written
// once the request named the destination, or the handshake failed.
func (s *socksFront) start() error {
	c := s.c
	hs := socksHandshake{auth: c.p.cfg.ProxyAuth}
	if c.p.headerTimeout > 0 {
		c.raw.SetReadDeadline(c.accepted.Add(c.p.headerTimeout))
	}
	var buf [socksMaxMessage]byte
	have, total := 0, 0
	var req *socksRequest
	for req == nil {
		st := hs.step(buf[:have])
		if st.need > 0 {
			n, err := io.ReadAtLeast(c.raw, buf[have:st.need], st.need-have)
			have += n
			total += n
			if err != nil {
				c.count(decode.Client, total)
				return s.readFailed(err, total, hs.stage)
			}
			continue
		}
		if st.req != nil {
			c.setServer(st.req.addr)
		}
		if st.reply != nil {
			if err := s.reply(st.reply); err != nil && st.err == nil {
				c.count(decode.Client, total)
				return err
			}
		}
		if st.err != nil {
			c.count(decode.Client, total)
			c.recordFailure("client", st.err)
			lingerClose(c.raw) // the client reads the reply, and a FIN rather than a reset
			return errAnswered
		}
		have = copy(buf[:], buf[st.n:have]) // none: each read stops at a message's end
		req = st.req
	}
	c.count(decode.Client, total)
	c.raw.SetReadDeadline(time.Time{})
	c.mu.Lock()
	c.clock.served = true // as after a CONNECT: the tunnel's HTTP is kept alive, not owed
	c.mu.Unlock()
	c.recordOpen()

	nc, err := c.dial(req.addr)
	if err != nil {
		s.reply(socksReplyTo(socksReplyFor(err), nil))
		c.recordFailure("server", err)
		lingerClose(c.raw)
		return errAnswered
	}
	if err := s.reply(socksReplyTo(socksSucceeded, nc.LocalAddr())); err != nil {
		nc.Close()
		return err
	}
	s.tun.open(nc, req.addr)
	return nil
}

// reply writes a handshake message to the client, within the bound on
// frametap's own answers.
func (s *socksFront) reply(b []byte) error {
	c := s.c
	c.raw.SetWriteDeadline(time.Now().Add(answerWriteWait))
	defer c.raw.SetWriteDeadline(time.Time{})
	if _, err := c.raw.Write(b); err != nil {
		return fmt.Errorf("write to client: %w", err)
	}
	return nil
}

// readFailed explains a handshake that ended before its request: a client
// that connected and left, or stayed silent, without a byte is a normal
// end (a port probe, a browser's preconnect); one that left or stalled in
// the middle of a message gets an error event.
func (s *socksFront) readFailed(err error, total int, stage socksStage) error {
	c := s.c
	timeout := errors.Is(err, os.ErrDeadlineExceeded)
	eof := errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
	switch {
	case total == 0 && (eof || timeout):
		if timeout {
			return errIdle
		}
		return io.EOF
	case errors.Is(err, net.ErrClosed):
		return err // shut down
	case timeout:
		err = fmt.Errorf("SOCKS5: no complete handshake within %v (--header-timeout): the client stopped in its %s after %d bytes", c.p.headerTimeout, stage, total)
	case eof:
		err = fmt.Errorf("SOCKS5: the client closed the connection in the middle of its %s, after %d bytes of handshake", stage, total)
	default:
		err = fmt.Errorf("SOCKS5: reading the client's %s: %w", stage, err)
	}
	c.recordFailure("client", err)
	return errAnswered
}
