// Package capture defines frametap's event model and its capture log: one
// JSON object per line (JSON Lines), written by Log and read back by Reader.
// The format is public and documented in docs/capture-format.md.
package capture

import "time"

// Kind names what an Event records.
type Kind string

const (
	KindOpen     Kind = "open"     // a client connection was accepted
	KindClose    Kind = "close"    // a client connection ended
	KindRequest  Kind = "request"  // an HTTP request, complete with its body
	KindResponse Kind = "response" // an HTTP response, complete with its body
	KindUpgrade  Kind = "upgrade"  // a 101 switched the connection to another protocol
	KindFrame    Kind = "frame"    // one WebSocket frame header
	KindMessage  Kind = "message"  // one WebSocket message or control frame
	KindError    Kind = "error"    // a protocol violation, a parse error or a failed dial
	KindTLS      Kind = "tls"      // frametap terminated TLS with one side of a connection
	KindGap      Kind = "gap"      // the capture log lost events to write errors (conn 0), written when writing resumed

	// HTTP/2 (issue 9)
	KindH2Frame Kind = "h2frame" // one HTTP/2 frame header, with the fields of its payload that say what it does
	// Issue 14: filter and acting on connections.
	KindMeta Kind = "meta" // how the capture was written (conn 0): the first event of a capture written with --filter

	// Push (issue 10): the body of a streaming response, as it arrives.
	KindSSE       Kind = "sse"        // one Server-Sent Event a text/event-stream response dispatched
	KindChunk     Kind = "chunk"      // one line (line-delimited types) or one HTTP chunk of a streaming response
	KindStreamEnd Kind = "stream_end" // a streaming response ended: what its body carried
)

// Event is one thing frametap saw on one client connection. It is flat: the
// fields a Kind uses are listed by its section below, and the writer emits
// exactly those (docs/capture-format.md). Events are immutable once handed
// to an output; an output that keeps one beyond the call must copy its slices.
type Event struct {
	Kind Kind      // every event: "kind"
	Conn uint64    // every event: "conn", unique in one run of frametap
	Time time.Time // every event: "t", RFC 3339 with nanoseconds
	From string    // "from": "client" or "server" (frame, message, and error where it has a side)

	// open
	Client string // "client": the client socket's ip:port
	Server string // "server": upstream host:port once known (open, request, response)
	Mode   string // "mode": "regular", "reverse", "socks5", "transparent" or "upstream" (open)

	// open, issue 12 (several listeners): the listener's address
	Listen string // "listen": frametap's own host:port the connection arrived on (open); omitted when empty

	// close
	BytesFromClient int64  // "bytes_from_client"
	BytesFromServer int64  // "bytes_from_server"
	Err             string // "err", when the connection ended by an error (close); omitted when empty
	WebSocket       bool   // the connection carried WebSocket: adds the ws_* fields below (close)
	WSClosedBy      string // "ws_closed_by": "client", "server" or "" (no close frame seen)
	WSCloseClean    bool   // "ws_close_clean": close frames both ways, then TCP ended without error

	// request and response
	Seq        int      // "seq": the exchange's 1-based index on its connection
	Method     string   // "method" (request)
	Target     string   // "target" (request), as sent
	Host       string   // "host" (request)
	Proto      string   // "proto"
	Status     int      // "status" (response)
	StatusText string   // "status_text" (response): the reason phrase
	Headers    []Header // "headers": [[name, value], ...] in wire order
	Trailers   []Header // "trailers", omitted when empty
	BodyLen    int64    // "body_len"
	Body       []byte   // "body" when valid UTF-8, else "body_b64"; omitted when empty (request, response)

	// upgrade
	Protocol    string // "protocol"
	Subprotocol string // "subprotocol"
	Extensions  string // "extensions"
	AcceptOK    bool   // "accept_ok"

	// frame
	Fin    bool  // "fin"
	RSV    uint8 // "rsv", 0-7
	Opcode uint8 // "opcode" (frame)
	Masked bool  // "masked"
	Len    int64 // "len": payload length (frame; message: after inflating)

	// message
	Op         string // "op": "text", "binary", "ping", "pong", "close"
	Frames     int    // "frames"
	WireLen    int64  // "wire_len": payload bytes on the wire
	Compressed bool   // "compressed"
	Payload    []byte // "text" (op text, valid UTF-8) or "data" (base64) otherwise; close: omitted
	Code       int    // "code" (close message; 0 when the frame had no body)
	Reason     string // "reason" (close message)

	// request, response, message
	Truncated bool // "truncated", written only when true: Body or Payload was cut at the limit

	// error and gap
	Msg string // "msg": what went wrong; for gap, the write error

	// gap: written by the Log itself, with Conn 0 and Time when writing
	// resumed
	Lost  int64     // "lost": events that could not be written
	Since time.Time // "since": when the first of them was lost (the first failed write)

	// request ("https") and upgrade ("wss"): the scheme when the exchange
	// ran inside TLS that frametap terminated; omitted (empty) otherwise
	Scheme string // "scheme"

	// tls
	Side     string // "side": "client" (frametap played the server) or "server" (frametap dialed it)
	SNI      string // "sni": the server name of the ClientHello, "" when none was sent
	ALPN     string // "alpn": the protocol negotiated, "" when none
	Version  string // "version": e.g. "TLS 1.3"
	Cipher   string // "cipher": the cipher suite's IANA name
	Subject  string // "subject" (side server): the upstream certificate's subject
	Issuer   string // "issuer" (side server): its issuer
	Verified bool   // "verified" (side server): the certificate verified against the trusted roots

	// HTTP/2 (RFC 9113; issue 9). Stream is also on request, response,
	// upgrade, frame and message when they ran on an HTTP/2 stream; on
	// those it is omitted when 0 (HTTP/1.x). A request's Protocol is its
	// :protocol (an extended CONNECT, RFC 8441), its Scheme its :scheme.
	Stream     uint32    // "stream": the stream identifier (h2frame: always, 0 for the connection)
	Pushed     bool      // "pushed" (request): promised by the server (PUSH_PROMISE); written only when true
	Reset      string    // "reset" (response): the RST_STREAM error code that ended the stream first, e.g. "CANCEL"; omitted when empty
	FrameType  string    // "type" (h2frame): "DATA", "HEADERS", ..., or "0xNN" for a type frametap does not name
	Flags      uint8     // "flags" (h2frame)
	Settings   []Setting // "settings" (h2frame SETTINGS): in wire order, [[name, value], ...]
	ErrCode    string    // "code" (h2frame RST_STREAM and GOAWAY): the error code's name, e.g. "NO_ERROR", or "0xNN"
	LastStream uint32    // "last_stream" (h2frame GOAWAY)
	Increment  uint32    // "increment" (h2frame WINDOW_UPDATE)
	Promised   uint32    // "promised" (h2frame PUSH_PROMISE)
	Ack        bool      // "ack" (h2frame SETTINGS and PING)
	H2         bool      // close: the connection spoke HTTP/2: adds h2_streams and h2_max_open
	H2Streams  int       // "h2_streams" (close): streams the connection carried (opened by HEADERS or PUSH_PROMISE)
	H2MaxOpen  int       // "h2_max_open" (close): the most streams open at once

	// Issue 14: filter and acting on connections.
	Filter   string // "filter" (meta): the filter expression the capture was written with, as given
	Injected bool   // "injected" (frame, message), written only when true: frametap wrote it into the connection itself

	// Readable bodies and timings (issue 13); docs/capture-format.md
	// "Content codings" and "Timings". Written by json_http.go.

	// request and response: the body's Content-Encoding undone
	Decoded          bool   // the body had a content coding and decoded whole: "decoded_len" is written
	DecodedLen       int64  // "decoded_len": the body's length once its content codings are undone
	DecodeErr        string // "decode_error": why an encoded body did not decode whole; omitted when empty
	DecodedBody      []byte // "decoded_body" when valid UTF-8, else "decoded_body_b64" (--decode-bodies); omitted when empty
	DecodedTruncated bool   // "decoded_truncated", written only when true: DecodedBody holds only the first bytes

	// response: frametap answered the client itself (its 200 to a CONNECT,
	// its 400, 408 and 502): the bytes are not the server's
	ByFrametap bool // "by_frametap", written only when true

	// response: timings, written as milliseconds (fractions allowed).
	// Connect and TLSTime are written when above 0: on the exchange that
	// opened the upstream connection. Send, Wait and Receive are written
	// when Timed; Wait is left out when negative (the response began
	// before the request ended).
	Connect time.Duration // "connect_ms": dialing the upstream (TCP connect)
	TLSTime time.Duration // "tls_ms": the TLS handshake with the upstream
	Timed   bool          // send_ms, wait_ms and receive_ms are written
	Send    time.Duration // "send_ms": the request's first byte to its last
	Wait    time.Duration // "wait_ms": the request's last byte to the response's first (time to first byte)
	Receive time.Duration // "receive_ms": the response's first byte to its last

	// tls: how long the handshake took, written when above 0
	Handshake time.Duration // "handshake_ms"

	// Push (issue 10): Server-Sent Events, streaming responses and the
	// push mechanism of a connection; docs/capture-format.md "Push".
	// Written by json_push.go. An sse event's data and a chunk's bytes
	// are in Payload (sse: "data", always text; chunk: "text" or "data"
	// as a message's), Len is their bytes on the wire, Truncated says
	// Payload was cut at --max-body.
	Streaming bool   // "streaming" (response), written only when true: written at its head, its body follows as sse or chunk events, then stream_end
	SSEType   string // "event" (sse): the event type, "message" when its block set none
	SSEID     string // "id" (sse), written when HasSSEID
	HasSSEID  bool   // the event's own block set an id
	Retry     int64  // "retry" (sse), written when HasRetry: the reconnection time in milliseconds
	HasRetry  bool   // the event's own block set a retry
	Comments  int64  // "comments" (sse: comment lines in its block; stream_end: in the whole body), written when above 0
	Events    int64  // "events" (stream_end of an event stream): sse events dispatched
	Chunks    int64  // "chunks" (stream_end of other streaming responses): chunk events
	Push      string // "push" (close): the push mechanism the connection carried, capture/push names them
}

// Setting is one HTTP/2 setting (RFC 9113 section 6.5.1), written as a
// two-element JSON array: its name (e.g. "HEADER_TABLE_SIZE", or "0xNN"
// for one frametap does not name) and its value.
type Setting struct {
	Name  string
	Value uint32
}

// Header is one header field, written as a two-element JSON array.
type Header [2]string
