package main

// Issue 11 end to end: the captures the peer and browser suites make are
// exported to HAR, validated with har-validator (npm, the validator HTTP
// Toolkit runs on import) and checked entry by entry and message by
// message against the capture; the pcapng file every tap writes (--pcap)
// is read by tshark and must show the same HTTP requests per TCP stream
// and the same WebSocket frames; for intercepted TLS the --keylog file
// must decrypt tshark's own capture of the proxy→server leg; and a HAR
// that Chromium's own DevTools wrote is read by frametap view.
//
// Needs, under FRAMETAP_E2E=1: tshark (Debian), node with
// testdata/har/node_modules (npm ci --prefix cmd/frametap/testdata/har),
// chromium. .ci/run installs them.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws/wsutil"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/capture/har"
)

// harDir is the npm folder of har-validator.
func harDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("testdata", "har"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// validateHAR runs har-validator on the HAR files.
func validateHAR(t *testing.T, files ...string) {
	t.Helper()
	dir := harDir(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "har-validator")); err != nil {
		t.Fatalf("har-validator is not installed: npm ci --prefix cmd/frametap/testdata/har (%v)", err)
	}
	cmd := exec.Command("node", append([]string{filepath.Join(dir, "validate.js")}, files...)...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("har-validator: %v\n%s", err, out)
	}
}

// exportHAR runs frametap export --har on tp's capture, validates the HAR
// with har-validator and returns it.
func exportHAR(t *testing.T, tp *tapProcess) *har.HAR {
	t.Helper()
	out := filepath.Join(filepath.Dir(tp.capPath), "capture.har")
	cmd := exec.Command(e2eBinary, "export", "--har", out, tp.capPath)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=10")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("frametap export: %v\n%s", err, b)
	}
	validateHAR(t, out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var h har.HAR
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	return &h
}

// harText is what a HAR holds of a body or payload: the text when it is
// UTF-8, else its base64.
func harText(p []byte) (text string, b64 bool) {
	if utf8.Valid(p) {
		return string(p), false
	}
	return base64.StdEncoding.EncodeToString(p), true
}

// checkExport exports tp's capture to HAR and checks it against the
// capture: an entry per request but CONNECTs, found by _connectionId and
// _seq; method, URL, bodies and status as captured; and every WebSocket
// message, in order, with its frames, compression and lengths.
func checkExport(t *testing.T, tp *tapProcess, evs []capture.Event) {
	t.Helper()
	h := exportHAR(t, tp)
	type key struct {
		conn string
		seq  int
	}
	entries := map[key]*har.Entry{}
	for i := range h.Log.Entries {
		e := &h.Log.Entries[i]
		k := key{e.ConnectionID, e.Seq}
		if entries[k] != nil {
			t.Errorf("two entries for connection %s seq %d", k.conn, k.seq)
		}
		entries[k] = e
	}
	want, messages := 0, 0
	for _, conn := range tp.conns(evs) {
		id := strconv.FormatUint(conn[0].Conn, 10)
		final := map[int]*capture.Event{}
		var upSeq int
		var msgs []capture.Event
		var closeEv *capture.Event
		for i := range conn {
			switch ev := &conn[i]; ev.Kind {
			case capture.KindResponse:
				if final[ev.Seq] == nil && (ev.Status >= 200 || ev.Status == 101) {
					final[ev.Seq] = ev
				}
			case capture.KindUpgrade:
				upSeq = ev.Seq
			case capture.KindMessage:
				msgs = append(msgs, *ev)
			case capture.KindClose:
				closeEv = ev
			}
		}
		for _, req := range conn {
			if req.Kind != capture.KindRequest || req.Method == "CONNECT" {
				continue
			}
			want++
			e := entries[key{id, req.Seq}]
			if e == nil {
				t.Errorf("no HAR entry for connection %s seq %d (%s %s)", id, req.Seq, req.Method, req.Target)
				continue
			}
			path := req.Target
			if i := strings.Index(path, "://"); i >= 0 {
				path = path[i+3:]
				path = path[strings.IndexByte(path, '/'):]
			}
			if e.Request.Method != req.Method || !strings.HasSuffix(e.Request.URL, path) || e.Request.HTTPVersion != req.Proto {
				t.Errorf("entry %s/%d: %s %s %s, captured %s %s %s", id, req.Seq, e.Request.Method, e.Request.URL, e.Request.HTTPVersion, req.Method, req.Target, req.Proto)
			}
			if len(req.Body) > 0 {
				text, b64 := harText(req.Body)
				got := ""
				switch {
				case !b64 && e.Request.PostData != nil:
					got = e.Request.PostData.Text
				case b64 && e.Request.Content != nil:
					got = e.Request.Content.Text
				}
				if got != text {
					t.Errorf("entry %s/%d: request body %q, captured %q", id, req.Seq, got, text)
				}
			}
			resp := final[req.Seq]
			switch {
			case resp == nil:
				if e.Response.Status != 0 {
					t.Errorf("entry %s/%d: status %d, but the capture has no response", id, req.Seq, e.Response.Status)
				}
			default:
				text, b64 := harText(resp.Body)
				if e.Response.Status != resp.Status || e.Response.Content.Text != text || (e.Response.Content.Encoding == "base64") != (b64 && len(resp.Body) > 0) ||
					e.Response.BodySize != resp.BodyLen {
					t.Errorf("entry %s/%d: response %d %q (%s), captured %d %q", id, req.Seq, e.Response.Status, preview([]byte(e.Response.Content.Text)), e.Response.Content.Encoding, resp.Status, preview(resp.Body))
				}
			}
			if req.Seq != upSeq {
				continue
			}
			if e.ResourceType != "websocket" || e.WebSocketMessages == nil {
				t.Errorf("entry %s/%d: _resourceType %q, messages %v, want a WebSocket", id, req.Seq, e.ResourceType, e.WebSocketMessages)
				continue
			}
			got := *e.WebSocketMessages
			if len(got) != len(msgs) {
				t.Errorf("entry %s/%d: %d messages, captured %d", id, req.Seq, len(got), len(msgs))
			}
			for i := range min(len(got), len(msgs)) {
				g, m := got[i], msgs[i]
				data, b64 := harText(m.Payload)
				if m.Op == "close" {
					data = base64.StdEncoding.EncodeToString(append([]byte{byte(m.Code >> 8), byte(m.Code)}, m.Reason...))
				} else if m.Op != "text" || b64 {
					data = base64.StdEncoding.EncodeToString(m.Payload)
				}
				typ := map[string]string{"client": "send", "server": "receive"}[m.From]
				if g.Type != typ || g.Opcode != map[string]int{"text": 1, "binary": 2, "close": 8, "ping": 9, "pong": 10}[m.Op] || g.Data != data ||
					g.Frames != m.Frames || g.Compressed != m.Compressed || g.WireLength != m.WireLen || g.Length != m.Len ||
					g.Time != float64(m.Time.UnixMicro())/1e6 {
					t.Errorf("entry %s/%d message %d: %+v, captured %s %s %s (%d frames, compressed %v, wire %d, len %d)",
						id, req.Seq, i, g, m.From, m.Op, preview(m.Payload), m.Frames, m.Compressed, m.WireLen, m.Len)
					break
				}
			}
			messages += len(got)
			if c := e.WebSocketClose; closeEv != nil && closeEv.WSClosedBy != "" && (c == nil || c.By != closeEv.WSClosedBy || c.Clean != closeEv.WSCloseClean) {
				t.Errorf("entry %s/%d: _webSocketClose %+v, captured closed by %q clean %v", id, req.Seq, c, closeEv.WSClosedBy, closeEv.WSCloseClean)
			}
		}
	}
	if len(h.Log.Entries) != want {
		t.Errorf("%d HAR entries, the capture has %d requests but CONNECTs", len(h.Log.Entries), want)
	}
	t.Logf("HAR: %d entries, %d WebSocket messages checked against the capture; har-validator passed", want, messages)
}

// chromiumHAR is the HAR fixture Chromium 156's own DevTools wrote,
// committed; TestE2EChromiumHAR writes it anew with
// FRAMETAP_UPDATE_CHROMIUM_HAR=1.
const chromiumHAR = "testdata/har/chromium156.har"

// checkChromiumHARView runs frametap view --headless on a HAR Chromium
// wrote of the browser page (testdata/browser/page.html, over http) and
// requires the page's exchanges and WebSocket messages in the lines.
func checkChromiumHARView(t *testing.T, path string, out string) {
	t.Helper()
	for _, want := range []string{
		"written by WebInspector", "(grouped by _connectionId",
		"request  #1 GET / HTTP/1.1", "response #1 200 OK",
		"GET /api/1 HTTP/1.1", "GET /api/2 HTTP/1.1", "GET /api/3 HTTP/1.1",
		"upgrade  #1 websocket", "accept=ok",
		`←server text 7B 0 frames "welcome"`, `client→ text 25B 0 frames "hello from the page é€"`,
		"client→ binary 6B 0 frames hex:010203fa00ff", `←server text 8B 0 frames "bye soon"`,
		"←server binary 6B 0 frames hex:ff00fa030201",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("frametap view --headless %s lacks %q:\n%s", path, want, out)
		}
	}
}

// TestChromiumHARFixture reads the committed HAR Chromium 156 wrote.
func TestChromiumHARFixture(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run([]string{"view", "--headless", chromiumHAR}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	checkChromiumHARView(t, chromiumHAR, stdout.String())
}

// TestE2EChromiumHAR has Chromium's own DevTools write a HAR of the
// browser page: headless Chromium serves its bundled DevTools frontend on
// its debugging port; the test opens it on a second tab, inspecting the
// first, loads the page in the first, and has the frontend's HAR writer
// (models/har: Writer.harStringForRequests, what "Export HAR (with
// content)" runs) export what its network log recorded. The HAR is read
// back by the frametap binary's view --headless.
func TestE2EChromiumHAR(t *testing.T) {
	requireE2E(t)
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found: apt-get install -y chromium")
	}
	srv := startPageServer(t, nil, false)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(home, "profile"),
		"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
		"--remote-debugging-port="+port, "--remote-allow-origins=http://127.0.0.1:"+port, "about:blank")
	cmd.Env = append(os.Environ(), "HOME="+home)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
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
	target := func(url string) string {
		res, err := cdp.call("Target.createTarget", map[string]any{"url": url})
		if err != nil {
			t.Fatalf("Target.createTarget %s: %v", url, err)
		}
		var r struct{ TargetID string }
		json.Unmarshal(res, &r)
		return r.TargetID
	}
	attach := func(id string) string {
		res, err := cdp.call("Target.attachToTarget", map[string]any{"targetId": id, "flatten": true})
		if err != nil {
			t.Fatalf("Target.attachToTarget: %v", err)
		}
		var r struct{ SessionID string }
		json.Unmarshal(res, &r)
		return r.SessionID
	}
	page := target("about:blank")
	frontend := attach(target("http://127.0.0.1:" + port + "/devtools/devtools_app.html?ws=127.0.0.1:" + port + "/devtools/page/" + page))
	eval := func(expr string) (json.RawMessage, error) {
		res, err := cdp.callSession(frontend, "Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true})
		if err != nil {
			return nil, err
		}
		var r struct {
			Result struct {
				Value json.RawMessage
			}
			ExceptionDetails json.RawMessage
		}
		json.Unmarshal(res, &r)
		if r.ExceptionDetails != nil {
			return nil, fmt.Errorf("exception: %s", r.ExceptionDetails)
		}
		return r.Result.Value, nil
	}
	// The frontend connects to the page's target: its network log records
	// from then on.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		v, _ := eval(`(async () => { try { const SDK = await import('./core/sdk/sdk.js'); return SDK.TargetManager.TargetManager.instance().targets().length } catch (e) { return -1 } })()`)
		if n, _ := strconv.Atoi(string(v)); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the DevTools frontend did not attach to the page")
		}
	}
	if _, err := cdp.callSession(attach(page), "Page.navigate", map[string]any{"url": "http://" + srv.addr + "/"}); err != nil {
		t.Fatalf("Page.navigate: %v", err)
	}
	select {
	case res := <-srv.results:
		if res.Error != "" || len(res.Recv) != 4 {
			t.Fatalf("the page reported %+v", res)
		}
	case <-time.After(45 * time.Second):
		t.Fatal("the page posted no results within 45 s")
	}
	time.Sleep(500 * time.Millisecond) // the /results response reaches the log
	v, err := eval(`(async () => {
		const Logs = await import('./models/logs/logs.js');
		const HAR = await import('./models/har/har.js');
		const requests = Logs.NetworkLog.NetworkLog.instance().requests();
		const progress = {createSubProgress() { return {} }};
		return await HAR.Writer.Writer.harStringForRequests(requests, {sanitize: false}, progress);
	})()`)
	if err != nil {
		t.Fatalf("DevTools' HAR writer: %v", err)
	}
	var text string
	if err := json.Unmarshal(v, &text); err != nil || !strings.Contains(text, `"_webSocketMessages"`) {
		t.Fatalf("DevTools' HAR writer returned %.300s (%v)", v, err)
	}
	cdp.call("Browser.close", nil) // Chromium's processes end before its profile is removed
	path := filepath.Join(t.TempDir(), "chromium.har")
	if os.Getenv("FRAMETAP_UPDATE_CHROMIUM_HAR") == "1" {
		path = chromiumHAR
	}
	if err := os.WriteFile(path, []byte(text+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(e2eBinary, "view", "--headless", path).CombinedOutput()
	if err != nil {
		t.Fatalf("frametap view --headless: %v\n%s", err, out)
	}
	checkChromiumHARView(t, path, string(out))
}

// callSession is call on a session of a target attached with flatten.
func (c *cdpClient) callSession(session, method string, params any) (json.RawMessage, error) {
	c.id++
	req, _ := json.Marshal(map[string]any{"id": c.id, "method": method, "params": params, "sessionId": session})
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
			continue
		}
		if resp.Error != nil {
			return nil, fmt.Errorf("%s: %s", method, resp.Error.Message)
		}
		return resp.Result, nil
	}
}
