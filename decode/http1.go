package decode

import "errors"

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

	// Issue 10: a streaming response (push.go). Its body went to the
	// Handler's Push as it arrived: Body is nil, BodyLen counts it.
	Streaming Streaming
	Events    int64 // SSE events dispatched
	Comments  int64 // SSE comment lines
	Chunks    int64 // lines or chunks delivered
}

// Causes of the errors a Conn reports about HTTP/1.x. Each such error is an
// *HTTPError that wraps one of them: test with errors.Is, read the details
// with errors.As.
var (
	// ErrHTTPSyntax reports a start line or field line that breaks the
	// grammar of RFC 9112 sections 3 to 5.
	ErrHTTPSyntax = errors.New("http syntax")
	// ErrHeadTooLarge reports a head, trailer section or chunk-size line
	// longer than Config.MaxHead.
	ErrHeadTooLarge = errors.New("header too large")
	// ErrHTTPFraming reports a body whose framing cannot be trusted:
	// Content-Length, Transfer-Encoding or the chunked coding (RFC 9112
	// sections 6 and 7).
	ErrHTTPFraming = errors.New("http message framing")
	// ErrHTTPCutShort reports a stream that ended inside a message.
	ErrHTTPCutShort = errors.New("http message cut short")
	// ErrHTTPSequence reports an exchange out of order: a response that no
	// request asked for, a 101 that no Upgrade asked for, a switch before
	// the request ended, or more than 64 KiB sent before the answer to an
	// upgrade or a CONNECT.
	ErrHTTPSequence = errors.New("http exchange out of order")
	// ErrHandshake reports a WebSocket opening handshake that breaks RFC
	// 6455 section 4: a wrong Sec-WebSocket-Accept, a subprotocol or
	// extension the client did not offer.
	ErrHandshake = errors.New("websocket handshake")
)

// HTTPError is an HTTP/1.x rule broken by the bytes of one side. Its message
// names the rule and where it broke, e.g. `request line: invalid method
// "\x00GE"` or `body cut short: 10 of 100 bytes`. It is not changed once
// reported, so it is safe to share.
type HTTPError struct {
	Side   Side
	Seq    int   // the exchange the message belongs to; 0 when not known
	Offset int64 // where the message that broke the rule starts in Side's bytes
	Opaque bool  // Side's bytes are not decoded any more on this connection
	Err    error // the cause: one of the ErrHTTP*, ErrHeadTooLarge or ErrHandshake sentinels
	Msg    string
}

func (e *HTTPError) Error() string { return e.Msg }

func (e *HTTPError) Unwrap() error { return e.Err }

// h1State is where a direction is in its byte stream.
type h1State uint8

const (
	h1Head       h1State = iota // reading a start line and fields
	h1Body                      // a Content-Length body: remain bytes left
	h1ChunkSize                 // a chunk-size line (RFC 9112 section 7.1)
	h1ChunkData                 // chunk data: remain bytes left
	h1ChunkCR                   // the CRLF after chunk data
	h1ChunkLF                   // the LF of that CRLF
	h1Trailers                  // the trailer section (RFC 9112 section 7.1.2)
	h1UntilClose                // a response body framed by the end of the stream
	h1Wait                      // client: held in Conn.wait until the answer to an upgrade or CONNECT
	h1Tunnel                    // after a 2xx to CONNECT, until the first client byte says what runs inside
	h1WS                        // WebSocket: bytes go to a wsStream
	h1Sniff                     // client: bytes that agree with the HTTP/2 preface so far, held until it is known whether they are one
	h1Hold                      // server: bytes held in Conn.early while the client's first bytes may yet be the HTTP/2 preface
	h1H2                        // HTTP/2: bytes go to Conn.h2
	h1Opaque                    // not decoded: after a parse error, TLS in a tunnel, or another protocol
	h1Ended                     // End was called
)

// h1Stream is the HTTP/1.x decoding state of one direction. Its buffers are
// reused from message to message.
type h1Stream struct {
	side   Side
	state  h1State
	off    int64 // bytes of this direction consumed so far
	msgOff int64 // where the current message starts

	// What it holds of the message being read: head bytes, fields, body.
	// nil once the connection is a WebSocket (Conn.dropHTTP1).
	*h1Message

	// The head scanner.
	line    int  // bytes of the current line so far
	lineCR  bool // the current line so far is a lone CR
	started bool // a non-empty line of the head was seen (empty lines before one are skipped)
	rawHead bool // the head being read was replayed, so FeedRequest does not hand it out
	begun   bool // Progress.Begin was called for the head being read

	// The message.
	bodyLen int64
	want    int64 // the Content-Length
	remain  int64 // bytes left in the body or the chunk

	// The chunk-size line.
	csize   int64
	cdigits bool // a hex digit was seen
	cafter  bool // whitespace or an extension followed the size
	cext    bool // in a chunk extension
	ccr     bool // the last byte was a CR
	cbareLF bool // the line ended in a bare LF
	cline   int  // bytes of the line

	bareLFSaid bool // a bare LF in this chunked body was reported

	headOut    bool // the head being decoded is handed out by FeedRequest
	letGoLater bool // the request handed out is let go at the next call

	headErr    error // the client's bytes stopped being decodable (a head or body error), for FeedRequest
	endPending bool  // End came while the bytes were held (h1Wait, h1Hold)

	push *pushStream // issue 10: the response's body streams (push.go); nil when it does not
}

// h1Message is what one direction holds of the HTTP/1.x message being
// read: the bytes of an incomplete head, the decoded head, its fields and
// the body kept. It is an allocation of its own, apart from the parsing
// state, so that a connection that became a WebSocket lets it go
// (Conn.dropHTTP1): an idle WebSocket holds no HTTP/1.x message (issue 15).
type h1Message struct {
	head   []byte // bytes of an incomplete head or trailer section
	req    Request
	resp   Response
	fields h1Fields // of the response head, for a 101
	hdrs   []Header
	trls   []Header
	body   []byte // the kept body bytes
}

// seqNo is the Seq of the message being read.
func (s *h1Stream) seqNo() int {
	if s.side == Client {
		return s.req.Seq
	}
	return s.resp.Seq
}

// h1FieldsMax is how many field lines the Header slices of a stream keep
// room for between messages: retainMax bytes of them.
const h1FieldsMax = retainMax / 32 // a Header is two strings

// reuseFields empties h for the next message, or lets it go if it grew past
// h1FieldsMax. Its strings point into the head it came from: they are
// cleared so that they do not keep that head alive.
func reuseFields(h []Header) []Header {
	clear(h)
	if cap(h) > h1FieldsMax {
		return nil
	}
	return h[:0]
}

// letGo releases what the message just delivered holds: its head's strings
// and fields, its body and trailers. Buffers that grew past retainMax go;
// smaller ones stay, emptied, for the next message.
func (s *h1Stream) letGo() {
	s.body = reuse(s.body)
	s.hdrs = reuseFields(s.hdrs)
	s.trls = reuseFields(s.trls)
	if s.side == Client {
		s.req = Request{}
	} else {
		s.resp = Response{}
	}
	s.fields = h1Fields{}
	s.letGoLater = false
}

func (s *h1Stream) newMessage() {
	s.body = s.body[:0]
	s.bodyLen, s.want, s.remain = 0, 0, 0
	s.trls = s.trls[:0]
	s.rawHead = false
	s.bareLFSaid = false
}

// proto is the HTTP version of the message being read.
func (s *h1Stream) proto() string {
	if s.side == Client {
		return s.req.Proto
	}
	return s.resp.Proto
}

// keep counts body bytes and keeps the first max of them.
func (s *h1Stream) keep(p []byte, max int) {
	if room := max - len(s.body); room > 0 {
		k := min(room, len(p))
		s.body = grow(s.body, k, max)
		s.body = append(s.body, p[:k]...)
	}
	s.bodyLen += int64(len(p))
}

// bodyOut is the kept body as a message field: nil when nothing was kept.
func (s *h1Stream) bodyOut() (body []byte, truncated bool) {
	if len(s.body) > 0 {
		body = s.body
	}
	return body, s.bodyLen > int64(len(s.body))
}

func (s *h1Stream) trailersOut() []Header {
	if len(s.trls) == 0 {
		return nil
	}
	return s.trls
}

func (c *Conn) report(s *h1Stream, cause error, seq int, msg string) {
	c.h.Error(s.side, &HTTPError{Side: s.side, Seq: seq, Offset: s.msgOff, Err: cause, Msg: msg})
}

// fatal reports an error after which s.side's bytes are not decoded.
func (c *Conn) fatal(s *h1Stream, cause error, seq int, msg string) error {
	err := &HTTPError{Side: s.side, Seq: seq, Offset: s.msgOff, Opaque: true, Err: cause, Msg: msg}
	c.h.Error(s.side, err)
	s.state = h1Opaque
	c.lost = c.lost || s.side == Client
	return err
}

// fatalBody reports a body that breaks its framing and delivers the
// message with what arrived.
func (c *Conn) fatalBody(s *h1Stream, msg string) {
	err := c.fatal(s, ErrHTTPFraming, s.seqNo(), msg)
	if s.side == Client {
		s.headErr = err
	}
	c.endMessage(s)
	if s.state != h1Ended {
		s.state = h1Opaque
	}
}
