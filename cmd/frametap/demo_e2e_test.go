package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// demoDone reports whether a capture of the demo holds every act far
// enough for checkDemoCapture: several held long polls, an SSE stream
// that ended and its reconnection, the Socket.IO session's prices over
// its WebSocket, HTTP/2's assets and prices over the WebSocket on h2.
func demoDone(evs []capture.Event) bool {
	var longPolls, sse, sio, assets, h2ws int
	for _, ev := range evs {
		switch {
		case ev.Kind == capture.KindResponse && ev.Timed && ev.Wait >= time.Second:
			longPolls++
		case ev.Kind == capture.KindRequest && strings.HasSuffix(ev.Target, "/api/stream"):
			sse++
		case ev.Kind == capture.KindRequest && strings.HasPrefix(ev.Target, "/h2/assets/"):
			assets++
		case ev.Kind == capture.KindMessage && ev.From == "server" && strings.HasPrefix(string(ev.Payload), `42["price"`):
			sio++
		case ev.Kind == capture.KindMessage && ev.From == "server" && ev.Stream != 0 && strings.HasPrefix(string(ev.Payload), `{"id"`):
			h2ws++
		}
	}
	return longPolls >= 3 && sse >= 2 && sio >= 2 && assets >= h2Assets && h2ws >= 2
}

// TestE2EDemoHeadless runs the built binary's `demo --headless -w FILE`
// until its capture holds every act, stops it as Ctrl-C does, and checks
// the capture: polling, long polls held until the next price, SSE with
// its reconnection, the WebSocket feed, HTTP/2 streams overlapping on one
// connection, a WebSocket over HTTP/2 and the Socket.IO session
// (demo_check_test.go); and a close for every connection.
func TestE2EDemoHeadless(t *testing.T) {
	requireE2E(t)
	capPath := filepath.Join(t.TempDir(), "demo.jsonl")
	cmd := exec.Command(e2eBinary, "demo", "--headless", "-w", capPath)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })

	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		evs, _ := capture.ReadFile(capPath) // a line being written is not read
		if demoDone(evs) {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the demo exited: %v\n%s", err, tail(out.String(), 3000))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo's capture lacks an act after 60 s (%d events)\n%s", len(evs), tail(out.String(), 3000))
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("frametap demo exited with %v after SIGINT\n%s", err, tail(out.String(), 3000))
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("frametap demo still running 10 s after SIGINT\n%s", tail(out.String(), 3000))
	}
	evs, err := capture.ReadFile(capPath)
	if err != nil {
		t.Fatal(err)
	}
	checkDemoCapture(t, evs)
	open := map[uint64]bool{}
	for _, ev := range evs {
		switch ev.Kind {
		case capture.KindOpen:
			open[ev.Conn] = true
		case capture.KindClose:
			delete(open, ev.Conn)
			if ev.WebSocket && !ev.WSCloseClean {
				t.Logf("conn %d: WebSocket closed by %q, not clean (%s)", ev.Conn, ev.WSClosedBy, ev.Err)
			}
		}
	}
	if len(open) > 0 {
		t.Errorf("connections without a close event after Ctrl-C: %v", open)
	}
	t.Logf("%d events", len(evs))
}

// tail is the end of s, for a failure message.
func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
