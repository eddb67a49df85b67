package decode

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// The tests of Conn's switch to HTTP/2: the preface sniffed at the start
// (SniffH2) and inside a CONNECT tunnel, ALPN h2, and "Upgrade: h2c". Each
// feeds a Conn HTTP/1.x bytes and then an HTTP/2 fixture of h2_test.go,
// and wants the HTTP/1.x events followed by exactly what the h2Conn alone
// reports for that fixture.

// switchRecorder is an h2Recorder that takes HTTP/1.x errors too.
type switchRecorder struct{ h2Recorder }

func (r *switchRecorder) Error(s Side, err error) {
	if he, ok := errors.AsType[*HTTPError](err); ok {
		opaque := ""
		if he.Opaque {
			opaque = " [opaque]"
		}
		fmt.Fprintf(&r.b, "error %s: %s%s\n", s, err, opaque)
		return
	}
	r.h2Recorder.Error(s, err)
}

func (r *switchRecorder) Response(p *Response) {
	if p.Proto == "HTTP/2.0" {
		r.h2Recorder.Response(p)
		return
	}
	fmt.Fprintf(&r.b, "response seq=%d %s %d %q\n", p.Seq, p.Proto, p.Status, p.Reason)
	r.fields("header", p.Headers)
	r.body(p.Body, p.BodyLen, p.Truncated)
}

// switchCase is one way into HTTP/2.
type switchCase struct {
	name  string
	sniff bool    // SniffH2 before the first byte
	alpn  int     // ALPN("h2") before segment alpn-1; 0 for none
	segs  []h2Seg // what the Conn is fed
	h1    []h2Seg // its HTTP/1.x part, whose events come first
	h2    h2Fixture
}

func h1Seg(side Side, s string) h2Seg { return h2Seg{side: side, b: []byte(s)} }

// runSwitch feeds segs to a new Conn as runH2 feeds an h2Conn (piece bytes
// at a time, or one segment cut at split), ends both sides, and returns
// what it reported with its HTTP/2 stats; without end, it only feeds.
func runSwitch(tb testing.TB, tc switchCase, segs []h2Seg, piece int, split []int, end bool) string {
	tb.Helper()
	r := &switchRecorder{h2Recorder{maxBody: tc.h2.cfg.maxBody()}}
	c := NewConn(tc.h2.cfg, r)
	if tc.sniff {
		c.SniffH2()
	}
	for i, sg := range segs {
		if tc.alpn == i+1 {
			c.ALPN("h2")
		}
		if sg.end {
			c.End(sg.side)
			continue
		}
		switch {
		case split != nil && split[0] == i:
			c.Feed(sg.side, sg.b[:split[1]])
			c.Feed(sg.side, sg.b[split[1]:])
		case piece > 0:
			for p := sg.b; len(p) > 0; {
				k := min(piece, len(p))
				c.Feed(sg.side, p[:k])
				p = p[k:]
			}
		default:
			c.Feed(sg.side, sg.b)
		}
		if c.h2 != nil {
			h2CheckBounds(tb, c.h2)
		}
	}
	if !end {
		return r.b.String()
	}
	c.End(Client)
	c.End(Server)
	if st, ok := c.H2Stats(); ok {
		fmt.Fprintf(&r.b, "streams %d, at most %d open\n", st.Streams, st.MaxOpen)
	}
	for _, b := range r.bad {
		tb.Error(b)
	}
	return r.b.String()
}

// checkSwitch wants tc's HTTP/1.x events, then its fixture's, whole, one
// byte at a time and cut at every byte of the segments around the switch
// (TestH2Fixtures cuts the rest).
func checkSwitch(t *testing.T, tc switchCase) {
	t.Helper()
	want := runSwitch(t, switchCase{h2: tc.h2}, tc.h1, 0, nil, false) + runH2(t, tc.h2, 0, nil)
	if got := runSwitch(t, tc, tc.segs, 0, nil, true); got != want {
		t.Fatalf("whole: got\n%s\nwant\n%s", got, want)
	}
	if got := runSwitch(t, tc, tc.segs, 1, nil, true); got != want {
		t.Fatalf("one byte at a time: got\n%s\nwant\n%s", got, want)
	}
	for i, sg := range tc.segs[:min(len(tc.segs), len(tc.h1)+4)] {
		for j := 1; j < len(sg.b); j++ {
			if got := runSwitch(t, tc, tc.segs, 0, []int{i, j}, true); got != want {
				t.Fatalf("segment %d cut at %d: got\n%s\nwant\n%s", i, j, got, want)
			}
		}
	}
	if strings.Contains(want, "error ") {
		t.Errorf("a well-formed connection reported an error:\n%s", want)
	}
}

// serverFirst moves the server's first segment before the client's
// preface: HTTP/2 servers may send their SETTINGS at once.
func serverFirst(fx h2Fixture) h2Fixture {
	for i, sg := range fx.segs {
		if sg.side == Server {
			segs := append([]h2Seg{sg}, fx.segs[:i]...)
			fx.segs = append(segs, fx.segs[i+1:]...)
			return fx
		}
	}
	return fx
}

const (
	connectReq = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
	connectOK  = "HTTP/1.1 200 Connection established\r\n\r\n"
)

func TestConnSwitchToH2(t *testing.T) {
	tunnel := []h2Seg{h1Seg(Client, connectReq), h1Seg(Server, connectOK)}
	for _, f := range h2Fixtures {
		if f.name == "upgrade" {
			continue
		}
		fx := f.build(t)
		at1 := fx
		at1.start.seq = 1
		sf := serverFirst(fx)
		sf1 := serverFirst(at1)
		for _, tc := range []switchCase{
			{name: "prior knowledge", sniff: true, segs: fx.segs, h2: fx},
			{name: "prior knowledge, server first", sniff: true, segs: sf.segs, h2: sf},
			{name: "tunnel", segs: append(tunnel[:2:2], at1.segs...), h1: tunnel, h2: at1},
			{name: "tunnel, server first", segs: append(tunnel[:2:2], sf1.segs...), h1: tunnel, h2: sf1},
			{name: "tunnel, ALPN h2", alpn: 3, segs: append(tunnel[:2:2], sf1.segs...), h1: tunnel, h2: sf1},
			{name: "ALPN h2", alpn: 1, segs: sf.segs, h2: sf},
		} {
			t.Run(f.name+"/"+tc.name, func(t *testing.T) { checkSwitch(t, tc) })
		}
	}
}

// TestConnSwitchH2C is the upgrade fixture after two HTTP/1.1 requests,
// the second asking for h2c with the HTTP2-Settings the fixture starts
// with; and a client that sends its preface before the 101 arrives.
func TestConnSwitchH2C(t *testing.T) {
	fx := h2FixtureUpgrade(t)
	h1 := []h2Seg{
		h1Seg(Client, "GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n"),
		h1Seg(Server, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
		h1Seg(Client, "GET / HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: "+fx.start.settings+"\r\n\r\n"),
		h1Seg(Server, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"),
	}
	checkSwitch(t, switchCase{segs: append(h1[:4:4], fx.segs...), h1: h1, h2: fx})

	// The client's preface and SETTINGS are held until the 101.
	s := newH2Script(t)
	s.fx.start = h2Start{seq: 1, upgrade: true, settings: "AAMAAABk"} // MAX_CONCURRENT_STREAMS=100
	s.preface().settings(Client)
	s.settings(Server).ack(Client).ack(Server)
	s.headers(Server, 1, true, ":status", "200")
	s.end(Client).end(Server)
	early := s.fx
	req := h1Seg(Client, "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n")
	resp := h1Seg(Server, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
	segs := []h2Seg{req, early.segs[0], early.segs[1], resp}
	checkSwitch(t, switchCase{segs: append(segs, early.segs[2:]...), h1: []h2Seg{req, resp}, h2: early})
}

// TestSniffH2KeepsHTTP1 decodes every HTTP/1.x fixture with SniffH2 and
// wants the events it gives without: requests starting with P (POST, PUT,
// PRI * HTTP/1.1) are held a few bytes, then decoded as before.
func TestSniffH2KeepsHTTP1(t *testing.T) {
	var fixtures []string
	for _, cases := range [][]httpCase{httpInline, httpRules} {
		for _, tt := range cases {
			fixtures = append(fixtures, tt.fixture)
		}
	}
	fixtures = append(fixtures,
		"c: PRI * HTTP/1.1\nc: Host: a\nc:\ns: HTTP/1.1 400 Bad Request\ns: Content-Length: 0\ns:",
		"c: POST /p HTTP/1.1\nc: Host: a\nc: Content-Length: 2\nc:\nc. hi\ns: HTTP/1.1 204 No Content\ns:",
		"c. PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\nend client")
	for i, text := range fixtures {
		fx, err := parseHTTPFixture(text)
		if err != nil {
			t.Fatal(err)
		}
		if cl := firstClientBytes(fx); len(cl) >= len(h2Preface) && h2PrefaceStart(cl) {
			continue // HTTP/2 indeed
		}
		want := runHTTP(t, fx, httpFeeder{name: "whole"}, nil)
		for _, fd := range []httpFeeder{
			{name: "sniff", sniff: true},
			{name: "sniff, one byte at a time", sniff: true, piece: 1},
			{name: "sniff, FeedRequest one byte at a time", sniff: true, piece: 1, feedRequest: true},
		} {
			if got := runHTTP(t, fx, fd, nil); got != want {
				t.Fatalf("fixture %d %q, %s: got\n%s\nwant\n%s", i, text, fd.name, got, want)
			}
		}
	}
}

func firstClientBytes(fx httpFixture) []byte {
	var b []byte
	for _, sg := range fx.segs {
		if sg.side == Client && !sg.end {
			b = append(b, sg.b...)
		}
	}
	return b
}

// TestConnH2Hold covers the server bytes held while the client's first
// bytes are awaited: released as HTTP/1.x when the client's are not the
// preface, bounded, and ended in their turn.
func TestConnH2Hold(t *testing.T) {
	settings := []byte{0, 0, 0, 4, 0, 0, 0, 0, 0}
	t.Run("released as HTTP/1.x", func(t *testing.T) {
		r := &switchRecorder{h2Recorder{maxBody: DefaultMaxBody}}
		c := NewConn(Config{}, r)
		c.Feed(Client, []byte(connectReq))
		c.Feed(Server, []byte(connectOK))
		c.Feed(Server, settings)
		if r.b.Len() == 0 || strings.Contains(r.b.String(), "error") {
			t.Fatalf("after the CONNECT: %s", r.b.String())
		}
		n := r.b.Len()
		c.Feed(Client, []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
		got := r.b.String()[n:]
		if !strings.Contains(got, "request seq=2 stream=0 GET /") || !strings.Contains(got, "error server: status line") {
			t.Errorf("HTTP/1.x after held server bytes:\n%s", got)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		r := &switchRecorder{h2Recorder{maxBody: DefaultMaxBody}}
		c := NewConn(Config{}, r)
		c.SniffH2()
		big := append(bytes.Clone(settings), make([]byte, h1WaitMax)...)
		c.Feed(Server, big)
		if cap(c.early) > h1WaitMax || !strings.Contains(r.b.String(), "more than 65536 bytes sent by the server before the client's first bytes") {
			t.Errorf("held %d bytes; events:\n%s", cap(c.early), r.b.String())
		}
		c.Feed(Client, []byte(http2.ClientPreface))
		c.End(Client)
		c.End(Server)
	})
	t.Run("server ends first", func(t *testing.T) {
		s := newH2Script(t).settings(Server).end(Server).preface().settings(Client).end(Client)
		checkSwitch(t, switchCase{sniff: true, segs: s.fx.segs, h2: s.fx})
	})
	t.Run("client ends while sniffing", func(t *testing.T) {
		r := &switchRecorder{h2Recorder{maxBody: DefaultMaxBody}}
		c := NewConn(Config{}, r)
		c.SniffH2()
		c.Feed(Server, settings)
		c.Feed(Client, []byte("PRI * HTTP/2"))
		c.End(Client)
		c.End(Server)
		want := "error server: status line: invalid HTTP version: first byte 0x00"
		if got := r.b.String(); !strings.Contains(got, "error client: request head cut short at end of stream") {
			t.Errorf("events:\n%s\nwant the client's head cut short (and %q)", got, want)
		}
	})
}

// FuzzConnH2 feeds arbitrary bytes after each way into HTTP/2, interleaved
// and split arbitrarily, and wants no panic, bounded state, and the same
// events fed one byte at a time. Bits 0-1 of mode pick the way in: prior
// knowledge, a CONNECT tunnel, a tunnel with ALPN h2, an h2c upgrade.
func FuzzConnH2(f *testing.F) {
	for _, fx := range h2Fixtures {
		var ops []byte
		var client, server []byte
		for _, sg := range fx.build(f).segs {
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
		for mode := range uint8(4) {
			f.Add(client, server, ops, mode)
		}
	}
	f.Fuzz(func(t *testing.T, client, server, ops []byte, mode uint8) {
		whole := fuzzConnH2(t, client, server, ops, mode, false)
		if bytewise := fuzzConnH2(t, client, server, ops, mode, true); bytewise != whole {
			t.Errorf("fed one byte at a time:\n%s\nfed in pieces:\n%s", bytewise, whole)
		}
	})
}

func fuzzConnH2(t *testing.T, client, server, ops []byte, mode uint8, bytewise bool) string {
	r := &switchRecorder{h2Recorder{maxBody: DefaultMaxBody}}
	c := NewConn(Config{}, r)
	feed := func(side Side, p []byte) {
		for len(p) > 0 {
			k := len(p)
			if bytewise {
				k = 1
			}
			c.Feed(side, p[:k])
			p = p[k:]
			if c.h2 != nil {
				h2CheckBounds(t, c.h2)
			}
		}
	}
	switch mode % 4 {
	case 0:
		c.SniffH2()
	case 1, 2:
		feed(Client, []byte(connectReq))
		feed(Server, []byte(connectOK))
		if mode%4 == 2 {
			c.ALPN("h2")
		}
	case 3:
		feed(Client, []byte("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABk\r\n\r\n"))
		feed(Server, []byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"))
	}
	for _, op := range ops {
		side, k := Side(op&1), int(op>>1)
		src := &client
		if side == Server {
			src = &server
		}
		if k == 0 {
			c.End(side)
			continue
		}
		k = min(k, len(*src))
		feed(side, (*src)[:k])
		*src = (*src)[k:]
	}
	feed(Client, client)
	feed(Server, server)
	c.End(Client)
	c.End(Server)
	if len(c.early) > h1WaitMax || len(c.wait) > h1WaitMax {
		t.Fatalf("held %d server bytes, %d client bytes", len(c.early), len(c.wait))
	}
	return r.b.String()
}
