package proxy

import (
	"strings"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/coding"
	"github.com/frametap/frametap/decode"
)

// This file is the recorder's side of readable bodies, timings and live
// progress (issue 13): it implements decode.Progress, undoes content
// codings as bodies stream (for decoded_len, and decoded_body with
// --decode-bodies), times each exchange, and tells the outputs that follow
// connections live (capture.Live) what arrives while it arrives.
//
// Decoding runs on the relay's goroutine, inside Feed, like inflating a
// permessage-deflate message: it costs what the decoder costs (a few
// hundred MB/s of decoded bytes) and stops at decodeLimit decoded bytes
// per body, so a decompression bomb costs a bounded amount of work and
// the decoders' windows (gzip 32 KiB, br up to 16 MiB, zstd up to 8 MiB),
// for at most maxDecoding bodies of a connection at once.

// Bounds of what a connection's recorder keeps for bodies in flight.
const (
	// maxDecoding is how many bodies of one connection are decoded at
	// once (HTTP/1.x has at most two: a request and a response; HTTP/2
	// streams may have more). Past it a body is not decoded, and says so.
	maxDecoding = 8
	// maxTimed is how many exchanges of one connection are timed at once
	// (pipelined requests, HTTP/2 streams); past it the oldest loses its
	// timings.
	maxTimed = 64
)

// minDecodeLimit is the least decodeLimit: like inflating a message, 4 ×
// --max-body, at least 64 MiB. A variable so that tests can lower it
// (decoding 64 MiB under the race detector takes seconds).
var minDecodeLimit int64 = 64 << 20

// httpProgress is what the recorder keeps of exchanges in flight.
type httpProgress struct {
	lives       []capture.Live // the streams that follow connections live
	decodeLimit int64          // decoded bytes counted per body at most
	keepDecoded int            // decoded bytes kept per body for decoded_body; 0: none (no --decode-bodies)

	own       bool                   // the bytes being fed are frametap's own answer (conn.note)
	began     [2]time.Time           // when the head being read on each side began (Begin)
	bodies    *[maxDecoding]decoding // bodies being decoded; nil until the first coded body (an idle WebSocket holds none)
	skipped   []decoding             // bodies not decoded because maxDecoding were (at most maxTimed)
	times     []exchangeTimes        // exchanges being timed, oldest first
	dialTook  time.Duration          // the last upstream's dial, until a final response carries it
	tlsTook   time.Duration          // the last upstream's TLS handshake, likewise
	handshake time.Duration          // the TLS handshake the next tls event records
}

// decoding is a body whose content codings are being undone.
type decoding struct {
	side   decode.Side
	seq    int
	stream uint32
	s      *coding.Stream // nil: the slot is free
}

// errTooManyDecoding is the decode_error of a body not decoded because
// maxDecoding others of its connection were.
const errTooManyDecoding = "not decoded: more than 8 bodies of this connection were being decoded at once"

// exchangeTimes is when an exchange's bytes came.
type exchangeTimes struct {
	seq       int
	stream    uint32
	reqFirst  time.Time // the read holding the request's first byte
	reqLast   time.Time // the read holding its last byte; zero until the request event
	respFirst time.Time // the read holding the response's first byte; zero until its head
}

// setupProgress finds the live streams and sets the decoding bounds.
func (r *recorder) setupProgress(maxBody int, keepDecoded bool) {
	for _, s := range r.streams {
		if l, ok := s.(capture.Live); ok {
			r.prog.lives = append(r.prog.lives, l)
		}
	}
	r.prog.decodeLimit = max(minDecodeLimit, 4*int64(maxBody))
	if keepDecoded {
		r.prog.keepDecoded = maxBody
	}
}

// relayed tells the live outputs that n bytes from side were relayed.
func (r *recorder) relayed(side decode.Side, n int) {
	for _, l := range r.prog.lives {
		l.Relayed(side.String(), int64(n))
	}
}

// dialed records how long dialing the upstream took: the next final
// response from the server carries it.
func (r *recorder) dialed(d time.Duration) { r.prog.dialTook, r.prog.tlsTook = d, 0 }

// upstreamTLS records the upstream's TLS handshake, likewise.
func (r *recorder) upstreamTLS(d time.Duration) { r.prog.tlsTook, r.prog.handshake = d, d }

// clientTLS records the client's TLS handshake for its tls event.
func (r *recorder) clientTLS(d time.Duration) { r.prog.handshake = d }

// takeHandshake returns the duration the tls event being recorded carries.
func (r *recorder) takeHandshake() time.Duration {
	d := r.prog.handshake
	r.prog.handshake = 0
	return d
}

// The decode.Progress methods.

func (r *recorder) Begin(from decode.Side) { r.prog.began[from] = r.now }

func (r *recorder) RequestHead(q *decode.Request) {
	p := &r.prog
	t := p.timesFor(q.Seq, q.Stream, true)
	t.reqFirst = p.began[decode.Client]
	if t.reqFirst.IsZero() || q.Stream != 0 {
		t.reqFirst = r.now // HTTP/2: the HEADERS frame's read
	}
	p.startDecoding(decode.Client, q.Seq, q.Stream, q.Headers)
	if len(p.lives) == 0 {
		return
	}
	ev := r.event(capture.KindRequest)
	ev.Seq, ev.Method, ev.Target, ev.Host, ev.Proto, ev.Server = q.Seq, q.Method, q.Target, q.Host, q.Proto, r.server
	if r.tls {
		ev.Scheme = "https"
	}
	r.liveHead(q.Stream, ev, q.Headers)
}

func (r *recorder) ResponseHead(s *decode.Response) {
	p := &r.prog
	if t := p.timesFor(s.Seq, s.Stream, false); t != nil {
		t.respFirst = p.began[decode.Server]
		if t.respFirst.IsZero() || s.Stream != 0 {
			t.respFirst = r.now
		}
	}
	if s.Status != 206 { // a range of the encoded body does not decode alone
		p.startDecoding(decode.Server, s.Seq, s.Stream, s.Headers)
	}
	if len(p.lives) == 0 {
		return
	}
	ev := r.event(capture.KindResponse)
	ev.Seq, ev.Status, ev.StatusText, ev.Proto, ev.Server, ev.ByFrametap = s.Seq, s.Status, s.Reason, s.Proto, r.server, p.own
	r.liveHead(s.Stream, ev, s.Headers)
}

func (r *recorder) BodyBytes(from decode.Side, seq int, stream uint32, b []byte) {
	if d := r.prog.decodingOf(from, seq, stream); d != nil && d.s != nil {
		d.s.Write(b)
	}
	for _, l := range r.prog.lives {
		l.Body(from.String(), seq, stream, int64(len(b)), r.now)
	}
}

// liveHead hands a head to the live outputs, then clears the scratch
// event as add does.
func (r *recorder) liveHead(stream uint32, ev *capture.Event, hs []decode.Header) {
	r.hdrs = appendHeaders(r.hdrs, hs)
	ev.Headers = r.hdrs
	for _, l := range r.prog.lives {
		l.Head(stream, ev)
	}
	r.clearEvent()
	r.hdrs = scrub(r.hdrs)
}

// finishMessage fills in a request or response event's decoded fields and
// timings, as the complete message is recorded.
func (r *recorder) finishMessage(ev *capture.Event, side decode.Side, stream uint32) {
	p := &r.prog
	if d := p.decodingOf(side, ev.Seq, stream); d != nil {
		res := d.s.Close()
		*d = decoding{}
		if ev.BodyLen > 0 { // else nothing was encoded (HEAD, 204, 304)
			if res.Err != nil {
				ev.DecodeErr = res.Err.Error()
			} else {
				ev.Decoded, ev.DecodedLen = true, res.Len
			}
			if p.keepDecoded > 0 && len(res.Kept) > 0 {
				ev.DecodedBody = res.Kept
				ev.DecodedTruncated = res.Len > int64(len(res.Kept)) || res.Err != nil
			}
		}
	} else if p.wasSkipped(side, ev.Seq, stream) && ev.BodyLen > 0 {
		ev.DecodeErr = errTooManyDecoding
	}
	if side == decode.Client {
		if t := p.timesFor(ev.Seq, stream, false); t != nil {
			t.reqLast = r.now
		}
		return
	}
	ev.ByFrametap = p.own
	final := ev.Status >= 200 || ev.Status == 101
	if final && !p.own {
		ev.Connect, ev.TLSTime = p.dialTook, p.tlsTook
		p.dialTook, p.tlsTook = 0, 0
	}
	t := p.timesFor(ev.Seq, stream, false)
	if t == nil || t.respFirst.IsZero() || t.reqLast.IsZero() {
		return
	}
	ev.Timed = true
	ev.Send = t.reqLast.Sub(t.reqFirst)
	ev.Wait = t.respFirst.Sub(t.reqLast)
	if ev.Wait < 0 {
		ev.Wait = -1 // the response began before the request ended
	}
	ev.Receive = r.now.Sub(t.respFirst)
	if final {
		p.forget(ev.Seq, stream)
	}
}

// startDecoding starts undoing the content codings of a body, if its
// head says it has any.
func (p *httpProgress) startDecoding(side decode.Side, seq int, stream uint32, hs []decode.Header) {
	var values []string
	for _, h := range hs {
		if strings.EqualFold(h.Name, "Content-Encoding") {
			values = append(values, h.Value)
		}
	}
	cs := coding.Parse(values)
	if len(cs) == 0 {
		return
	}
	if d := p.decodingOf(side, seq, stream); d != nil { // a head again (interim responses)
		d.s.Close()
		*d = decoding{}
	}
	if p.bodies == nil {
		p.bodies = new([maxDecoding]decoding)
	}
	for i := range p.bodies {
		if d := &p.bodies[i]; d.s == nil {
			*d = decoding{side: side, seq: seq, stream: stream, s: coding.NewStream(cs, p.decodeLimit, p.keepDecoded)}
			return
		}
	}
	if len(p.skipped) == maxTimed {
		p.skipped = p.skipped[1:]
	}
	p.skipped = append(p.skipped, decoding{side: side, seq: seq, stream: stream})
}

// decodingOf returns the slot of a body being decoded, or nil.
func (p *httpProgress) decodingOf(side decode.Side, seq int, stream uint32) *decoding {
	if p.bodies == nil {
		return nil
	}
	for i := range p.bodies {
		if d := &p.bodies[i]; d.s != nil && d.side == side && d.seq == seq && d.stream == stream {
			return d
		}
	}
	return nil
}

// wasSkipped reports (and forgets) a body that was not decoded because
// too many were.
func (p *httpProgress) wasSkipped(side decode.Side, seq int, stream uint32) bool {
	for i, d := range p.skipped {
		if d.side == side && d.seq == seq && d.stream == stream {
			p.skipped = append(p.skipped[:i], p.skipped[i+1:]...)
			return true
		}
	}
	return false
}

// timesFor returns the timings of an exchange; with add set it starts
// them (dropping the oldest past maxTimed), else it returns nil when the
// exchange is not being timed.
func (p *httpProgress) timesFor(seq int, stream uint32, add bool) *exchangeTimes {
	for i := range p.times {
		if t := &p.times[i]; t.seq == seq && t.stream == stream {
			if add {
				*t = exchangeTimes{seq: seq, stream: stream}
			}
			return t
		}
	}
	if !add {
		return nil
	}
	if len(p.times) == maxTimed {
		copy(p.times, p.times[1:])
		p.times = p.times[:maxTimed-1]
	}
	p.times = append(p.times, exchangeTimes{seq: seq, stream: stream})
	return &p.times[len(p.times)-1]
}

// forget stops timing an exchange.
func (p *httpProgress) forget(seq int, stream uint32) {
	for i := range p.times {
		if t := p.times[i]; t.seq == seq && t.stream == stream {
			p.times = append(p.times[:i], p.times[i+1:]...)
			return
		}
	}
}

// letHTTPGo drops the timings kept for exchanges once the connection
// carries WebSocket frames only: none is in flight then.
func (p *httpProgress) letHTTPGo() {
	if len(p.times) == 0 {
		p.times = nil
	}
}

// closeAll ends the decoding of bodies still in flight (the connection
// ended): their coroutines must not outlive it.
func (p *httpProgress) closeAll() {
	if p.bodies != nil {
		for i := range p.bodies {
			if d := &p.bodies[i]; d.s != nil {
				d.s.Close()
			}
		}
	}
	p.bodies, p.times, p.skipped = nil, nil, nil
}
