package proxy

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/decode"
)

// collected is a capture output that keeps a line per event, saying what
// the recorder put in the fields it fills.
type collected struct{ lines []string }

func (c *collected) Stream() capture.Stream { return c }
func (c *collected) Flush() error           { return nil }
func (c *collected) Close()                 {}
func (c *collected) Add(ev *capture.Event) {
	s := fmt.Sprintf("%s conn=%d", ev.Kind, ev.Conn)
	add := func(k string, v any, zero any) {
		if v != zero {
			s += fmt.Sprintf(" %s=%v", k, v)
		}
	}
	add("from", ev.From, "")
	add("seq", ev.Seq, 0)
	add("method", ev.Method, "")
	add("target", ev.Target, "")
	add("status", ev.Status, 0)
	add("server", ev.Server, "")
	add("scheme", ev.Scheme, "")
	add("op", ev.Op, "")
	add("body", string(ev.Body), "")
	add("payload", string(ev.Payload), "")
	add("headers", len(ev.Headers), 0)
	add("msg", ev.Msg, "")
	if ev.Time.IsZero() {
		s += " NO-TIME"
	}
	c.lines = append(c.lines, s)
}

// wsFrame is one WebSocket frame's bytes, masked when from the client.
func wsFrame(op ws.OpCode, payload string, masked bool) string {
	var sb strings.Builder
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(payload)), Masked: masked}
	p := []byte(payload)
	if masked {
		h.Mask = [4]byte{1, 2, 3, 4}
		ws.Cipher(p, h.Mask, 0)
	}
	ws.WriteHeader(&sb, h)
	sb.Write(p)
	return sb.String()
}

// The recorder, table-tested without sockets: decoder callbacks in, the
// capture events they become out.
func TestRecorder(t *testing.T) {
	const upgrade = "GET /chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	const accept = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
	type step struct {
		side decode.Side
		data string // "" with end set: End(side)
		end  bool
	}
	for _, tc := range []struct {
		name  string
		setup func(r *recorder)
		steps []step
		want  []string
	}{
		{"exchange", func(r *recorder) { r.server = "up:80" },
			[]step{{decode.Client, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi", false}, {decode.Server, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false}},
			[]string{"request conn=7 seq=1 method=POST target=/x server=up:80 body=hi headers=2", "response conn=7 seq=1 status=200 server=up:80 body=ok headers=1"}},
		{"a routed request names its upstream", func(r *recorder) { r.server, r.routing = "old:80", true },
			[]step{{decode.Client, "GET http://new.test:81/ HTTP/1.1\r\nHost: new.test:81\r\n\r\n", false}},
			[]string{"request conn=7 seq=1 method=GET target=http://new.test:81/ server=new.test:81 headers=1"}},
		{"inside terminated TLS", func(r *recorder) { r.tls = true },
			[]step{{decode.Client, upgrade, false}, {decode.Server, accept, false}, {decode.Client, wsFrame(ws.OpText, "hey", true), false}},
			[]string{"request conn=7 seq=1 method=GET target=/chat scheme=https headers=5", "response conn=7 seq=1 status=101 headers=3",
				"upgrade conn=7 seq=1 scheme=wss", "frame conn=7 from=client", "message conn=7 from=client op=text payload=hey"}},
		{"cut short by frametap", func(r *recorder) { r.cut = "frametap stopped reading: " },
			[]step{{decode.Client, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab", false}, {decode.Client, "", true}},
			[]string{"error conn=7 from=client msg=frametap stopped reading: body cut short: 2 of 5 bytes", "request conn=7 seq=1 method=POST target=/x body=ab headers=2"}},
		{"cut short by shutdown", func(r *recorder) { r.closed.Store(true) },
			[]step{{decode.Client, "GET /x HTTP/1.1\r\nHo", false}, {decode.Client, "", true}},
			[]string{"error conn=7 from=client msg=cut by frametap's shutdown: request head cut short at end of stream"}},
		{"a peer's error is its own", nil,
			[]step{{decode.Server, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false}},
			[]string{"error conn=7 from=server msg=status line: response 200 with no request outstanding", "response conn=7 status=200 headers=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out collected
			r := newRecorder(7, []capture.Output{&out}, func(error) {}, &atomic.Bool{})
			r.now = time.Now()
			if tc.setup != nil {
				tc.setup(&r)
			}
			dec := decode.NewConn(decode.Config{}, &r)
			for _, st := range tc.steps {
				if st.end {
					dec.End(st.side)
				} else {
					dec.Feed(st.side, []byte(st.data))
				}
			}
			if got, want := strings.Join(out.lines, "\n"), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("events:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// The recorder's own events: open, close, failures and TLS.
func TestRecorderOwnEvents(t *testing.T) {
	var out collected
	r := newRecorder(3, []capture.Output{&out}, func(error) {}, &atomic.Bool{})
	r.now = time.Now()
	r.open("127.0.0.1:5", "up:80", "reverse")
	r.failure("server", fmt.Errorf("cannot reach upstream"))
	r.end([2]int64{10, 20}, nil, &decode.CloseHandshake{First: decode.Server, Sent: [2]bool{true, true}}, nil)
	want := "open conn=3 server=up:80\nerror conn=3 from=server msg=cannot reach upstream\nclose conn=3"
	if got := strings.Join(out.lines, "\n"); got != want {
		t.Errorf("events:\n%s\nwant:\n%s", got, want)
	}
}

// Defect 10: nothing of a message stays referenced once its event is out,
// and scratch one huge head made large is dropped.
func TestRecorderLetsGo(t *testing.T) {
	var out collected
	r := newRecorder(1, []capture.Output{&out}, func(error) {}, &atomic.Bool{})
	dec := decode.NewConn(decode.Config{}, &r)
	var head strings.Builder
	head.WriteString("GET /big HTTP/1.1\r\n")
	for i := range 1000 {
		fmt.Fprintf(&head, "X-%d: v\r\n", i)
	}
	head.WriteString("\r\n")
	dec.Feed(decode.Client, []byte(head.String()))
	if cap(r.hdrs) > maxKeptFields || r.ev != nil && (r.ev.Headers != nil || r.ev.Target != "") {
		t.Errorf("after a 1000-field head: scratch of %d fields, scratch event still holding %+v", cap(r.hdrs), r.ev)
	}
	dec.Feed(decode.Client, []byte("GET /small HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n"))
	if cap(r.hdrs) == 0 || cap(r.hdrs) > maxKeptFields {
		t.Errorf("a small head should keep its scratch for the next: cap %d", cap(r.hdrs))
	}
	for _, h := range r.hdrs[:cap(r.hdrs)] {
		if h != (capture.Header{}) {
			t.Errorf("scratch still references %q", h)
		}
	}
}
