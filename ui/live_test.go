package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
)

// liveWait bounds every wait on a running dashboard. A UI loop that does
// not answer within it is reported as hung: the test fails instead of the
// package timing out. A hung loop never answers, so the bound can be
// generous for a loaded machine.
const liveWait = 30 * time.Second

// syncKey is a key no one presses: the test's own input capture takes it
// to learn that every input injected before it has been handled.
const syncKey = tcell.KeyF64

// errHung says the UI loop stopped answering.
var errHung = errors.New("the UI loop stopped answering")

// liveUI is a dashboard running its real application loop on an 80×24
// simulation screen (small: the race detector makes every draw slow).
type liveUI struct {
	t      *testing.T
	u      *UI
	scr    tcell.SimulationScreen
	st     *Store
	done   chan error
	synced chan struct{} // syncKey was handled
}

// startLive runs a dashboard over evs and waits for its first draw.
func startLive(t *testing.T, cfg Config, evs []capture.Event) *liveUI {
	t.Helper()
	return startLiveSize(t, cfg, evs, 80, 24)
}

// startLiveSize is startLive on a w×h screen.
func startLiveSize(t *testing.T, cfg Config, evs []capture.Event, w, h int) *liveUI {
	t.Helper()
	scr := tcell.NewSimulationScreen("UTF-8")
	if err := scr.Init(); err != nil {
		t.Fatal(err)
	}
	cfg.Screen = scr
	if cfg.Listen == "" && !cfg.ReadOnly {
		cfg.Listen, cfg.Mode = "127.0.0.1:8080", "regular"
	}
	if cfg.Interval == 0 {
		cfg.Interval = 5 * time.Millisecond
	}
	st := NewStore(0)
	feed(st, evs)
	l := &liveUI{t: t, u: New(cfg, st), scr: scr, st: st, done: make(chan error, 1), synced: make(chan struct{}, 1)}
	scr.SetSize(w, h)
	l.u.app.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
		if ev.Key() == syncKey {
			l.synced <- struct{}{}
			return nil
		}
		return l.u.onKey(ev)
	})
	go func() { l.done <- l.u.Run(context.Background()) }()
	if err := l.waitFor("frametap 127.0.0.1:8080"); err != nil {
		t.Fatal(err)
	}
	return l
}

// onLoop runs f on the UI goroutine and reports whether it ran within
// liveWait. When it did not, the loop is stuck and f may run later or
// never.
func (l *liveUI) onLoop(f func()) bool {
	ran := make(chan struct{})
	go l.u.app.QueueUpdate(func() { f(); close(ran) })
	select {
	case <-ran:
		return true
	case <-time.After(liveWait):
		return false
	}
}

// text reads the screen on the UI goroutine; ok is false when the loop
// did not answer.
func (l *liveUI) text() (s string, ok bool) {
	var got string
	ok = l.onLoop(func() { got = simText(l.scr) })
	return got, ok
}

// waitFor polls the screen until every one of wants is on it, and says
// what went wrong otherwise: a loop that stopped answering, or a screen
// that never showed them.
func (l *liveUI) waitFor(wants ...string) error {
	deadline := time.Now().Add(liveWait)
	var s string
	for {
		var ok bool
		if s, ok = l.text(); !ok {
			return fmt.Errorf("%w: no update ran within %v", errHung, liveWait)
		}
		missing := ""
		for _, w := range wants {
			if !strings.Contains(s, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the screen never showed %q:\n%s", missing, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// press injects one input into the screen's event queue. The queue is
// bounded: a stuck loop would block the injection, so it gives up.
func (l *liveUI) press(in input) error {
	sends := in.send(l) // here: it may read the screen, and fail the test
	sent := make(chan struct{})
	go func() {
		for _, f := range sends {
			f()
		}
		close(sent)
	}()
	select {
	case <-sent:
		return nil
	case <-time.After(liveWait):
		return fmt.Errorf("%w: the screen's event queue stayed full", errHung)
	}
}

// sync waits until every input sent so far has been handled: injected
// inputs are handled in order, queued updates (and so the pump's
// refreshes) in no order with them.
func (l *liveUI) sync() error {
	if err := l.press(key(syncKey)); err != nil {
		return err
	}
	select {
	case <-l.synced:
		return nil
	case <-time.After(liveWait):
		return fmt.Errorf("%w: an input was not handled within %v", errHung, liveWait)
	}
}

// quit presses Esc (to close a prompt or the help) then q, and waits for
// Run to return.
func (l *liveUI) quit() error {
	for _, in := range []input{key(tcell.KeyEscape), char('q')} {
		if err := l.press(in); err != nil {
			return err
		}
	}
	return l.waitQuit("Esc q")
}

func (l *liveUI) waitQuit(what string) error {
	select {
	case err := <-l.done:
		return err
	case <-time.After(liveWait):
		return fmt.Errorf("%s did not stop the dashboard within %v", what, liveWait)
	}
}

// input is one key press or mouse action, by its help-page name.
type input struct {
	name string
	send func(l *liveUI) []func()
}

func key(k tcell.Key) input {
	return input{tcell.KeyNames[k], func(l *liveUI) []func() {
		mod := tcell.ModNone
		if k == tcell.KeyCtrlC {
			mod = tcell.ModCtrl
		}
		return []func(){func() { l.scr.InjectKey(k, 0, mod) }}
	}}
}

func char(r rune) input {
	return input{string(r), func(l *liveUI) []func() {
		return []func(){func() { l.scr.InjectKey(tcell.KeyRune, r, tcell.ModNone) }}
	}}
}

// click presses and releases the left button on the screen line dy below
// the top border of the pane whose title starts with title (dy 1 is the
// header, 2 the first row).
func click(title string, dy int, what string) input {
	return input{"click " + title + " " + what, func(l *liveUI) []func() {
		x, y := l.where(title)
		y += dy
		return []func(){
			func() { l.scr.InjectMouse(x, y, tcell.Button1, tcell.ModNone) },
			func() { l.scr.InjectMouse(x, y, tcell.ButtonNone, tcell.ModNone) },
		}
	}}
}

func wheel(title string, b tcell.ButtonMask, what string) input {
	return input{"wheel " + what + " " + title, func(l *liveUI) []func() {
		x, y := l.where(title)
		return []func(){
			func() { l.scr.InjectMouse(x, y+2, b, tcell.ModNone) },
			func() { l.scr.InjectMouse(x, y+2, tcell.ButtonNone, tcell.ModNone) },
		}
	}}
}

// then is a followed by b, as one input.
func then(a, b input) input {
	return input{a.name + ", then " + b.name, func(l *liveUI) []func() {
		return append(a.send(l), b.send(l)...)
	}}
}

// where returns a point inside the top border of the pane titled title.
func (l *liveUI) where(title string) (x, y int) {
	s, ok := l.text()
	if !ok {
		l.t.Fatalf("%v while looking for the %s pane", errHung, title)
	}
	for y, line := range strings.Split(s, "\n") {
		if i := strings.Index(line, title); i >= 0 {
			return 4, y
		}
	}
	l.t.Fatalf("no pane titled %q:\n%s", title, s)
	return 0, 0
}

// helpKeys is every key the help page lists (live dashboard, no capture
// file), with those it names in passing (PgUp PgDn, g G Home End).
func helpKeyInputs() []input {
	return []input{
		key(tcell.KeyUp), key(tcell.KeyDown), char('j'), char('k'),
		key(tcell.KeyPgUp), key(tcell.KeyPgDn), char('g'), char('G'), key(tcell.KeyHome), key(tcell.KeyEnd),
		key(tcell.KeyTab), key(tcell.KeyBacktab), key(tcell.KeyEnter), key(tcell.KeyEscape),
		char('t'), char('/'), char('h'), char('H'), char('v'), char('s'), char('f'), char('p'), char('w'), char('c'), char('?'),
		char('q'), key(tcell.KeyCtrlC),
	}
}

// mouseInputs is the help page's "mouse": clicks on the headers, the
// first rows and the space below the rows, then a key from there, and the
// wheel. A click moves the focus itself, so these run from one pane.
func mouseInputs() []input {
	return []input{
		click("Connections", 1, "header"), click("Connections", 2, "first row"), click("Connections", 4, "below the rows"),
		click("Exchanges", 1, "header"), click("Exchanges", 2, "first row"), click("Exchanges", 7, "below the rows"),
		then(click("Connections", 4, "below the rows"), key(tcell.KeyDown)),
		then(click("Exchanges", 7, "below the rows"), key(tcell.KeyUp)),
		wheel("Connections", tcell.WheelDown, "down"), wheel("Exchanges", tcell.WheelUp, "up"),
	}
}

// Every key and mouse action of the help page, in each pane, on an empty
// dashboard, on one with a single connection and under a filter that
// matches nothing, then the selection moved: afterwards the dashboard
// still shows new traffic and q still quits. tview's Table searches for a selectable row until it comes
// back to the row it started from; on a table with only its header and a
// selection below it, that search never ends and the UI loop spins for
// good (issue 8, defect 11).
func TestEveryKeyKeepsTheDashboardLive(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the dashboard a few hundred times")
	}
	one := []capture.Event{
		{Kind: capture.KindOpen, Conn: 1, Time: at(0), Client: "127.0.0.1:50312", Mode: "regular"},
		{Kind: capture.KindRequest, Conn: 1, Time: at(1), Seq: 1, Method: "GET", Target: "http://api.test/a", Host: "api.test", Proto: "HTTP/1.1"},
		{Kind: capture.KindResponse, Conn: 1, Time: at(3), Seq: 1, Status: 200, StatusText: "OK", Proto: "HTTP/1.1"},
	}
	const nothing = "zzqx" // matches no event of the fixture
	scenarios := []struct {
		name   string
		evs    []capture.Event
		filter string
	}{
		{"empty", nil, ""},
		{"one connection", one, ""},
		{"filter matching nothing", fixture(), nothing},
	}
	// A hung loop keeps spinning a core until the test binary exits: after
	// the first, the rest would crawl, so they are skipped.
	var hung atomic.Value
	for _, sc := range scenarios {
		// The two tables; the detail pane is reached by Enter and Tab from
		// the timeline, and the moves after them run there.
		for pane, paneName := range []string{"connections", "timeline"} {
			ins := helpKeyInputs()
			if pane == paneConns {
				ins = append(ins, mouseInputs()...)
			}
			for _, in := range ins {
				name := sc.name + "/" + paneName + "/" + in.name
				t.Run(name, func(t *testing.T) {
					if h := hung.Load(); h != nil {
						t.Skipf("not run: the UI loop hung after %s and still spins", h)
					}
					if err := liveKey(t, sc.evs, sc.filter, pane, in); err != nil {
						if errors.Is(err, errHung) {
							hung.Store(name)
						}
						t.Fatalf("after %s in the %s pane (%s): %v", in.name, paneName, sc.name, err)
					}
				})
			}
		}
	}
}

// liveKey starts a dashboard over evs, applies filter, moves to pane,
// sends in and a few moves, then checks that new traffic reaches the
// screen and that q (or the Ctrl-C or q under test) stops it.
func liveKey(t *testing.T, evs []capture.Event, filter string, pane int, in input) error {
	l := startLive(t, Config{}, evs)
	defer func() {
		l.u.Quit() // on the way out after a failure; a no-op after a quit
	}()
	if filter != "" {
		for _, in := range append(append([]input{char('/')}, chars(filter)...), key(tcell.KeyEnter)) {
			if err := l.press(in); err != nil {
				return err
			}
		}
	}
	for range pane {
		if err := l.press(key(tcell.KeyTab)); err != nil {
			return err
		}
	}
	if err := l.sync(); err != nil {
		return fmt.Errorf("setting up: %w", err)
	}
	var shown, inPane int
	if !l.onLoop(func() { shown, inPane = len(l.u.connView), l.u.pane }) {
		return errHung
	}
	if filter != "" && shown != 0 || inPane != pane {
		return fmt.Errorf("setting up: filter %q shows %d connections, pane %d, want none and pane %d", filter, shown, inPane, pane)
	}

	if err := l.press(in); err != nil {
		return err
	}
	if in.name == "q" || in.name == "Ctrl-C" {
		return l.waitQuit(in.name)
	}
	// Then move in whatever pane the input left focused: what it did to
	// the view (cleared it, filtered it, moved the focus to an empty
	// timeline) must leave the selection movable.
	// (Home and End search from a row of the table: they cannot spin.)
	for _, k := range []tcell.Key{tcell.KeyUp, tcell.KeyDown, tcell.KeyPgDn, tcell.KeyPgUp} {
		if err := l.press(key(k)); err != nil {
			return err
		}
	}
	if err := l.sync(); err != nil {
		return err
	}

	// New traffic: the status line counts it whatever the key did (pause,
	// filter, help, prompt), and the connections table shows it when
	// nothing hides it.
	var paused, covered bool
	if !l.onLoop(func() {
		// The help page, and the detail pane on a narrow screen, cover the
		// connections table.
		paused, covered = l.u.paused, l.u.helpShown || l.u.narrow && l.u.pane == paneDetail
	}) {
		return errHung
	}
	feed(l.st, []capture.Event{{Kind: capture.KindOpen, Conn: 99, Time: at(1999), Client: "127.0.0.1:60099", Mode: "regular"}})
	wants := []string{fmt.Sprintf("%d events", l.st.Total())}
	if !paused && !covered && filter == "" {
		wants = append(wants, "#99 127.0.0.1:60099")
	}
	if err := l.waitFor(wants...); err != nil {
		return fmt.Errorf("new traffic: %w", err)
	}
	return l.quit()
}

func chars(s string) []input {
	var ins []input
	for _, r := range s {
		ins = append(ins, char(r))
	}
	return ins
}
