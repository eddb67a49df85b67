package proxy

// Tests for the defects of issue 8 found from outside: each drives real
// clients and servers on loopback through a real frametap.

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// Defect 0: when frametap can verify neither the upstream (a dev server's
// own certificate) nor convince the client (which does not trust its CA),
// both handshakes fail; that must end this connection only.
func TestBothHandshakesFail(t *testing.T) {
	w := newTLSWorld(t)
	up := w.startHTTPS(t)
	cfg := w.config()
	cfg.UpstreamRoots = x509.NewCertPool() // trusts nothing: the upstream cannot be verified
	tp := startTap(t, cfg)
	_, err := connectTLS(t, tp.addr, up, &tls.Config{RootCAs: w.upPool, ServerName: "localhost"})
	if err == nil {
		t.Fatal("the client accepted frametap's certificate without trusting its CA")
	}
	// frametap is still there for the next client.
	us := startHTTP(t, hello)
	rc := dialRaw(t, tp.addr)
	rc.send("GET http://" + us.addr + "/next HTTP/1.1\r\nHost: " + us.addr + "\r\n\r\n")
	if _, body := rc.response("GET"); body != "hello /next " {
		t.Fatalf("the next client got %q", body)
	}
	rc.finish()
	tp.waitClosed()
	evs := tp.stop()
	var from []string
	for _, ev := range kinds(evs, 0, capture.KindError) {
		from = append(from, ev.From)
	}
	if strings.Join(from, " ") != "server client" {
		t.Errorf("errors from %v, want the upstream's certificate and then the client's refusal", from)
	}
}

// panicOutput is a capture output with a bug: its stream panics on the
// request whose target ends in onTarget, or on a response with onStatus.
type panicOutput struct {
	onTarget string
	onStatus int
}

func (o panicOutput) Stream() capture.Stream { return &panicStream{o} }

type panicStream struct{ o panicOutput }

func (s *panicStream) Add(ev *capture.Event) {
	if ev.Kind == capture.KindRequest && strings.HasSuffix(ev.Target, s.o.onTarget) ||
		ev.Kind == capture.KindResponse && ev.Status == s.o.onStatus {
		panic("test: a capture output with a bug")
	}
}
func (s *panicStream) Flush() error { return nil }
func (s *panicStream) Close()       {}

// syncBuf is a bytes.Buffer for a logger that goroutines write to.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Defect 0, the general rule: a panic in either goroutine of a connection
// ends that connection, with an error event and a logged stack, and
// nothing else.
func TestPanicEndsOneConnection(t *testing.T) {
	us := startHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/teapot" {
			w.WriteHeader(418)
		}
		io.WriteString(w, "fine")
	})
	var logs syncBuf
	tp := startTap(t, Config{
		Outputs: []capture.Output{panicOutput{onTarget: "/boom", onStatus: 418}},
		Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
	})
	for _, path := range []string{"/boom", "/teapot"} { // the client goroutine, then the server's
		rc := dialRaw(t, tp.addr)
		rc.send("GET http://" + us.addr + path + " HTTP/1.1\r\nHost: " + us.addr + "\r\n\r\n")
		io.Copy(io.Discard, rc.br) // whatever came, the connection ends
		rc.conn.Close()
		ok := dialRaw(t, tp.addr)
		ok.send("GET http://" + us.addr + "/ok HTTP/1.1\r\nHost: " + us.addr + "\r\n\r\n")
		if resp, body := ok.response("GET"); resp.StatusCode != 200 || body != "fine" {
			t.Fatalf("after a panic on %s, another client got %s %q", path, resp.Status, body)
		}
		ok.finish()
	}
	tp.waitClosed()
	evs := tp.stop()
	panics := 0
	for _, ev := range kinds(evs, 0, capture.KindError) {
		if strings.Contains(ev.Msg, "panic") {
			panics++
		}
	}
	if panics != 2 {
		t.Errorf("%d error events about a panic, want 2", panics)
	}
	if n := len(kinds(evs, 0, capture.KindClose)); n != 4 {
		t.Errorf("%d close events, want 4", n)
	}
	if l := logs.String(); strings.Count(l, "goroutine ") < 2 || !strings.Contains(l, "a capture output with a bug") {
		t.Errorf("the log lacks the panics and their stacks:\n%s", l)
	}
}

// Defect 1: a request whose framing cannot be trusted, second on a kept-
// alive connection, is answered 400 at once even though the upstream keeps
// its connection open, and both sockets are closed.
func TestFramingErrorOnReusedConnection(t *testing.T) {
	for _, bad := range []string{"Transfer-Encoding: gzip", "Content-Length: 1, 2"} {
		t.Run(bad, func(t *testing.T) {
			us := startCountedHTTP(t, hello)
			tp := startTap(t, Config{})
			rc := dialRaw(t, tp.addr)
			rc.conn.SetDeadline(time.Now().Add(5 * time.Second))
			rc.send("GET http://" + us.addr + "/1 HTTP/1.1\r\nHost: " + us.addr + "\r\n\r\n")
			if _, body := rc.response("GET"); body != "hello /1 " {
				t.Fatalf("first request: %q", body)
			}
			rc.send("POST http://" + us.addr + "/2 HTTP/1.1\r\nHost: " + us.addr + "\r\n" + bad + "\r\n\r\nx")
			resp, body := rc.response("POST")
			if resp.StatusCode != 400 || !strings.Contains(body, "frametap") {
				t.Fatalf("second request: %s %q, want frametap's 400", resp.Status, body)
			}
			if _, err := rc.br.ReadByte(); err != io.EOF {
				t.Errorf("after the 400: %v, want the connection closed", err)
			}
			rc.conn.Close()
			tp.waitClosed()
			waitFor(t, "the upstream connection closed", func() bool { return us.open.Load() == 0 })
			evs := tp.stop()
			reqs, resps := kinds(evs, 0, capture.KindRequest), kinds(evs, 0, capture.KindResponse)
			if len(reqs) != 2 || len(resps) != 2 || resps[1].Seq != 2 || resps[1].Status != 400 {
				t.Errorf("requests %d, responses %+v; want the 400 paired with request 2", len(reqs), resps)
			}
		})
	}
}

// The route race of issue 8: a request pipelined behind one whose response
// is framed by the server's close must not go to another upstream, whose
// answer could no longer reach the client.
func TestNoRequestAfterServerClosed(t *testing.T) {
	closer := serveEach(listenLoopback(t), func(nc net.Conn) {
		defer nc.Close()
		if _, err := readHead(bufio.NewReader(nc)); err != nil {
			return
		}
		io.WriteString(nc, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npart1 ")
		time.Sleep(300 * time.Millisecond) // the next request arrives while this response runs
		io.WriteString(nc, "part2")
	})
	var reached atomic.Int32
	other := startHTTP(t, func(w http.ResponseWriter, r *http.Request) { reached.Add(1) })
	tp := startTap(t, Config{})
	rc := dialRaw(t, tp.addr)
	rc.send("GET http://" + closer + "/1 HTTP/1.1\r\nHost: " + closer + "\r\n\r\n" +
		"POST http://" + other.addr + "/2 HTTP/1.1\r\nHost: " + other.addr + "\r\nContent-Length: 4\r\n\r\npay!")
	if _, body := rc.response("GET"); body != "part1 part2" {
		t.Fatalf("first response %q", body)
	}
	rc.finish()
	tp.waitClosed()
	evs := tp.stop()
	if n := reached.Load(); n != 0 {
		t.Errorf("the pipelined request reached the other upstream %d times after the client was told the connection is over", n)
	}
	errs := kinds(evs, 0, capture.KindError)
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "closed the connection") {
		t.Errorf("errors %+v, want one saying the request was not forwarded", errs)
	}
}

// The same after the server's close was passed on: a request the client
// sends once it saw the end of a response framed by the close (so after
// the copier decoded the server's end, before it returned) is not
// forwarded either. The hook holds the copier in that window.
func TestNoRequestAfterServerClosedWindow(t *testing.T) {
	closer := serveEach(listenLoopback(t), func(nc net.Conn) {
		defer nc.Close()
		if _, err := readHead(bufio.NewReader(nc)); err != nil {
			return
		}
		io.WriteString(nc, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall")
	})
	var reached atomic.Int32
	other := startHTTP(t, func(w http.ResponseWriter, r *http.Request) { reached.Add(1) })
	release := make(chan struct{})
	testHookServerEnded = func() { <-release }
	t.Cleanup(func() { testHookServerEnded = nil }) // runs after the proxy's own cleanup: its copiers are gone
	tp := startTap(t, Config{})
	rc := dialRaw(t, tp.addr)
	rc.send("GET http://" + closer + "/1 HTTP/1.1\r\nHost: " + closer + "\r\n\r\n")
	if _, body := rc.response("GET"); body != "all" { // read to the FIN frametap passed on
		t.Fatalf("first response %q", body)
	}
	rc.send("GET http://" + other.addr + "/2 HTTP/1.1\r\nHost: " + other.addr + "\r\n\r\n")
	time.Sleep(200 * time.Millisecond) // the client goroutine routes the request meanwhile
	close(release)
	rc.finish()
	tp.waitClosed()
	evs := tp.stop()
	if n := reached.Load(); n != 0 {
		t.Errorf("a request sent after the server's close reached the other upstream %d times", n)
	}
	errs := kinds(evs, 0, capture.KindError)
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "closed the connection") {
		t.Errorf("errors %+v, want one saying the request was not forwarded", errs)
	}
}

// Defect 2: a request with both Transfer-Encoding and Content-Length is
// forwarded without the Content-Length (RFC 9112 section 6.3), and bare CR
// and NUL in fields become SP (RFC 9110 section 5.5).
func TestForwardedHeadNormalised(t *testing.T) {
	heads := make(chan string, 1)
	up := startCountedTCP(t, func(nc net.Conn, br *bufio.Reader) {
		head, _ := readHead(br)
		heads <- head
		if strings.Contains(head, "chunked") {
			for line := ""; line != "0\r\n"; {
				var err error
				if line, err = br.ReadString('\n'); err != nil {
					return
				}
			}
			br.ReadString('\n')
		}
		io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
	})
	tp := startTap(t, Config{})
	for _, tc := range []struct {
		name, head, body string
		want, notWant    []string
	}{
		{"te+cl", "POST http://" + up.addr + "/te HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "3\r\nabc\r\n0\r\n\r\n",
			[]string{"Transfer-Encoding: chunked\r\n"}, []string{"Content-Length"}},
		{"cr+nul", "GET http://" + up.addr + "/cr HTTP/1.1\r\nHost: x\r\nX-A: foo\rX-Injected: 1\r\nX-B: a\x00b\r\nX\rC: 1\r\n\r\n", "",
			[]string{"X-A: foo X-Injected: 1\r\n", "X-B: a b\r\n", "X C: 1\r\n"}, []string{"\x00", "\rX"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := dialRaw(t, tp.addr)
			rc.send(tc.head + tc.body)
			if resp, body := rc.response("GET"); resp.StatusCode != 200 || body != "ok" {
				t.Fatalf("got %s %q", resp.Status, body)
			}
			rc.finish()
			head := <-heads
			for _, s := range tc.want {
				if !strings.Contains(head, s) {
					t.Errorf("forwarded head lacks %q:\n%q", s, head)
				}
			}
			for _, s := range tc.notWant {
				if strings.Contains(head, s) {
					t.Errorf("forwarded head has %q:\n%q", s, head)
				}
			}
		})
	}
	tp.waitClosed()
	tp.stop()
}

// Defect 2: a chunked body that breaks its framing stops being forwarded
// where it broke, so a request smuggled behind it never reaches the
// upstream; the upstream connection is closed and the client gets a 400.
func TestBadChunkStopsForwarding(t *testing.T) {
	gotBody := make(chan struct{})
	up := startCountedTCP(t, func(nc net.Conn, br *bufio.Reader) {
		readHead(br)
		if line, _ := br.ReadString('\n'); line == "5\r\n" {
			br.ReadString('\n')
			close(gotBody) // the first chunk arrived: the client sends the rest now
		}
	})
	tp := startTap(t, Config{})
	rc := dialRaw(t, tp.addr)
	rc.send("POST http://" + up.addr + "/upload HTTP/1.1\r\nHost: " + up.addr + "\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
	select {
	case <-gotBody:
	case <-time.After(5 * time.Second):
		t.Fatal("the first chunk never reached the upstream")
	}
	rc.send("zz\r\nGET /smuggled HTTP/1.1\r\nHost: " + up.addr + "\r\n\r\n")
	rc.conn.SetDeadline(time.Now().Add(5 * time.Second))
	resp, body := rc.response("POST")
	if resp.StatusCode != 400 || !strings.Contains(body, "chunk") {
		t.Fatalf("got %s %q, want frametap's 400 about the chunk", resp.Status, body)
	}
	rc.finish()
	tp.waitClosed()
	waitFor(t, "the upstream connection closed", func() bool { return up.open.Load() == 0 })
	if got := up.received(); strings.Contains(got, "smuggled") || strings.Contains(got, "zz") {
		t.Errorf("the upstream received bytes after the broken chunk line:\n%q", got)
	}
	evs := tp.stop()
	reqs, resps := kinds(evs, 0, capture.KindRequest), kinds(evs, 0, capture.KindResponse)
	if len(reqs) != 1 || string(reqs[0].Body) != "hello" || len(resps) != 1 || resps[0].Status != 400 || resps[0].Seq != 1 {
		t.Errorf("requests %+v\nresponses %+v\nwant the POST with what arrived, answered 400", reqs, resps)
	}
	if errs := kinds(evs, 0, capture.KindError); len(errs) == 0 || errs[0].From != "client" {
		t.Errorf("errors %+v", errs)
	}
}

// Defect 3: clients that open a CONNECT tunnel, read the 200 and leave
// without a byte (browser preconnects) leave no upstream socket behind.
func TestAbandonedConnectClosesUpstream(t *testing.T) {
	w := newTLSWorld(t)
	up := startCountedTCP(t, nil)
	tp := startTap(t, w.config())
	fds := openFDs(t)
	const n = 50
	for range n {
		rc := dialRaw(t, tp.addr)
		rc.send("CONNECT " + up.addr + " HTTP/1.1\r\nHost: " + up.addr + "\r\n\r\n")
		if resp, _ := rc.response("CONNECT"); resp.StatusCode != 200 {
			t.Fatalf("CONNECT: %s", resp.Status)
		}
		rc.conn.Close()
	}
	tp.waitClosed()
	waitFor(t, "every upstream connection closed", func() bool { return up.open.Load() == 0 })
	waitFor(t, "descriptors back to where they were", func() bool { return openFDs(t) <= fds })
	tp.stop()
}
