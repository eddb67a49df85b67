package proxy

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Mode says how a listener's connections find their upstream. Its String
// is the open event's "mode".
type Mode int

const (
	// Regular is an explicit HTTP proxy: each request names its upstream
	// (absolute-form), CONNECT opens a tunnel.
	Regular Mode = iota
	// Reverse relays every client connection to one fixed upstream.
	Reverse
	// SOCKS5 is a SOCKS5 proxy (RFC 1928): the client names its
	// destination in the handshake, and what follows is a tunnel to it,
	// as after a CONNECT.
	SOCKS5
	// Transparent takes connections a firewall redirected to frametap
	// (nftables or iptables REDIRECT): the destination is the one the
	// client dialed, read with SO_ORIGINAL_DST (Linux only).
	Transparent
	// UpstreamProxy is Regular, with every upstream reached through
	// another proxy (mitmproxy's upstream mode): HTTP requests go to an
	// HTTP proxy in absolute-form, tunnels through CONNECT to it; or
	// everything through a SOCKS5 proxy.
	UpstreamProxy
)

// String returns the mode's name in the capture format.
func (m Mode) String() string {
	switch m {
	case Reverse:
		return "reverse"
	case SOCKS5:
		return "socks5"
	case Transparent:
		return "transparent"
	case UpstreamProxy:
		return "upstream"
	}
	return "regular"
}

// modeSpellings is what ParseMode accepts, for its error messages.
const modeSpellings = "regular, socks5, transparent, upstream:http://host:port (or socks5://host:port) or reverse:http://host:port"

// ParseMode reads a mode as mitmproxy's --mode spells it, and returns it
// with its upstream as Config.Upstream takes it:
//
//   - "regular" (or ""), "socks5", "transparent": no upstream;
//   - "reverse:http://host:port" (ws:// is the same thing), or
//     "reverse:https://host:port" (or wss://) for an upstream spoken to
//     with TLS: host:port, or https://host:port for TLS;
//   - "upstream:http://[user:pass@]host:port" or
//     "upstream:socks5://[user:pass@]host:port": the proxy's URL, with
//     its default port added (8080 for http, 1080 for socks5).
//
// A listening port (mitmproxy's MODE@PORT) is not part of a mode: the
// caller splits it off first.
func ParseMode(s string) (Mode, string, error) {
	switch s {
	case "", "regular":
		return Regular, "", nil
	case "socks5":
		return SOCKS5, "", nil
	case "transparent":
		return Transparent, "", nil
	}
	if spec, ok := strings.CutPrefix(s, "reverse:"); ok {
		up, err := parseReverse(spec)
		if err != nil {
			return 0, "", fmt.Errorf("mode %q: %w", s, err)
		}
		return Reverse, up, nil
	}
	if spec, ok := strings.CutPrefix(s, "upstream:"); ok {
		v, err := parseVia(spec)
		if err != nil {
			return 0, "", fmt.Errorf("mode %q: %w", s, err)
		}
		return UpstreamProxy, v.url, nil
	}
	return 0, "", fmt.Errorf("mode %q: want %s", s, modeSpellings)
}

// parseReverse reads reverse mode's upstream URL.
func parseReverse(spec string) (string, error) {
	u, err := url.Parse(spec)
	if err != nil || u.Host == "" {
		return "", errors.New("want reverse:http://host:port")
	}
	port, prefix := "", ""
	switch u.Scheme {
	case "http", "ws":
		port = "80"
	case "https", "wss":
		port, prefix = "443", "https://"
	default:
		return "", fmt.Errorf("unknown scheme %q; use http://, ws://, https:// or wss://", u.Scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return "", errors.New("a path is not supported, only scheme://host:port")
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), port)
	}
	return prefix + host, nil
}

// ingress is one listener's way in: its mode and what the mode needs. It
// is made once per listener and never changed: connections share it.
type ingress struct {
	mode   Mode
	listen string // the listener's address: the open event's "listen"

	upAddr string // Reverse: the upstream's host:port
	upTLS  bool   // Reverse: the upstream speaks TLS
	via    *via   // UpstreamProxy: the proxy every upstream is reached through
}

// newIngress checks a listener's mode and upstream (as Config takes them)
// and prepares them.
func newIngress(mode Mode, upstream, listen string) (*ingress, error) {
	in := &ingress{mode: mode, listen: listen}
	switch mode {
	case Regular, SOCKS5, Transparent:
	case Reverse:
		in.upAddr, in.upTLS = strings.CutPrefix(upstream, "https://")
		if _, _, err := net.SplitHostPort(in.upAddr); err != nil {
			return nil, fmt.Errorf("reverse mode: upstream %q is not host:port or https://host:port", upstream)
		}
	case UpstreamProxy:
		v, err := parseVia(upstream)
		if err != nil {
			return nil, fmt.Errorf("upstream mode: %w", err)
		}
		in.via = v
	default:
		return nil, fmt.Errorf("unknown mode %d", mode)
	}
	if mode == Transparent && !transparentSupported {
		return nil, errors.New("transparent mode needs Linux (SO_ORIGINAL_DST)")
	}
	return in, nil
}
