package filter

import (
	"testing"

	"github.com/frametap/frametap/capture"
)

// TestPushContent: ~b, ~bs and ~jq look inside sse events' data and
// chunks' bytes (issue 10), which the server sent.
func TestPushContent(t *testing.T) {
	sse := &capture.Event{Kind: capture.KindSSE, Conn: 1, Seq: 1, SSEType: "price", Payload: []byte(`{"p":42}`), Len: 30}
	chunk := &capture.Event{Kind: capture.KindChunk, Conn: 2, Seq: 2, Payload: []byte(`{"line":7}`), Len: 11}
	for _, tc := range []struct {
		expr       string
		sse, chunk bool
	}{
		{"~b 42", true, false},
		{"~bs line", false, true},
		{"~bq 42", false, false},
		{"~jq .p=42", true, false},
		{"~jq .line", false, true},
		{"~sse", true, false},
	} {
		f := MustParse(tc.expr)
		m := f.NewMatcher()
		if got := m.Match(sse); got != tc.sse {
			t.Errorf("%s on sse: %v", tc.expr, got)
		}
		if got := m.Match(chunk); got != tc.chunk {
			t.Errorf("%s on chunk: %v", tc.expr, got)
		}
	}
}
