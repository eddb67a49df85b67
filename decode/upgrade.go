package decode

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
)

// Upgrade is a completed protocol switch: a request with Upgrade and its 101
// answer (RFC 9110 section 7.8, RFC 6455 section 4), or an HTTP/2
// extended CONNECT and its 2xx answer (RFC 8441 section 5), which have no
// Key or Accept.
type Upgrade struct {
	Seq         int
	Protocol    string // the Upgrade value of the 101, e.g. "websocket"
	Subprotocol string // Sec-WebSocket-Protocol of the 101
	Extensions  string // Sec-WebSocket-Extensions of the 101, as sent
	Key         string // Sec-WebSocket-Key of the request
	Accept      string // Sec-WebSocket-Accept of the 101
	AcceptOK    bool   // Accept is the digest of Key that RFC 6455 section 4.2.2 defines
	Deflate     bool   // permessage-deflate was negotiated

	Stream uint32 // HTTP/2: the stream that carries the new protocol; 0 for HTTP/1.1
}

// CloseHandshake is how the WebSocket closing handshake went (RFC 6455
// section 7.1), indexed by Side. First is valid when Sent[First].
type CloseHandshake struct {
	First  Side      // the side whose close frame came first
	Sent   [2]bool   // the side sent a close frame
	Code   [2]int    // its status code, 0 when it had no body
	Reason [2]string // its reason
}

// CloseHandshake says how the WebSocket closing handshake went; ok is false
// if the connection never switched to WebSocket.
func (c *Conn) CloseHandshake() (hs CloseHandshake, ok bool) {
	if c.ws[Client] == nil && c.ws[Server] == nil {
		return hs, false
	}
	c.noteClose(Client)
	c.noteClose(Server)
	return c.hs, true
}

// switchProtocols acts on a delivered 101 (RFC 9110 section 7.8): it
// reports the Upgrade, checks the WebSocket handshake (RFC 6455 section
// 4.2.2), and turns both directions to WebSocket, to HTTP/2 for h2c (RFC
// 7540 section 3.2), or to opaque for any other protocol.
func (c *Conn) switchProtocols(s *h1Stream, ex *h1Exchange, paired bool) {
	f := &s.fields
	seq := s.resp.Seq
	if !paired || !ex.upgrade {
		c.fatal(s, ErrHTTPSequence, seq, "101 Switching Protocols answers a request without Upgrade: the rest of the connection is not decoded")
		c.opaqueBoth()
		return
	}
	u := Upgrade{Seq: seq, Protocol: f.upgrade, Subprotocol: f.protocol, Extensions: f.extensions, Key: ex.key, Accept: f.accept}
	if ex.h2c && h1HasToken(f.upgrade, "h2c") {
		c.h.Upgrade(&u)
		c.upgradeH2(seq, ex.h2settings)
		return
	}
	if !ex.websocket || !h1HasToken(f.upgrade, "websocket") {
		c.h.Upgrade(&u)
		if ex.websocket {
			c.report(s, ErrHandshake, seq, fmt.Sprintf("101 switches to %q, which the request did not offer", h1Clip(f.upgrade)))
		}
		c.opaqueBoth()
		return
	}
	want := wsAccept(ex.key)
	u.AcceptOK = ex.key != "" && f.accept == want
	ws, err := newWSStream(Client, c.cfg, f.extensions)
	c.ws[Client] = ws
	c.ws[Server], _ = newWSStream(Server, c.cfg, f.extensions)
	if c.ws[Server] != nil {
		u.Deflate = c.ws[Server].deflate()
	}
	c.h.Upgrade(&u)
	if !u.AcceptOK {
		c.report(s, ErrHandshake, seq, fmt.Sprintf("websocket: Sec-WebSocket-Accept %q is not the digest of Sec-WebSocket-Key %q, want %q (RFC 6455 section 4.2.2)", h1Clip(f.accept), h1Clip(ex.key), want))
	}
	if u.Subprotocol != "" && !h1HasToken(ex.protocol, u.Subprotocol) {
		c.report(s, ErrHandshake, seq, fmt.Sprintf("websocket: the 101 selects subprotocol %q, which the request did not offer (RFC 6455 section 4.1)", h1Clip(u.Subprotocol)))
	}
	if u.Extensions != "" && ex.extensions == "" {
		c.report(s, ErrHandshake, seq, fmt.Sprintf("websocket: the 101 selects extensions %q, but the request offered none (RFC 6455 section 9.1)", h1Clip(u.Extensions)))
	}
	if err != nil {
		c.h.Error(Server, err)
	}
	s.state = h1WS
	if c.dir[Client].state == h1Wait {
		c.replay(h1WS)
	}
}

// wsAccept is the Sec-WebSocket-Accept for key: base64(SHA-1(key +
// "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")) (RFC 6455 section 4.2.2).
// gobwas/ws does not export its version.
func wsAccept(key string) string {
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// noteClose records the close frame side sent, and whether it came first.
func (c *Conn) noteClose(side Side) {
	w := c.ws[side]
	if w == nil || c.hs.Sent[side] {
		return
	}
	code, reason, seen := w.closeFrame()
	if !seen {
		return
	}
	c.hs.Sent[side], c.hs.Code[side], c.hs.Reason[side] = true, code, reason
	if !c.hs.Sent[side.Other()] {
		c.hs.First = side
	}
}
