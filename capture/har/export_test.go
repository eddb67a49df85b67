package har

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

var update = flag.Bool("update", false, "rewrite the golden HAR files in testdata")

// readCapture reads a capture fixture from testdata.
func readCapture(t *testing.T, name string) []*capture.Event {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	evs, err := capture.Read(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out := make([]*capture.Event, len(evs))
	for i := range evs {
		out[i] = &evs[i]
	}
	return out
}

// export builds and writes the HAR of evs, checks that it is JSON that
// Chrome DevTools imports, and returns it written and parsed back.
func export(t *testing.T, evs []*capture.Event, opt Options) ([]byte, *HAR, Stats) {
	t.Helper()
	h, st := Build(evs, opt)
	var buf bytes.Buffer
	if err := Write(&buf, h); err != nil {
		t.Fatal(err)
	}
	requireChromeImport(t, buf.Bytes())
	var back HAR
	dec := json.NewDecoder(bytes.NewReader(buf.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&back); err != nil {
		t.Fatalf("the HAR does not read back: %v\n%s", err, buf.Bytes())
	}
	if !reflect.DeepEqual(&back, h) {
		t.Errorf("Write lost something: read back %+v\nwant %+v", back, h)
	}
	return buf.Bytes(), h, st
}

// golden compares b with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, b []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("%s differs from what Build and Write make (run with -update after checking the diff):\n%s", path, b)
	}
}

// TestBuildExample exports the capture format's example: two kept-alive
// exchanges, then a WebSocket with permessage-deflate.
func TestBuildExample(t *testing.T) {
	evs := readCapture(t, "example.jsonl")
	b, h, st := export(t, evs, Options{Creator: Creator{Name: "frametap", Version: "test"}})
	golden(t, "example.har", b)
	if st.Entries != 3 || st.WebSockets != 1 || st.Messages != 6 || st.Tunnels != 0 || st.Orphans != 0 {
		t.Errorf("stats %+v", st)
	}
	es := h.Log.Entries
	if len(es) != 3 {
		t.Fatalf("%d entries", len(es))
	}
	for i, e := range es {
		if e.Seq != i+1 || e.ConnectionID != "3" || e.Connection != "80" || e.ServerIPAddress != "" {
			t.Errorf("entry %d: seq %d, _connectionId %q, connection %q, serverIPAddress %q; want %d, 3, 80 and none (example.com is a name)",
				i, e.Seq, e.ConnectionID, e.Connection, e.ServerIPAddress, i+1)
		}
	}
	get, post, ws := es[0], es[1], es[2]
	if get.Request.URL != "http://example.com/" || get.ResourceType != "document" || get.Response.Content.Text != string(evs[2].Body) ||
		get.Response.Content.MimeType != "text/html; charset=utf-8" || get.Response.Content.Size != 68 || get.Response.Content.Encoding != "" {
		t.Errorf("GET /: %+v", get)
	}
	if get.StartedDateTime != "2025-03-14T19:51:02.123901Z" || get.Timings.Wait != 1.519 || get.Time != 1.519 ||
		get.Timings.Send != -1 || get.Timings.Receive != -1 || get.Timings.Connect != -1 {
		t.Errorf("GET / times from the events: started %s, time %v, timings %+v", get.StartedDateTime, get.Time, get.Timings)
	}
	// A body that is not UTF-8 cannot be postData's text.
	if post.Request.PostData != nil || post.Request.BodyStatus != "discarded:not-representable" || post.Request.Content == nil ||
		post.Request.Content.Text != base64.StdEncoding.EncodeToString(evs[3].Body) || post.Request.Content.Encoding != "base64" || post.Request.BodySize != 6 {
		t.Errorf("binary POST body: %+v", post.Request)
	}
	if ws.ResourceType != "websocket" || ws.Request.URL != "ws://example.com/chat" || ws.Response.Status != 101 {
		t.Errorf("WebSocket entry: %s %s %d", ws.ResourceType, ws.Request.URL, ws.Response.Status)
	}
	want := []WebSocketMessage{
		{Type: "send", Time: 1741981862.129666, Opcode: 1, Data: "hello", Frames: 1, Compressed: true, WireLength: 7, Length: 5},
		{Type: "receive", Time: 1741981862.130549, Opcode: 9, Data: "", Frames: 1},
		{Type: "receive", Time: 1741981862.130606, Opcode: 2, Data: "AAEC/v8=", Frames: 2, WireLength: 5, Length: 5},
		{Type: "send", Time: 1741981862.130858, Opcode: 10, Data: "", Frames: 1},
		{Type: "send", Time: 1741981862.132576, Opcode: 8, Data: base64.StdEncoding.EncodeToString([]byte("\x03\xe8bye")), Frames: 1, WireLength: 5, Length: 5},
		{Type: "receive", Time: 1741981862.132844, Opcode: 8, Data: "A+g=", Frames: 1, WireLength: 2, Length: 2},
	}
	if ws.WebSocketMessages == nil || !reflect.DeepEqual(*ws.WebSocketMessages, want) {
		t.Errorf("messages:\n got %+v\nwant %+v", ws.WebSocketMessages, want)
	}
	if c := ws.WebSocketClose; c == nil || *c != (WebSocketClose{Code: 1000, Reason: "bye", By: "client", Clean: true}) {
		t.Errorf("_webSocketClose %+v", c)
	}
}

// TestBuildHTTP2 exports HTTP/2 exchanges as issue 9 records them:
// streams answered out of order, seq after the CONNECT's 1, pseudo-header
// fields, and a WebSocket over an extended CONNECT (RFC 8441) whose
// messages carry its stream; h2frame events are not entries.
func TestBuildHTTP2(t *testing.T) {
	evs := readCapture(t, "h2.jsonl")
	b, h, st := export(t, evs, Options{})
	golden(t, "h2.har", b)
	if st.Entries != 4 || st.Tunnels != 1 || st.Orphans != 0 || st.Unanswered != 0 || st.WebSockets != 1 || st.Messages != 4 {
		t.Errorf("stats %+v", st)
	}
	type row struct {
		seq     int
		stream  uint32
		method  string
		url     string
		status  int
		body    string
		version string
		rtype   string
	}
	var got []row
	for _, e := range h.Log.Entries {
		got = append(got, row{e.Seq, e.Stream, e.Request.Method, e.Request.URL, e.Response.Status, e.Response.Content.Text, e.Response.HTTPVersion, e.ResourceType})
	}
	want := []row{
		{2, 1, "GET", "https://127.0.0.1:8443/api/1?x=1", 200, "{\"answer\":\"one\"}\n", "HTTP/2.0", "fetch"},
		{3, 3, "GET", "https://127.0.0.1:8443/api/2", 200, "answer 2", "HTTP/2.0", "fetch"},
		{4, 5, "POST", "https://127.0.0.1:8443/api/form", 204, "", "HTTP/2.0", "other"},
		{5, 7, "CONNECT", "wss://127.0.0.1:8443/chat", 200, "", "HTTP/2.0", "websocket"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries:\n got %+v\nwant %+v", got, want)
	}
	first := h.Log.Entries[0]
	if first.Request.Headers[0] != (NameValue{":method", "GET"}) || first.ServerIPAddress != "127.0.0.1" || first.Connection != "8443" {
		t.Errorf("first entry: headers %v, server %s port %s", first.Request.Headers, first.ServerIPAddress, first.Connection)
	}
	// The exchange timings of issue 13: ssl is part of connect.
	if tm := first.Timings; tm != (Timings{Blocked: -1, DNS: -1, SSL: 3.2, Connect: 4, Send: 0, Wait: 2.2, Receive: 0.1}) || first.Time != 6.3 {
		t.Errorf("timings %+v, time %v", tm, first.Time)
	}
	if !reflect.DeepEqual(first.Request.QueryString, []NameValue{{"x", "1"}}) {
		t.Errorf("queryString %v", first.Request.QueryString)
	}
	if cs := first.Response.Cookies; len(cs) != 1 || cs[0] != (Cookie{Name: "sid", Value: "abc", Path: "/", Expires: "2026-10-21T07:28:00Z", HTTPOnly: true, Secure: true, SameSite: "Lax"}) {
		t.Errorf("response cookies %+v", cs)
	}
	form := h.Log.Entries[2].Request
	if form.PostData == nil || form.PostData.Text != "a=1&b=two+three" || !reflect.DeepEqual(form.PostData.Params, []NameValue{{"a", "1"}, {"b", "two three"}}) ||
		!reflect.DeepEqual(form.Cookies, []Cookie{{Name: "sid", Value: "abc"}, {Name: "theme", Value: "dark"}}) {
		t.Errorf("form POST: %+v", form)
	}
	ws := h.Log.Entries[3]
	if ws.WebSocketMessages == nil || len(*ws.WebSocketMessages) != 4 {
		t.Fatalf("WebSocket over HTTP/2: messages %v", ws.WebSocketMessages)
	}
	m := *ws.WebSocketMessages
	if m[0].Data != "hello" || !m[0].Compressed || m[1].Data != "AAEC/v8=" || m[1].Frames != 2 || m[2].Opcode != 8 {
		t.Errorf("messages %+v", m)
	}
	if c := ws.WebSocketClose; c == nil || *c != (WebSocketClose{Code: 4001, Reason: "done", By: "client", Clean: true}) {
		t.Errorf("_webSocketClose %+v", c)
	}
}

// TestBuildEdges: a request without a response, a response without a
// request, a CONNECT refused, events lost to a gap, a body cut at
// --max-body, a text message that is not UTF-8, messages of two
// WebSockets on one connection one after the other (HTTP/1.1 allows one
// upgrade per connection; a second is on another connection).
func TestBuildEdges(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	long := strings.Repeat("é", 10) // 20 bytes, cut inside the last one below
	evs := []*capture.Event{
		{Kind: capture.KindGap, Time: at(0), Lost: 12},
		{Kind: capture.KindOpen, Conn: 1, Time: at(1), Client: "127.0.0.1:5000", Mode: "regular"},
		{Kind: capture.KindRequest, Conn: 1, Time: at(2), Seq: 1, Method: "GET", Target: "http://[::1]:8080/a#frag", Host: "[::1]:8080", Proto: "HTTP/1.1", Server: "[::1]:8080",
			Headers: []capture.Header{{"Host", "[::1]:8080"}, {"X-Requested-With", "XMLHttpRequest"}}},
		{Kind: capture.KindResponse, Conn: 1, Time: at(5), Seq: 1, Status: 200, StatusText: "OK", Proto: "HTTP/1.1", Server: "[::1]:8080",
			Headers: []capture.Header{{"Content-Type", "application/json"}, {"Content-Encoding", "gzip"}}, BodyLen: 100, Body: []byte(long)[:19], Truncated: true},
		{Kind: capture.KindRequest, Conn: 1, Time: at(6), Seq: 2, Method: "GET", Target: "http://[::1]:8080/b", Host: "[::1]:8080", Proto: "HTTP/1.1", Server: "[::1]:8080"},
		{Kind: capture.KindError, Conn: 1, Time: at(7), From: "server", Msg: "cannot reach upstream [::1]:8080: connection refused"},
		{Kind: capture.KindClose, Conn: 1, Time: at(8), Err: "connection reset"},

		{Kind: capture.KindOpen, Conn: 2, Time: at(10), Client: "127.0.0.1:5001", Mode: "regular"},
		{Kind: capture.KindRequest, Conn: 2, Time: at(11), Seq: 1, Method: "CONNECT", Target: "nowhere:443", Host: "nowhere:443", Proto: "HTTP/1.1"},
		{Kind: capture.KindResponse, Conn: 2, Time: at(12), Seq: 1, Status: 502, StatusText: "Bad Gateway", Proto: "HTTP/1.1"},
		{Kind: capture.KindResponse, Conn: 2, Time: at(13), Seq: 0, Status: 200, StatusText: "OK", Proto: "HTTP/1.1"},
		{Kind: capture.KindClose, Conn: 2, Time: at(14)},

		{Kind: capture.KindOpen, Conn: 3, Time: at(20), Client: "127.0.0.1:5002", Server: "10.0.0.1:80", Mode: "reverse"},
		{Kind: capture.KindRequest, Conn: 3, Time: at(21), Seq: 1, Method: "GET", Target: "/ws", Host: "", Proto: "HTTP/1.1", Server: "10.0.0.1:80",
			Headers: []capture.Header{{"Sec-Fetch-Dest", "websocket"}}},
		{Kind: capture.KindResponse, Conn: 3, Time: at(22), Seq: 1, Status: 100, StatusText: "Continue", Proto: "HTTP/1.1"},
		{Kind: capture.KindResponse, Conn: 3, Time: at(23), Seq: 1, Status: 101, StatusText: "Switching Protocols", Proto: "HTTP/1.1", Server: "10.0.0.1:80"},
		{Kind: capture.KindUpgrade, Conn: 3, Time: at(23), Seq: 1, Protocol: "websocket", AcceptOK: true},
		{Kind: capture.KindMessage, Conn: 3, Time: at(24), From: "server", Op: "text", Frames: 1, Len: 2, WireLen: 2, Payload: []byte{0xff, 0xfe}},
		{Kind: capture.KindMessage, Conn: 3, Time: at(25), From: "client", Op: "text", Frames: 3, Len: 1 << 20, WireLen: 1 << 20, Payload: []byte("abc"), Truncated: true},
		{Kind: capture.KindClose, Conn: 3, Time: at(26), WebSocket: true},
	}
	_, h, st := export(t, evs, Options{})
	if st.Entries != 3 || st.Tunnels != 1 || st.Orphans != 1 || st.Unanswered != 1 || st.Lost != 12 || st.WebSockets != 1 || st.Messages != 2 {
		t.Errorf("stats %+v", st)
	}
	for _, want := range []string{"1 CONNECT tunnel is not an entry", "inside it count", "1 request got no response", "1 response, upgrade or message had no request in the capture and is left out", "lost 12 events"} {
		if !strings.Contains(h.Log.Comment, want) {
			t.Errorf("log comment %q does not say %q", h.Log.Comment, want)
		}
	}
	a, b, ws := h.Log.Entries[0], h.Log.Entries[1], h.Log.Entries[2]
	if a.Request.URL != "http://[::1]:8080/a" || a.ServerIPAddress != "::1" || a.Connection != "8080" || a.ResourceType != "xhr" {
		t.Errorf("IPv6 entry: url %s, server %s port %s, type %s", a.Request.URL, a.ServerIPAddress, a.Connection, a.ResourceType)
	}
	c := a.Response.Content
	if c.Text != strings.Repeat("é", 9) || c.Size != 100 || !strings.Contains(c.Comment, "gzip") || !strings.Contains(c.Comment, "first 18 of 100 bytes") {
		t.Errorf("cut gzip body: %+v", c)
	}
	if b.Response.Status != 0 || b.Response.Error != "cannot reach upstream [::1]:8080: connection refused" || b.Time != 0 {
		t.Errorf("unanswered: %+v", b.Response)
	}
	if ws.Request.URL != "ws://10.0.0.1:80/ws" || ws.Response.Status != 101 || ws.ServerIPAddress != "10.0.0.1" {
		t.Errorf("WebSocket entry (the 100 Continue skipped): %s %d %s", ws.Request.URL, ws.Response.Status, ws.ServerIPAddress)
	}
	m := *ws.WebSocketMessages
	if m[0].Data != "//4=" || m[0].Encoding != "base64" || m[0].Opcode != 1 || m[1].Data != "abc" || !m[1].Truncated || m[1].Length != 1<<20 || m[1].Frames != 3 {
		t.Errorf("messages %+v", m)
	}
	if ws.WebSocketClose != nil {
		t.Errorf("no close frame, yet _webSocketClose %+v", ws.WebSocketClose)
	}
}

// TestBuildSelected exports what a filter selected: exchanges with any
// selected event, and of a WebSocket the selected messages only.
func TestBuildSelected(t *testing.T) {
	evs := readCapture(t, "example.jsonl")
	sel := make([]bool, len(evs))
	for i, ev := range evs {
		// The POST's response, and the messages the server sent.
		sel[i] = ev.Kind == capture.KindResponse && ev.Seq == 2 || ev.Kind == capture.KindMessage && ev.From == "server"
	}
	_, h, st := export(t, evs, Options{Selected: sel})
	if st.Entries != 2 || h.Log.Entries[0].Seq != 2 || h.Log.Entries[1].Seq != 3 {
		t.Fatalf("stats %+v, entries %+v", st, h.Log.Entries)
	}
	for _, m := range *h.Log.Entries[1].WebSocketMessages {
		if m.Type != "receive" {
			t.Errorf("a message the filter did not select: %+v", m)
		}
	}
	if n := len(*h.Log.Entries[1].WebSocketMessages); n != 3 {
		t.Errorf("%d messages, want the server's 3", n)
	}
}

func TestResourceType(t *testing.T) {
	h := func(kv ...string) []capture.Header {
		var hs []capture.Header
		for i := 0; i < len(kv); i += 2 {
			hs = append(hs, capture.Header{kv[i], kv[i+1]})
		}
		return hs
	}
	for _, tc := range []struct {
		reqH, respH []capture.Header
		up          string
		want        string
	}{
		{nil, h("Content-Type", "text/html; charset=utf-8"), "", "document"},
		{h("Sec-Fetch-Dest", "empty"), h("Content-Type", "text/html"), "", "fetch"},
		{h("Sec-Fetch-Dest", "empty", "X-Requested-With", "XMLHttpRequest"), h("Content-Type", "application/json"), "", "xhr"},
		{nil, h("Content-Type", "application/json"), "", "fetch"},
		{nil, h("Content-Type", "text/event-stream"), "", "eventsource"},
		{h("Sec-Fetch-Dest", "empty"), h("Content-Type", "text/event-stream; charset=utf-8"), "", "eventsource"},
		{h("Sec-Fetch-Dest", "script"), h("Content-Type", "text/plain"), "", "script"},
		{nil, h("Content-Type", "application/javascript"), "", "script"},
		{nil, h("Content-Type", "text/css"), "", "stylesheet"},
		{h("Sec-Fetch-Dest", "style"), nil, "", "stylesheet"},
		{nil, h("Content-Type", "image/png"), "", "image"},
		{nil, h("Content-Type", "font/woff2"), "", "font"},
		{nil, h("Content-Type", "application/x-font-ttf"), "", "font"},
		{nil, h("Content-Type", "video/mp4"), "", "media"},
		{nil, h("Content-Type", "application/wasm"), "", "wasm"},
		{h("Sec-Fetch-Dest", "manifest"), nil, "", "manifest"},
		{nil, nil, "websocket", "websocket"},
		{nil, nil, "h2c", "other"},
		{nil, nil, "", "other"},
		{h("Sec-Fetch-Dest", "iframe"), nil, "", "document"},
	} {
		req := &capture.Event{Kind: capture.KindRequest, Headers: tc.reqH}
		resp := &capture.Event{Kind: capture.KindResponse, Headers: tc.respH}
		var up *capture.Event
		if tc.up != "" {
			up = &capture.Event{Kind: capture.KindUpgrade, Protocol: tc.up}
		}
		if got := resourceType(req, resp, up); got != tc.want || !chromeResourceTypes[got] {
			t.Errorf("request %v, response %v, upgrade %q: %q, want %q", tc.reqH, tc.respH, tc.up, got, tc.want)
		}
	}
}
