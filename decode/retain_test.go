package decode

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unsafe"

	"github.com/gobwas/ws"
)

// retained lists the capacity, in bytes, of each buffer c keeps between
// messages, by name.
func retained(c *Conn) map[string]int {
	hdr := int(unsafe.Sizeof(Header{}))
	m := map[string]int{
		"wait":  cap(c.wait),
		"queue": cap(c.queue) * int(unsafe.Sizeof(h1Exchange{})),
		"held":  cap(c.held) * int(unsafe.Sizeof(Response{})),
	}
	for i := range c.dir {
		s := &c.dir[i]
		side := s.side.String()
		if s.h1Message != nil { // nil once a WebSocket went idle (dropHTTP1)
			m[side+" head"] = cap(s.head)
			m[side+" body"] = cap(s.body)
			m[side+" headers"] = cap(s.hdrs) * hdr
			m[side+" trailers"] = cap(s.trls) * hdr
		}
		if w := c.ws[i]; w != nil {
			m[side+" ws message"] = cap(w.msg.buf)
			m[side+" ws control"] = cap(w.ctl)
			m[side+" ws inflated"] = cap(w.out)
		}
	}
	return m
}

// heldAfter returns the bytes of heap that a Conn, fed by feed, still
// holds once feed is done. The pool of inflation state is emptied first
// (two collections), so that it does not count.
func heldAfter(h Handler, feed func(c *Conn)) (c *Conn, held int64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	c = NewConn(Config{}, h)
	feed(c)
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return c, int64(after.HeapAlloc) - int64(before.HeapAlloc)
}

// feedChunks feeds p in reads of 16 KiB, as a proxy's copy loop does, the
// client's through FeedRequest.
func feedChunks(c *Conn, side Side, p []byte) {
	for len(p) > 0 {
		n := min(len(p), 16<<10)
		if side == Client {
			for q := p[:n]; len(q) > 0; {
				k, _, _ := c.FeedRequest(q)
				q = q[k:]
			}
		} else {
			c.Feed(side, p[:n])
		}
		p = p[n:]
	}
}

// retainCount counts what a Handler is given.
type retainCount struct{ req, resp, msg, err int }

func (r *retainCount) Request(*Request)       { r.req++ }
func (r *retainCount) Response(*Response)     { r.resp++ }
func (r *retainCount) Upgrade(*Upgrade)       {}
func (r *retainCount) Frame(Side, *Frame)     {}
func (r *retainCount) Message(Side, *Message) { r.msg++ }
func (r *retainCount) Error(Side, error)      { r.err++ }

const wsHandshake = "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
const wsAnswer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"

// TestRetainedAfterLargeMessages decodes one large message each way and
// then a small one, and checks that the Conn lets the large buffers go
// once the large messages end (issue 8, defect 10): a connection that
// carried one 16 MiB WebSocket message must not hold 16 MiB for the rest
// of its life.
func TestRetainedAfterLargeMessages(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), DefaultMaxMessage/16)
	tests := []struct {
		name string
		want string // what the Handler was given
		feed func(t *testing.T, c *Conn)
	}{
		{"WebSocket 16 MiB each way, then small", "1 requests, 1 responses, 4 messages, 0 errors", func(t *testing.T, c *Conn) {
			feedChunks(c, Client, []byte(wsHandshake))
			feedChunks(c, Server, []byte(wsAnswer))
			feedChunks(c, Client, wsFrameBytes(ws.OpBinary, true, 0, true, big))
			feedChunks(c, Server, wsFrameBytes(ws.OpBinary, true, 0, false, big))
			feedChunks(c, Client, wsFrameBytes(ws.OpText, true, 0, true, []byte("small")))
			feedChunks(c, Server, wsFrameBytes(ws.OpText, true, 0, false, []byte("small")))
		}},
		{"WebSocket fragmented, and 16 MiB control frames", "1 requests, 1 responses, 4 messages, 2 errors", func(t *testing.T, c *Conn) {
			feedChunks(c, Client, []byte(wsHandshake))
			feedChunks(c, Server, []byte(wsAnswer))
			half := len(big) / 2
			feedChunks(c, Server, cat(
				wsFrameBytes(ws.OpBinary, false, 0, false, big[:half]),
				wsFrameBytes(ws.OpContinuation, true, 0, false, big[half:]),
				wsFrameBytes(ws.OpPing, true, 0, false, big),
				wsFrameBytes(ws.OpClose, true, 0, false, append([]byte{0x03, 0xe8}, big...))))
			feedChunks(c, Server, wsFrameBytes(ws.OpPing, true, 0, false, []byte("small")))
			if hs, _ := c.CloseHandshake(); len(hs.Reason[Server]) > 123 {
				t.Errorf("the close reason kept is %d bytes, want at most 123", len(hs.Reason[Server]))
			}
		}},
		{"permessage-deflate: 16 MiB inflated each way", "1 requests, 1 responses, 4 messages, 0 errors", func(t *testing.T, c *Conn) {
			feedChunks(c, Client, []byte(wsHandshake))
			feedChunks(c, Server, []byte(wsAnswer))
			z := zeroBomb(t, 16)
			feedChunks(c, Client, wsCompressedFrames(true, ws.OpBinary, z, 1<<20))
			feedChunks(c, Server, wsCompressedFrames(false, ws.OpBinary, z, 1<<20))
			small := []byte{0x2a, 0xce, 0xcd, 0x49, 0xcc, 0xc9, 0x01, 0x00} // "small", flushed
			feedChunks(c, Client, wsCompressedFrames(true, ws.OpText, small, 4096))
			feedChunks(c, Server, wsCompressedFrames(false, ws.OpText, small, 4096))
		}},
		{"HTTP: 60 KiB heads, 1 MiB bodies, then small", "3 requests, 3 responses, 0 messages, 0 errors", func(t *testing.T, c *Conn) {
			pad := "X-Pad: " + strings.Repeat("p", 100) + "\r\n"
			head := "POST /big HTTP/1.1\r\nHost: h\r\n" + strings.Repeat(pad, 550) + fmt.Sprintf("Content-Length: %d\r\n\r\n", DefaultMaxBody)
			feedChunks(c, Client, append([]byte(head), big[:DefaultMaxBody]...))
			feedChunks(c, Server, []byte("HTTP/1.1 200 OK\r\n"+strings.Repeat(pad, 550)+"Transfer-Encoding: chunked\r\n\r\n"))
			feedChunks(c, Server, []byte(fmt.Sprintf("%x\r\n%s\r\n0\r\n%s\r\n", DefaultMaxBody, big[:DefaultMaxBody], strings.Repeat(pad, 550))))
			// A bodyless request with a large head that FeedRequest
			// returns: let go by the next call.
			feedChunks(c, Client, []byte("GET /big HTTP/1.1\r\nHost: h\r\n"+strings.Repeat(pad, 550)+"\r\n"))
			feedChunks(c, Server, []byte("HTTP/1.1 204 No Content\r\n\r\n"))
			feedChunks(c, Client, []byte("GET /small HTTP/1.1\r\nHost: h\r\n\r\n"))
			feedChunks(c, Server, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h retainCount
			c, held := heldAfter(&h, func(c *Conn) { tt.feed(t, c) })
			if got := fmt.Sprintf("%d requests, %d responses, %d messages, %d errors", h.req, h.resp, h.msg, h.err); got != tt.want {
				t.Errorf("decoded %s, want %s", got, tt.want)
			}
			total := 0
			for name, n := range retained(c) {
				total += n
				if n > retainMax {
					t.Errorf("%s: %d bytes kept, want at most %d", name, n, retainMax)
				}
			}
			// The inflater's window (32 KiB a direction under context
			// takeover) is state, not a buffer: it stays.
			if held > 512<<10 {
				t.Errorf("the Conn holds %d KiB of heap after the large messages (buffers %d KiB), want at most 512", held>>10, total>>10)
			}
			t.Logf("heap held %d KiB, buffers %d KiB", held>>10, total>>10)
			runtime.KeepAlive(c)
		})
	}
}

// TestIdleWebSocketLetsHTTPGo checks that a connection whose both
// directions carry WebSocket frames lets its HTTP/1.x state go at Idle
// (issue 15: an idle WebSocket holds no HTTP message), and only then: a
// pipelined request still owed its answer, or a 101 whose client bytes are
// still held, keeps it. What comes after (frames, the close, the ends) is
// decoded as before.
func TestIdleWebSocketLetsHTTPGo(t *testing.T) {
	var h retainCount
	c := NewConn(Config{}, &h)
	feedChunks(c, Client, []byte(wsHandshake))
	if c.Idle() || c.dir[Client].h1Message == nil {
		t.Fatal("Idle let the HTTP state go while the upgrade was unanswered")
	}
	feedChunks(c, Server, []byte(wsAnswer))
	if !c.Idle() {
		t.Fatal("Idle after the 101 did not report a WebSocket-only connection")
	}
	if c.dir[Client].h1Message != nil || c.dir[Server].h1Message != nil || c.queue != nil {
		t.Fatal("the HTTP/1.x messages and queue are still held after Idle")
	}
	feedChunks(c, Client, wsFrameBytes(ws.OpText, true, 0, true, []byte("hello")))
	feedChunks(c, Server, wsFrameBytes(ws.OpText, true, 0, false, []byte("world")))
	feedChunks(c, Client, wsFrameBytes(ws.OpClose, true, 0, true, []byte{0x03, 0xe8}))
	feedChunks(c, Server, wsFrameBytes(ws.OpClose, true, 0, false, []byte{0x03, 0xe8}))
	if !c.Idle() {
		t.Error("Idle no longer reports a WebSocket-only connection")
	}
	c.End(Client)
	c.End(Server)
	if !c.Idle() {
		t.Error("Idle after both ends does not report a WebSocket-only connection")
	}
	if got, want := fmt.Sprintf("%d requests, %d responses, %d messages, %d errors", h.req, h.resp, h.msg, h.err), "1 requests, 1 responses, 4 messages, 0 errors"; got != want {
		t.Errorf("decoded %s, want %s", got, want)
	}
	if hs, ok := c.CloseHandshake(); !ok || !hs.Sent[Client] || !hs.Sent[Server] {
		t.Errorf("close handshake %+v (ok %v), want both sides' close", hs, ok)
	}

	// A plain HTTP connection keeps its state.
	c = NewConn(Config{}, &h)
	feedChunks(c, Client, []byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
	feedChunks(c, Server, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
	if c.Idle() || c.dir[Client].h1Message == nil {
		t.Error("Idle let an HTTP/1.1 connection's state go")
	}
}
