package main

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// wsFrame encodes one frame (RFC 6455 section 5.2), masked with a fixed key
// when masked is set. rsv holds the RSV bits as the capture writes them
// (RSV1 = 4, RSV2 = 2, RSV3 = 1).
func wsFrame(fin bool, rsv, op byte, masked bool, payload []byte) []byte {
	b0 := rsv<<4 | op
	if fin {
		b0 |= 0x80
	}
	var maskBit byte
	if masked {
		maskBit = 0x80
	}
	out := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		out = append(out, maskBit|byte(n))
	case n <= 0xffff:
		out = append(out, maskBit|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, maskBit|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !masked {
		return append(out, payload...)
	}
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i%4])
	}
	return out
}

func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// violation is one frame that breaks one rule, and the rule's text in the
// decoder's error.
type violation struct {
	rule   string
	frames []byte
}

// clientViolations are sent by the bad client, in this order. The close
// frame goes last: whatever follows a close would break another rule.
var clientViolations = []violation{
	{"control frame payload 126 > 125", wsFrame(true, 0, 0x9, true, bytes.Repeat([]byte("p"), 126))},
	{"fragmented control frame", wsFrame(false, 0, 0x9, true, []byte("frag-ping"))},
	{"RSV2 set without an extension that defines it", wsFrame(true, 2, 0x2, true, []byte("rsv2"))},
	{"client frame not masked", wsFrame(true, 0, 0x1, false, []byte("unmasked"))},
	{"continuation without a started message", wsFrame(true, 0, 0x0, true, []byte("orphan"))},
	{"new data frame inside a fragmented message", append(wsFrame(false, 0, 0x1, true, []byte("part 1 ")), wsFrame(true, 0, 0x1, true, []byte("part 2"))...)},
	{"invalid UTF-8 in text message", wsFrame(true, 0, 0x1, true, []byte{'f', 0xff, 0xfe, 'g'})},
	{"reserved opcode 0x3", wsFrame(true, 0, 0x3, true, []byte("reserved"))},
	{"close code 1005 sent on the wire", wsFrame(true, 0, 0x8, true, closePayload(1005, "no"))},
}

// serverViolation is the bad server's one frame.
var serverViolation = violation{"server frame masked", wsFrame(true, 0, 0x2, true, []byte("server masked"))}

// rawScript is what the raw server does on one path after its 101: write
// first, read expect bytes, write after, then read until EOF.
type rawScript struct {
	first  []byte
	expect int
	after  []byte
}

// rawResult is what one raw server connection received and sent.
type rawResult struct {
	path           string
	received, sent []byte
	err            error
}

// rawServer is a tolerant WebSocket server: it answers the handshake
// correctly and then never judges a frame, so violations do not end the
// connection. It is safe for concurrent use.
type rawServer struct {
	ln      net.Listener
	scripts map[string]rawScript
	results chan rawResult
	wg      sync.WaitGroup
}

func startRawServer(t *testing.T, scripts map[string]rawScript) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, scripts: scripts, results: make(chan rawResult, 16)}
	s.wg.Add(1)
	go s.accept()
	t.Cleanup(func() { ln.Close(); s.wg.Wait() })
	return s
}

func (s *rawServer) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if r, ok := s.serve(c); ok {
				s.results <- r
			}
		}()
	}
}

// serve runs one connection; ok is false for a connection that sent
// nothing (a readiness probe relayed in reverse mode).
func (s *rawServer) serve(c net.Conn) (r rawResult, ok bool) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(peerTimeout))
	var rec bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c, &rec))
	req, err := http.ReadRequest(br)
	if err != nil {
		return rawResult{err: err}, rec.Len() > 0
	}
	r.path = req.URL.Path
	script := s.scripts[r.path]
	head := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		acceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"
	write := func(p []byte) {
		if r.err == nil {
			_, r.err = c.Write(p)
			r.sent = append(r.sent, p...)
		}
	}
	write(append([]byte(head), script.first...))
	if script.expect > 0 && r.err == nil {
		_, r.err = io.ReadFull(br, make([]byte, script.expect))
		if r.err != nil {
			r.err = fmt.Errorf("reading the %d bytes expected: %w", script.expect, r.err)
		}
	}
	write(script.after)
	if r.err == nil {
		_, r.err = io.Copy(io.Discard, br)
	}
	r.received = rec.Bytes()
	return r, true
}

// result waits for the next connection's result.
func (s *rawServer) result(t *testing.T) rawResult {
	t.Helper()
	select {
	case r := <-s.results:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the raw server saw no connection end in 10 s")
		return rawResult{}
	}
}

// acceptKey is Sec-WebSocket-Accept for key (RFC 6455 section 4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// rawClientConn dials frametap and, in regular mode, opens a CONNECT
// tunnel to serverAddr.
func rawClientConn(t *testing.T, tp *tapProcess, mode, serverAddr string) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", tp.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(peerTimeout))
	if mode == "regular" {
		fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", serverAddr, serverAddr)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
		if err != nil || resp.StatusCode != 200 || br.Buffered() != 0 {
			t.Fatalf("CONNECT %s: %v %v", serverAddr, resp, err)
		}
	}
	return c.(*net.TCPConn)
}

// rawSession runs one WebSocket connection from the raw client: the
// handshake for path, then frames, then it half-closes and reads what the
// server sent until EOF. It returns what the client sent and received.
func rawSession(t *testing.T, c *net.TCPConn, serverAddr, path string, frames []byte) (sent, received []byte) {
	t.Helper()
	sent = fmt.Appendf(nil, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path, serverAddr)
	if _, err := c.Write(sent); err != nil {
		t.Fatal(err)
	}
	// The 101 first, byte by byte, so the frames go after it as a client's would.
	var head []byte
	for !bytes.HasSuffix(head, []byte("\r\n\r\n")) {
		var b [1]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			t.Fatalf("reading the 101 (got %q): %v", head, err)
		}
		head = append(head, b[0])
	}
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 101 ")) {
		t.Fatalf("handshake answered %q", head)
	}
	if _, err := c.Write(frames); err != nil {
		t.Fatal(err)
	}
	sent = append(sent, frames...)
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading after the 101: %v", err)
	}
	return sent, append(head, rest...)
}

// sameBytes reports where two byte streams first differ.
func sameBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	i := firstDiff(got, want)
	t.Errorf("%s: got %d bytes, want %d; first difference at byte %d: got %s, want %s",
		what, len(got), len(want), i, preview(got[i:]), preview(want[i:]))
}

// connWithTarget returns the connection whose request targets path.
func connWithTarget(t *testing.T, conns [][]capture.Event, path string) []capture.Event {
	t.Helper()
	for _, c := range conns {
		for _, ev := range c {
			if ev.Kind == capture.KindRequest && strings.HasSuffix(ev.Target, path) {
				return c
			}
		}
	}
	t.Fatalf("no connection in the capture requested %s", path)
	return nil
}

// TestE2EViolations sends every protocol violation once through frametap,
// requires an error event naming each and the bytes relayed unchanged, and
// then requires a good connection through the same process to decode
// without a single error.
func TestE2EViolations(t *testing.T) {
	requireE2E(t)
	var bad []byte
	for _, v := range clientViolations {
		bad = append(bad, v.frames...)
	}
	good := bytes.Join([][]byte{
		wsFrame(true, 0, 0x1, true, []byte("hello again")),
		wsFrame(true, 0, 0x2, true, []byte{1, 2, 3}),
		wsFrame(true, 0, 0x9, true, []byte("p")),
		wsFrame(true, 0, 0x8, true, closePayload(1000, "bye")),
	}, nil)
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			srv := startRawServer(t, map[string]rawScript{
				"/bad":  {first: serverViolation.frames},
				"/good": {first: wsFrame(true, 0, 0x1, false, []byte("hi from server")), expect: len(good), after: wsFrame(true, 0, 0x8, false, closePayload(1000, "bye"))},
			})
			serverAddr := srv.ln.Addr().String()
			tp := startTap(t, tapMode(mode, serverAddr))

			for _, path := range []string{"/bad", "/good"} {
				frames := map[string][]byte{"/bad": bad, "/good": good}[path]
				sent, received := rawSession(t, rawClientConn(t, tp, mode, serverAddr), serverAddr, path, frames)
				r := srv.result(t)
				if r.err != nil || r.path != path {
					t.Fatalf("raw server, %s: path %q, error %v", path, r.path, r.err)
				}
				sameBytes(t, path+": bytes the server received vs the client sent", r.received, sent)
				sameBytes(t, path+": bytes the client received vs the server sent", received, r.sent)
			}

			conns := tp.conns(tp.stop())
			badConn, goodConn := connWithTarget(t, conns, "/bad"), connWithTarget(t, conns, "/good")
			if mode == "regular" {
				checkTunnel(t, badConn, serverAddr)
				checkTunnel(t, goodConn, serverAddr)
			}

			// Every violation once, in order, from the side that sent it.
			wantErrs := map[string][]string{"server": {serverViolation.rule}}
			for _, v := range clientViolations {
				wantErrs["client"] = append(wantErrs["client"], v.rule)
			}
			gotErrs := map[string][]string{}
			for _, ev := range badConn {
				if ev.Kind == capture.KindError {
					gotErrs[ev.From] = append(gotErrs[ev.From], ev.Msg)
				}
			}
			for _, from := range []string{"client", "server"} {
				got, want := gotErrs[from], wantErrs[from]
				for i := range max(len(got), len(want)) {
					if i >= len(got) || i >= len(want) || !strings.Contains(got[i], want[i]) {
						t.Errorf("/bad: %s error #%d: got %q, want one containing %q\nall %s errors: %q",
							from, i, at2(got, i), at2(want, i), from, got)
						break
					}
				}
			}
			if len(gotErrs) > 2 {
				t.Errorf("/bad: error events from unexpected sides: %q", gotErrs)
			}
			bc := checkWSConn(t, badConn, false)
			if !bc.close.WebSocket || bc.close.WSClosedBy != "client" || bc.close.WSCloseClean {
				t.Errorf("/bad close: websocket %v, ws_closed_by %q, ws_close_clean %v; want true, client, false",
					bc.close.WebSocket, bc.close.WSClosedBy, bc.close.WSCloseClean)
			}

			// The next connection decodes normally.
			gc := checkWSConn(t, goodConn, true)
			for _, ev := range gc.errors {
				t.Errorf("/good: error event from %q: %s", ev.From, ev.Msg)
			}
			if !gc.upgrade.AcceptOK || gc.upgrade.Extensions != "" {
				t.Errorf("/good upgrade: accept_ok %v, extensions %q", gc.upgrade.AcceptOK, gc.upgrade.Extensions)
			}
			sameMessages(t, "/good client messages", asPeerMsgs(gc.messages["client"], false), []peerMsg{
				{Type: "text", B64: []byte("hello again")}, {Type: "binary", B64: []byte{1, 2, 3}},
			}, true)
			sameMessages(t, "/good client control", asPeerMsgs(gc.messages["client"], true), []peerMsg{
				{Type: "ping", B64: []byte("p")}, {Type: "close", Code: 1000, Reason: "bye"},
			}, true)
			sameMessages(t, "/good server messages", asPeerMsgs(gc.messages["server"], false), []peerMsg{
				{Type: "text", B64: []byte("hi from server")},
			}, true)
			sameMessages(t, "/good server control", asPeerMsgs(gc.messages["server"], true), []peerMsg{
				{Type: "close", Code: 1000, Reason: "bye"},
			}, true)
			if !gc.close.WebSocket || gc.close.WSClosedBy != "client" || !gc.close.WSCloseClean || gc.close.Err != "" {
				t.Errorf("/good close: websocket %v, ws_closed_by %q, ws_close_clean %v, err %q; want true, client, true, none",
					gc.close.WebSocket, gc.close.WSClosedBy, gc.close.WSCloseClean, gc.close.Err)
			}
		})
	}
}

func at2(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}
