package capture

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// randEIO returns a random eio event.
func randEIO(r *rand.Rand) *Event {
	e := randEvent(r, KindError)
	e.Kind, e.Msg = KindEIO, ""
	e.Seq, e.Stream, e.From, e.Len = r.IntN(9), randStream(r), pick(r, "client", "server"), r.Int64N(1<<20)
	e.EIO = &EIO{}
	x := e.EIO
	x.Type, x.Transport, x.SID = pick(r, "open", "ping", "message", "invalid"), pick(r, "polling", "websocket"), pick(r, "", randString(r))
	switch r.IntN(3) {
	case 0: // no Socket.IO packet: the data as text or binary
		x.Binary = r.IntN(2) == 0
		if x.Binary {
			x.Attachment = r.IntN(3)
		}
		e.Payload = randBytes(r)
		if !x.Binary && !utf8.Valid(e.Payload) {
			e.Payload = []byte(strings.ToValidUTF8(string(e.Payload), "?"))
		}
	default:
		x.SIOType, x.Nsp = pick(r, "EVENT", "ACK", "CONNECT", "BINARY_EVENT", "INVALID"), pick(r, "/", "/admin", randString(r))
		x.HasAck = r.IntN(2) == 0
		if x.HasAck {
			x.AckID = r.Int64N(1 << 53)
		}
		x.Event, x.Attachments = pick(r, "", "chat", randString(r)), r.IntN(3)
		switch r.IntN(3) {
		case 0:
			x.Args = []byte(pick(r, `[]`, `["a",{"b":[1,2.5,null,true]}]`, `[{"_placeholder":true,"num":0}]`))
		case 1:
			x.SIOData = []byte(pick(r, `{"sid":"x"}`, `"refused"`))
		default:
			e.Payload = []byte(pick(r, `2["broken`, `0{`))
		}
	}
	return e
}

// eioKeys are the keys an eio event's line must have, in order.
func eioKeys(e *Event) []string {
	x := e.EIO
	k := []string{"kind", "conn", "t", "seq"}
	addIf := func(cond bool, name string) {
		if cond {
			k = append(k, name)
		}
	}
	addIf(e.Stream != 0, "stream")
	k = append(k, "from", "transport", "type")
	addIf(x.SID != "", "sid")
	k = append(k, "len")
	addIf(x.Binary, "binary")
	addIf(x.Attachment > 0, "attachment")
	if x.SIOType != "" {
		k = append(k, "sio_type", "nsp")
		addIf(x.HasAck, "ack_id")
		addIf(x.Event != "", "event")
		addIf(x.Attachments > 0, "attachments")
		addIf(x.Args != nil, "args")
		addIf(x.SIOData != nil, "sio_data")
	}
	switch {
	case len(e.Payload) == 0:
	case x.Binary:
		k = append(k, "data")
	default:
		k = append(k, "text")
	}
	return k
}

func TestEIORoundTrip(t *testing.T) {
	r := newRand()
	for range 3000 {
		want := randEIO(r)
		line := want.AppendJSON(nil)
		if !json.Valid(line) || bytes.Count(line, []byte("\n")) != 1 {
			t.Fatalf("not one line of JSON: %q", line)
		}
		if got, wantK := topKeys(t, line), eioKeys(want); !slices.Equal(got, wantK) {
			t.Fatalf("%s\nkeys %v\nwant %v", line, got, wantK)
		}
		got := new(Event)
		if err := json.Unmarshal(line, got); err != nil {
			t.Fatalf("Unmarshal(%s): %v", line, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip of %s\ngot  %+v\nwant %+v", line, got, want)
		}
		if text := want.AppendText(nil); bytes.IndexByte(text, '\n') != len(text)-1 || !utf8.Valid(text) {
			t.Fatalf("text not one line: %q", text)
		}
	}
}

// Arguments are written as the JSON that was sent, but for what would
// break the format: line ends (JSON whitespace) and invalid UTF-8.
func TestEIOArgsAsSent(t *testing.T) {
	for _, tc := range []struct{ args, want string }{
		{`[ "a" , 1 ]`, `[ "a" , 1 ]`},
		{"[\n  \"a\",\r\n  1\n]", `["a",1]`},
		{"[\"\xff\"]", "[\"\uFFFD\"]"},
	} {
		e := &Event{Kind: KindEIO, Conn: 1, Time: t0, From: "client", EIO: &EIO{Type: "message", Transport: "polling", SIOType: "EVENT", Nsp: "/", Event: "e", Args: []byte(tc.args)}}
		line := e.AppendJSON(nil)
		var v struct{ Args json.RawMessage }
		if err := json.Unmarshal(line, &v); err != nil || string(v.Args) != tc.want {
			t.Errorf("args %q written as %s (%v), want %s", tc.args, v.Args, err, tc.want)
		}
	}
}

// The "type" and "event" of an eio event are its own, whatever other
// kinds call those names.
func TestEIOText(t *testing.T) {
	e := &Event{Kind: KindEIO, Conn: 3, Time: t0, Seq: 4, From: "server", Len: 20,
		EIO: &EIO{Type: "message", Transport: "polling", SID: "Xq2", SIOType: "EVENT", Nsp: "/", HasAck: true, AckID: 4, Event: "news", Args: []byte("[{\"n\":1},\n\"x\"]")}}
	got := string(e.AppendText(nil))
	if want := ` ←server #4 polling message sid=Xq2 EVENT / ack=4 "news" [{"n":1},\n"x"]` + "\n"; !strings.HasSuffix(got, want) {
		t.Errorf("text line %q, want it to end in %q", got, want)
	}
	e = &Event{Kind: KindEIO, Conn: 3, Time: t0, Seq: 2, From: "client", Len: 2, Payload: []byte{1, 2},
		EIO: &EIO{Type: "message", Transport: "websocket", SID: "Xq2", Binary: true, Attachment: 1}}
	got = string(e.AppendText(nil))
	if want := " client→ #2 websocket message binary sid=Xq2 attachment=1 hex:0102\n"; !strings.HasSuffix(got, want) {
		t.Errorf("text line %q, want it to end in %q", got, want)
	}
}

// FuzzEIOJSON: whatever JSON the decoder passed as arguments (json.Valid,
// which takes invalid UTF-8 in strings and any whitespace), and whatever
// data, an eio event is one line of valid JSON that reads back.
func FuzzEIOJSON(f *testing.F) {
	f.Add([]byte(`["a",{"b":1}]`), []byte("probe"), false)
	f.Add([]byte("[\n\"\xff\"\r\n]"), []byte{0xff, 0}, true)
	f.Fuzz(func(t *testing.T, args, data []byte, binary bool) {
		e := &Event{Kind: KindEIO, Conn: 1, Time: t0, From: "server", Payload: data,
			EIO: &EIO{Type: "message", Transport: "polling", Binary: binary, SIOType: "EVENT", Nsp: "/", Event: string(data)}}
		if json.Valid(args) {
			e.EIO.Args = args
		}
		line := e.AppendJSON(nil)
		if !json.Valid(line) || bytes.IndexByte(line, '\n') != len(line)-1 || !utf8.Valid(line) {
			t.Fatalf("not one line of valid JSON: %q", line)
		}
		var back Event
		if err := json.Unmarshal(line, &back); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if e.EIO.Args != nil && !json.Valid(back.EIO.Args) {
			t.Fatalf("args %q read back as %q", args, back.EIO.Args)
		}
		if text := e.AppendText(nil); bytes.IndexByte(text, '\n') != len(text)-1 || !utf8.Valid(text) {
			t.Fatalf("text not one line: %q", text)
		}
	})
}
