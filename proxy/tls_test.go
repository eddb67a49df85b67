package proxy

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/proxy/certs"
)

// tlsWorld is frametap's CA and an upstream CA of the test's own, which
// frametap trusts through UpstreamRoots as --upstream-ca would make it.
type tlsWorld struct {
	ca, upCA *certs.CA
	caPool   *x509.CertPool // trusts frametap's CA: what a client that trusts frametap has
	upPool   *x509.CertPool // trusts the upstream's CA
}

func newTLSWorld(t testing.TB) *tlsWorld {
	t.Helper()
	ca, err := certs.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	upCA, err := certs.LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := &tlsWorld{ca: ca, upCA: upCA, caPool: x509.NewCertPool(), upPool: x509.NewCertPool()}
	w.caPool.AddCert(ca.Cert)
	w.upPool.AddCert(upCA.Cert)
	return w
}

// config returns a proxy Config that intercepts and trusts the upstream CA.
func (w *tlsWorld) config() Config {
	return Config{CA: w.ca, UpstreamRoots: w.upPool}
}

// serverTLS is the upstream's TLS config: a certificate from the upstream
// CA for whatever name the client asks for (127.0.0.1 without SNI).
func (w *tlsWorld) serverTLS() *tls.Config {
	return &tls.Config{
		NextProtos: []string{"http/1.1"},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			name := hello.ServerName
			if name == "" {
				name = "127.0.0.1"
			}
			return w.upCA.Leaf(name)
		},
	}
}

// startHTTPS runs an https upstream on loopback that answers every request
// with its path and whether it came over TLS.
func (w *tlsWorld) startHTTPS(t testing.TB) string {
	t.Helper()
	ln := listenLoopback(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.WriteString(rw, "secret "+r.URL.Path+" tls="+tlsName(r.TLS))
	}), TLSConfig: w.serverTLS()}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func tlsName(cs *tls.ConnectionState) string {
	if cs == nil {
		return "no"
	}
	return cs.ServerName
}

// startWSSEcho runs startWSEcho's server behind TLS.
func (w *tlsWorld) startWSSEcho(t *testing.T) string {
	t.Helper()
	return serveEach(tls.NewListener(listenLoopback(t), w.serverTLS()), serveWSEcho)
}

// httpsClient goes through the proxy at proxyAddr, trusting roots, and
// sends serverName as SNI ("" for the URL's host).
func httpsClient(proxyAddr string, roots *x509.CertPool, serverName string) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:           http.ProxyURL(&url.URL{Scheme: "http", Host: proxyAddr}),
		TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: serverName, NextProtos: []string{"h2", "http/1.1"}}, // as a browser offers
	}}
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// connectTLS opens a CONNECT tunnel to target through the proxy and starts
// TLS in it as a client of serverName.
func connectTLS(t *testing.T, proxyAddr, target string, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	rc := dialRaw(t, proxyAddr)
	rc.send("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n")
	if resp, _ := rc.response("CONNECT"); resp.StatusCode != 200 || rc.br.Buffered() != 0 {
		t.Fatalf("CONNECT: %s", resp.Status)
	}
	tc := tls.Client(rc.conn, cfg)
	return tc, tc.Handshake()
}

// tlsEvents returns the tls events of a capture by side.
func tlsEvents(t *testing.T, evs []capture.Event) (client, server []capture.Event) {
	t.Helper()
	for _, ev := range kinds(evs, 0, capture.KindTLS) {
		switch ev.Side {
		case "client":
			client = append(client, ev)
		case "server":
			server = append(server, ev)
		default:
			t.Errorf("tls event with side %q", ev.Side)
		}
	}
	return client, server
}

func TestInterceptHTTPS(t *testing.T) {
	for _, tc := range []struct {
		name, sni, wantSNI string
	}{
		{"IP, no SNI", "", "127.0.0.1"}, // as browsers do for https://127.0.0.1
		{"SNI", "localhost", "localhost"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newTLSWorld(t)
			up := w.startHTTPS(t)
			tp := startTap(t, w.config())
			c := httpsClient(tp.addr, w.caPool, tc.sni)
			for _, path := range []string{"/a", "/b", "/c"} {
				status, body := get(t, c, "https://"+up+path)
				if want := "secret " + path + " tls=" + tc.sni; status != 200 || body != want {
					t.Fatalf("GET %s: %d %q, want 200 %q", path, status, body, want)
				}
			}
			c.CloseIdleConnections()
			tp.waitClosed()
			evs := tp.stop()

			if n := len(kinds(evs, 0, capture.KindOpen)); n != 1 {
				t.Fatalf("%d connections, want the three requests on one", n)
			}
			cl, sv := tlsEvents(t, evs)
			if len(cl) != 1 || len(sv) != 1 {
				t.Fatalf("tls events: client %+v server %+v", cl, sv)
			}
			if e := cl[0]; e.SNI != tc.sni || e.ALPN != "http/1.1" || !strings.HasPrefix(e.Version, "TLS 1.") || e.Cipher == "" {
				t.Errorf("client tls event %+v", e)
			}
			if e := sv[0]; e.SNI != tc.wantSNI || !e.Verified || e.Subject != "CN="+tc.wantSNI+",O=frametap" || !strings.Contains(e.Issuer, "frametap CA") || e.ALPN != "http/1.1" {
				t.Errorf("server tls event %+v", e)
			}
			reqs := kinds(evs, 0, capture.KindRequest)
			var got []string
			for _, r := range reqs {
				got = append(got, itoa(r.Seq)+" "+r.Method+" "+r.Target+" "+r.Scheme)
			}
			want := "1 CONNECT " + up + " |2 GET /a https|3 GET /b https|4 GET /c https"
			if strings.Join(got, "|") != want {
				t.Errorf("requests:\n%s\nwant\n%s", strings.Join(got, "|"), want)
			}
			resps := kinds(evs, 0, capture.KindResponse)
			if len(resps) != 4 || string(resps[3].Body) != "secret /c tls="+tc.sni {
				t.Errorf("responses %+v", resps)
			}
			// The tls events come between the CONNECT's 200 and the first
			// request inside, server side first.
			var order []string
			for _, ev := range evs {
				if ev.Kind == capture.KindTLS {
					order = append(order, "tls:"+ev.Side)
				} else if ev.Kind == capture.KindRequest || ev.Kind == capture.KindResponse {
					order = append(order, string(ev.Kind)+itoa(ev.Seq))
				}
			}
			if got := strings.Join(order[:5], " "); got != "request1 response1 tls:server tls:client request2" {
				t.Errorf("event order %s", got)
			}
		})
	}
}

func TestInterceptWSS(t *testing.T) {
	w := newTLSWorld(t)
	srv := w.startWSSEcho(t)
	tp := startTap(t, w.config())
	tc, err := connectTLS(t, tp.addr, srv, &tls.Config{RootCAs: w.caPool, ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	wsConversation(t, tc, dialWS(t, tc, srv))
	tp.waitClosed()
	evs := tp.stop()
	checkWSCapture(t, evs, 2)
	if ups := kinds(evs, 0, capture.KindUpgrade); ups[0].Scheme != "wss" {
		t.Errorf("upgrade scheme %q, want wss", ups[0].Scheme)
	}
}

// A plaintext tunnel is still decoded when frametap could intercept TLS.
func TestInterceptPlainTunnel(t *testing.T) {
	w := newTLSWorld(t)
	srv := startWSEcho(t)
	tp := startTap(t, w.config())
	rc := dialRaw(t, tp.addr)
	rc.send("CONNECT " + srv + " HTTP/1.1\r\nHost: " + srv + "\r\n\r\n")
	rc.response("CONNECT")
	wsConversation(t, rc.conn, dialWS(t, rc.conn, srv))
	tp.waitClosed()
	evs := tp.stop()
	checkWSCapture(t, evs, 2)
	if cl, sv := tlsEvents(t, evs); len(cl)+len(sv) != 0 {
		t.Errorf("tls events in a plaintext tunnel")
	}
}

// A server that speaks first gets through once the sniff gives up.
func TestInterceptServerFirst(t *testing.T) {
	defer func(d time.Duration) { sniffWait = d }(sniffWait)
	sniffWait = 100 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err == nil {
			io.WriteString(nc, "220 hello\r\n")
			nc.Close()
		}
	}()
	w := newTLSWorld(t)
	tp := startTap(t, w.config())
	rc := dialRaw(t, tp.addr)
	rc.send("CONNECT " + ln.Addr().String() + " HTTP/1.1\r\n\r\n")
	rc.response("CONNECT")
	line, err := rc.br.ReadString('\n')
	if line != "220 hello\r\n" {
		t.Fatalf("banner %q, %v", line, err)
	}
	rc.finish()
	tp.waitClosed()
	tp.stop()
}

func TestIgnoreHosts(t *testing.T) {
	w := newTLSWorld(t)
	up := w.startHTTPS(t)
	cfg := w.config()
	cfg.IgnoreHosts = regexp.MustCompile(`^127\.0\.0\.1:`)
	tp := startTap(t, cfg)
	// The client sees the upstream's own certificate: it must trust the
	// upstream's CA, not frametap's.
	c := httpsClient(tp.addr, w.upPool, "")
	status, body := get(t, c, "https://"+up+"/pinned")
	if status != 200 || body != "secret /pinned tls=" {
		t.Fatalf("got %d %q", status, body)
	}
	c.CloseIdleConnections()
	tp.waitClosed()
	evs := tp.stop()
	if cl, sv := tlsEvents(t, evs); len(cl)+len(sv) != 0 {
		t.Errorf("tls events for an ignored host")
	}
	if reqs := kinds(evs, 0, capture.KindRequest); len(reqs) != 1 || reqs[0].Method != "CONNECT" {
		t.Errorf("requests %+v, want the CONNECT only", reqs)
	}
}

func TestClientRejectsCert(t *testing.T) {
	w := newTLSWorld(t)
	up := w.startHTTPS(t)
	tp := startTap(t, w.config())
	_, err := connectTLS(t, tp.addr, up, &tls.Config{RootCAs: w.upPool, ServerName: "localhost"}) // does not trust frametap
	if err == nil {
		t.Fatal("handshake succeeded with an untrusted CA")
	}
	tp.waitClosed()
	evs := tp.stop()
	errs := kinds(evs, 0, capture.KindError)
	if len(errs) != 1 || errs[0].From != "client" || !strings.Contains(errs[0].Msg, "rejected frametap's certificate") ||
		!strings.Contains(errs[0].Msg, "frametap ca") || !strings.Contains(errs[0].Msg, "--ignore-hosts") {
		t.Fatalf("error events %+v", errs)
	}
}

func TestBadUpstreamCert(t *testing.T) {
	w := newTLSWorld(t)
	up := w.startHTTPS(t)
	cfg := w.config()
	cfg.UpstreamRoots = x509.NewCertPool() // trusts nothing
	tp := startTap(t, cfg)
	status, body := get(t, httpsClient(tp.addr, w.caPool, ""), "https://"+up+"/x")
	if status != 502 || !strings.Contains(body, "certificate") || !strings.Contains(body, "--upstream-ca") {
		t.Fatalf("got %d %q, want a 502 that says why", status, body)
	}
	tp.waitClosed()
	evs := tp.stop()
	errs := kinds(evs, 0, capture.KindError)
	if len(errs) != 1 || errs[0].From != "server" || !strings.Contains(errs[0].Msg, "unknown authority") {
		t.Errorf("error events %+v", errs)
	}
	resps := kinds(evs, 0, capture.KindResponse)
	if len(resps) != 2 || resps[1].Status != 502 || resps[1].Seq != 2 {
		t.Errorf("responses %+v, want the 502 paired with request 2", resps)
	}
	if cl, sv := tlsEvents(t, evs); len(cl) != 1 || len(sv) != 0 {
		t.Errorf("tls events: client %d server %d, want 1 and 0", len(cl), len(sv))
	}
}

func TestInsecureUpstream(t *testing.T) {
	w := newTLSWorld(t)
	up := w.startHTTPS(t)
	cfg := w.config()
	cfg.UpstreamRoots = x509.NewCertPool()
	cfg.Insecure = true
	tp := startTap(t, cfg)
	c := httpsClient(tp.addr, w.caPool, "")
	if status, _ := get(t, c, "https://"+up+"/x"); status != 200 {
		t.Fatalf("status %d with -k", status)
	}
	c.CloseIdleConnections()
	tp.waitClosed()
	if _, sv := tlsEvents(t, tp.stop()); len(sv) != 1 || sv[0].Verified {
		t.Errorf("server tls events %+v, want one with verified false", sv)
	}
}

func TestReverseTLS(t *testing.T) {
	w := newTLSWorld(t)
	up := w.startHTTPS(t)
	mode, upstream, err := ParseMode("reverse:https://" + up)
	if err != nil || mode != Reverse || upstream != "https://"+up {
		t.Fatalf("ParseMode: %v %q %v", mode, upstream, err)
	}
	cfg := w.config()
	cfg.Mode, cfg.Upstream = mode, upstream
	tp := startTap(t, cfg)

	// A TLS client, sending SNI.
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: w.caPool, ServerName: "localhost"}}}
	if status, body := get(t, c, "https://"+tp.addr+"/r"); status != 200 || body != "secret /r tls=" { // an IP: no SNI upstream
		t.Fatalf("TLS client: %d %q", status, body)
	}
	c.CloseIdleConnections()
	// A plaintext client: frametap still speaks TLS upstream.
	plain := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if status, body := get(t, plain, "http://"+tp.addr+"/p"); status != 200 || body != "secret /p tls=" {
		t.Fatalf("plaintext client: %d %q", status, body)
	}
	tp.waitClosed()
	evs := tp.stop()
	opens := kinds(evs, 0, capture.KindOpen)
	if len(opens) != 2 || opens[0].Server != up {
		t.Fatalf("opens %+v", opens)
	}
	cl, sv := tlsEvents(t, evs)
	if len(cl) != 1 || cl[0].SNI != "localhost" || len(sv) != 2 || sv[0].SNI != "127.0.0.1" || !sv[1].Verified {
		t.Errorf("tls events client %+v server %+v", cl, sv)
	}
	reqs := kinds(evs, 0, capture.KindRequest)
	if len(reqs) != 2 || reqs[0].Scheme != "https" || reqs[1].Scheme != "" || reqs[0].Seq != 1 {
		t.Errorf("requests %+v", reqs)
	}
}

func TestReverseTLSUnreachable(t *testing.T) {
	w := newTLSWorld(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	cfg := w.config()
	cfg.Mode, cfg.Upstream = Reverse, "https://"+dead
	tp := startTap(t, cfg)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: w.caPool}}}
	if status, body := get(t, c, "https://"+tp.addr+"/"); status != 502 || !strings.Contains(body, "cannot reach upstream") {
		t.Fatalf("TLS client: %d %q", status, body)
	}
	if status, _ := get(t, &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}, "http://"+tp.addr+"/"); status != 502 {
		t.Fatalf("plaintext client: %d", status)
	}
	tp.waitClosed()
	tp.stop()
}

// BenchmarkTunnelHandshake is a new https tunnel through frametap: CONNECT,
// then the client's TLS handshake, inside which frametap dials the
// upstream and does its own (the leaf is cached after the first op).
// Compare with BenchmarkDirectHandshake: the difference is what
// interception costs a new tunnel.
func BenchmarkTunnelHandshake(b *testing.B) {
	w := newTLSWorld(b)
	up := w.startHTTPS(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p := New(w.config())
	go p.Serve(ln)
	defer p.Shutdown(b.Context())
	cfg := &tls.Config{RootCAs: w.caPool, ServerName: "localhost"}
	for b.Loop() {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		io.WriteString(nc, "CONNECT "+up+" HTTP/1.1\r\n\r\n")
		br := bufio.NewReader(nc)
		if resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"}); err != nil || resp.StatusCode != 200 {
			b.Fatal(resp, err)
		}
		tc := tls.Client(nc, cfg)
		if err := tc.Handshake(); err != nil {
			b.Fatal(err)
		}
		tc.Close()
	}
}

func BenchmarkDirectHandshake(b *testing.B) {
	w := newTLSWorld(b)
	up := w.startHTTPS(b)
	cfg := &tls.Config{RootCAs: w.upPool, ServerName: "localhost"}
	for b.Loop() {
		tc, err := tls.Dial("tcp", up, cfg)
		if err != nil {
			b.Fatal(err)
		}
		tc.Close()
	}
}

// What a failed client handshake is reported as. Under TLS 1.3 curl and
// Python refuse an untrusted certificate in a way Go's server sees as a
// bad record MAC (found by trying curl without --cacert).
func TestClientHandshakeError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New("remote error: tls: unknown certificate authority"), "the client rejected frametap's certificate"},
		{errors.New("local error: tls: bad record MAC"), "the client most likely rejected frametap's certificate"},
		{io.EOF, "the client closed the connection"},
		{errors.New("tls: client offered only unsupported versions"), "TLS handshake with the client: tls: client offered"},
	} {
		if got := clientHandshakeError(tc.err).Error(); !strings.Contains(got, tc.want) {
			t.Errorf("clientHandshakeError(%v) = %q, want it to say %q", tc.err, got, tc.want)
		}
	}
}
