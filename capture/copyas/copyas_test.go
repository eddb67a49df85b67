package copyas

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/decode"
)

// heard is what the loopback server decoded of one request.
type heard struct {
	req  *decode.Request
	body []byte
}

type reqHandler struct{ got chan heard }

func (h *reqHandler) Request(q *decode.Request) {
	cp := *q
	cp.Headers = append([]decode.Header(nil), q.Headers...)
	h.got <- heard{req: &cp, body: append([]byte(nil), q.Body...)}
}
func (h *reqHandler) Response(*decode.Response)            {}
func (h *reqHandler) Upgrade(*decode.Upgrade)              {}
func (h *reqHandler) Frame(decode.Side, *decode.Frame)     {}
func (h *reqHandler) Message(decode.Side, *decode.Message) {}
func (h *reqHandler) Error(_ decode.Side, err error)       {}

// startHearer runs a loopback server that decodes each request with
// frametap's decoder and answers 204.
func startHearer(t *testing.T) (addr string, got chan heard) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got = make(chan heard, 16)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				nc.SetDeadline(time.Now().Add(10 * time.Second))
				d := decode.NewConn(decode.Config{}, &reqHandler{got: got})
				buf := make([]byte, 4096)
				for {
					n, err := nc.Read(buf)
					if n > 0 {
						before := d.Pending()
						d.Feed(decode.Client, buf[:n])
						if d.Pending() > before {
							io.WriteString(nc, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), got
}

// The command Curl writes, run by a real shell and a real curl, sends what
// the original request had: method, target, header lines in order, body.
func TestCurlRunsForReal(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("FRAMETAP_E2E") == "1" {
			t.Fatal("curl is not installed (apt-get install -y curl)")
		}
		t.Skip("curl not installed")
	}
	addr, got := startHearer(t)
	binary := []byte("\x00\x01 it's 100% \\n \xff\xfe end\n")
	for _, tc := range []struct {
		name string
		req  capture.Event
	}{
		{"GET with odd headers", capture.Event{Method: "GET", Target: "/search?q=a%20b&x=[1]", Headers: []capture.Header{
			{"Host", addr}, {"User-Agent", "Mozilla/5.0 (X11) \"quoted\""}, {"X-Dollar", "$HOME `id` $(id)"}, {"X-Quote", "it's"}, {"X-Empty", ""}, {"Accept", "*/*"},
		}}},
		{"POST binary body", capture.Event{Method: "POST", Target: "/upload", Body: binary, Headers: []capture.Header{
			{"Host", addr}, {"Content-Type", "application/octet-stream"}, {"Content-Length", fmt.Sprint(len(binary))},
		}}},
		{"PUT text starting with @", capture.Event{Method: "PUT", Target: "/f", Body: []byte("@/etc/passwd\nline 2 'q' $x"), Headers: []capture.Header{
			{"Host", addr}, {"Content-Length", "27"},
		}}},
		{"DELETE without headers curl adds", capture.Event{Method: "DELETE", Target: "/item/7", Headers: []capture.Header{{"Host", addr}}}},
		{"chunked", capture.Event{Method: "POST", Target: "/c", Body: []byte("abcde"), Headers: []capture.Header{
			{"Host", addr}, {"Transfer-Encoding", "chunked"}, {"Content-Type", "text/plain"},
		}}},
		{"HTTP/1.0 HEAD", capture.Event{Method: "HEAD", Target: "/h", Proto: "HTTP/1.0", Headers: []capture.Header{{"Host", addr}, {"Accept", "*/*"}, {"User-Agent", "x"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := tc.req
			req.Kind, req.Seq, req.Host, req.BodyLen = capture.KindRequest, 1, addr, int64(len(req.Body))
			if req.Proto == "" {
				req.Proto = "HTTP/1.1"
			}
			cmd, err := Curl(&req)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			out, err := exec.CommandContext(ctx, "sh", "-c", cmd+" -sS -o /dev/null").CombinedOutput()
			if err != nil {
				t.Fatalf("%s\n%v: %s", cmd, err, out)
			}
			var h heard
			select {
			case h = <-got:
			case <-time.After(5 * time.Second):
				t.Fatalf("%s\nthe server heard nothing", cmd)
			}
			if h.req.Method != req.Method || h.req.Target != req.Target || h.req.Proto != req.Proto || string(h.body) != string(req.Body) {
				t.Errorf("%s\nsent %s %s %s body %q\nwant %s %s %s body %q", cmd, h.req.Method, h.req.Target, h.req.Proto, h.body, req.Method, req.Target, req.Proto, req.Body)
			}
			if g, w := headerLines(h.req.Headers), wantLines(req.Headers, len(req.Body)); g != w {
				t.Errorf("%s\nheaders sent:\n%s\nwant:\n%s", cmd, g, w)
			}
		})
	}
}

func headerLines(hs []decode.Header) string {
	var out []string
	for _, h := range hs {
		out = append(out, h.Name+": "+h.Value)
	}
	return strings.Join(out, "\n")
}

// wantLines is what curl should send for hs: the same lines, with
// Content-Length made by curl right after Host.
func wantLines(hs []capture.Header, body int) string {
	var out []string
	hasLen := false
	for _, h := range hs {
		if strings.EqualFold(h[0], "Content-Length") {
			hasLen = true
			continue
		}
		out = append(out, h[0]+": "+h[1])
	}
	if hasLen {
		out = append(out, fmt.Sprintf("Content-Length: %d", body))
	}
	return strings.Join(out, "\n")
}

func TestCurlRefuses(t *testing.T) {
	if _, err := Curl(&capture.Event{Kind: capture.KindResponse}); err != ErrNotRequest {
		t.Errorf("a response: %v", err)
	}
	_, err := Curl(&capture.Event{Kind: capture.KindRequest, Method: "POST", Target: "/", Body: []byte("ab"), BodyLen: 10, Truncated: true})
	if err == nil || !strings.Contains(err.Error(), "2 of 10 bytes") {
		t.Errorf("a truncated body: %v", err)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"plain":          "plain",
		"":               "''",
		"it's":           `'it'\''s'`,
		"a b":            "'a b'",
		"$HOME":          "'$HOME'",
		"http://a/b?c=d": "'http://a/b?c=d'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestWebSocat(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 19, 0, 0, 0, time.UTC)
	evs := []*capture.Event{
		{Kind: capture.KindRequest, Time: t0, Seq: 1, Method: "GET", Target: "/chat?room=1", Host: "127.0.0.1:9", Scheme: "https", Headers: []capture.Header{
			{"Host", "127.0.0.1:9"}, {"Upgrade", "websocket"}, {"Connection", "Upgrade"}, {"Sec-WebSocket-Key", "k"},
			{"Sec-WebSocket-Version", "13"}, {"Sec-WebSocket-Protocol", "chat"}, {"Sec-WebSocket-Extensions", "permessage-deflate"},
			{"Origin", "https://app.test"}, {"Cookie", "a=b; c='d'"}}},
		{Kind: capture.KindUpgrade, Time: t0, Seq: 1, Protocol: "websocket"},
		{Kind: capture.KindMessage, Time: t0, From: "client", Op: "text", Payload: []byte(`{"type":"hi"}`)},
		{Kind: capture.KindMessage, Time: t0, From: "server", Op: "text", Payload: []byte("ignored")},
		{Kind: capture.KindMessage, Time: t0, From: "client", Op: "text", Payload: []byte("it's me")},
		{Kind: capture.KindMessage, Time: t0, From: "client", Op: "close", Code: 1000, Reason: "bye"},
	}
	w, err := WebSocat(evs)
	if err != nil {
		t.Fatal(err)
	}
	want := `# websocat does not offer permessage-deflate: its messages go uncompressed
printf '%s\n' '{"type":"hi"}' 'it'\''s me' | websocat --protocol chat -H 'Origin: https://app.test' -H 'Cookie: a=b; c='\''d'\''' 'wss://127.0.0.1:9/chat?room=1'
# then the client closed: code 1000 "bye"
`
	if got := w.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// The pipe is real shell: the messages come out one per line.
	out, err := exec.Command("sh", "-c", strings.SplitN(w.String(), " | websocat", 2)[0][len("# websocat does not offer permessage-deflate: its messages go uncompressed\n"):]).Output()
	if err != nil || string(out) != "{\"type\":\"hi\"}\nit's me\n" {
		t.Errorf("the printf part prints %q, %v", out, err)
	}
	evs[4].Op, evs[4].Payload = "binary", []byte{0, 1}
	w, _ = WebSocat(evs)
	if s := w.String(); !strings.Contains(s, "# text: \"{\\\"type\\\":\\\"hi\\\"}\"") || !strings.Contains(s, "# binary (base64): AAE=") || strings.Contains(s, "printf") {
		t.Errorf("with a binary message:\n%s", s)
	}
	if _, err := WebSocat(evs[2:]); err != ErrNoWebSocket {
		t.Errorf("no handshake: %v", err)
	}
}
