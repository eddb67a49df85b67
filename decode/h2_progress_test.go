package decode

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// h2ProgressRecorder is an h2Recorder with Progress: heads as lines, and
// each stream's body bytes gathered per side, to compare with the bodies
// of the complete messages.
type h2ProgressRecorder struct {
	h2Recorder
	lines  []string
	bodies map[string]*strings.Builder
	heads  map[string]bool
	bad    []string
	lax    bool // fuzzing: a message may come without a head (its header block was lost)
}

func newH2ProgressRecorder(maxBody int) *h2ProgressRecorder {
	return &h2ProgressRecorder{h2Recorder: h2Recorder{maxBody: maxBody}, bodies: map[string]*strings.Builder{}, heads: map[string]bool{}}
}

func (r *h2ProgressRecorder) Begin(Side) {}

func (r *h2ProgressRecorder) RequestHead(q *Request) {
	if q.Body != nil || q.BodyLen != 0 {
		r.bad = append(r.bad, "a head with a body")
	}
	k := fmt.Sprintf("client %d", q.Stream)
	r.heads[k] = true
	r.lines = append(r.lines, fmt.Sprintf("request head seq=%d stream=%d %s %s host=%s fields=%d", q.Seq, q.Stream, q.Method, q.Target, q.Host, len(q.Headers)))
}

func (r *h2ProgressRecorder) ResponseHead(p *Response) {
	r.heads[fmt.Sprintf("server %d", p.Stream)] = true
	r.lines = append(r.lines, fmt.Sprintf("response head seq=%d stream=%d %d fields=%d", p.Seq, p.Stream, p.Status, len(p.Headers)))
}

func (r *h2ProgressRecorder) BodyBytes(from Side, seq int, stream uint32, p []byte) {
	k := fmt.Sprintf("%s %d", from, stream)
	if !r.heads[k] {
		r.bad = append(r.bad, k+": body bytes before the head")
	}
	if r.bodies[k] == nil {
		r.bodies[k] = &strings.Builder{}
	}
	r.bodies[k].Write(p)
}

func (r *h2ProgressRecorder) Request(q *Request) {
	r.h2Recorder.Request(q)
	r.complete(fmt.Sprintf("client %d", q.Stream), q.Body, q.BodyLen)
}

func (r *h2ProgressRecorder) Response(p *Response) {
	r.h2Recorder.Response(p)
	if p.Status >= 200 {
		r.complete(fmt.Sprintf("server %d", p.Stream), p.Body, p.BodyLen)
	}
}

// complete checks that the bytes Progress saw are the message's body:
// all n of them, of which the message kept body.
func (r *h2ProgressRecorder) complete(k string, body []byte, n int64) {
	got := ""
	if b := r.bodies[k]; b != nil {
		got = b.String()
		delete(r.bodies, k)
	}
	if !r.heads[k] && !r.lax {
		r.bad = append(r.bad, k+": complete without a head")
	}
	if int64(len(got)) != n || !strings.HasPrefix(got, string(body)) {
		r.bad = append(r.bad, fmt.Sprintf("%s: progress saw %d body bytes %.40q, the message has %d, kept %.40q", k, len(got), got, n, body))
	}
	r.lines = append(r.lines, fmt.Sprintf("%s complete, %d body bytes", k, len(body)))
}

// HTTP/2 streams make the Progress calls HTTP/1.x makes: each head as
// soon as its header section is decoded (interleaved streams: before the
// other streams' bodies), each DATA payload without its padding, and
// then the complete message; the same calls for any split of the bytes.
func TestH2Progress(t *testing.T) {
	fx := h2FixtureInterleaved(t)
	run := func(piece int) []string {
		r := newH2ProgressRecorder(fx.cfg.maxBody())
		c := newH2Conn(fx.cfg, r, fx.start)
		for _, sg := range fx.segs {
			switch {
			case sg.end:
				c.end(sg.side)
			case piece == 0:
				c.feed(sg.side, sg.b)
			default:
				for p := sg.b; len(p) > 0; p = p[min(piece, len(p)):] {
					c.feed(sg.side, p[:min(piece, len(p))])
				}
			}
		}
		for _, b := range r.bad {
			t.Errorf("piece %d: %s", piece, b)
		}
		return r.lines
	}
	whole := run(0)
	want := []string{
		"request head seq=1 stream=1 POST /upload/1 host=example.com fields=5",
		"request head seq=2 stream=3 POST /upload/3 host=example.com fields=5",
		"request head seq=3 stream=5 POST /upload/5 host=example.com fields=5",
		"request head seq=4 stream=7 POST /upload/7 host=example.com fields=5",
		"request head seq=5 stream=9 POST /upload/9 host=example.com fields=5",
		"response head seq=5 stream=9 201 fields=2",
	}
	if !slices.Equal(whole[:len(want)], want) {
		t.Errorf("first calls:\n got %q\nwant %q", whole[:len(want)], want)
	}
	if n := strings.Count(strings.Join(whole, "\n"), "complete"); n != 10 {
		t.Errorf("%d complete messages, want 10:\n%s", n, strings.Join(whole, "\n"))
	}
	if one := run(1); !slices.Equal(one, whole) {
		t.Errorf("one byte at a time:\n%s\nwhole:\n%s", strings.Join(one, "\n"), strings.Join(whole, "\n"))
	}
}

// FuzzH2Progress feeds FuzzH2's inputs to a decoder whose handler follows
// streams with Progress: whatever the bytes, no body bytes come before
// their head, and the bytes Progress saw of a message are its BodyLen and
// begin with the body it kept.
func FuzzH2Progress(f *testing.F) {
	for _, set := range [][]struct {
		name  string
		build func(testing.TB) h2Fixture
	}{h2Fixtures, h2BadFixtures} {
		for _, fx := range set {
			client, server, ops := h2FuzzInput(fx.build(f))
			if len(client)+len(server) <= 8<<10 {
				f.Add(client, server, ops, uint8(0x16))
			}
		}
	}
	f.Fuzz(func(t *testing.T, client, server, ops []byte, mode uint8) {
		cfg := Config{MaxHead: [4]int{256, 1024, 4096, 0}[mode>>2&3], MaxBody: int(mode>>4) - 2}
		var st h2Start
		if mode&1 != 0 {
			st = h2Start{seq: 1, upgrade: true, settings: "AAEAAAEA"}
		}
		r := newH2ProgressRecorder(max(cfg.maxBody(), 0))
		r.lax = true
		c := newH2Conn(cfg, r, st)
		in := [2][]byte{client, server}
		for _, op := range ops {
			side, k := Side(op&1), int(op>>1)
			if k == 0 {
				c.end(side)
				continue
			}
			k = min(k, len(in[side]))
			c.feed(side, in[side][:k])
			in[side] = in[side][k:]
		}
		c.feed(Client, in[Client])
		c.feed(Server, in[Server])
		c.end(Client)
		c.end(Server)
		for _, b := range r.bad {
			t.Error(b)
		}
	})
}
