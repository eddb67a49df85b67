package proxy

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	xproxy "golang.org/x/net/proxy"
)

// This file is upstream mode's dialing: frametap reaching servers through
// another proxy. It is a way of dialing, not a front: conn.dial uses it for
// every upstream of a listener in upstream mode (upstream.go).

// maxViaHead bounds the head of an upstream HTTP proxy's answer to CONNECT.
const maxViaHead = 16 << 10

// via is an upstream proxy. It is immutable, shared by the connections of
// one listener.
type via struct {
	url   string // as ParseMode returns it: scheme://[user:pass@]host:port
	name  string // scheme://host:port: what messages say (never the password)
	addr  string // the proxy's host:port
	socks socksDialer
	auth  string // HTTP: the Proxy-Authorization value, "" without credentials
}

// socksDialer is the part of golang.org/x/net/proxy's SOCKS5 dialer that
// frametap uses: the SOCKS5 handshake on a connection frametap dialed
// itself (so that the socket stays a *net.TCPConn, with its half-close
// and its mark).
type socksDialer interface {
	DialWithConn(ctx context.Context, c net.Conn, network, address string) (net.Addr, error)
}

// parseVia reads an upstream proxy's URL: http://[user:pass@]host:port or
// socks5://[user:pass@]host:port (socks5h:// is the same: frametap always
// lets the proxy resolve names).
func parseVia(spec string) (*via, error) {
	u, err := url.Parse(spec)
	if err != nil || u.Host == "" {
		return nil, errors.New("want upstream:http://host:port or upstream:socks5://host:port")
	}
	if u.Port() == "" {
		return nil, fmt.Errorf("upstream proxy %q: give its port, as scheme://host:port", spec)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return nil, fmt.Errorf("upstream proxy %q: a path is not supported, only scheme://host:port", spec)
	}
	v := &via{addr: u.Host}
	switch u.Scheme {
	case "http":
		if u.User != nil {
			pass, _ := u.User.Password()
			v.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass))
		}
	case "socks5", "socks5h":
		var auth *xproxy.Auth
		if u.User != nil {
			pass, _ := u.User.Password()
			auth = &xproxy.Auth{User: u.User.Username(), Password: pass}
		}
		d, err := xproxy.SOCKS5("tcp", u.Host, auth, nil)
		if err != nil {
			return nil, fmt.Errorf("upstream proxy %q: %w", spec, err)
		}
		sd, ok := d.(socksDialer)
		if !ok {
			return nil, fmt.Errorf("upstream proxy %q: golang.org/x/net/proxy's SOCKS5 dialer has no DialWithConn", spec)
		}
		v.socks = sd
	case "https":
		return nil, fmt.Errorf("upstream proxy %q: TLS to the upstream proxy is not supported; use http:// or socks5://", spec)
	default:
		return nil, fmt.Errorf("upstream proxy %q: unknown scheme %q; use http:// or socks5://", spec, u.Scheme)
	}
	v.name = u.Scheme + "://" + u.Host
	v.url = u.Scheme + "://" + u.Host
	if u.User != nil {
		v.url = u.Scheme + "://" + u.User.String() + "@" + u.Host
	}
	return v, nil
}

// absolute reports whether plain HTTP requests go to the proxy itself, in
// absolute-form (an HTTP proxy), rather than through a tunnel (SOCKS5).
func (v *via) absolute() bool { return v != nil && v.socks == nil }

// reach connects to the proxy itself.
func (v *via) reach(ctx context.Context, dial dialFunc) (net.Conn, error) {
	nc, err := dial(ctx, "tcp", v.addr)
	if err != nil {
		return nil, fmt.Errorf("cannot reach upstream proxy %s: %w", v.name, err)
	}
	return nc, nil
}

// tunnel connects to addr through the proxy: CONNECT to an HTTP proxy
// (RFC 9110 section 9.3.6), or a SOCKS5 CONNECT, which names addr's host
// as the client gave it: the proxy resolves it, frametap looks nothing up.
func (v *via) tunnel(ctx context.Context, dial dialFunc, addr string) (net.Conn, error) {
	nc, err := v.reach(ctx, dial)
	if err != nil {
		return nil, err
	}
	if v.socks != nil {
		if _, err := v.socks.DialWithConn(ctx, nc, "tcp", addr); err != nil {
			nc.Close()
			return nil, fmt.Errorf("upstream proxy %s could not connect to %s: %w", v.name, addr, err)
		}
		return nc, nil
	}
	return v.connect(ctx, nc, addr)
}

// connect asks the HTTP proxy on nc for a tunnel to addr and reads its
// answer. Bytes that follow the answer's head (a server that speaks
// first) are kept for the first reads of the returned connection. On an
// error it has closed nc.
func (v *via) connect(ctx context.Context, nc net.Conn, addr string) (_ net.Conn, err error) {
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer func() {
		if !stop() && err == nil {
			err = fmt.Errorf("CONNECT %s through upstream proxy %s: %w", addr, v.name, ctx.Err())
		}
		if err != nil {
			nc.Close()
		}
	}()
	req := "CONNECT " + addr + " HTTP/1.1\r\nHost: " + addr + "\r\n"
	if v.auth != "" {
		req += "Proxy-Authorization: " + v.auth + "\r\n"
	}
	if _, err := nc.Write([]byte(req + "\r\n")); err != nil {
		return nil, fmt.Errorf("upstream proxy %s: sending CONNECT %s: %w", v.name, addr, err)
	}
	buf := make([]byte, 0, 4<<10)
	end := -1
	for end < 0 {
		if len(buf) == cap(buf) {
			if cap(buf) >= maxViaHead {
				return nil, fmt.Errorf("upstream proxy %s: its answer to CONNECT %s has a head over %d KiB", v.name, addr, maxViaHead>>10)
			}
			buf = append(buf, make([]byte, cap(buf))...)[:len(buf)]
		}
		n, rerr := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		end = headEnd(buf)
		if end < 0 && rerr != nil {
			return nil, fmt.Errorf("upstream proxy %s: reading its answer to CONNECT %s: %w", v.name, addr, rerr)
		}
	}
	status := string(buf[:bytes.IndexByte(buf, '\n')])
	status = strings.TrimRight(status, "\r")
	if !connectAccepted(status) {
		hint := ""
		if strings.Contains(status, " 407") || strings.Contains(status, " 401") { // tinyproxy says 401
			hint = " (it wants credentials: --mode upstream:http://user:pass@host:port)"
			if v.auth != "" {
				hint = " (it refused the credentials given in --mode upstream:...)"
			}
		}
		return nil, fmt.Errorf("upstream proxy %s refused CONNECT %s: it answered %q%s", v.name, addr, status, hint)
	}
	nc.SetDeadline(time.Time{})
	if rest := buf[end:]; len(rest) > 0 {
		return &prefixConn{Conn: nc, prefix: bytes.Clone(rest)}, nil
	}
	return nc, nil
}

// headEnd returns where the HTTP head at the start of b ends (after its
// empty line, CRLF or a bare LF as RFC 9112 section 2.2 lets a recipient
// accept), or -1 when b holds no complete head.
func headEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3
		}
	}
	return -1
}

// connectAccepted reports whether a status line accepts a CONNECT: any 2xx
// (RFC 9110 section 9.3.6).
func connectAccepted(status string) bool {
	proto, rest, ok := strings.Cut(status, " ")
	return ok && strings.HasPrefix(proto, "HTTP/1.") && len(rest) >= 3 && rest[0] == '2' &&
		rest[1] >= '0' && rest[1] <= '9' && rest[2] >= '0' && rest[2] <= '9' && (len(rest) == 3 || rest[3] == ' ')
}
