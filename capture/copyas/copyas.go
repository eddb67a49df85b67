// Package copyas renders captured traffic as commands a person can run
// again, as Chrome's "Copy as cURL" does: an HTTP exchange as a curl
// command, a WebSocket connection as a websocat command line and the
// messages its client sent. It is pure (events in, text out) and depends
// on capture only; the dashboard writes what it renders to a file or the
// clipboard.
//
// The commands are for POSIX shells (sh, bash, zsh): every argument that
// is not a plain word is single-quoted, so nothing in a header or a body
// is expanded; a body that is not printable text is fed on standard input
// by printf, with its bytes as octal escapes, so any byte (NUL included)
// survives.
package copyas

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/frametap/frametap/capture"
)

// Errors of the renderers.
var (
	// ErrNotRequest: Curl was given an event that is not a request.
	ErrNotRequest = errors.New("copyas: not a request event")
	// ErrTruncated: the capture kept only the first bytes of the body or
	// payload (--max-body, --max-message): a command would send less than
	// the original did.
	ErrTruncated = errors.New("copyas: the capture kept only part of it")
	// ErrNoWebSocket: the events hold no WebSocket upgrade request.
	ErrNoWebSocket = errors.New("copyas: no WebSocket handshake in these events")
)

// Curl renders the request event req as a curl command that sends the same
// request: its method, URL (scheme://host and the target as sent), header
// lines in order and body. Headers curl would add on its own (User-Agent,
// Accept, Content-Type and Expect with a body) are turned off when the
// original did not have them; Content-Length is left to curl, Host too
// when it is the URL's. Proxy-* fields (for frametap as the proxy) are
// left out. A chunked request is sent chunked again, as one chunk, without
// its trailers.
func Curl(req *capture.Event) (string, error) {
	if req == nil || req.Kind != capture.KindRequest {
		return "", ErrNotRequest
	}
	if req.Truncated {
		return "", fmt.Errorf("%w: request body %d of %d bytes", ErrTruncated, len(req.Body), req.BodyLen)
	}
	url, authority := requestURL(req, "http", "https")
	var args []string
	switch {
	case req.Method == "HEAD":
		args = append(args, "--head")
	case req.Method == "GET" && len(req.Body) == 0, req.Method == "POST" && len(req.Body) > 0:
	default:
		args = append(args, "-X", shellQuote(req.Method))
	}
	switch req.Proto {
	case "HTTP/1.0":
		args = append(args, "--http1.0")
	default:
		args = append(args, "--http1.1")
	}
	has := map[string]bool{}
	for _, h := range req.Headers {
		name := strings.ToLower(h[0])
		has[name] = true
		switch {
		case name == "content-length":
			continue
		case name == "host" && h[1] == authority:
			continue
		case strings.HasPrefix(name, "proxy-"):
			continue
		}
		args = append(args, "-H", shellQuote(headerArg(h[0], h[1])))
	}
	off := []string{"User-Agent", "Accept"}
	if len(req.Body) > 0 {
		off = append(off, "Content-Type", "Expect")
	}
	for _, name := range off {
		if !has[strings.ToLower(name)] {
			args = append(args, "-H", shellQuote(name+":"))
		}
	}
	prefix := ""
	if len(req.Body) > 0 {
		if plainText(req.Body) && req.Body[0] != '@' {
			args = append(args, "--data-raw", shellQuote(string(req.Body)))
		} else {
			prefix = printfBytes(req.Body) + " | "
			args = append(args, "--data-binary", "@-")
		}
	}
	if strings.ContainsAny(url, "[]{}") {
		args = append(args, "--globoff") // curl would read them as URL globs
	}
	if strings.Contains(req.Target, "/.") {
		args = append(args, "--path-as-is") // curl would squash /../ and /./
	}
	args = append(args, shellQuote(url))
	return prefix + "curl " + strings.Join(args, " "), nil
}

// requestURL rebuilds the URL a request was for: an absolute-form target
// as it is, else scheme://authority/target with the scheme from req.Scheme
// (TLS that frametap terminated) and the authority from req.Host. It also
// returns the authority.
func requestURL(req *capture.Event, plain, secure string) (url, authority string) {
	if i := strings.Index(req.Target, "://"); i > 0 && !strings.HasPrefix(req.Target, "/") {
		rest := req.Target[i+3:]
		authority = rest
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			authority = rest[:j]
		}
		return req.Target, authority
	}
	scheme := plain
	if req.Scheme == "https" || req.Scheme == "wss" {
		scheme = secure
	}
	authority = req.Host
	for _, h := range req.Headers {
		if authority == "" && strings.EqualFold(h[0], "Host") {
			authority = h[1]
		}
	}
	return scheme + "://" + authority + req.Target, authority
}

// headerArg is a header line for curl's -H: "Name: value", or "Name;"
// for an empty value ("Name:" would remove the header instead).
func headerArg(name, value string) string {
	if value == "" {
		return name + ";"
	}
	return name + ": " + value
}

// plainText reports whether b is UTF-8 text without control characters
// other than tab, CR and LF: safe between single quotes and on a screen.
func plainText(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f {
			return false
		}
	}
	return true
}

// printfBytes is a printf command that writes b exactly: printable ASCII
// as it is, every other byte (and %, \, ') as an octal escape, which
// POSIX printf interprets in its format.
func printfBytes(b []byte) string {
	var s strings.Builder
	s.WriteString("printf '")
	for _, c := range b {
		if c >= 0x20 && c < 0x7f && c != '%' && c != '\\' && c != '\'' {
			s.WriteByte(c)
			continue
		}
		fmt.Fprintf(&s, `\%03o`, c)
	}
	s.WriteString("'")
	return s.String()
}

// shellQuote returns s as one shell word: as it is when it holds only
// characters no shell treats specially, else in single quotes (inside
// which a single quote is written '\”).
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:@=,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
