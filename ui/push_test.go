package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/capture/push"
	"github.com/gdamore/tcell/v2"
)

// The push view (issue 10) over testdata/push-demo.jsonl: a capture of
// `frametap demo --headless -w` (9 s), where one host serves one price
// feed by polling, long-polling, SSE, WebSocket and Socket.IO, beside the
// tour's WebSockets and HTTP/2's acts on hosts of their own.

// newPushUI is a dashboard on a w×h screen over the demo's capture.
func newPushUI(t *testing.T, w, h int) (*UI, []capture.Event) {
	t.Helper()
	evs, err := capture.ReadFile("testdata/push-demo.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	scr := tcell.NewSimulationScreen("UTF-8")
	if err := scr.Init(); err != nil {
		t.Fatal(err)
	}
	st := NewStore(0)
	stream := st.Stream()
	for i := range evs {
		stream.Add(&evs[i])
	}
	stream.Flush()
	u := New(Config{Screen: scr, Listen: "127.0.0.1:8080", Mode: "regular (demo)", CaptureFile: "demo.jsonl",
		CaptureHealth: func() (int64, int64, error) { return int64(len(evs)), 0, nil }}, st)
	scr.SetSize(w, h)
	u.now = func() time.Time { return evs[len(evs)-1].Time }
	u.refresh()
	return u, evs
}

// Golden renders: every column of `view --summary` at 200 columns, the
// narrow table (polling figures in NOTES) at 80; the lesson below.
func TestGoldenPush(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {200, 50}} {
		u, _ := newPushUI(t, sz[0], sz[1])
		u.press(tcell.KeyRune, 'P')
		golden(t, fmt.Sprintf("push-%dx%d.golden", sz[0], sz[1]), screenAt(u))
	}
}

// The view shows the rows a push.Summary makes of the same events (the
// ones `view --summary` prints), one per host and mechanism.
func TestPushViewRows(t *testing.T) {
	u, evs := newPushUI(t, 200, 50)
	u.press(tcell.KeyRune, 'P')
	screen := u.text()
	sum := push.NewSummary(push.Config{})
	for i := range evs {
		sum.Add(&evs[i])
	}
	rows := sum.Rows()
	if len(rows) != len(u.push.rows) {
		t.Fatalf("the view has %d rows, the summary %d", len(u.push.rows), len(rows))
	}
	mechs := map[push.Mechanism]bool{}
	for _, r := range rows {
		mechs[r.Mechanism] = true
		if line := strings.Join(r.Cells()[:2], " "); !strings.Contains(strings.Join(strings.Fields(screen), " "), line) {
			t.Errorf("no row %q on the screen:\n%s", line, screen)
		}
	}
	for _, m := range []push.Mechanism{push.Polling, push.LongPolling, push.SSE, push.WebSocket, push.SocketIO} {
		if !mechs[m] {
			t.Errorf("the demo's capture has no %s row", m)
		}
	}
}

// P opens the view and closes it, so does Esc; q still quits from it; the
// help lists P; c forgets what the view learned.
func TestPushViewKeys(t *testing.T) {
	u, _ := newPushUI(t, 120, 40)
	if !strings.Contains(u.helpText(), "push view") {
		t.Error("the help does not list P")
	}
	u.press(tcell.KeyRune, 'P')
	if s := u.text(); !u.push.shown || !strings.Contains(s, "Push: how each host pushes") || strings.Contains(s, "Connections (") {
		t.Fatalf("P did not open the push view:\n%s", s)
	}
	u.press(tcell.KeyRune, 'P')
	if s := u.text(); u.push.shown || !strings.Contains(s, "Connections (") {
		t.Fatalf("P did not close the push view:\n%s", s)
	}
	u.press(tcell.KeyRune, 'P')
	u.press(tcell.KeyEscape, 0)
	if u.push.shown {
		t.Fatal("Esc did not close the push view")
	}
	u.press(tcell.KeyRune, 'c')
	u.press(tcell.KeyRune, 'P')
	if s := u.text(); len(u.push.rows) != 0 || !strings.Contains(s, "No pushed message yet") {
		t.Errorf("after c the view still has %d rows:\n%s", len(u.push.rows), s)
	}
	u.press(tcell.KeyRune, 'q')
	select {
	case <-u.quit:
	default:
		t.Error("q in the push view did not quit")
	}
}
