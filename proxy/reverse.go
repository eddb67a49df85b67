package proxy

// reverser is reverse mode's front: every client connection is relayed to
// the one upstream of its listener (Config.Upstream), both ways, decoded and unchanged.
// With a CA it first sniffs the client's first byte: TLS is terminated (a
// certificate for the SNI, else the upstream's host), anything else is
// relayed as it comes. It runs on the client goroutine.
type reverser struct {
	c        *conn
	target   tlsTarget
	sniffing bool // waiting for the first client byte
}

func newReverser(c *conn) *reverser {
	in := c.in
	return &reverser{c: c, target: tlsTarget{addr: in.upAddr, host: hostOnly(in.upAddr), tls: in.upTLS, serverName: hostOnly(in.upAddr)}}
}

func (rv *reverser) start() error {
	if rv.c.p.cfg.CA == nil {
		return rv.connect(nil)
	}
	rv.sniffing = true
	rv.c.sniffFor(sniffWait, rv.sniffExpired)
	return nil
}

func (rv *reverser) release() {}

func (rv *reverser) clientChunk(b []byte) error {
	c := rv.c
	if rv.sniffing {
		rv.sniffing = false
		c.endSniff()
		if b[0] == tlsRecordHandshake {
			return c.intercept(b, rv.target)
		}
		if err := rv.connect(b); err != nil {
			return err
		}
	}
	return c.relayOpaque(b)
}

// sniffExpired connects a client that said nothing for sniffWait: its
// server may be one that speaks first.
func (rv *reverser) sniffExpired() error {
	rv.sniffing = false
	return rv.connect(nil)
}

// connect dials the upstream (with TLS when it speaks it) and attaches it.
// If it cannot, the client gets a 502 (first holds client bytes read
// already) and connect returns errAnswered.
func (rv *reverser) connect(first []byte) error {
	c := rv.c
	nc, err := c.connectUpstream(c.p.ctx, rv.target, "", alpnHTTP1)
	if err != nil {
		return c.refuse(err, first)
	}
	c.attach(nc, rv.target.addr)
	return nil
}
