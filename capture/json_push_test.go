package capture

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestPushRoundTrip writes the events of push (issue 10) and reads them
// back: the same events, with the fields the format documents.
func TestPushRoundTrip(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	evs := []Event{
		{Kind: KindResponse, Conn: 1, Time: t0, Seq: 1, Status: 200, StatusText: "OK", Proto: "HTTP/1.1",
			Headers: []Header{{"Content-Type", "text/event-stream"}}, Streaming: true, Timed: true, Wait: 2 * time.Millisecond},
		{Kind: KindSSE, Conn: 1, Time: t0, Seq: 1, SSEType: "price", Payload: []byte("{\"p\":1}\nline2"), HasSSEID: true, SSEID: "7", Len: 51, Comments: 1},
		{Kind: KindSSE, Conn: 1, Time: t0, Seq: 1, SSEType: "message", Payload: []byte("r"), HasRetry: true, Retry: 1500, Len: 21},
		{Kind: KindSSE, Conn: 1, Time: t0, Seq: 1, Stream: 3, SSEType: "message", Payload: []byte("cut"), Len: 9000, HasSSEID: true, Truncated: true},
		{Kind: KindChunk, Conn: 1, Time: t0, Seq: 2, Len: 8, Payload: []byte("{\"a\":1}")},
		{Kind: KindChunk, Conn: 1, Time: t0, Seq: 2, Stream: 5, Len: 2, Payload: []byte{0x1f, 0x8b}},
		{Kind: KindStreamEnd, Conn: 1, Time: t0, Seq: 1, BodyLen: 104, Events: 3, Comments: 2, Timed: true, Receive: time.Second},
		{Kind: KindStreamEnd, Conn: 1, Time: t0, Seq: 2, Stream: 5, BodyLen: 10, Chunks: 2, Reset: "CANCEL"},
		{Kind: KindClose, Conn: 1, Time: t0, BytesFromClient: 1, BytesFromServer: 2, Push: "sse"},
	}
	var b []byte
	for i := range evs {
		b = evs[i].AppendJSON(b)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, want := range []string{`"streaming":true`, `"event":"price","id":"7","len":51,"comments":1,"data":"{\"p\":1}\nline2"`, `"retry":1500`,
		`"len":8,"text":"{\"a\":1}"`, `"data":"H4s="`, `"events":3,"comments":2,"receive_ms":1000`, `"chunks":2,"reset":"CANCEL"`, `"push":"sse"`} {
		if !strings.Contains(string(b), strings.ReplaceAll(want, "\n", `\n`)) {
			t.Errorf("capture lacks %s:\n%s", want, b)
		}
	}
	for i, l := range lines {
		var got Event
		if err := got.UnmarshalJSON([]byte(l)); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		want := evs[i]
		if want.Kind == KindStreamEnd && want.Timed {
			want.Wait = -1 // a stream_end has receive_ms only: the reader's "no wait_ms"
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("line %d:\n got %+v\nwant %+v", i, got, want)
		}
		if text := got.AppendText(nil); len(text) == 0 {
			t.Errorf("line %d: no text", i)
		}
	}
}
