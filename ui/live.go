package ui

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/frametap/frametap/capture"
)

// This file is the Store's live side: what a connection's stream learns
// while bytes flow, through capture.Live, and never records (the capture
// keeps one request and one response per exchange). The proxy calls it on
// the connection's goroutines under that connection's lock; nothing here
// waits: byte counts are atomics of the connection, and heads take a lock
// of the connection's own (liveConn.mu), which only the UI's snapshot also
// takes, briefly. Connections are registered with the Store when their
// first event arrives and forgotten when their stream closes.

// maxLiveExchanges bounds the heads a connection keeps while their
// exchanges are in flight (pipelined requests, HTTP/2 streams): past it
// the oldest is forgotten.
const maxLiveExchanges = 64

// liveConn is what the dashboard learns of one open connection between
// its events.
type liveConn struct {
	id    uint64
	bytes [2]atomic.Int64 // relayed from the client [0] and from the server [1]

	mu sync.Mutex
	xs []*liveExchange // exchanges whose head arrived and final response is not recorded, oldest first

	cur *liveExchange // the last one Body counted for: the proxy's side only (calls are serialised)
}

// liveExchange is an exchange in flight: the heads that arrived and the
// body bytes so far. Its heads are set once under liveConn.mu and never
// changed after (a later head replaces the pointer); the counters are
// atomics.
type liveExchange struct {
	seq    int
	stream uint32
	req    *capture.Event // the request head, nil until it arrives
	resp   *capture.Event // the latest response head (an interim one, then the final), nil until one arrives

	reqBody, respBody atomic.Int64 // body bytes so far
	first, last       atomic.Int64 // unix nanoseconds of the response body's first and latest bytes
}

// liveView is a snapshot of a liveExchange for the UI goroutine.
type liveView struct {
	seq               int
	stream            uint32
	req, resp         *capture.Event
	reqBody, respBody int64
	first, last       time.Time
}

// rate is the response body's bytes per second so far, 0 until two reads
// apart.
func (v liveView) rate() float64 {
	d := v.last.Sub(v.first).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(v.respBody) / d
}

// snapshot copies the exchanges in flight into dst.
func (lc *liveConn) snapshot(dst []liveView) []liveView {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	for _, x := range lc.xs {
		v := liveView{seq: x.seq, stream: x.stream, req: x.req, resp: x.resp, reqBody: x.reqBody.Load(), respBody: x.respBody.Load()}
		if f := x.first.Load(); f != 0 {
			v.first, v.last = time.Unix(0, f), time.Unix(0, x.last.Load())
		}
		dst = append(dst, v)
	}
	return dst
}

// flight says what the connection's exchanges in flight do: "receiving"
// (a final response's head arrived), "waiting" (a request was recorded,
// lastReq being the last one's seq, and no response yet), "sending" (a
// request's head arrived but the request did not end), or "".
func (lc *liveConn) flight(lastReq int) string {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	state := ""
	for _, x := range lc.xs {
		switch {
		case x.resp != nil && (x.resp.Status >= 200 || x.resp.Status == 101):
			return "receiving"
		case x.req != nil && x.seq > lastReq:
			state = "sending"
		case state == "":
			state = "waiting"
		}
	}
	return state
}

// find returns the exchange seq, making it when add is set. Callers hold mu.
func (lc *liveConn) find(seq int, stream uint32, add bool) *liveExchange {
	for _, x := range lc.xs {
		if x.seq == seq {
			return x
		}
	}
	if !add {
		return nil
	}
	if len(lc.xs) == maxLiveExchanges {
		copy(lc.xs, lc.xs[1:])
		lc.xs = lc.xs[:len(lc.xs)-1]
	}
	x := &liveExchange{seq: seq, stream: stream}
	lc.xs = append(lc.xs, x)
	return x
}

// done forgets exchange seq: its final response is recorded.
func (lc *liveConn) done(seq int) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	for i, x := range lc.xs {
		if x.seq == seq {
			lc.xs = append(lc.xs[:i], lc.xs[i+1:]...)
			if lc.cur == x {
				lc.cur = nil
			}
			return
		}
	}
}

// The capture.Live methods of a connection's stream.

func (st *storeStream) Relayed(from string, n int64) {
	side := 0
	if from == "server" {
		side = 1
	}
	st.lc.bytes[side].Add(n)
	st.s.hasLive.Store(true)
}

func (st *storeStream) Head(stream uint32, ev *capture.Event) {
	head := copyEvent(ev)
	head.Body, head.Truncated = nil, false
	lc := st.lc
	lc.mu.Lock()
	defer lc.mu.Unlock()
	x := lc.find(ev.Seq, stream, true)
	if ev.Kind == capture.KindRequest {
		x.req = head
	} else {
		x.resp = head
	}
}

func (st *storeStream) Body(from string, seq int, stream uint32, n int64, t time.Time) {
	lc := st.lc
	x := lc.cur
	if x == nil || x.seq != seq {
		lc.mu.Lock()
		x = lc.find(seq, stream, false)
		lc.cur = x
		lc.mu.Unlock()
		if x == nil {
			return
		}
	}
	if from == "client" {
		x.reqBody.Add(n)
		return
	}
	x.respBody.Add(n)
	x.first.CompareAndSwap(0, t.UnixNano())
	x.last.Store(t.UnixNano())
}

// register makes lc known to the UI once its first event named the
// connection.
func (s *Store) register(lc *liveConn) {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	if s.lives == nil {
		s.lives = make(map[uint64]*liveConn)
	}
	s.lives[lc.id] = lc
}

// unregister forgets a connection whose stream closed, keeping its bytes
// in the total.
func (s *Store) unregister(lc *liveConn) {
	s.liveMu.Lock()
	defer s.liveMu.Unlock()
	if s.lives[lc.id] == lc {
		delete(s.lives, lc.id)
		s.closedBytes += lc.bytes[0].Load() + lc.bytes[1].Load()
	}
}

// live returns what is known live of connection id, nil when nothing.
func (s *Store) live(id uint64) *liveConn {
	s.liveMu.RLock()
	defer s.liveMu.RUnlock()
	return s.lives[id]
}

// relayed returns the bytes relayed on every connection so far, and
// whether anything reported any (a saved capture has no live side).
func (s *Store) relayed() (int64, bool) {
	if !s.hasLive.Load() {
		return 0, false
	}
	s.liveMu.RLock()
	defer s.liveMu.RUnlock()
	n := s.closedBytes
	for _, lc := range s.lives {
		n += lc.bytes[0].Load() + lc.bytes[1].Load()
	}
	return n, true
}
