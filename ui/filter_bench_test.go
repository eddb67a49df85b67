package ui

import (
	"fmt"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// BenchmarkApplyFiltered applies 200,000 live events (8 WebSocket
// connections of frames and messages, 8 keep-alive HTTP connections) to
// the dashboard's model as a refresh does, under no filter, under a
// message-level expression, and under a connection-level one whose
// verdict changes along the way; it reports events per second and the
// allocations per event that the filter adds.
//
//	go test ./ui -run '^$' -bench ApplyFiltered -benchmem
func BenchmarkApplyFiltered(b *testing.B) {
	const total = 200_000
	st := NewStore(total)
	streams := make([]capture.Stream, 16)
	for c := range streams {
		streams[c] = st.Stream()
		streams[c].Add(&capture.Event{Kind: capture.KindOpen, Conn: uint64(c + 1), Time: at(0), Client: "127.0.0.1:1"})
	}
	payload := []byte(`{"type":"tick","n":1234,"price":101.5}`)
	for n := 16; st.Total() < total; n++ {
		c := n % 16
		s := streams[c]
		id := uint64(c + 1)
		t := at(n)
		if c < 8 { // WebSocket
			if n < 32 {
				s.Add(&capture.Event{Kind: capture.KindRequest, Conn: id, Time: t, Seq: 1, Method: "GET", Target: "/ws", Host: "ws.test", Proto: "HTTP/1.1"})
				s.Add(&capture.Event{Kind: capture.KindResponse, Conn: id, Time: t, Seq: 1, Status: 101, Proto: "HTTP/1.1", Headers: hdrs("Upgrade", "websocket")})
				s.Add(&capture.Event{Kind: capture.KindUpgrade, Conn: id, Time: t, Seq: 1, Protocol: "websocket"})
				continue
			}
			from := []string{"client", "server"}[n%2]
			s.Add(&capture.Event{Kind: capture.KindFrame, Conn: id, Time: t, From: from, Fin: true, Opcode: 1, Len: int64(len(payload)), Masked: from == "client"})
			s.Add(&capture.Event{Kind: capture.KindMessage, Conn: id, Time: t, From: from, Op: "text", Frames: 1, Len: int64(len(payload)), Payload: payload})
			continue
		}
		seq := n/16 + 1
		s.Add(&capture.Event{Kind: capture.KindRequest, Conn: id, Time: t, Seq: seq, Method: "GET", Target: fmt.Sprintf("/api/poll?n=%d", seq), Host: "api.test", Proto: "HTTP/1.1"})
		s.Add(&capture.Event{Kind: capture.KindResponse, Conn: id, Time: t.Add(time.Millisecond), Seq: seq, Status: 200, Proto: "HTTP/1.1", Body: payload, BodyLen: int64(len(payload))})
	}
	evs, first := st.Since(0)
	for _, expr := range []string{"", "~ws ~op text ~b tick", "~websocket ~q", "~jq .type=tick"} {
		b.Run(fmt.Sprintf("%q", expr), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s := newState()
				if expr != "" {
					f, err := newViewFilter(expr, st.At, first)
					if err != nil {
						b.Fatal(err)
					}
					s.filter = f
				}
				// Refreshes of 1,000 events, as a busy dashboard takes them.
				for k, ev := range evs {
					s.apply(first+k, ev)
					if k%1000 == 999 {
						s.settle(st)
					}
				}
				s.settle(st)
			}
			b.ReportMetric(float64(len(evs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
