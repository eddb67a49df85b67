// Package push says how a server pushes to its clients, from capture
// events: by polling, long-polling, Server-Sent Events, HTTP streaming,
// WebSocket or Socket.IO, and what each way costs on the wire (issue 10).
//
// It is pure: it reads capture events, in capture order, and keeps bounded
// state. Conn classifies one connection (the proxy writes the result as a
// close event's "push"); Summary aggregates a whole capture, or a live
// stream of events, into one Row per host and mechanism, which the
// dashboard's push view and `frametap view --headless --summary` print.
package push

import (
	"strings"
	"time"

	"github.com/frametap/frametap/capture"
)

// Mechanism names a way a server pushes to its clients, as a close event's
// "push" writes it.
type Mechanism string

const (
	None        Mechanism = "none"         // requests and responses, none repeated enough to be polling
	Polling     Mechanism = "polling"      // repeated requests of one method and path
	LongPolling Mechanism = "long-polling" // exchanges the server held at least Config.LongPoll
	SSE         Mechanism = "sse"          // a text/event-stream response
	Streaming   Mechanism = "streaming"    // a streaming response that is not SSE (NDJSON, chunks)
	WebSocket   Mechanism = "websocket"    // a WebSocket (RFC 6455, or RFC 8441 on an HTTP/2 stream)
	SocketIO    Mechanism = "socket.io"    // Engine.IO / Socket.IO, over long-polling or WebSocket
)

// rank orders mechanisms: a connection that carried several is named by
// the highest.
func (m Mechanism) rank() int {
	switch m {
	case Polling:
		return 1
	case LongPolling:
		return 2
	case Streaming:
		return 3
	case SSE:
		return 4
	case WebSocket:
		return 5
	case SocketIO:
		return 6
	}
	return 0
}

// Defaults of Config.
const (
	DefaultLongPoll = time.Second
	DefaultMinPolls = 3
)

// Config says what counts as polling and long-polling. The zero value is
// usable.
type Config struct {
	// LongPoll is the least time from a request's last byte to its
	// response's first (the response's wait_ms) that makes an exchange a
	// long poll (--long-poll). 0 means DefaultLongPoll.
	LongPoll time.Duration
	// MinPolls is how many requests of one method and path on a host make
	// them polling. 0 means DefaultMinPolls.
	MinPolls int
}

func (c Config) longPoll() time.Duration {
	if c.LongPoll <= 0 {
		return DefaultLongPoll
	}
	return c.LongPoll
}

func (c Config) minPolls() int {
	if c.MinPolls <= 0 {
		return DefaultMinPolls
	}
	return c.MinPolls
}

// connKeys bounds the method+path pairs a Conn counts: past it, requests
// of new pairs are not counted (they cannot make the connection polling).
const connKeys = 16

// Conn classifies the push mechanism of one connection from its events. It
// keeps a fixed amount of state whatever the connection carries. The zero
// value is usable with the default Config. It is not safe for concurrent
// use.
type Conn struct {
	Config
	mech  Mechanism
	keys  [connKeys]uint64 // hashes of method+path
	count [connKeys]int
	n     int
}

// Add takes the connection's next event.
func (c *Conn) Add(ev *capture.Event) {
	switch ev.Kind {
	case capture.KindRequest:
		if IsSocketIOPath(ev.Target) {
			c.raise(SocketIO)
			return
		}
		if c.countPoll(hashKey(ev.Method, pathOf(ev.Target))) >= c.minPolls() {
			c.raise(Polling)
		}
	case capture.KindResponse:
		switch {
		case ev.Streaming && IsEventStream(ev.Headers):
			c.raise(SSE)
		case ev.Streaming:
			c.raise(Streaming)
		case ev.Timed && ev.Wait >= c.longPoll() && ev.Status != 101:
			c.raise(LongPolling)
		}
	case capture.KindUpgrade:
		if strings.EqualFold(ev.Protocol, "websocket") {
			c.raise(WebSocket)
		}
	case capture.KindSSE:
		c.raise(SSE)
	case capture.KindChunk:
		c.raise(Streaming)
	case capture.KindEIO:
		c.raise(SocketIO)
	}
}

// Mechanism returns how the connection pushed, so far: the highest of what
// it carried (Socket.IO, WebSocket, SSE, streaming, long-polling, polling),
// None when nothing.
func (c *Conn) Mechanism() Mechanism {
	if c.mech == "" {
		return None
	}
	return c.mech
}

func (c *Conn) raise(m Mechanism) {
	if m.rank() > c.mech.rank() || c.mech == "" {
		c.mech = m
	}
}

// countPoll counts one request of key and returns how many there were.
func (c *Conn) countPoll(key uint64) int {
	for i := 0; i < c.n; i++ {
		if c.keys[i] == key {
			c.count[i]++
			return c.count[i]
		}
	}
	if c.n == connKeys {
		return 0
	}
	c.keys[c.n], c.count[c.n] = key, 1
	c.n++
	return 1
}

// IsSocketIOPath reports whether a request target is on Engine.IO's
// default path, /socket.io/ (origin or absolute form).
func IsSocketIOPath(target string) bool {
	return strings.Contains(pathOf(target), "/socket.io/")
}

// IsEventStream reports whether headers say Content-Type text/event-stream.
func IsEventStream(hs []capture.Header) bool {
	return mediaType(hs) == "text/event-stream"
}

// mediaType is the Content-Type's type/subtype, lower case, "" when none.
func mediaType(hs []capture.Header) string {
	for _, h := range hs {
		if strings.EqualFold(h[0], "Content-Type") {
			v, _, _ := strings.Cut(h[1], ";")
			return strings.ToLower(strings.TrimSpace(v))
		}
	}
	return ""
}

// pathOf is a request target's path: the origin form's part before "?",
// the absolute form's after its authority.
func pathOf(target string) string {
	if i := strings.Index(target, "://"); i >= 0 {
		rest := target[i+3:]
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return "/"
		}
		target = rest[j:]
	}
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	return target
}

// hashKey is FNV-1a of method, a space and path.
func hashKey(method, path string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(method); i++ {
		h = (h ^ uint64(method[i])) * 1099511628211
	}
	h = (h ^ ' ') * 1099511628211
	for i := 0; i < len(path); i++ {
		h = (h ^ uint64(path[i])) * 1099511628211
	}
	return h
}

// hashBytes is FNV-1a of p.
func hashBytes(p []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range p {
		h = (h ^ uint64(c)) * 1099511628211
	}
	return h
}
