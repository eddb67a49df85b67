package ui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
)

// At start the newest connection and its newest row are selected (follow).
// The t key shows every event of the connection, one per row.
func TestRowsAndFollow(t *testing.T) {
	u := newTestUI(t, Config{}, fixture())
	u.press(tcell.KeyRune, 't')
	lines := u.screen()
	for _, want := range []string{
		"#1 127.0.0.1:50312 api.test",
		"#2 127.0.0.1:50314 chat.test",
		"Timeline #2 chat.test (13 rows)",
		"CONNECT tunnel to chat.test",
		"WebSocket: 2 messages pushed by the server, 1 sent by the client",
		"FOLLOW",
		"127.0.0.1:8080 regular",
		"conns 1 open / 2",
	} {
		if line(lines, want) == "" {
			t.Errorf("screen lacks %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	for _, want := range []string{
		"+0.000s · OPEN from 127.0.0.1:50314",
		"+0.001s → CONNECT chat.test:80",
		"+0.003s ← 101 Switching Protocols",
		"+0.011s → PING",
		"+0.012s → TEXT 11 B ×2 frames",
		"+0.390s ← TEXT 20 B",
		"+0.790s ← BIN 9 B deflate",
		`+0.890s → CLOSE 1000 "bye"`,
		"+0.891s ← ERROR invalid UTF-8",
		"+0.940s · CLOSED ↑629 B ↓518 B",
	} {
		if line(lines, want) == "" {
			t.Errorf("timeline lacks %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	// The newest row (the close) is in the detail pane.
	mustContain(t, u.text(), "bytes from client  629")
}

func TestDetail(t *testing.T) {
	u := newTestUI(t, Config{}, fixture())
	u.press(tcell.KeyRune, 'f') // follow off: the selection stays where we put it
	u.press(tcell.KeyRune, 't') // every event
	tests := []struct {
		conn int // row in the connections table
		row  int // row in the timeline
		want []string
	}{
		{1, 2, []string{"GET http://api.test/poll?n=1 HTTP/1.1", "Host: api.test", "answered in 2ms"}},
		{1, 3, []string{"HTTP/1.1 200 OK", "Content-Type: application/json", "JSON", `"updates": [`, `      "price": 101.5`}},
		{1, 5, []string{"hex dump", "00000000  89 50 4e 47 0d 0a 1a 0a  00 00 00 0d 49 48 44 52  |.PNG........IHDR|"}},
		{2, 8, []string{"→ TEXT 11 B ×2 frames", "from client, text, 11 B, 2 frames", "  1  no  000  text    yes        5", "  2  yes 000  cont    yes        6", "hello world"}},
		{2, 7, []string{"→ PING", "  1  yes 000  ping    yes        0"}},
		{2, 10, []string{"compressed with", "  1  yes 100  binary  no         7", "00000000  de ad be ef 00 01 02 03  42"}},
		{2, 9, []string{`"push": 1`}},
		{2, 11, []string{"code 1000, reason \"bye\""}},
	}
	for _, tc := range tests {
		u.conns.Select(tc.conn, 0)
		u.timeline.Select(tc.row, 0)
		s := u.text()
		for _, w := range tc.want {
			if !strings.Contains(s, w) {
				t.Errorf("conn row %d, timeline row %d: detail lacks %q:\n%s", tc.conn, tc.row, w, s)
			}
		}
	}
}

func TestNavigationKeys(t *testing.T) {
	u := newTestUI(t, Config{}, fixture())
	u.press(tcell.KeyRune, 't') // every event
	if r, _ := u.conns.GetSelection(); r != 2 {
		t.Fatalf("start: connection row %d selected, want 2 (the newest)", r)
	}
	u.press(tcell.KeyUp, 0)
	if r, _ := u.conns.GetSelection(); r != 1 {
		t.Errorf("↑: row %d, want 1", r)
	}
	if u.follow {
		t.Error("moving the selection up should turn follow off")
	}
	mustContain(t, u.text(), "Timeline #1 api.test (7 rows)")
	u.press(tcell.KeyRune, 'j')
	if r, _ := u.conns.GetSelection(); r != 2 {
		t.Errorf("j: row %d, want 2", r)
	}
	u.press(tcell.KeyRune, 'k')
	u.press(tcell.KeyTab, 0)
	if u.pane != paneTimeline {
		t.Errorf("Tab: pane %d, want the timeline", u.pane)
	}
	u.press(tcell.KeyRune, 'j')
	if r, _ := u.timeline.GetSelection(); r != 2 {
		t.Errorf("j in the timeline: row %d, want 2", r)
	}
	mustContain(t, u.text(), "GET http://api.test/poll?n=1 HTTP/1.1")
	u.press(tcell.KeyEnter, 0)
	if u.pane != paneDetail {
		t.Errorf("Enter in the timeline: pane %d, want the detail", u.pane)
	}
	u.press(tcell.KeyEscape, 0)
	u.press(tcell.KeyEscape, 0)
	if u.pane != paneConns {
		t.Errorf("Esc Esc: pane %d, want the connections", u.pane)
	}
	u.press(tcell.KeyEnter, 0)
	if u.pane != paneTimeline {
		t.Errorf("Enter in the connections: pane %d, want the timeline", u.pane)
	}
	u.press(tcell.KeyBacktab, 0)
	if u.pane != paneConns {
		t.Errorf("Shift-Tab: pane %d, want the connections", u.pane)
	}
	u.press(tcell.KeyRune, 'f')
	if !u.follow {
		t.Error("f should turn follow back on")
	}
	if r, _ := u.conns.GetSelection(); r != 2 {
		t.Errorf("f: row %d, want the newest (2)", r)
	}
}

// The filter keeps whole exchanges (a request's match shows its response
// too) in the exchanges view, and matching events in the events view.
func TestFilter(t *testing.T) {
	for _, tc := range []struct {
		filter    string
		conns     []string // shown
		hidden    []string // not shown
		exchanges string   // in the exchanges view's title
		events    string   // in the events view's title
	}{
		// A word alone is ~u: the exchange, its request and its response,
		// and the connection's open (outside any exchange, it matches when
		// one of the connection's does).
		{"logo", []string{"#1 127.0.0.1:50312"}, []string{"#2 127.0.0.1:50314"}, "Exchanges #1 api.test (1 rows)", "Timeline #1 api.test (3 rows)"},
		{`poll\?n=[13]`, []string{"#1 127.0.0.1:50312"}, []string{"#2"}, "Exchanges #1 api.test (2 rows)", "Timeline #1 api.test (5 rows)"},
		// Message atoms: the messages, not their connection's other rows.
		{"~ws ~op text", []string{"#2 127.0.0.1:50314"}, []string{"#1 127.0.0.1:50312"}, "Exchanges #2 chat.test (1 rows)", "Timeline #2 chat.test (1 rows)"},
		{`~b "HELLO WORLD"`, []string{"#2 127.0.0.1:50314"}, []string{"#1 127.0.0.1:50312"}, "Exchanges #2 chat.test (1 rows)", "Timeline #2 chat.test (1 rows)"},
		{"~wq", []string{"#2 127.0.0.1:50314"}, []string{"#1 127.0.0.1:50312"}, "Exchanges #2 chat.test (3 rows)", "Timeline #2 chat.test (3 rows)"},
		{"~op text !~fin", []string{"#2 127.0.0.1:50314"}, []string{"#1 127.0.0.1:50312"}, "Exchanges #2 chat.test (1 rows)", "Timeline #2 chat.test (1 rows)"},
		// A connection atom and an event atom: the WebSocket's requests.
		{"~websocket ~q", []string{"#2 127.0.0.1:50314"}, []string{"#1 127.0.0.1:50312"}, "Exchanges #2 chat.test (2 rows)", "Timeline #2 chat.test (2 rows)"},
		// A response body's text keeps the whole exchange, and in the
		// events view the response.
		{"~b price", []string{"#1 127.0.0.1:50312"}, []string{"#2 127.0.0.1:50314"}, "Exchanges #1 api.test (1 rows)", "Timeline #1 api.test (1 rows)"},
	} {
		u := newTestUI(t, Config{}, fixture())
		u.press(tcell.KeyRune, '/')
		u.typeText(tc.filter)
		u.press(tcell.KeyEnter, 0)
		s := u.text()
		for _, w := range tc.conns {
			mustContain(t, s, w)
		}
		for _, w := range tc.hidden {
			mustNotContain(t, s, w)
		}
		mustContain(t, s, tc.exchanges)
		mustContain(t, s, "filter ")
		u.press(tcell.KeyRune, 't')
		mustContain(t, u.text(), tc.events)
		u.press(tcell.KeyRune, 't')
		// Esc in the connections pane clears the filter.
		u.press(tcell.KeyEscape, 0)
		s = u.text()
		mustContain(t, s, "#1 127.0.0.1:50312")
		mustContain(t, s, "#2 127.0.0.1:50314")
	}
}

func TestPauseAndClear(t *testing.T) {
	u := newTestUI(t, Config{}, fixture())
	u.press(tcell.KeyRune, 'p')
	feed(u.store, []capture.Event{{Kind: capture.KindOpen, Conn: 3, Time: at(1500), Client: "127.0.0.1:60000", Mode: "regular"}})
	u.refresh()
	s := u.text()
	mustNotContain(t, s, "127.0.0.1:60000")
	mustContain(t, s, "PAUSED 1 new events not shown")
	u.press(tcell.KeyRune, 'p')
	s = u.text()
	mustContain(t, s, "#3 127.0.0.1:60000")
	mustNotContain(t, s, "PAUSED")

	u.press(tcell.KeyRune, 'c')
	s = u.text()
	mustNotContain(t, s, "#2 127.0.0.1:50314") // closed: gone
	mustContain(t, s, "#1 127.0.0.1:50312")    // still open: stays, timeline empty
	mustContain(t, s, "#3 127.0.0.1:60000")
	mustContain(t, s, "27 older events dropped from memory")
}

// helpKeys returns the keys column of the help page as drawn.
func helpKeys(t *testing.T, lines []string) []string {
	t.Helper()
	var keys []string
	in := false
	for _, l := range lines {
		switch {
		case strings.Contains(l, "Keys, then filters (↓ PgDn scroll · Esc or q closes)"):
			in = true
			continue
		case !in:
			continue
		case strings.Contains(l, "╚"):
			return keys
		}
		r := []rune(l)
		i := strings.IndexRune(l, '║')
		if i < 0 {
			t.Fatalf("help line without its border: %q", l)
		}
		x := len([]rune(l[:i])) + 1 // the first rune inside the border
		k := strings.TrimSpace(string(r[x+1 : x+16]))
		if k == "" {
			return keys // the legend follows
		}
		keys = append(keys, k)
	}
	t.Fatal("the help page is not shown")
	return nil
}

func TestHelpListsEveryKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"live", Config{}, []string{"↑ ↓  j k", "Tab  Shift-Tab", "Enter", "Esc", "t", "F", "/", "h  H", "P", "e  E", "v", "s", "f", "p", "w", "c", "?", "q  Ctrl-C", "mouse"}},
		{"with -w", Config{CaptureFile: "cap.jsonl"}, []string{"↑ ↓  j k", "Tab  Shift-Tab", "Enter", "Esc", "t", "F", "/", "h  H", "P", "e  E", "v", "s", "f", "p", "c", "?", "q  Ctrl-C", "mouse"}},
		{"with inject", Config{Inject: newTestInjector()}, []string{"↑ ↓  j k", "Tab  Shift-Tab", "Enter", "Esc", "t", "F", "/", "h  H", "P", "i", "e  E", "v", "s", "f", "p", "w", "c", "?", "q  Ctrl-C", "mouse"}},
		{"view", Config{ReadOnly: true, Source: "x.jsonl"}, []string{"↑ ↓  j k", "Tab  Shift-Tab", "Enter", "Esc", "t", "F", "/", "h  H", "P", "e  E", "v", "s", "f", "c", "?", "q  Ctrl-C", "mouse"}},
	} {
		u := newTestUI(t, tc.cfg, fixture())
		u.press(tcell.KeyRune, '?')
		if !u.helpShown {
			t.Errorf("%s: ? did not show the help", tc.name)
		}
		got := helpKeys(t, u.screen())
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("%s: help lists keys\n got %q\nwant %q", tc.name, got, tc.want)
		}
		u.press(tcell.KeyRune, 'j') // ignored while help is shown
		if r, _ := u.conns.GetSelection(); r != 2 {
			t.Errorf("%s: j under the help moved the selection to %d", tc.name, r)
		}
		u.press(tcell.KeyEscape, 0)
		mustNotContain(t, u.text(), "Keys, then filters (↓ PgDn scroll · Esc or q closes)")
		u.press(tcell.KeyRune, '?')
		u.press(tcell.KeyRune, 'q')
		mustNotContain(t, u.text(), "Keys, then filters (↓ PgDn scroll · Esc or q closes)")
		select {
		case <-u.quit:
			t.Errorf("%s: q on the help page should close it, not quit", tc.name)
		default:
		}
		// Keys the help does not list for this mode do nothing.
		if tc.cfg.ReadOnly {
			u.press(tcell.KeyRune, 'p')
			if u.paused {
				t.Errorf("%s: p paused a saved capture", tc.name)
			}
		}
		if tc.cfg.ReadOnly || tc.cfg.CaptureFile != "" {
			u.press(tcell.KeyRune, 'w')
			if u.prompting != "" {
				t.Errorf("%s: w opened the %s prompt", tc.name, u.prompting)
			}
		}
	}
}

// Every key the help lists has its effect.
func TestKeysDoWhatHelpSays(t *testing.T) {
	type key struct {
		k tcell.Key
		r rune
	}
	rn := func(r rune) key { return key{tcell.KeyRune, r} }
	sel := func(tb interface{ GetSelection() (int, int) }) int { r, _ := tb.GetSelection(); return r }
	for _, tc := range []struct {
		help  string // the help's keys entry
		setup []key
		press []key
		check func(u *UI) string // "" when the effect is there, else what is wrong
	}{
		{"↑ ↓  j k", nil, []key{{tcell.KeyUp, 0}}, func(u *UI) string {
			return want(sel(u.conns) == 1 && !u.follow, "↑: connection row %d follow %v, want 1 and off", sel(u.conns), u.follow)
		}},
		{"↑ ↓  j k", []key{rn('k')}, []key{{tcell.KeyDown, 0}}, func(u *UI) string {
			return want(sel(u.conns) == 2, "↓: connection row %d, want 2", sel(u.conns))
		}},
		{"↑ ↓  j k", nil, []key{rn('k')}, func(u *UI) string {
			return want(sel(u.conns) == 1, "k: connection row %d, want 1", sel(u.conns))
		}},
		{"↑ ↓  j k", []key{rn('k')}, []key{rn('j')}, func(u *UI) string {
			return want(sel(u.conns) == 2, "j: connection row %d, want 2", sel(u.conns))
		}},
		{"↑ ↓  j k (g G)", []key{rn('f'), {tcell.KeyTab, 0}}, []key{rn('g')}, func(u *UI) string {
			return want(sel(u.timeline) == 1, "g: timeline row %d, want the first (1)", sel(u.timeline))
		}},
		{"↑ ↓  j k (g G)", []key{rn('f'), {tcell.KeyTab, 0}, rn('g')}, []key{rn('G')}, func(u *UI) string {
			return want(sel(u.timeline) == u.rowCount(), "G: timeline row %d, want the last (%d)", sel(u.timeline), u.rowCount())
		}},
		{"Tab  Shift-Tab", nil, []key{{tcell.KeyTab, 0}}, func(u *UI) string {
			return want(u.pane == paneTimeline, "Tab: pane %d, want the timeline", u.pane)
		}},
		{"Tab  Shift-Tab", nil, []key{{tcell.KeyBacktab, 0}}, func(u *UI) string {
			return want(u.pane == paneDetail, "Shift-Tab: pane %d, want the detail", u.pane)
		}},
		{"Enter", nil, []key{{tcell.KeyEnter, 0}, {tcell.KeyEnter, 0}}, func(u *UI) string {
			return want(u.pane == paneDetail, "Enter Enter: pane %d, want the detail", u.pane)
		}},
		{"Esc", []key{{tcell.KeyEnter, 0}}, []key{{tcell.KeyEscape, 0}}, func(u *UI) string {
			return want(u.pane == paneConns, "Esc: pane %d, want the connections", u.pane)
		}},
		{"/", nil, []key{rn('/'), rn('l'), rn('o'), rn('g'), rn('o'), {tcell.KeyEnter, 0}}, func(u *UI) string {
			return want(u.filterSrc() == "logo" && len(u.connView) == 1, "/logo: filter %q, %d connections shown, want 1", u.filterSrc(), len(u.connView))
		}},
		{"f", nil, []key{rn('f')}, func(u *UI) string {
			return want(!u.follow, "f: follow still on")
		}},
		{"p", nil, []key{rn('p')}, func(u *UI) string {
			feed(u.store, []capture.Event{{Kind: capture.KindOpen, Conn: 7, Time: at(1900), Client: "127.0.0.1:7"}})
			u.refresh()
			return want(u.paused && u.st.byID[7] == nil, "p: paused %v, a new connection shown %v", u.paused, u.st.byID[7] != nil)
		}},
		{"w", nil, []key{rn('w')}, func(u *UI) string {
			return want(u.prompting == "write", "w: prompt %q, want write", u.prompting)
		}},
		{"c", nil, []key{rn('c')}, func(u *UI) string {
			return want(len(u.st.conns) == 1 && u.store.Total() == u.store.Base(), "c: %d connections, %d events held; want the open one and none", len(u.st.conns), u.store.Total()-u.store.Base())
		}},
		{"?", nil, []key{rn('?')}, func(u *UI) string {
			return want(u.helpShown, "?: help not shown")
		}},
		{"q  Ctrl-C", nil, []key{rn('q')}, func(u *UI) string {
			return want(quitting(u), "q did not quit")
		}},
		{"q  Ctrl-C", nil, []key{{tcell.KeyCtrlC, 0}}, func(u *UI) string {
			return want(quitting(u), "Ctrl-C did not quit")
		}},
	} {
		u := newTestUI(t, Config{}, fixture())
		for _, k := range tc.setup {
			u.press(k.k, k.r)
		}
		for _, k := range tc.press {
			u.press(k.k, k.r)
		}
		u.screen()
		if msg := tc.check(u); msg != "" {
			t.Errorf("%s: %s", tc.help, msg)
		}
	}
}

// want returns "" when ok, else the formatted complaint.
func want(ok bool, format string, args ...any) string {
	if ok {
		return ""
	}
	return fmt.Sprintf(format, args...)
}

func quitting(u *UI) bool {
	select {
	case <-u.quit:
		return true
	default:
		return false
	}
}

func TestWriteCapture(t *testing.T) {
	u := newTestUI(t, Config{}, fixture())
	path := filepath.Join(t.TempDir(), "out.jsonl")
	u.press(tcell.KeyRune, 'w')
	u.prompt.SetText(path)
	u.press(tcell.KeyEnter, 0)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(u.getNote(), "wrote") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	mustContain(t, u.getNote(), "wrote 26 events")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := capture.NewReader(f)
	n := 0
	for {
		ev, err := r.Next()
		if err != nil {
			break
		}
		if want := fixture()[n]; ev.Kind != want.Kind || ev.Conn != want.Conn || string(ev.Payload) != string(want.Payload) {
			t.Errorf("event %d: got %s #%d, want %s #%d", n, ev.Kind, ev.Conn, want.Kind, want.Conn)
		}
		n++
	}
	if n != 26 {
		t.Errorf("read back %d events, want 26", n)
	}
}

// The whole application on a simulation screen: events injected while it
// runs reach the screen, and q stops it. Injected keys and queued updates
// are not ordered, so this polls until a deadline.
func TestRunLive(t *testing.T) {
	scr := tcell.NewSimulationScreen("UTF-8")
	if err := scr.Init(); err != nil {
		t.Fatal(err)
	}
	st := NewStore(0)
	u := New(Config{Screen: scr, Listen: "127.0.0.1:1", Mode: "regular"}, st)
	scr.SetSize(160, 50)
	done := make(chan error, 1)
	go func() { done <- u.Run(context.Background()) }()
	feed(st, fixture())
	waitScreen(t, u, scr, "Exchanges #2 chat.test (8 rows)")
	feed(st, []capture.Event{{Kind: capture.KindOpen, Conn: 9, Time: at(1500), Client: "127.0.0.1:60009", Mode: "regular"}})
	waitScreen(t, u, scr, "#9 127.0.0.1:60009")
	scr.InjectKey(tcell.KeyRune, 'q', tcell.ModNone)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("q did not stop the dashboard")
	}
}

func TestRunStopsOnContextAndCtrlC(t *testing.T) {
	for _, viaKey := range []bool{false, true} {
		scr := tcell.NewSimulationScreen("UTF-8")
		scr.Init()
		u := New(Config{Screen: scr}, NewStore(0))
		scr.SetSize(160, 50)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- u.Run(ctx) }()
		waitScreen(t, u, scr, "? help")
		if viaKey {
			scr.InjectKey(tcell.KeyCtrlC, 0, tcell.ModCtrl)
		} else {
			cancel()
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("viaKey=%v: the dashboard did not stop", viaKey)
		}
		cancel()
	}
}

// waitScreen polls the running dashboard's screen until it shows want. It
// reads the cells on the UI goroutine (QueueUpdate from the test's own
// goroutine), since tview draws into them there.
func waitScreen(t *testing.T, u *UI, scr tcell.SimulationScreen, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var s string
	for time.Now().Before(deadline) {
		u.app.QueueUpdate(func() { s = simText(scr) })
		if strings.Contains(s, want) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("screen never showed %q:\n%s", want, s)
}

func simText(scr tcell.SimulationScreen) string {
	cells, w, h := scr.GetContents()
	var b strings.Builder
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if r := cells[y*w+x].Runes; len(r) > 0 {
				b.WriteString(string(r))
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}
