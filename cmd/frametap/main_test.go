package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"1048576", 1 << 20, true}, {"1MiB", 1 << 20, true}, {"16M", 16 << 20, true},
		{"512k", 512 << 10, true}, {"512 KiB", 512 << 10, true}, {"0", 0, true}, {"10b", 10, true},
		{"", 0, false}, {"-1", 0, false}, {"1.5M", 0, false}, {"lots", 0, false},
	} {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestListenAddr(t *testing.T) {
	for _, tc := range []struct {
		o         options
		listenSet bool
		want      string
		ok        bool
	}{
		{options{listen: "127.0.0.1:8080"}, false, "127.0.0.1:8080", true},
		{options{listen: "127.0.0.1:8080", port: 9000}, false, "127.0.0.1:9000", true},
		{options{listen: "127.0.0.1:8080", listenHost: "::1"}, false, "[::1]:8080", true},
		{options{listen: "127.0.0.1:8080", listenHost: "::1", port: 9}, false, "[::1]:9", true},
		{options{listen: "127.0.0.1:7000", port: 9000}, true, "", false},
	} {
		got, err := listenAddr(tc.o, tc.listenSet)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("listenAddr(%+v) = %q, %v; want %q", tc.o, got, err, tc.want)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--mode", "sideways"},
		{"--mode", "reverse:ftp://127.0.0.1:1"},
		{"--mode", "socks5", "--proxyauth", "nocolon"},
		{"--proxyauth", "a:b"}, // no socks5 listener
		{"--mode", "regular@1", "--mode", "socks5@1"},
		{"--max-body", "huge"},
		{"--header-timeout", "-1s"},
		{"--idle-timeout", "soon"},
		{"--socketio-path", "ws/"}, // issue 10: a path starts with /
		{"extra"},
	} {
		var out, errOut bytes.Buffer
		if err := run(args, &out, &errOut); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

// syncBuffer is a bytes.Buffer that run's goroutines may write while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// SIGINT stops frametap within 5 seconds with nothing lost: the open
// connection gets its close event and the capture is flushed.
func TestSIGINTFlushesCapture(t *testing.T) {
	us := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong") }))
	defer us.Close()
	path := filepath.Join(t.TempDir(), "cap.jsonl")
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run([]string{"--headless", "-w", path, "--listen", "127.0.0.1:0", "--mode", "reverse:" + us.URL}, &stdout, &stderr)
	}()
	addrRE := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)
	var addr string
	for deadline := time.Now().Add(5 * time.Second); addr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		}
	}
	if addr == "" {
		t.Fatalf("frametap did not start: %s", stderr.String())
	}
	// One connection left open after an exchange, as a browser would.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	if n, err := nc.Read(buf); err != nil || !bytes.Contains(buf[:n], []byte("pong")) {
		t.Fatalf("response %q %v", buf[:n], err)
	}

	start := time.Now()
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("frametap did not exit within 5s of SIGINT")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("exit took %v", d)
	}

	evs, err := capture.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []capture.Kind
	for _, ev := range evs {
		got = append(got, ev.Kind)
	}
	want := []capture.Kind{capture.KindOpen, capture.KindRequest, capture.KindResponse, capture.KindClose}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("capture kinds %v, want %v", got, want)
	}
	if !bytes.Contains([]byte(stdout.String()), []byte("GET /ping")) {
		t.Errorf("headless output lacks the request:\n%s", stdout.String())
	}
}

// runProxy runs frametap with args (headless, on a free loopback port) in
// this process until the test ends, and returns its address.
func runProxy(t *testing.T, args ...string) string {
	t.Helper()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(append([]string{"--headless", "--listen", "127.0.0.1:0"}, args...), &stdout, &stderr)
	}()
	t.Cleanup(func() {
		syscall.Kill(os.Getpid(), syscall.SIGINT)
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	addrRE := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("frametap did not start: %s", stderr.String())
	return ""
}

// --header-timeout and --idle-timeout reach the proxy: a client that owes
// a head past it gets a 408, an idle one is closed.
func TestTimeoutFlags(t *testing.T) {
	us := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong") }))
	defer us.Close()
	addr := runProxy(t, "--mode", "reverse:"+us.URL, "--header-timeout", "300ms", "--idle-timeout", "300ms")
	for _, tc := range []struct{ send, want string }{
		{"GET /slow HTTP/1.1\r\nHo", "HTTP/1.1 408 Request Timeout"},
		{"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n", "pong"}, // then idle
	} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(nc, tc.send)
		got, err := io.ReadAll(nc) // frametap closes the connection
		nc.Close()
		if err != nil || !bytes.Contains(got, []byte(tc.want)) {
			t.Errorf("sent %q: got %q, %v; want %q, then the connection closed", tc.send, got, err, tc.want)
		}
	}
}
