package proxy

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/decode"
)

// This file is the pure half of replay (issue 14): reading what the client
// of one captured connection sent, and planning how to send it again. It
// does no I/O, so a capture that cannot be replayed is refused before
// anything is dialed or sent.

// replayPlan is what Replay sends, and where.
type replayPlan struct {
	addr       string // host:port to dial
	tls        bool   // speak TLS to it
	serverName string // the name to verify
	steps      []replayStep
	notes      []string // what is not replayed as it was, for the user
}

// replayStep is one thing the client sent: an HTTP request (head and
// body bytes, ready to write) or a WebSocket message (framed when sent,
// with a fresh mask per frame).
type replayStep struct {
	at   time.Duration // since the first step, in the original
	head []byte        // request: the head and body to write
	seq  int           // request: its seq in the original
	ws   bool          // request: a WebSocket upgrade

	op     uint8   // message: opcode
	frames []int64 // message: frame payload lengths, summing to len(payload)
	data   []byte  // message: payload
}

func (s *replayStep) request() bool { return s.head != nil }

// planReplay reads connection conn of evs. to, when not empty, is a URL
// (http, https, ws, wss) to send to instead of the original server.
func planReplay(evs []capture.Event, conn uint64, to string) (*replayPlan, error) {
	var mine []*capture.Event
	for i := range evs {
		if evs[i].Conn == conn && conn != 0 {
			mine = append(mine, &evs[i])
		}
	}
	if len(mine) == 0 {
		return nil, fmt.Errorf("replay: the capture has no connection %d (it has %s)", conn, connList(evs))
	}
	pl := &replayPlan{}
	var (
		open     *capture.Event
		servers  []string
		t0       time.Time
		frames   []int64 // client data frame lengths awaiting their message
		upgraded = map[int]bool{}
	)
	for _, ev := range mine {
		switch {
		case ev.Kind == capture.KindOpen:
			open = ev
		case ev.Kind == capture.KindTLS && ev.Side == "server":
			pl.tls, pl.serverName = true, ev.SNI
		case ev.Kind == capture.KindUpgrade && strings.EqualFold(ev.Protocol, "websocket"):
			upgraded[ev.Seq] = true
		}
	}
	for _, ev := range mine {
		if ev.Kind == capture.KindRequest && ev.Scheme == "https" {
			pl.tls = true
		}
	}
	var toURL *url.URL
	if to != "" {
		u, err := parseReplayTo(to)
		if err != nil {
			return nil, err
		}
		toURL = u
		pl.addr, pl.tls, pl.serverName = u.Host, u.Scheme == "https" || u.Scheme == "wss", u.Hostname()
	}
	for _, ev := range mine {
		switch ev.Kind {
		case capture.KindRequest:
			if ev.Method == "CONNECT" {
				servers = appendNew(servers, ev.Target)
				continue // the tunnel's own: replay dials its target directly
			}
			if strings.HasPrefix(ev.Proto, "HTTP/2") {
				return nil, fmt.Errorf("replay: connection %d carries HTTP/2, which replay does not send yet", conn)
			}
			if ev.Truncated {
				return nil, fmt.Errorf("replay: the body of request %d was cut at --max-body (%d of %d bytes kept): it cannot be sent as it was", ev.Seq, len(ev.Body), ev.BodyLen)
			}
			if ev.Server != "" {
				servers = appendNew(servers, ev.Server)
			} else if a := targetAddr(ev.Method, ev.Target); a != "" {
				servers = appendNew(servers, a)
			}
			if len(pl.steps) == 0 {
				t0 = ev.Time
			}
			head, notes := replayHead(ev, toURL, upgraded[ev.Seq])
			pl.notes = append(pl.notes, notes...)
			pl.steps = append(pl.steps, replayStep{at: ev.Time.Sub(t0), head: head, seq: ev.Seq, ws: upgraded[ev.Seq]})
		case capture.KindFrame:
			if ev.From == "client" && ev.Opcode < 8 {
				frames = append(frames, ev.Len)
			}
		case capture.KindMessage:
			if ev.From != "client" {
				continue
			}
			if ev.Truncated {
				return nil, fmt.Errorf("replay: client message (%s, %d bytes) was cut at --max-message: it cannot be sent as it was", ev.Op, ev.Len)
			}
			st := replayStep{at: ev.Time.Sub(t0), data: ev.Payload}
			switch ev.Op {
			case "text":
				st.op = 1
			case "binary":
				st.op = 2
			case "ping":
				st.op = 9
			case "pong":
				st.op = 10
			case "close":
				st.op = 8
				if ev.Code != 0 {
					st.data = append([]byte{byte(ev.Code >> 8), byte(ev.Code)}, ev.Reason...)
				}
			default:
				return nil, fmt.Errorf("replay: client message of op %q cannot be sent", ev.Op)
			}
			if len(pl.steps) == 0 || !slices.ContainsFunc(pl.steps, func(s replayStep) bool { return s.ws }) {
				return nil, fmt.Errorf("replay: connection %d has WebSocket messages but no upgrade request to replay before them", conn)
			}
			if st.op < 8 {
				if n := sum(frames); ev.Compressed || n != int64(len(st.data)) || len(frames) == 0 {
					frames = []int64{int64(len(st.data))}
				}
				if ev.Compressed {
					pl.notes = appendNew(pl.notes, "compressed client messages are sent uncompressed (RSV1 clear, which permessage-deflate allows): frametap does not compress")
				}
				st.frames, frames = frames, nil
			} else {
				st.frames = []int64{int64(len(st.data))}
			}
			pl.steps = append(pl.steps, st)
		}
	}
	if len(pl.steps) == 0 {
		what := "no request"
		if open != nil && len(servers) > 0 {
			what = "only a CONNECT tunnel whose bytes were not decoded as HTTP"
		}
		return nil, fmt.Errorf("replay: connection %d has no client side to replay (%s)", conn, what)
	}
	if pl.addr == "" {
		switch {
		case len(servers) > 1:
			return nil, fmt.Errorf("replay: connection %d talked to several servers (%s): choose one with --to", conn, strings.Join(servers, ", "))
		case len(servers) == 1:
			pl.addr = servers[0]
		case open != nil && open.Server != "":
			pl.addr = open.Server
		default:
			return nil, fmt.Errorf("replay: the capture does not say which server connection %d talked to: give --to", conn)
		}
		if pl.serverName == "" {
			pl.serverName = hostOnly(pl.addr)
		}
	}
	return pl, nil
}

// parseReplayTo reads --to: scheme://host[:port], with a default port.
func parseReplayTo(to string) (*url.URL, error) {
	u, err := url.Parse(to)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("replay: --to %q: want http://host:port (or https://, ws://, wss://)", to)
	}
	port := ""
	switch u.Scheme {
	case "http", "ws":
		port = "80"
	case "https", "wss":
		port = "443"
	default:
		return nil, fmt.Errorf("replay: --to %q: unknown scheme %q; use http://, https://, ws:// or wss://", to, u.Scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("replay: --to %q: a path is not supported; the requests keep theirs", to)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	return u, nil
}

// replayHead builds the bytes of a request to send again: head and body.
// An absolute-form target (regular mode) is sent in origin-form, without
// the hop-by-hop fields, as frametap forwarded it (rewriteHead). With to,
// Host becomes to's authority; for a WebSocket upgrade, Sec-WebSocket-Key
// is a fresh one (RFC 6455 section 4.1: "randomly selected" for each
// handshake). Both are said in the notes.
func replayHead(ev *capture.Event, to *url.URL, upgrade bool) (b []byte, notes []string) {
	q := &decode.Request{Method: ev.Method, Target: ev.Target, Proto: ev.Proto}
	chunked := false
	for _, h := range ev.Headers {
		name, value := h[0], h[1]
		switch {
		case upgrade && strings.EqualFold(name, "Sec-WebSocket-Key"):
			var k [16]byte
			rand.Read(k[:])
			value = base64.StdEncoding.EncodeToString(k[:])
			notes = appendNew(notes, "Sec-WebSocket-Key is a fresh one (a handshake's key is never reused)")
		case to != nil && strings.EqualFold(name, "Host"):
			if value != to.Host {
				notes = appendNew(notes, fmt.Sprintf("Host %s is sent as %s (--to)", value, to.Host))
			}
			value = to.Host
		case strings.EqualFold(name, "Transfer-Encoding") && strings.Contains(strings.ToLower(value), "chunked"):
			chunked = true
		}
		q.Headers = append(q.Headers, decode.Header{Name: name, Value: value})
	}
	if authority, path, err := splitAbsolute(ev.Target); err == nil {
		if to != nil {
			authority = to.Host
		}
		b = rewriteHead(nil, q, path, authority)
		notes = appendNew(notes, "absolute-form targets are sent in origin-form, without hop-by-hop fields, as frametap forwarded them")
	} else {
		b = append(b, q.Method...)
		b = append(b, ' ')
		b = append(b, q.Target...)
		b = append(b, ' ')
		b = append(b, q.Proto...)
		b = append(b, "\r\n"...)
		for _, h := range q.Headers {
			b = appendField(b, h.Name, h.Value)
		}
		b = append(b, "\r\n"...)
	}
	if !chunked {
		return append(b, ev.Body...), notes
	}
	// The capture keeps the body without its chunked framing: one chunk
	// carries it, then the trailers (RFC 9112 section 7.1).
	if len(ev.Body) > 0 {
		b = fmt.Appendf(b, "%x\r\n", len(ev.Body))
		b = append(b, ev.Body...)
		b = append(b, "\r\n"...)
	}
	b = append(b, "0\r\n"...)
	for _, h := range ev.Trailers {
		b = appendField(b, h[0], h[1])
	}
	if len(ev.Body) > 0 || len(ev.Trailers) > 0 {
		notes = appendNew(notes, "chunked bodies are sent as one chunk")
	}
	return append(b, "\r\n"...), notes
}

// connList lists the connections of a capture, for an error message.
func connList(evs []capture.Event) string {
	var ids []string
	seen := map[uint64]bool{}
	for _, ev := range evs {
		if ev.Conn != 0 && !seen[ev.Conn] {
			seen[ev.Conn] = true
			ids = append(ids, fmt.Sprint(ev.Conn))
		}
	}
	switch {
	case len(ids) == 0:
		return "none"
	case len(ids) > 12:
		return strings.Join(ids[:12], ", ") + fmt.Sprintf(" and %d more", len(ids)-12)
	}
	return strings.Join(ids, ", ")
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

func sum(ns []int64) int64 {
	var t int64
	for _, n := range ns {
		t += n
	}
	return t
}
