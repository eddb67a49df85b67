package decode

import (
	"math"
	"testing"
)

func TestParseRequestLine(t *testing.T) {
	tests := []struct {
		line                       string
		method, target, proto, msg string
	}{
		{"GET / HTTP/1.1", "GET", "/", "HTTP/1.1", ""},
		{"PROPFIND /dav/x HTTP/1.0", "PROPFIND", "/dav/x", "HTTP/1.0", ""},
		{"CONNECT example.com:443 HTTP/1.1", "CONNECT", "example.com:443", "HTTP/1.1", ""},
		{"OPTIONS * HTTP/1.1", "OPTIONS", "*", "HTTP/1.1", ""},
		{"GET http://a/b?c HTTP/1.1", "GET", "http://a/b?c", "HTTP/1.1", ""},
		{"\x00GE / HTTP/1.1", "", "", "", `request line: invalid method "\x00GE"`},
		{"GET", "", "", "", `request line: no space in "GET"`},
		{" / HTTP/1.1", "", "", "", `request line: invalid method ""`},
		{"GET  HTTP/1.1", "", "", "", `request line: invalid target ""`},
		{"GET / HTTP/1.1 ", "", "", "", `request line: invalid target "/ HTTP/1.1"`},
		{"GET / http/1.1", "", "", "", `request line: invalid version "http/1.1"`},
		{"GET / HTTP/3.0", "", "", "", `request line: unsupported version "HTTP/3.0"`},
		{"GET /\x7f HTTP/1.1", "", "", "", `request line: invalid target "/\x7f"`},
	}
	for _, tt := range tests {
		m, tg, p, msg := parseRequestLine(tt.line)
		if m != tt.method || tg != tt.target || p != tt.proto || msg != tt.msg {
			t.Errorf("parseRequestLine(%q) = %q, %q, %q, %q; want %q, %q, %q, %q", tt.line, m, tg, p, msg, tt.method, tt.target, tt.proto, tt.msg)
		}
	}
}

func TestParseStatusLine(t *testing.T) {
	tests := []struct {
		line   string
		proto  string
		status int
		reason string
		msg    string
	}{
		{"HTTP/1.1 200 OK", "HTTP/1.1", 200, "OK", ""},
		{"HTTP/1.0 404 Not Found", "HTTP/1.0", 404, "Not Found", ""},
		{"HTTP/1.1 204", "HTTP/1.1", 204, "", ""},
		{"HTTP/1.1 200 ", "HTTP/1.1", 200, "", ""},
		{"HTTP/1.1 999 Odd", "HTTP/1.1", 999, "Odd", ""},
		{"HTTP/1.1 20 OK", "", 0, "", `status line: invalid status code "20"`},
		{"HTTP/1.1 2000 OK", "", 0, "", `status line: invalid status code "2000"`},
		{"HTTP/2 200", "", 0, "", `status line: invalid version "HTTP/2"`},
		{"ICY 200 OK", "", 0, "", `status line: invalid version "ICY"`},
	}
	for _, tt := range tests {
		p, st, r, msg := parseStatusLine(tt.line)
		if p != tt.proto || st != tt.status || r != tt.reason || msg != tt.msg {
			t.Errorf("parseStatusLine(%q) = %q, %d, %q, %q; want %q, %d, %q, %q", tt.line, p, st, r, msg, tt.proto, tt.status, tt.reason, tt.msg)
		}
	}
}

func TestParseLength(t *testing.T) {
	tests := []struct {
		in   string
		n    int64
		okay bool
	}{
		{"0", 0, true},
		{"42", 42, true},
		{"007", 7, true},
		{"9223372036854775807", math.MaxInt64, true},
		{"9223372036854775808", 0, false},
		{"99999999999999999999999", 0, false},
		{"", 0, false},
		{"-1", 0, false},
		{"+1", 0, false},
		{"1 2", 0, false},
		{"0x10", 0, false},
	}
	for _, tt := range tests {
		n, ok := parseLength(tt.in)
		if n != tt.n || ok != tt.okay {
			t.Errorf("parseLength(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.n, tt.okay)
		}
	}
}

// TestChunkLine feeds chunk-size lines whole and one byte at a time.
func TestChunkLine(t *testing.T) {
	tests := []struct {
		in     string
		size   int64
		bareLF bool
		msg    string
	}{
		{"0\r\n", 0, false, ""},
		{"a\r\n", 10, false, ""},
		{"FF\n", 255, true, ""},
		{"00000000000000010\r\n", 16, false, ""},
		{"7fffffffffffffff\r\n", math.MaxInt64, false, ""},
		{"1;a=b;c\r\n", 1, false, ""},
		{"1;a=b;c\n", 1, true, ""},
		{"1 ;a=\"x;y\"\r\n", 1, false, ""},
		{"1\t\r\n", 1, false, ""},
		{"8000000000000000\r\n", 0, false, "chunk size: more than 2^63-1"},
		{"ffffffffffffffffff\r\n", 0, false, "chunk size: more than 2^63-1"},
		{"\r\n", 0, false, "chunk size: invalid byte '\\r'"},
		{"\n", 0, false, "chunk size: missing"},
		{";x\r\n", 0, false, "chunk size: invalid byte ';'"},
		{"1 2\r\n", 0, false, "chunk size: invalid byte '2'"},
		{"-1\r\n", 0, false, "chunk size: invalid byte '-'"},
		{"1\r\r\n", 0, false, "chunk size: a CR not followed by LF (RFC 9112 section 7.1)"},
		{"1\r \r\n", 0, false, "chunk size: a CR not followed by LF (RFC 9112 section 7.1)"},
		{"1;a\rb\r\n", 0, false, "chunk size: a CR not followed by LF (RFC 9112 section 7.1)"},
		{"1" + string(make([]byte, 70)) + "\r\n", 0, false, "chunk size: invalid byte '\\x00'"},
	}
	for _, tt := range tests {
		for _, piece := range []int{len(tt.in), 1} {
			s := h1Stream{h1Message: new(h1Message)}
			var done bool
			var msg string
			for p := []byte(tt.in); len(p) > 0 && !done && msg == ""; {
				var n int
				n, done, msg = s.chunkLine(p[:min(piece, len(p))], 64)
				p = p[n:]
			}
			if msg != tt.msg || tt.msg == "" && (!done || s.csize != tt.size || s.cbareLF != tt.bareLF) {
				t.Errorf("chunkLine(%q) by %d: size %d, done %v, bare LF %v, msg %q; want %d, bare LF %v, %q", tt.in, piece, s.csize, done, s.cbareLF, msg, tt.size, tt.bareLF, tt.msg)
			}
		}
	}
	s := h1Stream{h1Message: new(h1Message)}
	if _, _, msg := s.chunkLine([]byte("1;"+string(make([]byte, 100))), 64); msg != "chunk size: line longer than 64 bytes" {
		t.Errorf("long extension: msg %q", msg)
	}
}

// TestScanHead checks where heads end, one byte at a time and whole.
func TestScanHead(t *testing.T) {
	tests := []struct {
		in, head string
		rest     int // bytes left after the head
		tooLarge bool
	}{
		{"GET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\n\r\n", 0, false},
		{"GET / HTTP/1.1\r\nA: b\r\n\r\nbody", "GET / HTTP/1.1\r\nA: b\r\n\r\n", 4, false},
		{"GET / HTTP/1.1\nA: b\n\nx", "GET / HTTP/1.1\nA: b\n\n", 1, false},
		{"GET / HTTP/1.1\r\nA: b\n\r\n", "GET / HTTP/1.1\r\nA: b\n\r\n", 0, false},
		{"\r\n\r\n\nGET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\n\r\n", 0, false},
		{"GET / HTTP/1.1\r\nA: \r\r\n\r\n", "GET / HTTP/1.1\r\nA: \r\r\n\r\n", 0, false},
		{"GET / HTTP/1.1\r\nA: b\r\n", "", 0, false},
		{"GET / HTTP/1.1\r\nX: " + string(make([]byte, 64)) + "\r\n\r\n", "", 0, true},
	}
	for _, tt := range tests {
		for _, piece := range []int{len(tt.in), 1} {
			s := h1Stream{h1Message: new(h1Message)}
			var head []byte
			tooLarge := false
			p := []byte(tt.in)
			for len(p) > 0 && head == nil && !tooLarge {
				var n int
				n, head, _, tooLarge = s.scanHead(p[:min(piece, len(p))], 64)
				p = p[n:]
			}
			if string(head) != tt.head || !tooLarge && len(p) != tt.rest || tooLarge != tt.tooLarge {
				t.Errorf("scanHead(%q) by %d = %q, %d left, tooLarge %v; want %q, %d, %v", tt.in, piece, head, len(p), tooLarge, tt.head, tt.rest, tt.tooLarge)
			}
		}
	}
}

func TestWSAccept(t *testing.T) {
	// RFC 6455 section 1.3.
	if got, want := wsAccept("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Errorf("wsAccept = %q, want %q", got, want)
	}
}

func TestHasToken(t *testing.T) {
	tests := []struct {
		list, tok string
		want      bool
	}{
		{"Upgrade", "upgrade", true},
		{"keep-alive, Upgrade", "upgrade", true},
		{"keep-alive,upgrade ", "upgrade", true},
		{"upgraded", "upgrade", false},
		{"", "upgrade", false},
	}
	for _, tt := range tests {
		if got := h1HasToken(tt.list, tt.tok); got != tt.want {
			t.Errorf("h1HasToken(%q, %q) = %v, want %v", tt.list, tt.tok, got, tt.want)
		}
	}
}
