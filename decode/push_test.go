package decode

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// pushRecorder is a Handler and a Push that writes what it gets as lines.
type pushRecorder struct {
	b       strings.Builder
	stillAt int // StillOpen answers yes from this ask on (1-based); 0: never
	asks    int
	maxData int
}

func (r *pushRecorder) Request(q *Request) {
	fmt.Fprintf(&r.b, "request %d %s %s\n", q.Seq, q.Method, q.Target)
}
func (r *pushRecorder) Response(p *Response) {
	fmt.Fprintf(&r.b, "response %d %d streaming=%s body_len=%d body=%q events=%d comments=%d chunks=%d\n",
		p.Seq, p.Status, p.Streaming, p.BodyLen, p.Body[:min(len(p.Body), 64)], p.Events, p.Comments, p.Chunks)
}
func (r *pushRecorder) Upgrade(*Upgrade)       {}
func (r *pushRecorder) Frame(Side, *Frame)     {}
func (r *pushRecorder) Message(Side, *Message) {}
func (r *pushRecorder) Error(s Side, err error) {
	fmt.Fprintf(&r.b, "error %s: %s\n", s, pushErrName(err))
}

func (r *pushRecorder) StreamHead(p *Response) {
	fmt.Fprintf(&r.b, "head %d stream=%d %d %s body=%v\n", p.Seq, p.Stream, p.Status, p.Streaming, p.Body != nil)
}
func (r *pushRecorder) SSE(seq int, stream uint32, ev *SSEEvent) {
	r.maxData = max(r.maxData, len(ev.Data))
	fmt.Fprintf(&r.b, "sse %d stream=%d event=%s data=%q", seq, stream, ev.Event, ev.Data)
	if ev.HasID {
		fmt.Fprintf(&r.b, " id=%q", ev.ID)
	}
	if ev.HasRetry {
		fmt.Fprintf(&r.b, " retry=%d", ev.Retry)
	}
	fmt.Fprintf(&r.b, " len=%d comments=%d\n", ev.Len, ev.Comments)
}
func (r *pushRecorder) Chunk(c *Chunk) {
	r.maxData = max(r.maxData, len(c.Data))
	fmt.Fprintf(&r.b, "chunk %d stream=%d len=%d data=%q truncated=%v\n", c.Seq, c.Stream, c.Len, c.Data, c.Truncated)
}
func (r *pushRecorder) StillOpen(seq int, stream uint32) bool {
	r.asks++
	return r.stillAt > 0 && r.asks >= r.stillAt
}

// pushErrName is an error's cause, so that wants do not spell offsets.
func pushErrName(err error) string {
	for _, e := range []error{ErrSSETooLarge, ErrSSEUTF8, ErrSSECutShort, ErrStreamLine, ErrHTTPCutShort} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return err.Error()
}

// chunked frames parts as an HTTP/1.1 chunked body, with its last chunk.
func chunked(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(p), p)
	}
	return b.String() + "0\r\n\r\n"
}

const sseBody = "retry: 2500\n\n: hello\ndata: one\ndata: two\nid: 7\n\nevent: tick\r\ndata: {\"n\":1}\r\n\r\n: keep-alive\n\ndata: last\n\n"

const sseWant = `sse 1 stream=0 event=message data="one\ntwo" id="7" len=35 comments=1
sse 1 stream=0 event=tick data="{\"n\":1}" len=30 comments=0
sse 1 stream=0 event=message data="last" len=12 comments=0
`

type pushCase struct {
	name    string
	server  string // after the request GET /x
	end     bool   // End(Server) after the bytes
	max     int
	stillAt int
	want    string
}

func pushCases() []pushCase {
	sseHead := "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
	return []pushCase{
		{name: "sse chunked", server: sseHead + "Transfer-Encoding: chunked\r\n\r\n" + chunked(sseBody[:20], sseBody[20:50], sseBody[50:]),
			want: "head 1 stream=0 200 sse body=false\n" + sseWant + "response 1 200 streaming=sse body_len=104 body=\"\" events=3 comments=2 chunks=0\n"},
		{name: "sse close-delimited", server: sseHead + "\r\n" + sseBody, end: true,
			want: "head 1 stream=0 200 sse body=false\n" + sseWant + "response 1 200 streaming=sse body_len=104 body=\"\" events=3 comments=2 chunks=0\n"},
		{name: "sse content-length", server: sseHead + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(sseBody)) + sseBody,
			want: "head 1 stream=0 200 sse body=false\n" + sseWant + "response 1 200 streaming=sse body_len=104 body=\"\" events=3 comments=2 chunks=0\n"},
		{name: "sse cut short", server: sseHead + "\r\ndata: a\n\ndata: b\n", end: true,
			want: "head 1 stream=0 200 sse body=false\nsse 1 stream=0 event=message data=\"a\" len=9 comments=0\nerror server: sse event cut short\nresponse 1 200 streaming=sse body_len=17 body=\"\" events=1 comments=0 chunks=0\n"},
		{name: "ndjson lines", server: "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked("{\"a\":1}\n{\"b\"", ":2}\r\n", "{\"c\":3}"),
			want: "head 1 stream=0 200 lines body=false\nchunk 1 stream=0 len=8 data=\"{\\\"a\\\":1}\" truncated=false\nchunk 1 stream=0 len=9 data=\"{\\\"b\\\":2}\" truncated=false\nchunk 1 stream=0 len=7 data=\"{\\\"c\\\":3}\" truncated=false\nresponse 1 200 streaming=lines body_len=24 body=\"\" events=0 comments=0 chunks=3\n"},
		{name: "long line", max: 4, server: "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n\r\n0123456789\nab\n", end: true,
			want: "head 1 stream=0 200 lines body=false\nerror server: streamed line too long\nchunk 1 stream=0 len=11 data=\"0123\" truncated=true\nchunk 1 stream=0 len=3 data=\"ab\" truncated=false\nresponse 1 200 streaming=lines body_len=14 body=\"\" events=0 comments=0 chunks=2\n"},
		{name: "chunks after still open", stillAt: 2, server: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked("[1", ",2", ",3]"),
			want: "head 1 stream=0 200 chunks body=false\nchunk 1 stream=0 len=2 data=\"[1\" truncated=false\nchunk 1 stream=0 len=2 data=\",2\" truncated=false\nchunk 1 stream=0 len=3 data=\",3]\" truncated=false\nresponse 1 200 streaming=chunks body_len=7 body=\"\" events=0 comments=0 chunks=3\n"},
		{name: "chunked never still open", server: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked("[1", ",2]"),
			want: "response 1 200 streaming=none body_len=5 body=\"[1,2]\" events=0 comments=0 chunks=0\n"},
		{name: "gzip sse streams chunks", server: sseHead + "Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked("\x1f\x8b", "zz"),
			want: "head 1 stream=0 200 chunks body=false\nchunk 1 stream=0 len=2 data=\"\\x1f\\x8b\" truncated=false\nchunk 1 stream=0 len=2 data=\"zz\" truncated=false\nresponse 1 200 streaming=chunks body_len=4 body=\"\" events=0 comments=0 chunks=2\n"},
		{name: "sse not utf-8", server: sseHead + "\r\ndata: \xff\xfe\n\ndata: ok\n\n", end: true,
			want: "head 1 stream=0 200 sse body=false\nerror server: sse stream not UTF-8\nsse 1 stream=0 event=message data=\"\ufffd\ufffd\" len=10 comments=0\nsse 1 stream=0 event=message data=\"ok\" len=10 comments=0\nresponse 1 200 streaming=sse body_len=20 body=\"\" events=2 comments=0 chunks=0\n"},
		{name: "plain", server: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
			want: "response 1 200 streaming=none body_len=2 body=\"hi\" events=0 comments=0 chunks=0\n"},
	}
}

// runPush feeds a GET and then server, cut at the offsets in split.
func runPush(tb testing.TB, tc pushCase, split []int) (string, *pushRecorder) {
	tb.Helper()
	r := &pushRecorder{stillAt: tc.stillAt}
	c := NewConn(Config{MaxBody: tc.max}, r)
	c.Feed(Client, []byte("GET /x HTTP/1.1\r\nHost: h\r\n\r\n"))
	out := r.b.String()
	r.b.Reset()
	at := 0
	for _, k := range split {
		c.Feed(Server, []byte(tc.server[at:k]))
		at = k
	}
	c.Feed(Server, []byte(tc.server[at:]))
	if tc.end {
		c.End(Server)
	}
	if out != "request 1 GET /x\n" {
		tb.Fatalf("request: %q", out)
	}
	return r.b.String(), r
}

func TestPushHTTP1(t *testing.T) {
	for _, tc := range pushCases() {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := runPush(t, tc, nil)
			if got != tc.want {
				t.Fatalf("whole:\ngot:\n%s\nwant:\n%s", got, tc.want)
			}
			// Every split in two and three, and one byte at a time.
			n := len(tc.server)
			for i := 1; i < n; i++ {
				if got, _ := runPush(t, tc, []int{i}); got != tc.want {
					t.Fatalf("split at %d:\ngot:\n%s\nwant:\n%s", i, got, tc.want)
				}
				for j := i + 1; j < n && n < 400; j += 7 {
					if got, _ := runPush(t, tc, []int{i, j}); got != tc.want {
						t.Fatalf("split at %d, %d:\ngot:\n%s\nwant:\n%s", i, j, got, tc.want)
					}
				}
			}
			bytewise := make([]int, 0, n)
			for i := 1; i < n; i++ {
				bytewise = append(bytewise, i)
			}
			if got, _ := runPush(t, tc, bytewise); got != tc.want {
				t.Fatalf("byte by byte:\ngot:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestPushHugeLine feeds a 10 MB line with no line end in an event stream
// and in NDJSON: one error for the exchange, what is kept stays under the
// bound.
func TestPushHugeLine(t *testing.T) {
	line := strings.Repeat("x", 10<<20)
	for _, typ := range []string{"text/event-stream", "application/x-ndjson"} {
		t.Run(typ, func(t *testing.T) {
			r := &pushRecorder{}
			c := NewConn(Config{MaxBody: 64 << 10}, r)
			c.Feed(Client, []byte("GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
			c.Feed(Server, []byte("HTTP/1.1 200 OK\r\nContent-Type: "+typ+"\r\n\r\ndata: "))
			for p := line; len(p) > 0; p = p[min(len(p), 32<<10):] {
				c.Feed(Server, []byte(p[:min(len(p), 32<<10)]))
			}
			c.End(Server)
			out := r.b.String()
			if n := strings.Count(out, "error "); n != 1 {
				t.Errorf("%d errors:\n%s", n, out)
			}
			if r.maxData > 64<<10 {
				t.Errorf("kept %d bytes of a message, bound %d", r.maxData, 64<<10)
			}
			if !strings.Contains(out, "body_len=10485766") {
				t.Errorf("body not counted whole:\n%s", out)
			}
		})
	}
}

// TestPushHTTP2 streams an event stream and NDJSON on two HTTP/2 streams
// at once, in every split of each segment.
func TestPushHTTP2(t *testing.T) {
	sc := newH2Script(t).start()
	sc.headers(Client, 1, true, ":method", "GET", ":scheme", "http", ":path", "/ev", ":authority", "h")
	sc.headers(Client, 3, true, ":method", "GET", ":scheme", "http", ":path", "/nd", ":authority", "h")
	sc.headers(Server, 1, false, ":status", "200", "content-type", "text/event-stream")
	sc.headers(Server, 3, false, ":status", "200", "content-type", "application/x-ndjson")
	sc.data(Server, 1, false, sseBody[:30])
	sc.data(Server, 3, false, "{\"a\":1}\n{\"b\"")
	sc.data(Server, 1, false, sseBody[30:])
	sc.data(Server, 3, true, ":2}\n")
	sc.data(Server, 1, true, "data: x")
	fx := sc.fx
	want := `head 1 stream=1 200 sse body=false
head 2 stream=3 200 lines body=false
chunk 2 stream=3 len=8 data="{\"a\":1}" truncated=false
sse 1 stream=1 event=message data="one\ntwo" id="7" len=35 comments=1
sse 1 stream=1 event=tick data="{\"n\":1}" len=30 comments=0
sse 1 stream=1 event=message data="last" len=12 comments=0
chunk 2 stream=3 len=8 data="{\"b\":2}" truncated=false
response 2 200 streaming=lines body_len=16 body="" events=0 comments=0 chunks=2
error server: sse event cut short
response 1 200 streaming=sse body_len=111 body="" events=3 comments=2 chunks=0
`
	run := func(seg, at int) string {
		r := &pushRecorder{}
		c := newH2Conn(Config{}, r, h2Start{})
		for i, sg := range fx.segs {
			if sg.end {
				c.end(sg.side)
				continue
			}
			if i == seg {
				c.feed(sg.side, sg.b[:at])
				c.feed(sg.side, sg.b[at:])
				continue
			}
			c.feed(sg.side, sg.b)
		}
		out := r.b.String()
		// The requests come first; what follows is the test's.
		_, rest, _ := strings.Cut(out, "request 2 GET /nd\n")
		return rest
	}
	if got := run(-1, 0); got != want {
		t.Fatalf("got:\n%s\nwant:\n%s", got, want)
	}
	for i, sg := range fx.segs {
		for at := 1; at < len(sg.b); at++ {
			if got := run(i, at); got != want {
				t.Fatalf("segment %d cut at %d:\ngot:\n%s\nwant:\n%s", i, at, got, want)
			}
		}
	}
}

// FuzzPush feeds a streaming body of each kind, whole and cut in two: the
// output must not depend on the cut, and what is kept of a message stays
// under the bound.
func FuzzPush(f *testing.F) {
	f.Add(uint8(0), []byte(sseBody), uint16(7))
	f.Add(uint8(1), []byte("{\"a\":1}\n{\"b\":2}\r\nxx"), uint16(3))
	f.Add(uint8(2), []byte(chunked("[1", ",2", ",3]")), uint16(5))
	f.Add(uint8(3), []byte(chunked("data: a\n\n", "data: b\r\n\r", "\n")), uint16(9))
	f.Fuzz(func(t *testing.T, mode uint8, body []byte, cut uint16) {
		heads := []string{
			"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\n\r\n",
			"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
		}
		head := heads[int(mode)%len(heads)]
		tc := pushCase{server: head + string(body), end: true, max: 16, stillAt: 1}
		whole, r := runPush(t, tc, nil)
		// An event's data may grow where U+FFFD replaced invalid bytes (3
		// bytes for at least 1).
		if r.maxData > 3*16 {
			t.Fatalf("kept %d bytes of a message, bound 16", r.maxData)
		}
		for _, e := range []string{ErrSSETooLarge.Error(), ErrSSEUTF8.Error(), ErrSSECutShort.Error(), ErrStreamLine.Error()} {
			if n := strings.Count(whole, e); n > 1 {
				t.Fatalf("%q %d times for one body:\n%s", e, n, whole)
			}
		}
		if strings.Contains(whole, ErrSSETooLarge.Error()) && strings.Contains(whole, ErrSSECutShort.Error()) {
			t.Fatalf("a line too long and cut short, reported twice:\n%s", whole)
		}
		at := len(head) + int(cut)%(len(body)+1)
		// Where the parser finds a problem may depend on the cut (a line
		// too long, or bytes not UTF-8, first): the errors are compared as
		// a set.
		got, _ := runPush(t, tc, []int{at})
		if a, b := pushSplitErrors(got), pushSplitErrors(whole); a != b {
			t.Fatalf("cut at %d:\n%s\nwhole:\n%s", at, got, whole)
		}
	})
}

// pushSplitErrors is out with its error lines sorted and moved to the end.
func pushSplitErrors(out string) string {
	var rest, errs []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "error ") {
			errs = append(errs, l)
		} else {
			rest = append(rest, l)
		}
	}
	slices.Sort(errs)
	return strings.Join(append(rest, errs...), "\n")
}

// TestPushEarlyResponse: an event stream that begins before its request
// ended (a server answering a POST early) is not streamed: its response
// comes after the request, with the body kept.
func TestPushEarlyResponse(t *testing.T) {
	r := &pushRecorder{}
	c := NewConn(Config{}, r)
	c.Feed(Client, []byte("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nab"))
	c.Feed(Server, []byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: 9\r\n\r\ndata: a\n\n"))
	c.Feed(Client, []byte("cd"))
	want := "request 1 POST /x\nresponse 1 200 streaming=none body_len=9 body=\"data: a\\n\\n\" events=0 comments=0 chunks=0\n"
	if got := r.b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
