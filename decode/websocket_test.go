package decode

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// updateWS rewrites the golden files of testdata/ws. Its name leaves
// "-update" to the other decoders of the package.
var updateWS = flag.Bool("update-ws", false, "rewrite testdata/ws/*.golden")

// wsMask is the masking key of the examples in RFC 6455 section 5.7.
var wsMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// wsFrameBytes builds one frame, masked with wsMask when masked is true.
func wsFrameBytes(op ws.OpCode, fin bool, rsv byte, masked bool, payload []byte) []byte {
	p := bytes.Clone(payload)
	if masked {
		ws.Cipher(p, wsMask, 0)
	}
	var b bytes.Buffer
	f := ws.Frame{
		Header:  ws.Header{Fin: fin, Rsv: rsv, OpCode: op, Masked: masked, Mask: wsMask, Length: int64(len(p))},
		Payload: p,
	}
	if err := ws.WriteFrame(&b, f); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// cf builds a client frame (masked), sf a server frame (not masked).
func cf(op ws.OpCode, fin bool, rsv byte, payload string) []byte {
	return wsFrameBytes(op, fin, rsv, true, []byte(payload))
}

func sf(op ws.OpCode, fin bool, rsv byte, payload string) []byte {
	return wsFrameBytes(op, fin, rsv, false, []byte(payload))
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func closeBody(code int, reason string) string {
	return string(ws.NewCloseFrameBody(ws.StatusCode(code), reason))
}

// wsRecorder is a Handler that writes down what a wsStream reports.
type wsRecorder struct {
	t        *testing.T
	max      int
	got      []string
	payloads [][]byte // a copy of each message's payload
	lens     []int64  // each message's Len
	ops      []uint8  // each message's Opcode
}

func (r *wsRecorder) add(format string, args ...any) {
	r.got = append(r.got, fmt.Sprintf(format, args...))
}

func (r *wsRecorder) Request(*Request)   { r.add("request") }
func (r *wsRecorder) Response(*Response) { r.add("response") }
func (r *wsRecorder) Upgrade(*Upgrade)   { r.add("upgrade") }

func (r *wsRecorder) Frame(s Side, f *Frame) {
	r.add("%s frame %s fin=%t rsv=%d masked=%t len=%d", s, OpName(f.Opcode), f.Fin, f.RSV, f.Masked, f.Len)
}

func (r *wsRecorder) Message(s Side, m *Message) {
	if len(m.Payload) > r.max {
		r.t.Errorf(
			"payload of %d bytes kept, want at most %d",
			len(m.Payload), r.max)
	}
	if m.Truncated != (int64(len(m.Payload)) < m.Len) {
		r.t.Errorf(
			"Truncated %t with %d of %d bytes",
			m.Truncated, len(m.Payload), m.Len)
	}
	r.payloads = append(r.payloads, bytes.Clone(m.Payload))
	r.lens = append(r.lens, m.Len)
	r.ops = append(r.ops, m.Opcode)
	var b strings.Builder
	fmt.Fprintf(&b, "%s message %s frames=%d len=%d wire=%d", s, OpName(m.Opcode), m.Frames, m.Len, m.WireLen)
	if m.Compressed {
		b.WriteString(" compressed")
	}
	if m.Truncated {
		b.WriteString(" truncated")
	}
	if m.Opcode == 8 {
		fmt.Fprintf(&b, " code=%d reason=%q", m.CloseCode, m.CloseReason)
	}
	if len(m.Payload) <= 48 {
		fmt.Fprintf(&b, " %q", m.Payload)
	} else {
		fmt.Fprintf(&b, " %q...", m.Payload[:32])
	}
	r.add("%s", b.String())
}

func (r *wsRecorder) Error(s Side, err error) {
	var v *Violation
	if errors.As(err, &v) {
		r.add("%s violation frame %d: %s", s, v.Frame, v.Rule)
		return
	}
	r.add("%s error: %v", s, err)
}

// wsRun feeds chunks to a new stream, ends it, and returns the events.
func wsRun(t *testing.T, from Side, cfg Config, ext string, chunks [][]byte) []string {
	t.Helper()
	r := &wsRecorder{t: t, max: cfg.maxMessage()}
	w, err := newWSStream(from, cfg, ext)
	if err != nil {
		r.add("newWSStream: %v", err)
	}
	for _, c := range chunks {
		w.feed(c, r)
	}
	w.end(r)
	wsCheckRetained(t, w)
	return r.got
}

// wsCheckRetained fails t if w keeps buffers larger than its limits.
func wsCheckRetained(t *testing.T, w *wsStream) {
	t.Helper()
	for name, c := range map[string]int{"msg": cap(w.msg.buf), "ctl": cap(w.ctl), "out": cap(w.out)} {
		limit := w.max
		if name == "ctl" {
			limit = max(w.max, ws.MaxControlFramePayloadSize)
		}
		if c > limit {
			t.Errorf(
				"%s buffer capacity %d > %d",
				name, c, limit)
		}
	}
	if w.infl != nil && w.infl.retained() > w.infl.window {
		t.Errorf(
			"inflater keeps %d bytes, want at most %d",
			w.infl.retained(), w.infl.window)
	}
}

// wsSplits returns the ways a test feeds in: whole, one byte at a time, and
// cut in two at every position (at a sample of positions past 2 KiB).
func wsSplits(in []byte) map[string][][]byte {
	s := map[string][][]byte{"whole": {in}}
	bytewise := make([][]byte, len(in))
	for i := range in {
		bytewise[i] = in[i : i+1]
	}
	s["bytewise"] = bytewise
	for i := 1; i < len(in); i++ {
		if len(in) > 2048 && i > 64 && i < len(in)-64 && i%211 != 0 {
			continue
		}
		s["split "+strconv.Itoa(i)] = [][]byte{in[:i], in[i:]}
	}
	return s
}

// wsCheckSplits checks that every split of in decodes to want.
func wsCheckSplits(t *testing.T, from Side, cfg Config, ext string, in []byte, want []string) {
	t.Helper()
	for name, chunks := range wsSplits(in) {
		got := wsRun(t, from, cfg, ext, chunks)
		if !slicesEqual(got, want) {
			t.Fatalf(
				"%s:\ngot:\n\t%s\nwant:\n\t%s",
				name, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
		}
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestWSFrames(t *testing.T) {
	long16 := strings.Repeat("x", 256)
	long64 := strings.Repeat("y", 65536)
	tests := []struct {
		name string
		from Side
		ext  string
		cfg  Config
		in   []byte
		want []string
	}{
		{
			name: "masked client text",
			from: Client,
			in:   cf(ws.OpText, true, 0, "Hello"),
			want: []string{
				`client frame text fin=true rsv=0 masked=true len=5`,
				`client message text frames=1 len=5 wire=5 "Hello"`,
			},
		},
		{
			name: "unmasked server binary",
			from: Server,
			in:   sf(ws.OpBinary, true, 0, "\x00\x01\xff"),
			want: []string{
				`server frame binary fin=true rsv=0 masked=false len=3`,
				`server message binary frames=1 len=3 wire=3 "\x00\x01\xff"`,
			},
		},
		{
			name: "16-bit length",
			from: Server,
			in:   sf(ws.OpBinary, true, 0, long16),
			want: []string{
				`server frame binary fin=true rsv=0 masked=false len=256`,
				`server message binary frames=1 len=256 wire=256 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"...`,
			},
		},
		{
			name: "64-bit length",
			from: Client,
			in:   cf(ws.OpText, true, 0, long64),
			want: []string{
				`client frame text fin=true rsv=0 masked=true len=65536`,
				`client message text frames=1 len=65536 wire=65536 "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"...`,
			},
		},
		{
			name: "fragmented with a ping between fragments",
			from: Client,
			in: cat(
				cf(ws.OpText, false, 0, "Hel"),
				cf(ws.OpPing, true, 0, "hi"),
				cf(ws.OpContinuation, false, 0, ""),
				cf(ws.OpContinuation, true, 0, "lo \u00e9"),
			),
			want: []string{
				`client frame text fin=false rsv=0 masked=true len=3`,
				`client frame ping fin=true rsv=0 masked=true len=2`,
				`client message ping frames=1 len=2 wire=2 "hi"`,
				`client frame continuation fin=false rsv=0 masked=true len=0`,
				`client frame continuation fin=true rsv=0 masked=true len=5`,
				`client message text frames=3 len=8 wire=8 "Hello é"`,
			},
		},
		{
			name: "close with code and reason",
			from: Server,
			in:   sf(ws.OpClose, true, 0, closeBody(1001, "going away")),
			want: []string{
				`server frame close fin=true rsv=0 masked=false len=12`,
				`server message close frames=1 len=12 wire=12 code=1001 reason="going away" "\x03\xe9going away"`,
			},
		},
		{
			name: "empty close, pong",
			from: Server,
			in:   cat(sf(ws.OpPong, true, 0, "p"), sf(ws.OpClose, true, 0, "")),
			want: []string{
				`server frame pong fin=true rsv=0 masked=false len=1`,
				`server message pong frames=1 len=1 wire=1 "p"`,
				`server frame close fin=true rsv=0 masked=false len=0`,
				`server message close frames=1 len=0 wire=0 code=0 reason="" ""`,
			},
		},
		{
			name: "control frame too long",
			from: Server,
			in:   sf(ws.OpPing, true, 0, strings.Repeat("p", 126)),
			want: []string{
				`server frame ping fin=true rsv=0 masked=false len=126`,
				`server violation frame 1: control frame payload 126 > 125`,
				`server message ping frames=1 len=126 wire=126 "pppppppppppppppppppppppppppppppp"...`,
			},
		},
		{
			name: "fragmented control frame",
			from: Server,
			in:   cat(sf(ws.OpPing, false, 0, "a"), sf(ws.OpText, true, 0, "t")),
			want: []string{
				`server frame ping fin=false rsv=0 masked=false len=1`,
				`server violation frame 1: fragmented control frame`,
				`server message ping frames=1 len=1 wire=1 "a"`,
				`server frame text fin=true rsv=0 masked=false len=1`,
				`server message text frames=1 len=1 wire=1 "t"`,
			},
		},
		{
			name: "RSV bits without an extension",
			from: Server,
			in:   cat(sf(ws.OpText, true, 4, "a"), sf(ws.OpText, true, 3, "b")),
			want: []string{
				`server frame text fin=true rsv=4 masked=false len=1`,
				`server violation frame 1: RSV1 set without an extension that defines it`,
				`server message text frames=1 len=1 wire=1 "a"`,
				`server frame text fin=true rsv=3 masked=false len=1`,
				`server violation frame 2: RSV2 set without an extension that defines it`,
				`server violation frame 2: RSV3 set without an extension that defines it`,
				`server message text frames=1 len=1 wire=1 "b"`,
			},
		},
		{
			name: "RSV1 on a continuation and a control frame",
			from: Server,
			ext:  "permessage-deflate",
			in: cat(
				sf(ws.OpBinary, false, 0, "a"),
				sf(ws.OpPing, true, 4, ""),
				sf(ws.OpContinuation, true, 4, "b"),
			),
			want: []string{
				`server frame binary fin=false rsv=0 masked=false len=1`,
				`server frame ping fin=true rsv=4 masked=false len=0`,
				`server violation frame 2: RSV1 set on a control frame`,
				`server message ping frames=1 len=0 wire=0 ""`,
				`server frame continuation fin=true rsv=4 masked=false len=1`,
				`server violation frame 3: RSV1 set on a continuation frame`,
				`server message binary frames=2 len=2 wire=2 "ab"`,
			},
		},
		{
			name: "client frame not masked",
			from: Client,
			in:   sf(ws.OpText, true, 0, "a"),
			want: []string{
				`client frame text fin=true rsv=0 masked=false len=1`,
				`client violation frame 1: client frame not masked`,
				`client message text frames=1 len=1 wire=1 "a"`,
			},
		},
		{
			name: "server frame masked",
			from: Server,
			in:   cf(ws.OpText, true, 0, "a"),
			want: []string{
				`server frame text fin=true rsv=0 masked=true len=1`,
				`server violation frame 1: server frame masked`,
				`server message text frames=1 len=1 wire=1 "a"`,
			},
		},
		{
			name: "continuation without a started message",
			from: Server,
			in:   sf(ws.OpContinuation, true, 0, "c"),
			want: []string{
				`server frame continuation fin=true rsv=0 masked=false len=1`,
				`server violation frame 1: continuation without a started message`,
				`server message continuation frames=1 len=1 wire=1 "c"`,
			},
		},
		{
			name: "new data frame inside a fragmented message",
			from: Server,
			in:   cat(sf(ws.OpText, false, 0, "a"), sf(ws.OpBinary, true, 0, "b")),
			want: []string{
				`server frame text fin=false rsv=0 masked=false len=1`,
				`server frame binary fin=true rsv=0 masked=false len=1`,
				`server violation frame 2: new data frame inside a fragmented message`,
				`server message text frames=1 len=1 wire=1 "a"`,
				`server message binary frames=1 len=1 wire=1 "b"`,
			},
		},
		{
			name: "invalid UTF-8 in text message",
			from: Client,
			in: cat(
				cf(ws.OpText, false, 0, "ok \xe2\x82"),
				cf(ws.OpContinuation, true, 0, "\xac fine"), // € cut in two
				cf(ws.OpText, false, 0, "bad \xe2\x82"),
				cf(ws.OpContinuation, true, 0, "\xff\xfe"),
				cf(ws.OpText, true, 0, "cut \xe2\x82"),
			),
			want: []string{
				`client frame text fin=false rsv=0 masked=true len=5`,
				`client frame continuation fin=true rsv=0 masked=true len=6`,
				`client message text frames=2 len=11 wire=11 "ok € fine"`,
				`client frame text fin=false rsv=0 masked=true len=6`,
				`client frame continuation fin=true rsv=0 masked=true len=2`,
				`client violation frame 4: invalid UTF-8 in text message`,
				`client message text frames=2 len=8 wire=8 "bad \xe2\x82\xff\xfe"`,
				`client frame text fin=true rsv=0 masked=true len=6`,
				`client violation frame 5: invalid UTF-8 in text message`,
				`client message text frames=1 len=6 wire=6 "cut \xe2\x82"`,
			},
		},
		{
			name: "invalid UTF-8 past MaxMessage",
			from: Client,
			cfg:  Config{MaxMessage: 2},
			in:   cf(ws.OpText, true, 0, "abcdefgh\xc0"),
			want: []string{
				`client frame text fin=true rsv=0 masked=true len=9`,
				`client violation frame 1: invalid UTF-8 in text message`,
				`client message text frames=1 len=9 wire=9 truncated "ab"`,
			},
		},
		{
			name: "close codes not to be sent",
			from: Server,
			in: cat(
				sf(ws.OpClose, true, 0, closeBody(1005, "")),
				sf(ws.OpClose, true, 0, closeBody(1006, "")),
				sf(ws.OpClose, true, 0, closeBody(1015, "")),
				sf(ws.OpClose, true, 0, closeBody(999, "")),
				sf(ws.OpClose, true, 0, closeBody(1004, "")),
				sf(ws.OpClose, true, 0, closeBody(1016, "")),
				sf(ws.OpClose, true, 0, closeBody(2999, "")),
				sf(ws.OpClose, true, 0, closeBody(5000, "")),
				sf(ws.OpClose, true, 0, closeBody(1014, "")),
				sf(ws.OpClose, true, 0, closeBody(3000, "")),
				sf(ws.OpClose, true, 0, closeBody(4999, "")),
			),
			want: []string{
				`server frame close fin=true rsv=0 masked=false len=2`,
				`server violation frame 1: close code 1005 sent on the wire`,
				`server message close frames=1 len=2 wire=2 code=1005 reason="" "\x03\xed"`,
				`server frame close fin=true rsv=0 masked=false len=2`,
				`server violation frame 2: close code 1006 sent on the wire`,
				`server message close frames=1 len=2 wire=2 code=1006 reason="" "\x03\xee"`,
				`server frame close fin=true rsv=0 masked=false len=2`,
				`server violation frame 3: close code 1015 sent on the wire`,
				`server message close frames=1 len=2 wire=2 code=1015 reason="" "\x03\xf7"`,
				`server frame close fin=true rsv=0 masked=false len=2`,
				`server violation frame 4: close code 999 sent on the wire`,
				`server message close frames=1 len=2 wire=2 code=999 reason="" "\x03\xe7"`,
				`server frame close fin=true rsv=0 masked=false len=2`,
				`server violation frame 5: close code 1004 sent on the wire`,
				`server message close frames=1 len=2 wire=2 code=1004 reason="" "\x03\xec"`,
				`server frame close fin=true rsv=0 masked=false len=2`,
				`server violation frame 6: close code 1016 sent on the wire`,
				`server message close frames=1 len=2 wire=2 code=1016 reason="" "\x03\xf8"`,
				`server frame close fin=true rsv=0 masked=false len=2`,
				`server violation frame 7: close code 2999 sent on the wire`,
				`server message close frames=1 len=2 wire=2 code=2999 reason="" "\v\xb7"`,
				`server frame close fin=true rsv=0 masked=false len=2`,
				`server violation frame 8: close code 5000 sent on the wire`,
				`server message close frames=1 len=2 wire=2 code=5000 reason="" "\x13\x88"`,
				`server frame close fin=true rsv=0 masked=false len=2`,
				`server message close frames=1 len=2 wire=2 code=1014 reason="" "\x03\xf6"`,
				`server frame close fin=true rsv=0 masked=false len=2`,
				`server message close frames=1 len=2 wire=2 code=3000 reason="" "\v\xb8"`,
				`server frame close fin=true rsv=0 masked=false len=2`,
				`server message close frames=1 len=2 wire=2 code=4999 reason="" "\x13\x87"`,
			},
		},
		{
			name: "close frame payload of 1 byte",
			from: Client,
			in:   cf(ws.OpClose, true, 0, "\x03"),
			want: []string{
				`client frame close fin=true rsv=0 masked=true len=1`,
				`client violation frame 1: close frame payload of 1 byte`,
				`client message close frames=1 len=1 wire=1 code=0 reason="" "\x03"`,
			},
		},
		{
			name: "invalid UTF-8 in close reason",
			from: Client,
			in:   cf(ws.OpClose, true, 0, closeBody(1000, "\xff")),
			want: []string{
				`client frame close fin=true rsv=0 masked=true len=3`,
				`client violation frame 1: invalid UTF-8 in close reason`,
				`client message close frames=1 len=3 wire=3 code=1000 reason="\xff" "\x03\xe8\xff"`,
			},
		},
		{
			name: "reserved opcodes",
			from: Server,
			in:   cat(sf(0x3, true, 0, "xyz"), sf(0xb, true, 0, "q"), sf(ws.OpText, true, 0, "t")),
			want: []string{
				`server frame 0x3 fin=true rsv=0 masked=false len=3`,
				`server violation frame 1: reserved opcode 0x3`,
				`server frame 0xb fin=true rsv=0 masked=false len=1`,
				`server violation frame 2: reserved opcode 0xb`,
				`server frame text fin=true rsv=0 masked=false len=1`,
				`server message text frames=1 len=1 wire=1 "t"`,
			},
		},
		{
			name: "data frame after close",
			from: Server,
			in:   cat(sf(ws.OpClose, true, 0, closeBody(1000, "")), sf(ws.OpText, true, 0, "late"), sf(ws.OpPing, true, 0, "")),
			want: []string{
				`server frame close fin=true rsv=0 masked=false len=2`,
				`server message close frames=1 len=2 wire=2 code=1000 reason="" "\x03\xe8"`,
				`server frame text fin=true rsv=0 masked=false len=4`,
				`server violation frame 2: data frame after close`,
				`server message text frames=1 len=4 wire=4 "late"`,
				`server frame ping fin=true rsv=0 masked=false len=0`,
				`server message ping frames=1 len=0 wire=0 ""`,
			},
		},
		{
			name: "payload length not minimally encoded",
			from: Server,
			in: cat(
				[]byte{0x82, 126, 0, 2, 'a', 'b'},
				[]byte{0x82, 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, bytes.Repeat([]byte{'c'}, 0xffff),
			),
			want: []string{
				`server frame binary fin=true rsv=0 masked=false len=2`,
				`server violation frame 1: payload length not minimally encoded`,
				`server message binary frames=1 len=2 wire=2 "ab"`,
				`server frame binary fin=true rsv=0 masked=false len=65535`,
				`server violation frame 2: payload length not minimally encoded`,
				`server message binary frames=1 len=65535 wire=65535 "cccccccccccccccccccccccccccccccc"...`,
			},
		},
		{
			name: "truncated at MaxMessage with exact lengths",
			from: Client,
			cfg:  Config{MaxMessage: 4},
			in: cat(
				cf(ws.OpBinary, false, 0, "Hello"),
				cf(ws.OpContinuation, true, 0, " world"),
				cf(ws.OpPing, true, 0, "123456"),
			),
			want: []string{
				`client frame binary fin=false rsv=0 masked=true len=5`,
				`client frame continuation fin=true rsv=0 masked=true len=6`,
				`client message binary frames=2 len=11 wire=11 truncated "Hell"`,
				`client frame ping fin=true rsv=0 masked=true len=6`,
				`client message ping frames=1 len=6 wire=6 truncated "1234"`,
			},
		},
		{
			name: "MaxMessage < 0 keeps nothing",
			from: Server,
			cfg:  Config{MaxMessage: -1},
			in:   cat(sf(ws.OpText, true, 0, "Hello"), sf(ws.OpClose, true, 0, closeBody(1000, "bye"))),
			want: []string{
				`server frame text fin=true rsv=0 masked=false len=5`,
				`server message text frames=1 len=5 wire=5 truncated ""`,
				`server frame close fin=true rsv=0 masked=false len=5`,
				`server message close frames=1 len=5 wire=5 truncated code=1000 reason="bye" ""`,
			},
		},
		{
			name: "length with the most significant bit set",
			from: Server,
			in:   cat(sf(ws.OpText, true, 0, "ok"), []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, sf(ws.OpText, true, 0, "ignored")),
			want: []string{
				`server frame text fin=true rsv=0 masked=false len=2`,
				`server message text frames=1 len=2 wire=2 "ok"`,
				`server error: frame 2: websocket frame length has the most significant bit set; rest of the stream not decoded`,
			},
		},
		{
			name: "end mid-frame header",
			from: Client,
			in:   cf(ws.OpText, true, 0, strings.Repeat("z", 200))[:3],
			want: []string{
				`client error: stream ended mid-frame: 3 of 8 header bytes`,
			},
		},
		{
			name: "end mid-frame payload",
			from: Server,
			in:   sf(ws.OpBinary, true, 0, strings.Repeat("z", 100))[:12],
			want: []string{
				`server frame binary fin=true rsv=0 masked=false len=100`,
				`server error: stream ended mid-frame: 10 of 100 payload bytes`,
				`server error: stream ended mid-message: binary message of 1 frames without a final one`,
				`server message binary frames=1 len=10 wire=10 "zzzzzzzzzz"`,
			},
		},
		{
			name: "end mid-message",
			from: Server,
			in:   cat(sf(ws.OpText, false, 0, "part"), sf(ws.OpPing, true, 0, "x")[:2]),
			want: []string{
				`server frame text fin=false rsv=0 masked=false len=4`,
				`server frame ping fin=true rsv=0 masked=false len=1`,
				`server error: stream ended mid-frame: 0 of 1 payload bytes`,
				`server error: stream ended mid-message: text message of 1 frames without a final one`,
				`server message text frames=1 len=4 wire=4 "part"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wsCheckSplits(t, tt.from, tt.cfg, tt.ext, tt.in, tt.want)
		})
	}
}

func TestWSCloseFrame(t *testing.T) {
	r := &wsRecorder{t: t, max: DefaultMaxMessage}
	w, err := newWSStream(Client, Config{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, seen := w.closeFrame(); seen {
		t.Errorf(
			"closeFrame seen before any close frame")
	}
	w.feed(cat(cf(ws.OpClose, true, 0, closeBody(4000, "bye")), cf(ws.OpClose, true, 0, closeBody(1000, ""))), r)
	code, reason, seen := w.closeFrame()
	if code != 4000 || reason != "bye" || !seen {
		t.Errorf(
			"closeFrame() = %d, %q, %t; want 4000, \"bye\", true",
			code, reason, seen)
	}
}

func TestWSUTF8Stream(t *testing.T) {
	texts := []string{"", "abc", "\u00e9\u20ac\U0001F600", "a\xffb", "\xe2\x82", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "x\U0001F600y"}
	for _, s := range texts {
		want := utf8.ValidString(s)
		for i := 0; i <= len(s); i++ {
			for j := i; j <= len(s); j++ {
				var u utf8Stream
				u.write([]byte(s[:i]))
				u.write([]byte(s[i:j]))
				u.write([]byte(s[j:]))
				u.close()
				if got := !u.bad; got != want {
					t.Errorf(
						"%q split at %d, %d: valid %t, want %t",
						s, i, j, got, want)
				}
			}
		}
	}
}

// TestWSFixtures decodes the byte fixtures of testdata/ws and compares the
// events with the golden files beside them (-update-ws rewrites those).
//
// A fixture is hex, with "#" comment lines; "# from: server", "# ext: ..."
// and "# max: N" set the side, the Sec-WebSocket-Extensions value and
// Config.MaxMessage.
func TestWSFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/ws/*.hex")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no fixtures in testdata/ws")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".hex")
		t.Run(name, func(t *testing.T) {
			from, cfg, ext, in := wsReadFixture(t, file)
			got := wsRun(t, from, cfg, ext, [][]byte{in})
			golden := strings.TrimSuffix(file, ".hex") + ".golden"
			text := strings.Join(got, "\n") + "\n"
			if *updateWS {
				if err := os.WriteFile(golden, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			wsCheckSplits(t, from, cfg, ext, in, strings.Split(strings.TrimSuffix(string(want), "\n"), "\n"))
		})
	}
}

func wsReadFixture(t *testing.T, file string) (Side, Config, string, []byte) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	from, cfg, ext := Client, Config{}, ""
	var h strings.Builder
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if c, ok := strings.CutPrefix(line, "#"); ok {
			k, v, _ := strings.Cut(c, ":")
			v = strings.TrimSpace(v)
			switch strings.TrimSpace(k) {
			case "from":
				if v == "server" {
					from = Server
				}
			case "ext":
				ext = v
			case "max":
				cfg.MaxMessage, err = strconv.Atoi(v)
				if err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		h.WriteString(strings.Join(strings.Fields(line), ""))
	}
	in, err := hex.DecodeString(h.String())
	if err != nil {
		t.Fatalf(
			"%s: %v",
			file, err)
	}
	return from, cfg, ext, in
}

// wsNop is a Handler that does nothing, for benchmarks.
type wsNop struct{}

func (wsNop) Request(*Request)       {}
func (wsNop) Response(*Response)     {}
func (wsNop) Upgrade(*Upgrade)       {}
func (wsNop) Frame(Side, *Frame)     {}
func (wsNop) Message(Side, *Message) {}
func (wsNop) Error(Side, error)      {}

func TestWSFramesAllocs(t *testing.T) {
	w, _ := newWSStream(Client, Config{}, "")
	in := cf(ws.OpText, true, 0, strings.Repeat("a", 4096))
	w.feed(in, wsNop{})
	if n := testing.AllocsPerRun(100, func() { w.feed(in, wsNop{}) }); n != 0 {
		t.Errorf(
			"%v allocations per frame, want 0",
			n)
	}
}

func BenchmarkFrames(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"64B", 64}, {"4KiB", 4096}, {"64KiB", 64 << 10}} {
		b.Run(size.name, func(b *testing.B) {
			in := cf(ws.OpText, true, 0, strings.Repeat("a", size.n))
			w, _ := newWSStream(Client, Config{}, "")
			var h Handler = wsNop{}
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				w.feed(in, h)
			}
		})
	}
}

// FuzzFrames feeds arbitrary bytes as a client and as a server stream, cut
// at arbitrary places, and checks the decoder's bounds.
func FuzzFrames(f *testing.F) {
	f.Add(cat(cf(ws.OpText, false, 0, "Hel"), cf(ws.OpPing, true, 0, "x"), cf(ws.OpContinuation, true, 0, "lo")), uint64(7), false)
	f.Add(cat(sf(ws.OpClose, true, 0, closeBody(1000, "bye")), sf(ws.OpText, true, 0, "late")), uint64(3), false)
	f.Add([]byte{0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00}, uint64(1), true)
	f.Add([]byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, uint64(0), false)
	f.Add([]byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3}, uint64(5), false)
	f.Add(cat(sf(ws.OpPing, true, 0, strings.Repeat("p", 200)), sf(ws.OpClose, true, 0, closeBody(1000, strings.Repeat("r", 200)))), uint64(9), false)
	f.Fuzz(func(t *testing.T, in []byte, seed uint64, deflate bool) {
		ext := ""
		if deflate {
			ext = "permessage-deflate"
		}
		cfg := Config{MaxMessage: 64}
		for _, from := range []Side{Client, Server} {
			r := &wsRecorder{t: t, max: cfg.maxMessage()}
			w, err := newWSStream(from, cfg, ext)
			if err != nil {
				t.Fatal(err)
			}
			rest, s := in, seed
			for len(rest) > 0 {
				s = s*6364136223846793005 + 1442695040888963407
				n := min(len(rest), int(s>>59)+1) // 1 to 32 bytes
				w.feed(rest[:n], r)
				rest = rest[n:]
			}
			w.end(r)
			wsCheckRetained(t, w)
		}
	})
}
