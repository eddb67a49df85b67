package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/ui"
)

// writeCaptureFile writes n events (a request/response pair per 8 events,
// the rest WebSocket frames and messages) on 50 connections.
func writeCaptureFile(t testing.TB, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "big.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	t0 := time.Date(2025, 3, 14, 19, 0, 0, 0, time.UTC)
	var buf []byte
	for i := range n {
		ev := capture.Event{Conn: uint64(i%50 + 1), Time: t0.Add(time.Duration(i) * time.Millisecond)}
		switch {
		case i < 50:
			ev.Kind, ev.Client, ev.Mode = capture.KindOpen, fmt.Sprintf("127.0.0.1:%d", 40000+i), "regular"
		case i%8 == 0:
			ev.Kind, ev.Seq, ev.Method, ev.Target, ev.Host, ev.Proto = capture.KindRequest, i, "GET", "/poll", "api.test", "HTTP/1.1"
			ev.Headers = []capture.Header{{"Host", "api.test"}}
		case i%8 == 1:
			ev.Kind, ev.Seq, ev.Status, ev.StatusText, ev.Proto = capture.KindResponse, i-1, 200, "OK", "HTTP/1.1"
			ev.Body, ev.BodyLen = []byte(`{"ok":true}`), 11
		case i%2 == 0:
			ev.Kind, ev.From, ev.Fin, ev.Opcode, ev.Len = capture.KindFrame, "server", true, 1, 24
		default:
			ev.Kind, ev.From, ev.Op, ev.Frames, ev.Len, ev.WireLen = capture.KindMessage, "server", "text", 1, 24, 24
			ev.Payload = []byte(`{"push":1,"price":101.5}`)
		}
		buf = ev.AppendJSON(buf[:0])
		w.Write(buf)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

// frametap view loads a capture of 100,000 events and shows it: every
// event read and held, the newest connection on screen. How fast is
// BenchmarkViewOpen100k's to say.
func TestViewLoads100kEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	path := writeCaptureFile(t, 100_000)
	st := ui.NewStore(0)
	ld, err := loadCapture(path, st)
	if err != nil || ld.n != 100_000 || ld.bad != 0 || ld.cut != nil {
		t.Fatalf("loadCapture: %+v, %v; want 100000 events, none bad, nil", ld, err)
	}
	if st.Total() != 100_000 || st.Dropped() != 0 {
		t.Errorf("store holds %d events, dropped %d; want 100000 and 0", st.Total()-st.Dropped(), st.Dropped())
	}
	text := ui.RenderOnce(ui.Config{ReadOnly: true, Source: path}, st, 200, 50)
	for _, want := range []string{"100000 events", "#50 127.0.0.1:40049", "Connections (50)"} {
		if !strings.Contains(text, want) {
			t.Errorf("screen lacks %q:\n%s", want, text)
		}
	}
}

// BenchmarkViewOpen100k is frametap view opening a capture of 100,000
// events: read and parsed, applied to the model and drawn once.
//
//	go test ./cmd/frametap/ -run '^$' -bench ViewOpen100k -benchmem
func BenchmarkViewOpen100k(b *testing.B) {
	path := writeCaptureFile(b, 100_000)
	for b.Loop() {
		st := ui.NewStore(0)
		if ld, err := loadCapture(path, st); err != nil || ld.n != 100_000 || ld.bad != 0 {
			b.Fatalf("loadCapture: %+v, %v", ld, err)
		}
		if text := ui.RenderOnce(ui.Config{ReadOnly: true, Source: path}, st, 200, 50); !strings.Contains(text, "100000 events") {
			b.Fatalf("screen:\n%s", text)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100_000, "ns/event")
}

func TestLoadCaptureSkipsBadLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.jsonl")
	os.WriteFile(path, []byte(`{"kind":"open","conn":1,"t":"2025-03-14T19:51:02Z","client":"1.2.3.4:5","mode":"regular"}
not json
{"kind":"close","conn":1,"t":"2025-03-14T19:51:03Z","bytes_from_client":1,"bytes_from_server":2}
`), 0o600)
	st := ui.NewStore(0)
	ld, err := loadCapture(path, st)
	if ld.n != 2 || ld.bad != 1 || err != nil {
		t.Errorf("got %+v, %v; want 2 events, 1 bad, nil", ld, err)
	}
	if _, err := loadCapture(filepath.Join(t.TempDir(), "missing"), st); err == nil {
		t.Error("a missing file should be an error")
	}
}

func TestSubcommandFlags(t *testing.T) {
	for _, args := range [][]string{
		{"view"},
		{"view", "a", "b"},
		{"demo", "extra"},
		{"demo", "--mode", "reverse:http://127.0.0.1:1"},
		{"-r", filepath.Join(os.TempDir(), "frametap-no-such-file.jsonl")},
	} {
		var out, errOut syncBuffer
		if err := run(args, &out, &errOut); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}

// frametap demo --headless: the scripted client's traffic through the
// proxy, as text lines and in the capture, where each way of pushing the
// feed and each HTTP/2 act must be (demo_check_test.go).
func TestDemoHeadless(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demo.jsonl")
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run([]string{"demo", "--headless", "-w", path}, &stdout, &stderr)
	}()
	wants := []string{
		"CONNECT 127.0.0.1:", "101 Switching Protocols", "upgrade  #2 websocket ext=\"permessage-deflate",
		"client→ text 34B 3 frames \"this message comes in three frames\"",
		"deflated", "client→ ping", "←server pong", "client→ binary", "←server text",
		"/api/poll HTTP/1.1", "close    ↑", "ws: closed by client, clean",
		// The later acts: long polls answered, a second SSE stream, the
		// Socket.IO session upgraded, HTTP/2 and its WebSocket.
		"/api/longpoll?after=3 ", "/api/stream HTTP/1.1", "stream=3 CONNECT /h2ws/prices HTTP/2.0",
		"GET /h2/assets/icon-12.svg HTTP/2.0", "42[\\\"price\\\"",
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := stdout.String()
		missing := ""
		for _, w := range wants {
			if !strings.Contains(s, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo output lacks %q:\n%s\nstderr:\n%s", missing, s, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Two requests on one kept-alive connection: the polling.
	if !strings.Contains(stdout.String(), "request  #2 GET http://127.0.0.1:") {
		t.Errorf("no second request on the polling connection:\n%s", stdout.String())
	}
	stopRun(t, done)
	evs, err := capture.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[capture.Kind]int{}
	for _, ev := range evs {
		kinds[ev.Kind]++
	}
	for _, k := range []capture.Kind{capture.KindOpen, capture.KindRequest, capture.KindResponse, capture.KindUpgrade, capture.KindFrame, capture.KindMessage, capture.KindClose, capture.KindH2Frame} {
		if kinds[k] == 0 {
			t.Errorf("capture has no %s event: %v", k, kinds)
		}
	}
	checkDemoCapture(t, evs)
}

// stopRun interrupts run as Ctrl-C (SIGINT) would and waits for it.
func stopRun(t *testing.T, done chan error) {
	t.Helper()
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(6 * time.Second):
		t.Fatal("frametap did not exit within 5s of SIGINT")
	}
}

// frametap view --headless (and -r FILE --headless) print a saved capture
// as the headless lines, for where there is no terminal.
func TestViewHeadless(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cap.jsonl")
	t0 := time.Date(2026, 11, 23, 20, 0, 0, 0, time.UTC)
	evs := []*capture.Event{
		{Kind: capture.KindOpen, Conn: 1, Time: t0, Client: "127.0.0.1:5000", Mode: "reverse", Server: "127.0.0.1:3000"},
		{Kind: capture.KindRequest, Conn: 1, Time: t0, Seq: 1, Method: "GET", Target: "/x", Host: "h", Proto: "HTTP/1.1"},
		{Kind: capture.KindClose, Conn: 1, Time: t0, BytesFromClient: 30},
	}
	var b []byte
	for _, ev := range evs {
		b = ev.AppendJSON(b)
	}
	b = append(b, "not json\n"...)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"view", "--headless", path}, {"-r", path, "--headless"}} {
		var out, errOut bytes.Buffer
		if err := run(args, &out, &errOut); err != nil {
			t.Fatalf("run(%q): %v", args, err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 3 || !strings.Contains(lines[1], "GET /x HTTP/1.1") {
			t.Errorf("run(%q) printed:\n%s", args, out.String())
		}
		if !strings.Contains(errOut.String(), "line 4") {
			t.Errorf("the bad line was not reported: %q", errOut.String())
		}
	}
}
