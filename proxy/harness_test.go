package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/decode"
)

// tap is a running frametap with a real capture file, for tests.
type tap struct {
	t    *testing.T
	addr string
	p    *Proxy
	log  *capture.Log
	path string
	done chan error
	evs  []capture.Event
}

// startTap runs a proxy on a loopback port, recording to a capture file.
func startTap(t *testing.T, cfg Config) *tap {
	t.Helper()
	path := filepath.Join(t.TempDir(), "capture.jsonl")
	lg, err := capture.NewFileLog(path, capture.JSON)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Outputs = append(cfg.Outputs, lg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{t: t, addr: ln.Addr().String(), p: New(cfg), log: lg, path: path, done: make(chan error, 1)}
	go func() { tp.done <- tp.p.Serve(ln) }()
	t.Cleanup(func() { tp.stop() })
	return tp
}

// stop shuts the proxy down, closes the capture and reads it back.
func (tp *tap) stop() []capture.Event {
	tp.t.Helper()
	if tp.evs != nil {
		return tp.evs
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tp.p.Shutdown(ctx); err != nil {
		tp.t.Errorf("shutdown: %v", err)
	}
	if err := <-tp.done; !errors.Is(err, ErrShutdown) {
		tp.t.Errorf("serve: %v", err)
	}
	if err := tp.log.Close(); err != nil {
		tp.t.Errorf("capture close: %v", err)
	}
	evs, err := capture.ReadFile(tp.path)
	if err != nil {
		tp.t.Fatalf("reading capture back: %v", err)
	}
	tp.evs = evs
	checkOrder(tp.t, tp.evs)
	return tp.evs
}

// waitClosed waits until the proxy has no open connection, so that a test
// can stop it without cutting a connection it expects to end by itself.
func (tp *tap) waitClosed() {
	tp.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		tp.p.mu.Lock()
		n := len(tp.p.conns)
		tp.p.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	tp.t.Fatalf("connections still open after 5s")
}

// checkOrder checks the capture's ordering promises on every connection:
// it opens first, closes last, time never goes back, responses follow
// their requests and messages follow frames.
func checkOrder(t *testing.T, evs []capture.Event) {
	t.Helper()
	type state struct {
		opened, closed bool
		last           time.Time
		requests       map[int]bool
		frames         map[string]int
	}
	conns := map[uint64]*state{}
	for i, ev := range evs {
		s := conns[ev.Conn]
		if s == nil {
			s = &state{requests: map[int]bool{}, frames: map[string]int{}}
			conns[ev.Conn] = s
		}
		where := fmt.Sprintf("event %d (%s of conn %d)", i, ev.Kind, ev.Conn)
		if s.closed {
			t.Errorf("%s follows the connection's close", where)
		}
		if !s.opened && ev.Kind != capture.KindOpen {
			t.Errorf("%s precedes the connection's open", where)
		}
		if ev.Time.IsZero() {
			t.Errorf("%s has no time", where)
		}
		if ev.Time.Before(s.last) {
			t.Errorf("%s: time %v goes back from %v", where, ev.Time, s.last)
		}
		s.last = ev.Time
		switch ev.Kind {
		case capture.KindOpen:
			s.opened = true
		case capture.KindClose:
			s.closed = true
		case capture.KindRequest:
			s.requests[ev.Seq] = true
		case capture.KindResponse:
			if ev.Seq != 0 && !s.requests[ev.Seq] {
				t.Errorf("%s: response seq %d precedes its request", where, ev.Seq)
			}
		case capture.KindFrame:
			s.frames[ev.From]++
		case capture.KindMessage:
			if s.frames[ev.From] < ev.Frames {
				t.Errorf("%s: message of %d frames after %d frames from %s", where, ev.Frames, s.frames[ev.From], ev.From)
			}
			s.frames[ev.From] -= ev.Frames
		}
	}
	for id, s := range conns {
		if !s.closed {
			t.Errorf("conn %d has no close event", id)
		}
	}
}

// kinds filters events by connection (0: all) and kind ("": all).
func kinds(evs []capture.Event, conn uint64, k capture.Kind) []capture.Event {
	var out []capture.Event
	for _, ev := range evs {
		if (conn == 0 || ev.Conn == conn) && (k == "" || ev.Kind == k) {
			out = append(out, ev)
		}
	}
	return out
}

// header returns the first value of a header in a captured list.
func header(hs []capture.Header, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// rawClient is a client that writes exact bytes, as curl or a browser would.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, conn: nc, br: bufio.NewReader(nc)}
}

func (rc *rawClient) send(s string) {
	rc.t.Helper()
	if _, err := io.WriteString(rc.conn, s); err != nil {
		rc.t.Fatal(err)
	}
}

// response reads one response; method is the request's (HEAD has no body).
func (rc *rawClient) response(method string) (*http.Response, string) {
	rc.t.Helper()
	resp, err := http.ReadResponse(rc.br, &http.Request{Method: method})
	if err != nil {
		rc.t.Fatalf("reading response: %v", err)
	}
	if method == "CONNECT" && resp.StatusCode/100 == 2 {
		return resp, "" // the tunnel follows: no body (RFC 9110 section 9.3.6)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		rc.t.Fatalf("reading body: %v", err)
	}
	return resp, string(body)
}

// closeWrite half-closes the client and waits for the proxy's end.
func (rc *rawClient) finish() {
	rc.t.Helper()
	rc.conn.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, rc.br)
	rc.conn.Close()
}

// upstreamServer is an in-process net/http server on loopback that records
// the request targets and headers it received.
type upstreamServer struct {
	*http.Server
	addr string
	seen chan *http.Request
}

// listenLoopback listens on a free loopback port, closed when the test ends.
func listenLoopback(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	return ln
}

// serveEach accepts on ln until it is closed and handles each connection on
// a goroutine of its own; it returns ln's address.
func serveEach(ln net.Listener, handle func(net.Conn)) string {
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(nc)
		}
	}()
	return ln.Addr().String()
}

func startHTTP(t *testing.T, h http.HandlerFunc) *upstreamServer {
	t.Helper()
	ln := listenLoopback(t)
	us := &upstreamServer{addr: ln.Addr().String(), seen: make(chan *http.Request, 100)}
	us.Server = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case us.seen <- r:
		default:
		}
		h(w, r)
	})}
	go us.Serve(ln)
	t.Cleanup(func() { us.Close() })
	return us
}

var _ = decode.Client
