package proxy

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	xproxy "golang.org/x/net/proxy"

	"github.com/frametap/frametap/capture"
)

// socksClient is golang.org/x/net/proxy's SOCKS5 client, a peer frametap's
// server did not write, dialing through the proxy at addr.
func socksClient(t *testing.T, addr string, auth *xproxy.Auth) xproxy.ContextDialer {
	t.Helper()
	d, err := xproxy.SOCKS5("tcp", addr, auth, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d.(xproxy.ContextDialer)
}

// socksHTTP is a net/http client whose connections go through d.
func socksHTTP(d xproxy.ContextDialer) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// listenLoopback6 listens on [::1], or skips the test where the machine
// has no IPv6 loopback.
func listenLoopback6(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// byConn groups a capture's events by connection.
func byConn(evs []capture.Event) map[uint64][]capture.Event {
	m := map[uint64][]capture.Event{}
	for _, ev := range evs {
		m[ev.Conn] = append(m[ev.Conn], ev)
	}
	return m
}

// errorsOf returns the messages of a connection's error events.
func errorsOf(evs []capture.Event) []string {
	var out []string
	for _, ev := range evs {
		if ev.Kind == capture.KindError {
			out = append(out, ev.From+": "+ev.Msg)
		}
	}
	return out
}

// CONNECT to an IPv4 address, an IPv6 address and a domain name that
// frametap resolves itself; plain HTTP inside is decoded, and the open
// event says where the client asked to go, as it asked.
func TestSOCKS5Connect(t *testing.T) {
	us := startHTTP(t, hello)
	_, port, _ := net.SplitHostPort(us.addr)
	srv6 := &http.Server{Handler: http.HandlerFunc(hello)}
	ln6 := listenLoopback6(t)
	go srv6.Serve(ln6)
	t.Cleanup(func() { srv6.Close() })

	tp := startTap(t, Config{Mode: SOCKS5})
	c := socksHTTP(socksClient(t, tp.addr, nil))
	targets := []string{us.addr, ln6.Addr().String(), "localhost:" + port}
	for i, target := range targets {
		status, body := get(t, c, "http://"+target+"/p"+string(rune('0'+i)))
		if status != 200 || body != "hello /p"+string(rune('0'+i))+" " {
			t.Errorf("%s: %d %q", target, status, body)
		}
	}
	tp.waitClosed()
	evs := tp.stop()
	conns := byConn(evs)
	if len(conns) != len(targets) {
		t.Fatalf("%d connections, want %d", len(conns), len(targets))
	}
	for id, c := range conns {
		open := c[0]
		want := targets[id-1]
		if open.Mode != "socks5" || open.Listen != tp.addr || open.Server != want {
			t.Errorf("conn %d open: mode %q listen %q server %q; want socks5 on %s to %s", id, open.Mode, open.Listen, open.Server, tp.addr, want)
		}
		reqs := kinds(c, id, capture.KindRequest)
		resps := kinds(c, id, capture.KindResponse)
		if len(reqs) != 1 || len(resps) != 1 || reqs[0].Server != want || resps[0].Status != 200 || reqs[0].Target != "/p"+string(rune('0'+id-1)) {
			t.Errorf("conn %d: requests %+v responses %+v", id, reqs, resps)
		}
		if errs := errorsOf(c); len(errs) > 0 {
			t.Errorf("conn %d errors: %q", id, errs)
		}
		// The handshake's bytes are the client's too.
		cl := c[len(c)-1]
		if cl.BytesFromClient <= int64(len("GET /p0 HTTP/1.1\r\n")) {
			t.Errorf("conn %d: %d bytes from the client", id, cl.BytesFromClient)
		}
	}
}

// After the CONNECT, TLS is intercepted as in a CONNECT tunnel: a leaf for
// the SNI, else for the name or address the client asked for. net/http's
// own SOCKS5 client (Proxy: socks5://) sends names unresolved.
func TestSOCKS5HTTPS(t *testing.T) {
	w := newTLSWorld(t)
	up := w.startHTTPS(t)
	_, port, _ := net.SplitHostPort(up)
	cfg := w.config()
	cfg.Mode = SOCKS5
	tp := startTap(t, cfg)
	for _, tc := range []struct{ target, wantLeaf string }{
		{"localhost:" + port, "localhost"}, // a name: SNI
		{up, "127.0.0.1"},                  // an IP: no SNI, the requested address
	} {
		var leaf string
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			Proxy: http.ProxyURL(&url.URL{Scheme: "socks5", Host: tp.addr}),
			TLSClientConfig: &tls.Config{RootCAs: w.caPool, VerifyConnection: func(cs tls.ConnectionState) error {
				leaf = strings.Join(append(cs.PeerCertificates[0].DNSNames, ipStrings(cs.PeerCertificates[0].IPAddresses)...), ",")
				return nil
			}},
			DisableKeepAlives: true,
		}}
		status, body := get(t, c, "https://"+tc.target+"/s")
		if status != 200 || !strings.HasPrefix(body, "secret /s tls=") {
			t.Errorf("%s: %d %q", tc.target, status, body)
		}
		if leaf != tc.wantLeaf {
			t.Errorf("%s: leaf for %q, want %q", tc.target, leaf, tc.wantLeaf)
		}
	}
	tp.waitClosed()
	evs := tp.stop()
	for id, c := range byConn(evs) {
		if c[0].Mode != "socks5" || c[0].Server == "" {
			t.Errorf("conn %d open %+v", id, c[0])
		}
		cl, sv := tlsEvents(t, c)
		reqs := kinds(c, id, capture.KindRequest)
		if len(cl) != 1 || len(sv) != 1 || !sv[0].Verified || len(reqs) != 1 || reqs[0].Scheme != "https" || reqs[0].Target != "/s" {
			t.Errorf("conn %d: tls %+v %+v, requests %+v", id, cl, sv, reqs)
		}
		if errs := errorsOf(c); len(errs) > 0 {
			t.Errorf("conn %d errors: %q", id, errs)
		}
	}
}

func ipStrings(ips []net.IP) []string {
	var out []string
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}

// A WebSocket through SOCKS5 is decoded frame by frame, both ways.
func TestSOCKS5WebSocket(t *testing.T) {
	echo := startWSEcho(t)
	tp := startTap(t, Config{Mode: SOCKS5})
	d := socksClient(t, tp.addr, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dialer := ws.Dialer{NetDial: d.DialContext, Protocols: []string{"chat"}}
	nc, _, _, err := dialer.Dial(ctx, "ws://"+echo+"/chat")
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	wsClientFrame(t, nc, true, ws.OpText, "through socks")
	if f, err := readFrame(nc); err != nil || string(f.Payload) != "through socks" {
		t.Fatalf("echo: %q %v", f.Payload, err)
	}
	wsClientFrame(t, nc, true, ws.OpClose, "\x03\xe8")
	readFrame(nc)
	nc.Close()
	tp.waitClosed()
	evs := tp.stop()
	var got []string
	for _, ev := range kinds(evs, 1, capture.KindMessage) {
		got = append(got, ev.From+" "+ev.Op+" "+string(ev.Payload))
	}
	if strings.Join(got, "|") != "client text through socks|server text through socks|client close |server close " {
		t.Errorf("messages %q", got)
	}
	if ups := kinds(evs, 1, capture.KindUpgrade); len(ups) != 1 || !ups[0].AcceptOK {
		t.Errorf("upgrade %+v", ups)
	}
}

// --proxyauth: the right username and password pass, a wrong one is
// refused with RFC 1929's failure status and an error event, and a
// client with none is refused at the method selection.
func TestSOCKS5Auth(t *testing.T) {
	us := startHTTP(t, hello)
	tp := startTap(t, Config{Mode: SOCKS5, ProxyAuth: &Credentials{User: "alice", Password: "s3cret"}})
	status, body := get(t, socksHTTP(socksClient(t, tp.addr, &xproxy.Auth{User: "alice", Password: "s3cret"})), "http://"+us.addr+"/in")
	if status != 200 || body != "hello /in " {
		t.Errorf("right password: %d %q", status, body)
	}
	for _, auth := range []*xproxy.Auth{{User: "alice", Password: "guess"}, nil} {
		_, err := socksHTTP(socksClient(t, tp.addr, auth)).Get("http://" + us.addr + "/out")
		if err == nil {
			t.Errorf("auth %+v: the request got through", auth)
		}
	}
	// The failure status itself, as a raw client reads it.
	rc := dialRaw(t, tp.addr)
	rc.send(string(unhex("05 01 02  01 05 616c696365 05 6775657373")))
	reply := make([]byte, 4)
	if _, err := io.ReadFull(rc.br, reply); err != nil || hex.EncodeToString(reply) != "05020101" {
		t.Errorf("replies % x, %v; want 05 02, then 01 01", reply, err)
	}
	if n, err := rc.br.Read(reply); err != io.EOF {
		t.Errorf("after the failure status: %d bytes, %v; want the connection closed", n, err)
	}
	tp.waitClosed()
	evs := tp.stop()
	var errs []string
	conns := byConn(evs)
	for id := range uint64(len(conns)) {
		errs = append(errs, errorsOf(conns[id+1])...)
	}
	want := []string{
		`client: SOCKS5: authentication failed for user "alice": wrong username or password (--proxyauth)`,
		"client: SOCKS5: the client offers no authentication method frametap accepts (it offers no authentication; frametap requires username/password (--proxyauth): give the client a username and password)",
		`client: SOCKS5: authentication failed for user "alice": wrong username or password (--proxyauth)`,
	}
	if strings.Join(errs, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(want, "\n"))
	}
	for _, e := range errs {
		if strings.Contains(e, "guess") {
			t.Errorf("an error event holds the password: %s", e)
		}
	}
}

// Bad input, each on a connection of its own while a good one runs: a
// clear error event, the right reply where SOCKS5 has one, that
// connection closed, nothing else affected.
func TestSOCKS5BadInput(t *testing.T) {
	us := startHTTP(t, hello)
	tp := startTap(t, Config{Mode: SOCKS5})
	good := dialRaw(t, tp.addr)
	good.send(string(unhex("05 01 00")))
	for _, tc := range []struct {
		name, in, reply, err string
		vanish               bool // the client closes after sending
	}{
		{"garbage", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "", `the client sent 'G', not a SOCKS5 greeting`, false},
		{"truncated request", "05 01 00  05 01 00 01 7f00", "05 00", "the client closed the connection in the middle of its request, after 9 bytes", true},
		{"unknown address type", "05 01 00  05 01 00 08 7f000001 0050", "05 00  05 08 00 01 00000000 0000", "address type 0x08", false},
		{"domain of length 0", "05 01 00  05 01 00 03 00 0050", "05 00  05 01 00 01 00000000 0000", "domain name of length 0", false},
		{"bind", "05 01 00  05 02 00 01 7f000001 0050", "05 00  05 07 00 01 00000000 0000", "BIND 127.0.0.1:80 is not supported", false},
		{"udp associate", "05 01 00  05 03 00 01 7f000001 0050", "05 00  05 07 00 01 00000000 0000", "UDP ASSOCIATE 127.0.0.1:80 is not supported", false},
		{"vanishes mid-greeting", "05 02 00", "", "the client closed the connection in the middle of its greeting, after 3 bytes", true},
	} {
		rc := dialRaw(t, tp.addr)
		in := []byte(tc.in)
		if tc.in[0] == '0' {
			in = unhex(tc.in)
		}
		rc.send(string(in))
		if tc.vanish {
			rc.conn.(*net.TCPConn).CloseWrite()
		}
		got, err := io.ReadAll(rc.br)
		if err != nil || hex.EncodeToString(got) != strings.ReplaceAll(tc.reply, " ", "") {
			t.Errorf("%s: got % x, %v; want %s, then the connection closed", tc.name, got, err, tc.reply)
		}
		rc.conn.Close()
	}
	// The good connection, untouched, finishes its handshake and request.
	good.send(string(unhex("05 01 00 01 7f000001" + portHex(us.addr))))
	reply := make([]byte, 12)
	if _, err := io.ReadFull(good.br, reply); err != nil || hex.EncodeToString(reply[:6]) != "050005000001" {
		t.Fatalf("good connection's replies % x, %v", reply, err)
	}
	good.send("GET /still HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if _, body := good.response("GET"); body != "hello /still " {
		t.Errorf("good connection: %q", body)
	}
	good.finish()
	tp.waitClosed()
	evs := tp.stop()
	conns := byConn(evs)
	wantErrs := map[uint64]string{2: "sent 'G'", 3: "middle of its request", 4: "0x08", 5: "length 0", 6: "BIND", 7: "UDP ASSOCIATE", 8: "middle of its greeting"}
	for id, want := range wantErrs {
		errs := errorsOf(conns[id])
		if len(errs) != 1 || !strings.HasPrefix(errs[0], "client: SOCKS5: ") || !strings.Contains(errs[0], want) {
			t.Errorf("conn %d errors %q, want one saying %q", id, errs, want)
		}
		if last := conns[id][len(conns[id])-1]; last.Kind != capture.KindClose || last.Err != "" {
			t.Errorf("conn %d ends with %+v", id, last)
		}
	}
	// A request the handshake read names its destination on open.
	if s := conns[6][0].Server; s != "127.0.0.1:80" {
		t.Errorf("BIND's open: server %q", s)
	}
	if s := conns[2][0].Server; s != "" {
		t.Errorf("garbage's open: server %q", s)
	}
	if errs := errorsOf(conns[1]); len(errs) != 0 || len(kinds(evs, 1, capture.KindResponse)) != 1 {
		t.Errorf("the good connection: errors %q", errs)
	}
}

// The handshake is bounded by --header-timeout: a client that stops in
// the middle gets an error event; one that says nothing is closed quietly,
// as a browser's preconnect would be.
func TestSOCKS5HandshakeTimeout(t *testing.T) {
	tp := startTap(t, Config{Mode: SOCKS5, HeaderTimeout: 200 * time.Millisecond})
	stalled := dialRaw(t, tp.addr)
	stalled.send(string(unhex("05 01 00  05 01")))
	silent := dialRaw(t, tp.addr)
	for _, rc := range []*rawClient{stalled, silent} {
		io.ReadAll(rc.br) // until frametap closes it
	}
	tp.waitClosed()
	evs := tp.stop()
	conns := byConn(evs)
	if errs := errorsOf(conns[1]); len(errs) != 1 || !strings.Contains(errs[0], "no complete handshake within 200ms (--header-timeout): the client stopped in its request after 5 bytes") {
		t.Errorf("stalled client: %q", errs)
	}
	if errs := errorsOf(conns[2]); len(errs) != 0 || len(conns[2]) != 2 {
		t.Errorf("silent client: %d events, errors %q; want open and close only", len(conns[2]), errs)
	}
}

// A destination frametap cannot reach, or may not dial, gets the reply
// code a SOCKS5 client shows its user, and an error event; a name that
// --allow-upstream refuses is never looked up.
func TestSOCKS5Unreachable(t *testing.T) {
	var d loopbackDialer
	tp := startTap(t, Config{Mode: SOCKS5, DialContext: d.DialContext, AllowUpstream: regexp.MustCompile(`127\.0\.0\.1:\d+`)})
	dead := refusedAddr(t)
	for _, tc := range []struct{ req, reply, err string }{
		{"05 01 00 01 7f000001" + portHex(dead), "05", "cannot reach upstream " + dead},
		{"05 01 00 03 0b 6578616d706c652e636f6d 0050", "02", "upstream example.com:80 is not allowed by --allow-upstream"},
	} {
		rc := dialRaw(t, tp.addr)
		rc.send(string(unhex("05 01 00  " + tc.req)))
		got, _ := io.ReadAll(rc.br)
		if hex.EncodeToString(got) != "0500"+"05"+tc.reply+"000100000000"+"0000" {
			t.Errorf("%s: replies % x, want REP %s", tc.err, got, tc.reply)
		}
	}
	tp.waitClosed()
	evs := tp.stop()
	conns := byConn(evs)
	for id, want := range map[uint64]string{1: "cannot reach upstream " + dead, 2: "example.com:80 is not allowed"} {
		errs := errorsOf(conns[id])
		if len(errs) != 1 || !strings.HasPrefix(errs[0], "server: ") || !strings.Contains(errs[0], want) {
			t.Errorf("conn %d: errors %q, want %q", id, errs, want)
		}
	}
	if got := d.addrs(); len(got) != 1 || got[0] != dead {
		t.Errorf("dialed %q, want only %s (no name looked up)", got, dead)
	}
}

func portHex(addr string) string {
	a, _ := net.ResolveTCPAddr("tcp", addr)
	return hex.EncodeToString([]byte{byte(a.Port >> 8), byte(a.Port)})
}

// A client that sends its request and its first bytes at once (without
// waiting for the replies) loses nothing: frametap reads the handshake
// exactly, and what follows is the tunnel's.
func TestSOCKS5Pipelined(t *testing.T) {
	us := startHTTP(t, hello)
	tp := startTap(t, Config{Mode: SOCKS5})
	rc := dialRaw(t, tp.addr)
	rc.send(string(unhex("05 01 00  05 01 00 01 7f000001"+portHex(us.addr))) + "GET /eager HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	reply := make([]byte, 12)
	if _, err := io.ReadFull(rc.br, reply); err != nil || reply[1] != 0 || reply[3] != 0 {
		t.Fatalf("replies % x, %v", reply, err)
	}
	if _, body := rc.response("GET"); body != "hello /eager " {
		t.Errorf("body %q", body)
	}
	rc.finish()
	tp.waitClosed()
	evs := tp.stop()
	if reqs := kinds(evs, 1, capture.KindRequest); len(reqs) != 1 || reqs[0].Target != "/eager" {
		t.Errorf("requests %+v", reqs)
	}
}

// One proxy serves several listeners, each in its mode, into one capture:
// connections are told apart by mode and listen, and numbered once.
func TestSeveralListeners(t *testing.T) {
	us := startHTTP(t, hello)
	path := t.TempDir() + "/capture.jsonl"
	lg, err := capture.NewFileLog(path, capture.JSON)
	if err != nil {
		t.Fatal(err)
	}
	p := New(Config{Outputs: []capture.Output{lg}})
	lns := map[string]net.Listener{}
	done := make(chan error, 3)
	for _, m := range []struct {
		name     string
		mode     Mode
		upstream string
	}{{"regular", Regular, ""}, {"socks5", SOCKS5, ""}, {"reverse", Reverse, us.addr}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns[m.name] = ln
		go func() { done <- p.ServeMode(ln, m.mode, m.upstream) }()
	}
	proxyURL := &url.URL{Scheme: "http", Host: lns["regular"].Addr().String()}
	regular := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), DisableKeepAlives: true}}
	for _, tc := range []struct {
		c   *http.Client
		url string
	}{
		{regular, "http://" + us.addr + "/r"},
		{socksHTTP(socksClient(t, lns["socks5"].Addr().String(), nil)), "http://" + us.addr + "/s"},
		{&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}, "http://" + lns["reverse"].Addr().String() + "/v"},
	} {
		if status, body := get(t, tc.c, tc.url); status != 200 || !strings.HasPrefix(body, "hello /") {
			t.Errorf("%s: %d %q", tc.url, status, body)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := <-done; err != ErrShutdown {
			t.Errorf("serve: %v", err)
		}
	}
	lg.Close()
	evs, err := capture.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	checkOrder(t, evs)
	var got []string
	for _, ev := range kinds(evs, 0, capture.KindOpen) {
		got = append(got, ev.Mode+"@"+ev.Listen)
	}
	want := []string{"regular@" + lns["regular"].Addr().String(), "socks5@" + lns["socks5"].Addr().String(), "reverse@" + lns["reverse"].Addr().String()}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("opens %q, want %q", got, want)
	}
	if reqs := kinds(evs, 0, capture.KindRequest); len(reqs) != 3 || reqs[0].Conn != 1 || reqs[1].Conn != 2 || reqs[2].Conn != 3 {
		t.Errorf("requests %+v", reqs)
	}
}

// A listener whose mode cannot be served fails at once, and the others
// go on.
func TestServeModeRefusesBadUpstream(t *testing.T) {
	p := New(Config{})
	defer p.Shutdown(context.Background())
	for _, tc := range []struct {
		mode     Mode
		upstream string
	}{{Reverse, "nohostport"}, {UpstreamProxy, "ftp://127.0.0.1:21"}, {UpstreamProxy, "http://127.0.0.1"}} {
		ln := listenLoopback(t)
		if err := p.ServeMode(ln, tc.mode, tc.upstream); err == nil || err == ErrShutdown {
			t.Errorf("%v %q: %v", tc.mode, tc.upstream, err)
		}
	}
}
