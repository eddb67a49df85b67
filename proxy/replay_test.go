package proxy

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/decode"
)

// recordingHTTP is an HTTP/1.1 server that logs each request it gets:
// the client's address, the method, target, Host and body.
type recordingHTTP struct {
	addr string
	mu   sync.Mutex
	log  []string
}

func startRecordingHTTP(t *testing.T) *recordingHTTP {
	t.Helper()
	ln := listenLoopback(t)
	rs := &recordingHTTP{addr: ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rs.mu.Lock()
		rs.log = append(rs.log, fmt.Sprintf("%s|%s %s host=%s te=%v body=%q", r.RemoteAddr, r.Method, r.RequestURI, r.Host, r.TransferEncoding, body))
		rs.mu.Unlock()
		fmt.Fprintf(w, "answer to %s", r.RequestURI)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return rs
}

// requests returns the log, and the number of client connections it came
// on.
func (rs *recordingHTTP) requests() (reqs []string, conns int) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	seen := map[string]bool{}
	for _, l := range rs.log {
		addr, req, _ := strings.Cut(l, "|")
		seen[addr] = true
		reqs = append(reqs, req)
	}
	return reqs, len(seen)
}

func (rs *recordingHTTP) reset() {
	rs.mu.Lock()
	rs.log = nil
	rs.mu.Unlock()
}

// noDial fails a test that dials.
func noDial(t *testing.T) func(context.Context, string, string) (net.Conn, error) {
	return func(context.Context, string, string) (net.Conn, error) {
		t.Error("replay dialed a capture it should have refused")
		return nil, fmt.Errorf("no")
	}
}

// A keep-alive HTTP session replays on one connection: the server gets
// the same requests, in order, and the new capture decodes the answers.
func TestReplayHTTPKeepAlive(t *testing.T) {
	rs := startRecordingHTTP(t)
	tp := startTap(t, Config{Mode: Regular})
	rc := dialRaw(t, tp.addr)
	for _, q := range []string{
		"GET http://" + rs.addr + "/a?x=1 HTTP/1.1\r\nHost: " + rs.addr + "\r\nProxy-Connection: keep-alive\r\n\r\n",
		"POST http://" + rs.addr + "/b HTTP/1.1\r\nHost: " + rs.addr + "\r\nContent-Length: 5\r\n\r\nhello",
		"PUT http://" + rs.addr + "/c HTTP/1.1\r\nHost: " + rs.addr + "\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
	} {
		rc.send(q)
		rc.response(strings.Fields(q)[0])
	}
	rc.finish()
	tp.waitClosed()
	evs := tp.stop()
	want, conns := rs.requests()
	if len(want) != 3 || conns != 1 {
		t.Fatalf("original: %d requests on %d connections: %v", len(want), conns, want)
	}
	rs.reset()
	out := &memOutput{}
	res, err := Replay(context.Background(), ReplayConfig{Events: evs, Conn: kinds(evs, 0, capture.KindOpen)[0].Conn, Outputs: []capture.Output{out}})
	if err != nil {
		t.Fatal(err)
	}
	got, conns := rs.requests()
	if strings.Join(got, "\n") != strings.Join(want, "\n") || conns != 1 {
		t.Errorf("replayed requests on %d connections:\n%s\nwant on 1:\n%s", conns, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if res.Requests != 3 || res.Server != rs.addr {
		t.Errorf("result %+v", res)
	}
	var statuses []string
	for _, ev := range out.events() {
		if ev.Kind == capture.KindResponse {
			statuses = append(statuses, fmt.Sprintf("%d %s", ev.Status, ev.Body))
		}
		if ev.Kind == capture.KindOpen && ev.Mode != "replay" {
			t.Errorf("open of the replay has mode %q", ev.Mode)
		}
	}
	if s := strings.Join(statuses, ", "); s != "200 answer to /a?x=1, 200 answer to /b, 200 answer to /c" {
		t.Errorf("replay capture responses: %s", s)
	}
	checkOrder(t, out.events())
}

// A WebSocket session replays: the handshake with a fresh key, then the
// client's messages (a fragmented one in its fragments, a ping), ending
// with its close code and reason. With To, Host is rewritten.
func TestReplayWebSocket(t *testing.T) {
	var mu sync.Mutex
	var logs [][]string
	handle := func(nc net.Conn) {
		defer nc.Close()
		if _, err := (ws.Upgrader{}).Upgrade(nc); err != nil {
			return
		}
		var log []string
		defer func() { mu.Lock(); logs = append(logs, log); mu.Unlock() }()
		for {
			f, err := readFrame(nc)
			if err != nil {
				return
			}
			ws.Cipher(f.Payload, f.Header.Mask, 0)
			log = append(log, fmt.Sprintf("%s fin=%v %q", decode.OpName(uint8(f.Header.OpCode)), f.Header.Fin, f.Payload))
			switch f.Header.OpCode {
			case ws.OpText, ws.OpBinary:
				wsutil.WriteServerMessage(nc, f.Header.OpCode, f.Payload)
			case ws.OpPing:
				wsutil.WriteServerMessage(nc, ws.OpPong, f.Payload)
			case ws.OpClose:
				ws.WriteFrame(nc, ws.NewCloseFrame(f.Payload))
				return
			}
		}
	}
	srv := serveEach(listenLoopback(t), handle)
	srv2 := serveEach(listenLoopback(t), handle)
	tp := startTap(t, Config{Mode: Reverse, Upstream: srv})
	nc, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	br := dialWS0(t, nc, tp.addr)
	wsClientFrame(t, nc, true, ws.OpText, "hello")
	wsClientFrame(t, nc, false, ws.OpBinary, "ab")
	wsClientFrame(t, nc, true, ws.OpContinuation, "cd")
	wsClientFrame(t, nc, true, ws.OpPing, "p")
	wsClientFrame(t, nc, true, ws.OpClose, string(ws.NewCloseFrameBody(4001, "done here")))
	for {
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		f, err := readFrame(br)
		if err != nil {
			t.Fatal(err)
		}
		if f.Header.OpCode == ws.OpClose {
			break
		}
	}
	nc.Close()
	tp.waitClosed()
	evs := tp.stop()
	id := kinds(evs, 0, capture.KindOpen)[0].Conn
	for _, to := range []string{"", "ws://" + srv2} {
		out := &memOutput{}
		res, err := Replay(context.Background(), ReplayConfig{Events: evs, Conn: id, To: to, Outputs: []capture.Output{out}, Speed: 0})
		if err != nil {
			t.Fatalf("to %q: %v", to, err)
		}
		if res.Messages != 4 || !strings.Contains(strings.Join(res.Notes, "; "), "Sec-WebSocket-Key is a fresh one") ||
			to != "" && !strings.Contains(strings.Join(res.Notes, "; "), "(--to)") {
			t.Errorf("to %q: result %+v", to, res)
		}
		var up *capture.Event
		var hostHdr string
		for _, ev := range out.events() {
			if ev.Kind == capture.KindUpgrade {
				up = &ev
			}
			if ev.Kind == capture.KindRequest {
				hostHdr = header(ev.Headers, "Host")
			}
		}
		if up == nil || !up.AcceptOK {
			t.Errorf("to %q: replay upgrade %+v", to, up)
		}
		if to != "" && hostHdr != srv2 {
			t.Errorf("to %q: Host %q, want %s", to, hostHdr, srv2)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logs) != 3 {
		t.Fatalf("server sessions: %d, want 3", len(logs))
	}
	for i, l := range logs[1:] {
		if strings.Join(l, "\n") != strings.Join(logs[0], "\n") {
			t.Errorf("replay %d: the server got\n%s\nwant\n%s", i+1, strings.Join(l, "\n"), strings.Join(logs[0], "\n"))
		}
	}
}

// A capture that cannot be replayed is refused before anything is
// dialed, saying why.
func TestReplayRefusals(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 19, 0, 0, 0, time.UTC)
	evs := []capture.Event{
		{Kind: capture.KindOpen, Conn: 1, Time: t0, Client: "127.0.0.1:5", Server: "127.0.0.1:1", Mode: "reverse"},
		{Kind: capture.KindClose, Conn: 1, Time: t0},
		{Kind: capture.KindOpen, Conn: 2, Time: t0, Client: "127.0.0.1:6", Server: "127.0.0.1:1", Mode: "reverse"},
		{Kind: capture.KindRequest, Conn: 2, Time: t0, Seq: 1, Method: "POST", Target: "/", Proto: "HTTP/1.1", BodyLen: 9000, Body: []byte("abc"), Truncated: true},
		{Kind: capture.KindOpen, Conn: 3, Time: t0, Client: "127.0.0.1:7", Mode: "regular"},
		{Kind: capture.KindRequest, Conn: 3, Time: t0, Seq: 1, Method: "GET", Target: "http://a.test/", Proto: "HTTP/1.1", Server: "a.test:80"},
		{Kind: capture.KindRequest, Conn: 3, Time: t0, Seq: 2, Method: "GET", Target: "http://b.test/", Proto: "HTTP/1.1", Server: "b.test:80"},
	}
	for _, tc := range []struct {
		conn uint64
		to   string
		want string
	}{
		{9, "", "the capture has no connection 9 (it has 1, 2, 3)"},
		{1, "", "connection 1 has no client side to replay"},
		{2, "", "the body of request 1 was cut at --max-body"},
		{3, "", "talked to several servers (a.test:80, b.test:80): choose one with --to"},
		{3, "ftp://x", "unknown scheme"},
	} {
		_, err := Replay(context.Background(), ReplayConfig{Events: evs, Conn: tc.conn, To: tc.to, DialContext: noDial(t)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("conn %d: %v; want an error saying %q", tc.conn, err, tc.want)
		}
	}
}

// memOutput keeps the events it is given, for tests.
type memOutput struct {
	mu  sync.Mutex
	evs []capture.Event
}

func (m *memOutput) Stream() capture.Stream { return &memStream{m: m} }

func (m *memOutput) events() []capture.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]capture.Event(nil), m.evs...)
}

type memStream struct{ m *memOutput }

func (s *memStream) Add(ev *capture.Event) {
	line := ev.AppendJSON(nil)
	var cp capture.Event
	if err := cp.UnmarshalJSON(line[:len(line)-1]); err != nil {
		panic(err)
	}
	s.m.mu.Lock()
	s.m.evs = append(s.m.evs, cp)
	s.m.mu.Unlock()
}
func (s *memStream) Flush() error { return nil }
func (s *memStream) Close()       {}

// A request that went inside TLS is replayed with TLS, verified against
// the roots given; the replay records the server side's tls event.
func TestReplayTLS(t *testing.T) {
	got := make(chan string, 4)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- fmt.Sprintf("%s %s %q tls=%v", r.Method, r.RequestURI, body, r.TLS != nil)
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	addr := strings.TrimPrefix(srv.URL, "https://")
	t0 := time.Date(2025, 3, 14, 19, 0, 0, 0, time.UTC)
	evs := []capture.Event{
		{Kind: capture.KindOpen, Conn: 4, Time: t0, Client: "127.0.0.1:5", Server: "127.0.0.1:1", Mode: "reverse"},
		{Kind: capture.KindTLS, Conn: 4, Time: t0, Side: "server", SNI: "127.0.0.1", Verified: true},
		{Kind: capture.KindRequest, Conn: 4, Time: t0, Seq: 1, Method: "POST", Target: "/secure", Host: "127.0.0.1:1", Proto: "HTTP/1.1", Scheme: "https",
			Headers: []capture.Header{{"Host", "127.0.0.1:1"}, {"Content-Length", "3"}}, BodyLen: 3, Body: []byte("abc")},
	}
	out := &memOutput{}
	for _, tc := range []struct {
		to    string
		roots *x509.CertPool
		ok    bool
	}{
		{"https://" + addr, roots, true},
		{"https://" + addr, nil, false}, // the system's roots do not know httptest's CA
	} {
		_, err := Replay(context.Background(), ReplayConfig{Events: evs, Conn: 4, To: tc.to, UpstreamRoots: tc.roots, Outputs: []capture.Output{out}})
		if (err == nil) != tc.ok {
			t.Fatalf("roots %v: %v", tc.roots != nil, err)
		}
		if !tc.ok && !strings.Contains(err.Error(), "--upstream-ca") {
			t.Errorf("an unverified server: %v; want a hint at --upstream-ca", err)
		}
	}
	if g := <-got; g != `POST /secure "abc" tls=true` {
		t.Errorf("server got %s", g)
	}
	var tlsEvs []string
	for _, ev := range out.events() {
		if ev.Kind == capture.KindTLS {
			tlsEvs = append(tlsEvs, fmt.Sprintf("%s %s verified=%v", ev.Side, ev.SNI, ev.Verified))
		}
	}
	if len(tlsEvs) != 1 || tlsEvs[0] != "server 127.0.0.1 verified=true" {
		t.Errorf("tls events of the replays: %v", tlsEvs)
	}
}
