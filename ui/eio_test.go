package ui

import (
	"testing"

	"github.com/gdamore/tcell/v2"

	"github.com/frametap/frametap/capture"
)

// eio events are rows of the timeline (t), with the Socket.IO packet in
// words, and their fields in the detail pane.
func TestEIORows(t *testing.T) {
	evs := []capture.Event{
		{Kind: capture.KindOpen, Conn: 1, Time: at(0), Client: "127.0.0.1:50400", Mode: "reverse"},
		{Kind: capture.KindRequest, Conn: 1, Time: at(1), Seq: 1, Method: "GET", Target: "/socket.io/?EIO=4&transport=polling&sid=Xq2", Host: "rt.test", Proto: "HTTP/1.1"},
		{Kind: capture.KindResponse, Conn: 1, Time: at(2), Seq: 1, Status: 200, StatusText: "OK", Proto: "HTTP/1.1", BodyLen: 30, Body: []byte(`42/admin,7["chat",{"text":"hi"}]`)},
		{Kind: capture.KindEIO, Conn: 1, Time: at(2), Seq: 1, From: "server", Len: 30, EIO: &capture.EIO{Type: "message", Transport: "polling", SID: "Xq2",
			SIOType: "EVENT", Nsp: "/admin", HasAck: true, AckID: 7, Event: "chat", Args: []byte(`[{"text":"hi"}]`)}},
		{Kind: capture.KindEIO, Conn: 1, Time: at(3), Seq: 1, From: "server", Len: 1, EIO: &capture.EIO{Type: "noop", Transport: "polling", SID: "Xq2"}},
	}
	u := newTestUI(t, Config{}, evs)
	u.press(tcell.KeyRune, 't')
	screen := u.text()
	mustContain(t, screen, `← SIO EVENT "chat" /admin ack 7`)
	mustContain(t, screen, `[{"text":"hi"}]`)
	mustContain(t, screen, `← EIO noop polling`)
	u.press(tcell.KeyRune, 'f') // follow off: the selection stays where we put it
	u.press(tcell.KeyTab, 0)
	u.press(tcell.KeyRune, 'k')
	screen = u.text()
	mustContain(t, screen, "Socket.IO EVENT")
	mustContain(t, screen, "session    Xq2")
}
