package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// fillingWriter takes writes until one would pass limit bytes, then fails
// every write with ENOSPC, however small, until raise.
type fillingWriter struct {
	mu    sync.Mutex
	n     int
	limit int
	full  bool
}

func (w *fillingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.full = w.full || w.n+len(p) > w.limit; w.full {
		return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.ENOSPC}
	}
	w.n += len(p)
	return len(p), nil
}

func (w *fillingWriter) raise() {
	w.mu.Lock()
	w.limit, w.full = 1<<30, false
	w.mu.Unlock()
}

// waitFor waits until s's content matches re.
func waitFor(t *testing.T, s interface{ String() string }, re string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !regexp.MustCompile(re).MatchString(s.String()); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 10s no %q in:\n%s", re, s.String())
		}
	}
}

// TestWatchCapture: one warning when writing starts to fail, one when it
// works again, with the number lost, and the watcher ends with the Log.
func TestWatchCapture(t *testing.T) {
	w := &fillingWriter{limit: 2000}
	l := capture.NewLog(w, capture.Text, capture.LogOptions{FlushInterval: time.Millisecond, RetryInterval: time.Millisecond})
	var stderr syncBuffer
	watched := make(chan struct{})
	go func() { watchCapture(l, "standard output", &stderr, nil); close(watched) }()
	s := l.Stream()
	ev := &capture.Event{Kind: capture.KindError, Conn: 1, Time: time.Now(), Msg: strings.Repeat("x", 100)}
	for l.Health().Err == nil {
		s.Add(ev)
		s.Flush()
	}
	waitFor(t, &stderr, `WARNING: standard output: write /dev/stdout: no space left on device: events are being lost`)
	for range 50 {
		s.Add(ev)
		s.Flush()
	}
	w.raise()
	waitFor(t, &stderr, `standard output is written again after \S+: \d+ events were lost`)
	s.Close()
	l.Close()
	select {
	case <-watched:
	case <-time.After(5 * time.Second):
		t.Fatal("watchCapture still running after Close")
	}
	lost := l.Health().Lost
	if got := stderr.String(); strings.Count(got, "WARNING") != 1 || !strings.Contains(got, fmt.Sprintf(": %d events were lost", lost)) {
		t.Errorf("stderr:\n%s\nwant one warning, and one line with the %d events lost", got, lost)
	}
}

// TestHeadlessFullDisk runs frametap --headless -w onto a tmpfs the test
// mounts, fills it while traffic flows, then frees it: stderr must say so
// at once both times, the capture must resume with a gap event, and the
// exit must report the loss.
func TestHeadlessFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a tmpfs needs root (CI runs the tests as root)")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=256k,mode=700"); err != nil {
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("skipped: root but cannot mount a tmpfs here: %v", err)
		}
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 224<<10), 0o600); err != nil {
		t.Fatal(err)
	}

	us := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong") }))
	defer us.Close()
	path := filepath.Join(dir, "cap.jsonl")
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run([]string{"--headless", "-w", path, "--listen", "127.0.0.1:0", "--mode", "reverse:" + us.URL}, &stdout, &stderr)
	}()
	waitFor(t, &stderr, `listening on 127\.0\.0\.1:\d+`)
	addr := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`).FindStringSubmatch(stderr.String())[1]
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func() {
		t.Helper()
		resp, err := client.Get("http://" + addr + "/ping")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	warning := regexp.MustCompile(`WARNING: capture file \S+cap\.jsonl: .*no space left on device`)
	for n := 0; !warning.MatchString(stderr.String()); n++ {
		if n > 2000 {
			t.Fatalf("2000 requests and no warning on stderr:\n%s", stderr.String())
		}
		get()
	}
	for range 20 {
		get() // relayed while their events are lost
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &stderr, `capture file \S+cap\.jsonl is written again after \S+: \d+ events were lost`)
	get()
	get()

	syscall.Kill(os.Getpid(), syscall.SIGINT)
	var err error
	select {
	case err = <-done:
	case <-time.After(6 * time.Second):
		t.Fatal("frametap did not exit within 5s of SIGINT")
	}
	if err == nil || !strings.Contains(err.Error(), "events lost") {
		t.Errorf("run returned %v, want the events lost reported at exit", err)
	}
	evs, rerr := capture.ReadFile(path)
	if rerr != nil {
		t.Fatal(rerr)
	}
	var gap *capture.Event
	for i := range evs {
		if evs[i].Kind == capture.KindGap {
			gap = &evs[i]
		}
	}
	if gap == nil || gap.Lost == 0 || evs[len(evs)-1].Kind != capture.KindClose {
		t.Errorf("capture of %d events: gap %+v; want a gap with events lost, then the last requests to their close", len(evs), gap)
	}
	if strings.Count(stderr.String(), "WARNING") != 1 {
		t.Errorf("stderr:\n%s\nwant one warning", stderr.String())
	}
	t.Logf("stderr:\n%s\nexit: %v", stderr.String(), err)
}
