package proxy

import (
	"context"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// refusedAddr is a loopback port nobody listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestGarbageRequestLine(t *testing.T) {
	us := startHTTP(t, hello)
	tp := startTap(t, Config{})
	bad := dialRaw(t, tp.addr)
	good := dialRaw(t, tp.addr)
	bad.send("\x00\x01GARBAGE\r\n\r\n")
	resp, body := bad.response("GET")
	if resp.StatusCode != 400 || !strings.Contains(body, "frametap") {
		t.Errorf("garbage got %s %q", resp.Status, body)
	}
	good.send("GET http://" + us.addr + "/ok HTTP/1.1\r\nHost: " + us.addr + "\r\n\r\n")
	if _, body := good.response("GET"); body != "hello /ok " {
		t.Errorf("the other connection got %q", body)
	}
	bad.finish()
	good.finish()
	tp.waitClosed()
	evs := tp.stop()
	errs := kinds(evs, 0, capture.KindError)
	if len(errs) != 1 || errs[0].From != "client" || errs[0].Msg == "" {
		t.Fatalf("errors %+v", errs)
	}
	if n := len(kinds(evs, errs[0].Conn, capture.KindClose)); n != 1 {
		t.Errorf("bad connection has %d close events", n)
	}
}

func TestClientClosesMidHeader(t *testing.T) {
	us := startHTTP(t, hello)
	tp := startTap(t, Config{Mode: Reverse, Upstream: us.addr})
	rc := dialRaw(t, tp.addr)
	rc.send("GET /half HTTP/1.1\r\nHost: x\r\nX-Cut: ")
	rc.finish()
	tp.waitClosed()
	evs := tp.stop()
	errs := kinds(evs, 0, capture.KindError)
	if len(errs) != 1 || errs[0].From != "client" {
		t.Fatalf("errors %+v", errs)
	}
	if reqs := kinds(evs, 0, capture.KindRequest); len(reqs) != 0 {
		t.Errorf("a cut head must not become a request event: %+v", reqs)
	}
}

func TestUpstreamRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    Config
		target string
	}{
		{"reverse", Config{Mode: Reverse, Upstream: refusedAddr(t)}, "/"},
		{"regular", Config{}, "http://" + refusedAddr(t) + "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := startTap(t, tc.cfg)
			rc := dialRaw(t, tp.addr)
			rc.send("GET " + tc.target + " HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, body := rc.response("GET")
			if resp.StatusCode != 502 || !strings.Contains(body, "refused") {
				t.Errorf("got %s %q, want 502 saying why", resp.Status, body)
			}
			rc.finish()
			tp.waitClosed()
			evs := tp.stop()
			errs := kinds(evs, 0, capture.KindError)
			if len(errs) != 1 || errs[0].From != "server" || !strings.Contains(errs[0].Msg, "refused") {
				t.Errorf("errors %+v", errs)
			}
			reqs, resps := kinds(evs, 0, capture.KindRequest), kinds(evs, 0, capture.KindResponse)
			if len(reqs) != 1 || len(resps) != 1 || resps[0].Status != 502 || resps[0].Seq != 1 {
				t.Errorf("requests %+v responses %+v", reqs, resps)
			}
		})
	}
}

// A frame header announcing 2^63 bytes is reported; that connection ends,
// the next one is decoded normally.
func TestHugeFrameHeader(t *testing.T) {
	srv := startWSEcho(t)
	tp := startTap(t, Config{Mode: Reverse, Upstream: srv})
	nc, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	dialWS(t, nc, srv)
	nc.Write([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4})
	io.Copy(io.Discard, nc) // the server gives up on it and closes
	nc.Close()

	nc2, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	nc2.SetDeadline(time.Now().Add(10 * time.Second))
	wsConversation(t, nc2, dialWS(t, nc2, srv))
	tp.waitClosed()
	evs := tp.stop()
	opens := kinds(evs, 0, capture.KindOpen)
	if len(opens) != 2 {
		t.Fatalf("%d connections", len(opens))
	}
	errs := kinds(evs, opens[0].Conn, capture.KindError)
	if len(errs) == 0 || errs[0].From != "client" {
		t.Errorf("no error for the 2^63 header: %+v", errs)
	}
	if n := len(kinds(evs, opens[1].Conn, capture.KindError)); n != 0 {
		t.Errorf("the good connection has %d errors", n)
	}
	if n := len(kinds(evs, opens[1].Conn, capture.KindMessage)); n != 8 {
		t.Errorf("the good connection has %d messages, want 8", n)
	}
}

// Shutdown closes open connections and records their close events.
func TestShutdownRecordsOpenConnections(t *testing.T) {
	srv := startWSEcho(t)
	tp := startTap(t, Config{Mode: Reverse, Upstream: srv})
	var conns []net.Conn
	for range 3 {
		nc, err := net.Dial("tcp", tp.addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		dialWS(t, nc, srv)
		conns = append(conns, nc)
	}
	// One more connection stopped in the middle of a request head.
	half, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(half, "GET /half HTTP/1.1\r\nHost: x\r\n")
	defer half.Close()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	evs := tp.stop()
	errs := kinds(evs, 0, capture.KindError)
	if len(errs) == 0 {
		t.Error("the request head cut by the shutdown was not reported")
	}
	for _, ev := range errs {
		if !strings.HasPrefix(ev.Msg, "cut by frametap's shutdown: ") {
			t.Errorf("error at shutdown blames a peer: %q", ev.Msg)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if n := len(kinds(evs, 0, capture.KindClose)); n != 4 {
		t.Errorf("%d close events, want 4", n)
	}
	for _, nc := range conns {
		nc.Close()
	}
}

// A capture output that stopped draining (stdout piped into a paused
// pager) blocks the connections that flush to it; Shutdown must still keep
// to its deadline rather than wait on them. (Found in review.)
func TestShutdownWithStuckOutput(t *testing.T) {
	us := startHTTP(t, hello)
	pr, pw := io.Pipe() // nobody reads pr: the log's writer blocks for good
	defer pr.Close()
	lg := capture.NewLog(pw, capture.Text, capture.LogOptions{QueueLen: 1})
	p := New(Config{Mode: Reverse, Upstream: us.addr, Outputs: []capture.Output{lg}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(ln)
	for range 4 {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		go func() {
			for range 50 {
				io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				time.Sleep(5 * time.Millisecond)
			}
		}()
		go io.Copy(io.Discard, nc)
	}
	time.Sleep(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Shutdown(ctx) }()
	select {
	case err := <-done:
		if err == nil {
			t.Log("Shutdown finished although the output is stuck")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Shutdown with a 1s deadline still blocked after 3s")
	}
}

// --allow-upstream: a request for any other upstream gets a 502 that says
// why, before any name lookup or dial.
func TestAllowUpstream(t *testing.T) {
	us := startHTTP(t, hello)
	tp := startTap(t, Config{AllowUpstream: regexp.MustCompile(`^127\.0\.0\.1:\d+$`)})
	rc := dialRaw(t, tp.addr)
	rc.send("CONNECT accounts.example.invalid:443 HTTP/1.1\r\nHost: accounts.example.invalid:443\r\n\r\n")
	resp, body := rc.response("CONNECT")
	if resp.StatusCode != 502 || !strings.Contains(body, "not allowed by --allow-upstream") {
		t.Errorf("CONNECT to a name off the list: %s %q", resp.Status, body)
	}
	rc.finish()
	ok := dialRaw(t, tp.addr)
	ok.send("GET http://" + us.addr + "/fine HTTP/1.1\r\nHost: " + us.addr + "\r\n\r\n")
	if _, body := ok.response("GET"); body != "hello /fine " {
		t.Errorf("an allowed upstream: %q", body)
	}
	ok.finish()
	tp.waitClosed()
	evs := tp.stop()
	errs := kinds(evs, 0, capture.KindError)
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "not dialed") {
		t.Errorf("errors %+v", errs)
	}
}
