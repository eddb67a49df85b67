package proxy

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// upProxy is an upstream HTTP proxy on loopback, as a corporate network
// has one: net/http's server takes absolute-form requests and forwards
// them with net/http's client, and relays CONNECT tunnels. It records
// what each request asked of it.
type upProxy struct {
	addr   string
	refuse int // when set, CONNECT is answered with this status

	mu   sync.Mutex
	seen []string // "METHOD target auth=... pconn=..." per request
}

func startUpProxy(t *testing.T) *upProxy {
	t.Helper()
	ln := listenLoopback(t)
	up := &upProxy{addr: ln.Addr().String()}
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up.mu.Lock()
		up.seen = append(up.seen, r.Method+" "+r.RequestURI+" auth="+r.Header.Get("Proxy-Authorization")+" pconn="+r.Header.Get("Proxy-Connection"))
		refuse := up.refuse
		up.mu.Unlock()
		if r.Method == "CONNECT" {
			if refuse != 0 {
				w.Header().Set("Proxy-Authenticate", `Basic realm="corp"`)
				http.Error(w, "no", refuse)
				return
			}
			upc, err := net.DialTimeout("tcp", r.RequestURI, 5*time.Second)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			nc, brw, _ := w.(http.Hijacker).Hijack()
			io.WriteString(nc, "HTTP/1.1 200 Connection established\r\n\r\n")
			go func() { io.Copy(upc, brw); upc.(*net.TCPConn).CloseWrite() }()
			io.Copy(nc, upc)
			nc.Close()
			upc.Close()
			return
		}
		out := r.Clone(r.Context())
		out.RequestURI = ""
		resp, err := tr.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return up
}

func (up *upProxy) requests() []string {
	up.mu.Lock()
	defer up.mu.Unlock()
	return append([]string(nil), up.seen...)
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// Upstream mode, plain HTTP: the request reaches the upstream proxy in
// absolute-form with the credentials of the --mode URL, not the client's
// (which were frametap's), and the capture names the server, not the
// proxy.
func TestUpstreamProxyPlain(t *testing.T) {
	origin := startHTTP(t, hello)
	up := startUpProxy(t)
	tp := startTap(t, Config{Mode: UpstreamProxy, Upstream: "http://corp:pa%20ss@" + up.addr})
	rc := dialRaw(t, tp.addr)
	rc.send("GET http://" + origin.addr + "/a?q=1 HTTP/1.1\r\nHost: " + origin.addr + "\r\nProxy-Authorization: Basic Zm9yOmZyYW1ldGFw\r\nProxy-Connection: keep-alive\r\n\r\n")
	if resp, body := rc.response("GET"); resp.StatusCode != 200 || body != "hello /a " {
		t.Errorf("first: %s %q", resp.Status, body)
	}
	rc.send("GET http://" + origin.addr + "/b HTTP/1.1\r\nHost: " + origin.addr + "\r\nConnection: close\r\n\r\n")
	if resp, body := rc.response("GET"); resp.StatusCode != 200 || body != "hello /b " {
		t.Errorf("second: %s %q", resp.Status, body)
	}
	rc.finish()
	tp.waitClosed()
	evs := tp.stop()
	auth := basic("corp", "pa ss")
	want := []string{
		"GET http://" + origin.addr + "/a?q=1 auth=" + auth + " pconn=",
		"GET http://" + origin.addr + "/b auth=" + auth + " pconn=",
	}
	if got := up.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the upstream proxy got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if open := kinds(evs, 1, capture.KindOpen); len(open) != 1 || open[0].Mode != "upstream" || open[0].Listen != tp.addr {
		t.Errorf("open %+v", open)
	}
	reqs := kinds(evs, 1, capture.KindRequest)
	if len(reqs) != 2 || reqs[0].Server != origin.addr || header(reqs[0].Headers, "Proxy-Authorization") != "Basic Zm9yOmZyYW1ldGFw" {
		t.Errorf("requests as the client sent them: %+v", reqs)
	}
}

// Upstream mode, TLS: CONNECT through the upstream proxy, then TLS
// intercepted as in regular mode.
func TestUpstreamProxyHTTPS(t *testing.T) {
	w := newTLSWorld(t)
	origin := w.startHTTPS(t)
	up := startUpProxy(t)
	cfg := w.config()
	cfg.Mode, cfg.Upstream = UpstreamProxy, "http://"+up.addr
	tp := startTap(t, cfg)
	c := httpsClient(tp.addr, w.caPool, "")
	if status, body := get(t, c, "https://"+origin+"/s"); status != 200 || !strings.HasPrefix(body, "secret /s tls=") {
		t.Errorf("%d %q", status, body)
	}
	c.CloseIdleConnections()
	tp.waitClosed()
	evs := tp.stop()
	if got := up.requests(); len(got) != 1 || got[0] != "CONNECT "+origin+" auth= pconn=" {
		t.Errorf("the upstream proxy got %q", got)
	}
	cl, sv := tlsEvents(t, evs)
	if len(cl) != 1 || len(sv) != 1 || !sv[0].Verified {
		t.Errorf("tls %+v %+v", cl, sv)
	}
}

// A refused or unreachable upstream proxy is a 502 that names it and its
// answer, and an error event.
func TestUpstreamProxyRefuses(t *testing.T) {
	origin := startHTTP(t, hello)
	up := startUpProxy(t)
	up.refuse = 407
	dead := refusedAddr(t)
	for _, tc := range []struct {
		name, upstream, req, want string
	}{
		{"407", "http://" + up.addr, "CONNECT " + origin.addr + " HTTP/1.1\r\nHost: x\r\n\r\n",
			`upstream proxy http://` + up.addr + ` refused CONNECT ` + origin.addr + `: it answered "HTTP/1.1 407 Proxy Authentication Required" (it wants credentials: --mode upstream:http://user:pass@host:port)`},
		{"407 with credentials", "http://u:wrong@" + up.addr, "CONNECT " + origin.addr + " HTTP/1.1\r\nHost: x\r\n\r\n",
			`it answered "HTTP/1.1 407 Proxy Authentication Required" (it refused the credentials given in --mode upstream:...)`},
		{"down, plain", "http://" + dead, "GET http://" + origin.addr + "/ HTTP/1.1\r\nHost: x\r\n\r\n",
			"cannot reach upstream proxy http://" + dead + ": dial tcp " + dead},
		{"down, tunnel", "socks5://" + dead, "CONNECT " + origin.addr + " HTTP/1.1\r\nHost: x\r\n\r\n",
			"cannot reach upstream proxy socks5://" + dead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tp := startTap(t, Config{Mode: UpstreamProxy, Upstream: tc.upstream})
			rc := dialRaw(t, tp.addr)
			rc.send(tc.req)
			resp, body := rc.response(strings.Fields(tc.req)[0])
			if resp.StatusCode != 502 || !strings.Contains(body, tc.want) {
				t.Errorf("%s %q, want 502 saying %q", resp.Status, body, tc.want)
			}
			rc.finish()
			tp.waitClosed()
			evs := tp.stop()
			if errs := errorsOf(evs); len(errs) != 1 || !strings.HasPrefix(errs[0], "server: ") || !strings.Contains(errs[0], tc.want) {
				t.Errorf("errors %q", errs)
			}
		})
	}
}

// upstream:socks5:// reaches servers through a SOCKS5 proxy with
// golang.org/x/net/proxy's client: here a second frametap in SOCKS5 mode,
// which requires credentials, so that both ends of the chain are seen.
func TestUpstreamSOCKS5(t *testing.T) {
	w := newTLSWorld(t)
	origin := startHTTP(t, hello)
	originTLS := w.startHTTPS(t)
	socks := startTap(t, Config{Mode: SOCKS5, ProxyAuth: &Credentials{User: "alice", Password: "s3cret"}})
	cfg := w.config()
	cfg.Mode, cfg.Upstream = UpstreamProxy, "socks5://alice:s3cret@"+socks.addr
	tp := startTap(t, cfg)
	plain := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(&url.URL{Scheme: "http", Host: tp.addr}), DisableKeepAlives: true}}
	if status, body := get(t, plain, "http://"+origin.addr+"/p"); status != 200 || body != "hello /p " {
		t.Errorf("plain: %d %q", status, body)
	}
	c := httpsClient(tp.addr, w.caPool, "")
	if status, body := get(t, c, "https://"+originTLS+"/s"); status != 200 || !strings.HasPrefix(body, "secret /s tls=") {
		t.Errorf("https: %d %q", status, body)
	}
	c.CloseIdleConnections()
	tp.waitClosed()
	socks.waitClosed()
	tp.stop()
	var got []string
	for _, ev := range kinds(socks.stop(), 0, capture.KindOpen) {
		got = append(got, ev.Mode+" "+ev.Server)
	}
	if strings.Join(got, ",") != "socks5 "+origin.addr+",socks5 "+originTLS {
		t.Errorf("the SOCKS5 proxy saw %q", got)
	}
}

// ParseMode reads every mode as mitmproxy spells it, and names what it
// cannot read.
func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		in       string
		mode     Mode
		upstream string
		err      string
	}{
		{"regular", Regular, "", ""},
		{"", Regular, "", ""},
		{"socks5", SOCKS5, "", ""},
		{"transparent", Transparent, "", ""},
		{"reverse:http://127.0.0.1:3000", Reverse, "127.0.0.1:3000", ""},
		{"reverse:wss://example.test", Reverse, "https://example.test:443", ""},
		{"upstream:http://127.0.0.1:3128", UpstreamProxy, "http://127.0.0.1:3128", ""},
		{"upstream:http://u:p%40ss@127.0.0.1:3128/", UpstreamProxy, "http://u:p%40ss@127.0.0.1:3128", ""},
		{"upstream:socks5://[::1]:1080", UpstreamProxy, "socks5://[::1]:1080", ""},
		{"upstream:socks5h://127.0.0.1:1080", UpstreamProxy, "socks5h://127.0.0.1:1080", ""},
		{"upstream:http://127.0.0.1", 0, "", "give its port"},
		{"upstream:https://127.0.0.1:3128", 0, "", "TLS to the upstream proxy is not supported"},
		{"upstream:ftp://127.0.0.1:21", 0, "", `unknown scheme "ftp"`},
		{"upstream:http://127.0.0.1:3128/path", 0, "", "a path is not supported"},
		{"reverse:ftp://x:1", 0, "", `unknown scheme "ftp"`},
		{"socks4", 0, "", "want regular, socks5, transparent, upstream:"},
	} {
		mode, up, err := ParseMode(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseMode(%q): %v, want an error saying %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || mode != tc.mode || up != tc.upstream):
			t.Errorf("ParseMode(%q) = %v, %q, %v; want %v, %q", tc.in, mode, up, err, tc.mode, tc.upstream)
		}
	}
}

// The upstream proxy's answer to CONNECT is read to the end of its head
// and no further: bytes of a server that speaks first are the tunnel's.
func TestViaConnectKeepsServerFirstBytes(t *testing.T) {
	addr := serveEach(listenLoopback(t), func(nc net.Conn) {
		defer nc.Close()
		br := bufio.NewReader(nc)
		for {
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		io.WriteString(nc, "HTTP/1.0 200 OK\r\nVia: test\r\n\r\n220 hello from a server that speaks first\r\n")
	})
	v, err := parseVia("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := v.tunnel(ctx, (&net.Dialer{}).DialContext, "127.0.0.1:25")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	b, _ := io.ReadAll(nc)
	if string(b) != "220 hello from a server that speaks first\r\n" {
		t.Errorf("tunnel starts with %q", b)
	}
}

func TestHeadEnd(t *testing.T) {
	for in, want := range map[string]int{"": -1, "HTTP/1.1 200 OK\r\n\r\nx": 19, "HTTP/1.1 200 OK\n\nx": 17, "HTTP/1.1 200 OK\r\n": -1, "a\r\nb: c\r\n\r": -1} {
		if got := headEnd([]byte(in)); got != want {
			t.Errorf("headEnd(%q) = %d, want %d", in, got, want)
		}
	}
	for status, want := range map[string]bool{"HTTP/1.1 200 Connection established": true, "HTTP/1.0 200": true, "HTTP/1.1 204 x": true,
		"HTTP/1.1 2000": false, "HTTP/1.1 407 Proxy Authentication Required": false, "SSH-2.0 200": false, "HTTP/1.1 20": false} {
		if got := connectAccepted(status); got != want {
			t.Errorf("connectAccepted(%q) = %v", status, got)
		}
	}
}
