package main

// The demo's Socket.IO: a small server and client written from the specs
// (engine.io-protocol v4, socket.io-protocol v5), byte by byte, so that
// frametap has a whole session to show: the long-polling handshake, the
// Socket.IO CONNECT, prices pushed as EVENT packets over long-polling, the
// upgrade probe and the switch to WebSocket, an event with an ack, the
// heartbeat, and the disconnect.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// The Engine.IO session's settings, as the handshake announces them.
const (
	eioPingInterval = 10 * time.Second
	eioPingTimeout  = 5 * time.Second
	eioMaxPayload   = 1 << 20
	eioMaxSessions  = 16 // sessions the server keeps at once
	eioMaxQueue     = 64 // packets waiting for a poll; a session over it is closed
	eioSeparator    = "\x1e"
)

// sioServer is the demo's Socket.IO server on /socket.io/. It is safe for
// concurrent use.
type sioServer struct {
	feed  *feed
	conns *tracker

	mu       sync.Mutex
	sessions map[string]*eioSession
}

// eioSession is one Engine.IO session: packets wait in queue for the next
// poll until the client upgrades to WebSocket, then go on ws.
type eioSession struct {
	sid  string
	s    *sioServer
	wake chan struct{} // buffered 1: a waiting poll looks at queue again
	end  context.CancelFunc
	ctx  context.Context

	mu        sync.Mutex
	queue     []string
	ws        net.Conn // once the client sent the upgrade packet
	connected bool     // the Socket.IO CONNECT of the main namespace
	wmu       sync.Mutex
}

// newID is a random session id, 20 characters as engine.io's are.
func newID() string {
	b := make([]byte, 15)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *sioServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("EIO") != "4" {
		eioError(w, 5, "Unsupported protocol version")
		return
	}
	sid := q.Get("sid")
	if sid == "" {
		if q.Get("transport") != "polling" || r.Method != http.MethodGet {
			eioError(w, 3, "Bad request")
			return
		}
		s.open(w)
		return
	}
	s.mu.Lock()
	sess := s.sessions[sid]
	s.mu.Unlock()
	if sess == nil {
		eioError(w, 1, "Session ID unknown")
		return
	}
	switch {
	case q.Get("transport") == "websocket" && r.Method == http.MethodGet:
		nc, rw, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		s.conns.serve(nc, func(nc net.Conn) { sess.serveWS(nc, rw.Reader) })
	case q.Get("transport") == "polling" && r.Method == http.MethodGet:
		sess.poll(w, r)
	case q.Get("transport") == "polling" && r.Method == http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, eioMaxPayload+1))
		if err != nil || len(body) > eioMaxPayload {
			eioError(w, 3, "Bad request")
			return
		}
		// A payload is packets joined by the record separator
		// (engine.io-protocol v4, "Payload").
		for _, pkt := range strings.Split(string(body), eioSeparator) {
			sess.handle(pkt)
		}
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "ok")
	default:
		eioError(w, 3, "Bad request")
	}
}

// eioError is the error answer of engine.io's server.
func eioError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `{"code":%d,"message":%q}`, code, msg)
}

// open is the handshake (engine.io-protocol v4, "Handshake"): a new
// session and its open packet.
func (s *sioServer) open(w http.ResponseWriter) {
	sess := &eioSession{sid: newID(), s: s, wake: make(chan struct{}, 1)}
	sess.ctx, sess.end = context.WithCancel(context.Background())
	s.mu.Lock()
	if len(s.sessions) >= eioMaxSessions {
		s.mu.Unlock()
		http.Error(w, "too many Socket.IO sessions", http.StatusServiceUnavailable)
		return
	}
	s.sessions[sess.sid] = sess
	s.mu.Unlock()
	go sess.push()
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	fmt.Fprintf(w, `0{"sid":%q,"upgrades":["websocket"],"pingInterval":%d,"pingTimeout":%d,"maxPayload":%d}`,
		sess.sid, eioPingInterval.Milliseconds(), eioPingTimeout.Milliseconds(), eioMaxPayload)
}

// close ends the session: it is forgotten, its pusher stops, its
// WebSocket (if any) closes.
func (e *eioSession) close() {
	e.s.mu.Lock()
	delete(e.s.sessions, e.sid)
	e.s.mu.Unlock()
	e.end()
	e.mu.Lock()
	if e.ws != nil {
		e.ws.Close()
	}
	e.mu.Unlock()
}

// push is the session's server side: a ping every interval (the server
// starts the heartbeat in v4), and each price as the EVENT "price" once
// the client has connected to the main namespace. It ends with the
// session, or with the feed.
func (e *eioSession) push() {
	defer e.close()
	ping := time.NewTicker(eioPingInterval)
	defer ping.Stop()
	p, next := e.s.feed.latest()
	last := p.ID
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-e.s.feed.done:
			return
		case <-ping.C:
			e.send("2")
		case <-next:
			p, next = e.s.feed.latest()
			e.mu.Lock()
			connected := e.connected
			e.mu.Unlock()
			if connected && p.ID > last {
				e.send(fmt.Sprintf(`42["price",%s]`, p.json()))
			}
			last = p.ID
		}
		if e.ctx.Err() != nil {
			return
		}
	}
}

// send puts one packet on the session's transport: the WebSocket after
// the upgrade, else the queue of the next poll.
func (e *eioSession) send(pkt string) {
	e.mu.Lock()
	nc := e.ws
	if nc == nil {
		if len(e.queue) >= eioMaxQueue {
			e.mu.Unlock()
			e.close()
			return
		}
		e.queue = append(e.queue, pkt)
	}
	e.mu.Unlock()
	if nc != nil {
		if e.writeWS(nc, pkt) != nil {
			e.close()
		}
		return
	}
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// writeWS writes one packet as one text message (engine.io-protocol v4:
// "each packet is sent in its own WebSocket frame").
func (e *eioSession) writeWS(nc net.Conn, pkt string) error {
	e.wmu.Lock()
	defer e.wmu.Unlock()
	nc.SetWriteDeadline(time.Now().Add(demoWriteMax))
	return ws.WriteFrame(nc, ws.NewTextFrame([]byte(pkt)))
}

// poll answers a GET with every queued packet, waiting for one if there
// is none (long-polling), for at most a ping interval and a timeout.
func (e *eioSession) poll(w http.ResponseWriter, r *http.Request) {
	timer := time.NewTimer(eioPingInterval + eioPingTimeout)
	defer timer.Stop()
	for {
		e.mu.Lock()
		upgraded, pkts := e.ws != nil, e.queue
		if len(pkts) > 0 {
			e.queue = nil
		}
		e.mu.Unlock()
		if upgraded {
			eioError(w, 3, "Bad request")
			return
		}
		if len(pkts) > 0 {
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
			io.WriteString(w, strings.Join(pkts, eioSeparator))
			return
		}
		select {
		case <-e.wake:
		case <-r.Context().Done():
			panic(http.ErrAbortHandler) // the client left: no answer
		case <-e.ctx.Done():
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
			io.WriteString(w, "1") // close
			return
		case <-timer.C:
			e.close() // the client missed a heartbeat: the next turn answers close
		}
	}
}

// handle acts on one packet from the client, from either transport.
func (e *eioSession) handle(pkt string) {
	if pkt == "" {
		return
	}
	switch pkt[0] {
	case '1': // close
		e.close()
	case '4': // message: a Socket.IO packet (socket.io-protocol v5)
		e.handleSIO(pkt[1:])
	}
	// '3' (pong) keeps the session; the demo does not time it.
}

// handleSIO answers the Socket.IO packets of the main namespace: CONNECT,
// DISCONNECT, and an EVENT with an ack id, acknowledged.
func (e *eioSession) handleSIO(p string) {
	switch {
	case p == "0" || strings.HasPrefix(p, "0{"):
		e.mu.Lock()
		e.connected = true
		e.mu.Unlock()
		e.send(fmt.Sprintf(`40{"sid":%q}`, newID()))
	case strings.HasPrefix(p, "0/"):
		nsp, _, _ := strings.Cut(p[1:], ",")
		e.send(fmt.Sprintf(`44%s,{"message":"Invalid namespace"}`, nsp))
	case p == "1":
		e.mu.Lock()
		e.connected = false
		e.mu.Unlock()
	case strings.HasPrefix(p, "2"):
		// `2<ack id>[name, args...]`: an ack id asks for an ACK.
		i := 1
		for i < len(p) && p[i] >= '0' && p[i] <= '9' {
			i++
		}
		var args []json.RawMessage
		if i > 1 && json.Unmarshal([]byte(p[i:]), &args) == nil && len(args) > 0 {
			e.send(fmt.Sprintf(`43%s[{"ok":true,"subscribed":%s}]`, p[1:i], args[len(args)-1]))
		}
	}
}

// serveWS is the session's WebSocket (engine.io-protocol v4, "Upgrade"):
// it answers the probe (and tells the waiting poll to return with a noop),
// then on the upgrade packet becomes the session's transport.
func (e *eioSession) serveWS(nc net.Conn, r io.Reader) {
	defer e.close()
	for {
		f, err := readDemoFrame(r)
		if err != nil {
			return
		}
		if f.Header.Masked {
			ws.Cipher(f.Payload, f.Header.Mask, 0)
		}
		switch f.Header.OpCode {
		case ws.OpPing:
			e.wmu.Lock()
			ws.WriteFrame(nc, ws.NewPongFrame(f.Payload))
			e.wmu.Unlock()
			continue
		case ws.OpClose:
			e.wmu.Lock()
			ws.WriteFrame(nc, ws.NewCloseFrame(f.Payload))
			e.wmu.Unlock()
			return
		case ws.OpText:
		default:
			continue
		}
		switch pkt := string(f.Payload); pkt {
		case "2probe":
			if e.writeWS(nc, "3probe") != nil {
				return
			}
			e.send("6") // noop: the pending poll returns, the client pauses polling
		case "5":
			e.mu.Lock()
			queued := e.queue
			e.ws, e.queue = nc, nil
			e.mu.Unlock()
			for _, pkt := range queued {
				if e.writeWS(nc, pkt) != nil {
					return
				}
			}
		default:
			e.handle(pkt)
		}
	}
}
