package decode

import (
	"errors"
	"fmt"

	"golang.org/x/net/http2"
)

// The values an HTTP/2 connection reports beside Request, Response,
// Upgrade, Frame and Message, and its errors.

// H2Handler is a Handler that also receives the header of every HTTP/2
// frame. A Handler that is not an H2Handler gets everything else.
type H2Handler interface {
	Handler
	H2Frame(Side, *H2Frame)
}

// H2Type is an HTTP/2 frame type (RFC 9113 section 6, RFC 9218 section 7.1).
type H2Type uint8

// The frame types frametap names; others print as "0xNN".
const (
	H2Data           H2Type = 0x0
	H2Headers        H2Type = 0x1
	H2Priority       H2Type = 0x2
	H2RSTStream      H2Type = 0x3
	H2Settings       H2Type = 0x4
	H2PushPromise    H2Type = 0x5
	H2Ping           H2Type = 0x6
	H2GoAway         H2Type = 0x7
	H2WindowUpdate   H2Type = 0x8
	H2Continuation   H2Type = 0x9
	H2PriorityUpdate H2Type = 0x10
)

// h2TypeNames names every frame type without allocating.
var h2TypeNames = func() (t [256]string) {
	for i := range t {
		t[i] = fmt.Sprintf("0x%02x", i)
	}
	copy(t[:], []string{"DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION"})
	t[H2PriorityUpdate] = "PRIORITY_UPDATE"
	return t
}()

// String returns the type's name, e.g. "HEADERS", or "0x0a" for a type
// frametap does not know.
func (t H2Type) String() string { return h2TypeNames[t] }

// H2Code is an HTTP/2 error code (RFC 9113 section 7).
type H2Code uint32

// String returns the code's name, e.g. "CANCEL", or "0x1f" for an unknown
// code.
func (c H2Code) String() string {
	if c <= 0xd {
		return http2.ErrCode(c).String()
	}
	return fmt.Sprintf("0x%02x", uint32(c))
}

// H2Setting is one setting of a SETTINGS frame (RFC 9113 section 6.5.1).
type H2Setting struct {
	ID    uint16
	Value uint32
}

// Name returns the setting's name, e.g. "HEADER_TABLE_SIZE" or
// "ENABLE_CONNECT_PROTOCOL", or "0x0a" for an unknown one.
func (s H2Setting) Name() string {
	if s.ID >= 1 && s.ID <= 9 && s.ID != 7 {
		return http2.SettingID(s.ID).String()
	}
	return fmt.Sprintf("0x%02x", s.ID)
}

// H2Frame is the header of one HTTP/2 frame (RFC 9113 section 4.1) with
// the fields of its payload that say what it does. It is reported once
// those fields have arrived: after the 9-byte header and the padding
// length, priority or promised stream of a DATA, HEADERS or PUSH_PROMISE
// frame, and after the whole payload of the other frames; so before
// anything its payload carries. Settings is valid only during the call.
type H2Frame struct {
	Stream uint32
	Type   H2Type
	Flags  uint8
	Len    int // payload length, padding included

	// Undecoded says that the payload's fields could not be read: the
	// frame is malformed (RFC 9113 section 6) or too long to buffer. An
	// error follows, and the fields below are zero.
	Undecoded bool

	Settings   []H2Setting // SETTINGS: in wire order, unknown ones included
	Ack        bool        // SETTINGS, PING: the ACK flag
	Code       H2Code      // RST_STREAM, GOAWAY
	LastStream uint32      // GOAWAY
	Increment  uint32      // WINDOW_UPDATE
	Promised   uint32      // PUSH_PROMISE
}

// H2Stats says how many streams an HTTP/2 connection carried: those opened
// by HEADERS or PUSH_PROMISE (and stream 1 of an h2c upgrade), and the most
// that were open at once.
type H2Stats struct {
	Streams int
	MaxOpen int
}

// Causes of the errors an HTTP/2 connection reports. Each such error is an
// *H2Error that wraps one of them (or, on a WebSocket stream, a WebSocket
// decoder error).
var (
	// ErrH2Preface reports a client connection preface other than
	// "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" (RFC 9113 section 3.4): the
	// client's bytes are not decoded any more.
	ErrH2Preface = errors.New("http2 connection preface")
	// ErrH2Frame reports a frame that breaks RFC 9113 section 6: a wrong
	// length for its type, padding longer than the payload, a stream
	// identifier where none may be, or none where one must be.
	ErrH2Frame = errors.New("http2 malformed frame")
	// ErrH2FrameSize reports a frame longer than the receiver's
	// SETTINGS_MAX_FRAME_SIZE (RFC 9113 section 4.2).
	ErrH2FrameSize = errors.New("http2 frame size")
	// ErrH2Sequence reports a frame where RFC 9113 sections 5.1, 6.2 and
	// 6.10 do not allow it: a first frame other than SETTINGS, a header
	// block interrupted, a CONTINUATION without one, HEADERS on a closed
	// stream, DATA on an idle one, a SETTINGS ACK without SETTINGS.
	ErrH2Sequence = errors.New("http2 frame out of sequence")
	// ErrH2HPACK reports a header block that HPACK (RFC 7541) cannot
	// decode. The decoding context of that direction is lost with it, so
	// its header blocks are not decoded for the rest of the connection;
	// frames still are.
	ErrH2HPACK = errors.New("http2 header compression")
	// ErrH2Headers reports a header section that breaks RFC 9113 section
	// 8: field names that are not lowercase, values with CR, LF or NUL,
	// pseudo-header fields missing, repeated, unknown or after regular
	// ones, connection-specific fields, a content-length that disagrees
	// with the DATA, trailers without END_STREAM.
	ErrH2Headers = errors.New("http2 header section")
	// ErrH2Limit reports traffic past one of frametap's bounds: streams
	// tracked at once, bytes kept across open streams, a CONTINUATION
	// flood, unacknowledged SETTINGS, WebSocket streams decoded at once, a
	// control frame too long to buffer, an HPACK table larger than 1 MiB.
	// What is past the bound is counted but not kept.
	ErrH2Limit = errors.New("http2 decoder limit")
	// ErrH2CutShort reports a connection that ended inside a frame, a
	// header block, or a stream.
	ErrH2CutShort = errors.New("http2 cut short")
)

// H2Error is an HTTP/2 rule broken by the bytes of one side, or one of
// frametap's bounds reached. Its message says where, e.g. "stream 3:
// HEADERS after END_STREAM". Each kind of error is reported once per side
// and connection. It is not changed once reported, so it is safe to share.
type H2Error struct {
	Side   Side
	Stream uint32 // the stream concerned; 0 for the connection
	Opaque bool   // Side's bytes are not decoded any more
	Err    error  // one of the ErrH2* sentinels, ErrHeadTooLarge, or a WebSocket decoder's error
	Msg    string
}

func (e *H2Error) Error() string { return e.Msg }
func (e *H2Error) Unwrap() error { return e.Err }
