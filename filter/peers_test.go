package filter

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/frametap/frametap/capture"
)

// readPeers reads testdata/peers.jsonl: curl and Python websockets through
// the frametap binary in regular mode, made by testdata/mkcapture. conn 1
// is a kept-alive connection with GET 200, GET 404 and a POST of JSON
// (201); conn 2 an https GET in an intercepted CONNECT tunnel; conn 3 a
// WebSocket with permessage-deflate in a CONNECT tunnel: JSON,
// Socket.IO-style, binary and plain messages echoed, a message in four
// frames, a ping and a close 1000 "bye".
func readPeers(t testing.TB) []*capture.Event {
	t.Helper()
	evs, err := capture.ReadFile("testdata/peers.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*capture.Event, len(evs))
	for i := range evs {
		out[i] = &evs[i]
	}
	return out
}

// messageOfFrame finds a frame's message the simple way: the next message
// of its connection and direction, control or data as the frame is.
func messageOfFrame(evs []*capture.Event, i int) *capture.Event {
	f := evs[i]
	for _, ev := range evs[i+1:] {
		if ev.Conn == f.Conn && ev.Kind == capture.KindMessage && ev.From == f.From &&
			(ev.Op == "ping" || ev.Op == "pong" || ev.Op == "close") == (f.Opcode >= 8) {
			return ev
		}
	}
	return nil
}

// TestPeersCapture checks expressions against a real capture, each with
// an oracle written plainly over the events' fields.
func TestPeersCapture(t *testing.T) {
	evs := readPeers(t)
	if len(evs) != 66 {
		t.Fatalf("%d events in testdata/peers.jsonl, want 66", len(evs))
	}
	// msg is an event's message: itself, a frame's, else nil.
	msg := func(i int) *capture.Event {
		switch evs[i].Kind {
		case capture.KindMessage:
			return evs[i]
		case capture.KindFrame:
			return messageOfFrame(evs, i)
		}
		return nil
	}
	text := func(i int) string {
		if m := msg(i); m != nil && m.Op == "text" {
			return string(m.Payload)
		}
		return ""
	}
	tests := []struct {
		expr   string
		oracle func(i int) bool
		count  int // the oracle's count, so that a broken oracle shows
	}{
		{"~websocket", func(i int) bool { return evs[i].Conn == 3 }, 50},
		{"~tls", func(i int) bool { return evs[i].Conn == 2 }, 8},
		{"~http !~websocket !~tls", func(i int) bool { return evs[i].Conn == 1 }, 8},
		{"~wq ~op text", func(i int) bool {
			m := msg(i)
			return m != nil && m.From == "client" && m.Op == "text"
		}, 14},
		{`~sio ^chat$`, func(i int) bool { return strings.HasPrefix(text(i), `42["chat"`) }, 6},
		{`~jq .type=order`, func(i int) bool {
			return strings.HasPrefix(text(i), `{"type":"order"`) ||
				evs[i].Kind == capture.KindRequest && bytes.HasPrefix(evs[i].Body, []byte(`{"type":"order"`))
		}, 5},
		{`~jq .items[0].qty=2`, func(i int) bool { return strings.Contains(text(i), `"qty":2}]`) }, 4},
		{`~jq .items[1].name=desk`, func(i int) bool {
			return evs[i].Kind == capture.KindResponse && bytes.Contains(evs[i].Body, []byte(`"desk"`))
		}, 1},
		{"~op data !~fin", func(i int) bool {
			ev := evs[i]
			return ev.Kind == capture.KindFrame && !ev.Fin || ev.Kind == capture.KindMessage && ev.Frames > 1
		}, 4},
		{"~op data ~ws", func(i int) bool {
			m := msg(i)
			return m != nil && m.From == "server" && (m.Op == "text" || m.Op == "binary")
		}, 19},
		{"~op binary", func(i int) bool { m := msg(i); return m != nil && m.Op == "binary" }, 4},
		{"~op ping | ~op pong", func(i int) bool { m := msg(i); return m != nil && (m.Op == "ping" || m.Op == "pong") }, 4},
		{"~code 1000", func(i int) bool { m := msg(i); return m != nil && m.Op == "close" && m.Code == 1000 }, 4},
		{"~b bye", func(i int) bool { m := msg(i); return m != nil && (m.Reason == "bye" || string(m.Payload) == "bye") }, 6},
		{"~rsv1 ~ws", func(i int) bool {
			ev := evs[i]
			return ev.From == "server" && (ev.Kind == capture.KindFrame && ev.RSV&4 != 0 || ev.Kind == capture.KindMessage && ev.Compressed)
		}, 16},
		{"~masked", func(i int) bool {
			return evs[i].From == "client" && (evs[i].Kind == capture.KindFrame || evs[i].Kind == capture.KindMessage)
		}, 20},
		{"~ws ~masked", func(i int) bool { return false }, 0},
		{"~len >50", func(i int) bool {
			ev := evs[i]
			return (ev.Kind == capture.KindFrame || ev.Kind == capture.KindMessage) && ev.Len > 50
		}, 3},
		// Exchange atoms: the exchange's events; other events of the
		// connection when some exchange matches.
		{"~c 404", func(i int) bool {
			ev := evs[i]
			return ev.Conn == 1 && (ev.Seq == 2 || ev.Kind == capture.KindOpen || ev.Kind == capture.KindClose)
		}, 4},
		{"~m post", func(i int) bool {
			ev := evs[i]
			return ev.Conn == 1 && (ev.Seq == 3 || ev.Kind == capture.KindOpen || ev.Kind == capture.KindClose)
		}, 4},
		{"~u /chat", func(i int) bool { return evs[i].Conn == 3 && evs[i].Seq != 1 }, 48},
		{`~u ^https://127\.0\.0\.1:\d+/secure$`, func(i int) bool { return evs[i].Conn == 2 && evs[i].Seq != 1 }, 6},
		{`~hq "^x-request-id: 42$"`, func(i int) bool {
			ev := evs[i]
			return ev.Conn == 1 && (ev.Seq == 1 || ev.Kind == capture.KindOpen || ev.Kind == capture.KindClose)
		}, 4},
		{`~hs "^content-type: application/json"`, func(i int) bool { return evs[i].Conn != 3 && evs[i].Seq != 1 || evs[i].Conn == 1 }, 14},
		{`~d ^127\.0\.0\.1:\d+$`, func(i int) bool { return true }, 66},
		{"~conn 2 ~q", func(i int) bool { return evs[i].Conn == 2 && evs[i].Kind == capture.KindRequest }, 2},
		{"~e", func(i int) bool { return false }, 0},
	}
	for _, tt := range tests {
		var want []bool
		n := 0
		for i := range evs {
			w := tt.oracle(i)
			want = append(want, w)
			if w {
				n++
			}
		}
		if n != tt.count {
			t.Errorf("%s: the oracle selects %d events, want %d", tt.expr, n, tt.count)
		}
		got := MustParse(tt.expr).Select(evs)
		for i := range evs {
			if got[i] != want[i] {
				t.Errorf("%s: event %d (line %d, conn %d %s %s): selected %v, want %v", tt.expr, i, i+1, evs[i].Conn, evs[i].Kind, evs[i].Op, got[i], want[i])
			}
		}
	}
}

// TestPeersOutput writes the real capture through an Output and checks
// the result is well formed: the meta event, then per connection an open,
// the selected events in order, a close.
func TestPeersOutput(t *testing.T) {
	evs := readPeers(t)
	got := writeFiltered(t, "~jq .type=order", OutputOptions{}, evs)
	var lines []string
	for _, ev := range got[1:] {
		lines = append(lines, fmt.Sprintf("%d:%s:%s:%s", ev.Conn, ev.Kind, ev.From, ev.Op))
	}
	want := "1:open:: 1:request:: 1:close:: " +
		"3:open:: 3:frame:client: 3:message:client:text 3:frame:server: 3:message:server:text 3:close::"
	if g := strings.Join(lines, " "); g != want {
		t.Errorf("wrote\n %s\nwant\n %s", g, want)
	}
}
