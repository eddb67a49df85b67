package decode

import (
	"fmt"
	"strings"
	"testing"
)

// progressRecorder is a Handler with Progress: it writes each call as a
// line, merging consecutive body bytes of one message into one line, so
// that any split of the input gives the same text.
type progressRecorder struct {
	httpRecorder
	lines    []string
	bodyFrom Side
	bodySeq  int
	body     strings.Builder
	inBody   bool
}

func (r *progressRecorder) flushBody() {
	if r.inBody {
		r.lines = append(r.lines, fmt.Sprintf("body %s #%d %q", r.bodyFrom, r.bodySeq, r.body.String()))
		r.body.Reset()
		r.inBody = false
	}
}

func (r *progressRecorder) Begin(from Side) {
	r.flushBody()
	r.lines = append(r.lines, "begin "+from.String())
}

func (r *progressRecorder) RequestHead(q *Request) {
	r.flushBody()
	if q.Body != nil || q.BodyLen != 0 {
		r.lines = append(r.lines, "BAD: a head with a body")
	}
	r.lines = append(r.lines, fmt.Sprintf("request head #%d %s %s", q.Seq, q.Method, q.Target))
}

func (r *progressRecorder) ResponseHead(p *Response) {
	r.flushBody()
	r.lines = append(r.lines, fmt.Sprintf("response head #%d %d", p.Seq, p.Status))
}

func (r *progressRecorder) BodyBytes(from Side, seq int, stream uint32, p []byte) {
	if r.inBody && (from != r.bodyFrom || seq != r.bodySeq) {
		r.flushBody()
	}
	r.inBody, r.bodyFrom, r.bodySeq = true, from, seq
	r.body.Write(p)
}

func (r *progressRecorder) Request(q *Request) {
	r.flushBody()
	r.lines = append(r.lines, fmt.Sprintf("request #%d complete, %d body bytes", q.Seq, q.BodyLen))
}

func (r *progressRecorder) Response(p *Response) {
	r.flushBody()
	r.lines = append(r.lines, fmt.Sprintf("response #%d complete, %d body bytes", p.Seq, p.BodyLen))
}

func (r *progressRecorder) text() string { r.flushBody(); return strings.Join(r.lines, "\n") }

// Progress calls come in wire order, whatever the split: a head as soon
// as it is decoded, before its body, and the body's bytes without the
// chunked framing, before the complete message.
func TestProgressEveryOrder(t *testing.T) {
	client := "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello" +
		"\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n"
	server := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n" +
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	want := strings.Join([]string{
		"begin client",
		"request head #1 POST /up",
		`body client #1 "hello"`,
		"request #1 complete, 5 body bytes",
		"begin client",
		"request head #2 GET /next",
		"request #2 complete, 0 body bytes",
		"begin server",
		"response head #1 200",
		`body server #1 "abcdefg"`,
		"response #1 complete, 7 body bytes",
		"begin server",
		"response head #2 100",
		"response #2 complete, 0 body bytes",
		"begin server",
		"response head #2 200",
		`body server #2 "ok"`,
		"response #2 complete, 2 body bytes",
	}, "\n")
	for _, step := range []int{len(client) + len(server), 1, 2, 3, 5, 7, 11} {
		r := &progressRecorder{}
		r.maxBody = 1 << 20
		c := NewConn(Config{}, r)
		for p := []byte(client); len(p) > 0; {
			n := min(step, len(p))
			c.Feed(Client, p[:n])
			p = p[n:]
		}
		for p := []byte(server); len(p) > 0; {
			n := min(step, len(p))
			c.Feed(Server, p[:n])
			p = p[n:]
		}
		if got := r.text(); got != want {
			t.Errorf("fed %d bytes at a time:\n got:\n%s\nwant:\n%s", step, got, want)
		}
	}
}

// A Handler without Progress decodes as before.
func TestProgressOptional(t *testing.T) {
	r := &httpRecorder{maxBody: 1 << 20}
	c := NewConn(Config{}, r)
	c.Feed(Client, []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	c.Feed(Server, []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
	if !strings.Contains(r.b.String(), `body 2 "ok"`) {
		t.Fatalf("without Progress:\n%s", r.b.String())
	}
}
