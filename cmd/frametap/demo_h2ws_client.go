package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/net/http2"
)

// h2WebSocket keeps a WebSocket over HTTP/2 (demo_h2ws.go) open and reads
// the prices it pushes, a new session after one breaks, until ctx is done.
func h2WebSocket(ctx context.Context, p demoPeers) {
	for ctx.Err() == nil {
		h2wsSession(ctx, p)
		sleepCtx(ctx, 2*time.Second)
	}
}

// h2wsSession is one connection of the client: the preface and SETTINGS,
// a GET on stream 1 and the extended CONNECT on stream 3 once the server
// allowed it (RFC 8441 section 4), a text and a ping on the WebSocket,
// the prices; when ctx is done, the close, END_STREAM and GOAWAY.
func h2wsSession(ctx context.Context, dp demoPeers) error {
	nc, br, err := dialTunnel(ctx, dp.proxy, dp.h2ws)
	if err != nil {
		return err
	}
	p := newH2Peer(nc, br)
	defer p.close()
	if err := p.write(func(fr *http2.Framer) error {
		if _, err := nc.Write([]byte(http2.ClientPreface)); err != nil {
			return err
		}
		return fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 0})
	}); err != nil {
		return err
	}
	// The server's SETTINGS come first (RFC 9113 section 3.4); a client
	// sends an extended CONNECT only after SETTINGS_ENABLE_CONNECT_PROTOCOL.
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	f, err := p.fr.ReadFrame()
	if err != nil {
		return err
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		return fmt.Errorf("demo: h2: %v before the server's SETTINGS", f.Header().Type)
	}
	if v, _ := sf.Value(http2.SettingEnableConnectProtocol); v != 1 {
		return errors.New("demo: h2: the server does not take extended CONNECT")
	}
	if err := p.control(sf); err != nil {
		return err
	}
	const getID, wsID = 1, 3
	p.open(wsID)
	if err := p.headers(getID, true, ":method", "GET", ":scheme", "http", ":authority", dp.h2ws, ":path", "/h2ws/status"); err != nil {
		return err
	}
	if err := p.headers(wsID, false, ":method", "CONNECT", ":protocol", "websocket", ":scheme", "http",
		":authority", dp.h2ws, ":path", "/h2ws/prices", "sec-websocket-version", "13"); err != nil {
		return err
	}

	accepted := make(chan struct{}) // the 200 on wsID
	closed := make(chan struct{})   // the WebSocket or the connection ended
	go func() {
		defer close(closed)
		var s wsStream
		open := false
		for {
			nc.SetReadDeadline(time.Now().Add(h2wsIdle))
			f, err := p.fr.ReadFrame()
			if err != nil || p.control(f) != nil {
				return
			}
			switch f := f.(type) {
			case *http2.HeadersFrame:
				h, err := p.block(f)
				if err != nil {
					return
				}
				if f.StreamID == wsID && !open {
					if h[":status"] != "200" {
						return
					}
					open = true
					close(accepted)
				}
			case *http2.DataFrame:
				if f.StreamID != wsID {
					continue
				}
				frames, err := s.add(f.Data())
				if err != nil || f.StreamEnded() {
					return
				}
				for _, wf := range frames {
					if wf.Header.OpCode == ws.OpClose {
						return
					}
				}
			case *http2.RSTStreamFrame:
				if f.StreamID == wsID {
					return
				}
			}
		}
	}()
	select {
	case <-accepted:
	case <-closed:
		return errors.New("demo: h2: no WebSocket")
	case <-ctx.Done():
		return nil
	}
	for _, f := range []ws.Frame{ws.NewTextFrame([]byte(`{"type":"subscribe","symbol":"FTAP"}`)), ws.NewPingFrame([]byte("over h2?"))} {
		if err := p.data(wsID, false, wsBytes(f, true)); err != nil {
			return err
		}
	}
	select {
	case <-closed:
		return errors.New("demo: h2: the WebSocket ended")
	case <-ctx.Done():
	}
	// The close, the server's answer (for up to a second), then the
	// stream's END_STREAM and the connection's GOAWAY (RFC 8441 section 5.1).
	p.data(wsID, false, wsBytes(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")), true))
	select {
	case <-closed:
	case <-time.After(time.Second):
	}
	p.data(wsID, true, nil)
	p.write(func(fr *http2.Framer) error { return fr.WriteGoAway(0, http2.ErrCodeNo, nil) })
	return nil
}
