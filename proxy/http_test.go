package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

func hello(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "hello %s %s", r.URL.Path, body)
}

// Five requests through net/http's client on one kept-alive connection must
// show as seq 1..5 of one conn, in reverse mode.
func TestReverseKeepAlive(t *testing.T) {
	us := startHTTP(t, hello)
	tp := startTap(t, Config{Mode: Reverse, Upstream: us.addr})
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1}}
	for i := 1; i <= 5; i++ {
		resp, err := client.Get(fmt.Sprintf("http://%s/n%d", tp.addr, i))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("hello /n%d ", i); string(b) != want {
			t.Fatalf("body %q, want %q", b, want)
		}
	}
	client.CloseIdleConnections()
	tp.waitClosed()
	evs := tp.stop()

	opens := kinds(evs, 0, capture.KindOpen)
	if len(opens) != 1 {
		t.Fatalf("%d connections, want 1 kept alive", len(opens))
	}
	conn := opens[0].Conn
	if opens[0].Server != us.addr || opens[0].Mode != "reverse" || !strings.HasPrefix(opens[0].Client, "127.0.0.1:") {
		t.Errorf("open = %+v", opens[0])
	}
	reqs, resps := kinds(evs, conn, capture.KindRequest), kinds(evs, conn, capture.KindResponse)
	if len(reqs) != 5 || len(resps) != 5 {
		t.Fatalf("%d requests and %d responses, want 5 each", len(reqs), len(resps))
	}
	for i := range 5 {
		q, r := reqs[i], resps[i]
		if q.Seq != i+1 || r.Seq != i+1 {
			t.Errorf("exchange %d: seq %d/%d", i+1, q.Seq, r.Seq)
		}
		if q.Method != "GET" || q.Target != fmt.Sprintf("/n%d", i+1) || q.Host != tp.addr || q.Proto != "HTTP/1.1" {
			t.Errorf("request %d = %s %s host=%s %s", i+1, q.Method, q.Target, q.Host, q.Proto)
		}
		if header(q.Headers, "User-Agent") == "" {
			t.Errorf("request %d headers lack User-Agent: %v", i+1, q.Headers)
		}
		want := fmt.Sprintf("hello /n%d ", i+1)
		if r.Status != 200 || r.StatusText != "OK" || string(r.Body) != want || r.BodyLen != int64(len(want)) {
			t.Errorf("response %d = %d %q body %q (%d)", i+1, r.Status, r.StatusText, r.Body, r.BodyLen)
		}
	}
	cl := kinds(evs, conn, capture.KindClose)[0]
	if cl.BytesFromClient == 0 || cl.BytesFromServer == 0 || cl.Err != "" || cl.WebSocket {
		t.Errorf("close = %+v", cl)
	}
}

// Regular mode, as curl uses it: absolute-form requests for two different
// upstreams on one client connection, each routed to its host in origin-form
// with the hop-by-hop and Proxy-* fields gone.
func TestRegularAbsoluteFormTwoHosts(t *testing.T) {
	a := startHTTP(t, hello)
	b := startHTTP(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "from b") })
	tp := startTap(t, Config{})
	rc := dialRaw(t, tp.addr)
	for i, target := range []string{"http://" + a.addr + "/x?q=1", "http://" + b.addr, "http://" + a.addr + "/y"} {
		rc.send("GET " + target + " HTTP/1.1\r\nHost: " + strings.TrimPrefix(target, "http://") + "\r\nProxy-Connection: Keep-Alive\r\nProxy-Authorization: Basic c2VjcmV0\r\nConnection: Keep-Alive, X-Hop\r\nX-Hop: 1\r\nX-Keep: 2\r\n\r\n")
		resp, body := rc.response("GET")
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: %s %q", i, resp.Status, body)
		}
	}
	rc.finish()

	for _, us := range []*upstreamServer{a, b} {
		for len(us.seen) > 0 {
			r := <-us.seen
			if r.RequestURI[0] != '/' {
				t.Errorf("upstream got target %q, want origin-form", r.RequestURI)
			}
			if r.Header.Get("Proxy-Connection") != "" || r.Header.Get("Proxy-Authorization") != "" || r.Header.Get("X-Hop") != "" {
				t.Errorf("upstream got hop-by-hop fields: %v", r.Header)
			}
			if r.Header.Get("X-Keep") != "2" {
				t.Errorf("upstream lost an end-to-end field: %v", r.Header)
			}
		}
	}
	tp.waitClosed()
	evs := tp.stop()
	reqs := kinds(evs, 0, capture.KindRequest)
	resps := kinds(evs, 0, capture.KindResponse)
	if len(reqs) != 3 || len(resps) != 3 {
		t.Fatalf("%d requests, %d responses; want 3 each", len(reqs), len(resps))
	}
	wantServer := []string{a.addr, b.addr, a.addr}
	wantBody := []string{"hello /x ", "from b", "hello /y "}
	for i := range reqs {
		if reqs[i].Conn != reqs[0].Conn || reqs[i].Seq != i+1 {
			t.Errorf("request %d on conn %d seq %d", i, reqs[i].Conn, reqs[i].Seq)
		}
		if !strings.HasPrefix(reqs[i].Target, "http://") {
			t.Errorf("request %d target %q, want it as sent (absolute-form)", i, reqs[i].Target)
		}
		if header(reqs[i].Headers, "Proxy-Authorization") == "" {
			t.Errorf("request %d: the capture must show the client's bytes as sent", i)
		}
		if reqs[i].Server != wantServer[i] {
			t.Errorf("request %d server %q, want %q: the upstream it names", i, reqs[i].Server, wantServer[i])
		}
		if resps[i].Server != wantServer[i] || string(resps[i].Body) != wantBody[i] {
			t.Errorf("response %d from %s body %q", i, resps[i].Server, resps[i].Body)
		}
	}
}

// Pipelined requests (all written before any response is read) pair with
// their responses in order; one of them is HEAD, one gets a chunked answer
// with a trailer.
func TestPipelinedHEADAndChunked(t *testing.T) {
	us := startHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			w.WriteHeader(200)
			for i := range 3 {
				fmt.Fprintf(w, "part%d;", i)
				w.(http.Flusher).Flush()
			}
			w.Header().Set("X-Sum", "3")
		case "/head":
			w.Header().Set("Content-Length", "1000")
		default:
			hello(w, r)
		}
	})
	tp := startTap(t, Config{Mode: Reverse, Upstream: us.addr})
	rc := dialRaw(t, tp.addr)
	rc.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
		"HEAD /head HTTP/1.1\r\nHost: x\r\n\r\n" +
		"GET /chunked HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n")
	for _, m := range []string{"GET", "HEAD", "GET", "POST"} {
		rc.response(m)
	}
	rc.finish()
	tp.waitClosed()
	evs := tp.stop()
	reqs, resps := kinds(evs, 0, capture.KindRequest), kinds(evs, 0, capture.KindResponse)
	if len(reqs) != 4 || len(resps) != 4 {
		t.Fatalf("%d requests, %d responses; want 4 each", len(reqs), len(resps))
	}
	for i, want := range []struct {
		method  string
		reqBody string
		body    string
		bodyLen int64
	}{
		{"GET", "", "hello /a ", 9},
		{"HEAD", "", "", 0},
		{"GET", "", "part0;part1;part2;", 18},
		{"POST", "abcde", "hello /p abcde", 14},
	} {
		if reqs[i].Seq != i+1 || resps[i].Seq != i+1 || reqs[i].Method != want.method {
			t.Errorf("exchange %d: %s seq %d/%d", i+1, reqs[i].Method, reqs[i].Seq, resps[i].Seq)
		}
		if string(reqs[i].Body) != want.reqBody || reqs[i].BodyLen != int64(len(want.reqBody)) {
			t.Errorf("request %d body %q (%d), want %q", i+1, reqs[i].Body, reqs[i].BodyLen, want.reqBody)
		}
		if string(resps[i].Body) != want.body || resps[i].BodyLen != want.bodyLen {
			t.Errorf("response %d body %q (%d), want %q (%d)", i+1, resps[i].Body, resps[i].BodyLen, want.body, want.bodyLen)
		}
	}
	if header(resps[1].Headers, "Content-Length") != "1000" {
		t.Errorf("HEAD response headers %v", resps[1].Headers)
	}
	if header(resps[2].Trailers, "X-Sum") != "3" {
		t.Errorf("chunked trailers %v", resps[2].Trailers)
	}
}

// CONNECT answers 200 and is seq 1; plaintext HTTP inside the tunnel is
// decoded and continues the seq.
func TestConnectPlaintextTunnel(t *testing.T) {
	us := startHTTP(t, hello)
	tp := startTap(t, Config{})
	rc := dialRaw(t, tp.addr)
	rc.send("CONNECT " + us.addr + " HTTP/1.1\r\nHost: " + us.addr + "\r\n\r\n")
	resp, _ := rc.response("CONNECT")
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT answered %s", resp.Status)
	}
	for _, p := range []string{"/one", "/two"} {
		rc.send("GET " + p + " HTTP/1.1\r\nHost: " + us.addr + "\r\n\r\n")
		if _, body := rc.response("GET"); body != "hello "+p+" " {
			t.Fatalf("tunnel body %q", body)
		}
	}
	rc.finish()
	tp.waitClosed()
	evs := tp.stop()
	reqs, resps := kinds(evs, 0, capture.KindRequest), kinds(evs, 0, capture.KindResponse)
	if len(reqs) != 3 || len(resps) != 3 {
		t.Fatalf("%d requests, %d responses; want 3 each", len(reqs), len(resps))
	}
	if reqs[0].Method != "CONNECT" || reqs[0].Seq != 1 || reqs[0].Target != us.addr || resps[0].Status != 200 || resps[0].Seq != 1 {
		t.Errorf("CONNECT exchange: %+v / %+v", reqs[0], resps[0])
	}
	for i, p := range []string{"/one", "/two"} {
		if reqs[i+1].Target != p || reqs[i+1].Seq != i+2 || resps[i+1].Seq != i+2 || string(resps[i+1].Body) != "hello "+p+" " {
			t.Errorf("tunneled exchange %d: %s seq %d body %q", i+2, reqs[i+1].Target, reqs[i+1].Seq, resps[i+1].Body)
		}
	}
}

// TLS inside a CONNECT tunnel is relayed opaque: bytes pass, counts are kept.
func TestConnectOpaqueTLS(t *testing.T) {
	echo := startEcho(t)
	tp := startTap(t, Config{})
	rc := dialRaw(t, tp.addr)
	rc.send("CONNECT " + echo + " HTTP/1.1\r\n\r\n")
	rc.response("CONNECT")
	hello := "\x16\x03\x01\x00\x05hello"
	rc.send(hello)
	got := make([]byte, len(hello))
	if _, err := io.ReadFull(rc.br, got); err != nil || string(got) != hello {
		t.Fatalf("echo through tunnel: %q %v", got, err)
	}
	rc.finish()
	tp.waitClosed()
	evs := tp.stop()
	if n := len(kinds(evs, 0, capture.KindRequest)); n != 1 {
		t.Errorf("%d requests, want only the CONNECT", n)
	}
	if errs := kinds(evs, 0, capture.KindError); len(errs) != 0 {
		t.Errorf("opaque tunnel reported errors: %+v", errs)
	}
	cl := kinds(evs, 0, capture.KindClose)[0]
	connectLen := int64(len("CONNECT " + echo + " HTTP/1.1\r\n\r\n"))
	if cl.BytesFromClient != connectLen+int64(len(hello)) || cl.BytesFromServer != int64(len(hello)) {
		t.Errorf("close counts %d/%d", cl.BytesFromClient, cl.BytesFromServer)
	}
}

// startEcho runs a TCP echo server on loopback.
func startEcho(t *testing.T) string {
	t.Helper()
	return serveEach(listenLoopback(t), func(c net.Conn) { io.Copy(c, c); c.Close() })
}

// net/http's own client through frametap as its proxy.
func TestRegularWithGoClient(t *testing.T) {
	us := startHTTP(t, hello)
	tp := startTap(t, Config{})
	pu, _ := url.Parse("http://" + tp.addr)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu)}}
	resp, err := client.Post("http://"+us.addr+"/post", "text/plain", strings.NewReader("body!"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "hello /post body!" {
		t.Fatalf("body %q", b)
	}
	client.CloseIdleConnections()
	tp.waitClosed()
	evs := tp.stop()
	reqs := kinds(evs, 0, capture.KindRequest)
	if len(reqs) != 1 || string(reqs[0].Body) != "body!" || reqs[0].Target != "http://"+us.addr+"/post" {
		t.Fatalf("requests %+v", reqs)
	}
}

// A request frametap must answer itself (400) behind a pipelined one still
// waiting for its response: the answers reach the client in order, and the
// capture pairs each with its own request. (Found in review.)
func TestPipelinedBadRequestWaitsItsTurn(t *testing.T) {
	slow := startHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "slow")
	})
	tp := startTap(t, Config{})
	rc := dialRaw(t, tp.addr)
	rc.send("GET http://" + slow.addr + "/1 HTTP/1.1\r\nHost: " + slow.addr + "\r\n\r\n" +
		"GET /relative HTTP/1.1\r\nHost: x\r\n\r\n")
	first, body := rc.response("GET")
	if first.StatusCode != 200 || body != "slow" {
		t.Fatalf("first answer %s %q, want the slow server's 200", first.Status, body)
	}
	second, _ := rc.response("GET")
	if second.StatusCode != 400 {
		t.Fatalf("second answer %s, want frametap's 400", second.Status)
	}
	rc.finish()
	tp.waitClosed()
	evs := tp.stop()
	resps := kinds(evs, 0, capture.KindResponse)
	if len(resps) != 2 || resps[0].Seq != 1 || resps[0].Status != 200 || resps[1].Seq != 2 || resps[1].Status != 400 {
		t.Errorf("responses %+v", resps)
	}
}
