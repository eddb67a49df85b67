package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// frametap replay takes the capture before or after its flags, refuses
// what it cannot replay before it dials, and writes what comes back.
func TestReplayCommand(t *testing.T) {
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Method + " " + r.RequestURI + " host=" + r.Host
		io.WriteString(w, "fine")
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	t0 := time.Date(2025, 3, 14, 19, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "cap.jsonl")
	var b []byte
	for _, ev := range []capture.Event{
		{Kind: capture.KindOpen, Conn: 2, Time: t0, Client: "127.0.0.1:5", Mode: "regular"},
		{Kind: capture.KindRequest, Conn: 2, Time: t0, Seq: 1, Method: "GET", Target: "http://old.test/x?y=1", Host: "old.test", Proto: "HTTP/1.1",
			Server: "old.test:80", Headers: []capture.Header{{"Host", "old.test"}, {"Proxy-Connection", "keep-alive"}}},
		{Kind: capture.KindClose, Conn: 2, Time: t0},
	} {
		b = ev.AppendJSON(b)
	}
	os.WriteFile(path, b, 0o600)

	var out, errOut bytes.Buffer
	if err := run([]string{"replay", path, "--conn", "9"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "no connection 9 (it has 2)") {
		t.Errorf("replay of a missing connection: %v", err)
	}
	replayed := filepath.Join(t.TempDir(), "replay.jsonl")
	if err := run([]string{"replay", "--conn", "2", "--to", "http://" + addr, "--speed", "0", "-w", replayed, "--headless", path}, &out, &errOut); err != nil {
		t.Fatalf("replay: %v\n%s", err, errOut.String())
	}
	if g := <-got; g != "GET /x?y=1 host="+addr {
		t.Errorf("server got %s", g)
	}
	if s := errOut.String(); !strings.Contains(s, "note: Host old.test is sent as "+addr+" (--to)") || !strings.Contains(s, "1 requests, 0 WebSocket messages sent") {
		t.Errorf("stderr:\n%s", s)
	}
	evs, err := capture.ReadFile(replayed)
	if err != nil || len(evs) < 4 || evs[0].Mode != "replay" {
		t.Fatalf("replay capture %v: %+v", err, evs)
	}
	if !strings.Contains(out.String(), "response #1 200 OK") {
		t.Errorf("headless lines:\n%s", out.String())
	}
}
