package decode

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var updateHTTP = flag.Bool("update", false, "rewrite testdata/http/*.golden")

// httpRecorder is a Handler that writes every event as text, one line per
// event and one indented line per field, so that runs compare as strings.
type httpRecorder struct {
	b       strings.Builder
	maxBody int // kept bodies longer than this are a bug
	bad     []string
}

func (r *httpRecorder) body(body []byte, n int64, truncated bool) {
	if len(body) > r.maxBody {
		r.bad = append(r.bad, fmt.Sprintf("kept %d body bytes, more than MaxBody %d", len(body), r.maxBody))
	}
	if int64(len(body)) > n || truncated != (n > int64(len(body))) {
		r.bad = append(r.bad, fmt.Sprintf("body of %d bytes kept %d, truncated=%v", n, len(body), truncated))
	}
	if n == 0 && body == nil {
		return
	}
	fmt.Fprintf(&r.b, "  body %d %q", n, body)
	if truncated {
		r.b.WriteString(" truncated")
	}
	r.b.WriteByte('\n')
}

func (r *httpRecorder) fields(what string, hs []Header) {
	for _, h := range hs {
		fmt.Fprintf(&r.b, "  %s %q: %q\n", what, h.Name, h.Value)
	}
}

func (r *httpRecorder) Request(q *Request) {
	fmt.Fprintf(&r.b, "request %d %s %s %s host=%q\n", q.Seq, q.Method, q.Target, q.Proto, q.Host)
	r.fields("header", q.Headers)
	r.body(q.Body, q.BodyLen, q.Truncated)
	r.fields("trailer", q.Trailers)
}

func (r *httpRecorder) Response(p *Response) {
	fmt.Fprintf(&r.b, "response %d %s %d %q\n", p.Seq, p.Proto, p.Status, p.Reason)
	r.fields("header", p.Headers)
	r.body(p.Body, p.BodyLen, p.Truncated)
	r.fields("trailer", p.Trailers)
}

func (r *httpRecorder) Upgrade(u *Upgrade) {
	fmt.Fprintf(&r.b, "upgrade %d protocol=%q subprotocol=%q extensions=%q key=%q accept=%q accept_ok=%v deflate=%v\n",
		u.Seq, u.Protocol, u.Subprotocol, u.Extensions, u.Key, u.Accept, u.AcceptOK, u.Deflate)
}

func (r *httpRecorder) Frame(s Side, f *Frame) {
	fmt.Fprintf(&r.b, "frame %s fin=%v rsv=%d op=%s masked=%v len=%d\n", s, f.Fin, f.RSV, OpName(f.Opcode), f.Masked, f.Len)
}

func (r *httpRecorder) Message(s Side, m *Message) {
	fmt.Fprintf(&r.b, "message %s %s frames=%d len=%d %q\n", s, OpName(m.Opcode), m.Frames, m.Len, m.Payload)
}

func (r *httpRecorder) Error(s Side, err error) {
	var he *HTTPError
	if errors.As(err, &he) && he.Side != s {
		r.bad = append(r.bad, fmt.Sprintf("error %q reported for %s, carries side %s", err, s, he.Side))
	}
	opaque := ""
	if he != nil && he.Opaque {
		opaque = " [opaque]"
	}
	fmt.Fprintf(&r.b, "error %s: %s%s\n", s, err, opaque)
}

// httpFixture is one connection's bytes, in the order the sides sent them.
type httpFixture struct {
	cfg  Config
	segs []httpSeg
}

// httpSeg is bytes one side sent in one go, or (end set) the side's end.
type httpSeg struct {
	side Side
	b    []byte
	end  bool
}

// parseHTTPFixture reads the format that testdata/http/README.md describes.
func parseHTTPFixture(text string) (httpFixture, error) {
	var fx httpFixture
	brk := true
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case line == "--":
			brk = true
			continue
		case line == "end client" || line == "end server":
			side := Client
			if line == "end server" {
				side = Server
			}
			fx.segs = append(fx.segs, httpSeg{side: side, end: true})
			brk = true
			continue
		case strings.HasPrefix(line, "config "):
			for kv := range strings.FieldsSeq(line[len("config "):]) {
				k, v, _ := strings.Cut(kv, "=")
				n, err := strconv.Atoi(v)
				if err != nil {
					return fx, fmt.Errorf("line %d: %v", i+1, err)
				}
				switch k {
				case "maxbody":
					fx.cfg.MaxBody = n
				case "maxhead":
					fx.cfg.MaxHead = n
				default:
					return fx, fmt.Errorf("line %d: unknown config %q", i+1, k)
				}
			}
			continue
		}
		if len(line) < 2 || line[0] != 'c' && line[0] != 's' || line[1] != ':' && line[1] != '.' {
			return fx, fmt.Errorf("line %d: cannot read %q", i+1, line)
		}
		side := Client
		if line[0] == 's' {
			side = Server
		}
		b, err := strconv.Unquote(`"` + strings.ReplaceAll(strings.TrimPrefix(line[2:], " "), `"`, `\"`) + `"`)
		if err != nil {
			return fx, fmt.Errorf("line %d: %v", i+1, err)
		}
		if line[1] == ':' {
			b += "\r\n"
		}
		if n := len(fx.segs); brk || fx.segs[n-1].side != side || fx.segs[n-1].end {
			fx.segs = append(fx.segs, httpSeg{side: side})
		}
		last := &fx.segs[len(fx.segs)-1]
		last.b = append(last.b, b...)
		brk = false
	}
	return fx, nil
}

// httpFeeder says how a run hands a segment to a Conn.
type httpFeeder struct {
	name        string
	feedRequest bool // client bytes through FeedRequest, as a routing proxy does
	piece       int  // bytes per call; 0 for the whole segment
	sniff       bool // the Conn sniffs the HTTP/2 preface (SniffH2)
}

// runHTTP feeds fx to a new Conn and returns what it reported. split, if
// not nil, cuts segment split[0] at byte split[1].
func runHTTP(t testing.TB, fx httpFixture, fd httpFeeder, split []int) string {
	t.Helper()
	r := &httpRecorder{maxBody: fx.cfg.maxBody()}
	c := NewConn(fx.cfg, r)
	if fd.sniff {
		c.SniffH2()
	}
	for i, sg := range fx.segs {
		if sg.end {
			c.End(sg.side)
			continue
		}
		var pieces [][]byte
		switch {
		case split != nil && split[0] == i:
			pieces = [][]byte{sg.b[:split[1]], sg.b[split[1]:]}
		case fd.piece > 0:
			for p := sg.b; len(p) > 0; {
				k := min(fd.piece, len(p))
				pieces = append(pieces, p[:k])
				p = p[k:]
			}
		default:
			pieces = [][]byte{sg.b}
		}
		for _, p := range pieces {
			if sg.side == Server || !fd.feedRequest {
				c.Feed(sg.side, p)
				continue
			}
			for len(p) > 0 {
				n, _, _ := c.FeedRequest(p)
				if n <= 0 || n > len(p) {
					t.Fatalf("%s: FeedRequest consumed %d of %d bytes", fd.name, n, len(p))
				}
				p = p[n:]
			}
		}
	}
	fmt.Fprintf(&r.b, "pending %d\n", c.Pending())
	if hs, ok := c.CloseHandshake(); ok {
		first := "none"
		if hs.Sent[hs.First] {
			first = hs.First.String()
		}
		fmt.Fprintf(&r.b, "close handshake first=%s sent=%v code=%v reason=%q\n", first, hs.Sent, hs.Code, hs.Reason)
	}
	for _, b := range r.bad {
		t.Errorf("%s: %s", fd.name, b)
	}
	return r.b.String()
}

// checkHTTPSplits feeds fx whole, one byte at a time, through FeedRequest,
// and cut at every byte boundary of every segment, and wants the same
// events from each.
func checkHTTPSplits(t *testing.T, fx httpFixture, want string) {
	t.Helper()
	for _, fd := range []httpFeeder{
		{name: "whole"},
		{name: "one byte at a time", piece: 1},
		{name: "FeedRequest", feedRequest: true},
		{name: "FeedRequest one byte at a time", feedRequest: true, piece: 1},
	} {
		if got := runHTTP(t, fx, fd, nil); got != want {
			t.Errorf("%s: got\n%s\nwant\n%s", fd.name, got, want)
			return
		}
	}
	for i, sg := range fx.segs {
		for j := 1; j < len(sg.b); j++ {
			fd := httpFeeder{name: fmt.Sprintf("segment %d cut at %d", i, j)}
			if got := runHTTP(t, fx, fd, []int{i, j}); got != want {
				t.Errorf("%s: got\n%s\nwant\n%s", fd.name, got, want)
				return
			}
		}
	}
}

// TestHTTPFixtures decodes every connection in testdata/http and compares
// the events with its golden file (go test -run TestHTTPFixtures -update
// rewrites them).
func TestHTTPFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/http/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		t.Run(name, func(t *testing.T) {
			text, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			fx, err := parseHTTPFixture(string(text))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			got := runHTTP(t, fx, httpFeeder{name: "whole"}, nil)
			golden := strings.TrimSuffix(file, ".txt") + ".golden"
			if *updateHTTP {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Fatalf("events differ from %s (run with -update to accept):\ngot\n%s\nwant\n%s", golden, got, want)
			}
			checkHTTPSplits(t, fx, got)
		})
	}
}

// httpCase is a fixture short enough to read in a table, and the events
// it decodes to.
type httpCase struct {
	name, fixture, want string
}

// httpInline covers single rules with fixtures short enough to read in the
// table; FuzzConn starts from them too.
var httpInline = []httpCase{
	{"NUL before method", "c: \\x00GET / HTTP/1.1\nc: Host: a\nc:",
		"error client: request line: invalid method: first byte 0x00 [opaque]\npending 0\n"},
	{"NUL inside method", "c: GE\\x00T / HTTP/1.1\nc:",
		"error client: request line: invalid method \"GE\\x00T\" [opaque]\npending 0\n"},
	{"TLS to a plain port", "c. \\x16\\x03\\x01\\x02\\x00\\x01\\x00\\x01\\xfc\\x03\\x03",
		"error client: request line: invalid method: first byte 0x16, a TLS handshake record (TLS sent where plain HTTP was expected) [opaque]\npending 0\n"},
	{"HTTP/2 preface", "c: PRI * HTTP/2.0\nc:\nc: SM\nc:",
		"error client: request line: unsupported version \"HTTP/2.0\" [opaque]\npending 0\n"},
	{"HTTP/0.9", "c: GET /\nc:",
		"error client: request line: no HTTP version in \"GET /\" [opaque]\npending 0\n"},
	{"no space", "c: hello\nc:",
		"error client: request line: no space in \"hello\" [opaque]\npending 0\n"},
	{"space in target", "c: GET /a b HTTP/1.1\nc:",
		"error client: request line: invalid target \"/a b\" [opaque]\npending 0\n"},
	{"bad status line", "c: GET / HTTP/1.1\nc:\ns: HTTP/1.1 2xx OK\ns:",
		"request 1 GET / HTTP/1.1 host=\"\"\nerror server: status line: invalid status code \"2xx\" [opaque]\npending 1\n"},
	{"server not HTTP", "c: GET / HTTP/1.1\nc:\ns. SSH-2.0-OpenSSH",
		"request 1 GET / HTTP/1.1 host=\"\"\nerror server: status line: first byte 0x53, want \"HTTP/\" [opaque]\npending 1\n"},
	{"status without reason", "c: GET / HTTP/1.1\nc:\ns: HTTP/1.1 204\ns:",
		"request 1 GET / HTTP/1.1 host=\"\"\nresponse 1 HTTP/1.1 204 \"\"\npending 0\n"},
	{"absolute-form host", "c: GET http://user@example.com:8080/x?y HTTP/1.1\nc:",
		"request 1 GET http://user@example.com:8080/x?y HTTP/1.1 host=\"example.com:8080\"\npending 1\n"},
	{"absolute-form wins over Host", "c: GET http://u:p@a.example/ HTTP/1.1\nc: Host: b.example\nc:",
		"request 1 GET http://u:p@a.example/ HTTP/1.1 host=\"a.example\"\n  header \"Host\": \"b.example\"\npending 1\n"},
	{"origin-form with :// in the query", "c: GET /r?u=http://x.example/ HTTP/1.1\nc: Host: b.example\nc:",
		"request 1 GET /r?u=http://x.example/ HTTP/1.1 host=\"b.example\"\n  header \"Host\": \"b.example\"\npending 1\n"},
	{"CONNECT without Host", "c: CONNECT a.example:443 HTTP/1.1\nc:",
		"request 1 CONNECT a.example:443 HTTP/1.1 host=\"a.example:443\"\npending 1\n"},
	{"CONNECT with Host", "c: CONNECT a.example:443 HTTP/1.1\nc: Host: b.example:443\nc:",
		"request 1 CONNECT a.example:443 HTTP/1.1 host=\"b.example:443\"\n  header \"Host\": \"b.example:443\"\npending 1\n"},
	{"two Host fields", "c: GET / HTTP/1.1\nc: Host: a\nc: Host: b\nc:",
		"error client: header: 2 Host fields (RFC 9112 section 3.2)\nrequest 1 GET / HTTP/1.1 host=\"a\"\n  header \"Host\": \"a\"\n  header \"Host\": \"b\"\npending 1\n"},
	{"no colon and space before colon", "c: GET / HTTP/1.1\nc: Bogus\nc: X-A : 1\nc:",
		"error client: header: no colon in \"Bogus\"\nerror client: header: whitespace before the colon in \"X-A \" (RFC 9112 section 5.1)\nrequest 1 GET / HTTP/1.1 host=\"\"\n  header \"X-A\": \"1\"\npending 1\n"},
	{"unknown transfer coding", "c: POST / HTTP/1.1\nc: Transfer-Encoding: foo, chunked\nc:\nc: 0\nc:",
		"error client: transfer-encoding: unknown coding \"foo\" (RFC 9112 section 6.1) [opaque]\nrequest 1 POST / HTTP/1.1 host=\"\"\n  header \"Transfer-Encoding\": \"foo, chunked\"\npending 1\n"},
	{"request not ending in chunked", "c: POST / HTTP/1.1\nc: Transfer-Encoding: gzip\nc:",
		"error client: transfer-encoding: a request's final coding must be chunked (RFC 9112 section 6.3) [opaque]\nrequest 1 POST / HTTP/1.1 host=\"\"\n  header \"Transfer-Encoding\": \"gzip\"\npending 1\n"},
	{"response not ending in chunked reads until close", "c: GET / HTTP/1.1\nc:\ns: HTTP/1.1 200 OK\ns: Transfer-Encoding: gzip\ns:\ns. zz\nend server",
		"request 1 GET / HTTP/1.1 host=\"\"\nresponse 1 HTTP/1.1 200 \"OK\"\n  header \"Transfer-Encoding\": \"gzip\"\n  body 2 \"zz\"\npending 0\n"},
	{"chunked twice", "c: POST / HTTP/1.1\nc: Transfer-Encoding: chunked, chunked\nc:",
		"error client: transfer-encoding: chunked applied more than once (RFC 9112 section 6.1) [opaque]\nrequest 1 POST / HTTP/1.1 host=\"\"\n  header \"Transfer-Encoding\": \"chunked, chunked\"\npending 1\n"},
	{"Content-Length of 2^63", "c: POST / HTTP/1.1\nc: Content-Length: 9223372036854775808\nc:",
		"error client: content-length: invalid value \"9223372036854775808\" [opaque]\nrequest 1 POST / HTTP/1.1 host=\"\"\n  header \"Content-Length\": \"9223372036854775808\"\npending 1\n"},
	{"Content-Length of 2^63-1 streams", "c: POST / HTTP/1.1\nc: Content-Length: 9223372036854775807\nc:\nc. abc\nend client",
		"error client: body cut short: 3 of 9223372036854775807 bytes\nrequest 1 POST / HTTP/1.1 host=\"\"\n  header \"Content-Length\": \"9223372036854775807\"\n  body 3 \"abc\"\npending 1\n"},
	{"Content-Length not a number", "c: POST / HTTP/1.1\nc: Content-Length: -1\nc:",
		"error client: content-length: invalid value \"-1\" [opaque]\nrequest 1 POST / HTTP/1.1 host=\"\"\n  header \"Content-Length\": \"-1\"\npending 1\n"},
	{"Content-Length list of one value", "c: POST / HTTP/1.1\nc: Content-Length: 2, 2\nc:\nc. ok",
		"request 1 POST / HTTP/1.1 host=\"\"\n  header \"Content-Length\": \"2, 2\"\n  body 2 \"ok\"\npending 1\n"},
	{"huge chunk size", "c: POST / HTTP/1.1\nc: Transfer-Encoding: chunked\nc:\nc: ffffffffffffffffff\nc:",
		"error client: chunk size: more than 2^63-1 [opaque]\nrequest 1 POST / HTTP/1.1 host=\"\"\n  header \"Transfer-Encoding\": \"chunked\"\npending 1\n"},
	{"bad chunk size", "c: POST / HTTP/1.1\nc: Transfer-Encoding: chunked\nc:\nc: 2\nc: ok\nc: zz\nc:",
		"error client: chunk size: invalid byte 'z' [opaque]\nrequest 1 POST / HTTP/1.1 host=\"\"\n  header \"Transfer-Encoding\": \"chunked\"\n  body 2 \"ok\"\npending 1\n"},
	{"no CRLF after chunk data", "c: POST / HTTP/1.1\nc: Transfer-Encoding: chunked\nc:\nc: 2\nc. okX",
		"error client: chunk data: 'X' instead of the CRLF after the chunk [opaque]\nrequest 1 POST / HTTP/1.1 host=\"\"\n  header \"Transfer-Encoding\": \"chunked\"\n  body 2 \"ok\"\npending 1\n"},
	{"chunk cut short", "c: POST / HTTP/1.1\nc: Transfer-Encoding: chunked\nc:\nc: 5\nc. ab\nend client",
		"error client: chunked body cut short after 2 bytes\nrequest 1 POST / HTTP/1.1 host=\"\"\n  header \"Transfer-Encoding\": \"chunked\"\n  body 2 \"ab\"\npending 1\n"},
	{"response head cut short", "c: GET / HTTP/1.1\nc:\ns: HTTP/1.1 200 OK\ns: Content-Type: text/plain\ns. Content-Le\nend server",
		"request 1 GET / HTTP/1.1 host=\"\"\nerror server: response head cut short at end of stream\npending 1\n"},
	{"request head cut short in its start line", "c. GET /inde\nend client",
		"error client: request head cut short at end of stream\npending 0\n"},
	{"empty lines before a request are skipped", "c:\nc:\nc: GET / HTTP/1.1\nc:\nc:\nend client",
		"request 1 GET / HTTP/1.1 host=\"\"\npending 1\n"},
	{"unpaired response", "s: HTTP/1.1 200 OK\ns: Content-Length: 2\ns:\ns. hi",
		"error server: status line: response 200 with no request outstanding\nresponse 0 HTTP/1.1 200 \"OK\"\n  header \"Content-Length\": \"2\"\n  body 2 \"hi\"\npending 0\n"},
	{"answer to garbage", "c: GET / HTTP/1.1\nc:\nc: \\x00\ns: HTTP/1.1 204 No Content\ns:\ns: HTTP/1.1 400 Bad Request\ns: Content-Length: 0\ns:",
		"request 1 GET / HTTP/1.1 host=\"\"\nerror client: request line: invalid method: first byte 0x00 [opaque]\nresponse 1 HTTP/1.1 204 \"No Content\"\nresponse 0 HTTP/1.1 400 \"Bad Request\"\n  header \"Content-Length\": \"0\"\npending 0\n"},
	{"answer to a cut head", "c. GET /half HTTP/1.1\\r\\nHost: x\nend client\ns: HTTP/1.1 400 Bad Request\ns: Content-Length: 0\ns:",
		"error client: request head cut short at end of stream\nresponse 0 HTTP/1.1 400 \"Bad Request\"\n  header \"Content-Length\": \"0\"\npending 0\n"},
	{"101 without Upgrade", "c: GET / HTTP/1.1\nc:\ns: HTTP/1.1 101 Switching Protocols\ns:\ns. junk",
		"request 1 GET / HTTP/1.1 host=\"\"\nresponse 1 HTTP/1.1 101 \"Switching Protocols\"\nerror server: 101 Switching Protocols answers a request without Upgrade: the rest of the connection is not decoded [opaque]\npending 0\n"},
	{"server ends before answering an upgrade", "c: GET / HTTP/1.1\nc: Connection: upgrade\nc: Upgrade: websocket\nc:\nc. GET /next HTTP/1.1\nend server\nend client",
		"request 1 GET / HTTP/1.1 host=\"\"\n  header \"Connection\": \"upgrade\"\n  header \"Upgrade\": \"websocket\"\npending 1\n"},
}

// TestHTTPInline decodes each case of httpInline, also fed at every split.
func TestHTTPInline(t *testing.T) { checkHTTPCases(t, httpInline) }

func checkHTTPCases(t *testing.T, cases []httpCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			fx, err := parseHTTPFixture(tt.fixture)
			if err != nil {
				t.Fatal(err)
			}
			if got := runHTTP(t, fx, httpFeeder{name: "whole"}, nil); got != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
			checkHTTPSplits(t, fx, tt.want)
		})
	}
}

// step is one FeedRequest call as a routing proxy sees it.
type reqStep struct {
	n      int
	target string // of the head returned; "" for none
	err    bool
}

func (s reqStep) String() string { return fmt.Sprintf("{%d %q %v}", s.n, s.target, s.err) }

func feedRequestSteps(c *Conn, chunks ...string) []reqStep {
	var got []reqStep
	for _, ch := range chunks {
		p := []byte(ch)
		for len(p) > 0 {
			n, head, err := c.FeedRequest(p)
			s := reqStep{n: n, err: err != nil}
			if head != nil {
				s.target = head.Target
				if head.Body != nil {
					s.target += " (with a body!)"
				}
			}
			got = append(got, s)
			if n <= 0 {
				return got
			}
			p = p[n:]
		}
	}
	return got
}

// TestFeedRequestSteps checks where FeedRequest stops: after each request
// head, and before the first byte of the next one, whatever the chunking.
func TestFeedRequestSteps(t *testing.T) {
	const (
		get  = "GET http://a/1 HTTP/1.1\r\nHost: a\r\n\r\n"
		post = "POST http://a/2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n"
		chk  = "PUT http://a/3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		body = "hello"
		cbod = "3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"
	)
	tests := []struct {
		name   string
		chunks []string
		want   []reqStep
	}{
		{"three in one chunk", []string{get + post + body + chk + cbod + get}, []reqStep{
			{len(get), "http://a/1", false},
			{len(post), "http://a/2", false},
			{len(body), "", false},
			{len(chk), "http://a/3", false},
			{len(cbod), "", false},
			{len(get), "http://a/1", false},
		}},
		{"head split", []string{post[:10], post[10:] + body[:2], body[2:] + get[:3], get[3:]}, []reqStep{
			{10, "", false},
			{len(post) - 10, "http://a/2", false},
			{2, "", false},
			{3, "", false},
			{3, "", false},
			{len(get) - 3, "http://a/1", false},
		}},
		{"bad head", []string{get + "\x00GET / HTTP/1.1\r\n\r\n" + get}, []reqStep{
			{len(get), "http://a/1", false},
			{len(get) + len("\x00GET / HTTP/1.1\r\n\r\n"), "", true},
		}},
		{"conflicting Content-Length", []string{"POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"}, []reqStep{
			{len("POST /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), "/x", true},
			{2, "", false},
		}},
		{"bad chunk line", []string{chk + "zz\r\nabc\r\n0\r\n\r\n" + get}, []reqStep{
			{len(chk), "http://a/3", false},
			{len("zz\r\nabc\r\n0\r\n\r\n" + get), "", true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewConn(Config{}, &httpRecorder{maxBody: DefaultMaxBody})
			got := feedRequestSteps(c, tt.chunks...)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("steps:\ngot  %v\nwant %v", got, tt.want)
			}
		})
	}
}

// TestAtRequestHead follows AtRequestHead through a request with a body
// and an upgrade, where client bytes are not request heads until the
// answer says so.
func TestAtRequestHead(t *testing.T) {
	c := NewConn(Config{}, &httpRecorder{maxBody: DefaultMaxBody})
	check := func(when string, want bool) {
		t.Helper()
		if got := c.AtRequestHead(); got != want {
			t.Errorf("%s: AtRequestHead() = %v, want %v", when, got, want)
		}
	}
	check("at start", true)
	c.FeedRequest([]byte("POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n"))
	check("in a body", false)
	c.FeedRequest([]byte("ok"))
	check("after the body", true)
	c.FeedRequest([]byte("GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"))
	check("waiting for the answer to an upgrade", false)
	c.FeedRequest([]byte("GET /again HTTP/1.1\r\nHo"))
	check("still waiting", false)
	c.Feed(Server, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
	check("in a head that was replayed (already forwarded)", false)
	c.FeedRequest([]byte("st: a\r\n\r\n"))
	check("after it", true)
	if got := c.Pending(); got != 1 {
		t.Errorf("Pending() = %d, want 1", got)
	}
}

// TestHTTPErrors checks that errors are *HTTPError values that errors.Is
// matches with their cause.
func TestHTTPErrors(t *testing.T) {
	tests := []struct {
		in     string
		side   Side
		cause  error
		opaque bool
	}{
		{"\x00", Client, ErrHTTPSyntax, true},
		{"GET / HTTP/1.1\r\n" + strings.Repeat("X-Pad: 0123456789\r\n", 10000), Client, ErrHeadTooLarge, true},
		{"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", Client, ErrHTTPFraming, true},
		{"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", Client, ErrHTTPCutShort, false},
		{"GET / HTTP/1.1\r\n Folded: x\r\n\r\n", Client, ErrHTTPSyntax, false},
	}
	for _, tt := range tests {
		var errs []error
		c := NewConn(Config{}, httpErrs{&errs})
		c.Feed(Client, []byte(tt.in))
		c.End(Client)
		if len(errs) != 1 {
			t.Errorf("%q: %d errors %v, want 1", tt.in, len(errs), errs)
			continue
		}
		var he *HTTPError
		if !errors.As(errs[0], &he) || !errors.Is(errs[0], tt.cause) || he.Side != tt.side || he.Opaque != tt.opaque {
			t.Errorf("%q: error %#v, want cause %v, side %s, opaque %v", tt.in, errs[0], tt.cause, tt.side, tt.opaque)
		}
	}
}

type httpErrs struct{ errs *[]error }

func (httpErrs) Request(*Request)          {}
func (httpErrs) Response(*Response)        {}
func (httpErrs) Upgrade(*Upgrade)          {}
func (httpErrs) Frame(Side, *Frame)        {}
func (httpErrs) Message(Side, *Message)    {}
func (h httpErrs) Error(_ Side, err error) { *h.errs = append(*h.errs, err) }

// TestUpgradeHandsBytesOn checks that bytes after the 101 head, in the same
// chunk, and client bytes sent before the 101 go to WebSocket decoding, not
// HTTP, and that the closing handshake is followed.
func TestUpgradeHandsBytesOn(t *testing.T) {
	r := &httpRecorder{maxBody: DefaultMaxBody}
	c := NewConn(Config{}, r)
	if _, ok := c.CloseHandshake(); ok {
		t.Error("CloseHandshake ok before any upgrade")
	}
	mask := []byte{1, 2, 3, 4}
	masked := func(op byte, payload string) []byte {
		b := []byte{0x80 | op, 0x80 | byte(len(payload))}
		b = append(b, mask...)
		for i := range len(payload) {
			b = append(b, payload[i]^mask[i%4])
		}
		return b
	}
	c.Feed(Client, append([]byte("GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"),
		masked(1, "early")...))
	c.Feed(Server, append([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
		0x81, 2, 'h', 'i', 0x88, 2, 0x03, 0xe8))
	c.Feed(Client, masked(8, "\x03\xe8"))
	c.End(Server)
	c.End(Client)
	got := r.b.String()
	if strings.Contains(got, "error") || strings.Count(got, "response") != 1 || strings.Count(got, "request") != 1 {
		t.Fatalf("frames were decoded as HTTP, or errors:\n%s", got)
	}
	if !strings.Contains(got, "upgrade 1 protocol=\"websocket\"") || !strings.Contains(got, "accept_ok=true") {
		t.Fatalf("no good upgrade:\n%s", got)
	}
	// The WebSocket decoder is another file's: check what it said only if
	// it said anything.
	if strings.Contains(got, "message") {
		for _, want := range []string{`message client text frames=1 len=5 "early"`, `message server text frames=1 len=2 "hi"`} {
			if !strings.Contains(got, want) {
				t.Errorf("no %s in\n%s", want, got)
			}
		}
		hs, ok := c.CloseHandshake()
		if !ok || hs.First != Server || hs.Sent != [2]bool{true, true} || hs.Code != [2]int{1000, 1000} {
			t.Errorf("CloseHandshake() = %+v, %v; want the server first, both 1000", hs, ok)
		}
	} else if _, ok := c.CloseHandshake(); !ok {
		t.Error("CloseHandshake not ok after a 101")
	}
}

// TestWaitBound checks that client bytes held for an answer are bounded.
func TestWaitBound(t *testing.T) {
	r := &httpRecorder{maxBody: DefaultMaxBody}
	c := NewConn(Config{}, r)
	c.Feed(Client, []byte("GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"))
	c.Feed(Client, make([]byte, h1WaitMax))
	c.Feed(Client, []byte{1})
	c.Feed(Server, []byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
	want := "error client: more than 65536 bytes sent before the answer to request 1: the client's bytes are not decoded [opaque]"
	if got := r.b.String(); !strings.Contains(got, want) || strings.Count(got, "request 1") != 2 || len(c.wait) != 0 {
		t.Errorf("got\n%s\nwant %s", got, want)
	}
}

// TestBounds checks the bounds on what a Conn keeps for requests and
// responses that are not answered or not ended.
func TestBounds(t *testing.T) {
	t.Run("pipelined requests", func(t *testing.T) {
		r := &httpRecorder{maxBody: DefaultMaxBody}
		c := NewConn(Config{}, r)
		c.Feed(Client, bytes.Repeat([]byte("GET / HTTP/1.1\r\n\r\n"), h1QueueMax+5))
		want := "error client: more than 1024 requests without a response: the client's bytes are not decoded [opaque]\n"
		if got := r.b.String(); !strings.HasSuffix(got, want) || c.Pending() != h1QueueMax {
			t.Errorf("Pending() = %d, events end in\n%s", c.Pending(), got[max(0, len(got)-300):])
		}
	})
	t.Run("interim responses", func(t *testing.T) {
		r := &httpRecorder{maxBody: DefaultMaxBody}
		c := NewConn(Config{}, r)
		c.Feed(Client, []byte("POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\n"))
		c.Feed(Server, bytes.Repeat([]byte("HTTP/1.1 100 Continue\r\n\r\n"), 100))
		c.Feed(Server, []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
		if len(c.held) != h1HeldMax+1 {
			t.Errorf("%d responses held, want %d", len(c.held), h1HeldMax+1)
		}
		c.Feed(Client, []byte("x"))
		got := r.b.String()
		if n := strings.Count(got, "response 1 HTTP/1.1 100"); n != h1HeldMax || !strings.Contains(got, "response 1 HTTP/1.1 200") ||
			!strings.HasPrefix(got, "error server: more than 8 interim responses before the end of the request they answer: later ones are not reported\nrequest 1") {
			t.Errorf("%d interim responses in\n%s", n, got)
		}
	})
}

// FuzzConn feeds arbitrary client and server bytes, interleaved and split
// arbitrarily, through Feed or FeedRequest, and checks that nothing panics,
// that kept bodies stay within MaxBody, and that FeedRequest makes progress.
func FuzzConn(f *testing.F) {
	var fixtures []string
	files, _ := filepath.Glob("testdata/http/*.txt")
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		fixtures = append(fixtures, string(text))
	}
	for _, cases := range [][]httpCase{httpInline, httpRules} {
		for _, tt := range cases {
			fixtures = append(fixtures, tt.fixture)
		}
	}
	for _, text := range fixtures {
		fx, err := parseHTTPFixture(text)
		if err != nil {
			f.Fatal(err)
		}
		var ops []byte
		var client, server []byte
		for _, sg := range fx.segs {
			if sg.end {
				continue
			}
			for p := sg.b; len(p) > 0; {
				k := min(len(p), 127)
				ops = append(ops, byte(k<<1)|byte(sg.side))
				p = p[k:]
			}
			if sg.side == Client {
				client = append(client, sg.b...)
			} else {
				server = append(server, sg.b...)
			}
		}
		f.Add(client, server, ops, uint8(0))
		f.Add(client, server, ops, uint8(7))
	}
	f.Fuzz(func(t *testing.T, client, server, ops []byte, mode uint8) {
		whole := fuzzConn(t, client, server, ops, mode, false)
		if bytewise := fuzzConn(t, client, server, ops, mode, true); bytewise != whole {
			t.Errorf("fed one byte at a time:\n%s\nfed in pieces:\n%s", bytewise, whole)
		}
	})
}

// fuzzConn runs one FuzzConn input: ops are pieces, each naming a side
// (low bit) and a length (the rest; 0 ends the side). Bit 0 of mode feeds
// the client through FeedRequest, bit 1 ends the server first, the rest
// picks MaxBody.
func fuzzConn(t *testing.T, client, server, ops []byte, mode uint8, bytewise bool) string {
	cfg := Config{MaxBody: int(mode>>2) - 8, MaxHead: 1 << 12}
	r := &httpRecorder{maxBody: max(cfg.maxBody(), 0)}
	c := NewConn(cfg, r)
	in := [2][]byte{client, server}
	feed := func(side Side, p []byte) {
		for len(p) > 0 {
			q := p
			if bytewise {
				q = p[:1]
			}
			p = p[len(q):]
			if side == Server || mode&1 == 0 {
				c.Feed(side, q)
				continue
			}
			for len(q) > 0 {
				n, _, _ := c.FeedRequest(q)
				if n <= 0 || n > len(q) {
					t.Fatalf("FeedRequest consumed %d of %d bytes", n, len(q))
				}
				q = q[n:]
			}
		}
	}
	for _, op := range ops {
		side, k := Side(op&1), int(op>>1)
		if k == 0 {
			c.End(side)
			continue
		}
		k = min(k, len(in[side]))
		feed(side, in[side][:k])
		in[side] = in[side][k:]
	}
	feed(Client, in[Client])
	feed(Server, in[Server])
	if mode&2 != 0 {
		c.End(Server)
		c.End(Client)
	} else {
		c.End(Client)
		c.End(Server)
	}
	fmt.Fprintf(&r.b, "pending %d\n", c.Pending())
	if hs, ok := c.CloseHandshake(); ok {
		fmt.Fprintf(&r.b, "close handshake %+v\n", hs)
	}
	for _, b := range r.bad {
		t.Error(b)
	}
	for name, n := range retained(c) {
		if n > retainMax {
			t.Errorf("%s: %d bytes kept after the end, want at most %d", name, n, retainMax)
		}
	}
	return r.b.String()
}

// BenchmarkHTTPKeepAlive decodes small GET/200 exchanges on one keep-alive
// connection, each side's bytes in one read as a proxy would see them.
func BenchmarkHTTPKeepAlive(b *testing.B) {
	req := []byte("GET /api/items?page=2 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench/1.0\r\nAccept: application/json\r\nAccept-Encoding: gzip\r\nConnection: keep-alive\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\nDate: Sun, 23 Nov 2025 19:00:00 GMT\r\nServer: bench\r\n\r\n{\"items\":[1,2,3],\"page\":2}\n")
	c := NewConn(Config{}, nopHandler{})
	b.SetBytes(int64(len(req) + len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		c.Feed(Client, req)
		c.Feed(Server, resp)
	}
	if c.Pending() != 0 {
		b.Fatalf("Pending() = %d", c.Pending())
	}
}

type nopHandler struct{}

func (nopHandler) Request(*Request)       {}
func (nopHandler) Response(*Response)     {}
func (nopHandler) Upgrade(*Upgrade)       {}
func (nopHandler) Frame(Side, *Frame)     {}
func (nopHandler) Message(Side, *Message) {}
func (nopHandler) Error(Side, error)      {}

// TestKeepAliveAllocs keeps the steady state of the keep-alive path at one
// allocation per head: the string its fields point into.
func TestKeepAliveAllocs(t *testing.T) {
	req := []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	c := NewConn(Config{}, nopHandler{})
	c.Feed(Client, req)
	c.Feed(Server, resp)
	if n := testing.AllocsPerRun(100, func() {
		c.Feed(Client, req)
		c.Feed(Server, resp)
	}); n > 2 {
		t.Errorf("%v allocations per exchange, want at most 2", n)
	}
}
