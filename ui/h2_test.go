package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
)

// h2Fixture is one HTTP/2 connection over intercepted TLS (conn 9, from
// a socks5 listener) as the proxy records it: h2frame events, then the
// exchanges. Streams 1, 3 and 5 overlap (three at once); 7 opens once 1
// and 3 ended, in the lane 1 freed; 9 is in flight (its heads are live,
// liveH2 tells them); and a GOAWAY-free PING and WINDOW_UPDATE between.
func h2Fixture() []capture.Event {
	const c = 9
	var evs []capture.Event
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	frame := func(t int, from, typ string, stream uint32, flags uint8, n int64) *capture.Event {
		evs = append(evs, capture.Event{Kind: capture.KindH2Frame, Conn: c, Time: at(t), From: from, FrameType: typ, Stream: stream, Flags: flags, Len: n})
		return &evs[len(evs)-1]
	}
	req := func(t int, seq int, stream uint32, path string) {
		frame(t, "client", "HEADERS", stream, 0x5, 40)
		evs = append(evs, capture.Event{Kind: capture.KindRequest, Conn: c, Time: at(t), Seq: seq, Stream: stream, Method: "GET", Target: path,
			Host: "shop.test", Proto: "HTTP/2.0", Scheme: "https", Headers: hdrs(":method", "GET", ":path", path, ":authority", "shop.test")})
	}
	resp := func(t, took int, seq int, stream uint32, ctype string, n int64) {
		frame(t, "server", "HEADERS", stream, 0x4, 30)
		frame(t+took, "server", "DATA", stream, 0x1, n)
		evs = append(evs, capture.Event{Kind: capture.KindResponse, Conn: c, Time: at(t + took), Seq: seq, Stream: stream, Status: 200, Proto: "HTTP/2.0",
			Headers: hdrs(":status", "200", "content-type", ctype), BodyLen: n, Body: []byte(strings.Repeat("x", int(n))),
			Timed: true, Wait: ms(t - 1), Receive: ms(took)})
	}
	evs = append(evs,
		capture.Event{Kind: capture.KindOpen, Conn: c, Time: at(0), Client: "127.0.0.1:52000", Server: "shop.test:443", Mode: "socks5", Listen: "127.0.0.1:1080"},
		capture.Event{Kind: capture.KindTLS, Conn: c, Time: at(1), Side: "client", SNI: "shop.test", ALPN: "h2", Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256"},
	)
	f := frame(2, "client", "SETTINGS", 0, 0, 12)
	f.Settings = []capture.Setting{{Name: "ENABLE_PUSH", Value: 0}, {Name: "INITIAL_WINDOW_SIZE", Value: 6291456}}
	f = frame(3, "server", "SETTINGS", 0, 0, 6)
	f.Settings = []capture.Setting{{Name: "MAX_CONCURRENT_STREAMS", Value: 100}}
	frame(4, "client", "SETTINGS", 0, 0x1, 0).Ack = true
	frame(4, "client", "WINDOW_UPDATE", 0, 0, 4).Increment = 15663105
	req(5, 1, 1, "/")
	req(6, 2, 3, "/app.js")
	req(7, 3, 5, "/style.css")
	resp(20, 5, 1, 1, "text/html", 1200)
	resp(26, 4, 2, 3, "text/javascript", 5300)
	frame(31, "client", "PING", 0, 0, 8)
	frame(32, "server", "PING", 0, 0x1, 8).Ack = true
	req(40, 4, 7, "/api/cart")
	resp(45, 2, 4, 7, "application/json", 80)
	resp(50, 9, 3, 5, "text/css", 700)
	frame(60, "client", "HEADERS", 9, 0x5, 40)
	frame(62, "server", "HEADERS", 9, 0x4, 30)
	frame(70, "server", "DATA", 9, 0, 16384)
	return evs
}

// liveH2 tells the store, as the proxy does, that stream 9's heads
// arrived and 48 KiB of its body.
func liveH2(stream capture.Stream) {
	lv := stream.(capture.Live)
	lv.Relayed("client", 1800)
	lv.Relayed("server", 7400+3*16384)
	lv.Head(9, &capture.Event{Kind: capture.KindRequest, Conn: 9, Time: at(60), Seq: 5, Method: "GET", Target: "/video.mp4", Host: "shop.test", Proto: "HTTP/2.0", Headers: hdrs(":path", "/video.mp4")})
	lv.Head(9, &capture.Event{Kind: capture.KindResponse, Conn: 9, Time: at(62), Seq: 5, Status: 200, Proto: "HTTP/2.0", Headers: hdrs(":status", "200", "content-type", "video/mp4")})
	for k := range 3 {
		lv.Body("server", 5, 9, 16384, at(70+k*10))
	}
}

// newH2UI is a dashboard on a w×h screen over h2Fixture, with stream 9
// in flight, listening in two modes.
func newH2UI(t *testing.T, w, h int) *UI {
	t.Helper()
	scr := tcell.NewSimulationScreen("UTF-8")
	if err := scr.Init(); err != nil {
		t.Fatal(err)
	}
	st := NewStore(0)
	stream := st.Stream()
	for _, ev := range h2Fixture() {
		stream.Add(&ev)
	}
	stream.Flush()
	liveH2(stream)
	u := New(Config{Screen: scr, Listen: "127.0.0.1:8080", Mode: "regular", CaptureFile: "h2.jsonl",
		Listeners:     []Listener{{Addr: "127.0.0.1:8080", Mode: "regular"}, {Addr: "127.0.0.1:1080", Mode: "socks5"}},
		CaptureHealth: func() (int64, int64, error) { return int64(len(h2Fixture())), 0, nil }}, st)
	scr.SetSize(w, h)
	u.now = func() time.Time { return at(2000) }
	u.refresh()
	return u
}

// The model follows streams from the frames: three open at once, lanes
// reused, the protocol, the summary; the close event's figures win.
func TestH2Streams(t *testing.T) {
	s := newState()
	evs := h2Fixture()
	for i := range evs {
		s.apply(i, &evs[i])
	}
	c := s.byID[9]
	if len(s.conns) != 1 || c == nil || c.h2 == nil {
		t.Fatalf("conns %d, h2 %v", len(s.conns), c != nil && c.h2 != nil)
	}
	if got := c.protoCell(); got != "h2 ≤3" {
		t.Errorf("PROTO %q, want h2 ≤3", got)
	}
	if c.h2.streams != 5 || c.h2.maxOpen != 3 || len(c.h2.open) != 1 {
		t.Errorf("streams %d, at most %d open, %d open now; want 5, 3, 1 (9)", c.h2.streams, c.h2.maxOpen, len(c.h2.open))
	}
	var got []string
	for _, x := range c.xs {
		got = append(got, fmt.Sprintf("%d:%q", x.stream, x.lanes))
	}
	if want := `1:"●" 3:"│●" 5:"││●" 7:"● │"`; strings.Join(got, " ") != want {
		t.Errorf("streams and lanes\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	sum := strings.Join(c.summary(), "\n")
	if want := "4 requests on 1 TCP connection (5 streams), up to 3 at once (HTTP/2 multiplexing)"; !strings.Contains(sum, want) {
		t.Errorf("summary lacks %q:\n%s", want, sum)
	}
	if len(c.rows) != 10 || len(c.h2.frames) != 21 {
		t.Errorf("%d rows and %d frames: h2frames belong in the frames view, not the events view", len(c.rows), len(c.h2.frames))
	}
	s.apply(len(evs), &capture.Event{Kind: capture.KindClose, Conn: 9, Time: at(90), H2: true, H2Streams: 6, H2MaxOpen: 4})
	if got := c.protoCell(); got != "h2 ≤4" || c.h2.streams != 6 {
		t.Errorf("after close: PROTO %q, %d streams; want the close event's h2 ≤4, 6", got, c.h2.streams)
	}
}

// Without h2frame events (a capture written with --filter, a HAR), the
// exchanges open and end the streams: cleartext is h2c.
func TestH2StreamsWithoutFrames(t *testing.T) {
	s := newState()
	var evs []capture.Event
	for _, ev := range h2Fixture() {
		if ev.Kind != capture.KindH2Frame && ev.Kind != capture.KindTLS {
			ev.Scheme = ""
			evs = append(evs, ev)
		}
	}
	for i := range evs {
		s.apply(i, &evs[i])
	}
	c := s.byID[9]
	if got := c.protoCell(); got != "h2c ≤3" {
		t.Errorf("PROTO %q, want h2c ≤3", got)
	}
	if c.xs[2].lanes != "││●" {
		t.Errorf("stream 5's lanes %q", c.xs[2].lanes)
	}
}

// Each protocol as the PROTO column names it.
func TestProtoColumn(t *testing.T) {
	s := newState()
	for i, ev := range fixture() {
		s.apply(i, &ev)
	}
	for id, want := range map[uint64]string{1: "h1", 2: "ws"} {
		if got := s.byID[id].proto(); got != want {
			t.Errorf("#%d: PROTO %q, want %q", id, got, want)
		}
	}
	s.apply(100, &capture.Event{Kind: capture.KindUpgrade, Conn: 3, Time: at(5), Stream: 3, Protocol: "websocket"})
	if got := s.byID[3].proto(); got != "ws/h2" {
		t.Errorf("a WebSocket on a stream: PROTO %q, want ws/h2", got)
	}
}

// The exchanges view of an HTTP/2 connection: STREAM and LANES columns,
// the stream in flight with its bytes; the frames view one key away (F)
// and back (F); the status line lists both listeners; the summary says
// the connection's mode and listener.
func TestH2View(t *testing.T) {
	u := newH2UI(t, 200, 50)
	scr := u.text()
	for _, want := range []string{"PROTO", "h2 ≤3", "STREAM LANES", "││●", "/video.mp4", "200…", "48.0 KiB…",
		"socks5@127.0.0.1:1080 · 4 requests on 1 TCP connection (5 streams), up to 3 at once (HTTP/2 multiplexing)",
		"127.0.0.1:8080 regular, 127.0.0.1:1080 socks5"} {
		mustContain(t, scr, want)
	}
	u.press(tcell.KeyRune, 'F')
	scr = u.text()
	for _, want := range []string{"HTTP/2 frames #9", "SETTINGS", "MAX_CONCURRENT_STREAMS=100", "END_STREAM END_HEADERS", "WINDOW_UPDATE", "+15663105", "PING"} {
		mustContain(t, scr, want)
	}
	u.press(tcell.KeyRune, 'F')
	mustContain(t, u.text(), "Exchanges #9")
	u.press(tcell.KeyRune, 'F')
	u.press(tcell.KeyRune, 't')
	mustContain(t, u.text(), "Exchanges #9")
}

// Golden renders of the HTTP/2 views at 80×24 and 200×50: the exchanges
// view with its lanes and a stream in flight, and the frames view.
func TestGoldenH2(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {200, 50}} {
		u := newH2UI(t, sz[0], sz[1])
		golden(t, fmt.Sprintf("h2-exchanges-%dx%d.golden", sz[0], sz[1]), screenAt(u))
		u.press(tcell.KeyRune, 'F')
		golden(t, fmt.Sprintf("h2-frames-%dx%d.golden", sz[0], sz[1]), screenAt(u))
	}
}

// An HTTP/2 connection's streams are bounded: its frames as the store
// holds them, the streams it follows at maxTrackedStreams however many a
// client opens without ending them, the lanes at maxLanes*8.
func TestH2Bounded(t *testing.T) {
	st := NewStore(1000)
	u := New(Config{}, st)
	s := st.Stream()
	s.Add(&capture.Event{Kind: capture.KindOpen, Conn: 1, Time: at(0), Client: "127.0.0.1:1"})
	for id := uint32(1); id < 200_000; id += 2 {
		s.Add(&capture.Event{Kind: capture.KindH2Frame, Conn: 1, Time: at(1), From: "client", FrameType: "HEADERS", Stream: id, Flags: 0x5})
		if id%1000 == 1 {
			s.Flush()
			u.refresh()
		}
	}
	s.Flush()
	u.refresh()
	h := u.st.byID[1].h2
	if len(h.frames) > st.Max() || len(h.open) > maxTrackedStreams || len(h.lanes) > maxLanes*8 {
		t.Errorf("keeps %d frames (store holds %d), %d open streams, %d lanes", len(h.frames), st.Max(), len(h.open), len(h.lanes))
	}
	if h.streams != 100_000 || h.maxOpen != maxTrackedStreams {
		t.Errorf("counted %d streams, at most %d open; want 100000, %d", h.streams, h.maxOpen, maxTrackedStreams)
	}
}
