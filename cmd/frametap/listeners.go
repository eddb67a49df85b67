package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/frametap/frametap/proxy"
)

// This file is the listeners of one run (issue 12): --mode may be given
// several times, each MODE@PORT, all on --listen-host; --proxyauth and
// --set-mark configure the modes that use them.

// listener is one --mode and the address it listens on.
type listener struct {
	spec     string // the --mode as given
	mode     proxy.Mode
	upstream string // as proxy.Config.Upstream takes it
	addr     string // host:port to listen on
}

// defaultSOCKSPort is where a socks5 listener without a port listens, as
// in mitmproxy.
const defaultSOCKSPort = "1080"

// parseListeners reads the --mode flags (regular when none) into
// listeners. A mode with @PORT listens on that port of --listen-host (else
// the host of --listen, else 127.0.0.1); one without listens where
// --listen or -p/--listen-host say, as with a single mode before: at
// 127.0.0.1:8080 by default, :1080 for socks5. Two listeners on one
// address are an error.
func parseListeners(o options, listenSet bool) ([]listener, error) {
	specs := o.modes
	if len(specs) == 0 {
		specs = []string{"regular"}
	}
	plain, err := listenAddr(o, listenSet)
	if err != nil {
		return nil, err
	}
	explicit := listenSet || o.port != 0 || o.listenHost != ""
	host := o.listenHost
	if host == "" {
		host = "127.0.0.1"
		if listenSet {
			if h, _, err := net.SplitHostPort(o.listen); err == nil {
				host = h
			}
		}
	}
	var ls []listener
	seen := map[string]string{}
	for _, spec := range specs {
		modeSpec, port, err := splitModePort(spec)
		if err != nil {
			return nil, err
		}
		mode, upstream, err := proxy.ParseMode(modeSpec)
		if err != nil {
			return nil, fmt.Errorf("--mode %s", err)
		}
		addr := plain
		switch {
		case port != "":
			addr = net.JoinHostPort(host, port)
		case mode == proxy.SOCKS5 && !explicit:
			if h, _, err := net.SplitHostPort(plain); err == nil {
				addr = net.JoinHostPort(h, defaultSOCKSPort)
			}
		}
		if prev, ok := seen[addr]; ok && !strings.HasSuffix(addr, ":0") {
			return nil, fmt.Errorf("--mode %s and --mode %s would both listen on %s: give each its own port, as MODE@PORT (e.g. --mode regular@8080 --mode socks5@1080)", prev, spec, addr)
		}
		seen[addr] = spec
		ls = append(ls, listener{spec: spec, mode: mode, upstream: upstream, addr: addr})
	}
	return ls, nil
}

// splitModePort splits mitmproxy's MODE@PORT. The port is what follows
// the last @, when that is a port number: an upstream URL's user:pass@ is
// not one.
func splitModePort(spec string) (mode, port string, err error) {
	i := strings.LastIndexByte(spec, '@')
	if i < 0 {
		return spec, "", nil
	}
	p := spec[i+1:]
	if p == "" || strings.Trim(p, "0123456789") != "" {
		return spec, "", nil // user:pass@host:port
	}
	if n, err := strconv.Atoi(p); err != nil || n > 65535 {
		return "", "", fmt.Errorf("--mode %s: %q is not a port", spec, p)
	}
	return spec[:i], p, nil
}

// describe says how a client uses a listener, for the start-up lines.
func (l listener) describe(addr string, auth bool, mark int) string {
	switch l.mode {
	case proxy.Reverse:
		return "reverse proxy to " + l.upstream
	case proxy.SOCKS5:
		s := "SOCKS5 proxy (set socks5://" + addr + " as the proxy)"
		if auth {
			s += ", username and password required (--proxyauth)"
		}
		return s
	case proxy.Transparent:
		s := "transparent proxy (redirect traffic to it with nftables: see the README)"
		if mark != 0 {
			s += fmt.Sprintf(", its own upstream sockets marked %d", mark)
		}
		return s
	case proxy.UpstreamProxy:
		return "HTTP proxy (set http://" + addr + " as the proxy) reaching servers through " + redactURL(l.upstream)
	}
	return "HTTP proxy (set http://" + addr + " as the proxy)"
}

// redactURL hides a password in a URL that is shown.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}

// parseProxyAuth reads --proxyauth user:pass, which applies to socks5
// listeners.
func parseProxyAuth(s string, ls []listener) (*proxy.Credentials, error) {
	if s == "" {
		return nil, nil
	}
	user, pass, ok := strings.Cut(s, ":")
	if !ok || user == "" {
		return nil, errors.New("--proxyauth takes user:pass")
	}
	if len(user) > 255 || len(pass) > 255 {
		return nil, errors.New("--proxyauth: SOCKS5 allows at most 255 bytes of user and of password (RFC 1929)")
	}
	for _, l := range ls {
		if l.mode == proxy.SOCKS5 {
			return &proxy.Credentials{User: user, Password: pass}, nil
		}
	}
	return nil, errors.New("--proxyauth applies to SOCKS5 listeners (RFC 1929), and there is none: add --mode socks5")
}
