package proxy

import (
	"fmt"
	"net"
	"strings"

	"github.com/frametap/frametap/decode"
)

// This file is the pure part of the forward proxy: reading where an
// absolute-form request goes, and writing the head it sends there. It does
// no I/O and keeps no state, so it is tested by tables.

// splitAbsolute splits an absolute-form http:// target (RFC 9112 section
// 3.2.2) into its authority and its origin-form (path and query, "/" when
// empty), keeping the bytes as the client sent them.
func splitAbsolute(target string) (authority, path string, err error) {
	scheme, rest, ok := strings.Cut(target, "://")
	if !ok {
		return "", "", fmt.Errorf("request target %q is not absolute-form: configure frametap as the HTTP proxy, or use --mode reverse:http://host:port", target)
	}
	switch strings.ToLower(scheme) {
	case "http", "ws":
	case "https", "wss":
		return "", "", fmt.Errorf("request target %q: %s:// must be tunneled with CONNECT", target, scheme)
	default:
		return "", "", fmt.Errorf("request target %q: unsupported scheme %q", target, scheme)
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, path = rest[:end], rest[end:]
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		authority = authority[i+1:] // userinfo is not sent on (RFC 9110 section 4.2.4)
	}
	if authority == "" {
		return "", "", fmt.Errorf("request target %q has no host", target)
	}
	if i := strings.IndexByte(path, '#'); i >= 0 {
		path = path[:i]
	}
	if path == "" || path[0] == '?' {
		path = "/" + path
	}
	return authority, path, nil
}

// authorityAddr adds http's default port to an authority without one.
func authorityAddr(authority string) string {
	if _, _, err := net.SplitHostPort(authority); err == nil {
		return authority
	}
	return net.JoinHostPort(strings.Trim(authority, "[]"), "80")
}

// targetAddr is the upstream a request names (CONNECT's authority, or an
// absolute-form http:// target's), or "" when it names none.
func targetAddr(method, target string) string {
	if method == "CONNECT" {
		return target
	}
	authority, _, err := splitAbsolute(target)
	if err != nil {
		return ""
	}
	return authorityAddr(authority)
}

// rewriteHead appends the head to send upstream for a request received in
// absolute-form. It changes what a forwarding proxy must and nothing else:
//
//   - the target becomes origin-form and Host the target's authority (RFC
//     9112 section 3.2.2);
//   - hop-by-hop fields go (RFC 9110 section 7.6.1): those named by
//     Connection, Keep-Alive, Proxy-Connection and Proxy-Authorization;
//     Connection keeps only the options frametap honours end to end
//     (close, keep-alive, upgrade), because it relays bodies and upgrades
//     unchanged;
//   - with Transfer-Encoding present, Content-Length goes: "An
//     intermediary that chooses to forward the message MUST first remove
//     the received Content-Length field" (RFC 9112 section 6.3);
//   - a bare CR or NUL in a field becomes SP: "a recipient of CR, LF, or
//     NUL within a field value MUST either reject the message or replace
//     each of those characters with SP before further processing or
//     forwarding" (RFC 9110 section 5.5); frametap does the same in field
//     names, where a CR would let a server that ends lines at a bare CR
//     read a field frametap did not see.
//
// Other fields keep their order, casing and values.
func rewriteHead(dst []byte, head *decode.Request, path, authority string) []byte {
	return appendHead(dst, head, path, authority, "")
}

// appendHead is rewriteHead with the request target to send given whole:
// origin-form to a server, absolute-form to an upstream HTTP proxy
// (RFC 9112 section 3.2.2: "a client MUST send the target URI in
// absolute-form" to a proxy), and, when proxyAuth is set, a
// Proxy-Authorization field with that value for the upstream proxy in
// place of the client's (which was frametap's).
func appendHead(dst []byte, head *decode.Request, target, authority, proxyAuth string) []byte {
	var keep []string // Connection options passed on
	var named map[string]bool
	chunked := false
	for _, h := range head.Headers {
		switch {
		case strings.EqualFold(h.Name, "Transfer-Encoding"):
			chunked = true
		case strings.EqualFold(h.Name, "Connection"):
			for opt := range strings.SplitSeq(h.Value, ",") {
				opt = strings.ToLower(strings.TrimSpace(opt))
				switch opt {
				case "":
				case "close", "keep-alive", "upgrade":
					keep = append(keep, opt)
				default:
					if named == nil {
						named = map[string]bool{}
					}
					named[opt] = true
				}
			}
		}
	}
	dst = append(dst, head.Method...)
	dst = append(dst, ' ')
	dst = append(dst, target...)
	dst = append(dst, ' ')
	dst = append(dst, head.Proto...)
	dst = append(dst, "\r\n"...)
	sawHost := false
	for _, h := range head.Headers {
		name := strings.ToLower(h.Name)
		switch {
		case name == "host":
			if sawHost {
				continue
			}
			sawHost = true
			dst = appendField(dst, h.Name, authority)
			continue
		case name == "connection":
			continue // rewritten below
		case name == "keep-alive", name == "proxy-connection", name == "proxy-authorization":
			continue
		case name == "content-length" && chunked:
			continue
		case named[name]:
			continue
		}
		dst = appendField(dst, h.Name, h.Value)
	}
	if !sawHost {
		dst = appendField(dst, "Host", authority)
	}
	if len(keep) > 0 {
		dst = appendField(dst, "Connection", strings.Join(keep, ", "))
	}
	if proxyAuth != "" {
		dst = appendField(dst, "Proxy-Authorization", proxyAuth)
	}
	return append(dst, "\r\n"...)
}

// appendField appends one field line, with CR, LF and NUL replaced by SP
// (see rewriteHead).
func appendField(dst []byte, name, value string) []byte {
	dst = appendSafe(dst, name)
	dst = append(dst, ": "...)
	dst = appendSafe(dst, value)
	return append(dst, "\r\n"...)
}

// appendSafe appends s with each CR, LF and NUL replaced by SP.
func appendSafe(dst []byte, s string) []byte {
	start := len(dst)
	dst = append(dst, s...)
	for i, b := range dst[start:] {
		if b == '\r' || b == '\n' || b == 0 {
			dst[start+i] = ' '
		}
	}
	return dst
}
