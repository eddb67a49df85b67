package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
)

// testInjector stands for the proxy behind the Injector interface: it
// records what the composer asks for and answers as told. (The real
// chain, composer to proxy to peer, is tested end to end in
// cmd/frametap, ui_e2e_test.go.)
type testInjector struct {
	mu       sync.Mutex
	got      []Injection
	up, down error // Injectable's answers
	err      error // Inject's
	wait     bool  // Inject says it waits, then waits for ctx
	waiting  chan struct{}
	returned chan error // what Inject returned, once it did
}

func newTestInjector() *testInjector {
	return &testInjector{waiting: make(chan struct{}, 1), returned: make(chan error, 1)}
}

func (ti *testInjector) Injectable(_ uint64, toServer bool) error {
	if toServer {
		return ti.up
	}
	return ti.down
}

func (ti *testInjector) Inject(ctx context.Context, _ uint64, m Injection) error {
	ti.mu.Lock()
	ti.got = append(ti.got, m)
	ti.mu.Unlock()
	err := ti.err
	if ti.wait {
		m.OnWait()
		ti.waiting <- struct{}{}
		<-ctx.Done()
		err = fmt.Errorf("inject: waited for the end of the server's message under way: %w; nothing was sent", ctx.Err())
	}
	ti.returned <- err
	return err
}

func (ti *testInjector) last(t *testing.T) Injection {
	t.Helper()
	ti.mu.Lock()
	defer ti.mu.Unlock()
	if len(ti.got) == 0 {
		t.Fatal("nothing was injected")
	}
	return ti.got[len(ti.got)-1]
}

// settleInject refreshes until the dashboard took what the Inject call
// returned (the dashboard's goroutine reports it just after it returns).
func settleInject(t *testing.T, u *UI) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		u.refresh()
		if u.comp == nil || u.comp.news == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the dashboard never heard back from Inject")
		}
	}
}

// liveWS is the fixture's WebSocket connection, still open.
func liveWS() []capture.Event {
	var evs []capture.Event
	for _, ev := range fixture() {
		if ev.Conn == 2 && ev.Kind != capture.KindClose && ev.Kind != capture.KindError && !(ev.Kind == capture.KindMessage && ev.Op == "close") && !(ev.Kind == capture.KindFrame && ev.Opcode == 8) {
			evs = append(evs, ev)
		}
	}
	return evs
}

// selectMessage selects, in the exchanges view, the message from from
// with op.
func selectMessage(t *testing.T, u *UI, from, op string) {
	t.Helper()
	for row := 1; row <= u.rowCount(); row++ {
		r, _ := u.xrowAt(row)
		if ev := u.store.At(r.ev); r.ex == nil && ev != nil && ev.From == from && ev.Op == op {
			u.press(tcell.KeyTab, 0)
			u.timeline.Select(row, 0)
			return
		}
	}
	t.Fatalf("no %s message from the %s", op, from)
}

// The composer opens prefilled from the selected message: a server's
// text goes back to the client as it was; Enter sends it, and once the
// proxy says it is written the composer closes and the status line says
// so.
func TestComposerPrefillAndSend(t *testing.T) {
	ti := newTestInjector()
	u := newTestUI(t, Config{Inject: ti}, liveWS())
	selectMessage(t, u, "server", "text")
	u.press(tcell.KeyRune, 'i')
	s := u.text()
	for _, w := range []string{"Inject into #2 chat.test", "To       server  [client]", "Type    [text]  binary hex", `{"push":1,"px":9.5}`, "Enter send"} {
		mustContain(t, s, w)
	}
	u.typeText(" ") // on To: Space chooses the next, the server
	u.press(tcell.KeyTab, 0)
	u.press(tcell.KeyTab, 0) // the payload
	u.typeText("!")
	u.press(tcell.KeyEnter, 0)
	<-ti.returned
	m := ti.last(t)
	if !m.ToServer || m.Op != "text" || string(m.Payload) != `{"push":1,"px":9.5}!` {
		t.Errorf("injected %+v", m)
	}
	settleInject(t, u)
	s = u.text()
	mustNotContain(t, s, "Inject into")
	mustContain(t, s, "injected a text message (20 B) to the server of #2")

	// The proxy records it: the timeline shows it marked.
	feed(u.store, []capture.Event{{Kind: capture.KindFrame, Conn: 2, Time: at(1000), From: "client", Fin: true, Opcode: 1, Masked: true, Len: 20, Injected: true},
		{Kind: capture.KindMessage, Conn: 2, Time: at(1000), From: "client", Op: "text", Frames: 1, Len: 20, Payload: m.Payload, Injected: true}})
	u.refresh()
	mustContain(t, u.text(), `injected · {"push":1,"px":9.5}!`)
	u.press(tcell.KeyRune, 't')
	mustContain(t, line(u.screen(), `{"push":1,"px":9.5}!`), "TEXT 20 B injected")
}

// A binary message opens in hex; choosing base64 rewrites the same bytes;
// a payload that does not read is refused in the composer.
func TestComposerBinary(t *testing.T) {
	ti := newTestInjector()
	u := newTestUI(t, Config{Inject: ti}, liveWS())
	selectMessage(t, u, "server", "binary")
	u.press(tcell.KeyRune, 'i')
	mustContain(t, u.text(), "de ad be ef 00 01 02 03 42")
	u.press(tcell.KeyTab, 0)
	u.press(tcell.KeyRight, 0)
	mustContain(t, u.text(), "3q2+7wABAgNC")
	u.press(tcell.KeyTab, 0)
	u.typeText("*")
	u.press(tcell.KeyEnter, 0)
	mustContain(t, u.text(), "the payload is not base64")
	mustContain(t, u.text(), "not sent: ")
	u.press(tcell.KeyBackspace2, 0)
	u.press(tcell.KeyEnter, 0)
	<-ti.returned
	if m := ti.last(t); m.ToServer || m.Op != "binary" || string(m.Payload) != "\xde\xad\xbe\xef\x00\x01\x02\x03\x42" {
		t.Errorf("injected %+v", m)
	}
}

// What the proxy refuses is shown in the composer, which stays open with
// what was typed; Esc closes it.
func TestComposerRefused(t *testing.T) {
	ti := newTestInjector()
	ti.err = errors.New("inject: invalid message: close code 1005 is reserved and must never be sent in a close frame (RFC 6455 section 7.4.1)")
	u := newTestUI(t, Config{Inject: ti}, liveWS())
	u.press(tcell.KeyRune, 'i')
	u.press(tcell.KeyTab, 0)
	for k := 0; k < len(injectTypes) && !strings.Contains(u.text(), "[close]"); k++ {
		u.press(tcell.KeyRight, 0)
	}
	u.press(tcell.KeyTab, 0)
	u.typeText("1005x") // the x is not taken: digits only
	u.press(tcell.KeyTab, 0)
	u.typeText("bye")
	u.press(tcell.KeyEnter, 0)
	<-ti.returned
	settleInject(t, u)
	s := u.text()
	mustContain(t, s, "close code 1005 is reserved")
	mustContain(t, s, "Inject into #2")
	if m := ti.last(t); m.Op != "close" || m.CloseCode != 1005 || m.CloseReason != "bye" {
		t.Errorf("asked for %+v", m)
	}
	u.press(tcell.KeyEscape, 0)
	mustNotContain(t, u.text(), "Inject into")
}

// A message that waits for the end of one under way says so; Esc gives up
// on it, and the composer says nothing was sent.
func TestComposerWaitThenEsc(t *testing.T) {
	ti := newTestInjector()
	ti.wait = true
	u := newTestUI(t, Config{Inject: ti}, liveWS())
	u.press(tcell.KeyRune, 'i')
	u.press(tcell.KeyEnter, 0)
	<-ti.waiting
	u.refresh()
	mustContain(t, u.text(), "waiting for the end of the message under way")
	u.press(tcell.KeyEscape, 0)
	if err := <-ti.returned; !errors.Is(err, context.Canceled) {
		t.Fatalf("Inject returned %v", err)
	}
	settleInject(t, u)
	s := u.text()
	mustContain(t, s, "nothing was sent")
	mustContain(t, s, "Inject into #2")
}

// The i key says why there is nothing to inject into, and is not there
// without an Injector.
func TestComposerNotOffered(t *testing.T) {
	ti := newTestInjector()
	ti.up = errors.New("inject: the connection closed before the message could be written: connection 2")
	ti.down = ti.up
	u := newTestUI(t, Config{Inject: ti}, liveWS())
	u.press(tcell.KeyRune, 'i')
	mustContain(t, u.text(), "i: inject: the connection closed")
	mustNotContain(t, u.text(), "Inject into")

	u = newTestUI(t, Config{Inject: newTestInjector()}, fixture()) // #2 closed, #1 not a WebSocket
	u.press(tcell.KeyRune, 'i')
	mustContain(t, u.text(), "i: connection #2 is closed")
	u.press(tcell.KeyRune, 'k')
	u.press(tcell.KeyRune, 'i')
	mustContain(t, u.text(), "i: connection #1 is not a WebSocket")

	u = newTestUI(t, Config{}, liveWS())
	u.press(tcell.KeyRune, 'i')
	mustNotContain(t, u.text(), "Inject into")
}
