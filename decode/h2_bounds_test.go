package decode

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// h2Blocks reads the header block fragments side sent in fx, in order,
// with a Framer of its own: what an observer that ignored SETTINGS would
// hand HPACK.
func h2Blocks(t *testing.T, fx h2Fixture, side Side) [][]byte {
	t.Helper()
	var in []byte
	for _, sg := range fx.segs {
		if sg.side == side && !sg.end {
			in = append(in, sg.b...)
		}
	}
	in = bytes.TrimPrefix(in, []byte(http2.ClientPreface))
	fr := http2.NewFramer(nil, bytes.NewReader(in))
	var out [][]byte
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return out
		}
		switch f := f.(type) {
		case *http2.HeadersFrame:
			out = append(out, bytes.Clone(f.HeaderBlockFragment()))
		case *http2.ContinuationFrame:
			out[len(out)-1] = append(out[len(out)-1], f.HeaderBlockFragment()...)
		}
	}
}

// TestH2TablePitfalls checks that the fixtures exercise the HPACK pitfalls
// of an observer (anchors-next.md section 1.2, item 3), which h2Conn
// decodes without an error: a decoder that keeps the initial 4096-byte
// limit, or that waits for the ACK, fails in both directions; one decoder
// shared by both directions decodes wrong fields.
func TestH2TablePitfalls(t *testing.T) {
	for _, tt := range []struct {
		fixture string
		fx      h2Fixture
		side    Side
	}{
		{"table-size", h2FixtureTableSize(t), Client},
		{"upgrade", h2FixtureUpgrade(t), Server},
	} {
		dec := hpack.NewDecoder(4096, nil)
		var err error
		for _, blk := range h2Blocks(t, tt.fx, tt.side) {
			if _, err = dec.DecodeFull(blk); err != nil {
				break
			}
		}
		if err == nil || !strings.Contains(err.Error(), "dynamic table size update too large") {
			t.Errorf("%s: the %s's blocks with a fixed 4096-byte limit: %v, want the size update refused", tt.fixture, tt.side, err)
		}
		if got := runH2(t, tt.fx, 0, nil); strings.Contains(got, "error ") {
			t.Errorf("%s: h2Conn reported an error:\n%s", tt.fixture, got)
		}
	}

	fx := h2FixtureGET(t)
	cl, sv := h2Blocks(t, fx, Client), h2Blocks(t, fx, Server)
	own, shared := hpack.NewDecoder(4096, nil), hpack.NewDecoder(4096, nil)
	for i := range cl {
		want, err := own.DecodeFull(cl[i])
		if err != nil {
			t.Fatal(err)
		}
		got, err := shared.DecodeFull(cl[i])
		if i == 1 {
			if len(want) != 6 || want[2].Value != "/index.html" {
				t.Fatalf("the client's own decoder: %v", want)
			}
			if err == nil && fmt.Sprint(got) == fmt.Sprint(want) {
				t.Errorf("one decoder for both directions decoded the second request right: the fixture does not show the pitfall")
			}
			t.Logf("second request with a shared decoder: %v, %v", got, err)
		}
		if _, err := shared.DecodeFull(sv[i]); err != nil {
			t.Logf("response %d with a shared decoder: %v", i+1, err)
		}
	}
}

// TestH2FieldAfterInvalid feeds HPACK every fragment of a block whose
// first fragment has a field HTTP/2 forbids (an uppercase name): the
// CONTINUATION after it adds to the dynamic table, and the next block
// refers to that entry. x/net's ReadMetaHeaders, built for an endpoint,
// gives up at the invalid field: in v0.63.0 it returns a connection error
// without feeding the CONTINUATION to HPACK.
func TestH2FieldAfterInvalid(t *testing.T) {
	s := newH2Script(t).start()
	blk := s.block(Client, ":method", "GET", ":scheme", "https", ":path", "/", ":authority", "a", "X-Upper", "1")
	rest := s.block(Client, "x-later", "remembered")
	s.add(Client, func(fr *http2.Framer) error {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndStream: true}); err != nil {
			return err
		}
		return fr.WriteContinuation(1, true, rest)
	})
	s.headers(Client, 3, true, ":method", "GET", ":scheme", "https", ":path", "/", ":authority", "a", "x-later", "remembered")
	got := runH2(t, s.fx, 0, nil)
	if n := strings.Count(got, `header "x-later": "remembered"`); n != 2 {
		t.Errorf("x-later decoded %d times, want 2:\n%s", n, got)
	}
	if !strings.Contains(got, `field name "X-Upper"`) {
		t.Errorf("the uppercase name was not reported:\n%s", got)
	}

	var in []byte
	for _, sg := range s.fx.segs {
		if sg.side == Client {
			in = append(in, sg.b...)
		}
	}
	fr := http2.NewFramer(nil, bytes.NewReader(bytes.TrimPrefix(in, []byte(http2.ClientPreface))))
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	var err error
	for err == nil {
		_, err = fr.ReadFrame()
	}
	var ce http2.ConnectionError
	if !errors.As(err, &ce) || http2.ErrCode(ce) != http2.ErrCodeProtocol {
		t.Errorf("ReadMetaHeaders: %v, want a PROTOCOL_ERROR for the invalid field", err)
	}
}

// TestH2FramerAgrees checks that the fields h2Conn reads before a DATA,
// HEADERS or PUSH_PROMISE payload (RFC 9113 sections 6.1, 6.2, 6.6) agree
// with x/net's parser on every flag combination, length and padding length
// up to small sizes: the same frames are refused, the same bytes kept.
func TestH2FramerAgrees(t *testing.T) {
	for _, typ := range []http2.FrameType{http2.FrameData, http2.FrameHeaders, http2.FramePushPromise} {
		for _, flags := range []http2.Flags{0, 0x8, 0x20, 0x28} {
			for n := range 13 {
				for pad := range 14 {
					payload := make([]byte, n)
					for i := range payload {
						payload[i] = byte(0x40 + i)
					}
					if n > 0 {
						payload[0] = byte(pad)
					}
					if n == 0 && pad > 0 {
						continue
					}
					h2CheckAgree(t, typ, flags, payload)
				}
			}
		}
	}
}

func h2CheckAgree(t *testing.T, typ http2.FrameType, flags http2.Flags, payload []byte) {
	t.Helper()
	var frame bytes.Buffer
	if err := http2.NewFramer(&frame, nil).WriteRawFrame(typ, flags, 1, payload); err != nil {
		t.Fatal(err)
	}
	f, err := http2.NewFramer(nil, bytes.NewReader(frame.Bytes())).ReadFrame()
	var want []byte
	switch f := f.(type) {
	case *http2.DataFrame:
		want = f.Data()
	case *http2.HeadersFrame:
		want = f.HeaderBlockFragment()
	case *http2.PushPromiseFrame:
		want = f.HeaderBlockFragment()
	}

	s := newH2Script(t).start()
	s.headers(Client, 1, false, ":method", "POST", ":scheme", "https", ":path", "/", ":authority", "a")
	s.headers(Server, 1, false, ":status", "200")
	side := Client
	if typ == http2.FramePushPromise {
		side = Server
	}
	r := &h2Recorder{maxBody: DefaultMaxBody}
	c := newH2Conn(Config{}, r, h2Start{})
	for _, sg := range s.fx.segs {
		c.feed(sg.side, sg.b)
	}
	c.feed(side, frame.Bytes())
	undecoded := strings.Contains(r.b.String(), "undecoded")
	name := fmt.Sprintf("%v flags=0x%02x payload=%x", typ, flags, payload)
	if undecoded != (err != nil) {
		t.Fatalf("%s: h2Conn undecoded=%v, Framer error %v", name, undecoded, err)
	}
	if err != nil {
		return
	}
	var got []byte
	if typ == http2.FrameData {
		got = c.streams[1].req.body
	} else {
		got = c.dir[side].blk.buf
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s: h2Conn kept %x, Framer %x", name, got, want)
	}
	if pp, ok := f.(*http2.PushPromiseFrame); ok && !strings.Contains(r.b.String(), fmt.Sprintf("promised=%d", pp.PromiseID)) {
		t.Fatalf("%s: promised stream %d not reported:\n%s", name, pp.PromiseID, r.b.String())
	}
}

// h2Counter is an H2Handler that counts what it receives.
type h2Counter struct {
	frames, requests, responses, resets int
	errs                                []error
}

func (h *h2Counter) H2Frame(Side, *H2Frame) { h.frames++ }
func (h *h2Counter) Request(*Request)       { h.requests++ }
func (h *h2Counter) Response(r *Response) {
	h.responses++
	if r.Reset != "" {
		h.resets++
	}
}
func (h *h2Counter) Upgrade(*Upgrade)        {}
func (h *h2Counter) Frame(Side, *Frame)      {}
func (h *h2Counter) Message(Side, *Message)  {}
func (h *h2Counter) Error(_ Side, err error) { h.errs = append(h.errs, err) }
func (h *h2Counter) limitErrors() (n int) {
	for _, err := range h.errs {
		if errors.Is(err, ErrH2Limit) {
			n++
		}
	}
	return n
}

// h2Heap returns the bytes of live heap after a collection.
func h2Heap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestH2StreamFlood opens 100,000 streams on one connection: never
// answered, reset at once (the "rapid reset" pattern), and answered. The
// connection tracks at most h2StreamsMax, forgets closed ones at once,
// and its heap stays small.
func TestH2StreamFlood(t *testing.T) {
	const n = 100_000
	for _, tt := range []struct {
		name                      string
		answer, reset             bool
		requests, responses, errs int
		maxOpen                   int
	}{
		{name: "never answered", requests: h2StreamsMax, errs: 1, maxOpen: h2StreamsMax},
		{name: "reset", reset: true, requests: n, responses: n, maxOpen: 1},
		{name: "answered", answer: true, requests: n, responses: n, maxOpen: 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := &h2Counter{}
			c := newH2Conn(Config{}, h, h2Start{})
			s := newH2Script(t).start()
			for _, sg := range s.fx.segs {
				c.feed(sg.side, sg.b)
			}
			before := h2Heap()
			for i := range n {
				s.fx.segs = s.fx.segs[:0]
				id := uint32(2*i + 1)
				h2get(s, id, "/flood")
				switch {
				case tt.reset:
					s.rst(Client, id, http2.ErrCodeCancel)
				case tt.answer:
					s.headers(Server, id, true, ":status", "204")
				}
				for _, sg := range s.fx.segs {
					c.feed(sg.side, sg.b)
				}
				if len(c.streams) > h2StreamsMax {
					t.Fatalf("%d streams tracked", len(c.streams))
				}
			}
			grown := int64(h2Heap()) - int64(before)
			st := c.stats()
			t.Logf("%d streams: heap grew %d bytes; %d tracked at the end; %+v", n, grown, len(c.streams), st)
			if h.requests != tt.requests || h.responses != tt.responses || len(h.errs) != tt.errs || h.limitErrors() != tt.errs {
				t.Errorf("%d requests, %d responses, errors %v; want %d, %d, %d limit error", h.requests, h.responses, h.errs, tt.requests, tt.responses, tt.errs)
			}
			if st.Streams != n || st.MaxOpen != tt.maxOpen {
				t.Errorf("stats %+v, want %d streams, at most %d open", st, n, tt.maxOpen)
			}
			if grown > 4<<20 {
				t.Errorf("heap grew %d bytes for %d streams", grown, n)
			}
			c.end(Client)
			c.end(Server)
			if len(c.streams) != 0 || c.kept != 0 {
				t.Errorf("after the end: %d streams, %d bytes kept", len(c.streams), c.kept)
			}
		})
	}
}

// TestH2LargeFrames sends the largest frames HTTP/2 allows (2^24-1 bytes):
// a DATA frame goes to the body as it arrives, a header block to HPACK,
// so neither is held whole.
func TestH2LargeFrames(t *testing.T) {
	const maxSize = 1<<24 - 1
	s := newH2Script(t).preface()
	s.settings(Client, http2.Setting{ID: http2.SettingMaxFrameSize, Val: maxSize})
	s.settings(Server, http2.Setting{ID: http2.SettingMaxFrameSize, Val: maxSize}).ack(Client).ack(Server)
	// One header block of 2^24-1 bytes: fields of 1000 bytes, never
	// indexed, so HPACK keeps none of them.
	var blk bytes.Buffer
	enc := hpack.NewEncoder(&blk)
	for _, kv := range [][2]string{{":method", "POST"}, {":scheme", "https"}, {":path", "/big"}, {":authority", "a"}} {
		enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	for i := 0; blk.Len() < maxSize-1100; i++ {
		enc.WriteField(hpack.HeaderField{Name: "x-filler", Value: strings.Repeat(string(rune('a'+i%26)), 1000), Sensitive: true})
	}
	fields := blk.Bytes()
	s.add(Client, func(fr *http2.Framer) error {
		return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: fields, EndHeaders: true, PadLength: 255})
	})
	body := bytes.Repeat([]byte("0123456789abcdef"), maxSize/16)
	s.add(Client, func(fr *http2.Framer) error { return fr.WriteData(1, true, body) })
	s.headers(Server, 1, true, ":status", "204")

	cfg := Config{MaxBody: 4096}
	r := &h2Counter{}
	c := newH2Conn(cfg, r, h2Start{})
	before := h2Heap()
	var peak uint64
	for _, sg := range s.fx.segs {
		for p := sg.b; len(p) > 0; {
			k := min(len(p), 32<<10)
			c.feed(sg.side, p[:k])
			p = p[k:]
			h2CheckBounds(t, c)
		}
		peak = max(peak, h2Heap())
	}
	s = nil
	fields, body = nil, nil
	blk = bytes.Buffer{}
	after := h2Heap()
	t.Logf("heap: %d before, peak %d (fixture included), %d after", before, peak, after)
	if r.requests != 1 || r.responses != 1 {
		t.Errorf("%d requests, %d responses", r.requests, r.responses)
	}
	if len(r.errs) != 1 || !errors.Is(r.errs[0], ErrHeadTooLarge) {
		t.Errorf("errors %v, want one ErrHeadTooLarge", r.errs)
	}
	// What the connection holds: its buffers, not the frames.
	held := 0
	for i := range c.dir {
		d := &c.dir[i]
		held += cap(d.ctl) + cap(d.blk.buf) + cap(d.blk.fields)*32
	}
	if held > 64<<10 {
		t.Errorf("the connection holds %d bytes of buffers", held)
	}
	if grown := int64(after) - int64(before); grown > 1<<20 {
		t.Errorf("heap grew %d bytes", grown)
	}
}

// TestH2Budget uploads 20 bodies at once, each larger than MaxBody: the
// bodies kept across open streams stop at the connection's budget
// (reported once), and the later ones are truncated but counted.
func TestH2Budget(t *testing.T) {
	cfg := Config{MaxBody: 64 << 10, MaxHead: 4 << 10}
	s := newH2Script(t).start()
	const streams = 20
	for i := range streams {
		s.headers(Client, uint32(2*i+1), false, ":method", "PUT", ":scheme", "https", ":path", fmt.Sprintf("/%d", i), ":authority", "a")
	}
	chunk := strings.Repeat("x", 16<<10)
	for range 5 {
		for i := range streams {
			s.data(Client, uint32(2*i+1), false, chunk)
		}
	}
	for i := range streams {
		s.data(Client, uint32(2*i+1), true, "")
	}
	r := &h2Recorder{maxBody: cfg.maxBody()}
	c := newH2Conn(cfg, r, h2Start{})
	maxKept := 0
	for _, sg := range s.fx.segs {
		c.feed(sg.side, sg.b)
		h2CheckBounds(t, c)
		maxKept = max(maxKept, c.kept)
	}
	got := r.b.String()
	budget := h2Budget(cfg.maxBody(), cfg.maxHead())
	t.Logf("budget %d, kept at most %d", budget, maxKept)
	if n := strings.Count(got, "body 81920"); n != streams {
		t.Errorf("%d bodies counted in full, want %d", n, streams)
	}
	if n := strings.Count(got, "error client"); n != 1 || !strings.Contains(got, "the connection's bound: bodies past it are truncated") {
		t.Errorf("%d errors:\n%s", n, got)
	}
	if maxKept > budget || maxKept < budget-16<<10 {
		t.Errorf("kept at most %d bytes, budget %d", maxKept, budget)
	}
}

// TestH2PrefaceStart checks the sniffing helper.
func TestH2PrefaceStart(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"", true},
		{"P", true},
		{"PRI * HTTP/2.0\r\n", true},
		{http2.ClientPreface, true},
		{http2.ClientPreface + "\x00\x00\x00\x04", true},
		{"PRI * HTTP/1.1\r\n", false},
		{"POST / HTTP/1.1\r\n", false},
		{"\x16\x03\x01", false},
	} {
		if got := h2PrefaceStart([]byte(tt.in)); got != tt.want {
			t.Errorf("h2PrefaceStart(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestH2PlainHandler checks that a Handler without H2Frame gets the
// exchanges and the errors.
func TestH2PlainHandler(t *testing.T) {
	cnt := &h2Counter{}
	var plain Handler = struct {
		Handler
	}{cnt}
	if _, ok := plain.(H2Handler); ok {
		t.Fatal("the wrapper is an H2Handler")
	}
	fx := h2BadFrames(t)
	c := newH2Conn(Config{}, plain, h2Start{})
	for _, sg := range fx.segs {
		c.feed(sg.side, sg.b)
	}
	c.end(Client)
	c.end(Server)
	if cnt.frames != 0 || cnt.requests != 1 || cnt.responses != 1 || len(cnt.errs) != 2 {
		t.Errorf("frames %d, requests %d, responses %d, errors %v", cnt.frames, cnt.requests, cnt.responses, cnt.errs)
	}
}

// TestH2Names checks the names the capture format fixes (issue 9,
// "Events"): frame types, error codes and settings, "0xNN" when unknown.
func TestH2Names(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{H2Data.String(), "DATA"},
		{H2Continuation.String(), "CONTINUATION"},
		{H2WindowUpdate.String(), "WINDOW_UPDATE"},
		{H2Type(0xa).String(), "0x0a"},
		{H2Type(0xff).String(), "0xff"},
		{H2Code(0).String(), "NO_ERROR"},
		{H2Code(8).String(), "CANCEL"},
		{H2Code(0xd).String(), "HTTP_1_1_REQUIRED"},
		{H2Code(0xe).String(), "0x0e"},
		{H2Code(0xdeadbeef).String(), "0xdeadbeef"},
		{H2Setting{ID: 1}.Name(), "HEADER_TABLE_SIZE"},
		{H2Setting{ID: 8}.Name(), "ENABLE_CONNECT_PROTOCOL"},
		{H2Setting{ID: 9}.Name(), "NO_RFC7540_PRIORITIES"},
		{H2Setting{ID: 7}.Name(), "0x07"},
		{H2Setting{ID: 0}.Name(), "0x00"},
		{H2Setting{ID: 0x4242}.Name(), "0x4242"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// TestH2WebSocketStreams opens more WebSockets on one connection than
// h2WSMax: the one past the bound is reported and its DATA are not
// decoded; once a WebSocket stream closes, a new one is decoded again.
func TestH2WebSocketStreams(t *testing.T) {
	s := newH2Script(t).start()
	open := func(id uint32) {
		s.headers(Client, id, false, ":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path", "/ws", ":authority", "a")
		s.headers(Server, id, false, ":status", "200")
		s.data(Client, id, false, string(h2WSFrame(Client, ws.OpText, true, 0, []byte(fmt.Sprint("on ", id)))))
	}
	for i := range h2WSMax + 1 {
		open(uint32(2*i + 1))
	}
	s.rst(Client, 1, http2.ErrCodeCancel)
	open(99)
	r := &h2Recorder{maxBody: DefaultMaxBody}
	c := newH2Conn(Config{}, r, h2Start{})
	for _, sg := range s.fx.segs {
		c.feed(sg.side, sg.b)
	}
	got := r.b.String()
	for i := range h2WSMax {
		if want := fmt.Sprintf("message client stream=%d text frames=1 len=4 wire=4 compressed=false \"on %d\"", 2*i+1, 2*i+1); !strings.Contains(got, want) {
			t.Errorf("no %s in\n%s", want, got)
		}
	}
	past := 2*h2WSMax + 1
	if strings.Contains(got, fmt.Sprintf("message client stream=%d ", past)) || !strings.Contains(got, fmt.Sprintf("error server: stream %d: more than %d WebSocket streams at once", past, h2WSMax)) {
		t.Errorf("stream %d past the bound:\n%s", past, got)
	}
	if !strings.Contains(got, `message client stream=99 text frames=1 len=5 wire=5 compressed=false "on 99"`) {
		t.Errorf("stream 99, after stream 1 closed, not decoded:\n%s", got)
	}
}
