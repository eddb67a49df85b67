package main

// Issue 11 end to end, the pcapng side: the --pcap file every tap writes
// is read by tshark and must show what the capture has; over https the
// --keylog file must decrypt tshark's own capture of the proxy→server leg.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/frametap/frametap/capture"
)

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
