package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// tourHandler is the WebSocket tour's server: the WebSocket at /live, and
// the POST and the image of the tour's rounds, on a host of its own, apart
// from the feed's ways of pushing.
func (d *demo) tourHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /live", func(w http.ResponseWriter, r *http.Request) {
		ext := wsflate.Extension{Parameters: wsflate.DefaultParameters}
		up := ws.HTTPUpgrader{Negotiate: ext.Negotiate}
		nc, rw, _, err := up.Upgrade(r, w)
		if err != nil {
			return
		}
		_, deflate := ext.Accepted()
		d.conns.serve(nc, func(nc net.Conn) { serveTourWS(nc, rw.Reader, deflate) })
	})
	mux.HandleFunc("POST /api/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		fmt.Fprintf(w, `{"echo":%s,"method":%q}`, b, r.Method)
	})
	mux.HandleFunc("GET /logo.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(demoPNG)
	})
	return mux
}

// demoPNG is the start of a PNG file: binary bytes for the hex dump.
var demoPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa\x00\x00\x00\x0cIDATx\x9cc`\x18\x05\x00\x00\x10\x00\x01\x00\x00\x00\x00IEND\xaeB`\x82")

// serveTourWS is the tour's WebSocket: it pushes a tick every 400 ms (a
// binary one every third), echoes what the client sends (compressed when
// the client's message was), answers pings and the close.
func serveTourWS(nc net.Conn, br io.Reader, deflate bool) {
	var wmu sync.Mutex
	send := func(f ws.Frame) error {
		wmu.Lock()
		defer wmu.Unlock()
		nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
		return ws.WriteFrame(nc, f)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(400 * time.Millisecond)
		defer t.Stop()
		for n := 1; ; n++ {
			select {
			case <-done:
				return
			case <-t.C:
			}
			f := ws.NewTextFrame(fmt.Appendf(nil, `{"push":%d,"topic":"prices","price":%.2f}`, n, 100+10*math.Sin(float64(n)/3)))
			if n%3 == 0 {
				f = ws.NewBinaryFrame([]byte{0x01, byte(n >> 8), byte(n), 0xfe, 0xff, 0x00, 0x42, 0x13, 0x37})
			}
			if send(f) != nil {
				return
			}
		}
	}()
	var msg []byte
	var op ws.OpCode
	var compressed bool
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
			continue
		case ws.OpPong:
			continue
		case ws.OpClose:
			send(ws.NewCloseFrame(f.Payload))
			return
		case ws.OpText, ws.OpBinary:
			op, compressed, msg = f.Header.OpCode, f.Header.Rsv1(), msg[:0]
		}
		msg = append(msg, f.Payload...)
		if !f.Header.Fin {
			continue
		}
		out := ws.NewFrame(op, true, append([]byte(nil), msg...))
		if compressed && deflate {
			in, err := wsflate.DecompressFrame(ws.Frame{Header: ws.Header{Fin: true, Rsv: ws.Rsv(true, false, false), OpCode: op}, Payload: msg})
			if err != nil {
				return
			}
			if out, err = wsflate.CompressFrame(ws.NewFrame(op, true, in.Payload)); err != nil {
				return
			}
		}
		if send(out) != nil {
			return
		}
	}
}

// wsTour is the WebSocket tour, in rounds: a POST with Connection: close
// and a logo on a connection of its own, then a WebSocket session through
// a CONNECT tunnel (tourWebSocket), until ctx is done.
func wsTour(ctx context.Context, p demoPeers) {
	proxyURL := &url.URL{Scheme: "http", Host: p.proxy}
	base := "http://" + p.ws
	closer := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), DisableKeepAlives: true}, Timeout: 5 * time.Second}
	for round := 1; ctx.Err() == nil; round++ {
		req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/echo", strings.NewReader(fmt.Sprintf(`{"round":%d,"hello":"world"}`, round)))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			demoDo(closer, req)
		}
		if req, err := http.NewRequestWithContext(ctx, "GET", base+"/logo.png", nil); err == nil {
			demoDo(closer, req)
		}
		tourWebSocket(ctx, p.proxy, p.ws)
		sleepCtx(ctx, time.Second)
	}
}

// demoDo sends req and reads its response to the end.
func demoDo(c *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp, b, err
}

// dialTunnel opens a CONNECT tunnel through the proxy to addr, as a
// browser does for a WebSocket. The reader holds what came after the 200.
func dialTunnel(ctx context.Context, proxyAddr, addr string) (net.Conn, *bufio.Reader, error) {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	nc, err := d.DialContext(dctx, "tcp", proxyAddr)
	if err != nil {
		return nil, nil, err
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(nc, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("CONNECT %s: %s", addr, resp.Status)
	}
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	nc.SetDeadline(time.Time{})
	return nc, br, nil
}

// dialWebSocket opens a WebSocket to ws://addr+target through a CONNECT
// tunnel, offering exts. It returns the connection, a reader of the
// server's frames and the handshake.
func dialWebSocket(ctx context.Context, proxyAddr, addr, target string, exts []httphead.Option) (net.Conn, io.Reader, ws.Handshake, error) {
	nc, br, err := dialTunnel(ctx, proxyAddr, addr)
	if err != nil {
		return nil, nil, ws.Handshake{}, err
	}
	u, err := url.Parse("ws://" + addr + target)
	if err != nil {
		nc.Close()
		return nil, nil, ws.Handshake{}, err
	}
	dialer := ws.Dialer{Extensions: exts}
	rw := struct {
		io.Reader
		io.Writer
	}{br, nc}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	wbr, hs, err := dialer.Upgrade(rw, u)
	if err != nil {
		nc.Close()
		return nil, nil, hs, err
	}
	nc.SetDeadline(time.Time{})
	var r io.Reader = br
	if wbr != nil {
		r = io.MultiReader(wbr, br)
	}
	return nc, r, hs, nil
}

// wsClose ends a client's WebSocket: a close frame, then up to a second
// for the server's (closed is closed when the reader saw it), then the
// connection. It does not wait on the demo's context, which is done.
func wsClose(nc net.Conn, closed <-chan struct{}) {
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	ws.WriteFrame(nc, ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye"))))
	select {
	case <-closed:
	case <-time.After(time.Second):
	}
	nc.Close()
}

// tourWebSocket opens a WebSocket through a CONNECT tunnel offering
// permessage-deflate, sends a text, a JSON text, a ping, a fragmented
// message, a compressed one and a binary one while the server pushes,
// then closes.
func tourWebSocket(ctx context.Context, proxyAddr, wsAddr string) error {
	nc, r, hs, err := dialWebSocket(ctx, proxyAddr, wsAddr, "/live", []httphead.Option{wsflate.DefaultParameters.Option()})
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	deflate := len(hs.Extensions) > 0
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
	send := func(f ws.Frame) bool {
		return ws.WriteFrame(nc, ws.MaskFrameInPlace(f)) == nil && ctx.Err() == nil
	}
	pause := func(d time.Duration) bool { return sleepCtx(ctx, d) }
	compressed := ws.NewTextFrame([]byte(`{"type":"report","items":["alpha","alpha","alpha","beta","beta","beta"],"note":"this message is compressed with permessage-deflate; repeated words shrink well, well, well"}`))
	if deflate {
		if compressed, err = wsflate.CompressFrame(compressed); err != nil {
			return err
		}
	}
	steps := []func() bool{
		func() bool { return send(ws.NewTextFrame([]byte("hello from the demo client"))) },
		func() bool { return send(ws.NewTextFrame([]byte(`{"type":"subscribe","topics":["prices","news"]}`))) },
		func() bool { return send(ws.NewPingFrame([]byte("are you there?"))) },
		func() bool {
			return send(ws.NewFrame(ws.OpText, false, []byte("this message "))) &&
				send(ws.NewFrame(ws.OpContinuation, false, []byte("comes in "))) &&
				send(ws.NewFrame(ws.OpContinuation, true, []byte("three frames")))
		},
		func() bool { return send(compressed) },
		func() bool { return send(ws.NewBinaryFrame([]byte{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03})) },
	}
	for _, step := range steps {
		if !step() || !pause(300*time.Millisecond) {
			wsClose(nc, closed)
			return ctx.Err()
		}
	}
	if !pause(2 * time.Second) {
		wsClose(nc, closed)
		return ctx.Err()
	}
	send(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")))
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
	}
	return nil
}

// demoMaxFrame bounds the frames the demo's own peers read: they only
// exchange small messages, and ws.ReadFrame would trust the declared length.
const demoMaxFrame = 1 << 20

// readDemoFrame reads one whole frame of at most demoMaxFrame bytes.
func readDemoFrame(r io.Reader) (ws.Frame, error) {
	h, err := ws.ReadHeader(r)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > demoMaxFrame {
		return ws.Frame{}, fmt.Errorf("demo: frame of %d bytes, over %d", h.Length, demoMaxFrame)
	}
	f := ws.Frame{Header: h, Payload: make([]byte, h.Length)}
	_, err = io.ReadFull(r, f.Payload)
	return f, err
}
