package main

import (
	"bytes"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/decode"
)

// What `frametap demo` must show in its capture: every way of pushing the
// feed, and HTTP/2's acts, each with correct protocol bytes. The
// Engine.IO and Socket.IO bytes are read back with frametap's own parsers
// (decode/engineio.go, decode/socketio.go), which the demo's code does not
// use.

// demoConn is one connection's events and what it was for.
type demoConn struct {
	evs    []capture.Event
	target string // the first request's target that is not a CONNECT
}

// demoConns groups a capture by connection and names each by its first
// request that is not a CONNECT.
func demoConns(evs []capture.Event) []demoConn {
	var out []demoConn
	index := map[uint64]int{}
	for _, ev := range evs {
		i, ok := index[ev.Conn]
		if !ok {
			i = len(out)
			index[ev.Conn] = i
			out = append(out, demoConn{})
		}
		c := &out[i]
		c.evs = append(c.evs, ev)
		if ev.Kind == capture.KindRequest && ev.Method != "CONNECT" && c.target == "" {
			c.target = ev.Target
		}
	}
	return out
}

// demoPath is the path of a request target, absolute-form or origin-form.
func demoPath(target string) string {
	u, err := url.Parse(target)
	if err != nil {
		return target
	}
	return u.Path
}

// connsFor returns the connections whose first request's path is path.
func connsFor(conns []demoConn, path string) []demoConn {
	var out []demoConn
	for _, c := range conns {
		if demoPath(c.target) == path {
			out = append(out, c)
		}
	}
	return out
}

func evsOf(evs []capture.Event, k capture.Kind) []capture.Event {
	var out []capture.Event
	for _, ev := range evs {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

// priceID reads the id of a price as the feed sends it.
func priceID(t *testing.T, what string, b []byte) int {
	t.Helper()
	var p struct {
		ID     int     `json:"id"`
		Symbol string  `json:"symbol"`
		Price  float64 `json:"price"`
	}
	if err := json.Unmarshal(b, &p); err != nil || p.ID < 1 || p.Symbol != "FTAP" {
		t.Errorf("%s: %q is not a price (%v)", what, b, err)
	}
	return p.ID
}

func header(hs []capture.Header, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// checkDemoCapture checks each mechanism of the demo in a capture.
func checkDemoCapture(t *testing.T, evs []capture.Event) {
	t.Helper()
	conns := demoConns(evs)
	for _, ev := range evs {
		if ev.Kind == capture.KindError {
			t.Errorf("error event on conn %d: %s", ev.Conn, ev.Msg)
		}
	}
	one := func(path string) []capture.Event {
		t.Helper()
		cs := connsFor(conns, path)
		if len(cs) == 0 {
			t.Fatalf("no connection for %s", path)
		}
		return cs[0].evs
	}

	// Short polling: one kept-alive connection, a poll a second, the same
	// answer until the price changes.
	polls := evsOf(one("/api/poll"), capture.KindResponse)
	same, last := 0, 0
	for i, ev := range polls {
		id := priceID(t, "poll", ev.Body)
		if id < last {
			t.Errorf("poll %d: price %d after %d", i+1, id, last)
		}
		if id == last {
			same++
		}
		last = id
	}
	if len(polls) < 3 || same == 0 {
		t.Errorf("polling: %d responses on one connection, %d that brought nothing new; want 3 and some", len(polls), same)
	}

	// Long-polling: each answer is the price after the one asked for,
	// held by the server until it existed.
	lp := one("/api/longpoll")
	held := 0
	var after []int
	for _, ev := range evsOf(lp, capture.KindRequest) {
		u, _ := url.Parse(ev.Target)
		n, err := strconv.Atoi(u.Query().Get("after"))
		if err != nil {
			t.Errorf("long poll %q: no after", ev.Target)
		}
		after = append(after, n)
	}
	for i, ev := range evsOf(lp, capture.KindResponse) {
		if ev.Status != 200 {
			continue
		}
		if id := priceID(t, "long poll", ev.Body); i < len(after) && id <= after[i] {
			t.Errorf("long poll after=%d answered price %d", after[i], id)
		}
		if ev.Timed && ev.Wait >= time.Second {
			held++
		}
	}
	if held < 2 {
		t.Errorf("long-polling: %d responses held 1 s or more (wait_ms), want 2", held)
	}

	// Server-Sent Events: text/event-stream, an event per price with its
	// id, and a reconnection that names the last id it had.
	sse := one("/api/stream")
	resps := evsOf(sse, capture.KindResponse)
	if len(resps) == 0 || !strings.HasPrefix(header(resps[0].Headers, "Content-Type"), "text/event-stream") {
		t.Fatalf("SSE: no text/event-stream response: %+v", resps)
	}
	var events, lastID int
	for _, ev := range sse {
		if ev.Kind == capture.KindRequest && lastID > 0 {
			// EventSource reconnects naming the last id it had.
			if got := header(ev.Headers, "Last-Event-ID"); got != strconv.Itoa(lastID) {
				t.Errorf("SSE: reconnected with Last-Event-ID %q, want %d", got, lastID)
			}
		}
		n, last := checkSSEBody(t, ev)
		events, lastID = events+n, last
	}
	// Decoded by frametap, the events are sse events, and the response
	// does not repeat them.
	lastID = 0
	for _, ev := range evsOf(sse, capture.KindSSE) {
		id := priceID(t, "sse event", ev.Payload)
		if ev.SSEType != "price" || !ev.HasSSEID || ev.SSEID != strconv.Itoa(id) || id <= lastID {
			t.Errorf("sse event %q id %q (%v) data %q after id %d", ev.SSEType, ev.SSEID, ev.HasSSEID, ev.Payload, lastID)
		}
		lastID = id
		events++
	}
	if events < 2 {
		t.Errorf("SSE: %d events, want 2", events)
	}

	// WebSocket: a price per message from the server.
	feedWS := one("/feed")
	if len(evsOf(feedWS, capture.KindUpgrade)) != 1 {
		t.Errorf("/feed: no upgrade")
	}
	n := 0
	for _, ev := range evsOf(feedWS, capture.KindMessage) {
		if ev.From == "server" && ev.Op == "text" {
			priceID(t, "/feed message", ev.Payload)
			n++
		}
	}
	if n < 2 {
		t.Errorf("/feed: %d prices pushed, want 2", n)
	}

	checkDemoH2(t, conns)
	checkDemoSocketIO(t, conns)

	// How frametap names each connection's way of pushing (the close
	// event's push).
	for path, want := range map[string]string{
		"/api/poll": "polling", "/api/longpoll": "long-polling", "/api/stream": "sse", "/feed": "websocket",
		"/h2ws/status": "websocket",
	} {
		for _, c := range connsFor(conns, path) {
			if last := c.evs[len(c.evs)-1]; last.Kind == capture.KindClose && last.Push != want {
				t.Errorf("%s: the connection's push is %q, want %q", path, last.Push, want)
			}
		}
	}
	for _, c := range connsFor(conns, "/socket.io/") {
		if last := c.evs[len(c.evs)-1]; last.Kind == capture.KindClose && last.Push != "socket.io" {
			t.Errorf("%s: the connection's push is %q, want socket.io", c.target, last.Push)
		}
	}
}

// checkSSEBody checks a response body as text/event-stream blocks and
// returns how many price events it holds and the last id (0, 0 for other
// events and for a body frametap did not keep).
func checkSSEBody(t *testing.T, ev capture.Event) (n, last int) {
	t.Helper()
	if ev.Kind != capture.KindResponse || len(ev.Body) == 0 {
		return 0, 0
	}
	blocks := bytes.Split(ev.Body, []byte("\n\n"))
	if !bytes.HasSuffix(ev.Body, []byte("\n\n")) {
		blocks = blocks[:len(blocks)-1] // a stream cut at shutdown
	}
	if !bytes.HasPrefix(blocks[0], []byte("retry: ")) {
		t.Errorf("SSE: the stream starts %q, want the retry", blocks[0])
	}
	for _, b := range blocks[1:] {
		if len(b) == 0 {
			continue
		}
		lines := strings.Split(string(b), "\n")
		if len(lines) != 3 || lines[0] != "event: price" || !strings.HasPrefix(lines[1], "id: ") || !strings.HasPrefix(lines[2], "data: ") {
			t.Errorf("SSE block %q", b)
			continue
		}
		id := priceID(t, "SSE data", []byte(strings.TrimPrefix(lines[2], "data: ")))
		if lines[1] != "id: "+strconv.Itoa(id) || id <= last {
			t.Errorf("SSE block %q after id %d", b, last)
		}
		last = id
		n++
	}
	return n, last
}

// checkDemoH2 checks HTTP/2's acts: many streams at once on one
// connection, and a WebSocket on one stream of another (RFC 8441).
func checkDemoH2(t *testing.T, conns []demoConn) {
	t.Helper()
	h2 := connsFor(conns, "/h2/index.json")
	if len(h2) != 1 {
		t.Fatalf("HTTP/2 fetches on %d connections, want 1", len(h2))
	}
	open := map[uint32]bool{}
	overlap := 0
	assets := 0
	for _, ev := range h2[0].evs {
		switch {
		case ev.Kind == capture.KindRequest && ev.Proto == "HTTP/2.0":
			open[ev.Stream] = true
			overlap = max(overlap, len(open))
			if strings.HasPrefix(ev.Target, "/h2/assets/") {
				assets++
			}
		case ev.Kind == capture.KindResponse && ev.Proto == "HTTP/2.0":
			if ev.Status != 200 {
				t.Errorf("h2 stream %d: %d", ev.Stream, ev.Status)
			}
			delete(open, ev.Stream)
		case ev.Kind == capture.KindClose:
			if !ev.H2 || ev.H2MaxOpen < 2 {
				t.Errorf("h2 close: h2 %v, up to %d streams at once", ev.H2, ev.H2MaxOpen)
			}
		}
	}
	if assets < h2Assets || overlap < 2 {
		t.Errorf("HTTP/2: %d assets, up to %d streams open at once in the capture; want %d and several", assets, overlap, h2Assets)
	}

	ws := connsFor(conns, "/h2ws/status")
	if len(ws) == 0 {
		t.Fatal("no WebSocket over HTTP/2")
	}
	var stream uint32
	var prices, sub int
	for _, ev := range ws[0].evs {
		switch {
		case ev.Kind == capture.KindRequest && ev.Protocol == "websocket":
			if ev.Method != "CONNECT" || ev.Proto != "HTTP/2.0" || ev.Target != "/h2ws/prices" {
				t.Errorf("extended CONNECT %s %s %s", ev.Method, ev.Proto, ev.Target)
			}
			stream = ev.Stream
		case ev.Kind == capture.KindUpgrade:
			if ev.Stream != stream || stream == 0 {
				t.Errorf("upgrade on stream %d, the extended CONNECT on %d", ev.Stream, stream)
			}
		case ev.Kind == capture.KindMessage:
			if ev.Stream != stream {
				t.Errorf("message on stream %d, the WebSocket is on %d", ev.Stream, stream)
			}
			switch {
			case ev.From == "server" && ev.Op == "text" && bytes.HasPrefix(ev.Payload, []byte(`{"id"`)):
				priceID(t, "WebSocket over h2", ev.Payload)
				prices++
			case ev.From == "client" && ev.Op == "text":
				sub++
			}
		}
	}
	if stream == 0 || prices < 2 || sub != 1 {
		t.Errorf("WebSocket over h2: stream %d, %d prices, %d client texts; want 2 prices and 1", stream, prices, sub)
	}
}

// checkDemoSocketIO checks the Socket.IO session: the handshake, CONNECT
// and prices over long-polling, the probe, the noop that ends the pending
// poll, the upgrade, an event with an ack and prices over the WebSocket
// of the same session.
func checkDemoSocketIO(t *testing.T, conns []demoConn) {
	t.Helper()
	var polling []capture.Event
	var wsConn []capture.Event
	for _, c := range conns {
		if demoPath(c.target) != "/socket.io/" {
			continue
		}
		if strings.Contains(c.target, "transport=websocket") {
			if wsConn == nil {
				wsConn = c.evs
			}
		} else {
			polling = append(polling, c.evs...)
		}
	}
	if polling == nil || wsConn == nil {
		t.Fatalf("Socket.IO: polling %d events, websocket %d", len(polling), len(wsConn))
	}
	var sid string
	seen := map[string]int{}
	for _, ev := range polling {
		if ev.Kind != capture.KindRequest && ev.Kind != capture.KindResponse || len(ev.Body) == 0 || ev.Status == 200 && string(ev.Body) == "ok" {
			continue
		}
		pkts, err := decode.ParseEIOPayload(ev.Body, 4)
		if err != nil {
			t.Errorf("Socket.IO polling body %q: %v", ev.Body, err)
		}
		for _, p := range pkts {
			seen["polling "+p.Type.String()]++
			switch p.Type {
			case decode.EIOOpen:
				hs, err := decode.ParseEIOOpen(p.Data)
				if err != nil || !slices.Equal(hs.Upgrades, []string{"websocket"}) {
					t.Errorf("open packet %q: %v", p.Data, err)
				}
				if sid == "" {
					sid = hs.SID
				}
			case decode.EIOMessage:
				sp, err := decode.ParseSIOPacket(p.Data)
				if err != nil {
					t.Errorf("Socket.IO packet %q: %v", p.Data, err)
				}
				seen["polling "+sp.Type.String()+" "+sp.Event]++
			}
		}
	}
	for _, want := range []string{"polling open", "polling CONNECT ", "polling EVENT price", "polling noop"} {
		if seen[want] == 0 {
			t.Errorf("Socket.IO over long-polling: no %q in %v", want, seen)
		}
	}
	if q := evsOf(wsConn, capture.KindRequest); len(q) < 2 || !strings.Contains(q[1].Target, "sid="+sid) {
		t.Errorf("Socket.IO WebSocket not of the session %q: %+v", sid, q)
	}
	var order []string
	for _, ev := range evsOf(wsConn, capture.KindMessage) {
		if ev.Op != "text" {
			continue
		}
		p, err := decode.ParseEIOMessage(ev.Payload, false, 4)
		if err != nil {
			t.Errorf("Engine.IO message %q: %v", ev.Payload, err)
			continue
		}
		what := ev.From + " " + p.Type.String()
		if p.Type == decode.EIOMessage {
			sp, err := decode.ParseSIOPacket(p.Data)
			if err != nil {
				t.Errorf("Socket.IO packet %q: %v", p.Data, err)
			}
			what += " " + sp.Type.String() + " " + sp.Event
		} else if len(p.Data) > 0 {
			what += " " + string(p.Data)
		}
		if !slices.Contains(order, what) {
			order = append(order, what)
		}
	}
	want := []string{"client ping probe", "server pong probe", "client upgrade", "client message EVENT subscribe", "server message ACK ", "server message EVENT price"}
	if got := slices.DeleteFunc(slices.Clone(order), func(s string) bool { return !slices.Contains(want, s) }); !slices.Equal(got, want) {
		t.Errorf("Socket.IO over WebSocket: %q, want in order %q", order, want)
	}
}
