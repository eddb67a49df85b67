// Package decode turns the two byte streams of one TCP connection into
// protocol values: HTTP/1.x requests and responses (RFC 9112), the WebSocket
// upgrade handshake, and WebSocket frames and messages (RFC 6455, with
// permessage-deflate, RFC 7692).
//
// It is pure: bytes in, values out. It opens no sockets, starts no
// goroutines, reads no clock and logs nothing, so every path can be tested
// with byte fixtures. Non-compliant input is decoded as far as it goes and
// reported through Handler.Error; the caller relays the bytes unchanged
// whatever the decoder thinks of them.
package decode

import "fmt"

// Side says which peer sent some bytes.
type Side uint8

const (
	Client Side = iota // the peer that opened the TCP connection
	Server             // the peer frametap dialed
)

func (s Side) String() string {
	if s == Client {
		return "client"
	}
	return "server"
}

// Other returns the opposite side.
func (s Side) Other() Side { return 1 - s }

// Header is one header field as it was on the wire: name casing and order
// are kept (net/http loses both).
type Header struct {
	Name, Value string
}

// Request is one HTTP/1.x request (RFC 9112 section 3), complete with its body.
//
// An HTTP/2 request (RFC 9113 section 8.3.1) has Proto "HTTP/2.0"; Method is
// :method, Target :path (:authority for a CONNECT without :path), Host
// :authority (else the host field), Headers are in wire order with the
// pseudo-header fields, Trailers are its trailer section.
//
// Slices (Headers, Body, Trailers) are valid only during the Handler call
// that receives the Request: copy what you keep.
type Request struct {
	Seq       int    // 1-based index of the exchange on its connection
	Method    string // as sent
	Target    string // request-target as sent (origin-, absolute-, authority- or asterisk-form)
	Proto     string // "HTTP/1.1" or "HTTP/1.0"
	Host      string // the authority of an absolute-form target, else the Host header, else a CONNECT's target (RFC 9112 section 3.2.2)
	Headers   []Header
	Trailers  []Header // trailer fields of a chunked body
	BodyLen   int64    // body length without chunked framing; content codings are not undone
	Body      []byte   // the first Config.MaxBody bytes of the body
	Truncated bool     // the body was longer than Body

	// HTTP/2 only.
	Stream   uint32 // the stream identifier; 0 for HTTP/1.x
	Scheme   string // :scheme
	Protocol string // :protocol of an extended CONNECT (RFC 8441 section 4), e.g. "websocket"
	Pushed   bool   // promised by the server in a PUSH_PROMISE (RFC 9113 section 8.4)
}

// Response is one HTTP/1.x response (RFC 9112 section 4), complete with its
// body. Slices are valid only during the Handler call.
//
// An HTTP/2 response (RFC 9113 section 8.3.2) has Proto "HTTP/2.0", no
// Reason, and Headers that include :status. Status is 0 when the stream
// was reset before the response's header section arrived.
type Response struct {
	Seq       int // Seq of the request it answers; 0 if no request was outstanding
	Proto     string
	Status    int
	Reason    string
	Headers   []Header
	Trailers  []Header
	BodyLen   int64
	Body      []byte
	Truncated bool

	// HTTP/2 only.
	Stream uint32 // the stream identifier; 0 for HTTP/1.x
	Reset  string // the RST_STREAM error code that ended the stream before the response ended, e.g. "CANCEL"
}

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

// Frame is one WebSocket frame header (RFC 6455 section 5.2).
type Frame struct {
	Fin    bool
	RSV    uint8 // RSV1 is 4, RSV2 is 2, RSV3 is 1
	Opcode uint8
	Masked bool
	Len    int64 // payload length as announced

	Stream uint32 // the HTTP/2 stream that carries the WebSocket (RFC 8441); 0 over HTTP/1.1
}

// Message is one WebSocket message: a data message reassembled from its
// frames, or one control frame. Payload is valid only during the Handler call.
type Message struct {
	Opcode     uint8  // of the first frame: 1 text, 2 binary, 8 close, 9 ping, 10 pong
	Frames     int    // how many frames carried it
	Len        int64  // payload length after inflating; a lower bound when ErrInflateLimit stopped inflating
	WireLen    int64  // payload length on the wire (equals Len when not compressed)
	Compressed bool   // RSV1 on the first frame under permessage-deflate
	Payload    []byte // the first Config.MaxMessage bytes of the (inflated) payload
	Truncated  bool   // Payload is shorter than Len
	// Close frames only (RFC 6455 section 5.5.1).
	CloseCode   int    // 0 when the close frame had no body
	CloseReason string //

	Stream uint32 // the HTTP/2 stream that carries the WebSocket (RFC 8441); 0 over HTTP/1.1
}

// OpName names a WebSocket opcode: "text", "binary", "close", "ping",
// "pong", "continuation", or "0x3" style for reserved ones.
func OpName(op uint8) string {
	switch op {
	case 0:
		return "continuation"
	case 1:
		return "text"
	case 2:
		return "binary"
	case 8:
		return "close"
	case 9:
		return "ping"
	case 10:
		return "pong"
	}
	return fmt.Sprintf("0x%x", op)
}

// Handler receives what a Conn decodes, in the order the bytes carried it.
// A Conn calls it from the goroutine that calls Feed or End.
type Handler interface {
	Request(*Request)
	Response(*Response)
	Upgrade(*Upgrade)
	Frame(Side, *Frame)
	Message(Side, *Message)
	// Error reports input that breaks a protocol rule, or that could not
	// be decoded at all. Decoding goes on where the stream allows.
	Error(Side, error)
}

// Config bounds what a Conn keeps. The zero value is usable.
type Config struct {
	MaxBody    int // body bytes kept per HTTP message; 0 means 1 MiB, <0 means none
	MaxMessage int // payload bytes kept per WebSocket message; 0 means 16 MiB, <0 means none
	MaxHead    int // bytes of a request or response head; 0 means 64 KiB
}

const (
	DefaultMaxBody    = 1 << 20
	DefaultMaxMessage = 16 << 20
	DefaultMaxHead    = 64 << 10
)

func (c Config) maxBody() int    { return limit(c.MaxBody, DefaultMaxBody) }
func (c Config) maxMessage() int { return limit(c.MaxMessage, DefaultMaxMessage) }
func (c Config) maxHead() int    { return limit(c.MaxHead, DefaultMaxHead) }

func limit(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}
