package ui

import (
	"fmt"
	"strings"
	"testing"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
)

// A bad expression is shown under the prompt, a caret under where it is
// wrong, and the prompt stays open with it; the filter in force stays.
// Fixing it and pressing Enter applies it; Esc leaves the one in force.
func TestFilterBadExpression(t *testing.T) {
	u := newTestUI(t, Config{}, fixture())
	u.press(tcell.KeyRune, '/')
	u.typeText("~wq")
	u.press(tcell.KeyEnter, 0)
	mustContain(t, u.text(), "Connections (1 of 2)")

	u.press(tcell.KeyRune, '/')
	u.press(tcell.KeyCtrlU, 0)
	u.typeText("~d (foo")
	u.press(tcell.KeyEnter, 0)
	lines := u.screen()
	l := line(lines, `filter: unbalanced "(" at column 4`)
	if l == "" {
		t.Fatalf("no error under the prompt:\n%s", strings.Join(lines, "\n"))
	}
	prompt := line(lines, filterLabel+"~d (foo")
	if at, want := strings.Index(l, "^"), strings.Index(prompt, "(foo"); at != want {
		t.Errorf("the caret is at column %d, the ( at %d:\n%s\n%s", at, want, prompt, l)
	}
	if u.prompting != "filter" || u.filterSrc() != "~wq" {
		t.Errorf("after a bad expression: prompting %q, filter %q; want the prompt open and ~wq in force", u.prompting, u.filterSrc())
	}
	mustContain(t, u.text(), "Connections (1 of 2)")

	u.press(tcell.KeyBackspace2, 0)
	u.press(tcell.KeyBackspace2, 0)
	u.press(tcell.KeyBackspace2, 0)
	u.press(tcell.KeyBackspace2, 0)
	u.typeText("api")
	u.press(tcell.KeyEnter, 0)
	s := u.text()
	mustNotContain(t, s, "unbalanced")
	if u.prompting != "" || u.filterSrc() != "~d api" {
		t.Errorf("after fixing it: prompting %q, filter %q", u.prompting, u.filterSrc())
	}
	mustContain(t, s, "#1 127.0.0.1:50312")
	mustNotContain(t, s, "#2 127.0.0.1:50314")

	// A bad one, then Esc: the filter in force stays, the error goes.
	u.press(tcell.KeyRune, '/')
	u.typeText(" ~nosuch")
	u.press(tcell.KeyEnter, 0)
	mustContain(t, u.text(), "~nosuch")
	u.press(tcell.KeyEscape, 0)
	s = u.text()
	if u.prompting != "" || u.filterSrc() != "~d api" || strings.Contains(s, "filter: ") {
		t.Errorf("Esc after a bad expression: prompting %q, filter %q:\n%s", u.prompting, u.filterSrc(), s)
	}
}

// Live traffic under a filter: verdicts that depend on what comes later
// change when it comes. The handshake request of a WebSocket is selected
// by ~websocket once the upgrade arrives, a connection !~websocket
// selected leaves when it upgrades, and frames are judged with their
// message.
func TestFilterLive(t *testing.T) {
	fx := fixture()
	var conn2 []capture.Event
	for _, ev := range fx {
		if ev.Conn == 2 {
			conn2 = append(conn2, ev)
		}
	}
	for _, tc := range []struct {
		filter string
		cut    int    // conn #2's events fed first
		before string // the connections title after them
		after  string // after the rest
		rows   string // the events view's title after the rest
	}{
		{"~websocket ~q", 4, "Connections (0 of 1)", "Connections (1 of 1)", "Timeline #2 chat.test (2 rows)"},
		{"!~websocket ~q", 4, "Connections (1 of 1)", "Connections (0 of 1)", ""},
		// The fragmented message's first frame is !~fin and ~b hello once
		// its message is in: only the frame matches both.
		{"!~fin ~b hello ~len <10", 6, "Connections (0 of 1)", "Connections (1 of 1)", ""},
	} {
		u := newTestUI(t, Config{}, conn2[:tc.cut])
		u.press(tcell.KeyRune, '/')
		u.typeText(tc.filter)
		u.press(tcell.KeyEnter, 0)
		mustContain(t, u.text(), tc.before)
		u.press(tcell.KeyRune, 't')
		feed(u.store, conn2[tc.cut:])
		u.refresh()
		s := u.text()
		mustContain(t, s, tc.after)
		if tc.rows != "" {
			mustContain(t, s, tc.rows)
		}
	}
}

// The filter's index is bounded as the store is: once the events the
// store dropped outnumber those it holds, the index starts again from
// the oldest held, and matches the same.
func TestFilterBounded(t *testing.T) {
	scr := tcell.NewSimulationScreen("UTF-8")
	scr.Init()
	st := NewStore(100)
	u := New(Config{Screen: scr}, st)
	scr.SetSize(160, 50)
	u.press(tcell.KeyRune, '/')
	u.typeText("~b even")
	u.press(tcell.KeyEnter, 0)
	stream := st.Stream()
	stream.Add(&capture.Event{Kind: capture.KindOpen, Conn: 1, Time: at(0), Client: "127.0.0.1:1"})
	stream.Add(&capture.Event{Kind: capture.KindRequest, Conn: 1, Time: at(0), Seq: 1, Method: "GET", Target: "/ws", Host: "h.test", Proto: "HTTP/1.1"})
	stream.Add(&capture.Event{Kind: capture.KindResponse, Conn: 1, Time: at(0), Seq: 1, Status: 101, Proto: "HTTP/1.1", Headers: hdrs("Upgrade", "websocket")})
	stream.Add(&capture.Event{Kind: capture.KindUpgrade, Conn: 1, Time: at(0), Seq: 1, Protocol: "websocket"})
	most := 0
	for n := 0; n < 1000; n++ {
		p := "odd"
		if n%2 == 0 {
			p = "even"
		}
		stream.Add(&capture.Event{Kind: capture.KindMessage, Conn: 1, Time: at(n), From: "server", Op: "text", Frames: 1, Len: int64(len(p)), Payload: []byte(p + fmt.Sprint(n))})
		if n%7 == 0 {
			u.refresh()
			most = max(most, u.st.filter.idx.Len()-u.st.filter.base)
		}
	}
	u.refresh()
	u.press(tcell.KeyRune, 't')
	if most > 2*st.Max()+8 {
		t.Errorf("the index held %d events at most, the store %d", most, st.Max())
	}
	mustContain(t, u.text(), "Timeline #1 h.test (50 rows)") // half of the 100 messages held
}
