package decode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func eioItemLine(it *EIOItem) string {
	s := it.Type.String()
	if it.Binary {
		s += fmt.Sprintf(" bin %x", it.Data)
	}
	if it.SID != "" {
		s += " sid=" + it.SID
	}
	if it.Attachment > 0 {
		s += fmt.Sprintf(" att=%d", it.Attachment)
	}
	if it.HasSIO {
		s += " | " + it.SIO.Type.String() + " " + it.SIO.Nsp + " " + it.SIO.Event + " " + string(it.SIO.Args)
	}
	return strings.TrimSpace(s)
}

// DecodeEIOBody hands out every packet of a body with the Socket.IO packet
// it carries, pairs attachments with their binary packet across bodies,
// and returns one error per body.
func TestDecodeEIOBody(t *testing.T) {
	const rs = "\x1e"
	tests := []struct {
		name    string
		version int
		cut     bool
		bodies  []string
		want    []string
		errs    []error // per body
	}{
		{
			name: "open and connect", version: 4,
			bodies: []string{`0{"sid":"S","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":9}` + rs + `40{"sid":"N"}`},
			want:   []string{"open sid=S", "message | CONNECT /"},
			errs:   []error{nil},
		},
		{
			name: "attachments in the next body", version: 4,
			bodies: []string{`452-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]` + rs + "bAQI=", "bAw==" + rs + `42["next"]`},
			want: []string{`message | BINARY_EVENT / up [{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, "message bin 0102 att=1",
				"message bin 03 att=2", "message | EVENT / next []"},
			errs: []error{nil, nil},
		},
		{
			name: "broken JSON, reported once for the body", version: 4,
			bodies: []string{`42["a"` + rs + `42["b"` + rs + `42["c"]`},
			want:   []string{"message | EVENT /", "message | EVENT /", "message | EVENT / c []"},
			errs:   []error{ErrSIOJSON},
		},
		{
			name: "v3 wrong length prefix", version: 3,
			bodies: []string{`7:42["a"]99:42["b"]`},
			want:   []string{"message | EVENT / a []", "invalid"},
			errs:   []error{ErrEIOLength},
		},
		{
			name: "v4 body cut", version: 4, cut: true,
			bodies: []string{`42["a"]` + rs + `42["b"]` + rs + `42["cu`},
			want:   []string{"message | EVENT / a []", "message | EVENT / b []"},
			errs:   []error{ErrEIOCut},
		},
		{
			name: "v3 body cut", version: 3, cut: true,
			bodies: []string{`7:42["a"]9:42["bcd`},
			want:   []string{"message | EVENT / a []"},
			errs:   []error{ErrEIOCut},
		},
		{
			name: "cut before the first packet ends", version: 4, cut: true,
			bodies: []string{`42["long`},
			errs:   []error{ErrEIOCut},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s SIOStream
			var got []string
			for i, b := range tt.bodies {
				err := DecodeEIOBody([]byte(b), EIOOptions{Version: tt.version, SIO: &s, Truncated: tt.cut}, func(it *EIOItem) {
					got = append(got, eioItemLine(it))
				})
				if tt.errs[i] == nil && err != nil || tt.errs[i] != nil && !errors.Is(err, tt.errs[i]) {
					t.Errorf("body %d: error %v, want %v", i, err, tt.errs[i])
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestDecodeEIOMessage(t *testing.T) {
	var s SIOStream
	var got []string
	emit := func(it *EIOItem) { got = append(got, eioItemLine(it)) }
	o := EIOOptions{Version: 4, SIO: &s}
	for _, m := range []struct {
		msg string
		bin bool
	}{{"2probe", false}, {`451-/a,3["x",{"_placeholder":true,"num":0}]`, false}, {"\x07", true}, {`0{"sid":"W","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":9}`, false}} {
		if err := DecodeEIOMessage([]byte(m.msg), m.bin, o, emit); err != nil {
			t.Errorf("%q: %v", m.msg, err)
		}
	}
	want := []string{"ping", `message | BINARY_EVENT /a x [{"_placeholder":true,"num":0}]`, "message bin 07 att=1", "open sid=W"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	o.Truncated = true
	if err := DecodeEIOMessage([]byte(`42["cu`), false, o, emit); !errors.Is(err, ErrEIOCut) || len(got) != len(want) {
		t.Errorf("a cut message: %v, %d packets; want ErrEIOCut and none", err, len(got)-len(want))
	}
	if err := DecodeEIOMessage([]byte{9}, true, EIOOptions{Version: 4, SIO: &s}, emit); !errors.Is(err, ErrSIOAttachments) {
		t.Errorf("a binary message no packet owed: %v, want ErrSIOAttachments", err)
	}
}

// FuzzDecodeEIO checks the body and message decoders on any input: every
// packet handed out lies in the input, a cut input hands out no packet
// past its last whole one, and problems come back as errors, not panics.
func FuzzDecodeEIO(f *testing.F) {
	f.Add([]byte("451-[\"up\",{\"_placeholder\":true,\"num\":0}]\x1ebAQIDBA==\x1e42/admin,7[\"x\",1]"), uint8(4), false)
	f.Add([]byte("6:4hello99:42[\"x\"]"), uint8(3), true)
	f.Add([]byte("\x00\x04\xff4€\x01\x05\xff\x04\x01\x02\x03\x04"), uint8(3), true)
	f.Add([]byte("42[\"a\"\x1e42[\"b"), uint8(4), true)
	f.Fuzz(func(t *testing.T, in []byte, version uint8, cut bool) {
		v := 3 + int(version%2)
		var s SIOStream
		end := 0
		invalid := false
		err := DecodeEIOBody(in, EIOOptions{Version: v, SIO: &s, Truncated: cut}, func(it *EIOItem) {
			if it.Offset < end || it.Offset+it.Len > len(in) {
				t.Fatalf("packet at %d of %d bytes outside the input of %d (previous ended at %d)", it.Offset, it.Len, len(in), end)
			}
			end = it.Offset + it.Len
			invalid = invalid || it.Type == EIOInvalid || it.HasSIO && it.SIO.Type == SIOInvalid
			if it.HasSIO && it.SIO.Args != nil && it.SIO.Type != SIOInvalid && len(it.SIO.Args) > len(in)+1 {
				t.Fatalf("args of %d bytes from an input of %d", len(it.SIO.Args), len(in))
			}
		})
		if cut && !errors.Is(err, ErrEIOCut) {
			t.Fatalf("a cut body reported %v, want ErrEIOCut", err)
		}
		if invalid && err == nil {
			t.Fatal("an invalid packet without an error for its body")
		}
		for _, bin := range []bool{false, true} {
			n := 0
			DecodeEIOMessage(in, bin, EIOOptions{Version: v, SIO: &s, Truncated: cut}, func(it *EIOItem) {
				n++
				if it.Len != len(in) {
					t.Fatalf("a message's packet of %d bytes, the message has %d", it.Len, len(in))
				}
			})
			if want := map[bool]int{true: 0, false: 1}[cut]; n != want {
				t.Fatalf("%d packets from one message, want %d", n, want)
			}
		}
	})
}

// BenchmarkDecodeEIOBody decodes a polling body of 20 events with
// arguments, as a busy long-poll returns them.
func BenchmarkDecodeEIOBody(b *testing.B) {
	var body []byte
	for i := range 20 {
		if i > 0 {
			body = append(body, 0x1e)
		}
		body = fmt.Appendf(body, `42["tick",{"sym":"ACME","px":%d.25,"seq":%d}]`, 100+i, i)
	}
	var s SIOStream
	n := 0
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		DecodeEIOBody(body, EIOOptions{Version: 4, SIO: &s}, func(*EIOItem) { n++ })
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "packets/s")
}

// sioSplitEventRef is sioSplitEvent as it was written first, with a
// json.Decoder: the reference the scanning one must agree with.
func sioSplitEventRef(data []byte) (name string, args []byte, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return "", nil, false
	}
	if !dec.More() {
		return "", nil, false
	}
	t, err := dec.Token()
	if err != nil {
		return "", nil, false
	}
	switch v := t.(type) {
	case string:
		name = v
	case json.Number:
		name = v.String()
	default:
		return "", nil, false
	}
	rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")
	if len(rest) > 0 && rest[0] == ',' {
		rest = rest[1:]
	}
	args = append(append(make([]byte, 0, len(rest)+1), '['), rest...)
	return name, args, true
}

// FuzzSIOSplitEvent: on valid JSON, the scanning sioSplitEvent finds the
// name and arguments the json.Decoder one finds.
func FuzzSIOSplitEvent(f *testing.F) {
	for _, s := range []string{`["chat",{"a":1}]`, ` [ "a\"b\\u00e9" , 1 ] `, `[12.5e3,"x"]`, `[-1]`, `["only"]`, `[]`, `[{"a":1}]`, "[\"\xff\"]", `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		n1, a1, ok1 := sioSplitEvent(data)
		n2, a2, ok2 := sioSplitEventRef(data)
		if n1 != n2 || !bytes.Equal(a1, a2) || ok1 != ok2 {
			t.Fatalf("%q: scanned %q %q %v; decoded %q %q %v", data, n1, a1, ok1, n2, a2, ok2)
		}
	})
}
