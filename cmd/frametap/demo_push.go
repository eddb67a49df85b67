package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gobwas/ws"
)

// The feed's clients: each way of pushing on a connection of its own,
// through the proxy as an HTTP client configured for it does.

// feedClient is an HTTP client through the proxy that keeps one
// connection to the feed, as a page that polls does.
func feedClient(p demoPeers, timeout time.Duration) *http.Client {
	proxyURL := &url.URL{Scheme: "http", Host: p.proxy}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		Proxy:               http.ProxyURL(proxyURL),
		MaxConnsPerHost:     1,
		MaxIdleConnsPerHost: 1,
	}}
}

// pollFeed asks for the price every second on one kept-alive connection
// (short polling): half the answers are what it had already.
func pollFeed(ctx context.Context, p demoPeers) {
	c := feedClient(p, 5*time.Second)
	defer c.CloseIdleConnections()
	for sleepCtx(ctx, time.Second) {
		if req, err := http.NewRequestWithContext(ctx, "GET", "http://"+p.feed+"/api/poll", nil); err == nil {
			demoDo(c, req)
		}
	}
}

// longPollFeed asks for the price after the one it has; the server holds
// each request until there is one (long-polling).
func longPollFeed(ctx context.Context, p demoPeers) {
	c := feedClient(p, longPollMax+5*time.Second)
	defer c.CloseIdleConnections()
	last := 0
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/api/longpoll?after=%d", p.feed, last), nil)
		if err != nil {
			return
		}
		resp, body, err := demoDo(c, req)
		if err != nil {
			sleepCtx(ctx, time.Second)
			continue
		}
		var q struct{ ID int }
		if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &q) == nil && q.ID > last {
			last = q.ID
		}
	}
}

// sseFeed reads the feed's event stream as EventSource does: it parses
// the events (WHATWG HTML 9.2.6, enough for this server's), and when the
// stream ends it waits the retry time the server set and reconnects with
// Last-Event-ID, on the same kept-alive connection.
func sseFeed(ctx context.Context, p demoPeers) {
	c := feedClient(p, 0) // the stream has no end to time out; its head has
	c.Transport.(*http.Transport).ResponseHeaderTimeout = 10 * time.Second
	defer c.CloseIdleConnections()
	lastID, retry := "", time.Second
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+p.feed+"/api/stream", nil)
		if err != nil {
			return
		}
		req.Header.Set("Accept", "text/event-stream")
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := c.Do(req)
		if err != nil {
			sleepCtx(ctx, retry)
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			name, value, _ := strings.Cut(sc.Text(), ":")
			value = strings.TrimPrefix(value, " ")
			switch name {
			case "id":
				lastID = value
			case "retry":
				if ms, err := strconv.Atoi(value); err == nil {
					retry = time.Duration(ms) * time.Millisecond
				}
			}
		}
		resp.Body.Close()
		sleepCtx(ctx, retry)
	}
}

// wsFeed keeps a WebSocket to /feed through a CONNECT tunnel and reads
// the prices it pushes; it closes cleanly when ctx is done.
func wsFeed(ctx context.Context, p demoPeers) {
	for ctx.Err() == nil {
		nc, r, _, err := dialWebSocket(ctx, p.proxy, p.feed, "/feed", nil)
		if err != nil {
			sleepCtx(ctx, time.Second)
			continue
		}
		closed := make(chan struct{})
		go func() {
			defer close(closed)
			for {
				f, err := readDemoFrame(r)
				if err != nil || f.Header.OpCode == ws.OpClose {
					return
				}
			}
		}()
		select {
		case <-ctx.Done():
			wsClose(nc, closed)
			return
		case <-closed:
			nc.Close()
			sleepCtx(ctx, time.Second)
		}
	}
}
