package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/tls"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/proxy/certs"
)

//go:embed testdata/browser/page.html
var browserPage string

// pageResults is what the page posts to /results.
type pageResults struct {
	Fetches []string `json:"fetches"`
	Sent    []string `json:"sent"`
	Recv    []string `json:"recv"`
	Close   *struct {
		Code   int    `json:"code"`
		Reason string `json:"reason"`
	} `json:"close"`
	Error string `json:"error"`
}

// TestBrowserE2E loads a page in headless Chromium through frametap, over
// https/wss (frametap's CA trusted in an NSS database, the server's CA
// trusted by frametap with --upstream-ca) and over http/ws, and checks the
// capture against what the page logged.
func TestBrowserE2E(t *testing.T) {
	if os.Getenv("FRAMETAP_E2E") != "1" {
		t.Skip("set FRAMETAP_E2E=1 (needs chromium and certutil: apt-get install -y chromium libnss3-tools)")
	}
	if e2eBuildErr != nil {
		t.Fatal(e2eBuildErr)
	}
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found: apt-get install -y chromium")
	}
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		t.Fatal("certutil not found: apt-get install -y libnss3-tools")
	}
	dir := t.TempDir()
	upCA, err := certs.LoadOrCreate(filepath.Join(dir, "upstream-ca"))
	if err != nil {
		t.Fatal(err)
	}
	caDir := filepath.Join(dir, "frametap-ca")

	for _, tc := range []struct{ name, scheme string }{{"https", "https"}, {"http", "http"}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startPageServer(t, upCA, tc.scheme == "https")
			// Chromium sends CONNECTs for Google hosts through the proxy
			// whatever its flags say; --allow-upstream keeps frametap from
			// looking those names up or dialing them: loopback only.
			keylog := filepath.Join(t.TempDir(), "keylog.txt")
			tp := startTapArgs(t, "--ca-dir", caDir, "--upstream-ca", upCA.CertPath, "--allow-upstream", `^127\.0\.0\.1:\d+$`, "--keylog", keylog)
			home := t.TempDir()
			nssdb := "sql:" + filepath.Join(home, ".pki", "nssdb")
			os.MkdirAll(filepath.Join(home, ".pki", "nssdb"), 0o700)
			for _, args := range [][]string{
				{"-d", nssdb, "-N", "--empty-password"},
				{"-d", nssdb, "-A", "-t", "C,,", "-n", "frametap", "-i", filepath.Join(caDir, certs.CertFile)},
			} {
				cmd := exec.Command(certutil, args...)
				cmd.Env = append(os.Environ(), "HOME="+home)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("certutil %q: %v\n%s", args, err, out)
				}
			}
			url := tc.scheme + "://" + srv.addr + "/"
			// Issue 11: tshark captures the proxy→server leg, for the
			// --keylog check (har_e2e_test.go).
			_, srvPort, _ := net.SplitHostPort(srv.addr)
			leg := captureLeg(t, srvPort)
			res := runChromium(t, chromium, home, tp.addr, url, srv.results)
			evs := tp.stop()
			legFile := leg.stop(t)
			checkBrowserCapture(t, tp, evs, res, srv.addr, tc.scheme == "https")
			checkExport(t, tp, evs)
			checkPcap(t, tp, evs)
			if tc.scheme == "https" {
				checkKeyLog(t, legFile, keylog, evs)
			}
		})
	}
}

// startTapArgs runs the frametap binary in regular mode with extra flags,
// as startTap does.
func startTapArgs(t *testing.T, extra ...string) *tapProcess {
	t.Helper()
	capPath := filepath.Join(t.TempDir(), "capture.jsonl")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	tp := &tapProcess{t: t, addr: addr, capPath: capPath, pcap: filepath.Join(filepath.Dir(capPath), "relay.pcapng"), done: make(chan error, 1)}
	tp.cmd = exec.Command(e2eBinary, append([]string{"--headless", "-w", capPath, "--pcap", tp.pcap, "--listen", addr}, extra...)...)
	tp.cmd.Stdout, tp.cmd.Stderr = &tp.out, &tp.out
	tp.cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=10")
	if err := tp.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { tp.done <- tp.cmd.Wait() }()
	t.Cleanup(tp.kill)
	if !tp.waitReady() {
		t.Fatalf("frametap did not start on %s:\n%s", addr, tp.out.String())
	}
	return tp
}

type pageServer struct {
	addr    string
	results chan pageResults
}

// startPageServer serves the page, /api/N, /ws and /results on loopback,
// with TLS (a certificate from ca for 127.0.0.1) when tlsOn.
func startPageServer(t *testing.T, ca *certs.CA, tlsOn bool) *pageServer {
	t.Helper()
	ps := &pageServer{results: make(chan pageResults, 1)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, browserPage)
	})
	mux.HandleFunc("GET /api/{n}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "answer "+r.PathValue("n"))
	})
	mux.HandleFunc("GET /ws", serveBrowserWS)
	mux.HandleFunc("POST /results", func(w http.ResponseWriter, r *http.Request) {
		var res pageResults
		if err := json.NewDecoder(r.Body).Decode(&res); err != nil {
			res.Error = "bad results: " + err.Error()
		}
		select {
		case ps.results <- res:
		default:
		}
		w.WriteHeader(204)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ps.addr = ln.Addr().String()
	srv := &http.Server{Handler: mux}
	if tlsOn {
		// HTTP/1.1 only: this test is keep-alive and WebSocket over
		// HTTP/1.1 (TestE2EH2Browser is HTTP/2). Chromium offers h2 and
		// http/1.1; frametap mirrors the server's choice, http/1.1.
		srv.TLSConfig = &tls.Config{NextProtos: []string{"http/1.1"}, GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			return ca.Leaf("127.0.0.1")
		}}
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		go srv.ServeTLS(ln, "", "")
	} else {
		go srv.Serve(ln)
	}
	t.Cleanup(func() { srv.Close() })
	return ps
}

// serveBrowserWS pushes a welcome, answers the page's text and binary
// messages, pushes once more, and echoes the close. It accepts
// permessage-deflate without context takeover, so that Chromium compresses
// what it sends; it sends uncompressed.
func serveBrowserWS(w http.ResponseWriter, r *http.Request) {
	u := ws.HTTPUpgrader{}
	if strings.Contains(r.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
		u.Header = http.Header{"Sec-WebSocket-Extensions": {"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}}
	}
	conn, rw, _, err := u.Upgrade(r, w)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	send := func(op ws.OpCode, p []byte) { ws.WriteFrame(conn, ws.NewFrame(op, true, p)) }
	send(ws.OpText, []byte("welcome"))
	var msg []byte
	var msgOp ws.OpCode
	compressed := false
	for {
		h, err := ws.ReadHeader(rw.Reader)
		if err != nil || h.Length > 1<<20 {
			return
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(rw.Reader, p); err != nil {
			return
		}
		ws.Cipher(p, h.Mask, 0)
		switch h.OpCode {
		case ws.OpClose:
			send(ws.OpClose, p)
			return
		case ws.OpPing:
			send(ws.OpPong, p)
			continue
		case ws.OpText, ws.OpBinary:
			msgOp, msg, compressed = h.OpCode, nil, h.Rsv1()
		}
		msg = append(msg, p...)
		if !h.Fin {
			continue
		}
		if compressed {
			fr := flate.NewReader(io.MultiReader(bytes.NewReader(msg), bytes.NewReader([]byte{0, 0, 0xff, 0xff})))
			msg, _ = io.ReadAll(io.LimitReader(fr, 1<<20))
		}
		if msgOp == ws.OpText {
			send(ws.OpText, append([]byte("echo:"), msg...))
			continue
		}
		rev := make([]byte, len(msg))
		for i, b := range msg {
			rev[len(msg)-1-i] = b
		}
		send(ws.OpBinary, rev)
		send(ws.OpText, []byte("bye soon"))
	}
}

var devtoolsRE = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// runChromium starts headless Chromium through the proxy, opens url over
// the DevTools protocol and returns what the page posted to /results.
func runChromium(t *testing.T, chromium, home, proxyAddr, url string, results chan pageResults) pageResults {
	t.Helper()
	return runChromiumProxy(t, chromium, home, "http://"+proxyAddr, url, results)
}

// runChromiumProxy is runChromium with the proxy as Chromium's
// --proxy-server takes it: http://host:port, socks5://host:port.
func runChromiumProxy(t *testing.T, chromium, home, proxyServer, url string, results chan pageResults) pageResults {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(home, "chromium-profile"),
		"--proxy-server="+proxyServer, "--proxy-bypass-list=<-loopback>",
		"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
		"--remote-debugging-port=0", "about:blank")
	cmd.Env = append(os.Environ(), "HOME="+home)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var log bytes.Buffer
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := devtoolsRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	var wsURL string
	select {
	case wsURL = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("chromium printed no DevTools address")
	}
	cdp, err := dialCDP(ctx, wsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer cdp.conn.Close()
	if _, err := cdp.call("Target.createTarget", map[string]any{"url": url}); err != nil {
		t.Fatalf("Target.createTarget: %v", err)
	}
	select {
	case res := <-results:
		cdp.call("Browser.close", nil)
		return res
	case <-time.After(45 * time.Second):
		t.Fatalf("the page posted no results within 45 s")
	}
	return pageResults{}
}

// cdpClient is a minimal Chrome DevTools Protocol client: one call at a
// time, events ignored.
type cdpClient struct {
	conn net.Conn
	id   int
}

func dialCDP(ctx context.Context, url string) (*cdpClient, error) {
	conn, _, _, err := ws.Dial(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("DevTools WebSocket: %w", err)
	}
	return &cdpClient{conn: conn}, nil
}

func (c *cdpClient) call(method string, params any) (json.RawMessage, error) {
	c.id++
	req, _ := json.Marshal(map[string]any{"id": c.id, "method": method, "params": params})
	c.conn.SetDeadline(time.Now().Add(20 * time.Second))
	if err := wsutil.WriteClientText(c.conn, req); err != nil {
		return nil, err
	}
	for {
		b, err := wsutil.ReadServerText(c.conn)
		if err != nil {
			return nil, err
		}
		var resp struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(b, &resp) != nil || resp.ID != c.id {
			continue // an event
		}
		if resp.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, resp.Error.Message)
		}
		return resp.Result, nil
	}
}

// checkBrowserCapture compares the capture with what the page logged.
func checkBrowserCapture(t *testing.T, tp *tapProcess, evs []capture.Event, res pageResults, srvAddr string, tlsOn bool) {
	t.Helper()
	dump := func() string {
		var b []byte
		for _, ev := range evs {
			b = ev.AppendText(b)
		}
		return string(b)
	}
	if res.Error != "" || len(res.Fetches) != 3 || res.Close == nil || res.Close.Code != 4001 || res.Close.Reason != "done" {
		t.Fatalf("the page reported %+v", res)
	}
	for i, f := range res.Fetches {
		if want := fmt.Sprintf("answer %d", i+1); f != want {
			t.Errorf("fetch %d: %q, want %q", i+1, f, want)
		}
	}
	conns := tp.conns(evs)
	var apiConn, wsConn []capture.Event
	for _, c := range conns {
		for _, ev := range c {
			if ev.Kind == capture.KindRequest && strings.HasSuffix(ev.Target, "/api/1") {
				apiConn = c
			}
			if ev.Kind == capture.KindUpgrade {
				wsConn = c
			}
		}
	}
	if apiConn == nil || wsConn == nil {
		t.Fatalf("no connection with the fetches or the WebSocket:\n%s", dump())
	}

	// The fetches: one connection, consecutive seq after the CONNECT's 1
	// (https) or after the page's own request (http, absolute-form).
	var seqs []int
	var connect *capture.Event
	for i, ev := range apiConn {
		if ev.Kind != capture.KindRequest {
			continue
		}
		if ev.Method == "CONNECT" {
			connect = &apiConn[i]
			continue
		}
		if strings.Contains(ev.Target, "/api/") {
			seqs = append(seqs, ev.Seq)
			if tlsOn && (ev.Scheme != "https" || ev.Target != "/api/"+fmt.Sprint(len(seqs))) {
				t.Errorf("https fetch %+v", ev)
			}
			if !tlsOn && ev.Target != "http://"+srvAddr+"/api/"+fmt.Sprint(len(seqs)) {
				t.Errorf("http fetch target %q, want absolute-form", ev.Target)
			}
		}
	}
	if len(seqs) != 3 || seqs[1] != seqs[0]+1 || seqs[2] != seqs[1]+1 || seqs[0] < 2 {
		t.Errorf("fetch seqs %v, want three consecutive after 1 on one connection", seqs)
	}
	checkTLS := func(c []capture.Event, what string) {
		t.Helper()
		if c[1].Kind != capture.KindRequest || c[1].Method != "CONNECT" || c[1].Seq != 1 || c[1].Target != srvAddr {
			t.Errorf("%s connection does not start with CONNECT %s: %+v", what, srvAddr, c[1])
		}
		var sides []string
		for _, ev := range c {
			if ev.Kind == capture.KindTLS {
				sides = append(sides, ev.Side)
				if ev.Side == "server" && !ev.Verified {
					t.Errorf("%s: upstream certificate not verified: %+v", what, ev)
				}
				if ev.Side == "client" && ev.ALPN != "http/1.1" {
					t.Errorf("%s: client ALPN %q, want http/1.1", what, ev.ALPN)
				}
			}
		}
		if strings.Join(sides, ",") != "server,client" {
			t.Errorf("%s: tls events %v, want server,client", what, sides)
		}
	}
	if tlsOn {
		if connect == nil {
			t.Fatalf("fetch connection has no CONNECT:\n%s", dump())
		}
		checkTLS(apiConn, "fetch")
		checkTLS(wsConn, "WebSocket")
	} else if connect != nil {
		t.Errorf("http fetches went through a CONNECT, want absolute-form")
	}

	// The WebSocket: upgrade, then every message both ways as logged.
	var got []string
	for _, ev := range wsConn {
		switch ev.Kind {
		case capture.KindUpgrade:
			if !ev.AcceptOK || (tlsOn && ev.Scheme != "wss") || (!tlsOn && ev.Scheme != "") {
				t.Errorf("upgrade %+v", ev)
			}
			if !strings.Contains(ev.Extensions, "permessage-deflate") {
				t.Errorf("upgrade extensions %q, want permessage-deflate", ev.Extensions)
			}
		case capture.KindMessage:
			switch ev.Op {
			case "text":
				got = append(got, ev.From+" text:"+string(ev.Payload))
			case "binary":
				got = append(got, ev.From+" binary:"+hex.EncodeToString(ev.Payload))
			case "close":
				got = append(got, fmt.Sprintf("%s close:%d %s", ev.From, ev.Code, ev.Reason))
			}
		case capture.KindError:
			t.Errorf("error event on the WebSocket connection: %s", ev.Msg)
		}
	}
	// Each direction in order; how the two interleave depends on timing.
	var want []string
	for _, m := range res.Sent {
		want = append(want, "client "+m)
	}
	want = append(want, "client close:4001 done")
	for _, m := range res.Recv {
		want = append(want, "server "+m)
	}
	want = append(want, "server close:4001 done")
	var byDir []string
	for _, dir := range []string{"client ", "server "} {
		for _, m := range got {
			if strings.HasPrefix(m, dir) {
				byDir = append(byDir, m)
			}
		}
	}
	if strings.Join(byDir, "\n") != strings.Join(want, "\n") {
		t.Errorf("WebSocket messages in the capture:\n%s\nwant (as the page logged them):\n%s", strings.Join(byDir, "\n"), strings.Join(want, "\n"))
	}
	if res.Recv[0] != "text:welcome" || res.Recv[1] != "text:echo:"+strings.TrimPrefix(res.Sent[0], "text:") ||
		res.Recv[2] != "binary:ff00fa030201" || res.Recv[3] != "text:bye soon" {
		t.Errorf("the page received %q", res.Recv)
	}
	if t.Failed() {
		t.Logf("capture:\n%s", dump())
	}
}
