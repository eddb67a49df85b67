package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/frametap/frametap/decode"
)

// sniffWait bounds how long frametap waits for a tunnel's (or a reverse
// connection's) first client byte before it decides: a client that says
// nothing for this long is not starting TLS, and its server may be one that
// speaks first, so the bytes flow unintercepted from then on.
var sniffWait = 2 * time.Second // a variable so that tests can shorten it

// tlsRecordHandshake is the first byte of a TLS handshake record (RFC 8446
// section 5.1, ContentType handshake(22)): a ClientHello starts with it.
const tlsRecordHandshake = 0x16

// alpnHTTP1 is what frametap offers where it cannot mirror a choice (RFC
// 7301): an upstream spoken to in plaintext, a plaintext client's TLS
// upstream, and a client whose upstream failed (it gets a 502 in
// HTTP/1.1).
var alpnHTTP1 = []string{"http/1.1"}

// alpnMirror is what frametap answers a client whose upstream handshake
// offered the client's own ALPN list: the protocol the server chose, or
// none when it chose none, so that both legs carry the same protocol and
// frametap relays it byte for byte (it decodes h2 and HTTP/1.x). crypto/tls
// has already refused a server that chose a protocol the client did not
// offer ("server selected unadvertised ALPN protocol"), as mitmproxy does.
func alpnMirror(up net.Conn) []string {
	tc, ok := up.(*tls.Conn)
	if !ok {
		return alpnHTTP1
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "" {
		return []string{p}
	}
	return nil
}

// tlsTarget is where a connection whose first byte is sniffed goes.
type tlsTarget struct {
	nc         net.Conn // the upstream already dialed (regular mode dials before its 200); nil: dial addr
	addr       string   // upstream host:port
	host       string   // the name of a leaf certificate when the client sends no SNI
	tls        bool     // speak TLS to the upstream
	serverName string   // the upstream's name to verify; "" means the client's SNI, else host
}

// hostOnly returns the host of host:port, without IPv6 brackets.
func hostOnly(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return strings.Trim(addr, "[]")
}

// intercept terminates the client's TLS, whose first bytes are first: it
// answers as the server with a leaf certificate from the CA for the SNI (or
// tg.host), and within that handshake, once the SNI is known, connects to
// the upstream (with TLS when tg.tls). On success c.client is the TLS
// session and the upstream is attached: it returns errSwitched. An
// upstream that cannot be reached or verified is answered 502 inside the
// client's TLS session.
//
// intercept owns tg.nc (an upstream dialed already) and closes it, or the
// upstream it becomes, on every exit that does not attach it.
func (c *conn) intercept(first []byte, tg tlsTarget) error {
	ctx, cancel := context.WithTimeout(c.p.ctx, 2*c.p.cfg.DialTimeout)
	defer cancel()
	owned := tg.nc // until connectUpstream takes it; then what it returns
	defer func() {
		if owned != nil {
			owned.Close()
		}
	}()
	var upErr error
	srv := tls.Server(&prefixConn{Conn: c.raw, prefix: bytes.Clone(first)}, &tls.Config{
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			owned, upErr = c.connectUpstream(ctx, tg, hello.ServerName, hello.SupportedProtos)
			name := hello.ServerName
			if name == "" {
				name = tg.host
			}
			cert, err := c.p.cfg.CA.Leaf(name)
			if err != nil {
				return nil, err
			}
			protos := alpnHTTP1
			if upErr == nil {
				protos = alpnMirror(owned)
			}
			return &tls.Config{Certificates: []tls.Certificate{*cert}, NextProtos: protos, KeyLogWriter: c.p.cfg.KeyLog}, nil
		},
	})
	start := time.Now()
	if err := srv.HandshakeContext(ctx); err != nil {
		if upErr != nil {
			c.recordFailure("server", upErr) // it failed first, and is as much the user's concern
		}
		err = clientHandshakeError(err)
		c.recordFailure("client", err)
		return err
	}
	c.mu.Lock()
	c.rec.now = time.Now()
	cs := srv.ConnectionState()
	c.rec.clientTLS(c.rec.now.Sub(start)) // handshake_ms
	c.rec.handshake(decode.Client, cs, "", false)
	c.rec.flush()
	if upErr == nil {
		// Before the upstream's copier starts: an h2 server's SETTINGS
		// may come before the client's preface.
		c.dec.ALPN(cs.NegotiatedProtocol)
	}
	c.client = srv
	c.rec.tls = true
	c.clock.tlsIdle = true // HTTP is to come inside: until it does, the connection is idle
	c.mu.Unlock()
	if upErr != nil {
		return c.refuse(upErr, nil)
	}
	c.attach(owned, tg.addr)
	owned = nil
	c.mu.Lock()
	c.arm()
	c.mu.Unlock()
	return errSwitched
}

// connectUpstream dials tg (unless it was dialed already) and, when tg.tls,
// does the TLS handshake, naming the server tg.serverName, else sni, else
// tg.host, and offering the ALPN protocols alpn (the client's own list; nil
// for a plaintext client, which gets http/1.1). It owns tg.nc: on an error
// it has closed it and returns a nil net.Conn.
func (c *conn) connectUpstream(ctx context.Context, tg tlsTarget, sni string, alpn []string) (net.Conn, error) {
	nc := tg.nc
	if nc == nil {
		var err error
		if nc, err = c.dial(tg.addr); err != nil {
			return nil, err
		}
	}
	if !tg.tls {
		return nc, nil
	}
	name := tg.serverName
	if name == "" {
		name = sni
	}
	if name == "" {
		name = tg.host
	}
	return c.handshakeUpstream(ctx, nc, tg.addr, name, alpn)
}

// handshakeUpstream puts TLS on nc as a client of name, verifying the
// server's certificate against Config.UpstreamRoots unless Config.Insecure,
// and records the server side's tls event. On an error it has closed nc.
//
// It returns a net.Conn, not a *tls.Conn: a nil *tls.Conn returned as a
// net.Conn is not a nil interface, and closing it panics (issue 8, defect
// 0).
func (c *conn) handshakeUpstream(ctx context.Context, nc net.Conn, addr, name string, alpn []string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.p.cfg.DialTimeout)
	defer cancel()
	cfg := &tls.Config{ServerName: name, RootCAs: c.p.cfg.UpstreamRoots, NextProtos: alpn, KeyLogWriter: c.p.cfg.KeyLog}
	verified := true
	if c.p.cfg.Insecure {
		// Skip the check but still say in the event whether it passed.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			verified = verifyPeer(cs, c.p.cfg.UpstreamRoots, name) == nil
			return nil
		}
	}
	tc := tls.Client(nc, cfg)
	start := time.Now()
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		hint := ""
		if _, ok := errors.AsType[*tls.CertificateVerificationError](err); ok {
			hint = " (trust its CA with --upstream-ca FILE, or skip the check with -k)"
		}
		return nil, fmt.Errorf("TLS with upstream %s as %q: %w%s", addr, name, err, hint)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rec.now = time.Now()
	c.rec.upstreamTLS(c.rec.now.Sub(start)) // tls_ms
	c.rec.handshake(decode.Server, tc.ConnectionState(), name, verified)
	c.rec.flush()
	return tc, nil
}

// verifyPeer verifies a server's chain as crypto/tls would.
func verifyPeer(cs tls.ConnectionState, roots *x509.CertPool, name string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no certificate")
	}
	inter := x509.NewCertPool()
	for _, ic := range cs.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter})
	return err
}

// clientHandshakeError explains a failed handshake with the client. A
// client that does not trust frametap's CA (or pins its server's
// certificate) ends the handshake with an alert (RFC 8446 section 6.2):
// bad_certificate, unknown_ca, certificate_unknown.
func clientHandshakeError(err error) error {
	msg := err.Error()
	rejected := false
	for _, alert := range []string{"bad certificate", "unknown certificate authority", "certificate unknown",
		"unsupported certificate", "certificate expired", "certificate revoked", "access denied"} {
		rejected = rejected || strings.Contains(msg, alert)
	}
	if rejected {
		return fmt.Errorf("the client rejected frametap's certificate: %w; trust frametap's CA (run `frametap ca` to see how) or exempt the host with --ignore-hosts", err)
	}
	if strings.Contains(msg, "bad record MAC") {
		// Under TLS 1.3 a client that refuses the certificate sends its
		// alert under keys Go's server does not expect yet, so the reason
		// arrives as a bad record MAC (curl and Python's ssl both do it).
		return fmt.Errorf("the client most likely rejected frametap's certificate (TLS 1.3 hides the reason: %w); trust frametap's CA (run `frametap ca` to see how) or exempt the host with --ignore-hosts", err)
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("TLS handshake with the client: the client closed the connection (%w); if it does not trust frametap's CA, run `frametap ca` to see how, or exempt the host with --ignore-hosts", err)
	}
	return fmt.Errorf("TLS handshake with the client: %w", err)
}

// prefixConn is a net.Conn whose first reads return prefix, bytes already
// read off Conn while sniffing.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (pc *prefixConn) Read(b []byte) (int, error) {
	if len(pc.prefix) > 0 {
		n := copy(b, pc.prefix)
		pc.prefix = pc.prefix[n:]
		if len(pc.prefix) == 0 {
			pc.prefix = nil // not kept for the life of the connection
		}
		return n, nil
	}
	return pc.Conn.Read(b)
}

// CloseWrite half-closes the underlying connection where it can.
func (pc *prefixConn) CloseWrite() error {
	closeWrite(pc.Conn)
	return nil
}
