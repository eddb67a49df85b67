package proxy

import (
	"fmt"
	"net"
	"net/netip"
)

// transparentFront is transparent mode's front: the client dialed some
// server and a firewall rule (nftables or iptables REDIRECT) brought the
// connection to frametap instead. The server is the address the client
// dialed, read from the socket (SO_ORIGINAL_DST); what follows is a tunnel
// to it, as after a CONNECT: TLS is intercepted with a leaf for the
// ClientHello's SNI, else for the original IP. It runs on the client
// goroutine.
type transparentFront struct {
	c   *conn
	tun tunnel
	own string // the local address of the upstream socket it dialed, while registered in Proxy.own
}

func newTransparent(c *conn) *transparentFront {
	return &transparentFront{c: c, tun: tunnel{c: c}}
}

// start reads the original destination, records the open event with it
// and dials it. A connection that was not redirected, or whose
// destination cannot be reached, gets an error event and is closed: the
// client's protocol is not known yet, so there is nothing to answer it.
func (tf *transparentFront) start() error {
	c := tf.c
	dst, err := originalDst(c.raw)
	if err != nil {
		c.recordFailure("client", fmt.Errorf("transparent mode: the connection's original destination is unknown (%w): was it redirected to frametap by a firewall rule (see the README)?", err))
		return errAnswered
	}
	addr := dst.String()
	if local, ok := c.raw.LocalAddr().(*net.TCPAddr); ok && netip.AddrPortFrom(local.AddrPort().Addr().Unmap(), local.AddrPort().Port()) == dst {
		c.recordFailure("client", fmt.Errorf("transparent mode: the client dialed frametap's listener %s itself, not a server redirected to it: closed, as relaying it to itself would loop", addr))
		return errAnswered
	}
	c.setServer(addr)
	c.recordOpen()
	if _, loop := c.p.own.Load(c.raw.RemoteAddr().String()); loop {
		c.recordFailure("client", fmt.Errorf("transparent mode: this connection to %s is frametap's own upstream connection, redirected back to it: not relayed again, as that would loop; mark frametap's upstream sockets with --set-mark N and leave that mark out of the redirect rule (see the README)", addr))
		return errAnswered
	}
	nc, err := c.dial(addr)
	if err != nil {
		c.recordFailure("server", err)
		return errAnswered
	}
	// Should the firewall send this socket back to frametap (no mark, or
	// a rule without the mark's exception), the connection that arrives
	// is known by its client address.
	tf.own = nc.LocalAddr().String()
	c.p.own.Store(tf.own, struct{}{})
	tf.tun.open(nc, addr)
	return nil
}

func (tf *transparentFront) clientChunk(b []byte) error { return tf.tun.chunk(b) }

func (tf *transparentFront) release() {
	tf.tun.release()
	if tf.own != "" {
		tf.c.p.own.Delete(tf.own)
	}
}
