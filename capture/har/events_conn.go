package har

import (
	"encoding/json"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/frametap/frametap/capture"
)

// This file makes the events of one connection of a HAR: per entry a
// request, a response (or the error that replaced it), and for a
// WebSocket its upgrade and messages.

// connBuilder makes the events of one connection.
type connBuilder struct {
	f          *File
	g          *group
	starts     []time.Time
	connIsPort bool // an entry's connection field is the server's port
	evs        []*capture.Event
	last       time.Time
	skipped    int
	messages   int
	ws         bool            // a WebSocket entry was seen
	closeBy    string          // who sent the first close message
	closeDir   map[string]bool // directions close messages went
	clean      *bool           // frametap's _webSocketClose.clean
	aborted    bool            // HTTP Toolkit's _webSocketClose "aborted"
}

// add appends ev at time t, never earlier than the connection's last event
// (a capture's times never go back within a connection).
func (cb *connBuilder) add(ev *capture.Event, t time.Time) {
	if t.Before(cb.last) {
		t = cb.last
	}
	cb.last = t
	ev.Conn, ev.Time = cb.g.id, t
	cb.evs = append(cb.evs, ev)
}

func (cb *connBuilder) build() {
	f, g := cb.f, cb.g
	first := &f.Entries[g.entries[0]]
	cb.add(&capture.Event{Kind: capture.KindOpen, Client: NoClient, Server: serverAddr(first, cb.connIsPort), Mode: Mode}, g.start)
	for n, i := range g.entries {
		cb.entry(&f.Entries[i], cb.starts[i], n+1)
	}
	cl := &capture.Event{Kind: capture.KindClose, WebSocket: cb.ws}
	if cb.ws {
		cl.WSClosedBy = cb.closeBy
		switch {
		case cb.clean != nil:
			cl.WSCloseClean = *cb.clean
		default:
			cl.WSCloseClean = cb.closeDir["client"] && cb.closeDir["server"] && !cb.aborted
		}
		if cb.aborted {
			cl.Err = "the WebSocket was aborted (HTTP Toolkit's _webSocketClose)"
		}
	}
	cb.add(cl, cb.last)
}

// entry makes the events of one entry: its request, its response or the
// error that replaced it, and for a WebSocket its upgrade and messages.
func (cb *connBuilder) entry(e *InEntry, start time.Time, n int) {
	seq := n
	if s, ok := e.Seq.known(); ok && s >= 1 && s <= math.MaxInt32 {
		seq = int(s)
	}
	var stream uint32
	if s, ok := e.Stream.known(); ok && s <= math.MaxUint32 {
		stream = uint32(s)
	}
	u, _ := url.Parse(e.Request.URL)
	secure := u != nil && (u.Scheme == "https" || u.Scheme == "wss")
	t := e.Timings
	sent := start.Add(msDuration(sumKnown(t.Blocked, t.DNS, t.Connect, t.Send)))

	req := &capture.Event{
		Kind: capture.KindRequest, Seq: seq, Stream: stream,
		Method: e.Request.Method, Proto: e.Request.HTTPVersion,
		Server: serverAddr(e, cb.connIsPort), Headers: inHeaders(e.Request.Headers), Trailers: inHeaders(e.Request.Trailers),
	}
	if u != nil {
		req.Host = u.Host
		req.Target = u.RequestURI()
	} else {
		req.Target = e.Request.URL
	}
	if secure {
		req.Scheme = "https"
	}
	if pd := e.Request.PostData; pd != nil && pd.Text.Set {
		req.Body = []byte(pd.Text.V)
	} else if c := e.Request.Content; c != nil && c.Text.Set {
		req.Body = contentBytes(c.Text.V, c.Encoding)
	}
	req.BodyLen = int64(len(req.Body))
	if n, ok := e.Request.BodySize.known(); ok && int64(n) > req.BodyLen {
		req.BodyLen, req.Truncated = int64(n), true
	}
	cb.add(req, sent)

	end := start.Add(msDuration(max(sumKnown(t.Blocked, t.DNS, t.Connect, t.Send, t.Wait, t.Receive), known0(e.Time))))
	status, _ := e.Response.Status.known()
	ws := strings.EqualFold(e.ResourceType, "websocket") || len(e.WebSocketMessages) > 0
	if ws {
		// A WebSocket entry's time may run to its close: its handshake
		// was answered before the first message at the latest.
		for _, m := range e.WebSocketMessages {
			if v, ok := m.Time.known(); ok && v < 1e11 {
				if at := time.UnixMicro(int64(math.Round(v * 1e6))).UTC(); at.Before(end) {
					end = at
				}
			}
		}
	}
	if status <= 0 {
		msg := "no response"
		if e.Response.Error.Set && e.Response.Error.V != "" {
			msg += ": " + e.Response.Error.V
		}
		cb.add(&capture.Event{Kind: capture.KindError, Msg: msg}, end)
	} else {
		cb.response(e, seq, stream, status, end)
	}
	if ws && status > 0 {
		cb.websocket(e, req, seq, stream, secure, end)
	}
}

// response makes an entry's response event.
func (cb *connBuilder) response(e *InEntry, seq int, stream uint32, status float64, end time.Time) {
	r := e.Response
	resp := &capture.Event{
		Kind: capture.KindResponse, Seq: seq, Stream: stream, Status: int(status), StatusText: r.StatusText,
		Proto: r.HTTPVersion, Server: serverAddr(e, cb.connIsPort), Headers: inHeaders(r.Headers), Trailers: inHeaders(r.Trailers),
	}
	if r.Content.Text.Set {
		resp.Body = contentBytes(r.Content.Text.V, r.Content.Encoding)
	}
	resp.BodyLen = int64(len(resp.Body))
	size, ok := r.Content.Size.known()
	if !ok || size == 0 {
		size, ok = r.BodySize.known()
	}
	if ok && int64(size) > resp.BodyLen {
		resp.BodyLen, resp.Truncated = int64(size), true
	}
	t := e.Timings
	send, okS := t.Send.known()
	wait, okW := t.Wait.known()
	recv, okR := t.Receive.known()
	if okS && okW && okR {
		resp.Timed, resp.Send, resp.Wait, resp.Receive = true, msDuration(send), msDuration(wait), msDuration(recv)
	}
	ssl, okSSL := t.SSL.known()
	if okSSL {
		resp.TLSTime = msDuration(ssl)
	}
	if c, ok := t.Connect.known(); ok {
		resp.Connect = msDuration(max(c-max(ssl, 0), 0)) // HAR: ssl is part of connect
	}
	cb.add(resp, end)
}

// websocket makes a WebSocket entry's upgrade and messages.
func (cb *connBuilder) websocket(e *InEntry, req *capture.Event, seq int, stream uint32, secure bool, at time.Time) {
	cb.ws = true
	if cb.closeDir == nil {
		cb.closeDir = map[string]bool{}
	}
	rh := e.Response.Headers
	up := &capture.Event{Kind: capture.KindUpgrade, Seq: seq, Stream: stream, Protocol: "websocket"}
	var respH []capture.Header = inHeaders(rh)
	up.Subprotocol = header(respH, "Sec-WebSocket-Protocol")
	up.Extensions = header(respH, "Sec-WebSocket-Extensions")
	if key, accept := header(req.Headers, "Sec-WebSocket-Key"), header(respH, "Sec-WebSocket-Accept"); key != "" {
		up.AcceptOK = accept == wsAccept(key)
	}
	if secure {
		up.Scheme = "wss"
	}
	cb.add(up, at)
	for _, m := range e.WebSocketMessages {
		cb.message(m, stream)
	}
	cb.wsClose(e.WebSocketClose)
}

// message makes one message event, or an error event for Chrome's
// "error" frames; a message Chrome's importer would skip is counted.
func (cb *connBuilder) message(m InWSMessage, stream uint32) {
	if !m.Time.Set || !m.Opcode.Set || !m.Data.Set {
		cb.skipped++
		return
	}
	if math.IsNaN(m.Time.V) || m.Time.V < 0 || m.Time.V > 1e11 {
		cb.skipped++ // not a time since the epoch in seconds
		return
	}
	at := time.UnixMicro(int64(math.Round(m.Time.V * 1e6))).UTC()
	var from string
	switch m.Type {
	case "send":
		from = "client"
	case "receive":
		from = "server"
	case "error":
		cb.add(&capture.Event{Kind: capture.KindError, Msg: "WebSocket error (HAR): " + m.Data.V}, at)
		return
	default:
		cb.skipped++
		return
	}
	op := opName(m.Opcode.V)
	if op == "" {
		cb.skipped++
		return
	}
	ev := &capture.Event{Kind: capture.KindMessage, From: from, Op: op, Stream: stream, Compressed: m.Compressed, Truncated: m.Truncated}
	if op == "text" && m.Encoding != "base64" {
		ev.Payload = []byte(m.Data.V)
	} else {
		ev.Payload = contentBytes(m.Data.V, "base64")
	}
	if op == "close" {
		if len(ev.Payload) >= 2 {
			ev.Code = int(ev.Payload[0])<<8 | int(ev.Payload[1])
			ev.Reason = string(ev.Payload[2:])
		}
		if !cb.closeDir["client"] && !cb.closeDir["server"] {
			cb.closeBy = from
		}
		cb.closeDir[from] = true
	}
	ev.Len = int64(len(ev.Payload))
	if n, ok := m.Length.known(); ok {
		ev.Len = int64(n)
	}
	ev.WireLen = ev.Len
	if n, ok := m.WireLength.known(); ok {
		ev.WireLen = int64(n)
	}
	if n, ok := m.Frames.known(); ok && n <= math.MaxInt32 {
		ev.Frames = int(n)
	}
	if op == "close" {
		ev.Payload = nil // a close event carries code and reason
	}
	cb.messages++
	cb.add(ev, at)
}

// wsClose reads _webSocketClose: frametap's {code, reason, by, clean},
// HTTP Toolkit's {code, reason, timestamp} or "aborted".
func (cb *connBuilder) wsClose(raw json.RawMessage) {
	if len(raw) == 0 || string(raw) == "null" {
		return
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		cb.aborted = s == "aborted"
		return
	}
	var c struct {
		By    string `json:"by"`
		Clean *bool  `json:"clean"`
	}
	if json.Unmarshal(raw, &c) != nil {
		return
	}
	if c.By == "client" || c.By == "server" {
		cb.closeBy = c.By
	}
	cb.clean = c.Clean
}

// opName names an RFC 6455 opcode as message events do; "" for one that
// no message has.
func opName(v float64) string {
	switch v {
	case 0:
		return "continuation"
	case 1:
		return "text"
	case 2:
		return "binary"
	case 8:
		return "close"
	case 9:
		return "ping"
	case 10:
		return "pong"
	}
	return ""
}
