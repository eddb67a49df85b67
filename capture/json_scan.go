package capture

import (
	"encoding/base64"
	"strconv"
	"time"
	"unicode/utf8"
)

// This file reads a capture line without encoding/json: a hand-written
// scanner over the fields wireEvent names, for the lines frametap writes.
// encoding/json spent about 15 µs on an event (reflection, a field lookup
// per key, an allocation per string); `frametap view --filter` over a
// capture of a million events took 15 s. The scanner fills the same
// wireEvent that encoding/json fills, so that UnmarshalJSON's conversion
// is one and the same, and it gives up (scan returns false) on anything it
// is not sure to read exactly as encoding/json would: a key it does not
// know (a field added to wireEvent after it, a key spelt in another case),
// null, a string with a \u surrogate or invalid UTF-8, a number of the
// wrong form or range. UnmarshalJSON then reads the line with
// encoding/json, errors included. FuzzScanEvent holds the two to the same
// result on every line.

// scanOff, set by tests and benchmarks, has every line read by
// encoding/json.
var scanOff bool

// scan sets w from the object b, as json.Unmarshal(b, w) would, and
// reports whether it could; w is then to be reset by the caller.
func (w *wireEvent) scan(b []byte) bool {
	if scanOff {
		return false
	}
	s := scanner{b: b}
	s.space()
	if !s.take('{') {
		return false
	}
	s.space()
	if s.take('}') {
		return s.end()
	}
	for {
		key, ok := s.key()
		if !ok {
			return false
		}
		s.space()
		if !s.take(':') {
			return false
		}
		s.space()
		if !w.field(&s, key) {
			return false
		}
		s.space()
		if s.take(',') {
			s.space()
			continue
		}
		if s.take('}') {
			return s.end()
		}
		return false
	}
}

// field reads the value of key into w.
func (w *wireEvent) field(s *scanner, key []byte) bool {
	ok := true
	switch string(key) {
	case "kind":
		var v string
		v, ok = s.name()
		w.Kind = Kind(v)
	case "conn":
		w.Conn, ok = s.uint(64)
	case "t":
		ok = s.time(&w.Time)
	case "from":
		w.From, ok = s.name()
	case "client":
		w.Client, ok = s.string()
	case "server":
		w.Server, ok = s.string()
	case "mode":
		w.Mode, ok = s.name()
	case "listen":
		w.Listen, ok = s.string()
	case "bytes_from_client":
		w.BytesFromClient, ok = s.int(64)
	case "bytes_from_server":
		w.BytesFromServer, ok = s.int(64)
	case "err":
		w.Err, ok = s.string()
	case "ws_closed_by":
		w.WSClosedBy, ok = s.name()
	case "ws_close_clean":
		w.WSCloseClean = new(bool)
		*w.WSCloseClean, ok = s.bool()
	case "seq":
		w.Seq, ok = intOf(s.int(strconv.IntSize))
	case "method":
		w.Method, ok = s.name()
	case "target":
		w.Target, ok = s.string()
	case "host":
		w.Host, ok = s.string()
	case "proto":
		w.Proto, ok = s.name()
	case "status":
		w.Status, ok = intOf(s.int(strconv.IntSize))
	case "status_text":
		w.StatusText, ok = s.name()
	case "headers":
		w.Headers, ok = s.headers()
	case "trailers":
		w.Trailers, ok = s.headers()
	case "body_len":
		w.BodyLen, ok = s.int(64)
	case "body":
		w.Body, ok = s.stringPtr()
	case "body_b64":
		w.BodyB64, ok = s.base64()
	case "protocol":
		w.Protocol, ok = s.name()
	case "subprotocol":
		w.Subprotocol, ok = s.string()
	case "extensions":
		w.Extensions, ok = s.string()
	case "accept_ok":
		w.AcceptOK, ok = s.bool()
	case "fin":
		w.Fin, ok = s.bool()
	case "rsv":
		w.RSV, ok = uint8Of(s.uint(8))
	case "opcode":
		w.Opcode, ok = uint8Of(s.uint(8))
	case "masked":
		w.Masked, ok = s.bool()
	case "len":
		w.Len, ok = s.int(64)
	case "op":
		w.Op, ok = s.name()
	case "frames":
		w.Frames, ok = intOf(s.int(strconv.IntSize))
	case "wire_len":
		w.WireLen, ok = s.int(64)
	case "compressed":
		w.Compressed, ok = s.bool()
	case "text":
		w.Text, ok = s.stringPtr()
	case "data":
		// base64, except in an sse event (a string): the kind, which
		// frametap writes first, says which.
		switch w.Kind {
		case "":
			return false
		case KindSSE:
			var v string
			v, ok = s.string()
			w.scanData, w.scannedData = []byte(v), ok
		default:
			w.scanData, ok = s.base64()
			w.scannedData = ok
		}
	case "code":
		w.Code, ok = s.raw() // a number or a string, as json.RawMessage
	case "reason":
		w.Reason, ok = s.string()
	case "truncated":
		w.Truncated, ok = s.bool()
	case "msg":
		w.Msg, ok = s.string()
	case "lost":
		w.Lost, ok = s.int(64)
	case "since":
		ok = s.time(&w.Since)
	case "scheme":
		w.Scheme, ok = s.name()
	case "side":
		w.Side, ok = s.name()
	case "sni":
		w.SNI, ok = s.string()
	case "alpn":
		w.ALPN, ok = s.name()
	case "version":
		w.Version, ok = s.name()
	case "cipher":
		w.Cipher, ok = s.string()
	case "subject":
		w.Subject, ok = s.string()
	case "issuer":
		w.Issuer, ok = s.string()
	case "verified":
		w.Verified, ok = s.bool()
	case "stream":
		w.Stream, ok = uint32Of(s.uint(32))
	case "pushed":
		w.Pushed, ok = s.bool()
	case "reset":
		w.Reset, ok = s.name()
	case "type":
		w.Type, ok = s.name()
	case "flags":
		w.Flags, ok = uint8Of(s.uint(8))
	case "settings":
		w.Settings, ok = s.settings()
	case "last_stream":
		w.LastStream, ok = uint32Of(s.uint(32))
	case "increment":
		w.Increment, ok = uint32Of(s.uint(32))
	case "promised":
		w.Promised, ok = uint32Of(s.uint(32))
	case "ack":
		w.Ack, ok = s.bool()
	case "h2_streams":
		var n int
		n, ok = intOf(s.int(strconv.IntSize))
		w.H2Streams = &n
	case "h2_max_open":
		w.H2MaxOpen, ok = intOf(s.int(strconv.IntSize))
	case "filter":
		w.Filter, ok = s.string()
	case "injected":
		w.Injected, ok = s.bool()
	// wireHTTP (json_http.go)
	case "decoded_len":
		var n int64
		n, ok = s.int(64)
		w.DecodedLen = &n
	case "decode_error":
		w.DecodeErr, ok = s.string()
	case "decoded_body":
		w.DecodedBody, ok = s.stringPtr()
	case "decoded_body_b64":
		w.DecodedBodyB64, ok = s.base64()
	case "decoded_truncated":
		w.DecodedTruncated, ok = s.bool()
	case "by_frametap":
		w.ByFrametap, ok = s.bool()
	case "connect_ms":
		w.ConnectMS, ok = s.floatPtr()
	case "tls_ms":
		w.TLSMS, ok = s.floatPtr()
	case "send_ms":
		w.SendMS, ok = s.floatPtr()
	case "wait_ms":
		w.WaitMS, ok = s.floatPtr()
	case "receive_ms":
		w.ReceiveMS, ok = s.floatPtr()
	case "handshake_ms":
		w.HandshakeMS, ok = s.floatPtr()
	default:
		return false
	}
	return ok
}

func intOf(v int64, ok bool) (int, bool)        { return int(v), ok }
func uint8Of(v uint64, ok bool) (uint8, bool)   { return uint8(v), ok }
func uint32Of(v uint64, ok bool) (uint32, bool) { return uint32(v), ok }

// scanner walks one JSON object. Its methods read one value at s.i and
// report false on anything they do not read exactly as encoding/json does.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) take(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end reports whether nothing but white space follows the object.
func (s *scanner) end() bool {
	s.space()
	return s.i == len(s.b)
}

// quoted reads a string and returns what is between its quotes, and
// whether that holds an escape or a byte past ASCII (valid UTF-8: invalid
// UTF-8 is left to encoding/json, which replaces it).
func (s *scanner) quoted() (raw []byte, plain, ok bool) {
	if !s.take('"') {
		return nil, false, false
	}
	start := s.i
	plain = true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw = s.b[start:s.i]
			s.i++
			if !plain && !utf8.Valid(raw) {
				return nil, false, false
			}
			return raw, plain, true
		case c == '\\':
			plain = false
			s.i += 2 // the escape is checked by unescape
		case c < 0x20:
			return nil, false, false
		default:
			if c >= utf8.RuneSelf {
				plain = false
			}
			s.i++
		}
	}
	return nil, false, false
}

// key reads an object key: plain ASCII only.
func (s *scanner) key() ([]byte, bool) {
	raw, plain, ok := s.quoted()
	return raw, ok && plain
}

func (s *scanner) string() (string, bool) {
	raw, plain, ok := s.quoted()
	if !ok {
		return "", false
	}
	if plain {
		return string(raw), true
	}
	b, ok := unescape(raw)
	return string(b), ok
}

// name reads a string that is usually one of a few names (a kind, a side,
// a method, an opcode's name), shared rather than allocated each time.
func (s *scanner) name() (string, bool) {
	start := s.i
	raw, plain, ok := s.quoted()
	if !ok || !plain {
		s.i = start
		return s.string()
	}
	if n, found := names[string(raw)]; found {
		return n, true
	}
	return string(raw), true
}

// names are the values name shares.
var names = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{
		"open", "close", "request", "response", "upgrade", "frame", "message", "error", "tls", "gap", "h2frame", "meta",
		"client", "server", "regular", "reverse", "socks5", "transparent", "upstream",
		"text", "binary", "ping", "pong", "continuation",
		"GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "CONNECT",
		"HTTP/1.0", "HTTP/1.1", "HTTP/2", "OK", "Switching Protocols", "Not Found", "No Content", "Not Modified",
		"websocket", "http", "https", "ws", "wss", "h2", "http/1.1",
		"DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION",
		"NO_ERROR", "CANCEL", "PROTOCOL_ERROR", "REFUSED_STREAM",
		"TLS 1.2", "TLS 1.3",
	} {
		m[n] = n
	}
	return m
}()

func (s *scanner) stringPtr() (*string, bool) {
	v, ok := s.string()
	return &v, ok
}

// base64 reads a string of standard base64, as encoding/json reads a
// []byte.
func (s *scanner) base64() ([]byte, bool) {
	raw, plain, ok := s.quoted()
	if !ok || !plain {
		return nil, false
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(raw)))
	n, err := base64.StdEncoding.Decode(out, raw)
	return out[:n], err == nil
}

func (s *scanner) bool() (bool, bool) {
	switch {
	case len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "true":
		s.i += 4
		return true, true
	case len(s.b)-s.i >= 5 && string(s.b[s.i:s.i+5]) == "false":
		s.i += 5
		return false, true
	}
	return false, false
}

// digits reads an integer as JSON writes one (no leading zeros, no
// fraction, no exponent) and returns it without its sign.
func (s *scanner) digits() (v uint64, neg, ok bool) {
	neg = s.take('-')
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		d := uint64(s.b[s.i] - '0')
		if v > (1<<64-1-d)/10 {
			return 0, false, false
		}
		v = v*10 + d
		s.i++
	}
	n := s.i - start
	if n == 0 || n > 1 && s.b[start] == '0' {
		return 0, false, false
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E':
			return 0, false, false
		}
	}
	return v, neg, true
}

// uint reads an unsigned integer of bits bits.
func (s *scanner) uint(bits uint) (uint64, bool) {
	v, neg, ok := s.digits()
	if !ok || neg || bits < 64 && v >= 1<<bits { // strconv.ParseUint refuses "-0" too
		return 0, false
	}
	return v, true
}

// int reads a signed integer of bits bits.
func (s *scanner) int(bits uint) (int64, bool) {
	v, neg, ok := s.digits()
	limit := uint64(1) << (bits - 1)
	switch {
	case !ok:
		return 0, false
	case neg && v <= limit:
		return -int64(v), true
	case !neg && v < limit:
		return int64(v), true
	}
	return 0, false
}

// floatPtr reads a number as encoding/json reads it into a *float64.
func (s *scanner) floatPtr() (*float64, bool) {
	start := s.i
	s.take('-')
	intStart := s.i
	s.skipDigits()
	if s.i == intStart || s.i-intStart > 1 && s.b[intStart] == '0' {
		return nil, false
	}
	if s.take('.') && !s.skipDigits() {
		return nil, false
	}
	if s.take('e') || s.take('E') {
		if !s.take('+') {
			s.take('-')
		}
		if !s.skipDigits() {
			return nil, false
		}
	}
	f, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
	if err != nil {
		return nil, false
	}
	return &f, true
}

func (s *scanner) skipDigits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// raw reads a number or a string and returns it as it is written.
func (s *scanner) raw() ([]byte, bool) {
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '"' {
		_, _, ok := s.quoted()
		return s.b[start:s.i], ok
	}
	if _, ok := s.floatPtr(); !ok {
		return nil, false
	}
	return s.b[start:s.i], true
}

// time reads a JSON string into t as time.Time's UnmarshalJSON does.
func (s *scanner) time(t *time.Time) bool {
	start := s.i
	if _, _, ok := s.quoted(); !ok {
		return false
	}
	return t.UnmarshalJSON(s.b[start:s.i]) == nil
}

// headers reads [[name, value], ...].
func (s *scanner) headers() ([]Header, bool) {
	if !s.take('[') {
		return nil, false
	}
	hs := []Header{}
	s.space()
	if s.take(']') {
		return hs, true
	}
	for {
		var h Header
		var ok bool
		s.space()
		if !s.take('[') {
			return nil, false
		}
		s.space()
		if h[0], ok = s.string(); !ok {
			return nil, false
		}
		s.space()
		if !s.take(',') {
			return nil, false
		}
		s.space()
		if h[1], ok = s.string(); !ok {
			return nil, false
		}
		s.space()
		if !s.take(']') {
			return nil, false
		}
		hs = append(hs, h)
		s.space()
		if s.take(',') {
			continue
		}
		return hs, s.take(']')
	}
}

// settings reads [[name, value], ...].
func (s *scanner) settings() ([]Setting, bool) {
	if !s.take('[') {
		return nil, false
	}
	sts := []Setting{}
	s.space()
	if s.take(']') {
		return sts, true
	}
	for {
		var st Setting
		var ok bool
		var v uint64
		s.space()
		if !s.take('[') {
			return nil, false
		}
		s.space()
		if st.Name, ok = s.name(); !ok {
			return nil, false
		}
		s.space()
		if !s.take(',') {
			return nil, false
		}
		s.space()
		if v, ok = s.uint(32); !ok {
			return nil, false
		}
		st.Value = uint32(v)
		s.space()
		if !s.take(']') {
			return nil, false
		}
		sts = append(sts, st)
		s.space()
		if s.take(',') {
			continue
		}
		return sts, s.take(']')
	}
}

// unescape returns the value of a string's body holding escapes or UTF-8
// (valid: quoted checked it), or false for an escape that encoding/json
// reads otherwise than by the plain rule (a \u surrogate) or rejects.
func unescape(raw []byte) ([]byte, bool) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(raw) {
			return nil, false
		}
		switch raw[i+1] {
		case '"', '\\', '/':
			out = append(out, raw[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+6 > len(raw) {
				return nil, false
			}
			r, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 32)
			if err != nil || r >= 0xd800 && r < 0xe000 {
				return nil, false
			}
			out = utf8.AppendRune(out, rune(r))
			i += 6
			continue
		default:
			return nil, false
		}
		i += 2
	}
	return out, true
}
