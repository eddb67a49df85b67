package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// TestViewSummary prints the push table of a capture holding a long poll
// and an SSE stream, with the default --long-poll and a longer one.
func TestViewSummary(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	hs := []capture.Header{{"Host", "api.test"}}
	evs := []capture.Event{
		{Kind: capture.KindOpen, Conn: 1, Time: ms(0), Client: "127.0.0.1:1", Mode: "regular"},
		{Kind: capture.KindRequest, Conn: 1, Time: ms(0), Seq: 1, Method: "GET", Target: "/lp", Host: "api.test", Proto: "HTTP/1.1", Headers: hs},
		{Kind: capture.KindResponse, Conn: 1, Time: ms(1500), Seq: 1, Status: 200, StatusText: "OK", Proto: "HTTP/1.1", Body: []byte("news"), BodyLen: 4, Timed: true, Wait: 1500 * time.Millisecond},
		{Kind: capture.KindClose, Conn: 1, Time: ms(1600), Push: "long-polling"},
		{Kind: capture.KindOpen, Conn: 2, Time: ms(0), Client: "127.0.0.1:2", Mode: "regular"},
		{Kind: capture.KindRequest, Conn: 2, Time: ms(0), Seq: 1, Method: "GET", Target: "/ev", Host: "api.test", Proto: "HTTP/1.1", Headers: hs},
		{Kind: capture.KindResponse, Conn: 2, Time: ms(1), Seq: 1, Status: 200, StatusText: "OK", Proto: "HTTP/1.1", Streaming: true,
			Headers: []capture.Header{{"Content-Type", "text/event-stream"}}, Timed: true},
		{Kind: capture.KindSSE, Conn: 2, Time: ms(1000), Seq: 1, SSEType: "message", Payload: []byte("a"), Len: 8},
		{Kind: capture.KindSSE, Conn: 2, Time: ms(2000), Seq: 1, SSEType: "message", Payload: []byte("b"), Len: 8},
		{Kind: capture.KindStreamEnd, Conn: 2, Time: ms(2001), Seq: 1, BodyLen: 16, Events: 2},
		{Kind: capture.KindClose, Conn: 2, Time: ms(2002), Push: "sse"},
	}
	var b []byte
	for i := range evs {
		b = evs[i].AppendJSON(b)
	}
	path := filepath.Join(t.TempDir(), "push.jsonl")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want []string // the mechanism column, row by row
	}{
		{[]string{"view", "--headless", "--summary", path}, []string{"sse", "long-polling"}},
		{[]string{"view", "--summary", "--long-poll", "2s", path}, []string{"sse", "none"}},
	} {
		var out, errb bytes.Buffer
		if err := run(tc.args, &out, &errb); err != nil {
			t.Fatalf("%v: %v (%s)", tc.args, err, errb.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 1+len(tc.want) || !strings.HasPrefix(lines[0], "HOST") {
			t.Fatalf("%v:\n%s", tc.args, out.String())
		}
		for i, mech := range tc.want {
			if f := strings.Fields(lines[i+1]); len(f) < 5 || f[0] != "api.test" || f[1] != mech {
				t.Errorf("%v: row %d %q, want %s", tc.args, i, lines[i+1], mech)
			}
		}
	}
}
