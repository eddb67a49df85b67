package filter

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// writeFiltered writes events through an Output for expr into a real
// capture.Log (JSON) and reads the capture back. Each connection gets its
// own stream, flushed after every event, as the proxy does; streams are
// closed after their close event.
func writeFiltered(t *testing.T, expr string, opt OutputOptions, evs []*capture.Event) []*capture.Event {
	t.Helper()
	var buf bytes.Buffer
	log := capture.NewLog(&buf, capture.JSON, capture.LogOptions{})
	opt.Now = func() time.Time { return t0 }
	out, err := NewOutput(log, MustParse(expr), opt)
	if err != nil {
		t.Fatalf("NewOutput: %v", err)
	}
	streams := map[uint64]capture.Stream{}
	for _, ev := range evs {
		s := streams[ev.Conn]
		if s == nil {
			s = out.Stream()
			streams[ev.Conn] = s
		}
		s.Add(ev)
		if err := s.Flush(); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if ev.Kind == capture.KindClose {
			s.Close()
			delete(streams, ev.Conn)
		}
	}
	for _, s := range streams {
		s.Flush()
		s.Close()
	}
	if err := log.Close(); err != nil {
		t.Fatalf("closing the log: %v", err)
	}
	r := capture.NewReader(&buf)
	var got []*capture.Event
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatalf("reading the filtered capture back: %v", err)
		}
		got = append(got, ev)
	}
}

// describe names events by the fixture's labels (matched on conn, kind and
// time), per connection in the order written.
func describe(fx []labelled, evs []*capture.Event) string {
	byKey := map[string]string{}
	for _, l := range fx {
		byKey[fmt.Sprint(l.ev.Conn, l.ev.Kind, l.ev.Time.UnixNano())] = l.label
	}
	var per [4][]string
	for _, ev := range evs {
		if ev.Kind == KindMeta {
			continue
		}
		name := byKey[fmt.Sprint(ev.Conn, ev.Kind, ev.Time.UnixNano())]
		if name == "" {
			name = "?" + string(ev.Kind)
		}
		per[ev.Conn] = append(per[ev.Conn], name)
	}
	var parts []string
	for _, p := range per {
		if len(p) > 0 {
			parts = append(parts, strings.Join(p, " "))
		}
	}
	return strings.Join(parts, " | ")
}

// TestOutput checks what a filtered capture holds: the meta event first,
// each connection's selected events in order with its open and close, and
// whole exchanges and messages where the filter needs the response or the
// message to decide.
func TestOutput(t *testing.T) {
	fx := fixture()
	evs := make([]*capture.Event, len(fx))
	for i := range fx {
		evs[i] = &fx[i].ev
	}
	tests := []struct{ expr, want string }{
		{"~c 401", "c2.open c2.req2 c2.resp2 c2.err c2.close"},
		{"~c 101", "c1.open c1.req2 c1.resp2 c1.upg c1.f1 c1.m1 c1.f2 c1.f3 c1.m2 c1.f4 c1.m3 c1.f5 c1.m4 c1.f6 c1.m5 c1.close"},
		{"~b chat", "c1.open c1.resp1 c1.f2 c1.f4 c1.m3 c1.close"},
		{"~sio ^chat$", "c1.open c1.f2 c1.f4 c1.m3 c1.close"},
		{"~code 1000", "c1.open c1.f5 c1.m4 c1.close"},
		{"~websocket ~wq", "c1.open c1.f1 c1.m1 c1.f5 c1.m4 c1.close"},
		{"~websocket", "c1.open c1.req2 c1.resp2 c1.upg c1.f1 c1.m1 c1.f2 c1.f3 c1.m2 c1.f4 c1.m3 c1.f5 c1.m4 c1.f6 c1.m5 c1.close"},
		{"~conn 3", "c3.open c3.tls c3.req c3.resp c3.sse c3.h2f c3.close"},
		{"~src 5002", "c2.open c2.req1 c2.resp1 c2.tls1 c2.tls2 c2.req2 c2.resp2 c2.err c2.close"},
		{"~e", "c2.open c2.err c2.close"},
		{"~tls ~q", "c2.open c2.req2 c2.close | c3.open c3.req c3.close"},
		{"~conn 99", ""},
	}
	for _, tt := range tests {
		got := writeFiltered(t, tt.expr, OutputOptions{}, evs)
		if len(got) == 0 || got[0].Kind != KindMeta || got[0].Conn != 0 || !got[0].Time.Equal(t0) {
			t.Errorf("%q: the capture does not start with the meta event: %+v", tt.expr, got)
			continue
		}
		if d := describe(fx, got); d != tt.want {
			t.Errorf("%q wrote:\n got %s\nwant %s", tt.expr, d, tt.want)
		}
	}
}

// TestOutputBounded checks that a stream holds at most MaxHeldEvents: the
// first frames of a long fragmented message are judged before their
// message arrives (without it, so "~b" does not select them), and the
// rest are judged with it.
func TestOutputBounded(t *testing.T) {
	evs := []*capture.Event{{Kind: capture.KindOpen, Conn: 1, Client: "127.0.0.1:1"}}
	for i := range 5 {
		op := uint8(1)
		if i > 0 {
			op = 0
		}
		evs = append(evs, &capture.Event{Kind: capture.KindFrame, Conn: 1, From: "server", Opcode: op, Fin: i == 4, Len: int64(i + 1)})
	}
	evs = append(evs,
		&capture.Event{Kind: capture.KindMessage, Conn: 1, From: "server", Op: "text", Frames: 5, Len: 15, Payload: []byte("hello chat")},
		&capture.Event{Kind: capture.KindClose, Conn: 1})
	for i, ev := range evs {
		ev.Time = t0.Add(time.Duration(i) * time.Second)
	}
	got := writeFiltered(t, "~b chat", OutputOptions{MaxHeldEvents: 2}, evs)
	var lens []string
	for _, ev := range got[1:] {
		lens = append(lens, fmt.Sprintf("%s:%d", ev.Kind, ev.Len))
	}
	want := "open:0 frame:4 frame:5 message:15 close:0"
	if g := strings.Join(lens, " "); g != want {
		t.Errorf("wrote %s, want %s", g, want)
	}
	// Unbounded (the default), all five frames wait for the message.
	got = writeFiltered(t, "~b chat", OutputOptions{}, evs)
	if n := len(got); n != 1+1+5+1+1 {
		t.Errorf("with the default bound, wrote %d events, want 9", n)
	}
}

// TestOutputHeldCopies checks that held events do not keep the caller's
// slices, which the decoder reuses: a request is held until its response,
// and its body and headers are overwritten meanwhile.
func TestOutputHeldCopies(t *testing.T) {
	body := []byte("original body")
	hdrs := []capture.Header{{"X-Test", "original"}}
	req := &capture.Event{Kind: capture.KindRequest, Conn: 1, Time: t0, Seq: 1, Method: "GET", Target: "/", Headers: hdrs, Body: body}
	evs := []*capture.Event{
		{Kind: capture.KindOpen, Conn: 1, Time: t0, Client: "127.0.0.1:1"},
		req,
		{Kind: capture.KindResponse, Conn: 1, Time: t0, Seq: 1, Status: 500},
		{Kind: capture.KindClose, Conn: 1, Time: t0},
	}
	var buf bytes.Buffer
	log := capture.NewLog(&buf, capture.JSON, capture.LogOptions{})
	out, err := NewOutput(log, MustParse("~c 500"), OutputOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := out.Stream()
	s.Add(evs[0])
	s.Add(req)
	copy(body, "XXXXXXXXXXXXX")
	hdrs[0] = capture.Header{"X-Test", "clobbered"}
	s.Add(evs[2])
	s.Add(evs[3])
	s.Flush()
	s.Close()
	log.Close()
	if !strings.Contains(buf.String(), `"body":"original body"`) || !strings.Contains(buf.String(), `["X-Test","original"]`) {
		t.Errorf("the held request was not copied:\n%s", buf.String())
	}
}

// TestOutputCloseSettles checks that closing a stream judges what it
// holds: a request whose response never came is judged without it.
func TestOutputCloseSettles(t *testing.T) {
	evs := []*capture.Event{
		{Kind: capture.KindOpen, Conn: 1, Time: t0, Client: "127.0.0.1:1"},
		{Kind: capture.KindRequest, Conn: 1, Time: t0.Add(time.Second), Seq: 1, Method: "GET", Target: "/poll"},
	}
	// No close event: the stream is closed by writeFiltered at the end.
	got := writeFiltered(t, "~u /poll | ~c 200", OutputOptions{}, evs)
	if len(got) != 3 || got[1].Kind != capture.KindOpen || got[2].Kind != capture.KindRequest {
		t.Errorf("wrote %d events %v, want meta, open, request", len(got), got)
	}
}
