package decode

import (
	"math/rand/v2"
	"testing"

	"github.com/gobwas/ws"
)

// wsConnPair returns a Conn whose handshake is done: both directions are
// WebSocket.
func wsConnPair(t testing.TB) *Conn {
	t.Helper()
	c := NewConn(Config{}, wsNop{})
	c.Feed(Client, []byte("GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	c.Feed(Server, []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"))
	if !c.WebSocket(Client) || !c.WebSocket(Server) {
		t.Fatal("handshake did not switch both directions to WebSocket")
	}
	return c
}

// boundaryStream is frames of a server: whole messages, fragmented ones
// with pings between their fragments, empty frames, a 16-bit length.
func boundaryStream(r *rand.Rand) []byte {
	var out []byte
	for range 12 {
		switch r.IntN(5) {
		case 0:
			out = append(out, sf(ws.OpText, true, 0, "hello")...)
		case 1:
			out = append(out, sf(ws.OpBinary, false, 0, "ab")...)
			out = append(out, sf(ws.OpPing, true, 0, "p")...)
			out = append(out, sf(ws.OpContinuation, false, 0, "")...)
			out = append(out, sf(ws.OpContinuation, true, 0, "cd")...)
		case 2:
			out = append(out, sf(ws.OpPong, true, 0, "")...)
		case 3:
			out = append(out, sf(ws.OpText, true, 0, string(make([]byte, 300)))...)
		case 4:
			out = append(out, sf(ws.OpText, false, 0, "x")...)
			out = append(out, sf(ws.OpContinuation, true, 0, "")...)
		}
	}
	return out
}

// NextMessageBoundary predicts, from any state and for any bytes that
// follow, the first point where AtMessageBoundary holds, as feeding byte
// by byte finds it.
func TestNextMessageBoundary(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 14))
	for round := range 20 {
		in := boundaryStream(r)
		// truth[i]: at a boundary after feeding in[:i].
		truth := make([]bool, len(in)+1)
		c := wsConnPair(t)
		truth[0] = c.AtMessageBoundary(Server)
		for i := range in {
			c.Feed(Server, in[i:i+1])
			truth[i+1] = c.AtMessageBoundary(Server)
		}
		if !truth[len(in)] {
			t.Fatalf("round %d: the stream does not end at a boundary", round)
		}
		// From a few states, ask about every suffix length.
		for start := 0; start < len(in); start += 1 + r.IntN(7) {
			c := wsConnPair(t)
			c.Feed(Server, in[:start])
			for end := start; end <= len(in); end += 1 + r.IntN(5) {
				n, ok := c.NextMessageBoundary(Server, in[start:end])
				want, wantOK := 0, false
				for k := start; k <= end; k++ {
					if truth[k] {
						want, wantOK = k-start, true
						break
					}
				}
				if n != want || ok != wantOK {
					t.Fatalf("round %d: after %d bytes, NextMessageBoundary(in[%d:%d]) = %d, %v; want %d, %v", round, start, start, end, n, ok, want, wantOK)
				}
			}
		}
	}
}

func TestBoundaryOutsideWebSocket(t *testing.T) {
	c := NewConn(Config{}, wsNop{})
	if c.WebSocket(Client) || c.AtMessageBoundary(Client) {
		t.Error("a fresh connection is no WebSocket")
	}
	if _, ok := c.NextMessageBoundary(Client, []byte("GET")); ok {
		t.Error("a boundary found in HTTP bytes")
	}
	c = wsConnPair(t)
	if c.CloseSent(Client) {
		t.Error("close sent before any frame")
	}
	c.Feed(Client, cf(ws.OpClose, true, 0, closeBody(1000, "bye")))
	if !c.CloseSent(Client) || c.CloseSent(Server) {
		t.Error("CloseSent does not follow the client's close frame")
	}
	c.End(Server)
	if c.WebSocket(Server) {
		t.Error("an ended direction is still WebSocket")
	}
}

// FuzzNextMessageBoundary checks the prediction against the decoder on any
// bytes: fed up to the n it returns, the decoder is at a boundary, and at
// no point before.
func FuzzNextMessageBoundary(f *testing.F) {
	f.Add(0, boundaryStream(rand.New(rand.NewPCG(1, 2))))
	f.Add(3, cat(sf(ws.OpText, false, 0, "a"), sf(ws.OpPing, true, 0, ""), sf(ws.OpContinuation, true, 0, "b")))
	f.Fuzz(func(t *testing.T, start int, in []byte) {
		if len(in) > 4096 {
			return
		}
		if start < 0 || start > len(in) {
			start = 0
		}
		c := wsConnPair(t)
		c.Feed(Server, in[:start])
		n, ok := c.NextMessageBoundary(Server, in[start:])
		if n < 0 || n > len(in)-start {
			t.Fatalf("n = %d out of range 0..%d", n, len(in)-start)
		}
		if c.AtMessageBoundary(Server) != (ok && n == 0) {
			t.Fatalf("at a boundary %v, but NextMessageBoundary = %d, %v", c.AtMessageBoundary(Server), n, ok)
		}
		for i := start; i < len(in); i++ {
			c.Feed(Server, in[i:i+1])
			at := c.AtMessageBoundary(Server)
			k := i + 1 - start
			switch {
			case ok && k < n && at:
				t.Fatalf("at a boundary after %d bytes, before the predicted %d", k, n)
			case ok && k == n && !at:
				t.Fatalf("not at a boundary after the predicted %d bytes", n)
			case !ok && at:
				t.Fatalf("at a boundary after %d bytes, none predicted", k)
			}
			if k >= n && ok {
				return
			}
		}
	})
}
