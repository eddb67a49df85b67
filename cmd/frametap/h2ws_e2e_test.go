package main

// WebSocket over HTTP/2 (RFC 8441) through the frametap binary (issue 9):
// Node's built-in http2 on both ends, nghttpx as the RFC 8441 front of a
// ws server, and Chromium loading an https page over h2 whose fetches and
// WebSocket share one connection.

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/proxy/certs"
)

// h2wsConn checks the RFC 8441 exchange of one connection: an extended
// CONNECT for websocket, its 200 written when its headers came (before the
// WebSocket's events), an upgrade on the same stream, and every WebSocket
// event on that stream. It returns the WebSocket's capture.
func h2wsConn(t *testing.T, conn []capture.Event) wsCapture {
	t.Helper()
	var stream uint32
	var gotReq, gotResp bool
	for _, ev := range conn {
		switch {
		case ev.Kind == capture.KindRequest && ev.Protocol == "websocket":
			if ev.Method != "CONNECT" || ev.Proto != "HTTP/2.0" || ev.Stream == 0 || ev.Stream%2 != 1 {
				t.Errorf("extended CONNECT %s %s stream %d", ev.Method, ev.Proto, ev.Stream)
			}
			stream, gotReq = ev.Stream, true
		case ev.Kind == capture.KindResponse && stream != 0 && ev.Stream == stream:
			if ev.Status != 200 || ev.Reset != "" {
				t.Errorf("answer to the extended CONNECT: %d reset %q", ev.Status, ev.Reset)
			}
			gotResp = true
		case ev.Kind == capture.KindUpgrade:
			if !gotResp || ev.Stream != stream || ev.Protocol != "websocket" || ev.AcceptOK {
				t.Errorf("upgrade %+v: want it on stream %d after its 200", ev, stream)
			}
		case ev.Kind == capture.KindFrame || ev.Kind == capture.KindMessage:
			if ev.Stream != stream {
				t.Errorf("%s on stream %d, the WebSocket is on %d", ev.Kind, ev.Stream, stream)
			}
		}
	}
	if !gotReq || !gotResp {
		t.Fatalf("no extended CONNECT with its 200 (request %v, response %v)", gotReq, gotResp)
	}
	return checkWSConn(t, conn, true)
}

// TestE2EH2WebSocket opens a WebSocket over an extended CONNECT stream
// with Node's http2 client, beside GET requests on the same connection,
// through frametap in reverse mode: to Node's http2 server, and to nghttpx
// fronting a ws server over HTTP/1.1. The capture's messages are what the
// peers logged sending and receiving, in order, per direction.
func TestE2EH2WebSocket(t *testing.T) {
	requireE2E(t)
	requirePeer(t, "node")
	env := []string{"NODE_PATH=" + peerNodePath}
	for _, front := range []string{"node", "nghttpx"} {
		t.Run(front, func(t *testing.T) {
			dir := t.TempDir()
			serverLog, clientLog := filepath.Join(dir, "server.jsonl"), filepath.Join(dir, "client.jsonl")
			var srv *peerServer
			var upstream string
			gets := 4
			switch front {
			case "node":
				srv = startPeerServer(t, env, "node", "../h2/h2ws_server.js", serverLog)
				upstream = "127.0.0.1:" + srv.port
			case "nghttpx":
				// nghttpx turns the extended CONNECT into an HTTP/1.1
				// upgrade to the ws server (RFC 8441 section 5).
				srv = startPeerServer(t, env, "node", "node_server.js", serverLog, "none")
				port := freePort(t)
				nx := startBackground(t, needTool(t, "nghttpx", "nghttp2-proxy"), "--conf=/dev/null", "--frontend=127.0.0.1,"+port+";no-tls",
					"--backend=127.0.0.1,"+srv.port, "--workers=1", "--errorlog-file=/dev/null")
				waitListening(t, "127.0.0.1:"+port, nx)
				upstream = "127.0.0.1:" + port
				gets = 0
			}
			tp := startTap(t, "reverse:http://"+upstream)
			runPeerClient(t, env, "node", "../h2/h2ws_client.js", "http://"+tp.addr+"/e2e", clientLog, fmt.Sprint(gets))
			srv.wait(t)
			conns := tp.conns(tp.stop())
			if len(conns) != 1 {
				t.Fatalf("%d connections, want 1", len(conns))
			}
			conn := conns[0]
			c := h2wsConn(t, conn)
			for _, ev := range c.errors {
				t.Errorf("error event from %q: %s", ev.From, ev.Msg)
			}
			client, server := readPeerLog(t, clientLog), readPeerLog(t, serverLog)
			cm, sm := c.messages["client"], c.messages["server"]
			sameMessages(t, "client→server data, capture vs client's log", asPeerMsgs(cm, false), pick(client, "sent", false), true)
			sameMessages(t, "server→client data, capture vs server's log", asPeerMsgs(sm, false), pick(server, "sent", false), true)
			sameMessages(t, "client→server data, server's log vs client's log", pick(server, "recv", false), pick(client, "sent", false), false)
			sameMessages(t, "client→server control, capture vs client's log", asPeerMsgs(cm, true), pick(client, "sent", true), true)
			sameMessages(t, "server→client control, capture vs client's log", asPeerMsgs(sm, true), pick(client, "recv", true), true)
			if n := len(pick(client, "sent", false)); n < 200 {
				t.Errorf("the client logged only %d data messages sent", n)
			}
			var got []string
			for _, ev := range kinds(conn, capture.KindResponse) {
				if ev.Stream != c.upgrade.Stream {
					got = append(got, string(ev.Body))
				}
			}
			slices.Sort(got)
			var want []string
			for i := 1; i <= gets; i++ {
				want = append(want, fmt.Sprintf("GET /get/%d", i))
			}
			if !slices.Equal(got, want) {
				t.Errorf("responses beside the WebSocket %q, want %q", got, want)
			}
			last := conn[len(conn)-1]
			if !last.H2 || last.H2Streams != gets+1 || gets > 0 && last.H2MaxOpen < 2 {
				t.Errorf("close: h2 %v, %d streams, up to %d at once; want %d streams", last.H2, last.H2Streams, last.H2MaxOpen, gets+1)
			}
			t.Logf("capture: client→server %s; server→client %s; %d streams, up to %d at once", summary(cm), summary(sm), last.H2Streams, last.H2MaxOpen)
		})
	}
}

// writeLeafPEM writes a certificate from ca for 127.0.0.1 and its key as
// PEM files, for a Node TLS server.
func writeLeafPEM(t *testing.T, ca *certs.CA, dir string) (keyPath, certPath string) {
	t.Helper()
	leaf, err := ca.Leaf("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	var chain []byte
	for _, der := range leaf.Certificate {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	key, err := x509.MarshalPKCS8PrivateKey(leaf.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	keyPath, certPath = filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, chain, 0o644); err != nil {
		t.Fatal(err)
	}
	return keyPath, certPath
}

// trustInNSS makes an NSS database under home that trusts frametap's CA,
// as Chromium reads it.
func trustInNSS(t *testing.T, home, caDir string) {
	t.Helper()
	certutil := needTool(t, "certutil", "libnss3-tools")
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
}

var resultsLine = regexp.MustCompile(`(?m)^RESULTS (.*)$`)

// TestE2EH2Browser loads an https page from Node's http2 server (h2 only,
// advertising SETTINGS_ENABLE_CONNECT_PROTOCOL) in headless Chromium
// through frametap: the page's parallel fetches and its WebSocket ride one
// HTTP/2 connection (RFC 8441), which the capture shows as the page
// logged it.
func TestE2EH2Browser(t *testing.T) {
	requireE2E(t)
	chromium := needTool(t, "chromium", "chromium")
	dir := t.TempDir()
	upCA, err := certs.LoadOrCreate(filepath.Join(dir, "upstream-ca"))
	if err != nil {
		t.Fatal(err)
	}
	keyPath, certPath := writeLeafPEM(t, upCA, dir)
	srv := startPeerServer(t, nil, "node", "../h2/page_server.js", keyPath, certPath)
	addr := "127.0.0.1:" + srv.port
	caDir := filepath.Join(dir, "frametap-ca")
	tp := startTapArgs(t, "--ca-dir", caDir, "--upstream-ca", upCA.CertPath, "--allow-upstream", `^127\.0\.0\.1:\d+$`)
	home := t.TempDir()
	trustInNSS(t, home, caDir)

	results := make(chan pageResults, 1)
	go func() {
		deadline := time.Now().Add(55 * time.Second)
		for time.Now().Before(deadline) {
			if m := resultsLine.FindStringSubmatch(srv.out.String()); m != nil {
				var res pageResults
				if err := json.Unmarshal([]byte(m[1]), &res); err != nil {
					res.Error = "bad results: " + err.Error()
				}
				results <- res
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	res := runChromium(t, chromium, home, tp.addr, "https://"+addr+"/", results)
	evs := tp.stop()
	dump := func() string {
		var b []byte
		for _, ev := range evs {
			b = ev.AppendText(b)
		}
		return string(b)
	}
	if res.Error != "" || len(res.Fetches) != 12 || res.Close == nil || res.Close.Code != 4001 || res.Close.Reason != "done" {
		t.Fatalf("the page reported %+v\nserver:\n%s", res, srv.out.String())
	}
	var conn []capture.Event
	for _, c := range tp.conns(evs) {
		if slices.ContainsFunc(c, func(ev capture.Event) bool { return ev.Kind == capture.KindUpgrade }) {
			conn = c
		}
	}
	if conn == nil {
		t.Fatalf("no WebSocket in the capture:\n%s", dump())
	}
	var fetches []string
	var alpn []string
	for _, ev := range conn {
		switch {
		case ev.Kind == capture.KindTLS:
			alpn = append(alpn, ev.Side+"="+ev.ALPN)
		case ev.Kind == capture.KindResponse && ev.Stream != 0 && strings.HasPrefix(string(ev.Body), "answer "):
			fetches = append(fetches, string(ev.Body))
		case ev.Kind == capture.KindError:
			t.Errorf("error event: %s", ev.Msg)
		}
	}
	if strings.Join(alpn, ",") != "server=h2,client=h2" {
		t.Errorf("tls events %v, want h2 both sides", alpn)
	}
	slices.Sort(fetches)
	want := slices.Clone(res.Fetches)
	slices.Sort(want)
	if !slices.Equal(fetches, want) {
		t.Errorf("the connection of the WebSocket carried the fetches %q, the page got %q", fetches, want)
	}
	c := h2wsConn(t, conn)
	var got []string
	for _, from := range []string{"client", "server"} {
		for _, ev := range c.messages[from] {
			switch ev.Op {
			case "text":
				got = append(got, ev.From+" text:"+string(ev.Payload))
			case "binary":
				got = append(got, ev.From+" binary:"+hex.EncodeToString(ev.Payload))
			case "close":
				got = append(got, fmt.Sprintf("%s close:%d %s", ev.From, ev.Code, ev.Reason))
			}
		}
	}
	var wantMsgs []string
	for _, m := range res.Sent {
		wantMsgs = append(wantMsgs, "client "+m)
	}
	wantMsgs = append(wantMsgs, "client close:4001 done")
	for _, m := range res.Recv {
		wantMsgs = append(wantMsgs, "server "+m)
	}
	wantMsgs = append(wantMsgs, "server close:4001 done")
	if !slices.Equal(got, wantMsgs) {
		t.Errorf("WebSocket messages in the capture:\n%s\nwant (as the page logged them):\n%s", strings.Join(got, "\n"), strings.Join(wantMsgs, "\n"))
	}
	last := conn[len(conn)-1]
	t.Logf("one connection: %d streams, up to %d at once", last.H2Streams, last.H2MaxOpen)
	if !last.H2 || last.H2Streams < 14 {
		t.Errorf("close: h2 %v, %d streams; want the page, 12 fetches, the WebSocket and the results", last.H2, last.H2Streams)
	}
	if t.Failed() {
		t.Logf("capture:\n%s", dump())
	}
}
