package filter

import (
	"fmt"
	"testing"

	"github.com/frametap/frametap/capture"
)

// ~sio matches eio events by their Socket.IO event name (not eio events
// without one), and ~b and ~jq look at their arguments; both whole and
// streaming.
func TestEIOAtoms(t *testing.T) {
	evs := []*capture.Event{
		{Kind: capture.KindOpen, Conn: 1, Client: "127.0.0.1:5000", Mode: "reverse"},
		{Kind: capture.KindRequest, Conn: 1, Seq: 1, Method: "GET", Target: "/socket.io/?EIO=4&transport=polling&sid=S", Host: "rt.test", Proto: "HTTP/1.1"},
		{Kind: capture.KindResponse, Conn: 1, Seq: 1, Status: 200, Proto: "HTTP/1.1", Body: []byte(`42["chat",{"text":"hi"}]` + "\x1e3")},
		{Kind: kindEIO, Conn: 1, Seq: 1, From: "server", EIO: &capture.EIO{Type: "message", Transport: "polling", SID: "S", SIOType: "EVENT", Nsp: "/", Event: "chat", Args: []byte(`[{"text":"hi"}]`)}},
		{Kind: kindEIO, Conn: 1, Seq: 1, From: "server", EIO: &capture.EIO{Type: "pong", Transport: "polling", SID: "S"}},
		{Kind: capture.KindClose, Conn: 1},
	}
	for _, tc := range []struct {
		expr string
		want string // the events selected: indexes into evs
	}{
		{"~sio ^chat$", "[3]"},
		{"~sio .*", "[3]"},
		{"~sio ^news$", "[]"},
		{"~jq .[0].text=hi", "[3]"},
		{`~u /socket.io/ ~sio chat`, "[3]"},
	} {
		f := MustParse(tc.expr)
		var whole []int
		for i, ok := range f.Select(evs) {
			if ok && evs[i].Kind != capture.KindOpen && evs[i].Kind != capture.KindClose {
				whole = append(whole, i)
			}
		}
		m := f.NewMatcher()
		var stream []int
		for i, ev := range evs {
			if m.Match(ev) && ev.Kind != capture.KindOpen && ev.Kind != capture.KindClose {
				stream = append(stream, i)
			}
		}
		if got := fmt.Sprint(whole); got != tc.want {
			t.Errorf("%s selects %s, want %s", tc.expr, got, tc.want)
		}
		if got := fmt.Sprint(stream); got != tc.want {
			t.Errorf("%s matches %s streaming, want %s", tc.expr, got, tc.want)
		}
	}
}
