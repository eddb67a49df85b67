package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

var t0 = time.Date(2025, 3, 14, 19, 51, 2, 0, time.UTC)

// at returns t0 plus ms milliseconds.
func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// fixture is two connections: #1 three requests kept alive, one with a
// JSON body and one with a binary body; #2 a WebSocket through CONNECT
// with a fragmented message, a compressed one, pushes, a ping and a close.
func fixture() []capture.Event {
	hdr := func(kv ...string) []capture.Header {
		var hs []capture.Header
		for i := 0; i < len(kv); i += 2 {
			hs = append(hs, capture.Header{kv[i], kv[i+1]})
		}
		return hs
	}
	json := []byte(`{"poll":1,"updates":[{"id":7,"price":101.5}]}`)
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	return []capture.Event{
		{Kind: capture.KindOpen, Conn: 1, Time: at(0), Client: "127.0.0.1:50312", Mode: "regular"},
		{Kind: capture.KindRequest, Conn: 1, Time: at(1), Seq: 1, Method: "GET", Target: "http://api.test/poll?n=1", Host: "api.test", Proto: "HTTP/1.1", Headers: hdr("Host", "api.test", "Accept", "*/*")},
		{Kind: capture.KindResponse, Conn: 1, Time: at(3), Seq: 1, Status: 200, StatusText: "OK", Proto: "HTTP/1.1", Headers: hdr("Content-Type", "application/json", "Content-Length", "45"), BodyLen: int64(len(json)), Body: json},
		{Kind: capture.KindRequest, Conn: 1, Time: at(700), Seq: 2, Method: "GET", Target: "http://api.test/logo.png", Host: "api.test", Proto: "HTTP/1.1", Headers: hdr("Host", "api.test")},
		{Kind: capture.KindResponse, Conn: 1, Time: at(702), Seq: 2, Status: 200, StatusText: "OK", Proto: "HTTP/1.1", Headers: hdr("Content-Type", "image/png"), BodyLen: int64(len(png)), Body: png},
		{Kind: capture.KindRequest, Conn: 1, Time: at(1400), Seq: 3, Method: "GET", Target: "http://api.test/poll?n=3", Host: "api.test", Proto: "HTTP/1.1", Headers: hdr("Host", "api.test")},
		{Kind: capture.KindResponse, Conn: 1, Time: at(1401), Seq: 3, Status: 200, StatusText: "OK", Proto: "HTTP/1.1", Headers: hdr("Content-Length", "2"), BodyLen: 2, Body: []byte("{}")},

		{Kind: capture.KindOpen, Conn: 2, Time: at(10), Client: "127.0.0.1:50314", Mode: "regular"},
		{Kind: capture.KindRequest, Conn: 2, Time: at(11), Seq: 1, Method: "CONNECT", Target: "chat.test:80", Host: "chat.test:80", Proto: "HTTP/1.1", Headers: hdr("Host", "chat.test:80")},
		{Kind: capture.KindResponse, Conn: 2, Time: at(11), Seq: 1, Status: 200, StatusText: "Connection established", Proto: "HTTP/1.1"},
		{Kind: capture.KindRequest, Conn: 2, Time: at(12), Seq: 2, Method: "GET", Target: "/chat", Host: "chat.test", Proto: "HTTP/1.1", Headers: hdr("Host", "chat.test", "Upgrade", "websocket", "Connection", "Upgrade")},
		{Kind: capture.KindResponse, Conn: 2, Time: at(13), Seq: 2, Status: 101, StatusText: "Switching Protocols", Proto: "HTTP/1.1", Headers: hdr("Upgrade", "websocket", "Connection", "Upgrade")},
		{Kind: capture.KindUpgrade, Conn: 2, Time: at(13), Seq: 2, Protocol: "websocket", Extensions: "permessage-deflate", AcceptOK: true},
		{Kind: capture.KindFrame, Conn: 2, Time: at(20), From: "client", Opcode: 1, Masked: true, Len: 5},
		{Kind: capture.KindFrame, Conn: 2, Time: at(21), From: "client", Fin: true, Opcode: 9, Masked: true, Len: 0},
		{Kind: capture.KindMessage, Conn: 2, Time: at(21), From: "client", Op: "ping", Frames: 1, Payload: []byte{}},
		{Kind: capture.KindFrame, Conn: 2, Time: at(22), From: "client", Fin: true, Opcode: 0, Masked: true, Len: 6},
		{Kind: capture.KindMessage, Conn: 2, Time: at(22), From: "client", Op: "text", Frames: 2, Len: 11, WireLen: 11, Payload: []byte("hello world")},
		{Kind: capture.KindFrame, Conn: 2, Time: at(400), From: "server", Fin: true, Opcode: 1, Len: 20},
		{Kind: capture.KindMessage, Conn: 2, Time: at(400), From: "server", Op: "text", Frames: 1, Len: 20, WireLen: 20, Payload: []byte(`{"push":1,"px":9.5}`)},
		{Kind: capture.KindFrame, Conn: 2, Time: at(800), From: "server", Fin: true, RSV: 4, Opcode: 2, Len: 7},
		{Kind: capture.KindMessage, Conn: 2, Time: at(800), From: "server", Op: "binary", Frames: 1, Len: 9, WireLen: 7, Compressed: true, Payload: []byte{0xde, 0xad, 0xbe, 0xef, 0, 1, 2, 3, 0x42}},
		{Kind: capture.KindFrame, Conn: 2, Time: at(900), From: "client", Fin: true, Opcode: 8, Masked: true, Len: 5},
		{Kind: capture.KindMessage, Conn: 2, Time: at(900), From: "client", Op: "close", Frames: 1, Len: 5, WireLen: 5, Code: 1000, Reason: "bye"},
		{Kind: capture.KindError, Conn: 2, Time: at(901), From: "server", Msg: "invalid UTF-8 in a text message"},
		{Kind: capture.KindClose, Conn: 2, Time: at(950), BytesFromClient: 629, BytesFromServer: 518, WebSocket: true, WSClosedBy: "client"},
	}
}

// feed adds evs to s the way the proxy does, through one stream per
// connection.
// addNow adds ev and flushes, as the proxy does at the end of a chunk: a
// Store's stream hands its events over on Flush.
func addNow(s capture.Stream, ev *capture.Event) {
	s.Add(ev)
	s.Flush()
}

func feed(s *Store, evs []capture.Event) {
	streams := map[uint64]capture.Stream{}
	for i := range evs {
		st := streams[evs[i].Conn]
		if st == nil {
			st = s.Stream()
			streams[evs[i].Conn] = st
		}
		ev := evs[i]
		st.Add(&ev)
		st.Flush()
	}
}

// newTestUI returns a dashboard on a 160×50 simulation screen holding evs.
func newTestUI(t testing.TB, cfg Config, evs []capture.Event) *UI {
	t.Helper()
	scr := tcell.NewSimulationScreen("UTF-8")
	if err := scr.Init(); err != nil {
		t.Fatal(err)
	}
	cfg.Screen = scr
	if cfg.Listen == "" && !cfg.ReadOnly {
		cfg.Listen, cfg.Mode = "127.0.0.1:8080", "regular"
	}
	st := NewStore(0)
	feed(st, evs)
	u := New(cfg, st)
	scr.SetSize(160, 50) // after New: SetScreen initialises the screen again
	u.now = func() time.Time { return at(2000) }
	u.refresh()
	return u
}

// screen draws the dashboard and returns the screen's lines, right-trimmed.
func (u *UI) screen() []string {
	scr := u.cfg.Screen.(tcell.SimulationScreen)
	w, h := scr.Size()
	u.root.SetRect(0, 0, w, h)
	scr.Clear()
	u.root.Draw(scr)
	scr.Show()
	cells, cw, ch := scr.GetContents()
	lines := make([]string, ch)
	for y := 0; y < ch; y++ {
		var b strings.Builder
		for x := 0; x < cw; x++ {
			c := cells[y*cw+x]
			if len(c.Runes) == 0 {
				b.WriteByte(' ')
				continue
			}
			b.WriteString(string(c.Runes))
		}
		lines[y] = strings.TrimRight(b.String(), " ")
	}
	return lines
}

// text is the whole screen as one string.
func (u *UI) text() string { return strings.Join(u.screen(), "\n") }

// press sends a key the way tview's event loop does: the input capture
// first, then the root's handler, which passes it to the focused widget.
func (u *UI) press(key tcell.Key, r rune) {
	ev := tcell.NewEventKey(key, r, tcell.ModNone)
	if ev = u.onKey(ev); ev == nil {
		return
	}
	if h := u.pages.InputHandler(); h != nil {
		h(ev, func(p tview.Primitive) { u.app.SetFocus(p) })
	}
}

func (u *UI) typeText(s string) {
	for _, r := range s {
		u.press(tcell.KeyRune, r)
	}
}

// line returns the first screen line containing s, or "".
func line(lines []string, s string) string {
	for _, l := range lines {
		if strings.Contains(l, s) {
			return l
		}
	}
	return ""
}

func mustContain(t *testing.T, screen, what string) {
	t.Helper()
	if !strings.Contains(screen, what) {
		t.Errorf("screen lacks %q:\n%s", what, screen)
	}
}

func mustNotContain(t *testing.T, screen, what string) {
	t.Helper()
	if strings.Contains(screen, what) {
		t.Errorf("screen has %q:\n%s", what, screen)
	}
}
