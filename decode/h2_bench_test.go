package decode

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"golang.org/x/net/http2"
)

// h2Round is a piece of traffic that can be fed again and again: its
// frames' stream identifiers move on by step each time.
type h2Round struct {
	client, server []byte
	ids            [2][]int // offsets of the stream identifiers to move, per side
	step           uint32
	frames         int
}

// next moves the round's stream identifiers on to the next round.
func (r *h2Round) next() {
	for side, buf := range [2][]byte{r.client, r.server} {
		for _, off := range r.ids[side] {
			id := binary.BigEndian.Uint32(buf[off:])
			binary.BigEndian.PutUint32(buf[off:], id+r.step)
		}
	}
}

// h2Offsets lists where the non-zero stream identifiers of the frames in
// b are, and counts the frames.
func h2Offsets(b []byte) (ids []int, frames int) {
	for off := 0; off+9 <= len(b); {
		n := int(b[off])<<16 | int(b[off+1])<<8 | int(b[off+2])
		if binary.BigEndian.Uint32(b[off+5:]) != 0 {
			ids = append(ids, off+5)
		}
		frames++
		off += 9 + n
	}
	return ids, frames
}

// h2SmallRound builds the traffic of a page's worth of small resources:
// n GETs with a browser's fields at once, each answered by a response
// header section and a body of size bytes, and the client's window
// updates. It returns the opening (preface, settings) and a warm-up round,
// then a round whose HPACK blocks refer to the tables the warm-up filled:
// fed again with new stream identifiers, it decodes the same.
func h2SmallRound(tb testing.TB, n, size int) (open []h2Seg, warm, round h2Round) {
	s := newH2Script(tb).start()
	open = s.fx.segs
	body := strings.Repeat("x", size)
	build := func(first uint32) h2Round {
		s.fx.segs = nil
		var r h2Round
		for i := range n {
			id := first + uint32(2*i)
			s.headers(Client, id, true, ":method", "GET", ":scheme", "https", ":authority", "www.example.com", ":path", fmt.Sprintf("/static/img/%d.png", i),
				"user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36",
				"accept", "image/avif,image/webp,image/apng,image/*,*/*;q=0.8", "accept-encoding", "gzip, deflate, br, zstd",
				"accept-language", "en-US,en;q=0.9", "referer", "https://www.example.com/", "sec-fetch-dest", "image")
		}
		for i := range n {
			id := first + uint32(2*i)
			s.headers(Server, id, false, ":status", "200", "content-type", "image/png", "content-length", fmt.Sprint(size),
				"cache-control", "public, max-age=31536000", "server", "bench", "date", "Sun, 23 Nov 2025 19:00:00 GMT")
			s.data(Server, id, true, body)
			if i%4 == 3 {
				s.add(Client, func(fr *http2.Framer) error { return fr.WriteWindowUpdate(0, uint32(4*size)) })
			}
		}
		for _, sg := range s.fx.segs {
			if sg.side == Client {
				r.client = append(r.client, sg.b...)
			} else {
				r.server = append(r.server, sg.b...)
			}
		}
		var fc, fs int
		r.ids[Client], fc = h2Offsets(r.client)
		r.ids[Server], fs = h2Offsets(r.server)
		r.frames, r.step = fc+fs, uint32(2*n)
		return r
	}
	warm = build(1)
	round = build(1 + uint32(2*n))
	again := build(1 + uint32(4*n))
	probe := h2Round{client: bytes.Clone(round.client), server: bytes.Clone(round.server), ids: round.ids, step: round.step}
	probe.next()
	if !bytes.Equal(probe.client, again.client) || !bytes.Equal(probe.server, again.server) {
		tb.Fatal("the round's header blocks change from round to round: it cannot be fed again")
	}
	return open, warm, round
}

// h2Bench feeds round b.N times and reports frames per second and
// allocations per frame.
func h2Bench(b *testing.B, c *h2Conn, round *h2Round, feed func()) {
	b.SetBytes(int64(len(round.client) + len(round.server)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		feed()
	}
	runtime.ReadMemStats(&after)
	frames := float64(round.frames) * float64(b.N)
	b.ReportMetric(frames/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/frames, "allocs/frame")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/frames, "ns/frame")
}

// BenchmarkH2 decodes a realistic mix on one connection: many small
// requests and responses at once (20 GETs with a browser's fields, each
// answered by 500 bytes), and a bulk download (16 KiB DATA frames read
// 64 KiB at a time, with window updates). Compare with BenchmarkFrames,
// the WebSocket decoder's, in the same run:
// go test -bench 'H2|Frames' -benchmem ./decode/
func BenchmarkH2(b *testing.B) {
	b.Run("small", func(b *testing.B) {
		open, warm, round := h2SmallRound(b, 20, 500)
		c := newH2Conn(Config{}, h2Nop{}, h2Start{})
		for _, sg := range open {
			c.feed(sg.side, sg.b)
		}
		c.feed(Client, warm.client)
		c.feed(Server, warm.server)
		h2Bench(b, c, &round, func() {
			c.feed(Client, round.client)
			c.feed(Server, round.server)
			round.next()
		})
		if len(c.streams) != 0 || c.seq != 20*(b.N+1) {
			b.Fatalf("%d streams open, %d exchanges after %d rounds", len(c.streams), c.seq, b.N)
		}
	})
	b.Run("bulk", func(b *testing.B) {
		s := newH2Script(b).start()
		h2get(s, 1, "/download")
		s.headers(Server, 1, false, ":status", "200", "content-type", "application/octet-stream")
		c := newH2Conn(Config{}, h2Nop{}, h2Start{})
		for _, sg := range s.fx.segs {
			c.feed(sg.side, sg.b)
		}
		s.fx.segs = nil
		chunk := strings.Repeat("z", 16384)
		for range 4 {
			s.data(Server, 1, false, chunk)
		}
		s.add(Client, func(fr *http2.Framer) error { return fr.WriteWindowUpdate(1, 65536) })
		s.add(Client, func(fr *http2.Framer) error { return fr.WriteWindowUpdate(0, 65536) })
		round := h2Round{frames: 6}
		for _, sg := range s.fx.segs {
			if sg.side == Client {
				round.client = append(round.client, sg.b...)
			} else {
				round.server = append(round.server, sg.b...)
			}
		}
		h2Bench(b, c, &round, func() {
			c.feed(Server, round.server)
			c.feed(Client, round.client)
		})
		if s := c.streams[1]; s == nil || s.resp.bodyLen != int64(b.N)*65536 {
			b.Fatalf("the download's body was not counted")
		}
	})
	b.Run("websocket", func(b *testing.B) {
		// 64-byte WebSocket messages, one per DATA frame, as
		// BenchmarkFrames/64B decodes them without HTTP/2.
		s := newH2Script(b).start()
		s.headers(Client, 1, false, ":method", "CONNECT", ":protocol", "websocket", ":scheme", "https", ":path", "/ws", ":authority", "a")
		s.headers(Server, 1, false, ":status", "200")
		c := newH2Conn(Config{}, h2Nop{}, h2Start{})
		for _, sg := range s.fx.segs {
			c.feed(sg.side, sg.b)
		}
		s.fx.segs = nil
		s.data(Client, 1, false, string(h2WSFrame(Client, ws.OpText, true, 0, bytes.Repeat([]byte("a"), 64))))
		round := h2Round{client: s.fx.segs[0].b, frames: 1}
		h2Bench(b, c, &round, func() { c.feed(Client, round.client) })
	})
}

// h2Nop is an H2Handler that does nothing.
type h2Nop struct{}

func (h2Nop) H2Frame(Side, *H2Frame) {}
func (h2Nop) Request(*Request)       {}
func (h2Nop) Response(*Response)     {}
func (h2Nop) Upgrade(*Upgrade)       {}
func (h2Nop) Frame(Side, *Frame)     {}
func (h2Nop) Message(Side, *Message) {}
func (h2Nop) Error(Side, error)      {}
