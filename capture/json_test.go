package capture

import (
	"bytes"
	"encoding/json"
	"flag"
	"math/rand/v2"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files and the doc's example")

func TestMain(m *testing.M) {
	// AppendText writes local time; golden files are in UTC.
	time.Local = time.UTC
	os.Exit(m.Run())
}

var t0 = time.Date(2025, 3, 14, 19, 51, 2, 123456789, time.UTC)

func TestAppendJSON(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{"open", Event{Kind: KindOpen, Conn: 3, Time: t0, Client: "127.0.0.1:51234", Server: "example:80", Mode: "reverse"},
			`{"kind":"open","conn":3,"t":"2025-03-14T19:51:02.123456789Z","client":"127.0.0.1:51234","server":"example:80","mode":"reverse"}`},
		{"open without server", Event{Kind: KindOpen, Conn: 3, Time: t0, Client: "[::1]:5", Mode: "regular"},
			`{"kind":"open","conn":3,"t":"2025-03-14T19:51:02.123456789Z","client":"[::1]:5","mode":"regular"}`},
		// issue 12: the listener, and a SOCKS5 destination as the client named it
		{"open socks5", Event{Kind: KindOpen, Conn: 4, Time: t0, Client: "127.0.0.1:5", Server: "example.test:443", Mode: "socks5", Listen: "127.0.0.1:1080"},
			`{"kind":"open","conn":4,"t":"2025-03-14T19:51:02.123456789Z","client":"127.0.0.1:5","server":"example.test:443","mode":"socks5","listen":"127.0.0.1:1080"}`},
		{"open transparent ipv6", Event{Kind: KindOpen, Conn: 5, Time: t0, Client: "[::1]:5", Server: "[fd00::5]:80", Mode: "transparent", Listen: "[::1]:8080"},
			`{"kind":"open","conn":5,"t":"2025-03-14T19:51:02.123456789Z","client":"[::1]:5","server":"[fd00::5]:80","mode":"transparent","listen":"[::1]:8080"}`},
		{"time in UTC, zeros trimmed", Event{Kind: KindOpen, Conn: 1, Time: time.Date(2025, 1, 2, 4, 5, 6, 100000000, time.FixedZone("X", 3600))},
			`{"kind":"open","conn":1,"t":"2025-01-02T03:05:06.1Z","client":"","mode":""}`},
		{"close plain", Event{Kind: KindClose, Conn: 3, Time: t0, BytesFromClient: 1234, BytesFromServer: 5678},
			`{"kind":"close","conn":3,"t":"2025-03-14T19:51:02.123456789Z","bytes_from_client":1234,"bytes_from_server":5678}`},
		{"close websocket with error", Event{Kind: KindClose, Conn: 3, Time: t0, Err: "read: connection reset", WebSocket: true, WSClosedBy: "client"},
			`{"kind":"close","conn":3,"t":"2025-03-14T19:51:02.123456789Z","bytes_from_client":0,"bytes_from_server":0,"err":"read: connection reset","ws_closed_by":"client","ws_close_clean":false}`},
		{"close websocket no close frame", Event{Kind: KindClose, Conn: 3, Time: t0, WebSocket: true},
			`{"kind":"close","conn":3,"t":"2025-03-14T19:51:02.123456789Z","bytes_from_client":0,"bytes_from_server":0,"ws_close_clean":false}`},
		{"request", Event{Kind: KindRequest, Conn: 3, Time: t0, Seq: 1, Method: "POST", Target: "/a?b=c", Host: "example", Proto: "HTTP/1.1",
			Headers: []Header{{"Host", "example"}, {"X-Quote", `a"b\c`}}, BodyLen: 5, Body: []byte("hi\n\x01!")},
			`{"kind":"request","conn":3,"t":"2025-03-14T19:51:02.123456789Z","seq":1,"method":"POST","target":"/a?b=c","host":"example","proto":"HTTP/1.1","headers":[["Host","example"],["X-Quote","a\"b\\c"]],"body_len":5,"body":"hi\n\u0001!"}`},
		{"request no headers no body", Event{Kind: KindRequest, Conn: 3, Time: t0, Seq: 2, Method: "GET", Target: "/", Proto: "HTTP/1.0", Server: "example:80"},
			`{"kind":"request","conn":3,"t":"2025-03-14T19:51:02.123456789Z","seq":2,"method":"GET","target":"/","host":"","proto":"HTTP/1.0","server":"example:80","headers":[],"body_len":0}`},
		{"response binary body truncated with trailers", Event{Kind: KindResponse, Conn: 3, Time: t0, Seq: 1, Status: 200, StatusText: "OK", Proto: "HTTP/1.1",
			Headers: []Header{{"Transfer-Encoding", "chunked"}}, Trailers: []Header{{"X-Sum", "1"}}, BodyLen: 9000, Body: []byte{0xff, 0, 1}, Truncated: true},
			`{"kind":"response","conn":3,"t":"2025-03-14T19:51:02.123456789Z","seq":1,"status":200,"status_text":"OK","proto":"HTTP/1.1","headers":[["Transfer-Encoding","chunked"]],"trailers":[["X-Sum","1"]],"body_len":9000,"body_b64":"/wAB","truncated":true}`},
		{"upgrade", Event{Kind: KindUpgrade, Conn: 3, Time: t0, Seq: 2, Protocol: "websocket", Subprotocol: "chat", Extensions: "permessage-deflate", AcceptOK: true},
			`{"kind":"upgrade","conn":3,"t":"2025-03-14T19:51:02.123456789Z","seq":2,"protocol":"websocket","subprotocol":"chat","extensions":"permessage-deflate","accept_ok":true}`},
		{"gap", Event{Kind: KindGap, Time: t0, Lost: 1234, Since: t0.Add(-3 * time.Second), Msg: "capture: writing log: write capture.jsonl: no space left on device"},
			`{"kind":"gap","conn":0,"t":"2025-03-14T19:51:02.123456789Z","lost":1234,"since":"2025-03-14T19:50:59.123456789Z","msg":"capture: writing log: write capture.jsonl: no space left on device"}`},
		{"meta", Event{Kind: KindMeta, Time: t0, Filter: `~ws ~b "a b"`},
			`{"kind":"meta","conn":0,"t":"2025-03-14T19:51:02.123456789Z","filter":"~ws ~b \"a b\""}`},
		{"frame injected", Event{Kind: KindFrame, Conn: 3, Time: t0, From: "server", Fin: true, Opcode: 1, Len: 2, Injected: true},
			`{"kind":"frame","conn":3,"t":"2025-03-14T19:51:02.123456789Z","from":"server","fin":true,"rsv":0,"opcode":1,"masked":false,"len":2,"injected":true}`},
		{"message injected", Event{Kind: KindMessage, Conn: 3, Time: t0, From: "client", Op: "text", Frames: 1, Len: 2, WireLen: 2, Payload: []byte("hi"), Injected: true},
			`{"kind":"message","conn":3,"t":"2025-03-14T19:51:02.123456789Z","from":"client","op":"text","frames":1,"len":2,"wire_len":2,"compressed":false,"injected":true,"text":"hi"}`},
		{"frame", Event{Kind: KindFrame, Conn: 3, Time: t0, From: "client", RSV: 4, Opcode: 1, Masked: true, Len: 5},
			`{"kind":"frame","conn":3,"t":"2025-03-14T19:51:02.123456789Z","from":"client","fin":false,"rsv":4,"opcode":1,"masked":true,"len":5}`},
		{"message text", Event{Kind: KindMessage, Conn: 3, Time: t0, From: "server", Op: "text", Frames: 1, Len: 8, WireLen: 6, Compressed: true, Payload: []byte("héllo\t")},
			`{"kind":"message","conn":3,"t":"2025-03-14T19:51:02.123456789Z","from":"server","op":"text","frames":1,"len":8,"wire_len":6,"compressed":true,"text":"héllo\t"}`},
		{"message text cut inside a rune", Event{Kind: KindMessage, Conn: 3, Time: t0, From: "client", Op: "text", Frames: 2, Len: 2, WireLen: 2, Payload: []byte{'a', 0xc3}, Truncated: true},
			`{"kind":"message","conn":3,"t":"2025-03-14T19:51:02.123456789Z","from":"client","op":"text","frames":2,"len":2,"wire_len":2,"compressed":false,"text":"a","truncated":true}`},
		{"message text invalid UTF-8", Event{Kind: KindMessage, Conn: 3, Time: t0, From: "client", Op: "text", Frames: 1, Len: 2, WireLen: 2, Payload: []byte{'a', 0xff}},
			`{"kind":"message","conn":3,"t":"2025-03-14T19:51:02.123456789Z","from":"client","op":"text","frames":1,"len":2,"wire_len":2,"compressed":false,"data":"Yf8="}`},
		{"message empty ping", Event{Kind: KindMessage, Conn: 3, Time: t0, From: "client", Op: "ping", Frames: 1},
			`{"kind":"message","conn":3,"t":"2025-03-14T19:51:02.123456789Z","from":"client","op":"ping","frames":1,"len":0,"wire_len":0,"compressed":false,"data":""}`},
		{"message close", Event{Kind: KindMessage, Conn: 3, Time: t0, From: "server", Op: "close", Frames: 1, Len: 5, WireLen: 5, Code: 1000, Reason: "bye"},
			`{"kind":"message","conn":3,"t":"2025-03-14T19:51:02.123456789Z","from":"server","op":"close","frames":1,"len":5,"wire_len":5,"compressed":false,"code":1000,"reason":"bye"}`},
		{"error with side", Event{Kind: KindError, Conn: 3, Time: t0, From: "client", Msg: "invalid UTF-8 in text message"},
			`{"kind":"error","conn":3,"t":"2025-03-14T19:51:02.123456789Z","from":"client","msg":"invalid UTF-8 in text message"}`},
		{"error without side", Event{Kind: KindError, Conn: 3, Time: t0, Msg: "dial example:80: refused"},
			`{"kind":"error","conn":3,"t":"2025-03-14T19:51:02.123456789Z","msg":"dial example:80: refused"}`},
		{"tls client", Event{Kind: KindTLS, Conn: 3, Time: t0, Side: "client", SNI: "example.com", ALPN: "http/1.1", Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256"},
			`{"kind":"tls","conn":3,"t":"2025-03-14T19:51:02.123456789Z","side":"client","sni":"example.com","alpn":"http/1.1","version":"TLS 1.3","cipher":"TLS_AES_128_GCM_SHA256"}`},
		{"tls server", Event{Kind: KindTLS, Conn: 3, Time: t0, Side: "server", SNI: "example.com", Version: "TLS 1.2", Cipher: "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", Subject: "CN=example.com", Issuer: "CN=Test CA,O=Test", Verified: true},
			`{"kind":"tls","conn":3,"t":"2025-03-14T19:51:02.123456789Z","side":"server","sni":"example.com","alpn":"","version":"TLS 1.2","cipher":"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256","subject":"CN=example.com","issuer":"CN=Test CA,O=Test","verified":true}`},
		{"request over tls", Event{Kind: KindRequest, Conn: 3, Time: t0, Seq: 2, Method: "GET", Target: "/", Host: "example.com", Proto: "HTTP/1.1", Scheme: "https"},
			`{"kind":"request","conn":3,"t":"2025-03-14T19:51:02.123456789Z","seq":2,"method":"GET","target":"/","host":"example.com","proto":"HTTP/1.1","scheme":"https","headers":[],"body_len":0}`},
		{"upgrade over tls", Event{Kind: KindUpgrade, Conn: 3, Time: t0, Seq: 2, Protocol: "websocket", AcceptOK: true, Scheme: "wss"},
			`{"kind":"upgrade","conn":3,"t":"2025-03-14T19:51:02.123456789Z","seq":2,"protocol":"websocket","subprotocol":"","extensions":"","accept_ok":true,"scheme":"wss"}`},
		{"h2 request", Event{Kind: KindRequest, Conn: 4, Time: t0, Seq: 2, Stream: 1, Method: "GET", Target: "/a", Host: "example.com", Proto: "HTTP/2.0", Scheme: "https",
			Headers: []Header{{":method", "GET"}, {":scheme", "https"}, {":authority", "example.com"}, {":path", "/a"}}},
			`{"kind":"request","conn":4,"t":"2025-03-14T19:51:02.123456789Z","seq":2,"stream":1,"method":"GET","target":"/a","host":"example.com","proto":"HTTP/2.0","scheme":"https","headers":[[":method","GET"],[":scheme","https"],[":authority","example.com"],[":path","/a"]],"body_len":0}`},
		{"h2 pushed request", Event{Kind: KindRequest, Conn: 4, Time: t0, Seq: 3, Stream: 2, Method: "GET", Target: "/style.css", Host: "example.com", Proto: "HTTP/2.0", Scheme: "https", Pushed: true},
			`{"kind":"request","conn":4,"t":"2025-03-14T19:51:02.123456789Z","seq":3,"stream":2,"method":"GET","target":"/style.css","host":"example.com","proto":"HTTP/2.0","scheme":"https","pushed":true,"headers":[],"body_len":0}`},
		{"h2 extended CONNECT", Event{Kind: KindRequest, Conn: 4, Time: t0, Seq: 4, Stream: 5, Method: "CONNECT", Target: "/chat", Host: "example.com", Proto: "HTTP/2.0", Scheme: "https", Protocol: "websocket"},
			`{"kind":"request","conn":4,"t":"2025-03-14T19:51:02.123456789Z","seq":4,"stream":5,"method":"CONNECT","target":"/chat","host":"example.com","proto":"HTTP/2.0","scheme":"https","protocol":"websocket","headers":[],"body_len":0}`},
		{"h2 response reset", Event{Kind: KindResponse, Conn: 4, Time: t0, Seq: 2, Stream: 1, Proto: "HTTP/2.0", Reset: "CANCEL"},
			`{"kind":"response","conn":4,"t":"2025-03-14T19:51:02.123456789Z","seq":2,"stream":1,"status":0,"status_text":"","proto":"HTTP/2.0","reset":"CANCEL","headers":[],"body_len":0}`},
		{"h2 upgrade", Event{Kind: KindUpgrade, Conn: 4, Time: t0, Seq: 4, Stream: 5, Protocol: "websocket", Extensions: "permessage-deflate", Scheme: "wss"},
			`{"kind":"upgrade","conn":4,"t":"2025-03-14T19:51:02.123456789Z","seq":4,"stream":5,"protocol":"websocket","subprotocol":"","extensions":"permessage-deflate","scheme":"wss"}`},
		{"frame on a stream", Event{Kind: KindFrame, Conn: 4, Time: t0, From: "client", Stream: 5, Fin: true, Opcode: 1, Masked: true, Len: 5},
			`{"kind":"frame","conn":4,"t":"2025-03-14T19:51:02.123456789Z","from":"client","stream":5,"fin":true,"rsv":0,"opcode":1,"masked":true,"len":5}`},
		{"message on a stream", Event{Kind: KindMessage, Conn: 4, Time: t0, From: "server", Stream: 5, Op: "text", Frames: 1, Len: 2, WireLen: 2, Payload: []byte("hi")},
			`{"kind":"message","conn":4,"t":"2025-03-14T19:51:02.123456789Z","from":"server","stream":5,"op":"text","frames":1,"len":2,"wire_len":2,"compressed":false,"text":"hi"}`},
		{"h2frame settings", Event{Kind: KindH2Frame, Conn: 4, Time: t0, From: "server", FrameType: "SETTINGS", Len: 12, Settings: []Setting{{"MAX_CONCURRENT_STREAMS", 100}, {"0x0a", 1}}},
			`{"kind":"h2frame","conn":4,"t":"2025-03-14T19:51:02.123456789Z","from":"server","stream":0,"type":"SETTINGS","flags":0,"len":12,"settings":[["MAX_CONCURRENT_STREAMS",100],["0x0a",1]],"ack":false}`},
		{"h2frame settings ack", Event{Kind: KindH2Frame, Conn: 4, Time: t0, From: "client", FrameType: "SETTINGS", Flags: 1, Ack: true},
			`{"kind":"h2frame","conn":4,"t":"2025-03-14T19:51:02.123456789Z","from":"client","stream":0,"type":"SETTINGS","flags":1,"len":0,"settings":[],"ack":true}`},
		{"h2frame headers", Event{Kind: KindH2Frame, Conn: 4, Time: t0, From: "client", Stream: 1, FrameType: "HEADERS", Flags: 0x25, Len: 35},
			`{"kind":"h2frame","conn":4,"t":"2025-03-14T19:51:02.123456789Z","from":"client","stream":1,"type":"HEADERS","flags":37,"len":35}`},
		{"h2frame rst", Event{Kind: KindH2Frame, Conn: 4, Time: t0, From: "client", Stream: 3, FrameType: "RST_STREAM", Len: 4, ErrCode: "CANCEL"},
			`{"kind":"h2frame","conn":4,"t":"2025-03-14T19:51:02.123456789Z","from":"client","stream":3,"type":"RST_STREAM","flags":0,"len":4,"code":"CANCEL"}`},
		{"h2frame goaway", Event{Kind: KindH2Frame, Conn: 4, Time: t0, From: "server", FrameType: "GOAWAY", Len: 8, ErrCode: "NO_ERROR", LastStream: 7},
			`{"kind":"h2frame","conn":4,"t":"2025-03-14T19:51:02.123456789Z","from":"server","stream":0,"type":"GOAWAY","flags":0,"len":8,"code":"NO_ERROR","last_stream":7}`},
		{"h2frame window update", Event{Kind: KindH2Frame, Conn: 4, Time: t0, From: "client", FrameType: "WINDOW_UPDATE", Len: 4, Increment: 983041},
			`{"kind":"h2frame","conn":4,"t":"2025-03-14T19:51:02.123456789Z","from":"client","stream":0,"type":"WINDOW_UPDATE","flags":0,"len":4,"increment":983041}`},
		{"h2frame push promise", Event{Kind: KindH2Frame, Conn: 4, Time: t0, From: "server", Stream: 1, FrameType: "PUSH_PROMISE", Flags: 4, Len: 20, Promised: 2},
			`{"kind":"h2frame","conn":4,"t":"2025-03-14T19:51:02.123456789Z","from":"server","stream":1,"type":"PUSH_PROMISE","flags":4,"len":20,"promised":2}`},
		{"h2frame ping ack", Event{Kind: KindH2Frame, Conn: 4, Time: t0, From: "server", FrameType: "PING", Flags: 1, Len: 8, Ack: true},
			`{"kind":"h2frame","conn":4,"t":"2025-03-14T19:51:02.123456789Z","from":"server","stream":0,"type":"PING","flags":1,"len":8,"ack":true}`},
		{"h2frame unknown type", Event{Kind: KindH2Frame, Conn: 4, Time: t0, From: "client", FrameType: "0xfa", Flags: 3, Len: 9},
			`{"kind":"h2frame","conn":4,"t":"2025-03-14T19:51:02.123456789Z","from":"client","stream":0,"type":"0xfa","flags":3,"len":9}`},
		{"close h2", Event{Kind: KindClose, Conn: 4, Time: t0, BytesFromClient: 10, BytesFromServer: 20, H2: true, H2Streams: 38, H2MaxOpen: 12},
			`{"kind":"close","conn":4,"t":"2025-03-14T19:51:02.123456789Z","bytes_from_client":10,"bytes_from_server":20,"h2_streams":38,"h2_max_open":12}`},
		{"unknown kind", Event{Kind: "future", Conn: 3, Time: t0, Msg: "x"},
			`{"kind":"future","conn":3,"t":"2025-03-14T19:51:02.123456789Z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(tt.ev.AppendJSON([]byte("prefix")))
			if want := "prefix" + tt.want + "\n"; got != want {
				t.Errorf("AppendJSON:\ngot  %s\nwant %s", got, want)
			}
		})
	}
}

func TestAppendEscaped(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain ascii ~", "plain ascii ~"},
		{`"\`, `\"\\`},
		{"\n\r\t\b\f\x00\x1f\x7f", `\n\r\t\u0008\u000c\u0000\u001f` + "\x7f"},
		{"é€😀", "é€😀"},
		{"a\xffb", `a\ufffdb`},
		{"\xe2\x82", `\ufffd\ufffd`},           // truncated sequence
		{"\xed\xa0\x80", `\ufffd\ufffd\ufffd`}, // surrogate half
		{"\u2028</script>", "\u2028</script>"},
		{"\ufffd", "\ufffd"}, // a real U+FFFD is kept as it is
	}
	for _, tt := range tests {
		if got := string(appendEscaped(nil, tt.in)); got != tt.want {
			t.Errorf("appendEscaped(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := string(appendEscaped(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("appendEscaped([]byte %q) = %q, want %q", tt.in, got, tt.want)
		}
		quoted := appendJSONString(nil, tt.in)
		var back string
		if err := json.Unmarshal(quoted, &back); err != nil {
			t.Errorf("json.Unmarshal(%s): %v", quoted, err)
		}
		if want := string(bytes.ToValidUTF8([]byte(tt.in), []byte("\ufffd"))); utf8.ValidString(tt.in) && back != want {
			t.Errorf("round trip of %q gave %q", tt.in, back)
		}
	}
}

// wantKeys lists the fields docs/capture-format.md promises for e, in order.
func wantKeys(e *Event) []string {
	k := []string{"kind", "conn", "t"}
	add := func(names ...string) { k = append(k, names...) }
	addIf := func(cond bool, name string) {
		if cond {
			k = append(k, name)
		}
	}
	exchange := func() {
		addIf(e.Server != "", "server")
		add("headers")
		addIf(len(e.Trailers) > 0, "trailers")
		add("body_len")
		// issue 13: content codings and timings
		addIf(e.Decoded, "decoded_len")
		addIf(e.DecodeErr != "", "decode_error")
		if e.Kind == KindResponse {
			addIf(e.Connect > 0, "connect_ms")
			addIf(e.TLSTime > 0, "tls_ms")
			addIf(e.Timed, "send_ms")
			addIf(e.Timed && e.Wait >= 0, "wait_ms")
			addIf(e.Timed, "receive_ms")
		}
		if len(e.Body) > 0 {
			if utf8.Valid(keptText(e.Body, e.Truncated)) {
				add("body")
			} else {
				add("body_b64")
			}
		}
		if len(e.DecodedBody) > 0 {
			if utf8.Valid(keptText(e.DecodedBody, e.DecodedTruncated)) {
				add("decoded_body")
			} else {
				add("decoded_body_b64")
			}
		}
		addIf(e.Truncated, "truncated")
		addIf(e.DecodedTruncated && len(e.DecodedBody) > 0, "decoded_truncated")
	}
	switch e.Kind {
	case KindOpen:
		add("client")
		addIf(e.Server != "", "server")
		add("mode")
	case KindClose:
		add("bytes_from_client", "bytes_from_server")
		addIf(e.Err != "", "err")
		if e.WebSocket {
			addIf(e.WSClosedBy != "", "ws_closed_by")
			add("ws_close_clean")
		}
		if e.H2 {
			add("h2_streams", "h2_max_open")
		}
	case KindRequest:
		add("seq")
		addIf(e.Stream != 0, "stream")
		add("method", "target", "host", "proto")
		addIf(e.Scheme != "", "scheme")
		addIf(e.Protocol != "", "protocol")
		addIf(e.Pushed, "pushed")
		exchange()
	case KindResponse:
		add("seq")
		addIf(e.Stream != 0, "stream")
		add("status", "status_text", "proto")
		addIf(e.Reset != "", "reset")
		addIf(e.ByFrametap, "by_frametap")
		exchange()
	case KindUpgrade:
		add("seq")
		addIf(e.Stream != 0, "stream")
		add("protocol", "subprotocol", "extensions")
		addIf(e.Stream == 0, "accept_ok")
		addIf(e.Scheme != "", "scheme")
	case KindH2Frame:
		add("from", "stream", "type", "flags", "len")
		switch e.FrameType {
		case "SETTINGS":
			add("settings", "ack")
		case "RST_STREAM":
			add("code")
		case "GOAWAY":
			add("code", "last_stream")
		case "WINDOW_UPDATE":
			add("increment")
		case "PUSH_PROMISE":
			add("promised")
		case "PING":
			add("ack")
		}
	case KindTLS:
		add("side", "sni", "alpn", "version", "cipher")
		if e.Side == "server" {
			add("subject", "issuer", "verified")
		}
		addIf(e.Handshake > 0, "handshake_ms")
	case KindFrame:
		add("from")
		addIf(e.Stream != 0, "stream")
		add("fin", "rsv", "opcode", "masked", "len")
		addIf(e.Injected, "injected")
	case KindMessage:
		add("from")
		addIf(e.Stream != 0, "stream")
		add("op", "frames", "len", "wire_len", "compressed")
		addIf(e.Injected, "injected")
		switch {
		case e.Op == "close":
			add("code", "reason")
		case e.Op == "text" && utf8.Valid(keptText(e.Payload, e.Truncated)):
			add("text")
		default:
			add("data")
		}
		addIf(e.Truncated, "truncated")
	case KindError:
		addIf(e.From != "", "from")
		add("msg")
	case KindGap:
		add("lost", "since", "msg")
	case KindMeta:
		add("filter")
	}
	return k
}

// topKeys returns the keys of the JSON object line, in order.
func topKeys(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	var keys []string
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%s: want an object, got %v %v", line, tok, err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
	return keys
}

var allKinds = []Kind{KindOpen, KindClose, KindRequest, KindResponse, KindUpgrade, KindFrame, KindMessage, KindError, KindTLS, KindGap, KindH2Frame, KindMeta}

// randStream returns 0 (HTTP/1.x) half the time, else a stream.
func randStream(r *rand.Rand) uint32 {
	if r.IntN(2) == 0 {
		return 0
	}
	return 1 + r.Uint32N(1<<31-1)
}

// randString returns valid UTF-8 with quotes, backslashes, controls and
// multi-byte characters, or "" one time in four.
func randString(r *rand.Rand) string {
	if r.IntN(4) == 0 {
		return ""
	}
	alphabet := []rune{'a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\t', 0, 0x1f, 0x7f, 'é', '€', '😀', 0x2028, 0xfffd}
	rs := make([]rune, r.IntN(12))
	for i := range rs {
		rs[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(rs)
}

func randBytes(r *rand.Rand) []byte {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1: // valid UTF-8
		return []byte(randString(r) + "x")
	}
	b := make([]byte, 1+r.IntN(20))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func randHeaders(r *rand.Rand) []Header {
	n := r.IntN(4)
	if n == 0 {
		return nil
	}
	hs := make([]Header, n)
	for i := range hs {
		hs[i] = Header{randString(r), randString(r)}
	}
	return hs
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

// randEvent returns an event of kind k that sets only the fields its kind
// writes, as the decoder would build it.
func randEvent(r *rand.Rand, k Kind) *Event {
	e := &Event{Kind: k, Conn: r.Uint64(), Time: time.Unix(0, r.Int64()).UTC()}
	switch k {
	case KindOpen:
		e.Client, e.Server, e.Mode = randString(r), randString(r), pick(r, "regular", "reverse")
	case KindClose:
		e.BytesFromClient, e.BytesFromServer, e.Err = r.Int64(), r.Int64(), randString(r)
		if e.WebSocket = r.IntN(2) == 0; e.WebSocket {
			e.WSClosedBy, e.WSCloseClean = pick(r, "", "client", "server"), r.IntN(2) == 0
		}
		if e.H2 = r.IntN(2) == 0; e.H2 {
			e.H2Streams, e.H2MaxOpen = r.IntN(100000), r.IntN(1025)
		}
	case KindRequest, KindResponse:
		e.Seq, e.Proto, e.Server = 1+r.IntN(100), randString(r), randString(r)
		e.Stream = randStream(r)
		if k == KindRequest {
			e.Method, e.Target, e.Host = randString(r), randString(r), randString(r)
			e.Scheme = pick(r, "", "https", "http")
			if e.Stream != 0 {
				e.Protocol, e.Pushed = pick(r, "", "websocket"), r.IntN(4) == 0
			}
		} else {
			e.Status, e.StatusText = 100+r.IntN(500), randString(r)
			if e.Stream != 0 {
				e.Reset = pick(r, "", "CANCEL", "0x1f")
			}
		}
		e.Headers, e.Trailers = randHeaders(r), randHeaders(r)
		e.Body = randBytes(r)
		e.BodyLen = int64(len(e.Body)) + r.Int64N(2)*r.Int64N(1e9)
		e.Truncated = e.BodyLen > int64(len(e.Body))
		randHTTP(r, e) // issue 13
	case KindUpgrade:
		e.Seq, e.Protocol, e.Subprotocol, e.Extensions, e.AcceptOK = 1+r.IntN(9), randString(r), randString(r), randString(r), r.IntN(2) == 0
		e.Scheme = pick(r, "", "wss")
		if e.Stream = randStream(r); e.Stream != 0 {
			e.AcceptOK = false
		}
	case KindH2Frame:
		e.From, e.Stream, e.Flags, e.Len = pick(r, "client", "server"), randStream(r), uint8(r.Uint32()), r.Int64N(1<<24)
		e.FrameType = pick(r, "DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE", "PING", "GOAWAY", "WINDOW_UPDATE", "CONTINUATION", "0xfa")
		switch e.FrameType {
		case "SETTINGS":
			for range r.IntN(4) {
				e.Settings = append(e.Settings, Setting{pick(r, "HEADER_TABLE_SIZE", "ENABLE_CONNECT_PROTOCOL", "0x0a", randString(r)), r.Uint32()})
			}
			e.Ack = r.IntN(2) == 0
		case "RST_STREAM":
			e.ErrCode = pick(r, "NO_ERROR", "CANCEL", "0x1f")
		case "GOAWAY":
			e.ErrCode, e.LastStream = pick(r, "NO_ERROR", "PROTOCOL_ERROR"), r.Uint32()>>1
		case "WINDOW_UPDATE":
			e.Increment = r.Uint32() >> 1
		case "PUSH_PROMISE":
			e.Promised = r.Uint32() >> 1
		case "PING":
			e.Ack = r.IntN(2) == 0
		}
	case KindTLS:
		e.Side, e.SNI, e.ALPN, e.Version, e.Cipher = pick(r, "client", "server"), randString(r), pick(r, "", "http/1.1"), "TLS 1.3", randString(r)
		if e.Side == "server" {
			e.Subject, e.Issuer, e.Verified = randString(r), randString(r), r.IntN(2) == 0
		}
		e.Handshake = randMS(r)
	case KindFrame:
		e.From, e.Fin, e.RSV, e.Opcode, e.Masked, e.Len = pick(r, "client", "server"), r.IntN(2) == 0, uint8(r.IntN(8)), uint8(r.IntN(16)), r.IntN(2) == 0, r.Int64()
		e.Stream = randStream(r)
		e.Injected = r.IntN(4) == 0
	case KindMessage:
		e.From, e.Op, e.Frames = pick(r, "client", "server"), pick(r, "text", "binary", "ping", "pong", "close"), 1+r.IntN(5)
		e.Stream = randStream(r)
		e.Injected = r.IntN(4) == 0
		e.Len, e.WireLen, e.Compressed = r.Int64N(1<<40), r.Int64N(1<<40), r.IntN(2) == 0
		if e.Op == "close" {
			e.Code, e.Reason = pick(r, 0, 1000, 1001, 4000), randString(r)
		} else {
			e.Payload = randBytes(r)
			e.Truncated = r.IntN(3) == 0
		}
	case KindError:
		e.From, e.Msg = pick(r, "", "client", "server"), randString(r)
	case KindGap:
		e.Conn, e.Lost, e.Since, e.Msg = 0, r.Int64(), time.Unix(0, r.Int64()).UTC(), randString(r)
	case KindMeta:
		e.Conn, e.Filter = 0, randString(r)
	}
	return e
}

func newRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

func TestRoundTrip(t *testing.T) {
	r := newRand()
	for i := range 5000 {
		want := randEvent(r, allKinds[i%len(allKinds)])
		line := want.AppendJSON(nil)
		if !json.Valid(line) {
			t.Fatalf("invalid JSON: %s", line)
		}
		if line[len(line)-1] != '\n' || bytes.Count(line, []byte("\n")) != 1 {
			t.Fatalf("not one line: %q", line)
		}
		if got, wantK := topKeys(t, line), wantKeys(want); !slices.Equal(got, wantK) {
			t.Fatalf("%s\nkeys %v\nwant %v", line, got, wantK)
		}
		got := new(Event)
		if err := json.Unmarshal(line, got); err != nil {
			t.Fatalf("Unmarshal(%s): %v", line, err)
		}
		// Text cut inside a UTF-8 sequence is written without the
		// incomplete sequence at its end.
		if text := keptText(want.Body, want.Truncated); utf8.Valid(text) && len(text) > 0 {
			want.Body = text
		}
		if text := keptText(want.Payload, want.Truncated); want.Op == "text" && utf8.Valid(text) && len(text) > 0 {
			want.Payload = text
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip of %s\ngot  %+v\nwant %+v", line, got, want)
		}
	}
}

func TestMarshalJSON(t *testing.T) {
	e := &Event{Kind: KindFrame, Conn: 1, Time: t0, From: "server", Fin: true, Opcode: 2, Len: 3}
	got, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if want := bytes.TrimSuffix(e.AppendJSON(nil), []byte("\n")); !bytes.Equal(got, want) {
		t.Errorf("json.Marshal = %s, want %s", got, want)
	}
}

func TestUnmarshalJSONErrors(t *testing.T) {
	for _, in := range []string{`{}`, `{"conn":1}`, `{"kind":"open","t":"yesterday"}`, `{"kind":"request","body_b64":"!!"}`, `[1]`, `{"kind":"open","conn":-1}`} {
		var e Event
		if err := json.Unmarshal([]byte(in), &e); err == nil {
			t.Errorf("Unmarshal(%s) = nil error, want one", in)
		}
	}
}

func frameEvent() *Event {
	return &Event{Kind: KindFrame, Conn: 12345, Time: time.Now(), From: "client", Fin: true, Opcode: 1, Masked: true, Len: 125}
}

func messageEvent() *Event {
	return &Event{Kind: KindMessage, Conn: 12345, Time: time.Now(), From: "server", Op: "text", Frames: 1, Len: 64, WireLen: 64,
		Payload: []byte(`{"type":"update","id":42,"value":"héllo \"world\"","ok":true}`)}
}

func binaryEvent() *Event {
	e := messageEvent()
	e.Op, e.Payload = "binary", bytes.Repeat([]byte{0, 1, 2, 0xff}, 16)
	return e
}

func TestAppendJSONAllocs(t *testing.T) {
	for name, e := range map[string]*Event{"frame": frameEvent(), "text message": messageEvent(), "binary message": binaryEvent()} {
		buf := make([]byte, 0, 4096)
		if n := testing.AllocsPerRun(100, func() { buf = e.AppendJSON(buf[:0]) }); n != 0 {
			t.Errorf("AppendJSON of a %s: %v allocations, want 0", name, n)
		}
	}
}

func BenchmarkAppendJSON(b *testing.B) {
	for _, bc := range []struct {
		name string
		ev   *Event
	}{{"frame", frameEvent()}, {"message", messageEvent()}, {"binary", binaryEvent()}} {
		b.Run(bc.name, func(b *testing.B) {
			buf := bc.ev.AppendJSON(nil)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				buf = bc.ev.AppendJSON(buf[:0])
			}
		})
	}
}

func BenchmarkAppendText(b *testing.B) {
	ev := messageEvent()
	buf := ev.AppendText(nil)
	b.ReportAllocs()
	for b.Loop() {
		buf = ev.AppendText(buf[:0])
	}
}

func ExampleEvent_AppendJSON() {
	e := &Event{Kind: KindFrame, Conn: 3, Time: time.Date(2025, 3, 14, 19, 51, 2, 126e6, time.UTC),
		From: "client", Fin: true, Opcode: 1, Masked: true, Len: 5}
	os.Stdout.Write(e.AppendJSON(nil))
	// Output:
	// {"kind":"frame","conn":3,"t":"2025-03-14T19:51:02.126Z","from":"client","fin":true,"rsv":0,"opcode":1,"masked":true,"len":5}
}
