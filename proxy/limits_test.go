package proxy

// Tests for issue 8's bounds: the upstream policy, timeouts a peer cannot
// hold open, refused requests in the capture, and scratch that shrinks.

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/frametap/frametap/capture"
)

// loopbackDialer dials IP literals on loopback only and records every
// address it was asked for: a name reaching it would have been resolved.
type loopbackDialer struct {
	mu     sync.Mutex
	dialed []string
}

func (d *loopbackDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.dialed = append(d.dialed, addr)
	d.mu.Unlock()
	host, _, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("test dialer: %s would need a name lookup or leave this machine", addr)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func (d *loopbackDialer) addrs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.dialed...)
}

// Defect 7: --allow-upstream matches the whole host:port, so a pattern
// written for 127.0.0.1 lets no name through to a lookup.
func TestAllowUpstreamAnchored(t *testing.T) {
	us := startHTTP(t, hello)
	var d loopbackDialer
	// As the command line builds it from two --allow-upstream flags.
	allow := regexp.MustCompile(`(?i)(?:127.0.0.1)|(?:127\.0\.0\.1:\d+)`)
	tp := startTap(t, Config{AllowUpstream: allow, DialContext: d.DialContext})
	for _, req := range []string{
		"GET http://127.0.0.1.example/x HTTP/1.1\r\nHost: 127.0.0.1.example\r\n\r\n",
		"CONNECT 127.0.0.1.example:443 HTTP/1.1\r\nHost: 127.0.0.1.example:443\r\n\r\n",
		"GET http://x127.0.0.1:80/ HTTP/1.1\r\nHost: x127.0.0.1\r\n\r\n",
	} {
		rc := dialRaw(t, tp.addr)
		rc.send(req)
		resp, body := rc.response(strings.Fields(req)[0])
		if resp.StatusCode != 502 || !strings.Contains(body, "not allowed by --allow-upstream") {
			t.Errorf("%q: %s %q", req, resp.Status, body)
		}
		rc.finish()
	}
	rc := dialRaw(t, tp.addr)
	rc.send("GET http://" + us.addr + "/fine HTTP/1.1\r\nHost: " + us.addr + "\r\n\r\n")
	if _, body := rc.response("GET"); body != "hello /fine " {
		t.Errorf("an allowed upstream: %q", body)
	}
	rc.finish()
	tp.waitClosed()
	tp.stop()
	if got := d.addrs(); len(got) != 1 || got[0] != us.addr {
		t.Errorf("dialed %q, want only %s", got, us.addr)
	}
}

// slowClient sends s one byte every gap until the connection fails or
// stop is closed.
func slowClient(nc net.Conn, s string, gap time.Duration, stop <-chan struct{}) {
	for i := 0; ; i = (i + 1) % len(s) {
		if _, err := nc.Write([]byte{s[i]}); err != nil {
			return
		}
		select {
		case <-stop:
			return
		case <-time.After(gap):
		}
	}
}

// Defect 8: clients that send a request head one byte at a time get a 408
// once --header-timeout has passed, and their sockets (and the upstream's,
// in reverse mode) are released.
func TestHeaderTimeout(t *testing.T) {
	for _, mode := range []string{"regular", "reverse"} {
		t.Run(mode, func(t *testing.T) {
			us := startCountedHTTP(t, hello)
			cfg := Config{HeaderTimeout: 300 * time.Millisecond}
			if mode == "reverse" {
				cfg.Mode, cfg.Upstream = Reverse, us.addr
			}
			tp := startTap(t, cfg)
			fds := openFDs(t)
			stop := make(chan struct{})
			defer close(stop)
			var wg sync.WaitGroup
			for range 20 {
				rc := dialRaw(t, tp.addr)
				rc.conn.SetDeadline(time.Now().Add(5 * time.Second))
				go slowClient(rc.conn, "GET http://"+us.addr+"/ HTTP/1.1\r\nX-Slow: ", 50*time.Millisecond, stop)
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := http.ReadResponse(rc.br, nil)
					if err != nil {
						t.Errorf("slow client: %v, want a 408", err)
						return
					}
					if resp.StatusCode != 408 {
						t.Errorf("slow client got %s, want 408", resp.Status)
					}
					io.Copy(io.Discard, rc.br)
					rc.conn.Close()
				}()
			}
			wg.Wait()
			tp.waitClosed()
			waitFor(t, "upstream connections closed", func() bool { return us.open.Load() == 0 })
			waitFor(t, "descriptors released", func() bool { return openFDs(t) <= fds })
			evs := tp.stop()
			for _, ev := range kinds(evs, 0, capture.KindError) {
				if !strings.Contains(ev.Msg, "--header-timeout") {
					t.Errorf("error %q does not name the timeout", ev.Msg)
				}
			}
			if n := len(kinds(evs, 0, capture.KindResponse)); n != 20 {
				t.Errorf("%d responses recorded, want the 20 408s", n)
			}
		})
	}
}

// Defect 8: a kept-alive connection with nothing to do is closed after
// --idle-timeout, with its upstream.
func TestIdleTimeout(t *testing.T) {
	us := startCountedHTTP(t, hello)
	tp := startTap(t, Config{IdleTimeout: 300 * time.Millisecond})
	rc := dialRaw(t, tp.addr)
	rc.conn.SetDeadline(time.Now().Add(5 * time.Second))
	rc.send("GET http://" + us.addr + "/1 HTTP/1.1\r\nHost: " + us.addr + "\r\n\r\n")
	if _, body := rc.response("GET"); body != "hello /1 " {
		t.Fatalf("got %q", body)
	}
	if _, err := rc.br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: %v, want frametap to close it", err)
	}
	rc.conn.Close()
	tp.waitClosed()
	waitFor(t, "the upstream connection closed", func() bool { return us.open.Load() == 0 })
	evs := tp.stop()
	if errs := kinds(evs, 0, capture.KindError); len(errs) != 0 {
		t.Errorf("an idle connection closed is not an error: %+v", errs)
	}
}

// Defect 8: the timeouts bound HTTP exchanges only; a WebSocket, a tunnel
// and a slow response stay open however long they are quiet.
func TestTimeoutsSpareStreams(t *testing.T) {
	const quiet = time.Second // several timeouts' worth of silence
	short := Config{HeaderTimeout: 200 * time.Millisecond, IdleTimeout: 200 * time.Millisecond}

	t.Run("websocket", func(t *testing.T) {
		srv := startWSEcho(t)
		cfg := short
		cfg.Mode, cfg.Upstream = Reverse, srv
		tp := startTap(t, cfg)
		nc, err := net.Dial("tcp", tp.addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		br := dialWS(t, nc, srv)
		time.Sleep(quiet)
		wsConversation(t, nc, br)
		tp.waitClosed()
		tp.stop()
	})
	t.Run("tunnel", func(t *testing.T) {
		echo := startEcho(t)
		tp := startTap(t, short)
		rc := dialRaw(t, tp.addr)
		rc.send("CONNECT " + echo + " HTTP/1.1\r\n\r\n")
		rc.response("CONNECT")
		rc.send("\x16 first")
		time.Sleep(quiet)
		rc.send(" then")
		got := make([]byte, len("\x16 first then"))
		if _, err := io.ReadFull(rc.br, got); err != nil || string(got) != "\x16 first then" {
			t.Fatalf("tunnel echo %q, %v", got, err)
		}
		rc.finish()
		tp.waitClosed()
		tp.stop()
	})
	t.Run("slow response", func(t *testing.T) {
		us := startHTTP(t, func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(quiet)
			io.WriteString(w, "late")
		})
		tp := startTap(t, short)
		rc := dialRaw(t, tp.addr)
		rc.send("GET http://" + us.addr + "/ HTTP/1.1\r\nHost: " + us.addr + "\r\n\r\n")
		if _, body := rc.response("GET"); body != "late" {
			t.Fatalf("got %q", body)
		}
		rc.finish()
		tp.waitClosed()
		tp.stop()
	})
}

// Defect 9: a request with a body that frametap refuses (the policy, a
// failed dial) is recorded whole: the request, the 502 and the error.
func TestRefusedRequestWithBodyRecorded(t *testing.T) {
	refused := refusedAddr(t)
	for _, tc := range []struct {
		name   string
		cfg    Config
		target string
		body   string // framing fields and body
	}{
		{"dial", Config{}, "http://" + refused + "/up", "Content-Length: 9\r\n\r\npayload=1"},
		{"chunked", Config{}, "http://" + refused + "/up", "Transfer-Encoding: chunked\r\n\r\n9\r\npayload=1\r\n0\r\n\r\n"},
		{"policy", Config{AllowUpstream: regexp.MustCompile(`nothing`)}, "http://" + refused + "/up", "Content-Length: 9\r\n\r\npayload=1"},
		{"reverse", Config{Mode: Reverse, Upstream: refused}, "/up", "Content-Length: 9\r\n\r\npayload=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := startTap(t, tc.cfg)
			rc := dialRaw(t, tp.addr)
			rc.send("POST " + tc.target + " HTTP/1.1\r\nHost: app.test\r\n" + tc.body)
			if resp, _ := rc.response("POST"); resp.StatusCode != 502 {
				t.Fatalf("got %s, want 502", resp.Status)
			}
			rc.finish()
			tp.waitClosed()
			evs := tp.stop()
			reqs, resps := kinds(evs, 0, capture.KindRequest), kinds(evs, 0, capture.KindResponse)
			if len(reqs) != 1 || reqs[0].Method != "POST" || string(reqs[0].Body) != "payload=1" || reqs[0].Host == "" {
				t.Errorf("requests %+v, want the POST with its body", reqs)
			}
			if len(resps) != 1 || resps[0].Status != 502 || resps[0].Seq != 1 {
				t.Errorf("responses %+v, want the 502 paired with it", resps)
			}
			if errs := kinds(evs, 0, capture.KindError); len(errs) != 1 || errs[0].From != "server" {
				t.Errorf("errors %+v, want the dial's", errs)
			}
		})
	}
}

// onlyConn returns the proxy's one open connection.
func onlyConn(t *testing.T, p *Proxy) *conn {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.conns) != 1 {
		t.Fatalf("%d connections open, want 1", len(p.conns))
	}
	for c := range p.conns {
		return c
	}
	return nil
}

// Defect 10, the proxy's part: after one huge request head, what the
// connection keeps for the next message is small again.
func TestScratchShrinksAfterHugeHead(t *testing.T) {
	us := startHTTP(t, hello)
	tp := startTap(t, Config{})
	rc := dialRaw(t, tp.addr)
	var big strings.Builder
	for i := 0; big.Len() < 56<<10; i++ {
		fmt.Fprintf(&big, "X-Fill-%05d: %s\r\n", i, strings.Repeat("v", 20))
	}
	for i, fill := range []string{big.String(), ""} {
		rc.send("GET http://" + us.addr + "/" + fmt.Sprint(i) + " HTTP/1.1\r\nHost: " + us.addr + "\r\n" + fill + "\r\n")
		if _, body := rc.response("GET"); body != fmt.Sprintf("hello /%d ", i) {
			t.Fatalf("request %d: %q", i, body)
		}
	}
	c := onlyConn(t, tp.p)
	c.mu.Lock()
	hdrs, ev := cap(c.rec.hdrs), c.rec.ev
	head := cap(c.front.(*forwarder).headBuf)
	c.mu.Unlock()
	if hdrs > maxKeptFields || head > maxKeptHead {
		t.Errorf("after the huge head the connection keeps room for %d fields and %d bytes of head, want at most %d and %d",
			hdrs, head, maxKeptFields, maxKeptHead)
	}
	if ev != nil && (ev.Headers != nil || ev.Target != "") {
		t.Errorf("the scratch event still holds the last message: %d headers, target %q", len(ev.Headers), ev.Target)
	}
	rc.finish()
	tp.waitClosed()
	tp.stop()
}

// Defect 10: the first bytes read while sniffing for TLS are not kept for
// the life of the intercepted connection.
func TestSniffedBytesReleased(t *testing.T) {
	w := newTLSWorld(t)
	srv := w.startWSSEcho(t)
	tp := startTap(t, w.config())
	tc, err := connectTLS(t, tp.addr, srv, &tls.Config{RootCAs: w.caPool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	d := ws.Dialer{NetDial: func(context.Context, string, string) (net.Conn, error) { return tc, nil }, Protocols: []string{"chat"}}
	_, br, _, err := d.Dial(context.Background(), "ws://"+srv+"/chat")
	if err != nil {
		t.Fatal(err)
	}
	if br == nil {
		br = bufio.NewReader(tc)
	}
	c := onlyConn(t, tp.p)
	c.mu.Lock()
	pc, ok := c.client.(*tls.Conn).NetConn().(*prefixConn)
	c.mu.Unlock()
	if !ok || pc.prefix != nil {
		t.Errorf("the intercepted connection still holds the sniffed ClientHello (%v)", ok)
	}
	wsConversation(t, tc, br)
	tp.waitClosed()
	tp.stop()
}
