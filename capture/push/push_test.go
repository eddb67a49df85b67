package push

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// build is a tiny capture writer for tests: exchanges on one connection.
type build struct {
	conn uint64
	seq  int
	evs  []*capture.Event
}

func (b *build) add(ev *capture.Event) *capture.Event {
	ev.Conn = b.conn
	b.evs = append(b.evs, ev)
	return ev
}

func (b *build) open(ms int) {
	b.add(&capture.Event{Kind: capture.KindOpen, Time: at(ms), Server: "h:80"})
}

// exchange adds a request and its response, held wait ms.
func (b *build) exchange(ms int, method, target string, wait int, status int, body string, hs ...capture.Header) *capture.Event {
	b.seq++
	b.add(&capture.Event{Kind: capture.KindRequest, Time: at(ms), Seq: b.seq, Method: method, Target: target, Host: "h", Proto: "HTTP/1.1",
		Headers: []capture.Header{{"Host", "h"}}})
	return b.add(&capture.Event{Kind: capture.KindResponse, Time: at(ms + wait), Seq: b.seq, Status: status, StatusText: "OK", Proto: "HTTP/1.1",
		Headers: hs, BodyLen: int64(len(body)), Body: []byte(body), Timed: true, Wait: time.Duration(wait) * time.Millisecond})
}

func (b *build) close(ms int) {
	b.add(&capture.Event{Kind: capture.KindClose, Time: at(ms)})
}

func TestConnMechanism(t *testing.T) {
	sse := capture.Header{"Content-Type", "text/event-stream"}
	tests := []struct {
		name string
		make func(b *build)
		want Mechanism
	}{
		{"one request", func(b *build) { b.exchange(0, "GET", "/", 1, 200, "x") }, None},
		{"two requests", func(b *build) {
			b.exchange(0, "GET", "/p", 1, 200, "x")
			b.exchange(1000, "GET", "/p", 1, 200, "x")
		}, None},
		{"polling", func(b *build) {
			for i := range 3 {
				b.exchange(i*1000, "GET", "/p?i="+string(rune('0'+i)), 1, 200, "x")
			}
		}, Polling},
		{"long-polling", func(b *build) { b.exchange(0, "GET", "/lp", 1500, 200, "x") }, LongPolling},
		{"sse", func(b *build) {
			b.exchange(0, "GET", "/ev", 1, 200, "", sse).Streaming = true
		}, SSE},
		{"streaming", func(b *build) {
			b.exchange(0, "GET", "/nd", 1, 200, "", capture.Header{"Content-Type", "application/x-ndjson"}).Streaming = true
		}, Streaming},
		{"websocket after polling", func(b *build) {
			for i := range 3 {
				b.exchange(i*1000, "GET", "/p", 1, 200, "x")
			}
			b.exchange(4000, "GET", "/ws", 1, 101, "")
			b.add(&capture.Event{Kind: capture.KindUpgrade, Time: at(4001), Protocol: "websocket"})
		}, WebSocket},
		{"socket.io polling", func(b *build) { b.exchange(0, "GET", "/socket.io/?EIO=4&transport=polling", 1, 200, "0{}") }, SocketIO},
		{"socket.io eio", func(b *build) { b.add(&capture.Event{Kind: capture.KindEIO, Time: at(1)}) }, SocketIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &build{conn: 1}
			tt.make(b)
			var c Conn
			for _, ev := range b.evs {
				c.Add(ev)
			}
			if got := c.Mechanism(); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	var evs []*capture.Event
	// Polling every second, keep-alive: 4 polls, 2 with the same body.
	p := &build{conn: 1}
	p.open(0)
	p.exchange(0, "GET", "/price", 2, 200, `{"p":1}`)
	p.exchange(1000, "GET", "/price", 2, 200, `{"p":1}`)
	p.exchange(2000, "GET", "/price", 2, 304, ``)
	p.exchange(3000, "GET", "/price", 2, 200, `{"p":2}`)
	p.close(3100)
	// Long polls held 2 s.
	l := &build{conn: 2}
	l.open(0)
	l.exchange(0, "GET", "/lp", 2000, 200, `{"p":1}`)
	l.exchange(2000, "GET", "/lp", 3000, 200, `{"p":2}`)
	// SSE: two events.
	s := &build{conn: 3}
	s.open(0)
	s.exchange(0, "GET", "/ev", 5, 200, "", capture.Header{"Content-Type", "text/event-stream"}).Streaming = true
	s.add(&capture.Event{Kind: capture.KindSSE, Time: at(1000), Seq: 1, SSEType: "message", Payload: []byte(`{"p":1}`), Len: 14})
	s.add(&capture.Event{Kind: capture.KindSSE, Time: at(2000), Seq: 1, SSEType: "message", Payload: []byte(`{"p":2}`), Len: 14})
	// WebSocket: a server message of 7 bytes, unmasked: 9 bytes on the wire.
	w := &build{conn: 4}
	w.open(0)
	w.exchange(0, "GET", "/ws", 1, 101, "")
	w.add(&capture.Event{Kind: capture.KindUpgrade, Time: at(1), Protocol: "websocket"})
	w.add(&capture.Event{Kind: capture.KindFrame, Time: at(500), From: "server", Fin: true, Opcode: 1, Len: 7})
	w.add(&capture.Event{Kind: capture.KindMessage, Time: at(500), From: "server", Op: "text", Len: 7, WireLen: 7, Payload: []byte(`{"p":1}`)})
	for _, b := range []*build{p, l, s, w} {
		evs = append(evs, b.evs...)
	}
	sum := NewSummary(Config{})
	for _, ev := range evs {
		sum.Add(ev)
	}
	rows := sum.Rows()
	got := map[Mechanism]Row{}
	for _, r := range rows {
		if r.Host != "h" {
			t.Errorf("row host %q", r.Host)
		}
		got[r.Mechanism] = r
	}
	if len(rows) != 4 {
		t.Fatalf("rows %+v", rows)
	}
	if r := got[Polling]; r.Polls != 4 || r.EmptyPolls != 2 || r.Messages != 2 || r.Payload != 14 || r.Cadence != time.Second {
		t.Errorf("polling %+v", r)
	}
	if r := got[LongPolling]; r.Exchanges != 2 || r.Messages != 2 || r.Hold != 3*time.Second {
		t.Errorf("long-polling %+v", r)
	}
	if r := got[SSE]; r.Messages != 2 || r.Payload != 14 || r.Exchanges != 1 || r.PerSecond() < 0.99 || r.PerSecond() > 1.01 {
		t.Errorf("sse %+v rate %v", r, r.PerSecond())
	}
	if r := got[WebSocket]; r.Messages != 1 || r.Payload != 7 || r.Wire <= 9 {
		t.Errorf("websocket %+v", r)
	}
	// The founding lesson: polling costs more per message than WebSocket.
	if got[Polling].OverheadPerMessage() <= got[WebSocket].OverheadPerMessage() {
		t.Errorf("polling overhead %v per message, websocket %v", got[Polling].OverheadPerMessage(), got[WebSocket].OverheadPerMessage())
	}
	var sb strings.Builder
	if err := WriteTable(&sb, rows); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"HOST", "polling", "long-polling", "sse", "websocket", "3s"} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, sb.String())
		}
	}
}

// TestSummarySocketIO: a Socket.IO session's long polls (packets joined
// by 0x1e) and its WebSocket, where only Engine.IO message packets are
// messages.
func TestSummarySocketIO(t *testing.T) {
	p := &build{conn: 1}
	p.open(0)
	p.exchange(0, "GET", "/socket.io/?EIO=4&transport=polling", 1, 200, `0{"sid":"x"}`)
	p.exchange(10, "GET", "/socket.io/?EIO=4&transport=polling&sid=x", 1, 200, "40{\"sid\":\"y\"}\x1e42[\"tick\",1]\x1e2")
	p.close(20)
	w := &build{conn: 2}
	w.open(30)
	w.exchange(30, "GET", "/socket.io/?EIO=4&transport=websocket&sid=x", 1, 101, "")
	w.add(&capture.Event{Kind: capture.KindUpgrade, Time: at(31), Protocol: "websocket"})
	for i, msg := range []string{"3probe", "42[\"tick\",2]", "2", "42[\"tick\",3]"} {
		w.add(&capture.Event{Kind: capture.KindFrame, Time: at(40 + i), From: "server", Fin: true, Opcode: 1, Len: int64(len(msg))})
		w.add(&capture.Event{Kind: capture.KindMessage, Time: at(40 + i), From: "server", Op: "text", Len: int64(len(msg)), WireLen: int64(len(msg)), Payload: []byte(msg)})
	}
	w.close(100)
	sum := NewSummary(Config{})
	var conns []Mechanism
	for _, b := range []*build{p, w} {
		var c Conn
		for _, ev := range b.evs {
			sum.Add(ev)
			c.Add(ev)
		}
		conns = append(conns, c.Mechanism())
	}
	if conns[0] != SocketIO || conns[1] != SocketIO {
		t.Errorf("connections %v", conns)
	}
	rows := sum.Rows()
	if len(rows) != 1 || rows[0].Mechanism != SocketIO || rows[0].Conns != 2 || rows[0].Exchanges != 3 || rows[0].Messages != 4 {
		t.Errorf("rows %+v", rows)
	}
}

// TestConnBounded: a connection with more method+path pairs than it
// counts still classifies what it can, in fixed state.
func TestConnBounded(t *testing.T) {
	var c Conn
	for i := range 1000 {
		c.Add(&capture.Event{Kind: capture.KindRequest, Method: "GET", Target: fmt.Sprintf("/p%d", i)})
	}
	if c.Mechanism() != None || c.n != connKeys {
		t.Errorf("mechanism %s, %d keys", c.Mechanism(), c.n)
	}
	for range 3 {
		c.Add(&capture.Event{Kind: capture.KindRequest, Method: "GET", Target: "/p1?t=1"})
	}
	if c.Mechanism() != Polling {
		t.Errorf("mechanism %s after 3 more of a counted path", c.Mechanism())
	}
}

// TestSummaryConns: a row counts each connection once, however the
// connections' events interleave and however many of its paths one asked
// for; a path that turns to polling takes the connections that asked for
// it while it was none, even closed ones.
func TestSummaryConns(t *testing.T) {
	sum := NewSummary(Config{})
	feed := func(bs ...*build) { // their events in turn, one of each at a time
		for i := 0; ; i++ {
			fed := false
			for _, b := range bs {
				if i < len(b.evs) {
					sum.Add(b.evs[i])
					fed = true
				}
			}
			if !fed {
				return
			}
		}
	}
	conns := func() map[Mechanism]int {
		got := map[Mechanism]int{}
		for _, r := range sum.Rows() {
			got[r.Mechanism] = r.Conns
		}
		return got
	}
	// Two keep-alive connections asking for /a and /b in turn: none, 2.
	a, b := &build{conn: 1}, &build{conn: 2}
	for _, x := range []*build{a, b} {
		x.open(0)
		x.exchange(10, "GET", "/a", 1, 200, "x")
		x.exchange(20, "GET", "/b", 1, 200, "x")
	}
	feed(a, b)
	if got := conns(); got[None] != 2 || got[Polling] != 0 {
		t.Errorf("after two connections asking two paths: %v, want none 2", got)
	}
	// A connection per poll of /p, each closed before the next: the third
	// makes /p polling, with all three.
	for i := range 3 {
		p := &build{conn: uint64(3 + i)}
		p.open(100 * i)
		p.exchange(100*i, "GET", "/p", 1, 200, "x")
		p.close(100*i + 5)
		feed(p)
		if got, want := conns()[None], 3+i; i < 2 && got != want {
			t.Errorf("after poll %d: none %d, want %d", i+1, got, want)
		}
	}
	if got := conns(); got[None] != 2 || got[Polling] != 3 {
		t.Errorf("after /p turned to polling: %v, want none 2, polling 3", got)
	}
	// One that asked for /c (none) and /p (polling) is in both rows.
	c := &build{conn: 6}
	c.open(400)
	c.exchange(400, "GET", "/c", 1, 200, "x")
	c.exchange(410, "GET", "/p", 1, 200, "x")
	feed(c)
	if got := conns(); got[None] != 3 || got[Polling] != 4 {
		t.Errorf("after one connection in both: %v, want none 3, polling 4", got)
	}
	// Two WebSockets whose frames interleave.
	w1, w2 := &build{conn: 7}, &build{conn: 8}
	for _, w := range []*build{w1, w2} {
		w.open(500)
		w.exchange(500, "GET", "/ws", 1, 101, "")
		w.add(&capture.Event{Kind: capture.KindUpgrade, Time: at(501), Protocol: "websocket"})
		for i := range 3 {
			w.add(&capture.Event{Kind: capture.KindFrame, Time: at(510 + i), From: "server", Fin: true, Opcode: 1, Len: 1})
			w.add(&capture.Event{Kind: capture.KindMessage, Time: at(510 + i), From: "server", Op: "text", Len: 1, WireLen: 1, Payload: []byte("x")})
		}
	}
	feed(w1, w2)
	if got := conns(); got[WebSocket] != 2 || got[None] != 3 || got[Polling] != 4 {
		t.Errorf("after two WebSockets: %v, want websocket 2, none 3, polling 4", got)
	}
	for _, r := range sum.Rows() {
		if r.Mechanism == None && (r.Messages != 0 || r.Payload != 0) {
			t.Errorf("none row counts %d messages of %d B pushed: ordinary answers are not pushes", r.Messages, r.Payload)
		}
	}
}
