package capture

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestAppendText(t *testing.T) {
	at := time.Date(2025, 3, 14, 19, 51, 2, 126001000, time.UTC)
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{"open", Event{Kind: KindOpen, Conn: 3, Client: "127.0.0.1:51234", Server: "example:80", Mode: "reverse"},
			"#3 open     127.0.0.1:51234 -> example:80 (reverse)"},
		{"open regular", Event{Kind: KindOpen, Conn: 3, Client: "127.0.0.1:51234", Mode: "regular"},
			"#3 open     127.0.0.1:51234 (regular)"},
		{"open socks5", Event{Kind: KindOpen, Conn: 4, Client: "127.0.0.1:5", Server: "example.test:443", Mode: "socks5", Listen: "127.0.0.1:1080"},
			"#4 open     127.0.0.1:5 -> example.test:443 (socks5 on 127.0.0.1:1080)"},
		{"request", Event{Kind: KindRequest, Conn: 3, Seq: 1, Method: "GET", Target: "/index.html", Proto: "HTTP/1.1", Host: "example"},
			"#3 request  #1 GET /index.html HTTP/1.1 host=example body=0"},
		{"request odd target", Event{Kind: KindRequest, Conn: 3, Seq: 1, Method: "GET", Target: "/a b\r\nX: y", Proto: "HTTP/1.1", BodyLen: 7, Truncated: true, Trailers: []Header{{"A", "b"}}},
			`#3 request  #1 GET "/a b\r\nX: y" HTTP/1.1 host="" body=7 trailers=1 [truncated]`},
		{"response", Event{Kind: KindResponse, Conn: 3, Seq: 1, Status: 200, StatusText: "OK", Proto: "HTTP/1.1", BodyLen: 1256},
			"#3 response #1 200 OK HTTP/1.1 body=1256"},
		{"response with server", Event{Kind: KindResponse, Conn: 3, Seq: 1, Status: 404, StatusText: "Not Found", Proto: "HTTP/1.0", Server: "10.0.0.1:80"},
			"#3 response #1 404 Not Found HTTP/1.0 server=10.0.0.1:80 body=0"},
		{"upgrade", Event{Kind: KindUpgrade, Conn: 3, Seq: 2, Protocol: "websocket", Subprotocol: "chat", Extensions: "permessage-deflate", AcceptOK: true},
			`#3 upgrade  #2 websocket subprotocol=chat ext="permessage-deflate" accept=ok`},
		{"upgrade bad accept", Event{Kind: KindUpgrade, Conn: 3, Seq: 1, Protocol: "websocket"},
			"#3 upgrade  #1 websocket accept=BAD"},
		{"gap", Event{Kind: KindGap, Lost: 1234, Since: time.Date(2025, 3, 14, 19, 50, 59, 5e8, time.UTC), Msg: "capture: writing log: write -: no space left on device"},
			"#0 gap      1234 events lost since 19:50:59.500000: capture: writing log: write -: no space left on device"},
		{"frame", Event{Kind: KindFrame, Conn: 3, From: "client", Fin: true, Opcode: 1, Masked: true, Len: 5},
			"#3 frame    client→ FIN text masked len=5"},
		{"meta", Event{Kind: KindMeta, Filter: `~b "x y"`},
			`#0 meta     filter="~b \"x y\""`},
		{"frame injected", Event{Kind: KindFrame, Conn: 3, From: "server", Fin: true, Opcode: 1, Len: 2, Injected: true},
			"#3 frame    ←server FIN text len=2 injected"},
		{"message injected", Event{Kind: KindMessage, Conn: 3, From: "client", Op: "text", Frames: 1, Len: 2, WireLen: 2, Payload: []byte("hi"), Injected: true},
			`#3 message  client→ text 2B 1 frame "hi" injected`},
		{"frame rsv", Event{Kind: KindFrame, Conn: 3, From: "server", RSV: 5, Opcode: 0, Len: 1 << 20},
			"#3 frame    ←server RSV1 RSV3 continuation len=1048576"},
		{"frame reserved opcode", Event{Kind: KindFrame, Conn: 3, From: "server", Fin: true, Opcode: 0xb},
			"#3 frame    ←server FIN 0xb len=0"},
		{"message", Event{Kind: KindMessage, Conn: 3, From: "client", Op: "text", Frames: 1, Len: 5, WireLen: 5, Payload: []byte("hello")},
			`#3 message  client→ text 5B 1 frame "hello"`},
		{"message compressed", Event{Kind: KindMessage, Conn: 3, From: "server", Op: "text", Frames: 2, Len: 12, WireLen: 9, Compressed: true, Payload: []byte("line1\nline2\t")},
			`#3 message  ←server text 12B (wire 9B deflated) 2 frames "line1\nline2\t"`},
		{"message long", Event{Kind: KindMessage, Conn: 3, From: "server", Op: "text", Frames: 1, Len: 200, WireLen: 200, Payload: bytes.Repeat([]byte("é"), 100)},
			`#3 message  ←server text 200B 1 frame "` + strings.Repeat("é", 80) + `"…`},
		{"message binary", Event{Kind: KindMessage, Conn: 3, From: "client", Op: "binary", Frames: 1, Len: 40, WireLen: 40, Payload: bytes.Repeat([]byte{0xde, 0xad}, 20), Truncated: true},
			"#3 message  client→ binary 40B 1 frame hex:" + strings.Repeat("dead", 16) + "… [truncated]"},
		{"message invalid text", Event{Kind: KindMessage, Conn: 3, From: "client", Op: "text", Frames: 1, Len: 2, WireLen: 2, Payload: []byte{'a', 0xff}},
			"#3 message  client→ text 2B 1 frame hex:61ff"},
		{"message empty ping", Event{Kind: KindMessage, Conn: 3, From: "client", Op: "ping", Frames: 1},
			"#3 message  client→ ping 0B 1 frame"},
		{"message close", Event{Kind: KindMessage, Conn: 3, From: "server", Op: "close", Frames: 1, Len: 5, WireLen: 5, Code: 1000, Reason: "bye"},
			`#3 message  ←server close 5B 1 frame code=1000 "bye"`},
		{"message close no code", Event{Kind: KindMessage, Conn: 3, From: "client", Op: "close", Frames: 1},
			`#3 message  client→ close 0B 1 frame no code`},
		{"tls client", Event{Kind: KindTLS, Conn: 3, Side: "client", SNI: "example.com", ALPN: "http/1.1", Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256"},
			"#3 tls      client sni=example.com alpn=http/1.1 TLS 1.3 TLS_AES_128_GCM_SHA256"},
		{"tls server", Event{Kind: KindTLS, Conn: 3, Side: "server", Version: "TLS 1.2", Cipher: "X", Subject: "CN=example.com,O=Example", Issuer: "CN=CA", Verified: false},
			`#3 tls      server sni="" alpn="" TLS 1.2 X subject=CN=example.com,O=Example issuer=CN=CA NOT-VERIFIED`},
		{"request https", Event{Kind: KindRequest, Conn: 3, Seq: 2, Method: "GET", Target: "/", Proto: "HTTP/1.1", Host: "example", Scheme: "https"},
			"#3 request  #2 GET / HTTP/1.1 host=example scheme=https body=0"},
		{"error", Event{Kind: KindError, Conn: 3, From: "client", Msg: "invalid UTF-8 in text message"},
			"#3 error    client→ invalid UTF-8 in text message"},
		{"error no side, controls", Event{Kind: KindError, Conn: 3, Msg: "bad\nline\x00\xff\u2028end"},
			`#3 error    bad\nline\x00\xff\u2028end`},
		{"close", Event{Kind: KindClose, Conn: 3, BytesFromClient: 1234, BytesFromServer: 5678},
			"#3 close    ↑1234B ↓5678B"},
		{"close websocket", Event{Kind: KindClose, Conn: 3, BytesFromClient: 1, BytesFromServer: 2, WebSocket: true, WSClosedBy: "client", WSCloseClean: true},
			"#3 close    ↑1B ↓2B ws: closed by client, clean"},
		{"close websocket error", Event{Kind: KindClose, Conn: 3, WebSocket: true, Err: "read: connection reset by peer"},
			"#3 close    ↑0B ↓0B ws: no close frame, unclean err: read: connection reset by peer"},
		{"h2 request", Event{Kind: KindRequest, Conn: 4, Seq: 2, Stream: 1, Method: "GET", Target: "/a", Proto: "HTTP/2.0", Host: "example.com", Scheme: "https"},
			"#4 request  #2 stream=1 GET /a HTTP/2.0 host=example.com scheme=https body=0"},
		{"h2 extended CONNECT, pushed", Event{Kind: KindRequest, Conn: 4, Seq: 3, Stream: 2, Method: "CONNECT", Target: "/ws", Proto: "HTTP/2.0", Host: "h", Scheme: "http", Protocol: "websocket", Pushed: true},
			"#4 request  #3 stream=2 CONNECT /ws HTTP/2.0 host=h scheme=http protocol=websocket pushed body=0"},
		{"h2 response reset", Event{Kind: KindResponse, Conn: 4, Seq: 2, Stream: 1, Proto: "HTTP/2.0", Reset: "CANCEL"},
			"#4 response #2 stream=1 0 HTTP/2.0 reset=CANCEL body=0"},
		{"h2 upgrade", Event{Kind: KindUpgrade, Conn: 4, Seq: 3, Stream: 5, Protocol: "websocket", Scheme: "wss"},
			"#4 upgrade  #3 stream=5 websocket scheme=wss"},
		{"frame on a stream", Event{Kind: KindFrame, Conn: 4, From: "client", Stream: 5, Fin: true, Opcode: 1, Masked: true, Len: 2},
			"#4 frame    client→ stream=5 FIN text masked len=2"},
		{"message on a stream", Event{Kind: KindMessage, Conn: 4, From: "server", Stream: 5, Op: "text", Frames: 1, Len: 2, WireLen: 2, Payload: []byte("hi")},
			`#4 message  ←server stream=5 text 2B 1 frame "hi"`},
		{"h2frame settings", Event{Kind: KindH2Frame, Conn: 4, From: "server", FrameType: "SETTINGS", Len: 12, Settings: []Setting{{"MAX_CONCURRENT_STREAMS", 100}, {"0x0a", 1}}},
			"#4 h2frame  ←server SETTINGS stream=0 flags=0x00 len=12 MAX_CONCURRENT_STREAMS=100 0x0a=1"},
		{"h2frame settings ack", Event{Kind: KindH2Frame, Conn: 4, From: "client", FrameType: "SETTINGS", Flags: 1, Ack: true},
			"#4 h2frame  client→ SETTINGS stream=0 flags=0x01 len=0 ack"},
		{"h2frame headers", Event{Kind: KindH2Frame, Conn: 4, From: "client", Stream: 1, FrameType: "HEADERS", Flags: 0x25, Len: 35},
			"#4 h2frame  client→ HEADERS stream=1 flags=0x25 len=35"},
		{"h2frame goaway", Event{Kind: KindH2Frame, Conn: 4, From: "server", FrameType: "GOAWAY", Len: 8, ErrCode: "NO_ERROR", LastStream: 7},
			"#4 h2frame  ←server GOAWAY stream=0 flags=0x00 len=8 code=NO_ERROR last_stream=7"},
		{"h2frame rst", Event{Kind: KindH2Frame, Conn: 4, From: "client", Stream: 3, FrameType: "RST_STREAM", Len: 4, ErrCode: "CANCEL"},
			"#4 h2frame  client→ RST_STREAM stream=3 flags=0x00 len=4 code=CANCEL"},
		{"h2frame window update", Event{Kind: KindH2Frame, Conn: 4, From: "client", FrameType: "WINDOW_UPDATE", Len: 4, Increment: 983041},
			"#4 h2frame  client→ WINDOW_UPDATE stream=0 flags=0x00 len=4 increment=983041"},
		{"h2frame push promise", Event{Kind: KindH2Frame, Conn: 4, From: "server", Stream: 1, FrameType: "PUSH_PROMISE", Flags: 4, Len: 20, Promised: 2},
			"#4 h2frame  ←server PUSH_PROMISE stream=1 flags=0x04 len=20 promised=2"},
		{"close h2", Event{Kind: KindClose, Conn: 4, BytesFromClient: 10, BytesFromServer: 20, H2: true, H2Streams: 38, H2MaxOpen: 12},
			"#4 close    ↑10B ↓20B h2: 38 streams, up to 12 at once"},
		{"unknown kind", Event{Kind: "future", Conn: 3},
			"#3 future  "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.ev.Time = at
			got := string(tt.ev.AppendText(nil))
			if want := "19:51:02.126001 " + tt.want + "\n"; got != want {
				t.Errorf("AppendText:\ngot  %q\nwant %q", got, want)
			}
		})
	}
}

// TestAppendTextOneLine checks that random events of every kind give one
// valid UTF-8 line.
func TestAppendTextOneLine(t *testing.T) {
	r := newRand()
	for i := range 5000 {
		e := randEvent(r, allKinds[i%len(allKinds)])
		if i%3 == 0 { // strings from a broken decoder
			e.Msg, e.Target, e.Err, e.Reason = "a\xff\n", "\x85\r", "\x00", "\xc3"
		}
		line := e.AppendText(nil)
		if bytes.IndexByte(line, '\n') != len(line)-1 {
			t.Fatalf("not one line: %q", line)
		}
		if !utf8.Valid(line) {
			t.Fatalf("invalid UTF-8: %q", line)
		}
		for _, sep := range []string{"\r", "\u2028", "\u2029", "\u0085"} {
			if bytes.Contains(line, []byte(sep)) {
				t.Fatalf("line holds %q: %q", sep, line)
			}
		}
	}
}

// TestTextGolden renders the doc's example capture as headless prints it.
func TestTextGolden(t *testing.T) {
	var got []byte
	for _, e := range exampleEvents() {
		got = e.AppendText(got)
	}
	golden := filepath.Join("testdata", "example.txt")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("text of the example capture:\ngot\n%s\nwant\n%s", got, want)
	}
}

// Pings and pongs carrying text read as text; binary ones as hex.
func TestTextControlPayloads(t *testing.T) {
	for _, tc := range []struct {
		payload []byte
		want    string
	}{
		{[]byte("are you there?"), `"are you there?"`},
		{[]byte{0xde, 0xad, 0xbe, 0xef}, "hex:deadbeef"},
	} {
		ev := &Event{Kind: KindMessage, Conn: 1, Time: t0, From: "client", Op: "ping", Frames: 1, Len: int64(len(tc.payload)), WireLen: int64(len(tc.payload)), Payload: tc.payload}
		if got := string(ev.AppendText(nil)); !strings.Contains(got, tc.want) {
			t.Errorf("AppendText(ping %x) = %q, want it to contain %s", tc.payload, got, tc.want)
		}
	}
}
