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
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
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

// tsharkPackets runs tshark on file with a display filter and returns its
// packets as JSON trees (duplicate keys merged into arrays).
func tsharkPackets(t *testing.T, file, filter string, opts ...string) []map[string]any {
	t.Helper()
	args := append([]string{"-r", file, "-Y", filter, "-T", "json", "--no-duplicate-keys"}, opts...)
	cmd := exec.Command("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, stderr.String())
	}
	var pkts []struct {
		Source struct {
			Layers map[string]any `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &pkts); err != nil {
		t.Fatalf("tshark's JSON: %v", err)
	}
	var layers []map[string]any
	for _, p := range pkts {
		layers = append(layers, p.Source.Layers)
	}
	return layers
}

// find returns every value of key in a JSON tree, in document order.
func find(v any, key string) []any {
	var out []any
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		// encoding/json loses the object's order; tshark writes a layer's
		// fields in a fixed order that sorting keeps well enough for the
		// fields looked up here, which are one per object.
		slices.Sort(keys)
		for _, k := range keys {
			if k == key {
				switch y := x[k].(type) {
				case []any:
					out = append(out, y...)
				default:
					out = append(out, y)
				}
				continue
			}
			out = append(out, find(x[k], key)...)
		}
	case []any:
		for _, y := range x {
			out = append(out, find(y, key)...)
		}
	}
	return out
}

// str returns the single value of key in v as a string, "" when none.
func str(v any, key string) string {
	if vs := find(v, key); len(vs) > 0 {
		if s, ok := vs[0].(string); ok {
			return s
		}
	}
	return ""
}

// asList returns v as a list: itself when it is one, else one element.
func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// checkPcap reads tp's --pcap file with tshark and requires, for each
// connection of the capture (found by the client's port): the same HTTP
// requests in order, numbered 1, 2, ... per TCP stream (keep-alive, as
// http.request_number counts them), and, for a WebSocket, the same frames
// each way (opcode, FIN, mask, payload length) and the same text and
// close messages (Wireshark inflates permessage-deflate itself).
func checkPcap(t *testing.T, tp *tapProcess, evs []capture.Event) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Fatal("tshark not found: apt-get install -y tshark")
	}
	pkts := tsharkPackets(t, tp.pcap, "http.request || websocket")
	type frame struct {
		opcode, fin, mask string
		length            int64
	}
	type dir struct {
		frames []frame
		texts  []string // text messages' payloads, and close messages as "close CODE REASON"
	}
	type req struct {
		stream, number, method, uri string
		origin                      string // for an absolute-form target: its origin-form
	}
	byPort := map[string]*struct {
		reqs []req
		ws   [2]dir // from the client, from the server
	}{}
	side := func(port string) *struct {
		reqs []req
		ws   [2]dir
	} {
		if byPort[port] == nil {
			byPort[port] = &struct {
				reqs []req
				ws   [2]dir
			}{}
		}
		return byPort[port]
	}
	for _, p := range pkts {
		src, dst, stream := str(p["tcp"], "tcp.srcport"), str(p["tcp"], "tcp.dstport"), str(p["tcp"], "tcp.stream")
		for _, h := range asList(p["http"]) {
			if m := str(h, "http.request.method"); m != "" {
				side(src).reqs = append(side(src).reqs, req{stream: stream, number: str(h, "http.request_number"), method: m, uri: str(h, "http.request.uri")})
			}
		}
		for _, w := range asList(p["websocket"]) {
			d, port := 0, src
			if str(w, "websocket.mask") == "0" {
				d, port = 1, dst
			}
			n, _ := strconv.ParseInt(str(w, "websocket.payload_length"), 10, 64)
			if ext := str(w, "websocket.payload_length_ext_16"); ext != "" {
				n, _ = strconv.ParseInt(ext, 10, 64)
			}
			if ext := str(w, "websocket.payload_length_ext_64"); ext != "" {
				n, _ = strconv.ParseInt(ext, 10, 64)
			}
			ws := &side(port).ws[d]
			ws.frames = append(ws.frames, frame{str(w, "websocket.opcode"), str(w, "websocket.fin"), str(w, "websocket.mask"), n})
			if text := find(w, "websocket.payload.text"); len(text) > 0 {
				ws.texts = append(ws.texts, text[0].(string))
			}
			if code := str(w, "websocket.payload.close.status_code"); code != "" {
				ws.texts = append(ws.texts, "close "+code+" "+str(w, "websocket.payload.close.reason"))
			}
		}
	}
	reqs, frames, texts, notInflated := 0, 0, 0, 0
	for _, conn := range tp.conns(evs) {
		_, port, _ := net.SplitHostPort(conn[0].Client)
		got := side(port)
		var wantReqs []req
		var want [2]dir
		var inflate [2]wiresharkInflate
		for _, ev := range conn {
			switch ev.Kind {
			case capture.KindUpgrade:
				inflate = wiresharkInflates(ev.Extensions)
			case capture.KindRequest:
				// Regular mode forwards origin-form; a request frametap
				// refused is in the file as the client sent it.
				r := req{method: ev.Method, uri: ev.Target}
				if i := strings.Index(r.uri, "://"); i >= 0 && ev.Method != "CONNECT" {
					rest := r.uri[i+3:]
					r.origin = rest[strings.IndexByte(rest, '/'):]
				}
				wantReqs = append(wantReqs, r)
			case capture.KindFrame, capture.KindMessage:
				d := 0
				if ev.From == "server" {
					d = 1
				}
				if ev.Kind == capture.KindFrame {
					want[d].frames = append(want[d].frames, frame{strconv.Itoa(int(ev.Opcode)), map[bool]string{true: "1", false: "0"}[ev.Fin], map[bool]string{true: "1", false: "0"}[ev.Masked], ev.Len})
					continue
				}
				if !inflate[d].follows(&ev) {
					continue
				}
				switch {
				case ev.Op == "text" && utf8.Valid(ev.Payload) && !ev.Truncated:
					// An empty text shows only when Wireshark inflated it.
					if len(ev.Payload) == 0 && !ev.Compressed {
						continue
					}
					text := ev.Payload
					if ev.From == "client" && !ev.Compressed && len(text) > wiresharkUnmaskMax {
						text = text[:wiresharkUnmaskMax] // what Wireshark unmasks of it
					}
					want[d].texts = append(want[d].texts, strings.ToValidUTF8(string(text), "\ufffd"))
				case ev.Op == "close" && ev.Code != 0:
					want[d].texts = append(want[d].texts, fmt.Sprintf("close %d %s", ev.Code, ev.Reason))
				}
			}
		}
		if len(got.reqs) != len(wantReqs) {
			t.Errorf("client port %s: tshark sees %d requests %v, the capture has %d %v", port, len(got.reqs), got.reqs, len(wantReqs), wantReqs)
		} else {
			numbers := map[string]int{}
			for i, g := range got.reqs {
				numbers[g.stream]++
				w := wantReqs[i]
				if g.method != w.method || g.uri != w.uri && (w.origin == "" || g.uri != w.origin) || g.number != strconv.Itoa(numbers[g.stream]) {
					t.Errorf("client port %s request %d: tshark sees %+v (number %d on its stream expected), the capture %+v", port, i, g, numbers[g.stream], wantReqs[i])
				}
			}
		}
		reqs += len(wantReqs)
		for d := range 2 {
			if !slices.Equal(got.ws[d].frames, want[d].frames) {
				t.Errorf("client port %s, %s: tshark sees %d WebSocket frames, the capture %d; first difference at %d",
					port, []string{"client→server", "server→client"}[d], len(got.ws[d].frames), len(want[d].frames), firstFrameDiff(got.ws[d].frames, want[d].frames))
			}
			gotTexts := got.ws[d].texts
			if inflate[d].lost && len(gotTexts) > len(want[d].texts) {
				gotTexts = gotTexts[:len(want[d].texts)] // what follows, Wireshark cannot inflate
			}
			if !slices.Equal(gotTexts, want[d].texts) {
				i := firstFrameDiff(gotTexts, want[d].texts)
				t.Errorf("client port %s, %s: tshark reads %d text and close messages, the capture has %d; #%d differs:\n got %.200q\nwant %.200q",
					port, []string{"client→server", "server→client"}[d], len(got.ws[d].texts), len(want[d].texts), i, item(gotTexts, i), item(want[d].texts, i))
			}
			frames += len(want[d].frames)
			texts += len(want[d].texts)
			if inflate[d].lost {
				notInflated++
			}
		}
	}
	t.Logf("pcap: tshark sees the capture's %d HTTP requests (per TCP stream), %d WebSocket frames and %d text and close payloads (%d directions where Wireshark's own inflating stops short)", reqs, frames, texts, notInflated)
}

// wiresharkUnmaskMax is the most of a masked payload Wireshark 4.0
// unmasks (packet-websocket.c, MAX_UNMASKED_LEN): it shows the text of a
// larger masked message cut there.
const wiresharkUnmaskMax = 256 << 10

// wiresharkInflate follows, for one direction of a WebSocket with
// permessage-deflate, whether Wireshark (4.0, packet-websocket.c) can still
// inflate its messages. Two of its limits break a direction's deflate
// context, after which it shows every later compressed message of that
// direction as garbage (the bytes on the wire are right: frametap, and the
// peers, inflate them):
//   - it unmasks at most 256 KiB of a frame's payload (MAX_UNMASKED_LEN),
//     so a masked compressed message over that is cut before it inflates;
//   - it takes RSV1 from a message's last frame, where RFC 7692 sets it on
//     the first, so it does not inflate a compressed message sent in
//     several frames.
//
// With context takeover (the default) the direction is lost from such a
// message on; without it, only that message.
type wiresharkInflate struct {
	deflate  bool // the upgrade negotiated permessage-deflate
	takeover bool // the direction keeps its context between messages
	lost     bool // Wireshark lost the context: later texts are not compared
}

// wiresharkInflates reads the negotiated extensions: client then server.
func wiresharkInflates(ext string) [2]wiresharkInflate {
	deflate := strings.Contains(ext, "permessage-deflate")
	return [2]wiresharkInflate{
		{deflate: deflate, takeover: !strings.Contains(ext, "client_no_context_takeover")},
		{deflate: deflate, takeover: !strings.Contains(ext, "server_no_context_takeover")},
	}
}

// follows reports whether Wireshark shows message m's payload as the
// capture has it, and notes a context it loses.
func (w *wiresharkInflate) follows(m *capture.Event) bool {
	if w.lost {
		return false
	}
	if !w.deflate || !m.Compressed {
		return true
	}
	if m.Frames > 1 || m.From == "client" && m.WireLen > wiresharkUnmaskMax {
		w.lost = w.takeover
		return false
	}
	return true
}

func item[T any](xs []T, i int) any {
	if i < len(xs) {
		return xs[i]
	}
	return "(none)"
}

func firstFrameDiff[T comparable](a, b []T) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

// legCapture is tshark capturing the loopback traffic of one TCP port, to
// a file, while a test runs.
type legCapture struct {
	cmd  *exec.Cmd
	file string
	err  lockedBuffer
}

// captureLeg starts tshark on lo for tcp port port and waits until it
// captures.
func captureLeg(t *testing.T, port string) *legCapture {
	t.Helper()
	lc := &legCapture{file: filepath.Join(t.TempDir(), "leg.pcapng")}
	lc.cmd = exec.Command("tshark", "-i", "lo", "-f", "tcp port "+port, "-w", lc.file)
	lc.cmd.Stderr = &lc.err
	if err := lc.cmd.Start(); err != nil {
		t.Fatalf("tshark -i lo: %v", err)
	}
	t.Cleanup(func() { lc.cmd.Process.Kill(); lc.cmd.Wait() })
	for deadline := time.Now().Add(15 * time.Second); !strings.Contains(lc.err.String(), "Capturing on"); {
		if time.Now().After(deadline) {
			t.Fatalf("tshark -i lo did not start capturing: %s", lc.err.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return lc
}

// stop ends the capture and returns its file.
func (lc *legCapture) stop(t *testing.T) string {
	t.Helper()
	time.Sleep(300 * time.Millisecond) // the last packets reach the capture
	lc.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- lc.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		lc.cmd.Process.Kill()
		t.Fatalf("tshark did not stop: %s", lc.err.String())
	}
	return lc.file
}

// checkKeyLog requires the --keylog file to decrypt tshark's capture of
// the proxy→server leg: the HTTP requests in it are the ones the capture
// has inside TLS.
func checkKeyLog(t *testing.T, legFile, keylog string, evs []capture.Event) {
	t.Helper()
	var got, want []string
	for _, p := range tsharkPackets(t, legFile, "http.request", "-o", "tls.keylog_file:"+keylog) {
		for _, h := range asList(p["http"]) {
			if m := str(h, "http.request.method"); m != "" {
				got = append(got, m+" "+str(h, "http.request.uri"))
			}
		}
	}
	for _, ev := range evs {
		if ev.Kind == capture.KindRequest && ev.Scheme == "https" {
			want = append(want, ev.Method+" "+ev.Target)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("tshark decrypts with the key log %v, the capture has %v inside TLS", got, want)
	}
	t.Logf("keylog: tshark decrypted the proxy→server leg: %d requests", len(got))
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

// TestE2EPipe: frametap -w - writes the capture to a pipe, a line per
// event, as it happens (jq reads it live); when the pipe's reader goes
// away, frametap ends by itself, cleanly (exit 0, no panic, no hang),
// saying so: Go would kill it with SIGPIPE if main did not catch it.
func TestE2EPipe(t *testing.T) {
	requireE2E(t)
	us := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong") }))
	defer us.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(e2eBinary, "-w", "-", "-q", "--listen", addr, "--mode", "reverse:"+us.URL)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=10")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer cmd.Process.Kill()
	get := func() {
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			resp, err := http.Get("http://" + addr + "/ping")
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				return
			}
			select {
			case werr := <-done:
				done <- werr
				if werr != nil {
					t.Fatalf("frametap exited with %v, want a clean end; stderr:\n%s", werr, stderr.String())
				}
				return
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET through frametap: %v\n%s", err, stderr.String())
			}
		}
	}
	get()
	// The events of that exchange reach the pipe while frametap runs.
	br := bufio.NewReader(out)
	line, err := br.ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading the pipe: %v", err)
	}
	var ev capture.Event
	if err := ev.UnmarshalJSON(line); err != nil || ev.Kind != capture.KindOpen {
		t.Fatalf("first line %q: %v", line, err)
	}
	out.Close() // the reader goes away, as head -1 does
	for range 20 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("frametap exited with %v, want 0; stderr:\n%s", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), "standard output was closed (broken pipe): stopping") || strings.Contains(stderr.String(), "panic") {
				t.Errorf("stderr:\n%s", stderr.String())
			}
			return
		default:
		}
		http.DefaultClient.CloseIdleConnections()
		get()
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("frametap exited with %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("frametap still runs 10 s after its standard output's reader went away:\n%s", stderr.String())
	}
}
