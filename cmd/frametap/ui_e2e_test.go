package main

// The dashboard end to end: the built binary (`frametap demo`, and
// `frametap` with a Go client through it) in a real terminal (tmux), read
// back with capture-pane. Runs only with FRAMETAP_E2E=1; then a missing
// tmux is a failure:
//
//	apt-get install -y tmux
//	FRAMETAP_E2E=1 go test ./cmd/frametap/ -run E2EDashboard -v

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tmuxSession is a program running in a terminal of a private tmux server
// (so the test touches no session of the user's), w×h, read back with
// capture-pane.
type tmuxSession struct {
	t        *testing.T
	sock     string
	name     string
	exitFile string // the program's exit status is written there
}

// startTmux runs cmdline (a shell command) in a new w×h tmux session.
func startTmux(t *testing.T, cmdline string, w, h int) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Fatalf("FRAMETAP_E2E=1 needs tmux: %v", err)
	}
	s := &tmuxSession{
		t:        t,
		sock:     filepath.Join(t.TempDir(), "tmux.sock"),
		name:     fmt.Sprintf("frametap-e2e-%d", os.Getpid()),
		exitFile: filepath.Join(t.TempDir(), "exit"),
	}
	cmdline = fmt.Sprintf("%s; echo $? > %q; sleep 60", cmdline, s.exitFile)
	if out, err := s.tm("new-session", "-d", "-s", s.name, "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), "sh", "-c", cmdline); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { s.tm("kill-server") })
	return s
}

func (s *tmuxSession) tm(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-S", s.sock}, args...)...).CombinedOutput()
	return string(out), err
}

// pane returns the terminal's text.
func (s *tmuxSession) pane() string {
	out, _ := s.tm("capture-pane", "-p", "-t", s.name)
	return out
}

// keys sends tmux key names (Up, Enter, BTab, NPage…); literal text with
// -l first.
func (s *tmuxSession) keys(keys ...string) {
	s.t.Helper()
	if out, err := s.tm(append([]string{"send-keys", "-t", s.name}, keys...)...); err != nil {
		s.t.Fatalf("tmux send-keys %q: %v\n%s", keys, err, out)
	}
}

// waitFor polls the pane until it shows every one of wants, and returns
// it; it fails the test at the deadline.
func (s *tmuxSession) waitFor(d time.Duration, what string, wants ...string) string {
	s.t.Helper()
	deadline := time.Now().Add(d)
	for {
		screen := s.pane()
		missing := ""
		for _, w := range wants {
			if !strings.Contains(screen, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: the dashboard never showed %q:\n%s", what, missing, screen)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// filter types f into the dashboard's filter prompt (/) one character at
// a time, each once the prompt shows the one before, and applies it. Under
// -race on a loaded machine the prompt was seen to stop after the first
// characters of a string sent at once, and never show the rest.
func (s *tmuxSession) filter(f string) {
	s.t.Helper()
	s.keys("/")
	s.waitFor(10*time.Second, "the filter prompt", "filter (? lists the atoms):")
	s.keys("C-u")
	for i := range f {
		want := "filter (? lists the atoms): " + f[:i+1]
		s.keys("-l", f[i:i+1])
		s.waitFor(10*time.Second, fmt.Sprintf("typing %q", f[:i+1]), want)
	}
	s.keys("Enter")
}

// waitExit waits for the program to exit with status 0 after what.
func (s *tmuxSession) waitExit(what string) {
	s.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(s.exitFile); err == nil && len(b) > 0 {
			if code := strings.TrimSpace(string(b)); code != "0" {
				s.t.Fatalf("frametap exited with %s after %s:\n%s", code, what, s.pane())
			}
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("frametap did not exit after %s:\n%s", what, s.pane())
		}
	}
}

func TestE2EDashboardDemoInTmux(t *testing.T) {
	requireE2E(t)
	capPath := filepath.Join(t.TempDir(), "demo.jsonl")
	s := startTmux(t, fmt.Sprintf("GORACE=atexit_sleep_ms=10 %q demo -w %q", e2eBinary, capPath), 200, 50)

	// What the demo must put on screen: both kinds of connection, the
	// WebSocket's messages in the timeline, and the teaching summary.
	// (Each way of pushing waits for the filters below: with this many
	// connections coming and going, the newest is as often a short request
	// as a WebSocket, and the first ones scroll out of the pane.)
	screen := s.waitFor(20*time.Second, "the demo",
		"Connections (", "websocket", "regular (demo)", "capture "+capPath)
	t.Logf("dashboard during the demo:\n%s", screen)

	// Filters pick one connection each: the polling one teaches keep-alive,
	// the long-polling one shows requests held, HTTP/2 many streams on one
	// connection, and the WebSocket over HTTP/2 messages both ways (the
	// tour's WebSockets come and go: a filter on them may select one
	// closed).
	for _, f := range []struct {
		filter string
		wants  []string
	}{
		{"api/poll", []string{"requests on 1 TCP connection, one at a time (keep-alive)", "/api/poll"}},
		{"api/longpoll", []string{"/api/longpoll?after=2", "requests on 1 TCP connection, one at a time (keep-alive)"}},
		{"api/stream", []string{"/api/stream", "event-stream"}},
		{"h2/assets", []string{"/h2/assets/icon-", "HTTP/2"}},
		{"h2ws", []string{"→ TEXT", "← TEXT", "WebSocket:", "pushed by the server"}},
	} {
		s.filter(f.filter)
		s.waitFor(10*time.Second, "filter "+f.filter, append([]string{"filter "}, f.wants...)...)
	}
	// The push view (P): the feed's host pushing every way, and what each
	// way costs.
	s.keys("P")
	screen = s.waitFor(10*time.Second, "the push view", "Push: how each host pushes", "polling", "long-polling", "sse",
		"websocket", "socket.io", "CADENCE", "EMPTY", "HOLD", "less)")
	t.Logf("the push view:\n%s", screen)
	s.keys("P")
	s.waitFor(10*time.Second, "back from the push view", "Connections (")

	s.keys("q")
	s.waitExit("q")
	// The capture was flushed on the way out.
	b, err := os.ReadFile(capPath)
	if err != nil || !strings.Contains(string(b), `"kind":"message"`) {
		t.Errorf("capture after q: %v, %d bytes, no message events", err, len(b))
	}
}

// The first keys a user presses, before the first connection and under a
// filter that hides every row, in a real terminal: the dashboard still
// shows the traffic that comes after, and q still quits (issue 8, defect
// 11: tview's table searched forever for a row to select, and the screen
// froze for good).
func TestE2EDashboardEmptyKeysInTmux(t *testing.T) {
	requireE2E(t)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong") }))
	defer up.Close()
	s := startTmux(t, fmt.Sprintf("GORACE=atexit_sleep_ms=10 %q --listen 127.0.0.1:0", e2eBinary), 160, 40)
	screen := s.waitFor(20*time.Second, "start", "Connections (0)", "frametap 127.0.0.1:")
	m := regexp.MustCompile(`frametap (127\.0\.0\.1:\d+) regular`).FindStringSubmatch(screen)
	if m == nil {
		t.Fatalf("no listen address in the status line:\n%s", screen)
	}
	proxy, _ := url.Parse("http://" + m[1])
	get := func(path string) {
		t.Helper()
		// A connection of its own for each request: each is a new row.
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxy), DisableKeepAlives: true}}
		resp, err := c.Get(up.URL + path)
		if err != nil {
			t.Fatalf("GET %s through frametap: %v\n%s", path, err, s.pane())
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "pong" {
			t.Fatalf("GET %s through frametap: %q", path, b)
		}
	}

	// Every moving key on the empty connections table, then on the empty
	// timeline, then back.
	moves := []string{"j", "k", "Up", "Down", "NPage", "PPage", "g", "G", "Home", "End"}
	s.keys(moves...)
	s.keys("Tab")
	s.keys(moves...)
	s.keys("BTab")
	get("/first")
	s.waitFor(15*time.Second, "traffic after moving on an empty dashboard", "Connections (1)", "/first")

	// A filter that hides every row, then the timeline and moves.
	s.keys("/")
	s.keys("-l", "zzqx")
	s.keys("Enter", "Tab", "Up", "Down", "NPage", "BTab", "Up", "j")
	s.waitFor(10*time.Second, "the filter", "Connections (0 of 1)", "filter ")
	get("/second")
	s.waitFor(15*time.Second, "traffic under a filter that hides it", "Connections (0 of 2)")

	s.keys("q")
	s.waitExit("q under a filter that hides every row")
}
