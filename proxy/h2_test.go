package proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// HTTP/2 through the proxy with Go's own client and server (issue 9): TLS
// interception that mirrors ALPN, h2c with prior knowledge in reverse mode
// and in a plaintext tunnel. The real-peer suite (curl, nghttp, Node,
// Chromium) is in cmd/frametap.

// h2Echo answers "METHOD PATH BODY" and a trailer with the body's length.
func h2Echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Trailer", "X-Len")
	w.Header().Set("X-Proto", r.Proto)
	fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, body)
	w.Header().Set("X-Len", fmt.Sprint(len(body)))
}

// startH2S runs an https upstream that speaks h2 and http/1.1 (Go's
// default), with a certificate from the test's upstream CA.
func (w *tlsWorld) startH2S(t testing.TB, protos ...string) string {
	t.Helper()
	ln := listenLoopback(t)
	cfg := w.serverTLS()
	cfg.NextProtos = protos
	srv := &http.Server{Handler: http.HandlerFunc(h2Echo), TLSConfig: cfg}
	if !slices.Contains(protos, "h2") {
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// startH2C runs a plaintext upstream that speaks HTTP/2 with prior
// knowledge (and HTTP/1.1).
func startH2C(t testing.TB) string {
	t.Helper()
	ln := listenLoopback(t)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: http.HandlerFunc(h2Echo), Protocols: &p}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// h2Requests sends n POSTs at once on client (after one alone, so that the
// transport has its connection) and checks each answer.
func h2Requests(t *testing.T, client *http.Client, base string, n int) {
	t.Helper()
	do := func(i int) error {
		body := fmt.Sprintf("body-%d", i)
		resp, err := client.Post(fmt.Sprintf("%s/r/%d", base, i), "text/plain", strings.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if want := fmt.Sprintf("POST /r/%d %s", i, body); string(got) != want || resp.Proto != "HTTP/2.0" || resp.Trailer.Get("X-Len") != fmt.Sprint(len(body)) {
			return fmt.Errorf("request %d: %s %q trailer %v, want HTTP/2.0 %q", i, resp.Proto, got, resp.Trailer, want)
		}
		return nil
	}
	if err := do(0); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 1; i < n; i++ {
		wg.Go(func() {
			if err := do(i); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// h2Conn returns the events of the one connection that carried HTTP/2
// requests, after checking there is one.
func h2ConnEvents(t *testing.T, evs []capture.Event) []capture.Event {
	t.Helper()
	var found []uint64
	for _, ev := range evs {
		if ev.Kind == capture.KindRequest && ev.Proto == "HTTP/2.0" && !slices.Contains(found, ev.Conn) {
			found = append(found, ev.Conn)
		}
	}
	if len(found) != 1 {
		t.Fatalf("HTTP/2 requests on %d connections, want 1", len(found))
	}
	var out []capture.Event
	for _, ev := range evs {
		if ev.Conn == found[0] {
			out = append(out, ev)
		}
	}
	return out
}

// checkH2Exchanges checks that conn's n HTTP/2 exchanges were recorded
// whole: numbered from first in the order their requests' headers arrived
// (the order of their streams, 1, 3, 5...; a request is written when its
// stream ends, so not in that order), each request before its response,
// with the bodies the client sent, and the stream count on close.
func checkH2Exchanges(t *testing.T, conn []capture.Event, n, first int, scheme string) {
	t.Helper()
	reqs := map[int]capture.Event{}
	resps := map[int]capture.Event{}
	frames := 0
	for _, ev := range conn {
		switch ev.Kind {
		case capture.KindH2Frame:
			frames++
		case capture.KindRequest:
			if ev.Proto != "HTTP/2.0" {
				continue
			}
			seq := first + int(ev.Stream-1)/2
			if ev.Seq != seq || ev.Stream%2 != 1 || reqs[ev.Seq].Seq != 0 || ev.Scheme != scheme || ev.Method != "POST" || !strings.HasPrefix(ev.Headers[0][0], ":") {
				t.Errorf("request seq %d stream %d scheme %q %s, headers %v: want seq %d, once, scheme %s, pseudo-headers first",
					ev.Seq, ev.Stream, ev.Scheme, ev.Method, ev.Headers, seq, scheme)
			}
			if i := strings.TrimPrefix(ev.Target, "/r/"); string(ev.Body) != "body-"+i {
				t.Errorf("request %s has body %q", ev.Target, ev.Body)
			}
			reqs[ev.Seq] = ev
		case capture.KindResponse:
			if ev.Proto != "HTTP/2.0" {
				continue
			}
			q, ok := reqs[ev.Seq]
			if !ok || q.Stream != ev.Stream {
				t.Errorf("response seq %d stream %d without its request", ev.Seq, ev.Stream)
			}
			if want := "POST " + q.Target + " " + string(q.Body); ev.Status != 200 || string(ev.Body) != want || header(ev.Trailers, "x-len") == "" {
				t.Errorf("response %d: %d %q trailers %v, want 200 %q with x-len", ev.Seq, ev.Status, ev.Body, ev.Trailers, want)
			}
			resps[ev.Seq] = ev
		case capture.KindError:
			t.Errorf("error event: %s", ev.Msg)
		}
	}
	if len(reqs) != n || len(resps) != n || frames < 3*n {
		t.Errorf("%d requests, %d responses, %d frames recorded; want %d exchanges", len(reqs), len(resps), frames, n)
	}
	last := conn[len(conn)-1]
	if last.Kind != capture.KindClose || !last.H2 || last.H2Streams != n || last.H2MaxOpen < 1 {
		t.Errorf("close %+v: want h2_streams %d", last, n)
	}
}

// An intercepted TLS connection offers the upstream the client's ALPN
// list and answers the client with the server's choice, h2 here: both
// legs speak HTTP/2, relayed and decoded, numbered after the CONNECT.
func TestH2Intercepted(t *testing.T) {
	w := newTLSWorld(t)
	up := w.startH2S(t, "h2", "http/1.1")
	tp := startTap(t, w.config())
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:             http.ProxyURL(&url.URL{Scheme: "http", Host: tp.addr}),
		TLSClientConfig:   &tls.Config{RootCAs: w.caPool},
		ForceAttemptHTTP2: true,
	}}
	h2Requests(t, client, "https://"+up, 8)
	client.CloseIdleConnections()
	tp.waitClosed()
	conn := h2ConnEvents(t, tp.stop())
	checkH2Exchanges(t, conn, 8, 2, "https")
	var alpn []string
	for _, ev := range kinds(conn, 0, capture.KindTLS) {
		alpn = append(alpn, ev.Side+"="+ev.ALPN)
	}
	if strings.Join(alpn, ",") != "server=h2,client=h2" {
		t.Errorf("tls events %v, want server=h2,client=h2", alpn)
	}
	if q := kinds(conn, 0, capture.KindRequest)[0]; q.Method != "CONNECT" || q.Seq != 1 {
		t.Errorf("first request %+v, want the CONNECT", q)
	}
}

// An h2-only client (gRPC, some mobile SDKs) offers ALPN h2 alone: it gets
// h2 from an h2 server. A client offering h2 and http/1.1 to a server that
// speaks only HTTP/1.1 gets http/1.1.
func TestH2ALPNMirror(t *testing.T) {
	w := newTLSWorld(t)
	tp := startTap(t, w.config())
	for _, tc := range []struct {
		name          string
		server, offer []string
		want          string
	}{
		{"h2-only client", []string{"h2", "http/1.1"}, []string{"h2"}, "h2"},
		{"h1-only server", []string{"http/1.1"}, []string{"h2", "http/1.1"}, "http/1.1"},
		{"no ALPN", []string{"h2", "http/1.1"}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := w.startH2S(t, tc.server...)
			tc2, err := connectTLS(t, tp.addr, up, &tls.Config{RootCAs: w.caPool, ServerName: "127.0.0.1", NextProtos: tc.offer})
			if err != nil {
				t.Fatal(err)
			}
			defer tc2.Close()
			if got := tc2.ConnectionState().NegotiatedProtocol; got != tc.want {
				t.Fatalf("negotiated %q, want %q", got, tc.want)
			}
			if tc.want != "h2" {
				return
			}
			resp, err := h2OverTLS(tc2).Get("https://127.0.0.1/only-h2")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != "GET /only-h2 " {
				t.Errorf("h2-only client got %q", body)
			}
		})
	}
}

// h2cClient speaks HTTP/2 with prior knowledge over plaintext, dialing
// dial's connection for every URL.
func h2cClient(dial func() (net.Conn, error)) *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	// One connection per host: without the bound net/http may dial spare
	// connections for requests queued while its first is set up, and one
	// finishing after CloseIdleConnections would stay open.
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Protocols:       &p,
		MaxConnsPerHost: 1,
		DialContext:     func(context.Context, string, string) (net.Conn, error) { return dial() },
	}}
}

// h2OverTLS is an HTTP/2 client on tc, a TLS connection that negotiated
// h2 already.
func h2OverTLS(tc *tls.Conn) *http.Client {
	var p http.Protocols
	p.SetHTTP2(true)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Protocols:      &p,
		DialTLSContext: func(context.Context, string, string) (net.Conn, error) { return tc, nil },
	}}
}

// Reverse mode: a client that sends the HTTP/2 preface first (h2c with
// prior knowledge) is decoded as HTTP/2 from seq 1.
func TestH2CReverse(t *testing.T) {
	up := startH2C(t)
	tp := startTap(t, Config{Mode: Reverse, Upstream: up})
	client := h2cClient(func() (net.Conn, error) { return net.Dial("tcp", tp.addr) })
	h2Requests(t, client, "http://"+up, 6)
	client.CloseIdleConnections()
	tp.waitClosed()
	conn := h2ConnEvents(t, tp.stop())
	checkH2Exchanges(t, conn, 6, 1, "http")
	if conn[0].Kind != capture.KindOpen || conn[0].Mode != "reverse" {
		t.Errorf("first event %+v", conn[0])
	}
}

// Regular mode: HTTP/2 with prior knowledge as the first bytes of a
// plaintext CONNECT tunnel, numbered after the CONNECT's 1, with frametap
// intercepting (it sniffs the first byte) and without.
func TestH2CTunnel(t *testing.T) {
	for _, intercept := range []bool{true, false} {
		t.Run(fmt.Sprint("intercept=", intercept), func(t *testing.T) {
			up := startH2C(t)
			cfg := Config{}
			if intercept {
				cfg = newTLSWorld(t).config()
			}
			tp := startTap(t, cfg)
			client := h2cClient(func() (net.Conn, error) {
				rc := dialRaw(t, tp.addr)
				rc.send("CONNECT " + up + " HTTP/1.1\r\nHost: " + up + "\r\n\r\n")
				if resp, _ := rc.response("CONNECT"); resp.StatusCode != 200 {
					return nil, fmt.Errorf("CONNECT: %s", resp.Status)
				}
				return rc.conn, nil
			})
			h2Requests(t, client, "http://"+up, 5)
			client.CloseIdleConnections()
			tp.waitClosed()
			checkH2Exchanges(t, h2ConnEvents(t, tp.stop()), 5, 2, "http")
		})
	}
}

// SOCKS5: HTTP/2 with prior knowledge as the first bytes after the SOCKS
// CONNECT, as in a CONNECT tunnel (transparent mode shares the path).
func TestH2CSOCKS5(t *testing.T) {
	up := startH2C(t)
	tp := startTap(t, Config{Mode: SOCKS5})
	d := socksClient(t, tp.addr, nil)
	client := h2cClient(func() (net.Conn, error) { return d.DialContext(context.Background(), "tcp", up) })
	h2Requests(t, client, "http://"+up, 4)
	client.CloseIdleConnections()
	tp.waitClosed()
	checkH2Exchanges(t, h2ConnEvents(t, tp.stop()), 4, 1, "http")
}
