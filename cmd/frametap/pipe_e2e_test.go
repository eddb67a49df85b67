package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// TestE2EPipe: frametap -w - writes the capture to a pipe, a line per
// event, as it happens (jq reads it live); when the pipe's reader goes
// away, frametap ends by itself, cleanly (exit 0, no panic, no hang),
// saying so: Go would kill it with SIGPIPE if main did not catch it.
func TestE2EPipe(t *testing.T) {
	requireE2E(t)
	us := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong") }))
	defer us.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(e2eBinary, "-w", "-", "-q", "--listen", addr, "--mode", "reverse:"+us.URL)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=10")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	get := func() {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			resp, err := http.Get("http://" + addr + "/ping")
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return
			}
			select {
			case werr := <-done:
				done <- werr
				if werr != nil {
					t.Fatalf("frametap exited with %v, want a clean end; stderr:\n%s", werr, stderr.String())
				}
				return
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET through frametap: %v\n%s", err, stderr.String())
			}
		}
	}
	get()
	// The events of that exchange reach the pipe while frametap runs.
	br := bufio.NewReader(out)
	line, err := br.ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading the pipe: %v", err)
	}
	var ev capture.Event
	if err := ev.UnmarshalJSON(line); err != nil || ev.Kind != capture.KindOpen {
		t.Fatalf("first line %q: %v", line, err)
	}
	out.Close() // the reader goes away, as head -1 does
	for range 20 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("frametap exited with %v, want 0; stderr:\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "standard output was closed (broken pipe): stopping") || strings.Contains(stderr.String(), "panic") {
				t.Errorf("stderr:\n%s", stderr.String())
			}
			return
		default:
		}
		http.DefaultClient.CloseIdleConnections()
		get()
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("frametap exited with %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("frametap still runs 10 s after its standard output's reader went away:\n%s", stderr.String())
	}
}
