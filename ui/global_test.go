package ui

import (
	"fmt"
	"testing"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
)

// globalFixture is a capture read back with the events of no connection
// (conn 0): a HAR's note first (as frametap view file.har makes it), the
// meta of a capture written with --filter, two connections, and a gap
// written while #2 was open and after #1 had closed.
func globalFixture() []capture.Event {
	note := "HAR file app.har, written by Chromium 156.0: 3 entries, shown as 2 connections (grouped by _connectionId; entries without one are a connection each). A HAR cannot tell what a capture does: the WebSocket frames."
	return []capture.Event{
		{Kind: capture.KindError, Conn: 0, Time: at(0), Msg: note},
		{Kind: capture.KindMeta, Conn: 0, Time: at(0), Filter: "host api.test"},
		{Kind: capture.KindOpen, Conn: 1, Time: at(1), Client: "127.0.0.1:50000", Mode: "regular"},
		{Kind: capture.KindRequest, Conn: 1, Time: at(2), Seq: 1, Method: "GET", Target: "/a", Host: "api.test", Proto: "HTTP/1.1"},
		{Kind: capture.KindResponse, Conn: 1, Time: at(3), Seq: 1, Status: 200, StatusText: "OK", Proto: "HTTP/1.1"},
		{Kind: capture.KindClose, Conn: 1, Time: at(4)},
		{Kind: capture.KindOpen, Conn: 2, Time: at(500), Client: "127.0.0.1:50002", Mode: "regular"},
		{Kind: capture.KindRequest, Conn: 2, Time: at(510), Seq: 1, Method: "GET", Target: "/b", Host: "api.test", Proto: "HTTP/1.1"},
		{Kind: capture.KindGap, Conn: 0, Time: at(900), Since: at(600), Lost: 12, Msg: "write capture.jsonl: no space left on device"},
		{Kind: capture.KindResponse, Conn: 2, Time: at(950), Seq: 1, Status: 200, StatusText: "OK", Proto: "HTTP/1.1"},
	}
}

// The events of no connection are not a connection #0: the status line
// says what they say, a note and a meta start every connection's
// timeline, and a gap shows in the connections open while events were
// lost.
func TestGlobalEvents(t *testing.T) {
	s := newState()
	evs := globalFixture()
	for i := range evs {
		s.apply(i, &evs[i])
	}
	if len(s.conns) != 2 || s.byID[0] != nil {
		t.Fatalf("%d connections, #0 %v: want 2 and none", len(s.conns), s.byID[0] != nil)
	}
	rows := func(c *conn) string {
		var kinds []capture.Kind
		for _, i := range c.rows {
			kinds = append(kinds, evs[i].Kind)
		}
		return fmt.Sprint(kinds)
	}
	if got, want := rows(s.byID[1]), "[error meta open request response close]"; got != want {
		t.Errorf("#1's rows %s, want %s", got, want)
	}
	if got, want := rows(s.byID[2]), "[error meta open request gap response]"; got != want {
		t.Errorf("#2's rows %s, want %s", got, want)
	}
	if g := s.global; g.lost != 12 || g.gaps != 1 || g.filter != "host api.test" || g.note == "" {
		t.Errorf("global %+v", g)
	}
	u := newTestUI(t, Config{ReadOnly: true, Source: "app.har"}, evs)
	var parts []string
	u.globalStatus(func(_ int, text, _ string) { parts = append(parts, text) })
	if got, want := fmt.Sprint(parts), "[[red]the capture lost 12 events (1 gap)[-] written with --filter host api.test [yellow]HAR file app.har, written by Chromium 156.0 (NOTE rows say more)[-]]"; got != want {
		t.Errorf("status parts\n got %s\nwant %s", got, want)
	}
	scr := u.text()
	mustNotContain(t, scr, "#0")
	for _, want := range []string{"12 lost", "written with --filter host api.test", "GAP", "12 events not written"} {
		mustContain(t, scr, want)
	}
	u.press(tcell.KeyRune, 't')
	mustContain(t, u.text(), "NOTE HAR file app.har")
}

// Golden renders of a HAR's note and a gap, at 80×24 and 200×50, with
// the note's detail open.
func TestGoldenGlobal(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {200, 50}} {
		scr := tcell.NewSimulationScreen("UTF-8")
		if err := scr.Init(); err != nil {
			t.Fatal(err)
		}
		st := NewStore(0)
		feed(st, globalFixture())
		u := New(Config{Screen: scr, ReadOnly: true, Source: "app.har"}, st)
		scr.SetSize(sz[0], sz[1])
		u.refresh()
		u.press(tcell.KeyTab, 0)
		u.timeline.Select(1, 0)
		u.press(tcell.KeyEnter, 0)
		golden(t, fmt.Sprintf("global-%dx%d.golden", sz[0], sz[1]), screenAt(u))
	}
}

// A capture's events of no connection do not make a connection #0.
func TestNoConnectionZero(t *testing.T) {
	u := newTestUI(t, Config{ReadOnly: true, Source: "app.har"}, globalFixture())
	scr := u.text()
	mustNotContain(t, scr, "#0 ")
	mustContain(t, scr, "Connections (2)")
}
