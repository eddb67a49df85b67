package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// price is one quote of the demo's feed.
type price struct {
	ID    int
	Price float64
}

// json is the price as every way of pushing carries it: the same bytes,
// so that only the framing around them differs.
func (p price) json() []byte {
	return fmt.Appendf(nil, `{"id":%d,"symbol":"FTAP","price":%.2f}`, p.ID, p.Price)
}

// feed is the demo's price feed: a new price every period. Readers ask for
// the latest and wait for the next; nothing is queued per reader, so a
// slow reader skips prices rather than holding memory. It is safe for
// concurrent use.
type feed struct {
	mu   sync.Mutex
	last price
	next chan struct{} // closed when a price after last is published
	done chan struct{} // closed by stop
	once sync.Once
}

func newFeed() *feed {
	return &feed{last: price{ID: 1, Price: quote(1)}, next: make(chan struct{}), done: make(chan struct{})}
}

// quote is the n-th price: a slow wave, so that the numbers move.
func quote(n int) float64 { return 100 + 10*math.Sin(float64(n)/5) }

// run publishes a price every period until stop.
func (f *feed) run(period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-f.done:
			return
		case <-t.C:
		}
		f.mu.Lock()
		f.last = price{ID: f.last.ID + 1, Price: quote(f.last.ID + 1)}
		close(f.next)
		f.next = make(chan struct{})
		f.mu.Unlock()
	}
}

func (f *feed) stop() { f.once.Do(func() { close(f.done) }) }

// latest is the current price and a channel closed when the next comes.
func (f *feed) latest() (price, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last, f.next
}

// after waits for a price later than id: it returns the latest at once if
// it is, or the next one published. It gives up (false) when ctx is done,
// the feed stops, or after max.
func (f *feed) after(ctx context.Context, id int, max time.Duration) (price, bool) {
	timer := time.NewTimer(max)
	defer timer.Stop()
	for {
		p, next := f.latest()
		if p.ID > id {
			return p, true
		}
		select {
		case <-next:
		case <-ctx.Done():
			return price{}, false
		case <-f.done:
			return price{}, false
		case <-timer.C:
			return price{}, false
		}
	}
}

// Bounds of the feed server's waits.
const (
	longPollMax  = 25 * time.Second // a long poll with no news then ends in 204
	sseEvents    = 5                // an SSE stream ends after this many events; the client reconnects
	sseRetryMS   = 500              // the reconnection time the SSE stream sets
	demoWriteMax = 5 * time.Second  // one write to a client
)

// feedHandler serves the feed every way a server pushes, on one host:
//
//	GET /api/poll              the latest price, at once (short polling)
//	GET /api/longpoll?after=N  held until a price after N exists (long-polling)
//	GET /api/stream            text/event-stream, one event per price (SSE)
//	GET /feed                  a WebSocket, one message per price
//	/socket.io/                a Socket.IO server (demo_socketio.go)
func (d *demo) feedHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/poll", func(w http.ResponseWriter, r *http.Request) {
		p, _ := d.feed.latest()
		// The same body until the price changes: what polling costs when
		// there is nothing new.
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(p.json())
	})
	mux.HandleFunc("GET /api/longpoll", func(w http.ResponseWriter, r *http.Request) {
		after, err := strconv.Atoi(r.URL.Query().Get("after"))
		if err != nil {
			http.Error(w, "after: want the id of the last price you have", http.StatusBadRequest)
			return
		}
		p, ok := d.feed.after(r.Context(), after, longPollMax)
		if r.Context().Err() != nil {
			panic(http.ErrAbortHandler) // the client left: no answer
		}
		if !ok {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(p.json())
	})
	mux.HandleFunc("GET /api/stream", d.serveSSE)
	mux.HandleFunc("GET /feed", func(w http.ResponseWriter, r *http.Request) {
		nc, rw, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		d.conns.serve(nc, func(nc net.Conn) { d.serveFeedWS(nc, rw.Reader) })
	})
	sio := &sioServer{feed: d.feed, conns: &d.conns, sessions: make(map[string]*eioSession)}
	mux.Handle("/socket.io/", sio)
	return mux
}

// serveSSE is a text/event-stream (WHATWG HTML 9.2): a retry and a comment
// first, then an event per price with its id, so that a client that
// reconnects with Last-Event-ID misses none; after sseEvents events the
// response ends, as servers behind proxies with timeouts do, and the
// client reconnects.
func (d *demo) serveSSE(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	last, err := strconv.Atoi(r.Header.Get("Last-Event-ID"))
	if err != nil {
		// A new client gets the current price first.
		p, _ := d.feed.latest()
		last = p.ID - 1
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "retry: %d\n: one event per price; this stream ends after %d\n\n", sseRetryMS, sseEvents)
	for n := 0; n < sseEvents; n++ {
		rc.SetWriteDeadline(time.Now().Add(demoWriteMax))
		if bw.Flush() != nil || rc.Flush() != nil {
			return
		}
		p, ok := d.feed.after(r.Context(), last, longPollMax)
		if !ok {
			return
		}
		fmt.Fprintf(bw, "event: price\nid: %d\ndata: %s\n\n", p.ID, p.json())
		last = p.ID
	}
	rc.SetWriteDeadline(time.Now().Add(demoWriteMax))
	bw.Flush()
}

// serveFeedWS pushes every price as a text message on an upgraded
// connection, answers pings and the close, and reads nothing else.
func (d *demo) serveFeedWS(nc net.Conn, br io.Reader) {
	var wmu sync.Mutex
	send := func(f ws.Frame) error {
		wmu.Lock()
		defer wmu.Unlock()
		nc.SetWriteDeadline(time.Now().Add(demoWriteMax))
		return ws.WriteFrame(nc, f)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		p, _ := d.feed.latest()
		for last := p.ID - 1; ; {
			p, ok := d.feed.after(ctx, last, time.Hour)
			if !ok || send(ws.NewTextFrame(p.json())) != nil {
				return
			}
			last = p.ID
		}
	}()
	for {
		f, err := readDemoFrame(br)
		if err != nil {
			return
		}
		if f.Header.Masked {
			ws.Cipher(f.Payload, f.Header.Mask, 0)
		}
		switch f.Header.OpCode {
		case ws.OpPing:
			send(ws.NewPongFrame(f.Payload))
		case ws.OpClose:
			cancel()
			send(ws.NewCloseFrame(f.Payload))
			return
		}
	}
}
