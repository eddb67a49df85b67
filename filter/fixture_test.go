package filter

import (
	"strings"
	"time"

	"github.com/frametap/frametap/capture"
)

// labelled is an event of the test capture with a name to refer to it.
type labelled struct {
	label string
	ev    capture.Event
}

var t0 = time.Date(2025, 3, 14, 19, 51, 2, 0, time.UTC)

// fixture returns a capture of three connections whose events cover every
// atom, interleaved as frametap writes them (each connection in order):
//
//	c1: reverse mode, a keep-alive GET, then an upgrade to WebSocket with
//	    permessage-deflate: a compressed client JSON message, a fragmented
//	    server Socket.IO message with a ping between its frames, closes
//	    1000 "bye" and 1002
//	c2: regular mode, a CONNECT tunnel with TLS intercepted, a POST of JSON
//	    credentials answered 401, an error, a close with an error
//	c3: HTTP/2 over TLS, an SSE response, an sse and an h2frame event
func fixture() []labelled {
	c1 := []labelled{
		{"c1.open", capture.Event{Kind: capture.KindOpen, Client: "127.0.0.1:5001", Server: "example.com:80", Mode: "reverse"}},
		{"c1.req1", capture.Event{Kind: capture.KindRequest, Seq: 1, Method: "GET", Target: "/", Host: "example.com", Proto: "HTTP/1.1", Server: "example.com:80",
			Headers: []capture.Header{{"Host", "example.com"}, {"User-Agent", "curl/8.5.0"}}}},
		{"c1.resp1", capture.Event{Kind: capture.KindResponse, Seq: 1, Status: 200, StatusText: "OK", Proto: "HTTP/1.1", Server: "example.com:80",
			Headers: []capture.Header{{"Content-Type", "text/html"}}, BodyLen: 19, Body: []byte("<title>chat</title>")}},
		{"c1.req2", capture.Event{Kind: capture.KindRequest, Seq: 2, Method: "GET", Target: "/chat", Host: "example.com", Proto: "HTTP/1.1", Server: "example.com:80",
			Headers: []capture.Header{{"Host", "example.com"}, {"Upgrade", "websocket"}, {"Connection", "Upgrade"}}}},
		{"c1.resp2", capture.Event{Kind: capture.KindResponse, Seq: 2, Status: 101, StatusText: "Switching Protocols", Proto: "HTTP/1.1", Server: "example.com:80",
			Headers: []capture.Header{{"Upgrade", "websocket"}, {"Sec-WebSocket-Extensions", "permessage-deflate"}}}},
		{"c1.upg", capture.Event{Kind: capture.KindUpgrade, Seq: 2, Protocol: "websocket", Extensions: "permessage-deflate", AcceptOK: true}},
		{"c1.f1", capture.Event{Kind: capture.KindFrame, From: "client", Fin: true, RSV: 4, Opcode: 1, Masked: true, Len: 30}},
		{"c1.m1", capture.Event{Kind: capture.KindMessage, From: "client", Op: "text", Frames: 1, Len: 44, WireLen: 30, Compressed: true,
			Payload: []byte(`{"type":"Order","qty":3,"items":[{"id":7}],"x":{"type":"order"}}`)}},
		{"c1.f2", capture.Event{Kind: capture.KindFrame, From: "server", Opcode: 1, Len: 3}},
		{"c1.f3", capture.Event{Kind: capture.KindFrame, From: "server", Fin: true, Opcode: 9, Len: 0}},
		{"c1.m2", capture.Event{Kind: capture.KindMessage, From: "server", Op: "ping", Frames: 1}},
		{"c1.f4", capture.Event{Kind: capture.KindFrame, From: "server", Fin: true, Opcode: 0, Len: 21}},
		{"c1.m3", capture.Event{Kind: capture.KindMessage, From: "server", Op: "text", Frames: 2, Len: 24, WireLen: 24, Payload: []byte(`42["chat",{"text":"hi"}]`)}},
		{"c1.f5", capture.Event{Kind: capture.KindFrame, From: "client", Fin: true, Opcode: 8, Masked: true, Len: 5}},
		{"c1.m4", capture.Event{Kind: capture.KindMessage, From: "client", Op: "close", Frames: 1, Len: 5, WireLen: 5, Code: 1000, Reason: "bye"}},
		{"c1.f6", capture.Event{Kind: capture.KindFrame, From: "server", Fin: true, Opcode: 8, Len: 2}},
		{"c1.m5", capture.Event{Kind: capture.KindMessage, From: "server", Op: "close", Frames: 1, Len: 2, WireLen: 2, Code: 1002}},
		{"c1.close", capture.Event{Kind: capture.KindClose, BytesFromClient: 629, BytesFromServer: 518, WebSocket: true, WSClosedBy: "client", WSCloseClean: true}},
	}
	c2 := []labelled{
		{"c2.open", capture.Event{Kind: capture.KindOpen, Client: "127.0.0.1:5002", Mode: "regular"}},
		{"c2.req1", capture.Event{Kind: capture.KindRequest, Seq: 1, Method: "CONNECT", Target: "api.test:443", Host: "api.test:443", Proto: "HTTP/1.1", Server: "api.test:443",
			Headers: []capture.Header{{"Host", "api.test:443"}}}},
		{"c2.resp1", capture.Event{Kind: capture.KindResponse, Seq: 1, Status: 200, StatusText: "Connection established", Proto: "HTTP/1.1", Server: "api.test:443"}},
		{"c2.tls1", capture.Event{Kind: capture.KindTLS, Side: "server", SNI: "api.test", ALPN: "http/1.1", Version: "TLS 1.3", Verified: true}},
		{"c2.tls2", capture.Event{Kind: capture.KindTLS, Side: "client", SNI: "api.test", ALPN: "http/1.1", Version: "TLS 1.3"}},
		{"c2.req2", capture.Event{Kind: capture.KindRequest, Seq: 2, Method: "POST", Target: "/v1/login?next=%2F", Host: "api.test", Proto: "HTTP/1.1", Scheme: "https", Server: "api.test:443",
			Headers: []capture.Header{{"Host", "api.test"}, {"Authorization", "Basic YWRhOng="}, {"Content-Type", "application/json"}},
			BodyLen: 32, Body: []byte(`{"user": "ada", "password":"x"}`)}},
		{"c2.resp2", capture.Event{Kind: capture.KindResponse, Seq: 2, Status: 401, StatusText: "Unauthorized", Proto: "HTTP/1.1", Server: "api.test:443",
			Headers: []capture.Header{{"Set-Cookie", "s=1"}, {"Content-Type", "application/json"}}, BodyLen: 29, Body: []byte(`{"ok":false,"error":"denied"}`)}},
		{"c2.err", capture.Event{Kind: capture.KindError, From: "server", Msg: "decode: bad chunk size"}},
		{"c2.close", capture.Event{Kind: capture.KindClose, BytesFromClient: 300, BytesFromServer: 200, Err: "connection reset by peer"}},
	}
	c3 := []labelled{
		{"c3.open", capture.Event{Kind: capture.KindOpen, Client: "[::1]:5003", Server: "push.test:443", Mode: "reverse"}},
		{"c3.tls", capture.Event{Kind: capture.KindTLS, Side: "client", SNI: "push.test", ALPN: "h2", Version: "TLS 1.3"}},
		{"c3.req", capture.Event{Kind: capture.KindRequest, Seq: 1, Method: "GET", Target: "/events", Host: "push.test", Proto: "HTTP/2.0", Scheme: "https", Server: "push.test:443",
			Headers: []capture.Header{{":method", "GET"}, {":path", "/events"}}}},
		{"c3.resp", capture.Event{Kind: capture.KindResponse, Seq: 1, Status: 200, Proto: "HTTP/2.0", Server: "push.test:443",
			Headers: []capture.Header{{":status", "200"}, {"content-type", "Text/Event-Stream; charset=utf-8"}}}},
		{"c3.sse", capture.Event{Kind: kindSSE, Seq: 1, Len: 20}},
		{"c3.h2f", capture.Event{Kind: kindH2Frame, Len: 9}},
		{"c3.close", capture.Event{Kind: capture.KindClose, BytesFromClient: 100, BytesFromServer: 900}},
	}
	// Interleave: each connection keeps its order.
	var out []labelled
	lists := [][]labelled{c1, c2, c3}
	conns := []uint64{1, 2, 3}
	for step := 0; len(out) < len(c1)+len(c2)+len(c3); step++ {
		for i, l := range lists {
			take := 1 + step%2 // uneven, so the interleaving varies
			for ; take > 0 && len(l) > 0; take-- {
				e := l[0]
				e.ev.Conn = conns[i]
				e.ev.Time = t0.Add(time.Duration(len(out)) * time.Millisecond)
				out = append(out, e)
				l = l[1:]
			}
			lists[i] = l
		}
	}
	return out
}

// labels returns the labels of the events sel marks, space-separated, in
// the order of the labels in want (so a mismatch reads well).
func labels(fx []labelled, sel []bool) string {
	var got []string
	for i, ok := range sel {
		if ok {
			got = append(got, fx[i].label)
		}
	}
	return strings.Join(sortLabels(got), " ")
}

// sortLabels orders labels by connection, then by their position in the
// fixture's lists (c1.f2 before c1.m2 before c1.f4).
func sortLabels(ls []string) []string {
	order := map[string]int{}
	for i, l := range fixtureOrder() {
		order[l] = i
	}
	out := append([]string(nil), ls...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && order[out[j]] < order[out[j-1]]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func fixtureOrder() []string {
	fx := fixture()
	var ls []string
	for c := "c1"; c <= "c3"; c = string([]byte{'c', c[1] + 1}) {
		for _, l := range fx {
			if strings.HasPrefix(l.label, c+".") {
				ls = append(ls, l.label)
			}
		}
	}
	return ls
}

// expand turns "c1.*" and "c1.f*"-style patterns into labels.
func expand(spec string) string {
	var out []string
	for _, p := range strings.Fields(spec) {
		if !strings.HasSuffix(p, "*") {
			out = append(out, p)
			continue
		}
		for _, l := range fixtureOrder() {
			if strings.HasPrefix(l, strings.TrimSuffix(p, "*")) {
				out = append(out, l)
			}
		}
	}
	return strings.Join(sortLabels(out), " ")
}

// without removes labels from a spec's expansion.
func without(spec string, drop ...string) string {
	var out []string
	for _, l := range strings.Fields(expand(spec)) {
		keep := true
		for _, d := range drop {
			if l == d {
				keep = false
			}
		}
		if keep {
			out = append(out, l)
		}
	}
	return strings.Join(out, " ")
}
