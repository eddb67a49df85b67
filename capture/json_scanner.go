package capture

import (
	"encoding/base64"
	"strconv"
	"time"
	"unicode/utf8"
)

// This file is the scanner json_scan.go reads capture lines with: one
// JSON value at a time, exactly as encoding/json reads it, or not at all.

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
