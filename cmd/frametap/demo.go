package main

// `frametap demo`: frametap's founding lesson as a live experiment. One
// price feed is served every way a server pushes (issue 10), next to the
// three acts of issue 9 (keep-alive, HTTP/2 multiplexing, WebSocket over
// HTTP/2), all on loopback and all through frametap:
//
//   - demo.go: the command, the servers' lifetime, the scripted client;
//   - demo_feed.go: the feed and its HTTP server (polling, long-polling,
//     Server-Sent Events, a WebSocket);
//   - demo_push.go: the clients of those four;
//   - demo_socketio.go, demo_socketio_client.go: a Socket.IO session
//     (Engine.IO v4), the server and the client;
//   - demo_h2.go: HTTP/2 fetches many small resources at once (h2c);
//   - demo_h2ws.go, demo_h2ws_client.go: a WebSocket over HTTP/2 (RFC
//     8441), the server and the client;
//   - demo_ws.go: the WebSocket tour (echo, ping, fragments, deflate).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// runDemo is `frametap demo`: the proxy, the demo's servers on loopback,
// and a scripted client that talks to them through the proxy until the
// user quits.
func runDemo(args []string, stdout, stderr io.Writer) error {
	var o options
	fs := newFlags("frametap demo", &o, stderr, "127.0.0.1:0")
	rest, err := parseFlags(fs, args, stdout, func(w io.Writer) {
		fmt.Fprint(w, demoUsage)
	})
	if err != nil {
		return flagErr(err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("demo: unexpected argument %q (see --help)", rest[0])
	}
	if len(o.modes) > 1 || len(o.modes) == 1 && o.modes[0] != "regular" {
		return errors.New("demo: the demo runs the proxy in regular mode only")
	}
	d, err := startDemo(feedPeriod)
	if err != nil {
		return err
	}
	defer d.close()
	return serve(o, flagSet(fs, "listen"), stdout, stderr, d.client)
}

const demoUsage = `Usage: frametap demo [flags]

Runs the proxy with demo servers on loopback and a scripted client talking
to them through it. One price feed (a new price every 2 s) is served five
ways on one host: short polling every second on a kept-alive connection,
long-polling, Server-Sent Events, a WebSocket and a Socket.IO session. Beside
it: HTTP/2 fetching many small resources at once on one connection (h2c), a
WebSocket over HTTP/2 (RFC 8441), and a WebSocket tour (echo, ping,
fragments, permessage-deflate). Press P in the dashboard to compare what
each way of pushing costs.

Flags:
`

// feedPeriod is how often the demo's feed has a new price: slower than the
// polling client's 1 s, so that half its polls bring nothing new, and
// above the 1 s at which a held request counts as a long poll.
const feedPeriod = 2 * time.Second

// demo is the demo's servers. Its methods are safe for concurrent use.
type demo struct {
	feed *feed

	feedLn, wsLn, h2Ln, h2wsLn net.Listener
	feedSrv, tourSrv, h2Srv    *http.Server

	conns tracker // connections the servers handle themselves
}

// startDemo starts the feed (a new price every period) and the servers,
// each on its own loopback port.
func startDemo(period time.Duration) (*demo, error) {
	d := &demo{feed: newFeed()}
	lns := []*net.Listener{&d.feedLn, &d.wsLn, &d.h2Ln, &d.h2wsLn}
	for i, ln := range lns {
		var err error
		if *ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			for _, l := range lns[:i] {
				(*l).Close()
			}
			return nil, err
		}
	}
	go d.feed.run(period)
	d.feedSrv = &http.Server{Handler: d.feedHandler(), ReadHeaderTimeout: 10 * time.Second}
	d.tourSrv = &http.Server{Handler: d.tourHandler(), ReadHeaderTimeout: 10 * time.Second}
	d.h2Srv = newH2CServer()
	go d.feedSrv.Serve(d.feedLn)
	go d.tourSrv.Serve(d.wsLn)
	go d.h2Srv.Serve(d.h2Ln)
	go d.conns.accept(d.h2wsLn, func(nc net.Conn) { serveH2WS(nc, d.feed) })
	return d, nil
}

// close stops the feed and every server, and closes the connections they
// still serve, hijacked ones included.
func (d *demo) close() {
	d.feed.stop()
	d.feedSrv.Close()
	d.tourSrv.Close()
	d.h2Srv.Close()
	d.h2wsLn.Close()
	d.conns.closeAll()
}

// client is the demo's scripted client: every way of pushing at once,
// each in its own goroutine on its own connection, until ctx is done.
func (d *demo) client(ctx context.Context, proxyAddr string) {
	p := demoPeers{proxy: proxyAddr, feed: d.feedLn.Addr().String(), ws: d.wsLn.Addr().String(),
		h2: d.h2Ln.Addr().String(), h2ws: d.h2wsLn.Addr().String()}
	var wg sync.WaitGroup
	for _, run := range []func(context.Context, demoPeers){
		pollFeed, longPollFeed, sseFeed, wsFeed, socketIOFeed, h2Fetches, h2WebSocket, wsTour,
	} {
		wg.Go(func() { run(ctx, p) })
	}
	wg.Wait()
	// The clients closed their connections, most with a close handshake:
	// a moment for the proxy to see them end before serve shuts it down,
	// which would record them as cut.
	time.Sleep(200 * time.Millisecond)
}

// demoPeers is where the scripted client goes: the proxy, and behind it
// the demo's servers.
type demoPeers struct {
	proxy, feed, ws, h2, h2ws string
}

// tracker is the set of connections a demo server handles itself (its own
// accept loop, or hijacked from net/http, which does not close those), so
// that close can end them. It is safe for concurrent use.
type tracker struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// add registers nc and reports false (closing nc) once closeAll ran.
func (t *tracker) add(nc net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		nc.Close()
		return false
	}
	if t.conns == nil {
		t.conns = make(map[net.Conn]struct{})
	}
	t.conns[nc] = struct{}{}
	t.wg.Add(1)
	return true
}

// done closes nc and forgets it.
func (t *tracker) done(nc net.Conn) {
	nc.Close()
	t.mu.Lock()
	delete(t.conns, nc)
	t.mu.Unlock()
	t.wg.Done()
}

// serve runs handle on nc as a tracked connection, closing it after.
func (t *tracker) serve(nc net.Conn, handle func(net.Conn)) {
	if !t.add(nc) {
		return
	}
	defer t.done(nc)
	handle(nc)
}

// accept serves every connection of ln with handle until ln closes.
func (t *tracker) accept(ln net.Listener, handle func(net.Conn)) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go t.serve(nc, handle)
	}
}

// closeAll closes every tracked connection and waits for their handlers.
func (t *tracker) closeAll() {
	t.mu.Lock()
	t.closed = true
	for nc := range t.conns {
		nc.Close()
	}
	t.mu.Unlock()
	t.wg.Wait()
}

// sleepCtx waits d and reports whether ctx is still going.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
