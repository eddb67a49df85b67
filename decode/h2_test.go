package decode

import (
	"bytes"
	"compress/flate"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// updateH2 rewrites the golden files of testdata/h2.
var updateH2 = flag.Bool("update-h2", false, "rewrite testdata/h2/*.golden")

// h2Recorder is an H2Handler that writes every event as text, one line per
// event and one indented line per field, and notes broken invariants.
type h2Recorder struct {
	b       strings.Builder
	maxBody int
	bad     []string
}

func (r *h2Recorder) H2Frame(s Side, f *H2Frame) {
	fmt.Fprintf(&r.b, "h2frame %s %s stream=%d flags=0x%02x len=%d", s, f.Type, f.Stream, f.Flags, f.Len)
	switch {
	case f.Undecoded:
		r.b.WriteString(" undecoded")
	case f.Type == H2Settings && f.Ack:
		r.b.WriteString(" ack")
	case f.Type == H2Settings:
		r.b.WriteString(" settings=[")
		for i, st := range f.Settings {
			if i > 0 {
				r.b.WriteByte(' ')
			}
			fmt.Fprintf(&r.b, "%s=%d", st.Name(), st.Value)
		}
		r.b.WriteByte(']')
	case f.Type == H2Ping && f.Ack:
		r.b.WriteString(" ack")
	case f.Type == H2GoAway:
		fmt.Fprintf(&r.b, " last_stream=%d code=%s", f.LastStream, f.Code)
	case f.Type == H2RSTStream:
		fmt.Fprintf(&r.b, " code=%s", f.Code)
	case f.Type == H2WindowUpdate:
		fmt.Fprintf(&r.b, " increment=%d", f.Increment)
	case f.Type == H2PushPromise:
		fmt.Fprintf(&r.b, " promised=%d", f.Promised)
	}
	r.b.WriteByte('\n')
}

func (r *h2Recorder) fields(what string, hs []Header) {
	for _, h := range hs {
		fmt.Fprintf(&r.b, "  %s %q: %q\n", what, h.Name, h.Value)
	}
}

func (r *h2Recorder) body(body []byte, n int64, truncated bool) {
	if len(body) > r.maxBody {
		r.bad = append(r.bad, fmt.Sprintf("kept %d body bytes, more than MaxBody %d", len(body), r.maxBody))
	}
	if int64(len(body)) > n || truncated != (n > int64(len(body))) {
		r.bad = append(r.bad, fmt.Sprintf("body of %d bytes kept %d, truncated=%v", n, len(body), truncated))
	}
	if n == 0 && body == nil {
		return
	}
	fmt.Fprintf(&r.b, "  body %d %q", n, body)
	if truncated {
		r.b.WriteString(" truncated")
	}
	r.b.WriteByte('\n')
}

func (r *h2Recorder) Request(q *Request) {
	fmt.Fprintf(&r.b, "request seq=%d stream=%d %s %s %s host=%q scheme=%q", q.Seq, q.Stream, q.Method, q.Target, q.Proto, q.Host, q.Scheme)
	if q.Protocol != "" {
		fmt.Fprintf(&r.b, " protocol=%q", q.Protocol)
	}
	if q.Pushed {
		r.b.WriteString(" pushed")
	}
	r.b.WriteByte('\n')
	r.fields("header", q.Headers)
	r.body(q.Body, q.BodyLen, q.Truncated)
	r.fields("trailer", q.Trailers)
}

func (r *h2Recorder) Response(p *Response) {
	fmt.Fprintf(&r.b, "response seq=%d stream=%d %s %d", p.Seq, p.Stream, p.Proto, p.Status)
	if p.Reset != "" {
		fmt.Fprintf(&r.b, " reset=%s", p.Reset)
	}
	if p.Reason != "" {
		r.bad = append(r.bad, fmt.Sprintf("HTTP/2 response with reason %q", p.Reason))
	}
	r.b.WriteByte('\n')
	r.fields("header", p.Headers)
	r.body(p.Body, p.BodyLen, p.Truncated)
	r.fields("trailer", p.Trailers)
}

func (r *h2Recorder) Upgrade(u *Upgrade) {
	if u.Key != "" || u.Accept != "" || u.AcceptOK {
		r.bad = append(r.bad, "HTTP/2 upgrade with a key or accept")
	}
	fmt.Fprintf(&r.b, "upgrade seq=%d stream=%d protocol=%q subprotocol=%q extensions=%q deflate=%v\n", u.Seq, u.Stream, u.Protocol, u.Subprotocol, u.Extensions, u.Deflate)
}

func (r *h2Recorder) Frame(s Side, f *Frame) {
	fmt.Fprintf(&r.b, "frame %s stream=%d fin=%v rsv=%d op=%s masked=%v len=%d\n", s, f.Stream, f.Fin, f.RSV, OpName(f.Opcode), f.Masked, f.Len)
}

func (r *h2Recorder) Message(s Side, m *Message) {
	fmt.Fprintf(&r.b, "message %s stream=%d %s frames=%d len=%d wire=%d compressed=%v %q", s, m.Stream, OpName(m.Opcode), m.Frames, m.Len, m.WireLen, m.Compressed, m.Payload)
	if m.Opcode == 8 {
		fmt.Fprintf(&r.b, " code=%d reason=%q", m.CloseCode, m.CloseReason)
	}
	r.b.WriteByte('\n')
}

func (r *h2Recorder) Error(s Side, err error) {
	var he *H2Error
	if !errors.As(err, &he) {
		r.bad = append(r.bad, fmt.Sprintf("error %q is not an *H2Error", err))
	} else if he.Side != s {
		r.bad = append(r.bad, fmt.Sprintf("error %q reported for %s, carries side %s", err, s, he.Side))
	}
	opaque := ""
	if he != nil && he.Opaque {
		opaque = " [opaque]"
	}
	fmt.Fprintf(&r.b, "error %s: %s%s\n", s, err, opaque)
}

// h2Seg is bytes one side sent in one go, or (end set) the side's end.
type h2Seg struct {
	side Side
	b    []byte
	end  bool
}

// h2Fixture is one HTTP/2 connection's bytes, in the order they crossed
// the wire, and how the decoder starts.
type h2Fixture struct {
	cfg   Config
	start h2Start
	segs  []h2Seg
}

// h2Script builds fixtures with x/net/http2's Framer and an HPACK encoder
// per direction, as real peers would write them.
type h2Script struct {
	tb   testing.TB
	fx   h2Fixture
	buf  bytes.Buffer
	fr   *http2.Framer
	hbuf [2]bytes.Buffer
	enc  [2]*hpack.Encoder
}

func newH2Script(tb testing.TB) *h2Script {
	s := &h2Script{tb: tb}
	s.fr = http2.NewFramer(&s.buf, nil)
	s.fr.AllowIllegalWrites = true
	for i := range s.enc {
		s.enc[i] = hpack.NewEncoder(&s.hbuf[i])
	}
	return s
}

// add appends what fn writes with the Framer as one segment of side.
func (s *h2Script) add(side Side, fn func(fr *http2.Framer) error) *h2Script {
	s.tb.Helper()
	s.buf.Reset()
	if err := fn(s.fr); err != nil {
		s.tb.Fatal(err)
	}
	return s.raw(side, s.buf.Bytes())
}

func (s *h2Script) raw(side Side, b []byte) *h2Script {
	s.fx.segs = append(s.fx.segs, h2Seg{side: side, b: bytes.Clone(b)})
	return s
}

func (s *h2Script) end(side Side) *h2Script {
	s.fx.segs = append(s.fx.segs, h2Seg{side: side, end: true})
	return s
}

// block encodes name, value pairs with side's HPACK encoder.
func (s *h2Script) block(side Side, kv ...string) []byte {
	s.hbuf[side].Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		if err := s.enc[side].WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]}); err != nil {
			s.tb.Fatal(err)
		}
	}
	return bytes.Clone(s.hbuf[side].Bytes())
}

func (s *h2Script) preface() *h2Script { return s.raw(Client, []byte(http2.ClientPreface)) }

func (s *h2Script) settings(side Side, st ...http2.Setting) *h2Script {
	return s.add(side, func(fr *http2.Framer) error { return fr.WriteSettings(st...) })
}

func (s *h2Script) ack(side Side) *h2Script {
	return s.add(side, func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
}

// start writes the usual opening: the preface, both SETTINGS, both ACKs.
func (s *h2Script) start() *h2Script {
	return s.preface().settings(Client, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20}).
		settings(Server, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100}).
		ack(Client).ack(Server)
}

// headers writes one HEADERS frame with END_HEADERS.
func (s *h2Script) headers(side Side, stream uint32, end bool, kv ...string) *h2Script {
	blk := s.block(side, kv...)
	return s.add(side, func(fr *http2.Framer) error {
		return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: blk, EndStream: end, EndHeaders: true})
	})
}

func (s *h2Script) data(side Side, stream uint32, end bool, payload string) *h2Script {
	return s.add(side, func(fr *http2.Framer) error { return fr.WriteData(stream, end, []byte(payload)) })
}

func (s *h2Script) rst(side Side, stream uint32, code http2.ErrCode) *h2Script {
	return s.add(side, func(fr *http2.Framer) error { return fr.WriteRSTStream(stream, code) })
}

// runH2 feeds fx to a new h2Conn, piece bytes at a time (0: each segment
// whole), or with segment split[0] cut at byte split[1], and returns what
// it reported and its stats. It ends both sides at the end, and checks
// that the connection then keeps nothing.
func runH2(tb testing.TB, fx h2Fixture, piece int, split []int) string {
	tb.Helper()
	r := &h2Recorder{maxBody: fx.cfg.maxBody()}
	c := newH2Conn(fx.cfg, r, fx.start)
	for i, sg := range fx.segs {
		if sg.end {
			c.end(sg.side)
			continue
		}
		switch {
		case split != nil && split[0] == i:
			c.feed(sg.side, sg.b[:split[1]])
			c.feed(sg.side, sg.b[split[1]:])
		case piece > 0:
			for p := sg.b; len(p) > 0; {
				k := min(piece, len(p))
				c.feed(sg.side, p[:k])
				p = p[k:]
			}
		default:
			c.feed(sg.side, sg.b)
		}
		h2CheckBounds(tb, c)
	}
	c.end(Client)
	c.end(Server)
	st := c.stats()
	fmt.Fprintf(&r.b, "streams %d, at most %d open\n", st.Streams, st.MaxOpen)
	if c.kept != 0 || len(c.streams) != 0 || c.wsOpen != 0 {
		tb.Errorf("after both ends: kept %d bytes, %d streams, %d WebSocket streams", c.kept, len(c.streams), c.wsOpen)
	}
	for _, b := range r.bad {
		tb.Error(b)
	}
	return r.b.String()
}

// h2CheckBounds checks what a connection holds against its bounds.
func h2CheckBounds(tb testing.TB, c *h2Conn) {
	tb.Helper()
	if c.kept < 0 || c.kept > c.budget {
		tb.Fatalf("kept %d bytes, budget %d", c.kept, c.budget)
	}
	if len(c.streams) > h2StreamsMax {
		tb.Fatalf("%d streams tracked", len(c.streams))
	}
	sum := 0
	for _, s := range c.streams {
		sum += s.req.kept + s.resp.kept + s.heldKept
		if len(s.req.body) > c.maxBody || len(s.resp.body) > c.maxBody || len(s.held) > h2HeldMax {
			tb.Fatalf("stream %d keeps %d and %d body bytes, %d held responses", s.id, len(s.req.body), len(s.resp.body), len(s.held))
		}
	}
	for i := range c.dir {
		d := &c.dir[i]
		sum += d.blk.kept
		if cap(d.ctl) > 9+h2CtlMax || cap(d.blk.buf) > h2BlockChunk || d.blk.size <= c.maxHead && d.blk.kept > d.blk.size {
			tb.Fatalf("%s: control buffer %d, block buffer %d, block keeps %d of %d", d.side, cap(d.ctl), cap(d.blk.buf), d.blk.kept, d.blk.size)
		}
	}
	if sum != c.kept {
		tb.Fatalf("streams and blocks keep %d bytes, the connection counts %d", sum, c.kept)
	}
}

// checkH2Splits feeds fx one byte at a time and cut at every byte of every
// segment, and wants the events of feeding it whole. In a segment longer
// than 2 KiB (a long DATA payload or header block) it cuts at every byte
// of the first and last 512, and at every 127th byte between: each run
// decodes the whole fixture, and the middle of a long payload has no new
// boundary to find.
func checkH2Splits(t *testing.T, fx h2Fixture, want string) {
	t.Helper()
	if got := runH2(t, fx, 1, nil); got != want {
		t.Fatalf("one byte at a time: got\n%s\nwant\n%s", got, want)
	}
	for i, sg := range fx.segs {
		for j := 1; j < len(sg.b); j++ {
			if len(sg.b) > 2048 && j > 512 && j < len(sg.b)-512 && j%127 != 0 {
				continue
			}
			if got := runH2(t, fx, 0, []int{i, j}); got != want {
				t.Fatalf("segment %d cut at %d: got\n%s\nwant\n%s", i, j, got, want)
			}
		}
	}
}

// checkH2Golden compares fx's events with testdata/h2/name.golden
// (go test -run TestH2 -update-h2 rewrites them), then checks every split.
func checkH2Golden(t *testing.T, name string, fx h2Fixture) string {
	t.Helper()
	got := runH2(t, fx, 0, nil)
	golden := filepath.Join("testdata", "h2", name+".golden")
	if *updateH2 {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update-h2 to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("events differ from %s (run with -update-h2 to accept):\ngot\n%s\nwant\n%s", golden, got, want)
	}
	checkH2Splits(t, fx, got)
	return got
}

// h2Mask masks the client's WebSocket frames in these tests.
var h2Mask = [4]byte{0xa1, 0xb2, 0xc3, 0xd4}

// h2WSFrame builds one WebSocket frame, masked when the client sends it.
func h2WSFrame(from Side, op ws.OpCode, fin bool, rsv byte, payload []byte) []byte {
	p := bytes.Clone(payload)
	masked := from == Client
	if masked {
		ws.Cipher(p, h2Mask, 0)
	}
	var b bytes.Buffer
	f := ws.Frame{Header: ws.Header{Fin: fin, Rsv: rsv, OpCode: op, Masked: masked, Mask: h2Mask, Length: int64(len(p))}, Payload: p}
	if err := ws.WriteFrame(&b, f); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// h2Deflater compresses WebSocket messages for permessage-deflate with
// context takeover (RFC 7692 section 7.2.1): one flate stream, flushed
// after each message, its 0x00 0x00 0xff 0xff tail removed.
type h2Deflater struct {
	buf bytes.Buffer
	fw  *flate.Writer
}

func (z *h2Deflater) compress(tb testing.TB, p string) []byte {
	if z.fw == nil {
		z.fw, _ = flate.NewWriter(&z.buf, flate.DefaultCompression)
	}
	z.buf.Reset()
	if _, err := z.fw.Write([]byte(p)); err != nil {
		tb.Fatal(err)
	}
	if err := z.fw.Flush(); err != nil {
		tb.Fatal(err)
	}
	out, ok := bytes.CutSuffix(z.buf.Bytes(), []byte{0, 0, 0xff, 0xff})
	if !ok {
		tb.Fatalf("flush ended with %x", z.buf.Bytes())
	}
	return bytes.Clone(out)
}

// The fixtures: each builds one connection.

func h2FixtureGET(tb testing.TB) h2Fixture {
	s := newH2Script(tb).start()
	s.headers(Client, 1, true, ":method", "GET", ":scheme", "https", ":path", "/index.html", ":authority", "example.com", "user-agent", "test/1", "accept", "*/*")
	s.add(Server, func(fr *http2.Framer) error { return fr.WriteWindowUpdate(0, 1<<16) })
	s.headers(Server, 1, false, ":status", "200", "content-type", "text/html", "content-length", "11")
	s.data(Server, 1, false, "hello ")
	s.data(Server, 1, true, "world")
	s.add(Client, func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}) })
	s.add(Server, func(fr *http2.Framer) error { return fr.WritePing(true, [8]byte{1, 2, 3, 4, 5, 6, 7, 8}) })
	// A second request with the same fields: HPACK's dynamic table at work.
	s.headers(Client, 3, true, ":method", "GET", ":scheme", "https", ":path", "/index.html", ":authority", "example.com", "user-agent", "test/1", "accept", "*/*")
	s.headers(Server, 3, true, ":status", "304")
	s.add(Client, func(fr *http2.Framer) error { return fr.WriteGoAway(0, http2.ErrCodeNo, []byte("bye")) })
	s.add(Server, func(fr *http2.Framer) error { return fr.WriteGoAway(3, http2.ErrCodeNo, nil) })
	s.end(Client).end(Server)
	return s.fx
}

// h2FixtureInterleaved has five streams open at once: uploads whose DATA
// interleave, padding and priority on HEADERS and DATA, responses that end
// out of order.
func h2FixtureInterleaved(tb testing.TB) h2Fixture {
	s := newH2Script(tb).start()
	for i := uint32(1); i <= 9; i += 2 {
		blk := s.block(Client, ":method", "POST", ":scheme", "http", ":path", fmt.Sprintf("/upload/%d", i), ":authority", "example.com", "content-type", "text/plain")
		s.add(Client, func(fr *http2.Framer) error {
			return fr.WriteHeaders(http2.HeadersFrameParam{
				StreamID: i, BlockFragment: blk, EndHeaders: true,
				PadLength: uint8(i), Priority: http2.PriorityParam{StreamDep: i - 1 - (i-1)%4, Weight: uint8(i), Exclusive: i == 5},
			})
		})
	}
	for round := range 3 {
		for _, i := range []uint32{9, 7, 5, 3, 1} {
			end := round == 2
			payload := []byte(fmt.Sprintf("part%d-of-%d;", round, i))
			if i == 3 {
				s.add(Client, func(fr *http2.Framer) error { return fr.WriteDataPadded(i, end, payload, make([]byte, 7)) })
			} else {
				s.add(Client, func(fr *http2.Framer) error { return fr.WriteData(i, end, payload) })
			}
			if round == 1 && i%4 == 1 {
				s.headers(Server, i, false, ":status", "201", "location", fmt.Sprintf("/files/%d", i))
			}
		}
	}
	s.add(Client, func(fr *http2.Framer) error {
		return fr.WritePriority(7, http2.PriorityParam{StreamDep: 1, Weight: 200})
	})
	for _, i := range []uint32{5, 1, 9} {
		s.data(Server, i, true, fmt.Sprintf("stored %d", i))
	}
	for _, i := range []uint32{7, 3} {
		s.headers(Server, i, false, ":status", "200")
		blk := s.block(Server, "x-stored", "yes")
		s.add(Server, func(fr *http2.Framer) error {
			if err := fr.WriteDataPadded(i, false, []byte("ok"), make([]byte, 3)); err != nil {
				return err
			}
			return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: i, BlockFragment: blk, EndStream: true, EndHeaders: true, PadLength: 2})
		})
	}
	s.end(Client).end(Server)
	return s.fx
}

// h2FixtureContinuation splits header blocks over CONTINUATION frames,
// both ways and in a PUSH_PROMISE, with a pushed response.
func h2FixtureContinuation(tb testing.TB) h2Fixture {
	s := newH2Script(tb).start()
	big := strings.Repeat("c", 300)
	blk := s.block(Client, ":method", "GET", ":scheme", "https", ":path", "/page", ":authority", "example.com", "cookie", big, "cookie", "b=2")
	s.add(Client, func(fr *http2.Framer) error {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:10], EndStream: true, PadLength: 4}); err != nil {
			return err
		}
		if err := fr.WriteContinuation(1, false, blk[10:200]); err != nil {
			return err
		}
		if err := fr.WriteContinuation(1, false, nil); err != nil {
			return err
		}
		return fr.WriteContinuation(1, true, blk[200:])
	})
	pblk := s.block(Server, ":method", "GET", ":scheme", "https", ":path", "/style.css", ":authority", "example.com")
	s.add(Server, func(fr *http2.Framer) error {
		if err := fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 2, BlockFragment: pblk[:5], PadLength: 3}); err != nil {
			return err
		}
		return fr.WriteContinuation(1, true, pblk[5:])
	})
	rblk := s.block(Server, ":status", "200", "content-type", "text/html", "x-long", big)
	s.add(Server, func(fr *http2.Framer) error {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: rblk[:20]}); err != nil {
			return err
		}
		return fr.WriteContinuation(1, true, rblk[20:])
	})
	s.headers(Server, 2, false, ":status", "200", "content-type", "text/css")
	s.data(Server, 2, true, "body{}")
	s.data(Server, 1, true, "<html></html>")
	s.end(Client).end(Server)
	return s.fx
}

// h2FixtureTableSize changes the HPACK table sizes both ways: the server
// allows 64 KiB, and its client uses that before acknowledging; the
// client shrinks the server's table to 256 bytes; blocks in flight around
// an ACK may use either size.
func h2FixtureTableSize(tb testing.TB) h2Fixture {
	s := newH2Script(tb).preface()
	s.settings(Client, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 256})
	s.settings(Server, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 65536})
	// The server's encoder shrinks its table once the client's
	// settings arrived; the client's grows (RFC 7541 section 4.2).
	s.enc[Server].SetMaxDynamicTableSizeLimit(256)
	s.enc[Client].SetMaxDynamicTableSizeLimit(65536)
	s.enc[Client].SetMaxDynamicTableSize(65536)
	long := strings.Repeat("v", 2100) // two of them fill more than 4096 bytes of table
	s.headers(Client, 1, true, ":method", "GET", ":scheme", "https", ":path", "/a", ":authority", "example.com", "x-big-1", long, "x-big-2", long)
	s.ack(Client)
	s.headers(Server, 1, true, ":status", "200", "x-small", "s", "x-small-2", strings.Repeat("w", 100))
	s.ack(Server)
	// Both tables are full of fields now: these blocks refer to them.
	s.headers(Client, 3, true, ":method", "GET", ":scheme", "https", ":path", "/a", ":authority", "example.com", "x-big-1", long, "x-big-2", long)
	s.headers(Server, 3, true, ":status", "200", "x-small", "s", "x-small-2", strings.Repeat("w", 100))
	// The server shrinks the client's table to 4096 again: the client's
	// next block, in flight before the ACK, still uses the larger one.
	s.settings(Server, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 4096})
	s.headers(Client, 5, true, ":method", "GET", ":scheme", "https", ":path", "/b", ":authority", "example.com", "x-big-1", long)
	s.enc[Client].SetMaxDynamicTableSizeLimit(4096)
	s.ack(Client)
	s.headers(Client, 7, true, ":method", "GET", ":scheme", "https", ":path", "/c", ":authority", "example.com", "x-big-1", long)
	for _, id := range []uint32{5, 7} {
		s.headers(Server, id, true, ":status", "204")
	}
	s.end(Client).end(Server)
	return s.fx
}

// h2FixtureReset covers RST_STREAM: a client cancelling a download, a
// server refusing a stream before answering, a server that answers an
// upload early and resets it with NO_ERROR (RFC 9113 section 8.1), and a
// client refusing a push.
func h2FixtureReset(tb testing.TB) h2Fixture {
	s := newH2Script(tb).start()
	get := func(id uint32, path string) {
		s.headers(Client, id, true, ":method", "GET", ":scheme", "https", ":path", path, ":authority", "example.com")
	}
	get(1, "/big")
	s.headers(Server, 1, false, ":status", "200")
	s.data(Server, 1, false, "first part")
	s.rst(Client, 1, http2.ErrCodeCancel)
	s.data(Server, 1, false, "in flight") // ignored: the stream is closed
	get(3, "/refused")
	s.rst(Server, 3, http2.ErrCodeRefusedStream)
	s.headers(Client, 5, false, ":method", "PUT", ":scheme", "https", ":path", "/upload", ":authority", "example.com")
	s.data(Client, 5, false, "some of the bytes")
	s.headers(Server, 5, false, ":status", "413")
	s.data(Server, 5, true, "too large")
	s.rst(Server, 5, http2.ErrCodeNo)
	s.data(Client, 5, false, "more bytes in flight")
	get(7, "/with-push")
	pblk := s.block(Server, ":method", "GET", ":scheme", "https", ":path", "/pushed.js", ":authority", "example.com")
	s.add(Server, func(fr *http2.Framer) error {
		return fr.WritePushPromise(http2.PushPromiseParam{StreamID: 7, PromiseID: 2, BlockFragment: pblk, EndHeaders: true})
	})
	s.rst(Client, 2, http2.ErrCodeCancel)
	s.headers(Server, 7, true, ":status", "204")
	s.end(Client).end(Server)
	return s.fx
}

// h2FixtureWebSocket opens a WebSocket over an extended CONNECT (RFC 8441)
// with permessage-deflate, next to an ordinary exchange; the WebSocket
// frames cross DATA frame boundaries.
func h2FixtureWebSocket(tb testing.TB) h2Fixture {
	s := newH2Script(tb).preface()
	s.settings(Client)
	s.settings(Server, http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1}, http2.Setting{ID: 0x9, Val: 1})
	s.ack(Client).ack(Server)
	s.headers(Client, 1, false, ":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path", "/chat", ":authority", "example.com",
		"sec-websocket-version", "13", "sec-websocket-protocol", "chat, superchat", "sec-websocket-extensions", "permessage-deflate; client_max_window_bits")
	s.headers(Client, 3, true, ":method", "GET", ":scheme", "https", ":path", "/favicon.ico", ":authority", "example.com")
	s.headers(Server, 1, false, ":status", "200", "sec-websocket-protocol", "chat", "sec-websocket-extensions", "permessage-deflate")
	var zc, zs h2Deflater
	hello := h2WSFrame(Client, ws.OpText, true, 0, []byte("Hello"))
	c1 := h2WSFrame(Client, ws.OpText, true, 4, zc.compress(tb, `{"type":"message","text":"compressed hello"}`))
	c2 := h2WSFrame(Client, ws.OpText, true, 4, zc.compress(tb, `{"type":"message","text":"compressed hello again"}`))
	frag1 := h2WSFrame(Client, ws.OpBinary, false, 0, []byte{1, 2, 3})
	ping := h2WSFrame(Client, ws.OpPing, true, 0, []byte("p"))
	frag2 := h2WSFrame(Client, ws.OpContinuation, true, 0, []byte{4, 5})
	stream := cat2(hello, c1, c2, frag1, ping, frag2)
	// DATA boundaries anywhere: inside headers, inside payloads.
	for _, cut := range [][2]int{{0, 3}, {3, 9}, {9, 40}, {40, len(stream)}} {
		s.data(Client, 1, false, string(stream[cut[0]:cut[1]]))
	}
	s.headers(Server, 3, false, ":status", "404")
	srv := cat2(h2WSFrame(Server, ws.OpText, true, 4, zs.compress(tb, "welcome, welcome")), h2WSFrame(Server, ws.OpText, true, 4, zs.compress(tb, "welcome, welcome, welcome")))
	s.add(Server, func(fr *http2.Framer) error {
		if err := fr.WriteDataPadded(1, false, srv[:5], make([]byte, 10)); err != nil {
			return err
		}
		return fr.WriteData(1, false, srv[5:])
	})
	s.data(Server, 3, true, "not found")
	s.data(Client, 1, false, string(h2WSFrame(Client, ws.OpClose, true, 0, ws.NewCloseFrameBody(ws.StatusNormalClosure, "done"))))
	s.data(Server, 1, true, string(h2WSFrame(Server, ws.OpClose, true, 0, ws.NewCloseFrameBody(ws.StatusNormalClosure, "done"))))
	s.data(Client, 1, true, "")
	s.end(Client).end(Server)
	return s.fx
}

func cat2(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// h2FixtureTrailers carries trailers both ways (gRPC style) and interim
// responses: a 100 held until the upload it answers ends, a 103 after it.
func h2FixtureTrailers(tb testing.TB) h2Fixture {
	s := newH2Script(tb).start()
	s.headers(Client, 1, false, ":method", "POST", ":scheme", "http", ":path", "/pkg.Service/Method", ":authority", "grpc.example", "content-type", "application/grpc", "te", "trailers", "expect", "100-continue")
	s.headers(Server, 1, false, ":status", "100")
	s.data(Client, 1, false, "\x00\x00\x00\x00\x03abc")
	s.headers(Client, 1, true, "x-checksum", "1234")
	s.headers(Server, 1, false, ":status", "103", "link", "</style.css>; rel=preload")
	s.headers(Server, 1, false, ":status", "200", "content-type", "application/grpc")
	s.data(Server, 1, false, "\x00\x00\x00\x00\x02ok")
	s.headers(Server, 1, true, "grpc-status", "0", "grpc-message", "")
	s.end(Client).end(Server)
	return s.fx
}

// h2FixtureUnknown has frame types and settings that frametap does not
// know (as nghttpx sends 0x8 and 0x9), and PRIORITY_UPDATE (RFC 9218).
func h2FixtureUnknown(tb testing.TB) h2Fixture {
	s := newH2Script(tb).preface()
	s.settings(Client, http2.Setting{ID: http2.SettingNoRFC7540Priorities, Val: 1}, http2.Setting{ID: 0x42, Val: 7})
	s.settings(Server, http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1}, http2.Setting{ID: http2.SettingNoRFC7540Priorities, Val: 1})
	s.add(Client, func(fr *http2.Framer) error { return fr.WriteRawFrame(0xfa, 0x3, 0, []byte("ignore me")) })
	s.ack(Client).ack(Server)
	s.add(Client, func(fr *http2.Framer) error { return fr.WritePriorityUpdate(1, "u=1, i") })
	s.headers(Client, 1, true, ":method", "GET", ":scheme", "https", ":path", "/", ":authority", "example.com", "priority", "u=1, i")
	s.add(Server, func(fr *http2.Framer) error { return fr.WriteRawFrame(0x0b, 0, 1, []byte{1, 2, 3, 4}) })
	s.add(Server, func(fr *http2.Framer) error { return fr.WriteRawFrame(0x0c, 0, 0, nil) })
	s.headers(Server, 1, true, ":status", "200")
	s.end(Client).end(Server)
	return s.fx
}

// h2FixtureUpgrade is h2c by Upgrade (RFC 7540 section 3.2): stream 1
// answers the HTTP/1.1 request, which was request 2 on its connection;
// the client's HTTP2-Settings allow the server a larger table.
func h2FixtureUpgrade(tb testing.TB) h2Fixture {
	s := newH2Script(tb)
	s.fx.start = h2Start{seq: 2, upgrade: true, settings: "AAEAAQAAAAQAAP__"} // HEADER_TABLE_SIZE=65536, INITIAL_WINDOW_SIZE=65535
	s.enc[Server].SetMaxDynamicTableSizeLimit(65536)
	s.enc[Server].SetMaxDynamicTableSize(65536)
	s.settings(Server)
	s.headers(Server, 1, false, ":status", "200", "x-big", strings.Repeat("z", 4100))
	s.preface().settings(Client).ack(Server).ack(Client)
	s.data(Server, 1, true, "upgraded")
	s.headers(Client, 3, true, ":method", "GET", ":scheme", "http", ":path", "/next", ":authority", "example.com")
	s.headers(Server, 3, true, ":status", "200", "x-big", strings.Repeat("z", 4100))
	s.end(Client).end(Server)
	return s.fx
}

var h2Fixtures = []struct {
	name  string
	build func(testing.TB) h2Fixture
}{
	{"get", h2FixtureGET},
	{"interleaved", h2FixtureInterleaved},
	{"continuation", h2FixtureContinuation},
	{"table-size", h2FixtureTableSize},
	{"reset", h2FixtureReset},
	{"websocket", h2FixtureWebSocket},
	{"trailers", h2FixtureTrailers},
	{"unknown", h2FixtureUnknown},
	{"upgrade", h2FixtureUpgrade},
}

// TestH2Fixtures decodes each fixture and compares its events with its
// golden file, then feeds it one byte at a time and at every split.
func TestH2Fixtures(t *testing.T) {
	for _, tt := range h2Fixtures {
		t.Run(tt.name, func(t *testing.T) {
			got := checkH2Golden(t, tt.name, tt.build(t))
			if strings.Contains(got, "error ") {
				t.Errorf("a well-formed connection reported an error:\n%s", got)
			}
		})
	}
}
