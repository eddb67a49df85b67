package contentview

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

type viewCase struct {
	name    string
	v       View
	summary string
	err     string // a part of Err; "" when the message parses
	fields  string // "name=value" pairs that must be among the fields, ";"-separated
	body    string
}

func checkViews(t *testing.T, tests []viewCase) {
	t.Helper()
	for _, tt := range tests {
		v := tt.v
		if v.Summary != tt.summary {
			t.Errorf("%s: summary %q, want %q", tt.name, v.Summary, tt.summary)
		}
		switch {
		case tt.err == "" && v.Err != "":
			t.Errorf("%s: error %q, want none", tt.name, v.Err)
		case tt.err != "" && !strings.Contains(v.Err, tt.err):
			t.Errorf("%s: error %q, want one with %q", tt.name, v.Err, tt.err)
		}
		have := map[string]bool{}
		for _, f := range v.Fields {
			have[f.Name+"="+f.Value] = true
		}
		for want := range strings.SplitSeq(tt.fields, ";") {
			if want != "" && !have[want] {
				t.Errorf("%s: no field %q in %q", tt.name, want, v.Fields)
			}
		}
		if string(v.Body) != tt.body {
			t.Errorf("%s: body %q, want %q", tt.name, v.Body, tt.body)
		}
	}
}

func TestGraphQL(t *testing.T) {
	tw := func(s string) View { return GraphQL([]byte(s), true) }
	lg := func(s string) View { return GraphQL([]byte(s), false) }
	checkViews(t, []viewCase{
		{"init", tw(`{"type":"connection_init","payload":{"token":"x"}}`), "connection_init", "", `type=connection_init;payload={"token":"x"}`, ""},
		{"subscribe", tw(`{"id":"1","type":"subscribe","payload":{"query":"subscription OnPrice($s: String) {\n  price(sym: $s) { value }\n}","variables":{"s":"ABC"}}}`),
			"subscribe id=1 subscription OnPrice", "", `id=1;operation=subscription OnPrice;variables={"s":"ABC"};query=subscription OnPrice($s: String) { price(sym: $s) { value } }`, ""},
		{"operationName picks", tw(`{"id":"2","type":"subscribe","payload":{"query":"query A { a } mutation B { b }","operationName":"B"}}`), "subscribe id=2 mutation B", "", "operation=mutation B", ""},
		{"first operation after a fragment", tw(`{"id":"2","type":"subscribe","payload":{"query":"fragment F on T { x } query Q($query: Int) { ...F }"}}`), "subscribe id=2 query Q", "", "", ""},
		{"shorthand", tw(`{"id":"3","type":"subscribe","payload":{"query":"{ hello }"}}`), "subscribe id=3 query", "", "operation=query", ""},
		{"anonymous subscription", tw(`{"id":"3","type":"subscribe","payload":{"query":"# a comment { \nsubscription { tick(s: \"{ }\") }"}}`), "subscribe id=3 subscription", "", "", ""},
		{"next", tw(`{"id":"1","type":"next","payload":{"data":{"price":{"value":1},"at":2}}}`), "next id=1 at,price", "", "data=at, price", ""},
		{"next with errors", tw(`{"id":"1","type":"next","payload":{"errors":[{"message":"x"}]}}`), "next id=1 errors=1", "", "", ""},
		{"error", tw(`{"id":"2","type":"error","payload":[{"message":"boom"}]}`), "error id=2: boom", "", "message=boom", ""},
		{"complete", tw(`{"id":"1","type":"complete"}`), "complete id=1", "", "", ""},
		{"ping", tw(`{"type":"ping"}`), "ping", "", "", ""},
		{"legacy start", lg(`{"type":"start","id":"1","payload":{"query":"subscription S { s }"}}`), "start id=1 subscription S", "", "", ""},
		{"legacy keep-alive", lg(`{"type":"ka"}`), "ka", "", "", ""},
		{"legacy data", lg(`{"type":"data","id":"1","payload":{"data":{"s":1}}}`), "data id=1 s", "", "", ""},
		{"legacy connection error", lg(`{"type":"connection_error","payload":{"message":"denied"}}`), "connection_error: denied", "", "", ""},
		// Bad input: described as far as it goes.
		{"not JSON", tw(`{"type":`), "", "not a JSON object", "", ""},
		{"not an object", tw(`[1]`), "", "not a JSON object", "", ""},
		{"no type", tw(`{"id":"1"}`), "", "no type field", "", ""},
		{"legacy type in the new protocol", tw(`{"type":"start","id":"1","payload":{"query":"{ a }"}}`), "start id=1 query", `unknown message type "start"`, "", ""},
		{"subscribe without id", tw(`{"type":"subscribe","payload":{"query":"{ a }"}}`), "subscribe query", "without the id", "", ""},
		{"subscribe without query", tw(`{"id":"1","type":"subscribe","payload":{}}`), "subscribe id=1", "no query", "", ""},
		{"numeric id", tw(`{"id":1,"type":"complete"}`), "complete id=1", "id is not a string", "", ""},
	})
}

func TestSTOMP(t *testing.T) {
	st := func(s string) View { return STOMP([]byte(s), "1.2") }
	checkViews(t, []viewCase{
		{"connect", st("CONNECT\naccept-version:1.2\nhost:example\n\n\x00"), "CONNECT accept-version=1.2 host=example", "", "command=CONNECT;accept-version=1.2;host=example", ""},
		{"send", st("SEND\ndestination:/queue/a\ncontent-type:text/plain\n\nhello\x00"), "SEND destination=/queue/a (5 bytes)", "", "body=hello;content-type=text/plain", "hello"},
		{"message with content-length, CRLF and EOLs after", st("MESSAGE\r\nsubscription:0\r\nmessage-id:007\r\ndestination:/queue/a\r\ncontent-length:5\r\n\r\nhe\x00lo\x00\n\n"),
			"MESSAGE destination=/queue/a subscription=0 message-id=007 (5 bytes)", "", "", "he\x00lo"},
		{"heart-beat", st("\n"), "heart-beat ×1", "", "", ""},
		{"heart-beats CRLF", st("\r\n\r\n"), "heart-beat ×2", "", "", ""},
		{"two frames", st("SEND\ndestination:/a\n\nx\x00\nSEND\ndestination:/b\n\ny\x00"), "SEND destination=/a (1 bytes) (+1 frames)", "", "frame=2;destination=/b;body=y", ""},
		{"escapes", st("SEND\ndestination:/a\\cb\nfoo:l1\\nl2\\\\\n\n\x00"), "SEND destination=/a:b", "", "foo=l1\nl2\\", ""},
		{"CONNECT is not escaped", st("CONNECT\nlogin:a\\cb\n\n\x00"), "CONNECT", "", `login=a\cb`, ""},
		{"1.0 is not escaped", STOMP([]byte("SEND\ndestination:/a\\cb\n\n\x00"), "1.0"), `SEND destination=/a\cb`, "", "", ""},
		{"1.1 has no \\r", STOMP([]byte("SEND\ndestination:/a\\r\n\n\x00"), "1.1"), `SEND destination=/a\r`, "undefined escape", "", ""},
		{"repeated header: the first", st("MESSAGE\ndestination:/a\ndestination:/b\n\n\x00"), "MESSAGE destination=/a", "", "destination=/b", ""},
		// Bad input.
		{"unknown command", st("HELLO\n\n\x00"), "HELLO", "unknown command", "", ""},
		{"no NUL", st("SEND\ndestination:/a\n\nbody"), "SEND destination=/a (4 bytes)", "without the NUL", "", "body"},
		{"no empty line", st("SEND\ndestination:/a\n"), "SEND", "without the empty line", "", ""},
		{"no EOL", st("SEND"), "SEND", "without its EOL", "", ""},
		{"header without colon", st("SEND\nbogus\n\n\x00"), "SEND", "without a colon", "", ""},
		{"content-length too long", st("SEND\ncontent-length:10\n\nabc\x00"), "SEND (4 bytes)", "content-length 10", "", "abc\x00"},
		{"content-length not a number", st("SEND\ncontent-length:x\n\nabc\x00"), "SEND (3 bytes)", "not a length", "", "abc"},
		{"undefined escape", st("SEND\ndestination:\\t\n\n\x00"), `SEND destination=\t`, "undefined escape", "", ""},
		{"empty", st(""), "heart-beat ×0", "empty message", "", ""},
		{"not UTF-8", st("SEND\nx:\xff\n\n\x00"), "SEND", "not UTF-8", "", ""},
	})
}

// mqttBytes builds a packet: the fixed header's first byte, then the body
// with its remaining length.
func mqttBytes(first byte, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	out := []byte{first}
	n := len(b)
	for {
		c := byte(n % 128)
		n /= 128
		if n > 0 {
			c |= 0x80
		}
		out = append(out, c)
		if n == 0 {
			break
		}
	}
	return append(out, b...)
}

func mstr(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }

func TestMQTT(t *testing.T) {
	connect4 := mqttBytes(0x10, mstr("MQTT"), []byte{4, 0x02, 0, 60}, mstr("abc"))
	connect5 := mqttBytes(0x10, mstr("MQTT"), []byte{5, 0xc6, 0, 30}, []byte{5, 0x11, 0, 0, 0, 10}, mstr("abc"), []byte{0}, mstr("will/t"), mstr("bye"), mstr("user"), mstr("pw"))
	publish0 := mqttBytes(0x30, mstr("prices/ABC"), []byte(`{"p":1}`))
	publish1 := mqttBytes(0x32, mstr("prices/ABC"), []byte{0, 7}, []byte(`{"p":2}`))
	publish5 := mqttBytes(0x3b, mstr("prices/ABC"), []byte{0, 7}, []byte{3, 0x01, 0x01, 0x23}, []byte(`x`))
	subscribe := mqttBytes(0x82, []byte{0, 1}, mstr("a/b"), []byte{1}, mstr("c/#"), []byte{0})
	m := func(p []byte) View { return MQTT(p, 4) }
	m5 := func(p []byte) View { return MQTT(p, 5) }
	checkViews(t, []viewCase{
		{"connect 3.1.1", m(connect4), "CONNECT client-id=abc MQTT 3.1.1 keep-alive=60s", "", "client id=abc;protocol=MQTT level 4 (MQTT 3.1.1);clean session=true;remaining length=15", ""},
		{"connect 3.1", m(mqttBytes(0x10, mstr("MQIsdp"), []byte{3, 0x02, 0, 60}, mstr("abc"))), "CONNECT client-id=abc MQTT 3.1 keep-alive=60s", "", "", ""},
		{"connect 5 with will and login", m5(connect5), "CONNECT client-id=abc MQTT 5.0 keep-alive=30s", "", "properties=5 bytes;will topic=will/t;will message=bye;user name=user;password=(2 bytes)", ""},
		{"connack", m([]byte{0x20, 2, 1, 0}), "CONNACK return=0x00", "", "session present=true", ""},
		{"connack 5", m5([]byte{0x20, 3, 0, 0x87, 0}), "CONNACK reason=0x87", "", "", ""},
		{"publish qos 0", m(publish0), "PUBLISH prices/ABC qos=0 (7 bytes)", "", `topic=prices/ABC;payload={"p":1}`, `{"p":1}`},
		{"publish qos 1", m(publish1), "PUBLISH prices/ABC qos=1 id=7 (7 bytes)", "", "packet id=7;qos=1", `{"p":2}`},
		{"publish 5 with properties, dup and retain", m5(publish5), "PUBLISH prices/ABC qos=1 id=7 (1 bytes)", "", "properties=3 bytes;dup=true;retain=true", "x"},
		{"puback", m([]byte{0x40, 2, 0, 7}), "PUBACK id=7", "", "", ""},
		{"puback 5", m5([]byte{0x40, 4, 0, 7, 0x10, 0}), "PUBACK id=7 reason=0x10", "", "", ""},
		{"pubrel", m([]byte{0x62, 2, 0, 7}), "PUBREL id=7", "", "", ""},
		{"subscribe", m(subscribe), "SUBSCRIBE id=1 a/b (qos 1), c/# (qos 0)", "", "topic=a/b (qos 1);topic=c/# (qos 0)", ""},
		{"suback", m([]byte{0x90, 4, 0, 1, 1, 0x80}), "SUBACK id=1 0x01,0x80", "", "", ""},
		{"unsubscribe", m(mqttBytes(0xa2, []byte{0, 2}, mstr("a/b"))), "UNSUBSCRIBE id=2 a/b", "", "", ""},
		{"unsuback", m([]byte{0xb0, 2, 0, 2}), "UNSUBACK id=2", "", "", ""},
		{"ping", m([]byte{0xc0, 0}), "PINGREQ", "", "", ""},
		{"disconnect 5", m5([]byte{0xe0, 2, 0x8e, 0}), "DISCONNECT reason=0x8e", "", "", ""},
		{"two packets", m(append([]byte{0xd0, 0}, publish0...)), "PINGRESP (+1 packets)", "", "packet=2;topic=prices/ABC", ""},
		{"big remaining length", m(mqttBytes(0x30, mstr("t"), bytes.Repeat([]byte("x"), 300))), "PUBLISH t qos=0 (300 bytes)", "", "remaining length=303", strings.Repeat("x", 300)},
		// Bad input, and packets cut by the end of the message.
		{"continues in the next message", m(publish0[:10]), "PUBLISH", "continues in the next one", "", ""},
		{"header cut", m([]byte{0x30, 0x80}), "PUBLISH", "continues in the next one", "", ""},
		{"malformed length", m([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x7f}), "PUBLISH", "more than 4 bytes", "", ""},
		{"subscribe flags", m(append([]byte{0x80}, subscribe[1:]...)), "SUBSCRIBE id=1 a/b (qos 1), c/# (qos 0)", "must be 0010", "", ""},
		{"qos 3", m(mqttBytes(0x36, mstr("t"))), "PUBLISH", "QoS 3", "", ""},
		{"reserved type", m([]byte{0x00, 0}), "reserved", "reserved", "", ""},
		{"auth before 5", m([]byte{0xf0, 0}), "AUTH", "reserved", "", ""},
		{"topic not UTF-8", m(mqttBytes(0x30, mstr("a\xff"))), "PUBLISH", "not UTF-8", "", ""},
		{"subscribe without topics", m(mqttBytes(0x82, []byte{0, 1})), "SUBSCRIBE id=1", "no topic filter", "", ""},
		{"bytes past the connect", m(mqttBytes(0x10, mstr("MQTT"), []byte{4, 0x02, 0, 60}, mstr("abc"), []byte{1})), "CONNECT client-id=abc MQTT 3.1.1 keep-alive=60s", "past the packet", "", ""},
		{"not a version", m(mqttBytes(0x10, mstr("MQTT"), []byte{9, 0x02, 0, 60}, mstr("abc"))), "CONNECT client-id=abc MQTT  keep-alive=60s", "no MQTT version", "", ""},
		{"empty", m(nil), "", "empty message", "", ""},
	})
	if l, ok := MQTTLevel(connect5); l != 5 || !ok {
		t.Errorf("MQTTLevel of a 5.0 CONNECT: %d %v", l, ok)
	}
	if _, ok := MQTTLevel(publish0); ok {
		t.Errorf("MQTTLevel of a PUBLISH: ok")
	}
}

func TestJSONRPC(t *testing.T) {
	j := func(s string) View {
		v, ok := JSONRPC([]byte(s))
		if !ok {
			return View{Summary: "(not JSON-RPC)"}
		}
		return v
	}
	checkViews(t, []viewCase{
		{"request", j(`{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":1}`), "request subtract id=1", "", "request=subtract;params=[42,23];id=1", ""},
		{"notification", j(`{"jsonrpc":"2.0","method":"update","params":{"a":1}}`), "notification update", "", "notification=update", ""},
		{"response", j(` {"jsonrpc":"2.0","result":19,"id":"a"}`), `response id="a"`, "", "result=19", ""},
		{"null result", j(`{"jsonrpc":"2.0","result":null,"id":3}`), "response id=3", "", "result=null", ""},
		{"error", j(`{"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": "1"}`), `error id="1" -32601 Method not found`, "", "code=-32601", ""},
		{"batch", j(`[{"jsonrpc":"2.0","method":"sum","params":[1,2,4],"id":"1"},{"jsonrpc":"2.0","method":"notify_hello","params":[7]}]`), `batch of 2: request sum id="1"`, "", "call=2;notification=notify_hello", ""},
		{"not JSON-RPC: no member", j(`{"a":1}`), "(not JSON-RPC)", "", "", ""},
		{"not JSON-RPC: a string mentions it", j(`{"a":"jsonrpc"}`), "(not JSON-RPC)", "", "", ""},
		{"not JSON-RPC: array", j(`[1,"jsonrpc"]`), "(not JSON-RPC)", "", "", ""},
		{"not JSON-RPC: text", j(`hello jsonrpc`), "(not JSON-RPC)", "", "", ""},
		{"version 1", j(`{"jsonrpc":"1.0","method":"m","id":1}`), "request m id=1", `must be exactly "2.0"`, "", ""},
		{"result and error", j(`{"jsonrpc":"2.0","result":1,"error":{"code":1,"message":"x"},"id":1}`), "error id=1 1 x", "both a result and an error", "", ""},
		{"params not structured", j(`{"jsonrpc":"2.0","method":"m","params":"x"}`), "notification m", "params must be", "", ""},
		{"error without code", j(`{"jsonrpc":"2.0","error":{"message":"x"},"id":1}`), "error id=1 x", "without its code", "", ""},
		{"response without id", j(`{"jsonrpc":"2.0","result":1}`), "response id=", "without an id", "", ""},
		{"id of a bad type", j(`{"jsonrpc":"2.0","method":"m","id":{}}`), "request m id={}", "id must be", "", ""},
		{"nothing", j(`{"jsonrpc":"2.0"}`), "json-rpc", "neither", "", ""},
		{"broken", j(`{"jsonrpc":"2.0",`), "", "not JSON", "", ""},
		{"bad batch element", j(`[{"jsonrpc":"2.0","method":"a"},3]`), "batch of 2: notification a", "batch element 2", "", ""},
	})
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		sub, payload string
		text         bool
		protocol     string
		ok           bool
		err          string
	}{
		{"graphql-transport-ws", `{"type":"ping"}`, true, "graphql-transport-ws", true, ""},
		{"graphql-ws", `{"type":"ka"}`, true, "graphql-ws", true, ""},
		{"v12.stomp", "SEND\ndestination:/a\\cb\n\n\x00", true, "stomp", true, ""},
		{"V10.STOMP", "SEND\ndestination:/a\\cb\n\n\x00", true, "stomp", true, ""},
		{"stomp", "\n", true, "stomp", true, ""},
		{"mqtt", "\xc0\x00", false, "mqtt", true, ""},
		{"mqttv3.1", "\xc0\x00", true, "mqtt", true, "text message"},
		{"mqtt", "garbage", false, "mqtt", true, "continues"},
		{"", `{"jsonrpc":"2.0","method":"m"}`, true, "json-rpc", true, ""},
		{"chat", `{"jsonrpc":"2.0","method":"m"}`, true, "json-rpc", true, ""},
		{"chat", `{"hello":1}`, true, "", false, ""},
		{"", "\x00\x01", false, "", false, ""},
	}
	for _, tt := range tests {
		v, ok := Describe(tt.sub, []byte(tt.payload), tt.text, Options{})
		if ok != tt.ok || v.Protocol != tt.protocol || !strings.Contains(v.Err, tt.err) || tt.err == "" && v.Err != "" {
			t.Errorf("%q %q: got %q ok=%v err=%q; want %q ok=%v err %q", tt.sub, tt.payload, v.Protocol, ok, v.Err, tt.protocol, tt.ok, tt.err)
		}
	}
	v, _ := Describe("v10.stomp", []byte("SEND\ndestination:/a\\cb\n\n\x00"), true, Options{})
	if v.Summary != `SEND destination=/a\cb` {
		t.Errorf("v10.stomp unescaped: %q", v.Summary)
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("é", fieldMax)
	got := clip([]byte(long))
	if !utf8.ValidString(got) || len(got) > fieldMax+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("clip of %d bytes: %d bytes %q…", len(long), len(got), got[:10])
	}
	if got := clip([]byte("a\xffb")); got != "a\uFFFDb" {
		t.Errorf("clip of invalid UTF-8: %q", got)
	}
}

// checkFuzzView checks what any input may give: no panic (the caller), a
// reason or a summary, a body that is part of the message, fields within
// their bound.
func checkFuzzView(t *testing.T, in []byte, v View) {
	if v.Err == "" && v.Summary == "" {
		t.Fatalf("%q: no summary and no error", in)
	}
	if v.Body != nil && !bytes.Contains(in, v.Body) {
		t.Fatalf("%q: body %q is not in the message", in, v.Body)
	}
	if len(v.Fields) > 64*viewMaxFrames {
		t.Fatalf("%q: %d fields", in, len(v.Fields))
	}
	for _, f := range v.Fields {
		if len(f.Value) > fieldMax+len("…") || !utf8.ValidString(f.Value) {
			t.Fatalf("%q: field %s=%q past the bound or not UTF-8", in, f.Name, f.Value)
		}
	}
}

func FuzzMQTT(f *testing.F) {
	f.Add(mqttBytes(0x10, mstr("MQTT"), []byte{5, 0xc6, 0, 30}, []byte{5, 0x11, 0, 0, 0, 10}, mstr("abc"), []byte{0}, mstr("will/t"), mstr("bye"), mstr("user"), mstr("pw")), byte(5))
	f.Add(append([]byte{0xd0, 0}, mqttBytes(0x32, mstr("prices/ABC"), []byte{0, 7}, []byte(`{"p":2}`))...), byte(4))
	f.Add(mqttBytes(0x82, []byte{0, 1}, mstr("a/b"), []byte{1}, mstr("c/#"), []byte{0}), byte(5))
	f.Add([]byte{0x90, 4, 0, 1, 1, 0x80}, byte(3))
	f.Fuzz(func(t *testing.T, in []byte, level byte) {
		v := MQTT(in, level%6)
		checkFuzzView(t, in, v)
		MQTTLevel(in)
	})
}

func FuzzSTOMP(f *testing.F) {
	f.Add([]byte("MESSAGE\r\nsubscription:0\r\nmessage-id:007\r\ndestination:/queue/a\r\ncontent-length:5\r\n\r\nhe\x00lo\x00\n\n"), uint8(2))
	f.Add([]byte("SEND\ndestination:/a\\cb\nfoo:l1\\nl2\\\\\n\n\x00\nSEND\ndestination:/b\n\ny\x00"), uint8(1))
	f.Add([]byte("CONNECT\naccept-version:1.2\nhost:example\n\n\x00\r\n"), uint8(0))
	f.Fuzz(func(t *testing.T, in []byte, version uint8) {
		v := STOMP(in, []string{"1.0", "1.1", "1.2", ""}[version%4])
		checkFuzzView(t, in, v)
	})
}
