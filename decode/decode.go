// Package decode turns the two byte streams of one TCP connection into
// protocol values: HTTP/1.x requests and responses (RFC 9112), HTTP/2
// frames, streams and exchanges (RFC 9113, HPACK RFC 7541), the WebSocket
// upgrade handshake, and WebSocket frames and messages (RFC 6455, with
// permessage-deflate, RFC 7692), over HTTP/1.1 or on an HTTP/2 stream (RFC
// 8441).
//
// It is pure: bytes in, values out. It opens no sockets, starts no
// goroutines, reads no clock and logs nothing, so every path can be tested
// with byte fixtures. Non-compliant input is decoded as far as it goes and
// reported through Handler.Error; the caller relays the bytes unchanged
// whatever the decoder thinks of them.
//
// The files follow the protocols: conn.go is the one place where a
// connection switches from one protocol to the next; http1*.go decode
// HTTP/1.x (heads, fields, bodies, the pairing of requests and responses);
// h2*.go HTTP/2 (h2.go says which file does what);
// upgrade.go the switch a 101 makes; websocket*.go RFC 6455 frames and
// messages; permessage_deflate.go RFC 7692; buffers.go how buffers are
// reused and given back; push.go (with http1_push.go, h2_push.go and the
// parser sse.go) the bodies that stream: Server-Sent Events, line-delimited
// JSON, chunks of a response still open (the optional Push interface).
package decode

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

// Handler receives what a Conn decodes, in the order the bytes carried it.
// A Conn calls it from the goroutine that calls Feed or End. The slices it
// is given (headers, bodies, payloads) are valid only during the call: the
// buffers behind them are reused, by the same Conn or, for large ones, by
// another connection.
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

// Progress is an optional interface of a Handler that follows messages
// while they stream, not only once they are complete: a dashboard shows a
// response as soon as its head arrives, and timings need to know when a
// message began. NewConn looks for it once. Its methods are called like
// Handler's: from the goroutine that feeds the Conn, in wire order, with
// slices valid only during the call. The complete message still comes
// through Request or Response afterwards.
//
// The calls are protocol-neutral: an HTTP/2 decoder makes the same ones
// for each stream (Stream set, Seq the exchange's).
type Progress interface {
	// Begin says that the bytes being fed hold the first byte of a new
	// request head (from Client) or response head (from Server).
	Begin(from Side)
	// RequestHead and ResponseHead deliver a head as soon as it is
	// decoded, before its body: Body and Trailers are nil, BodyLen is 0.
	RequestHead(*Request)
	ResponseHead(*Response)
	// BodyBytes delivers body bytes of the message being read from a side
	// as they are decoded: the transfer coding (chunked) is removed,
	// content codings are not. stream is 0 for HTTP/1.x.
	BodyBytes(from Side, seq int, stream uint32, p []byte)
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
