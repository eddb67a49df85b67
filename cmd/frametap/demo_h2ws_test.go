package main

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"
)

// wsStream reassembles WebSocket frames from DATA payloads cut anywhere
// (RFC 8441 section 5: DATA boundaries are not frame boundaries).
func TestWSStreamSplits(t *testing.T) {
	var wire []byte
	want := []string{"hello", "", string(bytes.Repeat([]byte("x"), 300)), "bye"}
	for i, p := range want {
		f := ws.NewTextFrame([]byte(p))
		wire = append(wire, wsBytes(f, i%2 == 0)...) // masked and not
	}
	for cut := 0; cut <= len(wire); cut++ {
		var s wsStream
		var got []string
		for _, part := range [][]byte{wire[:cut], wire[cut:]} {
			frames, err := s.add(part)
			if err != nil {
				t.Fatalf("cut %d: %v", cut, err)
			}
			for _, f := range frames {
				got = append(got, string(f.Payload))
			}
		}
		if len(got) != len(want) || len(s.b) != 0 {
			t.Fatalf("cut %d: %d frames, %d bytes left; want %d, 0", cut, len(got), len(s.b), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("cut %d: frame %d %q, want %q", cut, i, got[i], want[i])
			}
		}
	}
}

// FuzzWSStream: whatever the peer sends, wsStream neither panics nor holds
// more than one frame's bound.
func FuzzWSStream(f *testing.F) {
	f.Add(wsBytes(ws.NewTextFrame([]byte("hi")), true), 3)
	f.Add([]byte{0x81, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 1)
	f.Fuzz(func(t *testing.T, b []byte, step int) {
		step = max(1, step%64)
		var s wsStream
		for i := 0; i < len(b); i += step {
			if _, err := s.add(b[i:min(i+step, len(b))]); err != nil {
				return
			}
			if len(s.b) > demoMaxFrame+14 {
				t.Fatalf("holds %d bytes", len(s.b))
			}
		}
	})
}
