package proxy

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// This file is the server side of the SOCKS5 handshake (RFC 1928, with
// RFC 1929 username/password authentication) as a pure state machine:
// bytes in, the reply and the request out. It does no I/O and keeps no
// clock, so that it is tested by byte vectors and fuzzed (FuzzSOCKS5);
// socksfront.go reads and writes for it.

// SOCKS5 wire values.
const (
	socksVersion     = 0x05 // RFC 1928 section 3: VER X'05'
	socksAuthVersion = 0x01 // RFC 1929 section 2: "the current version of the subnegotiation is X'01'"

	socksMethodNone     = 0x00 // RFC 1928 section 3: NO AUTHENTICATION REQUIRED
	socksMethodUserPass = 0x02 // USERNAME/PASSWORD
	socksMethodRefused  = 0xff // NO ACCEPTABLE METHODS

	socksCmdConnect = 0x01 // RFC 1928 section 4: CONNECT
	socksCmdBind    = 0x02 // BIND
	socksCmdUDP     = 0x03 // UDP ASSOCIATE

	socksAtypIPv4   = 0x01 // RFC 1928 section 5
	socksAtypDomain = 0x03
	socksAtypIPv6   = 0x04
)

// socksReply is a reply code (RFC 1928 section 6, REP).
type socksReply byte

const (
	socksSucceeded       socksReply = 0x00
	socksGeneralFailure  socksReply = 0x01
	socksNotAllowed      socksReply = 0x02 // connection not allowed by ruleset
	socksNetUnreachable  socksReply = 0x03
	socksHostUnreachable socksReply = 0x04
	socksRefused         socksReply = 0x05
	socksCmdUnsupported  socksReply = 0x07
	socksAtypUnsupported socksReply = 0x08
)

// socksMaxMessage is the longest message of a handshake: a
// username/password request with two 255-byte fields (RFC 1929 section 2,
// 3 + 255 + 255 bytes). A step never asks for more.
const socksMaxMessage = 513

// socksStage is the message a handshake expects next.
type socksStage uint8

const (
	stageGreeting socksStage = iota // version identifier/method selection (RFC 1928 section 3)
	stageAuth                       // username/password request (RFC 1929 section 2)
	stageRequest                    // the request (RFC 1928 section 4)
	stageDone
)

func (s socksStage) String() string {
	switch s {
	case stageGreeting:
		return "greeting"
	case stageAuth:
		return "username/password request"
	case stageRequest:
		return "request"
	}
	return "tunnel"
}

// socksHandshake is the server side of one SOCKS5 handshake. It is not
// safe for concurrent use.
type socksHandshake struct {
	auth  *Credentials // what the client must give; nil: no authentication
	stage socksStage
	user  string // the username the client authenticated with
}

// socksStep is what one step of the handshake decided.
type socksStep struct {
	// need, when not zero, says that the next message is at least need
	// bytes long and fewer are in hand: nothing was consumed. It is never
	// more than socksMaxMessage.
	need int
	// n is how many bytes the message took.
	n int
	// reply is what frametap answers the client, nil when nothing.
	reply []byte
	// req is the client's request, set by the step that read it: the
	// handshake is done if err is nil.
	req *socksRequest
	// err ends the handshake: the client gets reply, if any, and the
	// connection is closed.
	err error
}

// socksRequest is a SOCKS5 request (RFC 1928 section 4).
type socksRequest struct {
	cmd  byte
	addr string // DST.ADDR:DST.PORT as the client named it: name:port, ip:port, [ipv6]:port
}

// step reads the next message of the handshake from the start of b.
func (h *socksHandshake) step(b []byte) socksStep {
	switch h.stage {
	case stageGreeting:
		return h.greeting(b)
	case stageAuth:
		return h.userPass(b)
	case stageRequest:
		return h.request(b)
	}
	return socksStep{err: errors.New("frametap bug: SOCKS5 handshake stepped after its end")}
}

// greeting reads the version identifier/method selection message:
// VER NMETHODS METHODS (RFC 1928 section 3).
func (h *socksHandshake) greeting(b []byte) socksStep {
	if len(b) < 1 {
		return socksStep{need: 1}
	}
	if b[0] != socksVersion {
		return notSOCKS5(b)
	}
	if len(b) < 2 {
		return socksStep{need: 2}
	}
	n := 2 + int(b[1])
	if len(b) < n {
		return socksStep{need: n}
	}
	offered := b[2:n]
	want := byte(socksMethodNone)
	if h.auth != nil {
		want = socksMethodUserPass
	}
	for _, m := range offered {
		if m == want {
			if want == socksMethodUserPass {
				h.stage = stageAuth
			} else {
				h.stage = stageRequest
			}
			return socksStep{n: n, reply: []byte{socksVersion, want}}
		}
	}
	why := "frametap needs none (start it with --proxyauth user:pass to require a username and password)"
	if h.auth != nil {
		why = "frametap requires username/password (--proxyauth): give the client a username and password"
	}
	return socksStep{n: n, reply: []byte{socksVersion, socksMethodRefused},
		err: fmt.Errorf("SOCKS5: the client offers no authentication method frametap accepts (it offers %s; %s)", methodNames(offered), why)}
}

// notSOCKS5 explains a first byte that is not SOCKS5's version.
func notSOCKS5(b []byte) socksStep {
	switch {
	case b[0] == 0x04:
		// A SOCKS4 client understands this answer: request rejected
		// (0x5B) in a SOCKS4 reply.
		return socksStep{n: len(b), reply: []byte{0, 0x5b, 0, 0, 0, 0, 0, 0},
			err: errors.New("SOCKS5: the client speaks SOCKS4, which frametap does not: use SOCKS5 (curl --socks5-hostname, socks5:// in a proxy URL)")}
	case b[0] >= 'A' && b[0] <= 'Z':
		return socksStep{n: len(b), err: fmt.Errorf("SOCKS5: the client sent %q, not a SOCKS5 greeting: this listener speaks SOCKS5 (--mode socks5); an HTTP client wants a regular listener (--mode regular@PORT)", b[0])}
	}
	return socksStep{n: len(b), err: fmt.Errorf("SOCKS5: the client sent 0x%02x where a SOCKS5 greeting starts with its version 0x05: not a SOCKS5 client", b[0])}
}

// methodNames lists authentication methods for a message.
func methodNames(ms []byte) string {
	if len(ms) == 0 {
		return "none at all"
	}
	s := ""
	for i, m := range ms {
		if i > 0 {
			s += ", "
		}
		switch m {
		case socksMethodNone:
			s += "no authentication"
		case 0x01:
			s += "GSSAPI"
		case socksMethodUserPass:
			s += "username/password"
		default:
			s += fmt.Sprintf("0x%02x", m)
		}
	}
	return s
}

// userPass reads the username/password request: VER ULEN UNAME PLEN
// PASSWD (RFC 1929 section 2), and checks it against h.auth. "If the
// server returns a `failure' (STATUS value other than X'00') status, it
// MUST close the connection."
func (h *socksHandshake) userPass(b []byte) socksStep {
	if len(b) < 2 {
		return socksStep{need: 2}
	}
	fail := []byte{socksAuthVersion, 0x01}
	if b[0] != socksAuthVersion {
		return socksStep{n: len(b), reply: fail, err: fmt.Errorf("SOCKS5: username/password request of version 0x%02x, want 0x01 (RFC 1929)", b[0])}
	}
	ulen := int(b[1])
	if len(b) < 3+ulen {
		return socksStep{need: 3 + ulen}
	}
	n := 3 + ulen + int(b[2+ulen])
	if len(b) < n {
		return socksStep{need: n}
	}
	user, pass := b[2:2+ulen], b[3+ulen:n]
	// Compare both fields whole, whatever the first gives away.
	okUser := subtle.ConstantTimeCompare(user, []byte(h.auth.User))
	okPass := subtle.ConstantTimeCompare(pass, []byte(h.auth.Password))
	if okUser&okPass != 1 {
		return socksStep{n: n, reply: fail, err: fmt.Errorf("SOCKS5: authentication failed for user %q: wrong username or password (--proxyauth)", user)}
	}
	h.user = string(user)
	h.stage = stageRequest
	return socksStep{n: n, reply: []byte{socksAuthVersion, 0x00}}
}

// request reads the request: VER CMD RSV ATYP DST.ADDR DST.PORT (RFC 1928
// section 4). Only CONNECT is served; the domain name is kept as the
// client sent it (frametap resolves it when it dials, after
// --allow-upstream).
func (h *socksHandshake) request(b []byte) socksStep {
	if len(b) < 4 {
		return socksStep{need: 4}
	}
	if b[0] != socksVersion {
		return socksStep{n: len(b), reply: socksReplyTo(socksGeneralFailure, nil),
			err: fmt.Errorf("SOCKS5: request of version 0x%02x, want 0x05", b[0])}
	}
	var n int
	switch b[3] {
	case socksAtypIPv4:
		n = 4 + 4 + 2
	case socksAtypIPv6:
		n = 4 + 16 + 2
	case socksAtypDomain:
		if len(b) < 5 {
			return socksStep{need: 5}
		}
		if b[4] == 0 {
			return socksStep{n: len(b), reply: socksReplyTo(socksGeneralFailure, nil),
				err: errors.New("SOCKS5: the request names a domain name of length 0")}
		}
		n = 5 + int(b[4]) + 2
	default:
		return socksStep{n: len(b), reply: socksReplyTo(socksAtypUnsupported, nil),
			err: fmt.Errorf("SOCKS5: the request's address type 0x%02x is none of IPv4 (0x01), domain name (0x03), IPv6 (0x04)", b[3])}
	}
	if len(b) < n {
		return socksStep{need: n}
	}
	port := strconv.Itoa(int(binary.BigEndian.Uint16(b[n-2 : n])))
	var host string
	switch b[3] {
	case socksAtypIPv4:
		host = netip.AddrFrom4([4]byte(b[4:8])).String()
	case socksAtypIPv6:
		host = netip.AddrFrom16([16]byte(b[4:20])).String()
	default:
		name := b[5 : n-2]
		if !hostName(name) {
			return socksStep{n: n, reply: socksReplyTo(socksHostUnreachable, nil),
				err: fmt.Errorf("SOCKS5: the request names %q, which is not a host name", name)}
		}
		host = string(name)
	}
	req := &socksRequest{cmd: b[1], addr: net.JoinHostPort(host, port)}
	if req.cmd != socksCmdConnect {
		what := map[byte]string{socksCmdBind: "BIND", socksCmdUDP: "UDP ASSOCIATE"}[req.cmd]
		if what == "" {
			what = fmt.Sprintf("command 0x%02x", req.cmd)
		}
		return socksStep{n: n, req: req, reply: socksReplyTo(socksCmdUnsupported, nil),
			err: fmt.Errorf("SOCKS5: %s %s is not supported, only CONNECT: command not supported (0x07)", what, req.addr)}
	}
	h.stage = stageDone
	return socksStep{n: n, req: req}
}

// hostName reports whether a SOCKS5 domain name is one frametap dials: an
// IP literal (some clients send them as names) or letters, digits, '-',
// '.' and '_'.
func hostName(b []byte) bool {
	if _, err := netip.ParseAddr(string(b)); err == nil {
		return true
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// socksReplyTo builds a reply: VER REP RSV ATYP BND.ADDR BND.PORT (RFC
// 1928 section 6). bound is the address frametap's upstream socket is
// bound to; nil (failures) says 0.0.0.0:0.
func socksReplyTo(rep socksReply, bound net.Addr) []byte {
	ap := netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	if ta, ok := bound.(*net.TCPAddr); ok {
		ap = netip.AddrPortFrom(ta.AddrPort().Addr().Unmap(), ta.AddrPort().Port())
	}
	b := []byte{socksVersion, byte(rep), 0x00}
	if ap.Addr().Is4() {
		b = append(b, socksAtypIPv4)
	} else {
		b = append(b, socksAtypIPv6)
	}
	b = append(b, ap.Addr().AsSlice()...)
	return binary.BigEndian.AppendUint16(b, ap.Port())
}

// socksReplyFor is the reply code for a failed dial: what the client's
// SOCKS library will most likely show its user.
func socksReplyFor(err error) socksReply {
	var dns *net.DNSError
	switch {
	case errors.Is(err, errNotAllowed):
		return socksNotAllowed
	case errors.Is(err, errConnRefused):
		return socksRefused
	case errors.Is(err, errNetUnreachable):
		return socksNetUnreachable
	case errors.Is(err, errHostUnreachable), errors.As(err, &dns):
		return socksHostUnreachable
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return socksHostUnreachable
	}
	return socksGeneralFailure
}
