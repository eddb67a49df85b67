package proxy

import (
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/capture/push"
	"github.com/frametap/frametap/decode"
)

// This file is the recorder's side of push (issue 10): it implements
// decode.Push, so that a streaming response is recorded at its head
// ("streaming": true), each SSE event or streamed chunk as it arrives, and
// a stream_end when the body ends; it answers the decoder's StillOpen with
// the connection's clock; and it classifies the connection's push
// mechanism for its close event (push.Conn, a fixed amount of state).

// pushState is what the recorder keeps for push.
type pushState struct {
	longPoll time.Duration
	mech     push.Conn
}

// setupPush sets --long-poll (0: push.DefaultLongPoll).
func (r *recorder) setupPush(longPoll time.Duration) {
	if longPoll <= 0 {
		longPoll = push.DefaultLongPoll
	}
	r.push.longPoll = longPoll
	r.push.mech.LongPoll = longPoll
}

// The decode.Push methods.

// StreamHead records a streaming response at its head: what Response
// records, without a body, with "streaming": true and the timings known so
// far (receive_ms 0: its stream_end carries it).
func (r *recorder) StreamHead(s *decode.Response) {
	ev := r.event(capture.KindResponse)
	ev.Seq, ev.Proto, ev.Status, ev.StatusText = s.Seq, s.Proto, s.Status, s.Reason
	ev.Server = r.server
	ev.Stream = s.Stream
	ev.Streaming = true
	r.lastFinal = max(r.lastFinal, s.Seq)
	p := &r.prog
	ev.ByFrametap = p.own
	if !p.own {
		ev.Connect, ev.TLSTime = p.dialTook, p.tlsTook
		p.dialTook, p.tlsTook = 0, 0
	}
	if t := p.timesFor(s.Seq, s.Stream, false); t != nil && !t.respFirst.IsZero() && !t.reqLast.IsZero() {
		ev.Timed = true
		ev.Send = t.reqLast.Sub(t.reqFirst)
		ev.Wait = t.respFirst.Sub(t.reqLast)
		if ev.Wait < 0 {
			ev.Wait = -1
		}
	}
	r.message(ev, s.Headers, nil, 0, nil, false)
}

// SSE records one dispatched Server-Sent Event.
func (r *recorder) SSE(seq int, stream uint32, e *decode.SSEEvent) {
	ev := r.event(capture.KindSSE)
	ev.Seq, ev.Stream = seq, stream
	ev.SSEType = e.Event
	ev.Payload = e.Data
	if e.HasID {
		ev.SSEID, ev.HasSSEID = string(e.ID), true
	}
	ev.Retry, ev.HasRetry = e.Retry, e.HasRetry
	ev.Len = e.Len
	ev.Comments = int64(e.Comments)
	ev.Truncated = e.Truncated
	r.add()
}

// Chunk records one line or chunk of a streaming response.
func (r *recorder) Chunk(c *decode.Chunk) {
	ev := r.event(capture.KindChunk)
	ev.Seq, ev.Stream = c.Seq, c.Stream
	ev.Len = c.Len
	ev.Payload = c.Data
	ev.Truncated = c.Truncated
	r.add()
}

// StillOpen says whether a chunked response whose head came --long-poll
// ago or more is still sending: its chunks are recorded as they come from
// then on.
func (r *recorder) StillOpen(seq int, stream uint32) bool {
	lp := r.push.longPoll
	if lp <= 0 {
		lp = push.DefaultLongPoll // a recorder setupPush did not set up (replay)
	}
	t := r.prog.timesFor(seq, stream, false)
	return t != nil && !t.respFirst.IsZero() && r.now.Sub(t.respFirst) >= lp
}

// streamEnd records the end of a streaming response's body, instead of a
// second response event.
func (r *recorder) streamEnd(s *decode.Response) {
	p := &r.prog
	if d := p.decodingOf(decode.Server, s.Seq, s.Stream); d != nil {
		d.s.Close() // a coded stream is recorded as chunks, as sent
		*d = decoding{}
	}
	p.wasSkipped(decode.Server, s.Seq, s.Stream)
	ev := r.event(capture.KindStreamEnd)
	ev.Seq, ev.Stream = s.Seq, s.Stream
	ev.BodyLen = s.BodyLen
	ev.Events, ev.Comments, ev.Chunks = s.Events, s.Comments, s.Chunks
	ev.Reset = s.Reset
	if t := p.timesFor(s.Seq, s.Stream, false); t != nil && !t.respFirst.IsZero() {
		ev.Timed, ev.Receive = true, r.now.Sub(t.respFirst)
	}
	p.forget(s.Seq, s.Stream)
	r.add()
}
