package ui

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/capture/copyas"
	"github.com/gdamore/tcell/v2"
	"github.com/gdamore/tcell/v2/terminfo"
)

// waitFile waits for the file a background write makes.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was never written", path)
		}
	}
}

// e on an HTTP exchange writes its request as curl to the file the prompt
// names (proposed: conn, seq), on a WebSocket message the connection as
// websocat and the client's messages.
func TestExportToFile(t *testing.T) {
	dir := t.TempDir()
	u := newTestUI(t, Config{}, fixture())
	u.press(tcell.KeyRune, 'k') // #1
	u.press(tcell.KeyTab, 0)
	u.timeline.Select(1, 0) // GET /poll?n=1
	u.press(tcell.KeyEnter, 0)
	u.press(tcell.KeyRune, 'e')
	mustContain(t, u.text(), "write a curl command to: frametap-1-1-curl.sh")
	path := filepath.Join(dir, "poll.sh")
	u.press(tcell.KeyCtrlU, 0)
	u.typeText(path)
	u.press(tcell.KeyEnter, 0)
	want, _ := copyas.Curl(u.store.At(1))
	if got := waitFile(t, path); got != want+"\n" {
		t.Errorf("%s:\n%s\nwant:\n%s", path, got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("%s is %v, want 0600", path, fi.Mode().Perm())
	}

	u.press(tcell.KeyEscape, 0)
	u.press(tcell.KeyEscape, 0)
	u.press(tcell.KeyRune, 'j') // #2, the WebSocket; its last row (follow is off: select one)
	u.press(tcell.KeyTab, 0)
	selectMessage(t, u, "client", "text")
	u.press(tcell.KeyRune, 'e')
	mustContain(t, u.text(), "write a websocat command and 3 client messages to: frametap-2-websocat.sh")
	path = filepath.Join(dir, "chat.sh")
	u.press(tcell.KeyCtrlU, 0)
	u.typeText(path)
	u.press(tcell.KeyEnter, 0)
	got := waitFile(t, path)
	for _, w := range []string{"websocat", "ws://chat.test/chat", "hello world", "# then the client closed: code 1000"} {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", path, w, got)
		}
	}

	// Neither: a row of an exchange whose request is gone, say; here, the
	// error row of the WebSocket is still the WebSocket's.
	u = newTestUI(t, Config{}, fixture()[:1])
	u.press(tcell.KeyRune, 'e')
	mustContain(t, u.text(), "e: select an HTTP exchange or a WebSocket message first")
}

// fakeTty is a terminal that keeps what is written to it.
type fakeTty struct {
	mu     sync.Mutex
	out    bytes.Buffer
	closed chan struct{}
}

func (f *fakeTty) Start() error               { return nil }
func (f *fakeTty) Stop() error                { return nil }
func (f *fakeTty) Drain() error               { return nil }
func (f *fakeTty) NotifyResize(func())        {}
func (f *fakeTty) Close() error               { return nil }
func (f *fakeTty) Read(b []byte) (int, error) { <-f.closed; return 0, os.ErrClosed }
func (f *fakeTty) WindowSize() (tcell.WindowSize, error) {
	return tcell.WindowSize{Width: 120, Height: 40}, nil
}
func (f *fakeTty) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.out.Write(b)
}
func (f *fakeTty) written() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.out.Bytes())
}

// E copies to the clipboard with OSC 52, written to the terminal: the
// bytes that reach a real terminal screen (tcell's, over a terminal that
// records them) are the golden file's.
func TestExportClipboardOSC52(t *testing.T) {
	ti, err := terminfo.LookupTerminfo("xterm-256color")
	if err != nil {
		t.Fatal(err)
	}
	tty := &fakeTty{closed: make(chan struct{})}
	scr, err := tcell.NewTerminfoScreenFromTtyTerminfo(tty, ti)
	if err != nil {
		t.Fatal(err)
	}
	st := NewStore(0)
	feed(st, fixture())
	u := New(Config{Screen: scr}, st)
	defer func() {
		close(tty.closed) // the screen's reader returns
		scr.Fini()
	}()
	u.press(tcell.KeyRune, 'k')
	u.press(tcell.KeyTab, 0)
	u.timeline.Select(2, 0) // GET /logo.png
	before := len(tty.written())
	u.press(tcell.KeyRune, 'E')
	got := tty.written()[before:]
	golden(t, "osc52-curl.golden", strings.NewReplacer("\x1b", `\e`, "\a", `\a`).Replace(string(got))+"\n")
	mustContain(t, u.status.GetText(true), "copied a curl command to the clipboard")

	// Through a simulation screen, which keeps what it is given.
	u = newTestUI(t, Config{}, fixture())
	u.press(tcell.KeyRune, 'k')
	u.press(tcell.KeyTab, 0)
	u.timeline.Select(2, 0)
	u.press(tcell.KeyRune, 'E')
	want, _ := copyas.Curl(u.store.At(3))
	if got := u.cfg.Screen.(tcell.SimulationScreen).GetClipboardData(); string(got) != want+"\n" {
		t.Errorf("clipboard %q, want %q", got, want)
	}
	_ = capture.KindRequest
}
