package decode

import (
	"errors"
	"strings"
	"testing"
)

// httpRules are the rules an intermediary must not get wrong (issue 8,
// defect 2: request smuggling; defect 6: header abuse): what is reported,
// what is fatal for which side, and what is decoded on.
var httpRules = []httpCase{
	// RFC 9110 section 5.5: CR and NUL in field values, reported and
	// kept as sent, in requests, responses and trailers.
	{"bare CR in a request field value", "c: GET / HTTP/1.1\nc. X-A: foo\\rX-Injected: 1\\r\\n\nc:",
		"error client: header: bare CR in the value of \"X-A\", kept as sent (RFC 9110 section 5.5)\nrequest 1 GET / HTTP/1.1 host=\"\"\n  header \"X-A\": \"foo\\rX-Injected: 1\"\npending 1\n"},
	{"NUL, and CR with NUL", "c: GET / HTTP/1.1\nc: X-A: a\\x00b\nc: X-B: \\rc\\x00\nc:",
		"error client: header: NUL in the value of \"X-A\", kept as sent (RFC 9110 section 5.5)\nerror client: header: bare CR and NUL in the value of \"X-B\", kept as sent (RFC 9110 section 5.5)\nrequest 1 GET / HTTP/1.1 host=\"\"\n  header \"X-A\": \"a\\x00b\"\n  header \"X-B\": \"\\rc\\x00\"\npending 1\n"},
	{"CR before CRLF", "c: GET / HTTP/1.1\nc: X-A: a\\r\nc:",
		"error client: header: bare CR in the value of \"X-A\", kept as sent (RFC 9110 section 5.5)\nrequest 1 GET / HTTP/1.1 host=\"\"\n  header \"X-A\": \"a\\r\"\npending 1\n"},
	{"NUL in a response field, CR in a trailer", "c: GET / HTTP/1.1\nc:\ns: HTTP/1.1 200 OK\ns: Transfer-Encoding: chunked\ns: X-R: a\\x00\ns:\ns: 0\ns: X-T: b\\rc\ns:",
		"request 1 GET / HTTP/1.1 host=\"\"\nerror server: header: NUL in the value of \"X-R\", kept as sent (RFC 9110 section 5.5)\nerror server: header: bare CR in the value of \"X-T\", kept as sent (RFC 9110 section 5.5)\nresponse 1 HTTP/1.1 200 \"OK\"\n  header \"Transfer-Encoding\": \"chunked\"\n  header \"X-R\": \"a\\x00\"\n  trailer \"X-T\": \"b\\rc\"\npending 0\n"},

	// RFC 9112 section 7.1: chunk lines end in CRLF. A request is refused,
	// a response reported once per body and decoded on.
	{"request: bare LF ends a chunk-size line", "c: POST / HTTP/1.1\nc: Transfer-Encoding: chunked\nc:\nc. 2\\nok\\r\\n0\\r\\n\\r\\n",
		"error client: chunked body: the chunk-size line ends in a bare LF, not CRLF (RFC 9112 section 7.1) [opaque]\nrequest 1 POST / HTTP/1.1 host=\"\"\n  header \"Transfer-Encoding\": \"chunked\"\npending 1\n"},
	{"request: bare LF after chunk data", "c: POST / HTTP/1.1\nc: Transfer-Encoding: chunked\nc:\nc. 2\\r\\nok\\n0\\r\\n\\r\\n",
		"error client: chunked body: the chunk data is followed by a bare LF, not CRLF (RFC 9112 section 7.1) [opaque]\nrequest 1 POST / HTTP/1.1 host=\"\"\n  header \"Transfer-Encoding\": \"chunked\"\n  body 2 \"ok\"\npending 1\n"},
	{"request: bare LF ends the last chunk", "c: POST / HTTP/1.1\nc: Transfer-Encoding: chunked\nc:\nc. 2\\r\\nok\\r\\n0\\n\\r\\n",
		"error client: chunked body: the chunk-size line ends in a bare LF, not CRLF (RFC 9112 section 7.1) [opaque]\nrequest 1 POST / HTTP/1.1 host=\"\"\n  header \"Transfer-Encoding\": \"chunked\"\n  body 2 \"ok\"\npending 1\n"},
	{"request: bare LF after a chunk extension", "c: POST / HTTP/1.1\nc: Transfer-Encoding: chunked\nc:\nc. 2;ext=1\\n",
		"error client: chunked body: the chunk-size line ends in a bare LF, not CRLF (RFC 9112 section 7.1) [opaque]\nrequest 1 POST / HTTP/1.1 host=\"\"\n  header \"Transfer-Encoding\": \"chunked\"\npending 1\n"},
	{"responses: bare LFs reported once per body", "c: GET /a HTTP/1.1\nc:\nc: GET /b HTTP/1.1\nc:\ns: HTTP/1.1 200 OK\ns: Transfer-Encoding: chunked\ns:\ns. 2\\nok\\n3;x\\nabc\\r\\n0\\n\\n\ns: HTTP/1.1 200 OK\ns: Transfer-Encoding: chunked\ns:\ns. 1\\r\\nz\\n0\\r\\n\\r\\n",
		"request 1 GET /a HTTP/1.1 host=\"\"\nrequest 2 GET /b HTTP/1.1 host=\"\"\nerror server: chunked body: the chunk-size line ends in a bare LF, not CRLF (RFC 9112 section 7.1): decoded on as browsers do, not reported again in this body\nresponse 1 HTTP/1.1 200 \"OK\"\n  header \"Transfer-Encoding\": \"chunked\"\n  body 5 \"okabc\"\nerror server: chunked body: the chunk data is followed by a bare LF, not CRLF (RFC 9112 section 7.1): decoded on as browsers do, not reported again in this body\nresponse 2 HTTP/1.1 200 \"OK\"\n  header \"Transfer-Encoding\": \"chunked\"\n  body 1 \"z\"\npending 0\n"},
	{"bare CR in a chunk-size line", "c: POST / HTTP/1.1\nc: Transfer-Encoding: chunked\nc:\nc. 2\\r;x\\r\\nok\\r\\n0\\r\\n\\r\\n",
		"error client: chunk size: a CR not followed by LF (RFC 9112 section 7.1) [opaque]\nrequest 1 POST / HTTP/1.1 host=\"\"\n  header \"Transfer-Encoding\": \"chunked\"\npending 1\n"},
	{"bare CR in a chunk extension", "c: POST / HTTP/1.1\nc: Transfer-Encoding: chunked\nc:\nc. 2;x\\ry\\r\\nok\\r\\n0\\r\\n\\r\\n",
		"error client: chunk size: a CR not followed by LF (RFC 9112 section 7.1) [opaque]\nrequest 1 POST / HTTP/1.1 host=\"\"\n  header \"Transfer-Encoding\": \"chunked\"\npending 1\n"},
	{"response: CR CR LF ends a chunk-size line", "c: GET / HTTP/1.1\nc:\ns: HTTP/1.1 200 OK\ns: Transfer-Encoding: chunked\ns:\ns. 2\\r\\r\\nok\\r\\n0\\r\\n\\r\\n",
		"request 1 GET / HTTP/1.1 host=\"\"\nerror server: chunk size: a CR not followed by LF (RFC 9112 section 7.1) [opaque]\nresponse 1 HTTP/1.1 200 \"OK\"\n  header \"Transfer-Encoding\": \"chunked\"\npending 0\n"},

	// RFC 9112 section 6.1: Transfer-Encoding in HTTP/1.0 is faulty
	// framing, even with a Content-Length.
	{"HTTP/1.0 request with Transfer-Encoding", "c: POST / HTTP/1.0\nc: Transfer-Encoding: chunked\nc: Content-Length: 3\nc:\nc. 0\\r\\n\\r\\n",
		"error client: transfer-encoding in an HTTP/1.0 message: the framing is faulty (RFC 9112 section 6.1) [opaque]\nrequest 1 POST / HTTP/1.0 host=\"\"\n  header \"Transfer-Encoding\": \"chunked\"\n  header \"Content-Length\": \"3\"\npending 1\n"},
	{"HTTP/1.0 response with Transfer-Encoding", "c: GET / HTTP/1.0\nc:\ns: HTTP/1.0 200 OK\ns: Transfer-Encoding: chunked\ns:\ns: 2\ns: ok\ns: 0\ns:",
		"request 1 GET / HTTP/1.0 host=\"\"\nerror server: transfer-encoding in an HTTP/1.0 message: the framing is faulty (RFC 9112 section 6.1) [opaque]\nresponse 1 HTTP/1.0 200 \"OK\"\n  header \"Transfer-Encoding\": \"chunked\"\npending 0\n"},

	// RFC 9110 section 9.3.6: a CONNECT request has no content.
	{"CONNECT with Content-Length", "c: CONNECT a.example:443 HTTP/1.1\nc: Content-Length: 5\nc:\nc. hello",
		"error client: CONNECT request with content (Content-Length 5): it has none (RFC 9110 section 9.3.6) [opaque]\nrequest 1 CONNECT a.example:443 HTTP/1.1 host=\"a.example:443\"\n  header \"Content-Length\": \"5\"\npending 1\n"},
	{"CONNECT with Transfer-Encoding", "c: CONNECT a.example:443 HTTP/1.1\nc: Transfer-Encoding: chunked\nc:\nc: 0\nc:",
		"error client: CONNECT request with content (Transfer-Encoding): it has none (RFC 9110 section 9.3.6) [opaque]\nrequest 1 CONNECT a.example:443 HTTP/1.1 host=\"a.example:443\"\n  header \"Transfer-Encoding\": \"chunked\"\npending 1\n"},
	{"CONNECT with Content-Length 0 opens its tunnel", "c: CONNECT a.example:443 HTTP/1.1\nc: Content-Length: 0\nc:\ns: HTTP/1.1 200 Connection established\ns:\nc. \\x16\\x03\\x01",
		"request 1 CONNECT a.example:443 HTTP/1.1 host=\"a.example:443\"\n  header \"Content-Length\": \"0\"\nresponse 1 HTTP/1.1 200 \"Connection established\"\npending 0\n"},

	// RFC 9112 section 6.3: Transfer-Encoding and Content-Length, in a
	// response too.
	{"response with Transfer-Encoding and Content-Length", "c: GET / HTTP/1.1\nc:\ns: HTTP/1.1 200 OK\ns: Content-Length: 2\ns: Transfer-Encoding: chunked\ns:\ns: 2\ns: ok\ns: 0\ns:",
		"request 1 GET / HTTP/1.1 host=\"\"\nerror server: both Transfer-Encoding and Content-Length: Transfer-Encoding wins (RFC 9112 section 6.3)\nresponse 1 HTTP/1.1 200 \"OK\"\n  header \"Content-Length\": \"2\"\n  header \"Transfer-Encoding\": \"chunked\"\n  body 2 \"ok\"\npending 0\n"},

	// RFC 9112 sections 2.2 and 5.2: whitespace-preceded lines.
	{"whitespace-preceded lines before the first field", "c: GET / HTTP/1.1\nc:  lead\nc: \\tmore\nc: Host: a\nc:",
		"error client: header: 2 whitespace-preceded lines with no field before them, ignored (RFC 9112 section 2.2), the first \" lead\"\nrequest 1 GET / HTTP/1.1 host=\"a\"\n  header \"Host\": \"a\"\npending 1\n"},
	{"folds: of a line ignored, empty, with a CR", "c: GET / HTTP/1.1\nc: Bogus\nc:  cont\nc: X-A: 1\nc:    \nc:  two\nc: \\tthree\\rX\nc:",
		"error client: header: no colon in \"Bogus\"\nerror client: header: obsolete line folding in \"X-A\", 4 lines joined (RFC 9112 section 5.2)\nerror client: header: bare CR in the value of \"X-A\", kept as sent (RFC 9110 section 5.5)\nrequest 1 GET / HTTP/1.1 host=\"\"\n  header \"X-A\": \"1 two three\\rX\"\npending 1\n"},
	{"fold of an empty value", "c: GET / HTTP/1.1\nc: X-A:\nc:  b\nc:",
		"error client: header: obsolete line folding in \"X-A\", 2 lines joined (RFC 9112 section 5.2)\nrequest 1 GET / HTTP/1.1 host=\"\"\n  header \"X-A\": \"b\"\npending 1\n"},

	// Issue 8, defect 6: the errors of one head are capped.
	{"errors of a head capped", "c: GET / HTTP/1.1\nc: A\nc: B\nc: C\nc: D\nc: E\nc: F\nc: G\nc: H\nc: I\nc: J\nc: K: 1\nc:",
		"error client: header: no colon in \"A\"\nerror client: header: no colon in \"B\"\nerror client: header: no colon in \"C\"\nerror client: header: no colon in \"D\"\nerror client: header: no colon in \"E\"\nerror client: header: no colon in \"F\"\nerror client: header: no colon in \"G\"\nerror client: header: no colon in \"H\"\nerror client: header: and 2 more errors in this head, not reported one by one\nrequest 1 GET / HTTP/1.1 host=\"\"\n  header \"K\": \"1\"\npending 1\n"},
	{"errors of a trailer section capped", "c: POST / HTTP/1.1\nc: Transfer-Encoding: chunked\nc:\nc: 0\nc: A\nc: B\nc: C\nc: D\nc: E\nc: F\nc: G\nc: H\nc: I\nc:",
		"error client: header: no colon in \"A\"\nerror client: header: no colon in \"B\"\nerror client: header: no colon in \"C\"\nerror client: header: no colon in \"D\"\nerror client: header: no colon in \"E\"\nerror client: header: no colon in \"F\"\nerror client: header: no colon in \"G\"\nerror client: header: no colon in \"H\"\nerror client: header: and 1 more error in this trailer section, not reported one by one\nrequest 1 POST / HTTP/1.1 host=\"\"\n  header \"Transfer-Encoding\": \"chunked\"\npending 1\n"},
}

// TestHTTPRules decodes each case of httpRules, also fed at every split.
func TestHTTPRules(t *testing.T) { checkHTTPCases(t, httpRules) }

// TestHTTPRulesErrors checks that what httpRules reports are *HTTPError
// values with the right cause, and that FeedRequest returns the fatal ones,
// with the Seq of the request delivered.
func TestHTTPRulesErrors(t *testing.T) {
	tests := []struct {
		in    string
		cause error
		fatal bool
	}{
		{"GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", ErrHTTPSyntax, false},
		{"GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n", ErrHTTPSyntax, false},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n", ErrHTTPFraming, true},
		{"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\n0\r\n\r\n", ErrHTTPFraming, true},
		{"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ErrHTTPFraming, true},
		{"CONNECT a:443 HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", ErrHTTPFraming, true},
	}
	for _, tt := range tests {
		var errs []error
		c := NewConn(Config{}, httpErrs{&errs})
		var fatal error
		for p := []byte(tt.in); len(p) > 0; {
			n, _, err := c.FeedRequest(p)
			if err != nil {
				fatal = err
			}
			p = p[n:]
		}
		var he *HTTPError
		if len(errs) != 1 || !errors.As(errs[0], &he) || !errors.Is(he, tt.cause) || he.Opaque != tt.fatal || he.Seq != 1 {
			t.Errorf("%q: errors %v, want one %v, fatal %v, seq 1", tt.in, errs, tt.cause, tt.fatal)
			continue
		}
		if !strings.Contains(he.Msg, "(RFC 911") {
			t.Errorf("%q: %q cites no RFC", tt.in, he.Msg)
		}
		if (fatal != nil) != tt.fatal || fatal != nil && fatal != errs[0] {
			t.Errorf("%q: FeedRequest returned %v, want the fatal error reported", tt.in, fatal)
		}
	}
}

// TestHeaderAbuse decodes 64 KiB heads of folds and of bad lines and
// checks that each costs a few events, not one per line (issue 8, defect
// 6), and that the folds are still joined. BenchmarkHeaderAbuse measures
// the time.
func TestHeaderAbuse(t *testing.T) {
	tests := []struct {
		name, lines string
		value       string // of X-Fold; "" to skip the check
		errs        int    // errors reported
	}{
		{"one field folded", " x\r\n", "start" + strings.Repeat(" x", (DefaultMaxHead-41)/4), 1},
		{"every field folded", "X: a\r\n b\r\n", "", h1FieldErrMax + 1},
		{"no colons", "bogus\r\n", "start", h1FieldErrMax + 1},
		{"NULs", "X: \x00\r\n", "", h1FieldErrMax + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			head := abuseHead(tt.lines)
			r := &httpRecorder{maxBody: DefaultMaxBody}
			c := NewConn(Config{}, r)
			n, got, err := c.FeedRequest(head)
			if n != len(head) || got == nil || err != nil {
				t.Fatalf("FeedRequest = %d, %v, %v; want the whole head", n, got, err)
			}
			if tt.value != "" && got.Headers[1].Value != tt.value {
				t.Errorf("X-Fold is %d bytes %.40q..., want %d bytes", len(got.Headers[1].Value), got.Headers[1].Value, len(tt.value))
			}
			events := r.b.String()
			errs := 0
			for line := range strings.Lines(events) {
				if strings.HasPrefix(line, "error ") {
					errs++
				}
			}
			if errs != tt.errs ||
				tt.errs > h1FieldErrMax && !strings.Contains(events, "more errors in this head, not reported one by one") {
				t.Errorf("%d errors for a %d-byte head, want %d, the last a count:\n%s", errs, len(head), tt.errs, events[:min(len(events), 2000)])
			}
		})
	}
}

// abuseHead is a request head of about 64 KiB (DefaultMaxHead) made of
// field lines repeated: the header abuse of issue 8, defect 6.
func abuseHead(field string) []byte {
	var b strings.Builder
	b.WriteString("GET / HTTP/1.1\r\nHost: a\r\nX-Fold: start\r\n")
	for b.Len()+len(field)+2 <= DefaultMaxHead {
		b.WriteString(field)
	}
	b.WriteString("\r\n")
	return []byte(b.String())
}

// eventCount is a Handler that counts what it is given.
type eventCount struct {
	nopHandler
	n int
}

func (c *eventCount) Request(*Request)   { c.n++ }
func (c *eventCount) Response(*Response) { c.n++ }
func (c *eventCount) Error(Side, error)  { c.n++ }

// BenchmarkHeaderAbuse decodes 64 KiB request heads of obsolete line
// folding (one field folded 16,000 times, or 6,500 fields folded once) and
// of lines without a colon, and reports how many events each costs.
func BenchmarkHeaderAbuse(b *testing.B) {
	for _, bm := range []struct{ name, lines string }{
		{"one field folded", " x\r\n"},
		{"every field folded", "X: a\r\n b\r\n"},
		{"no colons", "bogus\r\n"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			head := abuseHead(bm.lines)
			var h eventCount
			c := NewConn(Config{}, &h)
			b.SetBytes(int64(len(head)))
			b.ReportAllocs()
			for b.Loop() {
				h.n = 0
				c.Feed(Client, head)
				c.Feed(Server, []byte("HTTP/1.1 204 No Content\r\n\r\n"))
			}
			b.ReportMetric(float64(h.n), "events/op")
		})
	}
}
