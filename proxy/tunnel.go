package proxy

import "net"

// tunnel relays a connection whose destination was settled before its
// bytes flow: a CONNECT tunnel (regular and upstream mode), a SOCKS5
// CONNECT, a transparent connection. Every front with one uses this type,
// so that a tunnel is relayed one way whatever opened it. Its bytes pass
// unchanged, decoded as what they carry. With TLS interception on for the
// destination, the first client byte decides: a ClientHello is answered
// with a leaf certificate for its SNI (else the destination's host) and
// decoded inside, anything else is relayed as it comes.
//
// A tunnel belongs to its front and runs on the client goroutine.
type tunnel struct {
	c    *conn
	on   bool   // open: every client byte from now on is the tunnel's
	park parked // the upstream, until the first client byte says whether TLS is intercepted
}

// open starts the tunnel to addr, whose upstream nc is dialed. The client
// must have been told that the tunnel is open (a 200, a SOCKS5 reply)
// before: a server that speaks first must not get ahead of that answer.
// With TLS interception on for addr, nc is parked until the client's first
// byte, or for sniffWait.
func (tn *tunnel) open(nc net.Conn, addr string) {
	c := tn.c
	tn.on = true
	if !c.p.intercepts(addr) {
		c.attach(nc, addr)
		return
	}
	// Read the first client byte before the server's may flow.
	tn.park.hold(nc, addr)
	c.sniffFor(sniffWait, tn.sniffExpired)
}

// chunk relays client bytes of an open tunnel.
func (tn *tunnel) chunk(b []byte) error {
	if tn.park.held() {
		return tn.first(b)
	}
	return tn.c.relayOpaque(b)
}

// first decides what the tunnel carries from its first client bytes: a
// TLS ClientHello is intercepted, anything else is relayed and decoded as
// it comes.
func (tn *tunnel) first(b []byte) error {
	c := tn.c
	c.endSniff()
	nc, addr := tn.park.take()
	if b[0] == tlsRecordHandshake {
		return c.intercept(b, tlsTarget{nc: nc, addr: addr, host: hostOnly(addr), tls: true})
	}
	c.attach(nc, addr)
	return c.relayOpaque(b)
}

// sniffExpired starts relaying a tunnel whose client has said nothing for
// sniffWait: the server may be one that speaks first.
func (tn *tunnel) sniffExpired() error {
	nc, addr := tn.park.take()
	tn.c.attach(nc, addr)
	return nil
}

// release closes an upstream still parked.
func (tn *tunnel) release() { tn.park.close() }
