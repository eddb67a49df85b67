package decode

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// wsCompressor compresses messages as a permessage-deflate sender does
// (RFC 7692 section 7.2.1): one flate.Writer, a sync flush after each
// message, the 0x00 0x00 0xff 0xff tail stripped. With takeover the writer
// keeps its window across messages, as browsers do by default.
type wsCompressor struct {
	t        testing.TB
	takeover bool
	buf      bytes.Buffer
	fw       *flate.Writer
}

func newWSCompressor(t testing.TB, takeover bool) *wsCompressor {
	c := &wsCompressor{t: t, takeover: takeover}
	fw, err := flate.NewWriter(&c.buf, flate.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	c.fw = fw
	return c
}

func (c *wsCompressor) compress(p []byte) []byte {
	c.t.Helper()
	if !c.takeover {
		c.fw.Reset(&c.buf)
	}
	c.buf.Reset()
	if _, err := c.fw.Write(p); err != nil {
		c.t.Fatal(err)
	}
	if err := c.fw.Flush(); err != nil {
		c.t.Fatal(err)
	}
	b, ok := bytes.CutSuffix(c.buf.Bytes(), flateTail[:])
	if !ok {
		c.t.Fatalf(
			"flush ended with %x",
			c.buf.Bytes())
	}
	return bytes.Clone(b)
}

// wsCompressedFrames returns a compressed message as frames of at most
// size bytes: RSV1 on the first only (RFC 7692 section 6.1).
func wsCompressedFrames(masked bool, op ws.OpCode, z []byte, size int) []byte {
	var out [][]byte
	for first := true; first || len(z) > 0; first = false {
		n := min(len(z), size)
		rsv, fop := byte(0), ws.OpContinuation
		if first {
			rsv, fop = 4, op
		}
		out = append(out, wsFrameBytes(fop, n == len(z), rsv, masked, z[:n]))
		z = z[n:]
	}
	return cat(out...)
}

func TestWSExtensions(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		from    Side
		want    wsExtensions
		wantErr bool
	}{
		{
			name:  "none",
			value: "",
			from:  Client,
			want:  wsExtensions{},
		},
		{
			name:  "defaults",
			value: "permessage-deflate",
			from:  Server,
			want:  wsExtensions{rsv: 4, pmd: true, deflate: true, takeover: true, bits: 15},
		},
		{
			name:  "client parameters govern the client",
			value: "permessage-deflate; client_no_context_takeover; client_max_window_bits=10; server_max_window_bits=12",
			from:  Client,
			want:  wsExtensions{rsv: 4, pmd: true, deflate: true, takeover: false, bits: 10},
		},
		{
			name:  "server parameters govern the server",
			value: "permessage-deflate; client_no_context_takeover; client_max_window_bits=10; server_max_window_bits=12",
			from:  Server,
			want:  wsExtensions{rsv: 4, pmd: true, deflate: true, takeover: true, bits: 12},
		},
		{
			name:  "server_no_context_takeover",
			value: `permessage-deflate;server_no_context_takeover`,
			from:  Server,
			want:  wsExtensions{rsv: 4, pmd: true, deflate: true, takeover: false, bits: 15},
		},
		{
			name:  "8 bits read as 9, as zlib does",
			value: "permessage-deflate; server_max_window_bits=8",
			from:  Server,
			want:  wsExtensions{rsv: 4, pmd: true, deflate: true, takeover: true, bits: 9},
		},
		{
			name:    "bad window bits",
			value:   "permessage-deflate; server_max_window_bits=7",
			from:    Server,
			want:    wsExtensions{rsv: 4, pmd: true},
			wantErr: true,
		},
		{
			name:    "unknown parameter",
			value:   "permessage-deflate; foo=1",
			from:    Client,
			want:    wsExtensions{rsv: 4, pmd: true},
			wantErr: true,
		},
		{
			name:    "unknown extension",
			value:   "x-webkit-deflate-frame",
			from:    Client,
			want:    wsExtensions{rsv: 7},
			wantErr: true,
		},
		{
			name:    "malformed",
			value:   "permessage-deflate; ;;=",
			from:    Client,
			want:    wsExtensions{rsv: 7},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWSExtensions(tt.from, tt.value)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf(
					"parseWSExtensions(%s, %q) = %+v, %v; want %+v, error %t",
					tt.from, tt.value, got, err, tt.want, tt.wantErr)
			}
			if err != nil && !errors.Is(err, ErrExtension) {
				t.Errorf(
					"error %v is not ErrExtension",
					err)
			}
		})
	}
}

// TestWSContextTakeover proves that messages compressed with context
// takeover need the previous messages' window: wsflate.Reader, which
// inflates each message as a stream of its own, fails on the second of two
// similar messages, and wsStream inflates both.
func TestWSContextTakeover(t *testing.T) {
	msgs := [][]byte{
		[]byte(`{"type":"price","symbol":"ACME","bid":101.25,"ask":101.5}`),
		[]byte(`{"type":"price","symbol":"ACME","bid":101.30,"ask":101.5}`),
	}
	c := newWSCompressor(t, true)
	z := [][]byte{c.compress(msgs[0]), c.compress(msgs[1])}
	if len(z[1]) >= len(z[0]) {
		t.Fatalf(
			"second message %d bytes, first %d: no back-reference to prove anything",
			len(z[1]), len(z[0]))
	}

	// Each message as its own stream: the second fails.
	r := wsflate.NewReader(nil, func(r io.Reader) wsflate.Decompressor { return flate.NewReader(r) })
	r.Reset(bytes.NewReader(z[0]))
	if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, msgs[0]) {
		t.Fatalf(
			"wsflate.Reader first message: %q, %v",
			got, err)
	}
	r.Reset(bytes.NewReader(z[1]))
	if got, err := io.ReadAll(r); err == nil && bytes.Equal(got, msgs[1]) {
		t.Fatalf(
			"wsflate.Reader inflated the second message alone: the test proves nothing")
	}

	in := cat(wsCompressedFrames(true, ws.OpText, z[0], 1000), wsCompressedFrames(true, ws.OpText, z[1], 1000))
	for name, chunks := range wsSplits(in) {
		rec := &wsRecorder{t: t, max: DefaultMaxMessage}
		w, err := newWSStream(Client, Config{}, "permessage-deflate")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range chunks {
			w.feed(c, rec)
		}
		w.end(rec)
		if len(rec.payloads) != 2 || !bytes.Equal(rec.payloads[0], msgs[0]) || !bytes.Equal(rec.payloads[1], msgs[1]) {
			t.Fatalf(
				"%s: got\n\t%s",
				name, strings.Join(rec.got, "\n\t"))
		}
	}
}

// wsJSONMessages returns n JSON-ish messages like those of a trading or
// chat feed: similar to each other, so context takeover pays.
func wsJSONMessages(n int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	users := []string{"alice", "bob", "carol", "dave", "eve"}
	msgs := make([][]byte, n)
	for i := range msgs {
		var b strings.Builder
		fmt.Fprintf(&b, `{"id":%d,"type":"message","user":%q,"room":"general","ts":%d,"text":"`, i, users[rng.IntN(len(users))], 1700000000000+rng.IntN(1e6))
		for range rng.IntN(40) {
			b.WriteString([]string{"hello ", "world ", "the quick ", "brown fox ", "jumps ", "\u00e9t\u00e9 ", "\U0001F600 "}[rng.IntN(7)])
		}
		fmt.Fprintf(&b, `","meta":{"edited":%t,"reactions":[%d,%d]}}`, rng.IntN(2) == 0, rng.IntN(9), rng.IntN(9))
		msgs[i] = []byte(b.String())
	}
	return msgs
}

// TestWSRealCompressor decodes messages compressed the way browsers do:
// context takeover, messages split into frames, client frames masked; and
// the way wsflate.Writer does without takeover.
func TestWSRealCompressor(t *testing.T) {
	msgs := wsJSONMessages(200, 1)
	tests := []struct {
		name     string
		from     Side
		ext      string
		takeover bool
	}{
		{
			name:     "client, context takeover",
			from:     Client,
			ext:      "permessage-deflate; client_max_window_bits=15",
			takeover: true,
		},
		{
			name:     "server, context takeover",
			from:     Server,
			ext:      "permessage-deflate",
			takeover: true,
		},
		{
			name: "server, no context takeover",
			from: Server,
			ext:  "permessage-deflate; server_no_context_takeover",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newWSCompressor(t, tt.takeover)
			var in [][]byte
			for i, m := range msgs {
				z := c.compress(m)
				if !tt.takeover {
					// wsflate.Writer resets its compressor per message.
					var b bytes.Buffer
					fw := wsflate.NewWriter(&b, func(w io.Writer) wsflate.Compressor {
						fw, _ := flate.NewWriter(w, flate.DefaultCompression)
						return fw
					})
					if _, err := fw.Write(m); err != nil {
						t.Fatal(err)
					}
					if err := fw.Flush(); err != nil {
						t.Fatal(err)
					}
					z = b.Bytes()
				}
				in = append(in, wsCompressedFrames(tt.from == Client, ws.OpText, z, 1+i%50))
				if i%7 == 0 {
					in = append(in, wsFrameBytes(ws.OpPing, true, 0, tt.from == Client, nil))
				}
			}
			stream := cat(in...)
			rec := &wsRecorder{t: t, max: DefaultMaxMessage}
			w, err := newWSStream(tt.from, Config{}, tt.ext)
			if err != nil {
				t.Fatal(err)
			}
			for len(stream) > 0 {
				n := min(len(stream), 97)
				w.feed(stream[:n], rec)
				stream = stream[n:]
			}
			w.end(rec)
			var got [][]byte
			for i, p := range rec.payloads {
				if rec.ops[i] == 1 { // leave out the pings
					got = append(got, p)
				}
			}
			for _, line := range rec.got {
				if strings.Contains(line, "error") || strings.Contains(line, "violation") {
					t.Fatalf(
						"unexpected event %s",
						line)
				}
			}
			if len(got) != len(msgs) {
				t.Fatalf(
					"%d messages, want %d",
					len(got), len(msgs))
			}
			for i := range msgs {
				if !bytes.Equal(got[i], msgs[i]) {
					t.Fatalf(
						"message %d: got %q, want %q",
						i, got[i], msgs[i])
				}
			}
		})
	}
}

// TestWSMaxWindowBits checks that a direction keeps no more than
// 2^max_window_bits bytes of window.
func TestWSMaxWindowBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	c := newWSCompressor(t, true)
	w, err := newWSStream(Server, Config{}, "permessage-deflate; server_max_window_bits=10")
	if err != nil {
		t.Fatal(err)
	}
	if w.infl.window != 1024 {
		t.Fatalf(
			"window %d, want 1024",
			w.infl.window)
	}
	rec := &wsRecorder{t: t, max: DefaultMaxMessage}
	for i := range 50 {
		// Random bytes twice: back-references stay inside the message.
		half := make([]byte, 1+rng.IntN(400))
		for j := range half {
			half[j] = byte(rng.Uint32())
		}
		m := cat(half, half)
		w.feed(wsCompressedFrames(false, ws.OpBinary, c.compress(m), 300), rec)
		if len(rec.payloads) != i+1 || !bytes.Equal(rec.payloads[i], m) {
			t.Fatalf(
				"message %d: got\n\t%s",
				i, strings.Join(rec.got, "\n\t"))
		}
	}
	wsCheckRetained(t, w)
}

func TestWSDeflate(t *testing.T) {
	zHello := []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
	zHelloAgain := []byte{0xf2, 0x00, 0x11, 0x00, 0x00}
	zA30 := newWSCompressor(t, false).compress([]byte(strings.Repeat("a", 30)))
	zBad := newWSCompressor(t, false).compress([]byte("ok \xff"))
	zBomb := newWSCompressor(t, false).compress(make([]byte, 1<<20))
	tests := []struct {
		name string
		from Side
		ext  string
		cfg  Config
		in   []byte
		want []string
	}{
		{
			name: "inflated output truncated at MaxMessage, exact Len",
			from: Server,
			ext:  "permessage-deflate",
			cfg:  Config{MaxMessage: 8},
			in:   wsCompressedFrames(false, ws.OpText, zA30, 100),
			want: []string{
				fmt.Sprintf(`server frame text fin=true rsv=4 masked=false len=%d`, len(zA30)),
				fmt.Sprintf(`server message text frames=1 len=30 wire=%d compressed truncated "aaaaaaaa"`, len(zA30)),
			},
		},
		{
			name: "compressed message over MaxMessage loses the context",
			from: Server,
			ext:  "permessage-deflate",
			cfg:  Config{MaxMessage: 6},
			in: cat(
				wsCompressedFrames(false, ws.OpText, zHello, 4),
				wsCompressedFrames(false, ws.OpText, zHelloAgain, 100),
				wsCompressedFrames(false, ws.OpText, zHelloAgain, 100),
				sf(ws.OpText, true, 0, "plain"),
			),
			want: []string{
				`server frame text fin=false rsv=4 masked=false len=4`,
				`server frame continuation fin=true rsv=0 masked=false len=3`,
				`server error: frame 2: permessage-deflate: compressed message exceeds MaxMessage: 7 > 6 bytes`,
				`server message text frames=2 len=7 wire=7 compressed truncated "\xf2H\xcd\xc9\xc9\a"`,
				`server frame text fin=true rsv=4 masked=false len=5`,
				`server error: permessage-deflate: compression context lost, later messages not inflated`,
				`server message text frames=1 len=5 wire=5 compressed "\xf2\x00\x11\x00\x00"`,
				`server frame text fin=true rsv=4 masked=false len=5`,
				`server message text frames=1 len=5 wire=5 compressed "\xf2\x00\x11\x00\x00"`,
				`server frame text fin=true rsv=0 masked=false len=5`,
				`server message text frames=1 len=5 wire=5 "plain"`,
			},
		},
		{
			name: "compressed message over MaxMessage without takeover",
			from: Client,
			ext:  "permessage-deflate; client_no_context_takeover",
			cfg:  Config{MaxMessage: 6},
			in: cat(
				wsCompressedFrames(true, ws.OpBinary, zHello, 100),
				wsCompressedFrames(true, ws.OpBinary, zA30, 100),
			),
			want: []string{
				`client frame binary fin=true rsv=4 masked=true len=7`,
				`client error: frame 1: permessage-deflate: compressed message exceeds MaxMessage: 7 > 6 bytes`,
				`client message binary frames=1 len=7 wire=7 compressed truncated "\xf2H\xcd\xc9\xc9\a"`,
				fmt.Sprintf(`client frame binary fin=true rsv=4 masked=true len=%d`, len(zA30)),
				fmt.Sprintf(`client message binary frames=1 len=30 wire=%d compressed truncated "aaaaaa"`, len(zA30)),
			},
		},
		{
			name: "inflate error shows the raw bytes",
			from: Server,
			ext:  "permessage-deflate",
			in: cat(
				wsCompressedFrames(false, ws.OpBinary, []byte{0xff, 0xff, 0xff}, 100),
				wsCompressedFrames(false, ws.OpBinary, zHello, 100),
			),
			want: []string{
				`server frame binary fin=true rsv=4 masked=false len=3`,
				`server error: frame 1: permessage-deflate: inflate: flate: corrupt input before offset 1`,
				`server message binary frames=1 len=3 wire=3 compressed "\xff\xff\xff"`,
				`server frame binary fin=true rsv=4 masked=false len=7`,
				`server error: permessage-deflate: compression context lost, later messages not inflated`,
				`server message binary frames=1 len=7 wire=7 compressed "\xf2H\xcd\xc9\xc9\a\x00"`,
			},
		},
		{
			name: "invalid UTF-8 in inflated text",
			from: Server,
			ext:  "permessage-deflate",
			in:   wsCompressedFrames(false, ws.OpText, zBad, 2),
			want: []string{
				`server frame text fin=false rsv=4 masked=false len=2`,
				`server frame continuation fin=false rsv=0 masked=false len=2`,
				`server frame continuation fin=true rsv=0 masked=false len=2`,
				`server violation frame 3: invalid UTF-8 in text message`,
				`server message text frames=3 len=4 wire=6 compressed "ok \xff"`,
			},
		},
		{
			name: "decompression bomb keeps MaxMessage",
			from: Server,
			ext:  "permessage-deflate",
			cfg:  Config{MaxMessage: 2 << 10},
			in:   wsCompressedFrames(false, ws.OpBinary, zBomb, 4<<10),
			want: []string{
				fmt.Sprintf(`server frame binary fin=true rsv=4 masked=false len=%d`, len(zBomb)),
				fmt.Sprintf(`server message binary frames=1 len=1048576 wire=%d compressed truncated "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"...`, len(zBomb)),
			},
		},
		{
			name: "MaxMessage < 0: not inflated, said once",
			from: Server,
			ext:  "permessage-deflate",
			cfg:  Config{MaxMessage: -1},
			in:   cat(wsCompressedFrames(false, ws.OpText, zHello, 100), wsCompressedFrames(false, ws.OpText, zHello, 100)),
			want: []string{
				`server frame text fin=true rsv=4 masked=false len=7`,
				`server error: permessage-deflate: not inflating, Config.MaxMessage < 0 keeps no payload`,
				`server message text frames=1 len=7 wire=7 compressed truncated ""`,
				`server frame text fin=true rsv=4 masked=false len=7`,
				`server message text frames=1 len=7 wire=7 compressed truncated ""`,
			},
		},
		{
			name: "bad parameters: RSV1 allowed, nothing inflated",
			from: Server,
			ext:  "permessage-deflate; server_max_window_bits=99",
			in:   wsCompressedFrames(false, ws.OpText, zHello, 100),
			want: []string{
				`newWSStream: websocket extension: wsflate: invalid extension parameter "server_max_window_bits": "99": messages not inflated`,
				`server frame text fin=true rsv=4 masked=false len=7`,
				`server message text frames=1 len=7 wire=7 compressed "\xf2H\xcd\xc9\xc9\a\x00"`,
			},
		},
		{
			name: "end mid compressed message",
			from: Server,
			ext:  "permessage-deflate",
			in:   wsCompressedFrames(false, ws.OpText, zHello, 4)[:6],
			want: []string{
				`server frame text fin=false rsv=4 masked=false len=4`,
				`server error: stream ended mid-message: text message of 1 frames without a final one`,
				`server message text frames=1 len=4 wire=4 compressed "\xf2H\xcd\xc9"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wsCheckSplits(t, tt.from, tt.cfg, tt.ext, tt.in, tt.want)
		})
	}
}

// fuzzCompressor is reused by the executions of FuzzInflate, which a fuzz
// worker runs one at a time: a flate.Writer is costly to allocate.
var fuzzCompressor *wsCompressor

// FuzzInflate feeds arbitrary compressed payloads in RSV1 frames under
// permessage-deflate with context takeover, after a message that must
// inflate right, and checks the bounds.
func FuzzInflate(f *testing.F) {
	f.Add([]byte("hello hello hello"), []byte{0xf2, 0x00, 0x11, 0x00, 0x00}, uint16(3), false)
	f.Add([]byte(`{"a":1}`), []byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f}, uint16(100), true)
	f.Add([]byte{}, []byte{0xff, 0xff, 0xff}, uint16(1), false)
	f.Add(bytes.Repeat([]byte("ab"), 100), []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}, uint16(7), true)
	f.Add([]byte("x"), []byte{0xed, 0xc1, 0x01, 0x0d, 0x00, 0x00, 0x00, 0xc2, 0xa0, 0xf7, 0x4f, 0x6d, 0x0f, 0x07, 0x14}, uint16(2), false)
	f.Fuzz(func(t *testing.T, plain, z []byte, size uint16, text bool) {
		const max = 256
		cfg := Config{MaxMessage: max}
		op := ws.OpBinary
		if text {
			op = ws.OpText
		}
		frameSize := 1 + int(size%64)
		if fuzzCompressor == nil {
			fuzzCompressor = newWSCompressor(t, true)
		}
		c := fuzzCompressor
		c.t = t
		c.fw.Reset(&c.buf) // a fresh context, without a fresh allocation
		zPlain := c.compress(plain)
		in := cat(
			wsCompressedFrames(false, ws.OpBinary, zPlain, frameSize),
			wsCompressedFrames(false, op, z, frameSize),
			wsCompressedFrames(false, op, z, frameSize),
		)
		rec := &wsRecorder{t: t, max: max}
		w, err := newWSStream(Server, cfg, "permessage-deflate")
		if err != nil {
			t.Fatal(err)
		}
		for len(in) > 0 {
			n := min(len(in), frameSize+3)
			w.feed(in[:n], rec)
			in = in[n:]
		}
		w.end(rec)
		wsCheckRetained(t, w)
		if len(rec.payloads) != 3 {
			t.Fatalf(
				"%d messages, want 3",
				len(rec.payloads))
		}
		if len(zPlain) > max {
			return // not inflated, by design
		}
		want := plain[:min(len(plain), max)]
		if !bytes.Equal(rec.payloads[0], want) || rec.lens[0] != int64(len(plain)) {
			t.Fatalf(
				"first message %d bytes %q, want %d bytes %q\n\t%s",
				rec.lens[0], rec.payloads[0], len(plain), want, strings.Join(rec.got, "\n\t"))
		}
	})
}

// raceEnabled is set by race_test.go under the race detector, whose
// sync.Pool drops some of what it is given.
var raceEnabled bool

// zeroBomb returns a compressed message that inflates to mib MiB of zero
// bytes: one compressed MiB of zeros repeated, which stays valid because
// every copy refers back only to zeros. Each piece ends with a sync flush.
func zeroBomb(t testing.TB, mib int) []byte {
	t.Helper()
	var b bytes.Buffer
	fw, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	var pieces [2][]byte
	for i := range pieces {
		b.Reset()
		if _, err := fw.Write(zeros); err != nil {
			t.Fatal(err)
		}
		if err := fw.Flush(); err != nil {
			t.Fatal(err)
		}
		pieces[i] = bytes.Clone(b.Bytes())
	}
	z := append(pieces[0], bytes.Repeat(pieces[1], mib-1)...)
	z, ok := bytes.CutSuffix(z, flateTail[:])
	if !ok {
		t.Fatalf(
			"flush ended with %x",
			z[len(z)-4:])
	}
	return z
}

// TestWSInflateLimit checks that a message inflating past the limit stops
// inflating there, whatever it would inflate to, and that the direction
// then goes on as documented: under context takeover later compressed
// messages are not inflated, without it they are.
func TestWSInflateLimit(t *testing.T) {
	const max = 256 << 10
	limit := inflateLimit(max)
	if limit != 64<<20 {
		t.Fatalf(
			"inflateLimit(%d) = %d, want 64 MiB",
			max, limit)
	}
	if got := inflateLimit(DefaultMaxMessage * 2); got != 4*2*DefaultMaxMessage {
		t.Fatalf(
			"inflateLimit(%d) = %d, want 4 times as much",
			DefaultMaxMessage*2, got)
	}
	bomb := zeroBomb(t, 128) // 128 MiB from about 130 KiB: twice the limit
	if len(bomb) > max {
		t.Fatalf(
			"bomb of %d bytes > MaxMessage %d: it would not be inflated at all",
			len(bomb), max)
	}
	zHello := []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
	in := cat(
		wsCompressedFrames(false, ws.OpText, bomb, 64<<10),
		wsCompressedFrames(false, ws.OpText, zHello, 100),
		sf(ws.OpText, true, 0, "plain"),
	)
	limitErr := fmt.Sprintf(`server error: frame %d: permessage-deflate: message inflates past %d bytes: stopped inflating; len is a lower bound`, (len(bomb)+64<<10-1)/(64<<10), limit)
	tests := []struct {
		name string
		ext  string
		size int      // bytes fed at a time
		next []string // the events after the first message's
	}{
		{
			name: "context takeover: context lost",
			ext:  "permessage-deflate",
			size: 4093,
			next: []string{
				`server frame text fin=true rsv=4 masked=false len=7`,
				`server error: permessage-deflate: compression context lost, later messages not inflated`,
				`server message text frames=1 len=7 wire=7 compressed "\xf2H\xcd\xc9\xc9\a\x00"`,
				`server frame text fin=true rsv=0 masked=false len=5`,
				`server message text frames=1 len=5 wire=5 "plain"`,
			},
		},
		{
			name: "no context takeover: next message inflated",
			ext:  "permessage-deflate; server_no_context_takeover",
			size: len(in),
			next: []string{
				`server frame text fin=true rsv=4 masked=false len=7`,
				`server message text frames=1 len=5 wire=7 compressed "Hello"`,
				`server frame text fin=true rsv=0 masked=false len=5`,
				`server message text frames=1 len=5 wire=5 "plain"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &wsRecorder{t: t, max: max}
			w, err := newWSStream(Server, Config{MaxMessage: max}, tt.ext)
			if err != nil {
				t.Fatal(err)
			}
			for rest := in; len(rest) > 0; {
				n := min(len(rest), tt.size)
				w.feed(rest[:n], rec)
				rest = rest[n:]
			}
			w.end(rec)
			wsCheckRetained(t, w)
			// The inflated bytes processed: past the limit by less
			// than one read, far short of the 128 MiB.
			if len(rec.lens) != 3 || rec.lens[0] <= limit || rec.lens[0] > limit+inflateChunk {
				t.Fatalf(
					"feeding %d bytes at a time: lens %v, want the first in (%d, %d]\n\t%s",
					tt.size, rec.lens, limit, limit+inflateChunk, strings.Join(rec.got, "\n\t"))
			}
			var frames int
			for frames < len(rec.got) && strings.HasPrefix(rec.got[frames], "server frame") {
				frames++
			}
			want := append([]string{
				limitErr,
				fmt.Sprintf(`server message text frames=%d len=%d wire=%d compressed truncated "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"...`, frames, rec.lens[0], len(bomb)),
			}, tt.next...)
			if got := rec.got[frames:]; !slicesEqual(got, want) {
				t.Fatalf(
					"feeding %d bytes at a time:\ngot:\n\t%s\nwant:\n\t%s",
					tt.size, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
			}
		})
	}
}

// wsRetained sums the capacities of the buffers w keeps between messages.
func wsRetained(w *wsStream) int {
	n := cap(w.msg.buf) + cap(w.ctl) + cap(w.out)
	if w.infl != nil {
		n += w.infl.retained()
	}
	return n
}

// wsCount is a Handler that counts messages and errors.
type wsCount struct{ msgs, errs int }

func (*wsCount) Request(*Request)         {}
func (*wsCount) Response(*Response)       {}
func (*wsCount) Upgrade(*Upgrade)         {}
func (*wsCount) Frame(Side, *Frame)       {}
func (c *wsCount) Message(Side, *Message) { c.msgs++ }
func (c *wsCount) Error(Side, error)      { c.errs++ }

// TestWSDeflateIdle checks what a direction under permessage-deflate keeps
// once a message is decoded: the part of the window its output filled under
// context takeover, nothing for inflating without it. The decompressor and
// its buffers go back to a pool.
func TestWSDeflateIdle(t *testing.T) {
	msg := wsJSONMessages(1, 4)[0]
	z := newWSCompressor(t, false).compress(msg)
	in := wsCompressedFrames(false, ws.OpText, z, 4096)
	tests := []struct {
		name       string
		ext        string
		infl       int // bytes the inflater keeps
		perStreams int // heap bytes per idle stream, at most
	}{
		{"context takeover", "permessage-deflate", 512, 6 << 10},
		{"no context takeover", "permessage-deflate; server_no_context_takeover", 0, 6 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 1000
			streams := make([]*wsStream, n)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for i := range streams {
				w, err := newWSStream(Server, Config{}, tt.ext)
				if err != nil {
					t.Fatal(err)
				}
				var h wsCount
				w.feed(in, &h)
				if h.msgs != 1 || h.errs != 0 {
					t.Fatalf(
						"%d messages, %d errors; want 1, 0",
						h.msgs, h.errs)
				}
				streams[i] = w
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			perStream := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
			runtime.KeepAlive(streams)
			w := streams[0]
			t.Logf("idle stream: %d bytes of buffers, inflater %d; heap %d bytes per stream", wsRetained(w), w.infl.retained(), perStream)
			if got := w.infl.retained(); got != tt.infl {
				t.Errorf(
					"inflater keeps %d bytes, want %d",
					got, tt.infl)
			}
			if got, want := wsRetained(w), 2*512+tt.infl; got > want {
				t.Errorf(
					"stream keeps %d bytes of buffers, want at most %d",
					got, want)
			}
			if perStream > int64(tt.perStreams) {
				t.Errorf(
					"%d heap bytes per idle stream, want at most %d",
					perStream, tt.perStreams)
			}
		})
	}
}

// TestWSInflateAllocs checks that inflating a message under context
// takeover allocates nothing once the window is full.
func TestWSInflateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops values at random")
	}
	msgs := wsJSONMessages(400, 5)
	c := newWSCompressor(t, true)
	frames := make([][]byte, len(msgs))
	for i, m := range msgs {
		frames[i] = wsCompressedFrames(false, ws.OpText, c.compress(m), 4096)
	}
	w, err := newWSStream(Server, Config{}, "permessage-deflate")
	if err != nil {
		t.Fatal(err)
	}
	var h wsCount
	i := 0
	for ; i < 200; i++ {
		w.feed(frames[i], &h)
	}
	if len(w.infl.hist) != w.infl.window {
		t.Fatalf(
			"window %d bytes full after %d messages, want %d",
			len(w.infl.hist), i, w.infl.window)
	}
	allocs := testing.AllocsPerRun(100, func() {
		w.feed(frames[i], &h)
		i++
	})
	if h.msgs != i || h.errs != 0 {
		t.Fatalf(
			"%d messages, %d errors; want %d, 0",
			h.msgs, h.errs, i)
	}
	if allocs != 0 {
		t.Errorf(
			"%v allocations per message, want 0",
			allocs)
	}
}

func BenchmarkInflate(b *testing.B) {
	msgs := wsJSONMessages(200, 3)
	c := newWSCompressor(b, true)
	var in []byte
	var size int64
	for _, m := range msgs {
		in = append(in, wsCompressedFrames(false, ws.OpText, c.compress(m), 4096)...)
		size += int64(len(m))
	}
	var h Handler = wsNop{}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		w, _ := newWSStream(Server, Config{}, "permessage-deflate")
		w.feed(in, h)
	}
	b.ReportMetric(float64(len(in))/float64(size), "wire/inflated")
}
