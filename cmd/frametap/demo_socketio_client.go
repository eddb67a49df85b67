package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// socketIOFeed runs Socket.IO sessions until ctx is done, a new one after
// a session breaks.
func socketIOFeed(ctx context.Context, p demoPeers) {
	for ctx.Err() == nil {
		socketIOSession(ctx, p)
		sleepCtx(ctx, 2*time.Second)
	}
}

// socketIOSession is the client side of one session, as socket.io-client
// does it with its default transports: the handshake and the CONNECT over
// long-polling, polls that bring prices, the probe over a WebSocket
// (through a CONNECT tunnel) while a poll waits, the upgrade, an event with
// an ack, then the prices and the heartbeat over the WebSocket until ctx
// is done, and the DISCONNECT.
func socketIOSession(ctx context.Context, p demoPeers) error {
	c := feedClient(p, eioPingInterval+eioPingTimeout+5*time.Second)
	// A poll waits while the client posts: two connections, as a browser has.
	c.Transport.(*http.Transport).MaxConnsPerHost = 2
	defer c.CloseIdleConnections()
	base := "http://" + p.feed + "/socket.io/?EIO=4&transport=polling"
	var sid string
	n := 0
	get := func() ([]string, error) {
		n++ // t is socket.io-client's cache buster
		u := base + "&t=" + strconv.FormatInt(int64(n), 36)
		if sid != "" {
			u += "&sid=" + sid
		}
		req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
		if err != nil {
			return nil, err
		}
		resp, body, err := demoDo(c, req)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("socket.io poll: %s %s", resp.Status, body)
		}
		if err != nil {
			return nil, err
		}
		return strings.Split(string(body), eioSeparator), nil
	}
	post := func(pkts ...string) error {
		n++
		req, err := http.NewRequestWithContext(ctx, "POST", base+"&t="+strconv.FormatInt(int64(n), 36)+"&sid="+sid,
			strings.NewReader(strings.Join(pkts, eioSeparator)))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		resp, body, err := demoDo(c, req)
		if err == nil && (resp.StatusCode != http.StatusOK || string(body) != "ok") {
			err = fmt.Errorf("socket.io post: %s %q", resp.Status, body)
		}
		return err
	}
	// onPolling handles what a poll brought; it reports whether a price
	// or a noop was among it.
	onPolling := func(pkts []string) (gotPrice, gotNoop bool, err error) {
		for _, pkt := range pkts {
			switch {
			case pkt == "2":
				err = errors.Join(err, post("3"))
			case pkt == "6":
				gotNoop = true
			case pkt == "1":
				return false, false, errors.New("socket.io: the server closed the session")
			case strings.HasPrefix(pkt, `42["price"`):
				gotPrice = true
			}
		}
		return gotPrice, gotNoop, err
	}

	pkts, err := get()
	if err != nil {
		return err
	}
	var hs struct {
		SID string `json:"sid"`
	}
	if len(pkts) != 1 || !strings.HasPrefix(pkts[0], "0") || json.Unmarshal([]byte(pkts[0][1:]), &hs) != nil || hs.SID == "" {
		return fmt.Errorf("socket.io: no open packet in %q", pkts)
	}
	sid = hs.SID
	if err := post("40"); err != nil {
		return err
	}
	// Long-polls until a price came this way (the first brings the
	// CONNECT's answer).
	for got := false; !got; {
		if pkts, err = get(); err != nil {
			return err
		}
		if got, _, err = onPolling(pkts); err != nil {
			return err
		}
	}
	// The upgrade: a poll waits meanwhile, and the server ends it with a
	// noop once the probe succeeded.
	polled := make(chan error, 1)
	go func() {
		for {
			pkts, err := get()
			if err != nil {
				polled <- err
				return
			}
			_, noop, err := onPolling(pkts)
			if noop || err != nil {
				polled <- err
				return
			}
		}
	}()
	nc, r, _, err := dialWebSocket(ctx, p.proxy, p.feed, "/socket.io/?EIO=4&transport=websocket&sid="+sid, nil)
	if err != nil {
		<-polled
		return err
	}
	defer nc.Close()
	var wmu sync.Mutex
	send := func(pkt string) error {
		wmu.Lock()
		defer wmu.Unlock()
		nc.SetWriteDeadline(time.Now().Add(demoWriteMax))
		return ws.WriteFrame(nc, ws.MaskFrameInPlace(ws.NewTextFrame([]byte(pkt))))
	}
	if err := send("2probe"); err != nil {
		<-polled
		return err
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := readDemoFrame(r)
	if err != nil || f.Header.OpCode != ws.OpText || !bytes.Equal(f.Payload, []byte("3probe")) {
		<-polled
		return fmt.Errorf("socket.io: no probe answer (%v)", err)
	}
	nc.SetReadDeadline(time.Time{})
	if err := <-polled; err != nil {
		return err
	}
	if err := send("5"); err != nil {
		return err
	}
	if err := send(`420["subscribe","FTAP"]`); err != nil {
		return err
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		for {
			nc.SetReadDeadline(time.Now().Add(eioPingInterval + eioPingTimeout))
			f, err := readDemoFrame(r)
			if err != nil || f.Header.OpCode == ws.OpClose {
				return
			}
			if f.Header.OpCode == ws.OpText && string(f.Payload) == "2" && send("3") != nil {
				return
			}
		}
	}()
	select {
	case <-ctx.Done():
		send("41") // DISCONNECT from the main namespace
		wsClose(nc, closed)
		return nil
	case <-closed:
		return errors.New("socket.io: the WebSocket closed")
	}
}
