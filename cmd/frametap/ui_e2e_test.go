package main

// The dashboard end to end: the built binary's `frametap demo` in a real
// terminal (tmux), read back with capture-pane. Runs only with
// FRAMETAP_E2E=1; then a missing tmux is a failure:
//
//	apt-get install -y tmux
//	FRAMETAP_E2E=1 go test ./cmd/frametap/ -run E2EDashboard -v

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestE2EDashboardDemoInTmux(t *testing.T) {
	requireE2E(t)
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		t.Fatalf("FRAMETAP_E2E=1 needs tmux: %v", err)
	}
	// A private tmux server, so the test touches no session of the user's.
	sock := filepath.Join(t.TempDir(), "tmux.sock")
	session := fmt.Sprintf("frametap-e2e-%d", os.Getpid())
	tm := func(args ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-S", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	exitFile := filepath.Join(t.TempDir(), "exit")
	capPath := filepath.Join(t.TempDir(), "demo.jsonl")
	cmdline := fmt.Sprintf("GORACE=atexit_sleep_ms=10 %q demo -w %q; echo $? > %q; sleep 60", e2eBinary, capPath, exitFile)
	if out, err := tm("new-session", "-d", "-s", session, "-x", "200", "-y", "50", "sh", "-c", cmdline); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { tm("kill-server") })

	pane := func() string {
		out, _ := tm("capture-pane", "-p", "-t", session)
		return out
	}
	// What the demo must put on screen: both kinds of connection, the
	// WebSocket's messages in the timeline, and the teaching summary.
	wants := []string{
		"Connections (", "websocket",
		"WebSocket:", "pushed by the server", "TEXT", "101 Switching Protocols",
		"regular (demo)", "capture " + capPath,
	}
	var screen string
	deadline := time.Now().Add(20 * time.Second)
	for {
		screen = pane()
		missing := ""
		for _, w := range wants {
			if !strings.Contains(screen, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the dashboard never showed %q:\n%s", missing, screen)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("dashboard during the demo:\n%s", screen)

	// Filters pick one connection each: the polling one teaches keep-alive,
	// a WebSocket one shows messages both ways.
	for _, f := range []struct{ filter, want1, want2 string }{
		{"api/poll", "requests on 1 TCP connection (keep-alive)", "→ GET http://127.0.0.1:"},
		{"websocket", "→ TEXT", "← TEXT"},
	} {
		tm("send-keys", "-t", session, "/")
		tm("send-keys", "-t", session, "C-u")
		tm("send-keys", "-t", session, "-l", f.filter)
		tm("send-keys", "-t", session, "Enter")
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			screen = pane()
			if strings.Contains(screen, "filter ") && strings.Contains(screen, f.want1) && strings.Contains(screen, f.want2) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("filter %q: the dashboard lacks %q and %q:\n%s", f.filter, f.want1, f.want2, screen)
			}
		}
	}

	tm("send-keys", "-t", session, "q")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if b, err := os.ReadFile(exitFile); err == nil && len(b) > 0 {
			if code := strings.TrimSpace(string(b)); code != "0" {
				t.Fatalf("frametap demo exited with %s after q:\n%s", code, pane())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("frametap demo did not exit after q:\n%s", pane())
		}
	}
	// The capture was flushed on the way out.
	b, err := os.ReadFile(capPath)
	if err != nil || !strings.Contains(string(b), `"kind":"message"`) {
		t.Errorf("capture after q: %v, %d bytes, no message events", err, len(b))
	}
}
