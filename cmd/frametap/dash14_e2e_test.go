package main

// The dashboard's parts of issue 14 end to end, in a real terminal
// (tmux, ui_e2e_test.go's harness): / with the filter language on the
// demo, and the inject composer writing into a live WebSocket whose
// server receives the message; copy as a command to a file and, through
// OSC 52, to tmux's clipboard. FRAMETAP_E2E=1 only.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// timelineRows returns the rows of the timeline pane (the pane titled
// "Exchanges #" or "Timeline #"), on the left of the detail when the
// terminal is wide.
func timelineRows(screen string) []string {
	var rows []string
	in := false
	for _, l := range strings.Split(screen, "\n") {
		switch {
		case strings.Contains(l, "┌ Exchanges #") || strings.Contains(l, "┌ Timeline #"):
			in = true
			continue
		case !in:
			continue
		case strings.HasPrefix(l, "└"):
			return rows
		}
		cells := strings.Split(l, "│")
		if len(cells) > 1 && strings.TrimSpace(cells[1]) != "" {
			rows = append(rows, cells[1])
		}
	}
	return rows
}

func TestE2EDashboardFilterLanguageInTmux(t *testing.T) {
	requireE2E(t)
	s := startTmux(t, fmt.Sprintf("GORACE=atexit_sleep_ms=10 %q demo", e2eBinary), 200, 50)
	s.waitFor(40*time.Second, "the demo", "Connections (", "websocket", "← TEXT", "regular (demo)")

	// A message-level expression: the server's text messages. The
	// connections pane keeps the WebSockets; the timeline (exchanges view,
	// then events view) shows those messages only: no request, no client
	// message, no binary one.
	s.keys("/")
	s.keys("C-u")
	s.keys("-l", "~ws & ~op text")
	s.keys("Enter")
	screen := s.waitFor(20*time.Second, "the filter", "filter ~ws & ~op text", "← TEXT")
	if !regexp.MustCompile(`Connections \(\d+ of \d+\)`).MatchString(screen) {
		t.Errorf("the connections pane does not say it is filtered:\n%s", screen)
	}
	checkRows := func(view string) {
		t.Helper()
		// Rows come as the demo goes on: look at a few screens.
		for k := 0; k < 5; k++ {
			screen := s.pane()
			rows := timelineRows(screen)
			if len(rows) == 0 {
				t.Fatalf("%s: no rows under the filter:\n%s", view, screen)
			}
			for _, r := range rows {
				if strings.HasPrefix(strings.TrimSpace(r), "TIME") {
					continue // the header
				}
				if !strings.Contains(r, "← TEXT") || strings.Contains(r, "→") || strings.Contains(r, "GET ") {
					t.Fatalf("%s: a row the filter should hide: %q\n%s", view, r, screen)
				}
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	checkRows("exchanges view")
	s.keys("t")
	s.waitFor(20*time.Second, "the events view", "Timeline #")
	checkRows("events view")

	// A bad expression: the error under the prompt, where it is wrong;
	// the filter in force stays.
	s.keys("/")
	s.keys("C-u")
	s.keys("-l", "~d (foo")
	s.keys("Enter")
	screen = s.waitFor(20*time.Second, "a bad expression", `filter: unbalanced "(" at column 4`, "filter ~ws & ~op text")
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		if strings.Contains(l, "unbalanced") && i > 0 {
			if at, want := strings.Index(l, "^"), strings.Index(lines[i-1], "(foo"); at != want || at < 0 {
				t.Errorf("the caret is at %d, the ( at %d:\n%s\n%s", at, want, lines[i-1], l)
			}
		}
	}
	s.keys("Escape") // the prompt closes; the focus is back on the connections pane
	s.waitGone(20*time.Second, "unbalanced")
	s.keys("Escape") // which clears the filter
	s.waitGone(20*time.Second, "filter ~ws & ~op text")

	// ? lists the filter atoms.
	s.keys("?")
	s.waitFor(20*time.Second, "the help", "Keys, then filters", "i ", "e  E")
	s.keys("G")
	s.waitFor(20*time.Second, "the help's end", "~jq PATH=V", "~code 1002 | ~e")
	s.keys("q")
	s.keys("q")
	s.waitExit("q")
}

// waitGone polls the pane until it no longer shows what. A key sent right
// after Escape would reach the program as Alt and that key: tests wait
// for Escape's effect before the next key.
func (s *tmuxSession) waitGone(d time.Duration, what string) {
	s.t.Helper()
	for deadline := time.Now().Add(d); strings.Contains(s.pane(), what); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			s.t.Fatalf("the dashboard still shows %q:\n%s", what, s.pane())
		}
	}
}

// wsRecorder is a WebSocket server that records the text messages it
// receives and answers each with "echo: " and it.
type wsRecorder struct {
	ln  net.Listener
	mu  sync.Mutex
	got []string
}

func startWSRecorder(t *testing.T) *wsRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &wsRecorder{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				if _, err := (ws.Upgrader{}).Upgrade(nc); err != nil {
					return
				}
				for {
					b, op, err := wsutil.ReadClientData(nc)
					if err != nil {
						return
					}
					r.mu.Lock()
					r.got = append(r.got, string(b))
					r.mu.Unlock()
					if op == ws.OpText {
						wsutil.WriteServerMessage(nc, ws.OpText, append([]byte("echo: "), b...))
					}
				}
			}()
		}
	}()
	return r
}

func (r *wsRecorder) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func TestE2EDashboardInjectInTmux(t *testing.T) {
	requireE2E(t)
	srv := startWSRecorder(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	capPath := filepath.Join(dir, "cap.jsonl")
	// -w cap.jsonl in dir: a short name leaves the status line room for
	// the notes.
	s := startTmux(t, fmt.Sprintf("cd %q && GORACE=atexit_sleep_ms=10 %q --listen %s --mode reverse:http://%s -w cap.jsonl", dir, e2eBinary, addr, srv.ln.Addr()), 200, 50)
	if out, err := s.tm("set-option", "-g", "set-clipboard", "on"); err != nil {
		t.Fatalf("tmux set-clipboard: %v\n%s", err, out)
	}
	s.waitFor(20*time.Second, "start", "Connections (0)")

	// A client that says hello and then keeps the connection open.
	var nc net.Conn
	var dbr *bufio.Reader
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		nc, dbr, _, err = ws.Dial(ctx, "ws://"+addr+"/chat")
		cancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("dialing through frametap: %v", err)
	}
	defer nc.Close()
	var rd io.Reader = nc
	if dbr != nil {
		rd = dbr // what the handshake's reader took
	}
	rw := struct {
		io.Reader
		io.Writer
	}{rd, nc}
	if err := wsutil.WriteClientMessage(nc, ws.OpText, []byte("hello from the client")); err != nil {
		t.Fatal(err)
	}
	s.waitFor(15*time.Second, "the client's message", "websocket", "hello from the client", "echo: hello from the client")

	// i: the composer, prefilled from the selected row; toward the
	// server, a text typed anew.
	s.keys("i")
	s.waitFor(20*time.Second, "the composer", "Inject into #", "Enter send")
	// To: the server (the prefill depends on the row follow selected).
	for k := 0; k < 3 && !strings.Contains(s.pane(), "[server]"); k++ {
		s.keys("Right")
		time.Sleep(300 * time.Millisecond)
	}
	s.waitFor(5*time.Second, "to the server", "[server]")
	s.keys("Tab", "Tab")
	s.keys("C-a", "C-k") // tview's TextArea: start of line, delete to its end
	s.keys("-l", "injected by tmux")
	s.waitFor(20*time.Second, "the payload typed", "Payload injected by tmux")
	s.keys("Enter")
	screen := s.waitFor(15*time.Second, "the injected message", "injected a text message", "injected · injected by tmux", "echo: injected by tmux")
	t.Logf("after the injection:\n%s", screen)
	got := srv.received()
	if strings.Join(got, "|") != "hello from the client|injected by tmux" {
		t.Errorf("the server received %q", got)
	}
	// The client got the echo of what it never sent.
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	for _, want := range []string{"echo: hello from the client", "echo: injected by tmux"} {
		b, err := wsutil.ReadServerText(rw)
		if err != nil || string(b) != want {
			t.Errorf("the client read %q, %v; want %q", b, err, want)
		}
	}

	// A close code the RFC forbids is refused in the composer, with the
	// rule; nothing is sent.
	s.keys("i")
	s.waitFor(20*time.Second, "the composer again", "Inject into #")
	s.keys("Tab")
	for k := 0; k < 5; k++ {
		s.keys("Right")
	}
	s.waitFor(20*time.Second, "close chosen", "[close]", "Code")
	s.keys("Tab")
	s.keys("-l", "1005")
	s.waitFor(20*time.Second, "the code typed", "Code    1005")
	s.keys("Enter")
	s.waitFor(20*time.Second, "the refusal", "close code 1005 is reserved")
	s.keys("Escape")
	s.waitGone(20*time.Second, "Inject into")

	// e writes the WebSocket as websocat to a file; E puts it on the
	// clipboard (tmux's buffer, through OSC 52).
	s.keys("e")
	s.waitFor(20*time.Second, "the export prompt", "write a websocat command and 2 client messages to: frametap-")
	s.keys("C-u")
	s.keys("-l", filepath.Join(dir, "chat.sh"))
	s.waitFor(20*time.Second, "the path typed", "to: "+filepath.Join(dir, "chat.sh"))
	s.keys("Enter")
	var b []byte
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if b, err = os.ReadFile(filepath.Join(dir, "chat.sh")); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || !strings.Contains(string(b), "websocat ws://"+addr+"/chat") || !strings.Contains(string(b), "hello from the client") {
		t.Errorf("chat.sh: %v\n%s\n%s", err, b, s.pane())
	}
	s.keys("E")
	s.waitFor(20*time.Second, "the copy", "copied a websocat command")
	var buf string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		buf, _ = s.tm("show-buffer")
		if strings.Contains(buf, "websocat ws://"+addr+"/chat") || time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(buf, "websocat ws://"+addr+"/chat") {
		t.Errorf("tmux's buffer after E: %q", buf)
	}

	// The connection closes while the composer is open: Enter says so,
	// nothing is sent.
	s.keys("i")
	s.waitFor(20*time.Second, "the composer on a live connection", "Inject into #")
	nc.Close()
	for deadline := time.Now().Add(10 * time.Second); !regexp.MustCompile(`conns 0 open / 1|0/1 conns`).MatchString(s.pane()); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard never showed the connection closed:\n%s", s.pane())
		}
	}
	s.keys("Enter")
	screen = s.waitFor(20*time.Second, "injecting into a closed connection", "inject: ")
	if !regexp.MustCompile(`inject: (no such open connection|the connection closed|not a WebSocket)`).MatchString(screen) {
		t.Errorf("injecting into a closed connection:\n%s", screen)
	}
	s.keys("Escape")
	s.waitGone(20*time.Second, "Inject into")
	if got := srv.received(); len(got) != 2 {
		t.Errorf("the server received %q", got)
	}

	s.keys("q")
	s.waitExit("q")
	// The capture marks the injected frame and message.
	evs, err := capture.ReadFile(capPath)
	if err != nil {
		t.Fatal(err)
	}
	var injected []string
	for _, ev := range evs {
		if ev.Injected {
			injected = append(injected, fmt.Sprintf("%s %s %q", ev.Kind, ev.From, ev.Payload))
		}
	}
	if want := `frame client ""|message client "injected by tmux"`; strings.Join(injected, "|") != want {
		t.Errorf("injected events in the capture: %q, want %q", injected, want)
	}
}
