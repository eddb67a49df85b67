package har

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/frametap/frametap/capture"
)

// Summary says what Events made of a HAR.
type Summary struct {
	Entries  int // entries shown
	Conns    int // connections they were grouped into
	Messages int // WebSocket messages shown
	Skipped  int // entries and messages left out (see Note)
	// Note is the text of the note event: what the HAR held, how its
	// entries were grouped, and what a HAR cannot tell.
	Note string
}

// Mode is the "mode" of the open events Events makes: the connections
// come from a HAR file, not from a proxy.
const Mode = "har"

// NoClient is the "client" of the open events Events makes: a HAR does not
// say where its requests came from.
const NoClient = "(not in HAR)"

// group is the entries of one connection.
type group struct {
	key     string
	id      uint64
	entries []int // indices into File.Entries, in the order they started
	start   time.Time
}

// Events turns a HAR into capture events, in the order a capture would
// have them, for the dashboard and the headless printer; name is the
// file's name for the note. The first event is the note: an error event
// on connection 0 (where a capture's gap events go) that says what the
// HAR held and what a HAR cannot tell.
//
// Entries are grouped into connections by _connectionId (Chrome,
// frametap); by connection when the HAR is an older Chrome's, which wrote
// the connection id there (current Chrome and Firefox write the server's
// port, which many connections share); and otherwise each entry is a
// connection of its own. An entry's seq is its _seq (frametap), else its
// place on its connection. An entry with a date that does not parse, or a
// message Chrome's importer would skip (no time, opcode or data, or a type
// other than send, receive or error), is left out and counted in the note.
func (f *File) Events(name string) ([]*capture.Event, Summary) {
	var sum Summary
	var skippedEntries, skippedMsgs int
	starts := make([]time.Time, len(f.Entries))
	hasConnID := false
	for i := range f.Entries {
		if id := f.Entries[i].ConnectionID; id.Set && id.V != "" && id.V != "0" {
			hasConnID = true
		}
		t, err := parseDate(f.Entries[i].StartedDateTime)
		if err != nil {
			starts[i] = time.Time{}
			continue
		}
		starts[i] = t
	}
	oldChrome := !hasConnID && f.Creator.Name == "WebInspector"

	// Group the entries into connections.
	groups := map[string]*group{}
	var order []*group
	idx := make([]int, 0, len(f.Entries))
	for i := range f.Entries {
		if starts[i].IsZero() {
			skippedEntries++
			continue
		}
		idx = append(idx, i)
	}
	slices.SortStableFunc(idx, func(a, b int) int { return starts[a].Compare(starts[b]) })
	for _, i := range idx {
		e := &f.Entries[i]
		key := "entry:" + strconv.Itoa(i)
		switch {
		case e.ConnectionID.Set && e.ConnectionID.V != "" && e.ConnectionID.V != "0":
			key = "id:" + e.ConnectionID.V
		case oldChrome && e.Connection.Set && e.Connection.V != "":
			key = "id:" + e.Connection.V
		}
		g := groups[key]
		if g == nil {
			g = &group{key: key, start: starts[i]}
			groups[key] = g
			order = append(order, g)
		}
		g.entries = append(g.entries, i)
	}
	// Connection ids: a numeric _connectionId is kept (so a HAR frametap
	// wrote shows its connections under their numbers), others counted
	// on from the largest.
	used := map[uint64]bool{}
	for _, g := range order {
		if n, err := strconv.ParseUint(strings.TrimPrefix(g.key, "id:"), 10, 64); err == nil && strings.HasPrefix(g.key, "id:") && n > 0 && !used[n] {
			g.id = n
			used[n] = true
		}
	}
	next := uint64(0)
	for n := range used {
		next = max(next, n)
	}
	for _, g := range order {
		if g.id == 0 {
			next++
			g.id = next
		}
	}

	var evs []*capture.Event
	for _, g := range order {
		cb := connBuilder{f: f, g: g, starts: starts, connIsPort: !oldChrome}
		cb.build()
		evs = append(evs, cb.evs...)
		skippedMsgs += cb.skipped
		sum.Messages += cb.messages
		sum.Entries += len(g.entries)
	}
	sum.Conns = len(order)
	sum.Skipped = skippedEntries + skippedMsgs
	// Connections interleave by time; each one's events stay in order
	// (their times never go back).
	slices.SortStableFunc(evs, func(a, b *capture.Event) int { return a.Time.Compare(b.Time) })

	sum.Note = f.note(name, sum, hasConnID, oldChrome, skippedEntries, skippedMsgs)
	noteAt := time.Time{}
	if len(evs) > 0 {
		noteAt = evs[0].Time
	}
	return append([]*capture.Event{{Kind: capture.KindError, Time: noteAt, Msg: sum.Note}}, evs...), sum
}

// note says what the HAR held and what it cannot tell.
func (f *File) note(name string, sum Summary, hasConnID, oldChrome bool, skippedEntries, skippedMsgs int) string {
	writer := strings.TrimSpace(f.Creator.Name + " " + f.Creator.Version)
	if writer == "" {
		writer = "an unnamed writer"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "HAR file %s, written by %s: %s", name, writer, plural(sum.Entries, "entry", "entries"))
	if sum.Messages > 0 {
		fmt.Fprintf(&b, " and %s", plural(sum.Messages, "WebSocket message", "WebSocket messages"))
	}
	fmt.Fprintf(&b, ", shown as %s", plural(sum.Conns, "connection", "connections"))
	switch {
	case hasConnID:
		b.WriteString(" (grouped by _connectionId; entries without one are a connection each)")
	case oldChrome:
		b.WriteString(" (grouped by connection, where this older Chrome wrote its connection id)")
	default:
		b.WriteString(" (one per entry: this HAR has no _connectionId, and its connection field, a port, does not tell connections apart)")
	}
	if skippedEntries > 0 {
		fmt.Fprintf(&b, "; %s left out: no startedDateTime that parses", plural(skippedEntries, "entry", "entries"))
	}
	if skippedMsgs > 0 {
		fmt.Fprintf(&b, "; %s left out: no time, opcode or data, or a type other than send, receive or error (Chrome's importer skips them too)", plural(skippedMsgs, "WebSocket message", "WebSocket messages"))
	}
	b.WriteString(". A HAR cannot tell what a capture does: the WebSocket frames (messages show 0 frames unless frametap wrote the HAR), the TCP connections beyond connection ids, each exchange's place on its connection (seq counts entries unless the HAR has _seq), the bytes on the wire (close events say 0), when connections opened and closed (the first and last entry's times stand in), and the exact bodies (browsers write them decoded, after Content-Encoding, and may leave them out).")
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

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
		resp.Timed, resp.SendMS, resp.WaitMS, resp.ReceiveMS = true, send, wait, recv
	}
	ssl, okSSL := t.SSL.known()
	if okSSL {
		resp.TLSMS = ssl
	}
	if c, ok := t.Connect.known(); ok {
		resp.ConnectMS = max(c-max(ssl, 0), 0) // HAR: ssl is part of connect
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

// contentBytes decodes a body or payload: base64 when encoding says so
// (standard, or URL-safe, with or without padding), the text's bytes
// otherwise or when it is not base64 after all.
func contentBytes(text, encoding string) []byte {
	if !strings.EqualFold(encoding, "base64") {
		return []byte(text)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(text); err == nil {
			return b
		}
	}
	return []byte(text)
}

// serverAddr is the entry's server as host:port: serverIPAddress (else
// the URL's host) with the port from connection when that is a port
// (connIsPort: all but older Chrome's HARs), else from the URL.
func serverAddr(e *InEntry, connIsPort bool) string {
	u, _ := url.Parse(e.Request.URL)
	host := strings.Trim(e.ServerIPAddress.V, "[]")
	if host == "" && u != nil {
		host = u.Hostname()
	}
	if host == "" {
		return ""
	}
	port := ""
	if p, err := strconv.ParseUint(e.Connection.V, 10, 16); connIsPort && err == nil && p > 0 {
		port = e.Connection.V
	} else if u != nil {
		port = u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "ws": "80", "https": "443", "wss": "443"}[u.Scheme]
		}
	}
	if port == "" {
		return host
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

func inHeaders(hs []inNameValue) []capture.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]capture.Header, len(hs))
	for i, h := range hs {
		out[i] = capture.Header{h.Name.V, h.Value.V}
	}
	return out
}

// wsAccept is the Sec-WebSocket-Accept that answers key (RFC 6455
// section 4.2.2).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// parseDate reads startedDateTime: ISO 8601 as the writers write it, with
// a zone (Z or an offset) and any number of fraction digits.
func parseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, err
	}
	if t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("year %d", t.Year())
	}
	return t.UTC(), nil
}

// sumKnown adds the timings that are known, in milliseconds.
func sumKnown(ns ...flexNum) float64 {
	var s float64
	for _, n := range ns {
		if v, ok := n.known(); ok && !math.IsInf(v, 0) {
			s += v
		}
	}
	return s
}

func known0(n flexNum) float64 {
	v, _ := n.known()
	if math.IsInf(v, 0) {
		return 0
	}
	return v
}

// msDuration converts milliseconds, bounded to a day so that a wild value
// cannot overflow a time.
func msDuration(v float64) time.Duration {
	return time.Duration(min(max(v, 0), 24*3600*1000) * float64(time.Millisecond))
}
