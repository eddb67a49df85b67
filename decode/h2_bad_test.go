package decode

import (
	"strings"
	"testing"

	"golang.org/x/net/http2"
)

// Bad input: each fixture breaks rules, and what can still be decoded
// after the break must be.

func h2get(s *h2Script, id uint32, path string) *h2Script {
	return s.headers(Client, id, true, ":method", "GET", ":scheme", "https", ":path", path, ":authority", "example.com")
}

func h2BadPreface(tb testing.TB) h2Fixture {
	s := newH2Script(tb)
	s.raw(Client, []byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	s.settings(Server).data(Server, 1, true, "x")
	return s.fx
}

// h2BadFrames has malformed frames of each kind: each is reported as an
// undecoded frame, the first with an error, and the exchange after them
// is decoded.
func h2BadFrames(tb testing.TB) h2Fixture {
	s := newH2Script(tb).start()
	s.add(Client, func(fr *http2.Framer) error { return fr.WriteRawFrame(http2.FramePing, 0, 0, []byte("1234567")) })
	s.add(Client, func(fr *http2.Framer) error { return fr.WriteRawFrame(http2.FrameWindowUpdate, 0, 0, []byte{0, 0, 1}) })
	s.add(Client, func(fr *http2.Framer) error {
		return fr.WriteRawFrame(http2.FrameSettings, 0, 0, []byte{0, 1, 0, 0, 0})
	})
	s.add(Client, func(fr *http2.Framer) error { return fr.WriteRawFrame(http2.FrameData, 0, 0, []byte("x")) })
	s.add(Client, func(fr *http2.Framer) error { return fr.WriteRawFrame(http2.FrameRSTStream, 0, 0, []byte{0, 0, 0, 8}) })
	s.add(Client, func(fr *http2.Framer) error {
		return fr.WriteRawFrame(http2.FrameWindowUpdate, 0, 1, []byte{0, 0, 0, 0})
	})
	s.add(Client, func(fr *http2.Framer) error {
		return fr.WriteRawFrame(http2.FrameHeaders, http2.FlagHeadersPadded, 1, nil)
	})
	h2get(s, 1, "/")
	// Padding as long as the payload: the frame is dropped, its
	// END_STREAM too.
	s.add(Server, func(fr *http2.Framer) error {
		return fr.WriteRawFrame(http2.FrameData, 0x9, 1, []byte{4, 'a', 'b', 'c'})
	})
	s.headers(Server, 1, false, ":status", "200")
	s.add(Server, func(fr *http2.Framer) error { return fr.WriteRawFrame(http2.FrameGoAway, 0, 0, []byte{0, 0, 0}) })
	s.data(Server, 1, true, "ok")
	return s.fx
}

// h2BadFrameSize sends frames longer than the receiver allows: the
// server's DATA past the default 16384 (reported once), then the client
// raises its limit and larger frames are fine.
func h2BadFrameSize(tb testing.TB) h2Fixture {
	s := newH2Script(tb).start()
	h2get(s, 1, "/a")
	s.headers(Server, 1, false, ":status", "200")
	s.data(Server, 1, false, strings.Repeat("a", 16385))
	s.data(Server, 1, true, strings.Repeat("b", 16390))
	s.settings(Client, http2.Setting{ID: http2.SettingMaxFrameSize, Val: 1 << 20})
	h2get(s, 3, "/b")
	s.headers(Server, 3, false, ":status", "200")
	s.data(Server, 3, true, strings.Repeat("c", 16400)) // before the ACK: either size goes
	s.ack(Server)
	return h2Fixture{cfg: Config{MaxBody: 8}, segs: s.fx.segs}
}

// h2BadHPACK sends an index past the table: the client's header blocks
// are not decoded from then on; its streams, the server's responses and
// everything else still are.
func h2BadHPACK(tb testing.TB) h2Fixture {
	s := newH2Script(tb).start()
	h2get(s, 1, "/ok")
	s.add(Client, func(fr *http2.Framer) error {
		return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: []byte{0x82, 0xff, 0x7f}, EndStream: true, EndHeaders: true})
	})
	h2get(s, 5, "/lost")
	s.headers(Server, 1, true, ":status", "200")
	s.headers(Server, 3, true, ":status", "400")
	s.headers(Server, 5, false, ":status", "200")
	s.data(Server, 5, true, "still decoded")
	return s.fx
}

// h2BadContinuation has a CONTINUATION flood that ends, then a header
// block interrupted by another frame, which loses the client's HPACK
// context.
func h2BadContinuation(tb testing.TB) h2Fixture {
	s := newH2Script(tb).start()
	blk := s.block(Client, ":method", "GET", ":scheme", "https", ":path", "/flood", ":authority", "example.com")
	s.add(Client, func(fr *http2.Framer) error {
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:3], EndStream: true}); err != nil {
			return err
		}
		for range h2BlockFrames + 10 {
			if err := fr.WriteContinuation(1, false, nil); err != nil {
				return err
			}
		}
		return fr.WriteContinuation(1, true, blk[3:])
	})
	s.headers(Server, 1, true, ":status", "200")
	blk = s.block(Client, ":method", "GET", ":scheme", "https", ":path", "/cut", ":authority", "example.com")
	s.add(Client, func(fr *http2.Framer) error {
		return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: blk[:4], EndStream: true})
	})
	s.add(Client, func(fr *http2.Framer) error { return fr.WritePing(false, [8]byte{}) })
	s.add(Client, func(fr *http2.Framer) error { return fr.WriteContinuation(3, true, blk[4:]) })
	h2get(s, 5, "/after")
	s.headers(Server, 5, true, ":status", "204")
	return s.fx
}

// h2BadSequence breaks the order of frames and streams.
func h2BadSequence(tb testing.TB) h2Fixture {
	s := newH2Script(tb).preface()
	h2get(s, 1, "/before-settings")
	s.settings(Client).settings(Server).ack(Server).ack(Client)
	s.ack(Server) // nothing to acknowledge
	s.data(Client, 7, false, "idle")
	h2get(s, 5, "/five")
	h2get(s, 3, "/three") // lower than 5: closed
	s.headers(Client, 4, true, ":method", "GET")
	s.data(Client, 5, false, "after end")
	s.headers(Server, 9, true, ":status", "200")
	s.data(Server, 5, false, "before headers")
	s.headers(Server, 5, true, ":status", "200", "content-length", "5")
	s.headers(Server, 1, false, ":status", "200", "content-length", "2")
	s.data(Server, 1, true, "abc")
	s.add(Server, func(fr *http2.Framer) error {
		return fr.WritePushPromise(http2.PushPromiseParam{StreamID: 1, PromiseID: 3, BlockFragment: []byte{0x82}, EndHeaders: true})
	})
	s.settings(Server, http2.Setting{ID: http2.SettingEnablePush, Val: 2})
	return s.fx
}

// h2BadHeaders breaks the field rules of RFC 9113 section 8.
func h2BadHeaders(tb testing.TB) h2Fixture {
	s := newH2Script(tb).start()
	s.headers(Client, 1, false, ":method", "POST", ":path", "/x", "Content-Type", "text/plain", ":authority", "a", "connection", "keep-alive",
		"x-bad", " padded", "te", "gzip", ":bogus", "1", ":method", "PUT", "content-length", "10")
	s.data(Client, 1, false, "abc")
	s.headers(Client, 1, false, "x-trailer", "1")
	s.data(Client, 1, true, "")
	s.headers(Server, 1, false, ":status", "2000", ":path", "/")
	s.headers(Server, 1, false, ":status", "200")
	s.headers(Server, 1, true, ":status", "200")
	s.headers(Client, 3, true, ":method", "CONNECT", ":authority", "a:443", ":path", "/")
	s.headers(Server, 3, false, ":status", "101")
	s.rst(Server, 3, http2.ErrCodeProtocol)
	return s.fx
}

// h2BadEnd ends both sides with streams open and a frame cut short.
func h2BadEnd(tb testing.TB) h2Fixture {
	s := newH2Script(tb).start()
	s.headers(Client, 1, false, ":method", "POST", ":scheme", "https", ":path", "/up", ":authority", "a")
	s.data(Client, 1, false, "part")
	h2get(s, 3, "/waiting")
	h2get(s, 5, "/answered")
	s.headers(Server, 5, false, ":status", "200")
	s.data(Server, 5, false, "half")
	s.headers(Server, 1, false, ":status", "200")
	s.data(Server, 1, true, "early")
	s.raw(Server, []byte{0, 0, 9, 0, 0, 0, 0, 0, 5, 'x'})
	s.end(Server)
	s.raw(Client, []byte{0, 0})
	s.end(Client)
	return s.fx
}

// h2BadUpgrade is an h2c upgrade whose HTTP2-Settings are not base64url.
func h2BadUpgrade(tb testing.TB) h2Fixture {
	s := newH2Script(tb)
	s.fx.start = h2Start{seq: 1, upgrade: true, settings: "!!"}
	s.settings(Server)
	s.preface().settings(Client)
	s.headers(Server, 1, true, ":status", "200")
	return s.fx
}

// h2BadTableSize has a client that allows the server an HPACK table of
// 4 GiB: frametap follows it up to h2TableMax, says so, and the server's
// blocks that need more are not decoded.
func h2BadTableSize(tb testing.TB) h2Fixture {
	s := newH2Script(tb).preface()
	s.settings(Client, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 1<<32 - 1})
	s.settings(Server).ack(Server).ack(Client)
	h2get(s, 1, "/")
	s.enc[Server].SetMaxDynamicTableSizeLimit(h2TableMax)
	s.enc[Server].SetMaxDynamicTableSize(h2TableMax)
	s.headers(Server, 1, true, ":status", "200", "x-table", "1 MiB")
	h2get(s, 3, "/")
	s.enc[Server].SetMaxDynamicTableSizeLimit(h2TableMax + 1)
	s.enc[Server].SetMaxDynamicTableSize(h2TableMax + 1)
	s.headers(Server, 3, true, ":status", "200", "x-table", "1 MiB and a byte")
	return s.fx
}

var h2BadFixtures = []struct {
	name  string
	build func(testing.TB) h2Fixture
}{
	{"bad-preface", h2BadPreface},
	{"bad-frames", h2BadFrames},
	{"bad-frame-size", h2BadFrameSize},
	{"bad-hpack", h2BadHPACK},
	{"bad-continuation", h2BadContinuation},
	{"bad-sequence", h2BadSequence},
	{"bad-headers", h2BadHeaders},
	{"bad-end", h2BadEnd},
	{"bad-upgrade", h2BadUpgrade},
	{"bad-table-size", h2BadTableSize},
}

// TestH2BadInput decodes each bad fixture, compares its events with its
// golden file, and feeds it at every split.
func TestH2BadInput(t *testing.T) {
	for _, tt := range h2BadFixtures {
		t.Run(tt.name, func(t *testing.T) {
			got := checkH2Golden(t, tt.name, tt.build(t))
			if !strings.Contains(got, "error ") {
				t.Errorf("no error reported:\n%s", got)
			}
		})
	}
}
