package ui

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
)

// Issue 13's papercuts, each as the dashboard shows it.

// The empty dashboard says what to do (the hint was never painted).
func TestEmptyDashboardHint(t *testing.T) {
	got := RenderOnce(Config{Listen: "127.0.0.1:8080", Mode: "regular"}, NewStore(0), 100, 24)
	if !strings.Contains(got, "no connection yet: point a client at the proxy") {
		t.Errorf("the empty dashboard lacks its hint:\n%s", got)
	}
}

// A connection's BYTES count what was relayed while it is open, as the
// close event will (no "~" estimate), and the status line's rate counts
// the bytes as they are relayed.
func TestLiveBytes(t *testing.T) {
	st := NewStore(0)
	stream := st.Stream()
	addNow(stream, &capture.Event{Kind: capture.KindOpen, Conn: 9, Time: at(0), Client: "127.0.0.1:9", Mode: "reverse", Server: "up:80"})
	live := stream.(capture.Live)
	live.Relayed("client", 300)
	live.Relayed("server", 5<<20)
	scr := tcell.NewSimulationScreen("UTF-8")
	scr.Init()
	u := New(Config{Screen: scr, Listen: "127.0.0.1:8080", Mode: "reverse"}, st)
	scr.SetSize(160, 30)
	clock := at(1000)
	u.now = func() time.Time { return clock }
	u.samples = nil // New sampled the wall clock
	u.refresh()
	if l := line(u.screen(), "#9 127.0.0.1:9"); !strings.Contains(l, " 300 B↑ 5.0 MiB↓ ") || strings.Contains(l, "~") {
		t.Errorf("open connection row %q: want the relayed 300 B↑ 5.0 MiB↓, no ~", l)
	}
	clock = at(2000)
	live.Relayed("server", 1<<20)
	u.refresh()
	if s := u.status.GetText(true); !strings.Contains(s, "1.0 MiB/s") {
		t.Errorf("status %q: want the relayed rate, 1.0 MiB/s", s)
	}
	addNow(stream, &capture.Event{Kind: capture.KindClose, Conn: 9, Time: at(2000), BytesFromClient: 300, BytesFromServer: 6 << 20})
	stream.Close()
	u.refresh()
	if l := line(u.screen(), "#9 127.0.0.1:9"); !strings.Contains(l, " 300 B↑ 6.0 MiB↓ ") {
		t.Errorf("closed connection row %q: want the close event's counts", l)
	}
}

// frametap's own "200 Connection established" is not the server's: the
// overhead line leaves it out, as BYTES (the close event) does.
func TestOverheadLeavesOutOwnAnswer(t *testing.T) {
	connect := capture.Event{Kind: capture.KindRequest, Conn: 1, Time: at(1), Seq: 1, Method: "CONNECT", Target: "a.test:443", Host: "a.test:443", Proto: "HTTP/1.1", Headers: hdrs("Host", "a.test:443")}
	evs := []capture.Event{
		{Kind: capture.KindOpen, Conn: 1, Time: at(0), Client: "127.0.0.1:1", Mode: "regular"},
		connect,
		{Kind: capture.KindResponse, Conn: 1, Time: at(2), Seq: 1, Status: 200, StatusText: "Connection established", Proto: "HTTP/1.1", ByFrametap: true},
		{Kind: capture.KindClose, Conn: 1, Time: at(9), BytesFromClient: requestHeadLen(&connect), BytesFromServer: 0},
	}
	u := newTestUI(t, Config{}, evs)
	s := u.text()
	head := size(requestHeadLen(&connect))
	mustContain(t, s, "overhead: HTTP headers "+head+" · WS frame headers 0 B · payload 0 B")
	if l := line(u.screen(), "#1 127.0.0.1:1"); !strings.Contains(l, head+"↑ 0 B↓") {
		t.Errorf("row %q: want %s↑ 0 B↓", l, head)
	}
}

// A refused CONNECT says so, and its summary does not end in a colon.
func TestRefusedConnectSummary(t *testing.T) {
	evs := []capture.Event{
		{Kind: capture.KindOpen, Conn: 1, Time: at(0), Client: "127.0.0.1:1", Mode: "regular"},
		{Kind: capture.KindRequest, Conn: 1, Time: at(1), Seq: 1, Method: "CONNECT", Target: "nowhere.test:443", Host: "nowhere.test:443", Proto: "HTTP/1.1"},
		{Kind: capture.KindError, Conn: 1, Time: at(2), From: "server", Msg: "cannot reach upstream nowhere.test:443"},
		{Kind: capture.KindResponse, Conn: 1, Time: at(2), Seq: 1, Status: 502, StatusText: "Bad Gateway", Proto: "HTTP/1.1", ByFrametap: true},
		{Kind: capture.KindClose, Conn: 1, Time: at(3), BytesFromClient: 60},
	}
	st := applyAll(t, evs).byID[1]
	got := st.summary()[0]
	if got != "CONNECT to nowhere.test:443 refused: 502" || strings.HasSuffix(strings.TrimSpace(got), ":") {
		t.Errorf("summary %q", got)
	}
	// A tunnel whose bytes are relayed as they are: no colon either.
	open := applyAll(t, append(evs[:2:2], capture.Event{Kind: capture.KindResponse, Conn: 1, Time: at(2), Seq: 1, Status: 200, StatusText: "Connection established", Proto: "HTTP/1.1", ByFrametap: true})).byID[1]
	if got := open.summary()[0]; got != "CONNECT tunnel to nowhere.test:443, relayed as it is (not decoded)" {
		t.Errorf("opaque tunnel summary %q", got)
	}
}

// At 160 columns the status line keeps its end: a failed write's reason
// and "? help" while paused, parts that matter less going first.
func TestStatusKeepsItsEnd(t *testing.T) {
	u := newTestUI(t, Config{}, fixture())
	u.press(tcell.KeyRune, 'p')
	u.setAlert("[red]write failed: open /nonexistent/dir/cap.jsonl: no such file or directory[-]")
	u.paintStatus()
	lines := u.screen()
	status := lines[len(lines)-1]
	for _, want := range []string{"PAUSED", "write failed: open /nonexistent/dir/cap.jsonl: no such file or directory", "? help"} {
		if !strings.Contains(status, want) {
			t.Errorf("status line at 160 columns lacks %q:\n%q", want, status)
		}
	}
	if !strings.HasSuffix(status, "? help") {
		t.Errorf("status line does not end in ? help: %q", status)
	}
}

// The h key hides the selected connection's host; H edits the list.
func TestHideHosts(t *testing.T) {
	u := newTestUI(t, Config{}, fixture())
	u.press(tcell.KeyRune, 'h') // #2 chat.test is selected
	s := u.text()
	mustNotContain(t, s, "#2 127.0.0.1:50314")
	mustContain(t, s, "#1 127.0.0.1:50312")
	mustContain(t, s, "Connections (1 of 2, 1 hidden by host: H)")
	mustContain(t, s, "1 host hidden (H)")
	u.press(tcell.KeyRune, 'H')
	if u.prompting != "hide" || u.prompt.GetText() != "chat.test" {
		t.Fatalf("H: prompt %q with %q", u.prompting, u.prompt.GetText())
	}
	u.prompt.SetText("api.test")
	u.press(tcell.KeyEnter, 0)
	s = u.text()
	mustContain(t, s, "#2 127.0.0.1:50314")
	mustNotContain(t, s, "#1 127.0.0.1:50312")
	u.press(tcell.KeyRune, 'H')
	u.prompt.SetText("")
	u.press(tcell.KeyEnter, 0)
	mustContain(t, u.text(), "Connections (2)")
	// A host:port entry hides that port only.
	for _, tc := range []struct {
		host   string
		hidden []string
		want   bool
	}{
		{"api.test:8080", []string{"api.test"}, true},
		{"api.test:8080", []string{"API.test:8080"}, true},
		{"api.test:8080", []string{"api.test:443"}, false},
		{"[::1]:443", []string{"::1"}, true},
		{"", []string{""}, false},
	} {
		if got := hiddenHost(tc.host, tc.hidden); got != tc.want {
			t.Errorf("hiddenHost(%q, %q) = %v", tc.host, tc.hidden, got)
		}
	}
}

// The s key saves the selected body, decoded, to a file.
func TestSaveBody(t *testing.T) {
	u := newAPIUI(t, 160, 40)
	u.press(tcell.KeyRune, 'f')
	u.timeline.Select(1, 0) // GET /api/items?page=1, gzip
	u.press(tcell.KeyRune, 's')
	if u.prompting != "save" || u.prompt.GetText() != "frametap-4-1-response.json" {
		t.Fatalf("s: prompt %q with %q", u.prompting, u.prompt.GetText())
	}
	path := filepath.Join(t.TempDir(), "items.json")
	u.prompt.SetText(path)
	u.press(tcell.KeyEnter, 0)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(u.getNote(), "saved") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	mustContain(t, u.getNote(), "saved 108 B body decoded from gzip to "+path)
	b, err := os.ReadFile(path)
	if err != nil || string(b) != string(apiJSON) {
		t.Fatalf("saved %q (%v), want the decoded JSON", b, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("saved with mode %v, want 0600", fi.Mode().Perm())
	}
	// A row without a body says so.
	u.timeline.Select(7, 0)
	u.press(tcell.KeyRune, 's')
	if u.prompting != "" || !strings.Contains(u.getNote(), "no body to save") {
		t.Errorf("s on a body-less row: prompt %q, note %q", u.prompting, u.getNote())
	}
}

// t switches between the exchanges and the events; v cycles how bodies
// are shown.
func TestViewKeys(t *testing.T) {
	u := newAPIUI(t, 200, 50)
	mustContain(t, u.text(), "Exchanges #4 api.test:8080 (7 rows) · t: events")
	u.press(tcell.KeyRune, 't')
	mustContain(t, u.text(), "Timeline #4 api.test:8080 (14 rows) · t: exchanges")
	u.press(tcell.KeyRune, 't')
	u.press(tcell.KeyRune, 'f')
	u.timeline.Select(1, 0)
	u.press(tcell.KeyRune, 'v')
	mustContain(t, u.detail.GetText(true), `.items[1].name = "beta"`)
	u.press(tcell.KeyRune, 'v')
	mustContain(t, u.detail.GetText(true), `{"items":[{"id":7`)
	u.press(tcell.KeyRune, 'v')
	mustContain(t, u.detail.GetText(true), "00000000  7b 22 69 74 65 6d 73 22")
	u.press(tcell.KeyRune, 'v')
	mustContain(t, u.detail.GetText(true), `      "name": "alpha",`)
}

// keptInPart is a gzip body of which the dashboard kept the first half.
var keptInPart = func() []byte {
	var b strings.Builder
	for i := range 400 {
		b.WriteString("item " + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + " is " + time.Duration(i*7919).String() + "\n")
	}
	return encodeAs(nil, "gzip", []byte(b.String()))
}()

// Bad bodies are shown raw with the reason: one that claims gzip and is
// not, one cut short, an unknown coding.
func TestBadBodiesShownRaw(t *testing.T) {
	u := newAPIUI(t, 200, 50)
	u.press(tcell.KeyRune, 'f')
	u.timeline.Select(6, 0)
	d := u.detail.GetText(true)
	for _, want := range []string{"not decoded: not valid gzip: invalid header", "shown raw, as it crossed the wire", `"not": "gzip"`} {
		if !strings.Contains(d, want) {
			t.Errorf("detail lacks %q:\n%s", want, d)
		}
	}
	for _, tc := range []struct {
		name  string
		ev    capture.Event
		wants []string
	}{
		{"unknown coding", capture.Event{Kind: capture.KindResponse, Status: 200, Headers: hdrs("Content-Encoding", "snappy"), BodyLen: 5, Body: []byte("\xff\x06abc")},
			[]string{`not decoded: content coding "snappy" is not decoded by frametap`, "shown raw", "ff 06 61 62 63"}},
		{"kept in part", capture.Event{Kind: capture.KindResponse, Status: 200, Headers: hdrs("Content-Encoding", "gzip"), BodyLen: int64(len(keptInPart)), Truncated: true, Body: keptInPart[:len(keptInPart)/2]},
			[]string{"decoded here from the", "item xxxxxt is 150.461µs", "showing what the first"}},
	} {
		var sb strings.Builder
		writeBody(&sb, &tc.ev, bodyAuto)
		for _, w := range tc.wants {
			if !strings.Contains(sb.String(), w) {
				t.Errorf("%s: body lacks %q:\n%s", tc.name, w, sb.String())
			}
		}
	}
}
