package decode

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func eioLine(p EIOPacket) string {
	b := p.Type.String()
	if p.Binary {
		b += " binary"
	}
	return fmt.Sprintf("%s %q len=%d off=%d", b, p.Data, p.Len, p.Offset)
}

func eioErrName(err error) string {
	if err == nil {
		return ""
	}
	for _, e := range []error{ErrEIOPacket, ErrEIOLength, ErrEIOVersion} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "unknown: " + err.Error()
}

// The fixtures are the examples of engine.io-protocol v4 and v3, and what
// the reference parsers (engine.io-parser, engine.io's parser-v3) reject.
func TestEIOPayload(t *testing.T) {
	open := `{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}`
	tests := []struct {
		name    string
		version int
		in      string
		want    []string
		err     string
	}{
		{"open", 4, "0" + open, []string{fmt.Sprintf("open %q len=%d off=0", open, len(open)+1)}, ""},
		{"separator", 4, "4hello\x1e2\x1e4world", []string{`message "hello" len=6 off=0`, `ping "" len=1 off=7`, `message "world" len=6 off=9`}, ""},
		{"base64", 4, "4hello\x1ebAQIDBA==", []string{`message "hello" len=6 off=0`, `message binary "\x01\x02\x03\x04" len=9 off=7`}, ""},
		{"base64 unpadded", 4, "bAQIDBA", []string{`message binary "\x01\x02\x03\x04" len=7 off=0`}, ""},
		{"socket.io events", 4, "42[\"hello\"]\x1e42[\"world\"]", []string{`message "2[\"hello\"]" len=11 off=0`, `message "2[\"world\"]" len=11 off=12`}, ""},
		{"upgrade packets", 4, "6\x1e1\x1e5\x1e3probe", []string{`noop "" len=1 off=0`, `close "" len=1 off=2`, `upgrade "" len=1 off=4`, `pong "probe" len=6 off=6`}, ""},
		{"empty body", 4, "", []string{`invalid "" len=0 off=0`}, "engine.io packet"},
		{"unknown type", 4, "9x\x1e4ok", []string{`invalid "9x" len=2 off=0`, `message "ok" len=3 off=3`}, "engine.io packet"},
		{"trailing separator", 4, "4a\x1e", []string{`message "a" len=2 off=0`, `invalid "" len=0 off=3`}, "engine.io packet"},
		{"bad base64", 4, "bAQ*D", []string{`invalid "bAQ*D" len=5 off=0`}, "engine.io packet"},
		{"broken open", 4, `0{"sid":`, []string{`open "{\"sid\":" len=8 off=0`}, "engine.io packet"},
		{"open without sid", 4, `0{}`, []string{`open "{}" len=3 off=0`}, "engine.io packet"},
		{"close with data", 4, "1bye", []string{`close "bye" len=4 off=0`}, "engine.io packet"},
		{"v3", 3, "6:4hello2:4€", []string{`message "hello" len=6 off=2`, `message "€" len=4 off=10`}, ""},
		{"v3 base64", 3, "2:4€10:b4AQIDBA==", []string{`message "€" len=4 off=2`, `message binary "\x01\x02\x03\x04" len=10 off=9`}, ""},
		{"v3 surrogate pair counts 2", 3, "3:4😀1:2", []string{`message "😀" len=5 off=2`, `ping "" len=1 off=9`}, ""},
		{"v3 empty packet skipped", 3, "0:1:6", []string{`noop "" len=1 off=4`}, ""},
		{"v3 wrong length prefix", 3, "10:4hello", []string{`invalid "10:4hello" len=9 off=0`}, "engine.io payload length prefix"},
		{"v3 second prefix wrong", 3, "6:4hello3:4€", []string{`message "hello" len=6 off=2`, `invalid "3:4€" len=6 off=8`}, "engine.io payload length prefix"},
		{"v3 no prefix", 3, "4hello", []string{`invalid "4hello" len=6 off=0`}, "engine.io payload length prefix"},
		{"v3 in a v4 exchange", 4, "6:4hello", []string{`message "hello" len=6 off=2`}, "engine.io version"},
		{"v3 with a wrong prefix in a v4 exchange", 4, "10:4hello", []string{`close "0:4hello" len=9 off=0`}, "engine.io packet"},
		{"v3 binary", 3, "\x00\x04\xff4€\x01\x05\xff\x04\x01\x02\x03\x04", []string{`message "€" len=4 off=3`, `message binary "\x01\x02\x03\x04" len=5 off=10`}, ""},
		{"v3 binary bad header", 4, "\x00\x09\xff4", []string{`invalid "\x00\t\xff4" len=4 off=0`}, "engine.io payload length prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pks, err := ParseEIOPayload([]byte(tt.in), tt.version)
			var got []string
			for _, p := range pks {
				got = append(got, eioLine(p))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
			if eioErrName(err) != tt.err {
				t.Errorf("error %v, want %q", err, tt.err)
			}
		})
	}
}

func TestEIOProblemsCounted(t *testing.T) {
	_, err := ParseEIOPayload([]byte("9\x1e8\x1e4ok\x1e7"), 4)
	if err == nil || !strings.Contains(err.Error(), "and 2 more problems") {
		t.Errorf("error %v, want the first of 3 problems", err)
	}
}

func TestEIOMessage(t *testing.T) {
	tests := []struct {
		in      string
		binary  bool
		version int
		want    string
		err     string
	}{
		{"2probe", false, 4, `ping "probe" len=6 off=0`, ""},
		{"5", false, 4, `upgrade "" len=1 off=0`, ""},
		{"\x01\x02", true, 4, `message binary "\x01\x02" len=2 off=0`, ""},
		{"\x04\x01\x02", true, 3, `message binary "\x01\x02" len=3 off=0`, ""},
		{"\x09", true, 3, `invalid binary "\t" len=1 off=0`, "engine.io packet"},
		{"bAQID", false, 4, `invalid "bAQID" len=5 off=0`, "engine.io packet"},
		{"", false, 4, `invalid "" len=0 off=0`, "engine.io packet"},
	}
	for _, tt := range tests {
		p, err := ParseEIOMessage([]byte(tt.in), tt.binary, tt.version)
		if got := eioLine(p); got != tt.want {
			t.Errorf("%q: got %s, want %s", tt.in, got, tt.want)
		}
		if eioErrName(err) != tt.err {
			t.Errorf("%q: error %v, want %q", tt.in, err, tt.err)
		}
	}
}

func TestEIOOpen(t *testing.T) {
	h, err := ParseEIOOpen([]byte(`{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
	want := EIOHandshake{SID: "lv_VI97HAXpY6yYWAAAC", Upgrades: []string{"websocket"}, PingInterval: 25000, PingTimeout: 20000, MaxPayload: 1000000}
	if err != nil || fmt.Sprint(h) != fmt.Sprint(want) {
		t.Errorf("got %+v, %v; want %+v", h, err, want)
	}
}

func TestEIOTarget(t *testing.T) {
	tests := []struct {
		target, path string
		want         EIOTarget
		ok           bool
	}{
		{"/socket.io/?EIO=4&transport=polling&t=N8hyd6w", "", EIOTarget{"/socket.io/", 4, "polling", ""}, true},
		{"/socket.io/?EIO=4&transport=websocket&sid=lv_VI97HAXpY6yYWAAAC", "", EIOTarget{"/socket.io/", 4, "websocket", "lv_VI97HAXpY6yYWAAAC"}, true},
		{"http://example.test/engine.io/?transport=polling", "", EIOTarget{"/engine.io/", 3, "polling", ""}, true},
		{"/rt/?EIO=4&transport=polling", "/rt/", EIOTarget{"/rt/", 4, "polling", ""}, true},
		{"/rt/?EIO=4&transport=polling", "/rt", EIOTarget{"/rt/", 4, "polling", ""}, true},
		{"/socket.io/?EIO=4", "", EIOTarget{}, false},
		{"/other/?EIO=4&transport=polling", "", EIOTarget{}, false},
		{"*", "", EIOTarget{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseEIOTarget(tt.target, tt.path)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%q %q: got %+v %v, want %+v %v", tt.target, tt.path, got, ok, tt.want, tt.ok)
		}
	}
}

func sioLine(p SIOPacket) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s nsp=%s", p.Type, p.Nsp)
	if p.Attachments > 0 {
		fmt.Fprintf(&b, " attachments=%d", p.Attachments)
	}
	if p.HasAck {
		fmt.Fprintf(&b, " ack=%d", p.AckID)
	}
	if p.Event != "" {
		fmt.Fprintf(&b, " event=%q", p.Event)
	}
	if p.Args != nil {
		fmt.Fprintf(&b, " args=%s", p.Args)
	}
	if p.Placeholders > 0 {
		fmt.Fprintf(&b, " placeholders=%d", p.Placeholders)
	}
	if p.Data != nil {
		fmt.Fprintf(&b, " data=%s", p.Data)
	}
	return b.String()
}

func sioErrName(err error) string {
	if err == nil {
		return ""
	}
	var names []string
	for _, e := range []error{ErrSIOPacket, ErrSIOJSON, ErrSIOAttachments} {
		if errors.Is(err, e) {
			names = append(names, e.Error())
		}
	}
	if names == nil {
		return "unknown: " + err.Error()
	}
	return strings.Join(names, "+")
}

// The fixtures are the examples of socket.io-protocol v5, and what
// socket.io-parser's decoder rejects.
func TestSIOPacket(t *testing.T) {
	ph := func(n int) string { return fmt.Sprintf(`{"_placeholder":true,"num":%d}`, n) }
	tests := []struct {
		in, want, err string
	}{
		{"0", "CONNECT nsp=/", ""},
		{`0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}`, `CONNECT nsp=/admin data={"sid":"oSO0OpakMV_3jnilAAAA"}`, ""},
		{`0{"token":"123"}`, `CONNECT nsp=/ data={"token":"123"}`, ""},
		{`4{"message":"Not authorized"}`, `CONNECT_ERROR nsp=/ data={"message":"Not authorized"}`, ""},
		{`4"refused"`, `CONNECT_ERROR nsp=/ data="refused"`, ""},
		{`2["foo"]`, `EVENT nsp=/ event="foo" args=[] data=["foo"]`, ""},
		{`2/admin,["bar"]`, `EVENT nsp=/admin event="bar" args=[] data=["bar"]`, ""},
		{`2["hey","Jude",{"a":[1,2]}]`, `EVENT nsp=/ event="hey" args=["Jude",{"a":[1,2]}] data=["hey","Jude",{"a":[1,2]}]`, ""},
		{`2[42,"x"]`, `EVENT nsp=/ event="42" args=["x"] data=[42,"x"]`, ""},
		{`2[ "sp" , 1 ]`, `EVENT nsp=/ event="sp" args=[ 1 ] data=[ "sp" , 1 ]`, ""},
		{`212["foo"]`, `EVENT nsp=/ ack=12 event="foo" args=[] data=["foo"]`, ""},
		{`3/admin,13["bar"]`, `ACK nsp=/admin ack=13 args=["bar"] data=["bar"]`, ""},
		{`312[]`, `ACK nsp=/ ack=12 args=[] data=[]`, ""},
		{`51-["baz",` + ph(0) + `]`, `BINARY_EVENT nsp=/ attachments=1 event="baz" args=[` + ph(0) + `] placeholders=1 data=["baz",` + ph(0) + `]`, ""},
		{`52-/admin,["baz",` + ph(0) + `,` + ph(1) + `]`, `BINARY_EVENT nsp=/admin attachments=2 event="baz" args=[` + ph(0) + `,` + ph(1) + `] placeholders=2 data=["baz",` + ph(0) + `,` + ph(1) + `]`, ""},
		{`61-15["bar",` + ph(0) + `]`, `BINARY_ACK nsp=/ attachments=1 ack=15 args=["bar",` + ph(0) + `] placeholders=1 data=["bar",` + ph(0) + `]`, ""},
		{`61-/admin,1[` + ph(0) + `]`, `BINARY_ACK nsp=/admin attachments=1 ack=1 args=[` + ph(0) + `] placeholders=1 data=[` + ph(0) + `]`, ""},
		{"1", "DISCONNECT nsp=/", ""},
		{"1/admin,", "DISCONNECT nsp=/admin", ""},
		{"1/admin", "DISCONNECT nsp=/admin", ""},
		// Bad input: reported, kept.
		{"7", "INVALID nsp=/ data=7", "socket.io packet"},
		{"", "INVALID nsp=/ data=", "socket.io packet"},
		{`2["foo"`, `EVENT nsp=/ data=["foo"`, "socket.io payload"},
		{`2{"a":1}`, `EVENT nsp=/ data={"a":1}`, "socket.io payload"},
		{`2[{"a":1}]`, `EVENT nsp=/ data=[{"a":1}]`, "socket.io payload"},
		{`2[]`, `EVENT nsp=/ data=[]`, "socket.io payload"},
		{`2["connect"]`, `EVENT nsp=/ event="connect" args=[] data=["connect"]`, "socket.io payload"},
		{"2", "EVENT nsp=/", "socket.io payload"},
		{`3{}`, `ACK nsp=/ data={}`, "socket.io payload"},
		{`0["x"]`, `CONNECT nsp=/ data=["x"]`, "socket.io payload"},
		{`1{"x":1}`, `DISCONNECT nsp=/ data={"x":1}`, "socket.io payload"},
		{`5-["x"]`, `INVALID nsp=/ data=5-["x"]`, "socket.io packet"},
		{`50-["x"]`, `INVALID nsp=/ data=50-["x"]`, "socket.io packet"},
		{`5x-["x"]`, `INVALID nsp=/ data=5x-["x"]`, "socket.io packet"},
		{`511-["x"]`, `BINARY_EVENT nsp=/ attachments=11 event="x" args=[] data=["x"]`, "socket.io packet"},
		{`299999999999999999999["x"]`, `INVALID nsp=/ data=299999999999999999999["x"]`, "socket.io packet"},
	}
	for _, tt := range tests {
		p, err := ParseSIOPacket([]byte(tt.in))
		if got := sioLine(p); got != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.in, got, tt.want)
		}
		if sioErrName(err) != tt.err {
			t.Errorf("%q: error %v, want %q", tt.in, err, tt.err)
		}
	}
}

// TestSIOStream pairs binary packets with the binary messages after them.
func TestSIOStream(t *testing.T) {
	ph := func(n int) string { return fmt.Sprintf(`{"_placeholder":true,"num":%d}`, n) }
	type step struct {
		text   string // a text message packet's data, or
		binary bool   // a binary message packet
		want   string
		err    string
	}
	tests := []struct {
		name  string
		steps []step
		end   string
	}{
		{"two attachments", []step{
			{text: `52-["up",` + ph(0) + `,` + ph(1) + `]`, want: "BINARY_EVENT"},
			{binary: true, want: "1 of 2"},
			{binary: true, want: "2 of 2"},
			{text: `2["next"]`, want: "EVENT"},
		}, ""},
		{"text before the attachments", []step{
			{text: `52-["up",` + ph(0) + `,` + ph(1) + `]`, want: "BINARY_EVENT"},
			{binary: true, want: "1 of 2"},
			{text: `2["next"]`, want: "EVENT", err: "socket.io binary attachments"},
			{binary: true, want: "0 of 0", err: "socket.io binary attachments"},
		}, ""},
		{"binary with none owed", []step{
			{binary: true, want: "0 of 0", err: "socket.io binary attachments"},
		}, ""},
		{"placeholders do not match", []step{
			{text: `52-["up",` + ph(0) + `,` + ph(0) + `]`, want: "BINARY_EVENT", err: "socket.io binary attachments"},
			{text: `51-["up"]`, want: "BINARY_EVENT", err: "socket.io binary attachments"},
			{text: `61-3[` + ph(3) + `]`, want: "BINARY_ACK", err: "socket.io binary attachments"},
		}, "socket.io binary attachments"},
		{"ended owing", []step{
			{text: `61-3[` + ph(0) + `]`, want: "BINARY_ACK"},
		}, "socket.io binary attachments"},
		{"broken JSON in a binary packet", []step{
			{text: `51-["up",`, want: "BINARY_EVENT", err: "socket.io payload+socket.io binary attachments"},
			{binary: true, want: "1 of 1"},
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s SIOStream
			for i, st := range tt.steps {
				var got string
				var err error
				if st.binary {
					n, of, e := s.Binary()
					got, err = fmt.Sprintf("%d of %d", n, of), e
				} else {
					var p SIOPacket
					p, err = s.Text([]byte(st.text))
					got = p.Type.String()
				}
				if got != st.want || sioErrName(err) != st.err {
					t.Errorf("step %d: got %s, %v; want %s, %q", i, got, err, st.want, st.err)
				}
			}
			if err := s.End(); sioErrName(err) != tt.end {
				t.Errorf("end: %v, want %q", err, tt.end)
			}
		})
	}
}

func FuzzEngineIO(f *testing.F) {
	f.Add([]byte("0{\"sid\":\"x\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}\x1e40"), uint8(4))
	f.Add([]byte("451-[\"up\",{\"_placeholder\":true,\"num\":0}]\x1ebAQIDBA==\x1e42/admin,7[\"x\",1]"), uint8(4))
	f.Add([]byte("6:4hello2:4€10:b4AQIDBA=="), uint8(3))
	f.Add([]byte("\x00\x04\xff4€\x01\x05\xff\x04\x01\x02\x03\x04"), uint8(3))
	f.Add([]byte("10:4hello"), uint8(0))
	f.Add([]byte("0:"), uint8(3)) // only an empty v3 packet: no packets at all
	f.Fuzz(func(t *testing.T, body []byte, version uint8) {
		pks, err := ParseEIOPayload(body, int(version%5))
		v4 := version%5 != 3 && (len(body) == 0 || body[0] > 1) && !errors.Is(err, ErrEIOVersion)
		if v4 {
			// Every byte is in a packet or is a separator.
			n := len(pks) - 1
			for _, p := range pks {
				n += p.Len
			}
			if n != len(body) {
				t.Fatalf("%d packets cover %d bytes of %d", len(pks), n, len(body))
			}
		}
		prev := 0
		var s SIOStream
		for _, p := range pks {
			if p.Offset < prev || p.Offset+p.Len > len(body) {
				t.Fatalf("packet at %d of %d bytes outside the body of %d (previous ended at %d)", p.Offset, p.Len, len(body), prev)
			}
			prev = p.Offset + p.Len
			if p.Type == EIOInvalid && err == nil {
				t.Fatalf("invalid packet %q without an error", p.Data)
			}
			if !p.Binary && !bytes.Contains(body[p.Offset:p.Offset+p.Len], p.Data) {
				t.Fatalf("text data %q is not in its packet", p.Data)
			}
			if p.Type != EIOMessage {
				continue
			}
			if p.Binary {
				s.Binary()
				continue
			}
			sp, serr := s.Text(p.Data)
			if sp.Type == SIOInvalid && serr == nil {
				t.Fatalf("invalid Socket.IO packet %q without an error", p.Data)
			}
			if sp.Data != nil && !bytes.Contains(p.Data, sp.Data) {
				t.Fatalf("Socket.IO data %q is not in its packet %q", sp.Data, p.Data)
			}
		}
		s.End()
	})
}
