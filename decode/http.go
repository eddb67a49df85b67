package decode

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
)

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

	// The head scanner.
	head    []byte // bytes of an incomplete head or trailer section
	line    int    // bytes of the current line so far
	lineCR  bool   // the current line so far is a lone CR
	started bool   // a non-empty line of the head was seen (empty lines before one are skipped)
	rawHead bool   // the head being read was replayed, so FeedRequest does not hand it out

	// The message.
	req     Request
	resp    Response
	fields  h1Fields // of the response head, for a 101
	hdrs    []Header
	trls    []Header
	body    []byte // the kept body bytes
	bodyLen int64
	want    int64 // the Content-Length
	remain  int64 // bytes left in the body or the chunk

	// The chunk-size line.
	csize   int64
	cdigits bool // a hex digit was seen
	cafter  bool // whitespace or an extension followed the size
	cext    bool // in a chunk extension
	cline   int  // bytes of the line

	headErr    error // the client's bytes stopped being decodable (a head or body error), for FeedRequest
	endPending bool  // End came while the bytes were held (h1Wait)
}

// seqNo is the Seq of the message being read.
func (s *h1Stream) seqNo() int {
	if s.side == Client {
		return s.req.Seq
	}
	return s.resp.Seq
}

func (s *h1Stream) newMessage() {
	s.body = s.body[:0]
	s.bodyLen, s.want, s.remain = 0, 0, 0
	s.trls = s.trls[:0]
	s.rawHead = false
}

// keep counts body bytes and keeps the first max of them.
func (s *h1Stream) keep(p []byte, max int) {
	if room := max - len(s.body); room > 0 {
		s.body = append(s.body, p[:min(room, len(p))]...)
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

// scanHead consumes the bytes of a head (RFC 9112 section 2.1: a start line
// and field lines) or of a trailer section from p, up to and including the
// empty line that ends it. Lines end in CRLF or a bare LF. Once that empty
// line has arrived it returns the whole head, valid until the next call;
// tooLarge is set when the head would pass max bytes. first is the head's
// first byte, or -1 while there is none. Empty lines before a start line
// are skipped: "a server that is expecting to receive and parse a
// request-line SHOULD ignore at least one empty line (CRLF) received prior
// to the request-line" (RFC 9112 section 2.2).
func (s *h1Stream) scanHead(p []byte, max int) (n int, head []byte, first int, tooLarge bool) {
	from := 0 // where this head's bytes start in p
	for n < len(p) {
		j := bytes.IndexByte(p[n:], '\n')
		if j < 0 {
			rest := p[n:]
			s.lineCR = s.line == 0 && len(rest) == 1 && rest[0] == '\r'
			s.line += len(rest)
			n = len(p)
			break
		}
		size := s.line + j // bytes of the line before its LF
		empty := size == 0 || size == 1 && (j == 1 && p[n] == '\r' || j == 0 && s.lineCR)
		n += j + 1
		s.line, s.lineCR = 0, false
		if !empty {
			s.started = true
			continue
		}
		if !s.started {
			s.head = s.head[:0]
			from = n
			continue
		}
		first = s.headFirst(p, from, n)
		if len(s.head)+n-from > max {
			return n, nil, first, true
		}
		if len(s.head) == 0 {
			head = p[from:n]
		} else {
			s.head = append(s.head, p[from:n]...)
			head = s.head
			s.head = s.head[:0]
		}
		s.started = false
		return n, head, first, false
	}
	first = s.headFirst(p, from, n)
	if len(s.head)+n-from > max {
		return n, nil, first, true
	}
	s.head = append(s.head, p[from:n]...)
	return n, nil, first, false
}

// headFirst is the first byte of a head held in s.head, then p[from:n].
func (s *h1Stream) headFirst(p []byte, from, n int) int {
	switch {
	case len(s.head) > 0:
		return int(s.head[0])
	case from < n:
		return int(p[from])
	}
	return -1
}

// h1Blank reports whether a partial head holds only line ends.
func h1Blank(b []byte) bool {
	for _, c := range b {
		if c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// h1NextLine splits the first line off a head, without its CRLF or LF.
func h1NextLine(s string) (line, rest string) {
	i := strings.IndexByte(s, '\n')
	if i < 0 {
		return s, ""
	}
	line, rest = s[:i], s[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// parseRequestLine parses request-line = method SP request-target SP
// HTTP-version (RFC 9112 section 3).
func parseRequestLine(line string) (method, target, proto, msg string) {
	sp := strings.IndexByte(line, ' ')
	if sp < 0 {
		return "", "", "", fmt.Sprintf("request line: no space in %q", h1Clip(line))
	}
	method = line[:sp]
	if method == "" || !h1Token(method) {
		return "", "", "", fmt.Sprintf("request line: invalid method %q", h1Clip(method))
	}
	rest := line[sp+1:]
	sp = strings.LastIndexByte(rest, ' ')
	if sp < 0 {
		return "", "", "", fmt.Sprintf("request line: no HTTP version in %q", h1Clip(line))
	}
	target, proto = rest[:sp], rest[sp+1:]
	if target == "" || strings.IndexFunc(target, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return "", "", "", fmt.Sprintf("request line: invalid target %q", h1Clip(target))
	}
	if msg := checkVersion(proto); msg != "" {
		return "", "", "", "request line: " + msg
	}
	return method, target, proto, ""
}

// parseStatusLine parses status-line = HTTP-version SP status-code SP
// [ reason-phrase ] (RFC 9112 section 4). A missing SP after the code is
// tolerated.
func parseStatusLine(line string) (proto string, status int, reason, msg string) {
	proto, rest, _ := strings.Cut(line, " ")
	if msg := checkVersion(proto); msg != "" {
		return "", 0, "", "status line: " + msg
	}
	code, reason, _ := strings.Cut(rest, " ")
	if len(code) != 3 || !h1Digit(code[0]) || !h1Digit(code[1]) || !h1Digit(code[2]) {
		return "", 0, "", fmt.Sprintf("status line: invalid status code %q", h1Clip(code))
	}
	status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	return proto, status, reason, ""
}

// checkVersion accepts HTTP/1.1 and HTTP/1.0 (RFC 9112 section 2.3).
func checkVersion(v string) string {
	switch v {
	case "HTTP/1.1", "HTTP/1.0":
		return ""
	}
	if len(v) == 8 && strings.HasPrefix(v, "HTTP/") && h1Digit(v[5]) && v[6] == '.' && h1Digit(v[7]) {
		return fmt.Sprintf("unsupported version %q", v)
	}
	return fmt.Sprintf("invalid version %q", h1Clip(v))
}

// firstByteMsg checks the first byte of a head before its line is complete,
// so that binary input fails at once instead of filling MaxHead. It names
// only that byte so that the message does not depend on how input is split.
func firstByteMsg(side Side, b byte) string {
	if side == Client {
		if h1TokenChar[b] {
			return ""
		}
		if b == 0x16 {
			return "request line: invalid method: first byte 0x16, a TLS handshake record (TLS sent where plain HTTP was expected)"
		}
		return fmt.Sprintf("request line: invalid method: first byte 0x%02x", b)
	}
	if b == 'H' {
		return ""
	}
	return fmt.Sprintf("status line: first byte 0x%02x, want \"HTTP/\"", b)
}

// h1Fields is what the decoder needs from a head's fields, gathered in one pass.
type h1Fields struct {
	host        string
	hosts       int
	cl, te      int // how many Content-Length and Transfer-Encoding fields
	connUpgrade bool
	upgrade     string
	key         string // Sec-WebSocket-Key
	accept      string // Sec-WebSocket-Accept
	protocol    string // Sec-WebSocket-Protocol
	extensions  string // Sec-WebSocket-Extensions
}

// parseFields parses field lines (RFC 9112 section 5) into dst, keeping
// names and order as sent. It reports what breaks the grammar and decodes
// it as far as it goes: obsolete line folding is joined with a space
// (section 5.2), whitespace before the colon is trimmed.
func (c *Conn) parseFields(s *h1Stream, rest string, dst []Header, f *h1Fields, seq int) []Header {
	for rest != "" {
		var line string
		line, rest = h1NextLine(rest)
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(dst) == 0 {
				c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: continuation line %q with no field before it", h1Clip(line)))
				continue
			}
			c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: obsolete line folding in %q (RFC 9112 section 5.2)", h1Clip(dst[len(dst)-1].Name)))
			h := &dst[len(dst)-1]
			h.Value = h1TrimOWS(h.Value + " " + h1TrimOWS(line))
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: no colon in %q", h1Clip(line)))
			continue
		}
		if n := h1TrimOWS(name); n != name {
			c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: whitespace before the colon in %q (RFC 9112 section 5.1)", h1Clip(name)))
			name = n
		}
		if name == "" || !h1Token(name) {
			c.report(s, ErrHTTPSyntax, seq, fmt.Sprintf("header: invalid field name %q", h1Clip(name)))
			if name == "" {
				continue
			}
		}
		dst = append(dst, Header{name, h1TrimOWS(value)})
	}
	for i := range dst {
		h := &dst[i]
		switch len(h.Name) {
		case 4:
			if strings.EqualFold(h.Name, "Host") {
				if f.hosts == 0 {
					f.host = h.Value
				}
				f.hosts++
			}
		case 7:
			if strings.EqualFold(h.Name, "Upgrade") && f.upgrade == "" {
				f.upgrade = h.Value
			}
		case 10:
			if strings.EqualFold(h.Name, "Connection") && h1HasToken(h.Value, "upgrade") {
				f.connUpgrade = true
			}
		case 14:
			if strings.EqualFold(h.Name, "Content-Length") {
				f.cl++
			}
		case 17:
			if strings.EqualFold(h.Name, "Transfer-Encoding") {
				f.te++
			} else if strings.EqualFold(h.Name, "Sec-WebSocket-Key") && f.key == "" {
				f.key = h.Value
			}
		case 20:
			if strings.EqualFold(h.Name, "Sec-WebSocket-Accept") && f.accept == "" {
				f.accept = h.Value
			}
		case 22:
			if strings.EqualFold(h.Name, "Sec-WebSocket-Protocol") {
				f.protocol = joinList(f.protocol, h.Value)
			}
		case 24:
			if strings.EqualFold(h.Name, "Sec-WebSocket-Extensions") {
				f.extensions = joinList(f.extensions, h.Value)
			}
		}
	}
	return dst
}

// joinList combines the values of a repeated list field (RFC 9110 section 5.3).
func joinList(a, b string) string {
	if a == "" {
		return b
	}
	return a + ", " + b
}

// h1Framing is how a message's body is delimited (RFC 9112 section 6.3).
type h1Framing uint8

const (
	h1NoBody h1Framing = iota
	h1Length
	h1Chunked
	h1Close
)

// framing reads the framing of a message with a body from its fields (RFC
// 9112 section 6.3). msg is set when the framing cannot be trusted, and the
// direction must go opaque: "If a message is received with both a
// Transfer-Encoding and a Content-Length header field, the
// Transfer-Encoding overrides the Content-Length" (reported, not fatal);
// a request whose final transfer coding is not chunked, or conflicting
// Content-Length values, are fatal.
func (c *Conn) framing(s *h1Stream, f *h1Fields, seq int) (kind h1Framing, n int64, msg string) {
	request := s.side == Client
	if f.te > 0 {
		chunks, last, unknown := 0, false, ""
		for _, h := range s.hdrs {
			if !strings.EqualFold(h.Name, "Transfer-Encoding") {
				continue
			}
			for item := range strings.SplitSeq(h.Value, ",") {
				tok, _, _ := strings.Cut(item, ";")
				tok = h1TrimOWS(tok)
				switch {
				case tok == "":
					continue
				case strings.EqualFold(tok, "chunked"):
					chunks++
					last = true
					continue
				case !knownCoding(tok):
					if unknown == "" {
						unknown = tok
					}
				}
				last = false
			}
		}
		switch {
		case request && unknown != "":
			return 0, 0, fmt.Sprintf("transfer-encoding: unknown coding %q (RFC 9112 section 6.1)", h1Clip(unknown))
		case chunks > 1:
			return 0, 0, "transfer-encoding: chunked applied more than once (RFC 9112 section 6.1)"
		case request && !last:
			return 0, 0, "transfer-encoding: a request's final coding must be chunked (RFC 9112 section 6.3)"
		}
		if f.cl > 0 {
			c.report(s, ErrHTTPFraming, seq, "both Transfer-Encoding and Content-Length: Transfer-Encoding wins (RFC 9112 section 6.3)")
		}
		if last {
			return h1Chunked, 0, ""
		}
		return h1Close, 0, ""
	}
	if f.cl > 0 {
		n = -1
		for _, h := range s.hdrs {
			if !strings.EqualFold(h.Name, "Content-Length") {
				continue
			}
			for item := range strings.SplitSeq(h.Value, ",") {
				item = h1TrimOWS(item)
				v, ok := parseLength(item)
				if !ok {
					return 0, 0, fmt.Sprintf("content-length: invalid value %q", h1Clip(item))
				}
				if n >= 0 && v != n {
					return 0, 0, fmt.Sprintf("content-length: conflicting values %d and %d", n, v)
				}
				n = v
			}
		}
		if n <= 0 {
			return h1NoBody, 0, ""
		}
		return h1Length, n, ""
	}
	if request {
		return h1NoBody, 0, ""
	}
	return h1Close, 0, ""
}

// knownCoding reports the transfer codings of the IANA registry that a
// request may carry before chunked (RFC 9112 section 7).
func knownCoding(tok string) bool {
	for _, k := range [...]string{"gzip", "x-gzip", "deflate", "compress", "x-compress", "identity"} {
		if strings.EqualFold(tok, k) {
			return true
		}
	}
	return false
}

// parseLength parses Content-Length = 1*DIGIT, refusing values past 2^63-1.
func parseLength(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if !h1Digit(s[i]) {
			return 0, false
		}
		d := int64(s[i] - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}

// chunkLine consumes a chunk-size line: chunk-size [ chunk-ext ] CRLF
// (RFC 9112 section 7.1). It returns the bytes consumed, whether the line
// is complete, and a message when it breaks the grammar.
func (s *h1Stream) chunkLine(p []byte, max int) (n int, done bool, msg string) {
	for n < len(p) {
		b := p[n]
		n++
		if b == '\n' {
			if !s.cdigits {
				return n, false, "chunk size: missing"
			}
			return n, true, ""
		}
		s.cline++
		if s.cline > max {
			return n, false, fmt.Sprintf("chunk size: line longer than %d bytes", max)
		}
		if s.cext {
			continue // chunk extensions are not interpreted
		}
		switch v := h1Unhex(b); {
		case v >= 0 && !s.cafter:
			if s.csize > math.MaxInt64>>4 {
				return n, false, "chunk size: more than 2^63-1"
			}
			s.csize = s.csize<<4 | int64(v)
			s.cdigits = true
		case b == ';' && s.cdigits:
			s.cext = true
		case (b == ' ' || b == '\t' || b == '\r') && s.cdigits:
			s.cafter = true // BWS before an extension, or the CR of CRLF
		default:
			return n, false, fmt.Sprintf("chunk size: invalid byte %q", b)
		}
	}
	return n, false, ""
}

func (s *h1Stream) resetChunkLine() {
	s.csize, s.cdigits, s.cafter, s.cext, s.cline = 0, false, false, false, 0
}

func h1Unhex(b byte) int {
	switch {
	case '0' <= b && b <= '9':
		return int(b - '0')
	case 'a' <= b && b <= 'f':
		return int(b-'a') + 10
	case 'A' <= b && b <= 'F':
		return int(b-'A') + 10
	}
	return -1
}

// h1HasToken reports whether a comma-separated list contains tok, ignoring case.
func h1HasToken(list, tok string) bool {
	for item := range strings.SplitSeq(list, ",") {
		if strings.EqualFold(h1TrimOWS(item), tok) {
			return true
		}
	}
	return false
}

// h1Authority returns the authority of an absolute-form request-target
// (RFC 9112 section 3.2.2), without userinfo; "" for any other form. The
// target starts with a scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
// (RFC 3986 section 3.1), so an origin-form target with "://" in its
// query is not taken for one.
func h1Authority(target string) string {
	scheme, rest, ok := strings.Cut(target, "://")
	if !ok || !h1Scheme(scheme) {
		return ""
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		rest = rest[i+1:]
	}
	return rest
}

// h1Scheme reports whether s is a URI scheme (RFC 3986 section 3.1).
func h1Scheme(s string) bool {
	if s == "" || !('a' <= s[0]|0x20 && s[0]|0x20 <= 'z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('a' <= c|0x20 && c|0x20 <= 'z' || h1Digit(c) || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// h1TrimOWS trims optional whitespace (RFC 9110 section 5.6.3).
func h1TrimOWS(s string) string {
	i, j := 0, len(s)
	for i < j && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	for j > i && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[i:j]
}

func h1Digit(b byte) bool { return '0' <= b && b <= '9' }

func h1Letter(b byte) bool { return 'a' <= b|0x20 && b|0x20 <= 'z' }

func h1Token(s string) bool {
	for i := 0; i < len(s); i++ {
		if !h1TokenChar[s[i]] {
			return false
		}
	}
	return true
}

// h1TokenChar is tchar of RFC 9110 section 5.6.2.
var h1TokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// h1Clip shortens what an error message quotes.
func h1Clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
