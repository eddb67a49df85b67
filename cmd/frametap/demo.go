package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// runDemo is `frametap demo`: the proxy, an HTTP server and a WebSocket
// server on loopback, and a scripted client that talks to them through
// the proxy until the user quits.
func runDemo(args []string, stdout, stderr io.Writer) error {
	var o options
	fs := newFlags("frametap demo", &o, stderr, "127.0.0.1:0")
	rest, err := parseFlags(fs, args, stdout, func(w io.Writer) {
		fmt.Fprint(w, "Usage: frametap demo [flags]\n\nRuns the proxy with a demo HTTP server, a WebSocket server and a scripted\nclient talking to them through it.\n\nFlags:\n")
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
	d, err := startDemo()
	if err != nil {
		return err
	}
	defer d.close()
	return serve(o, flagSet(fs, "listen"), stdout, stderr, d.client)
}

// demo is the demo's two servers.
type demo struct {
	httpLn, wsLn net.Listener
	httpSrv      *http.Server
	wg           sync.WaitGroup // the WebSocket server's connections
	mu           sync.Mutex
	conns        map[net.Conn]struct{}
}

func startDemo() (*demo, error) {
	d := &demo{conns: make(map[net.Conn]struct{})}
	var err error
	if d.httpLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	if d.wsLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		d.httpLn.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/poll", func(w http.ResponseWriter, r *http.Request) {
		// Answer with the client's own n, so that a reader of the
		// timeline sees each response belongs to its request.
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"poll":%d,"status":"ok","updates":[{"id":%d,"price":%.2f}],"time":%q}`,
			n, n, 100+10*math.Sin(float64(n)/5), time.Now().UTC().Format(time.RFC3339Nano))
	})
	mux.HandleFunc("/api/echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		fmt.Fprintf(w, `{"echo":%s,"method":%q}`, b, r.Method)
	})
	mux.HandleFunc("/logo.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(demoPNG)
	})
	d.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go d.httpSrv.Serve(d.httpLn)
	go d.acceptWS()
	return d, nil
}

// demoPNG is the start of a PNG file: binary bytes for the hex dump.
var demoPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa\x00\x00\x00\x0cIDATx\x9cc`\x18\x05\x00\x00\x10\x00\x01\x00\x00\x00\x00IEND\xaeB`\x82")

func (d *demo) close() {
	d.httpSrv.Close()
	d.wsLn.Close()
	d.mu.Lock()
	for c := range d.conns {
		c.Close()
	}
	d.mu.Unlock()
	d.wg.Wait()
}

func (d *demo) acceptWS() {
	for {
		nc, err := d.wsLn.Accept()
		if err != nil {
			return
		}
		d.mu.Lock()
		d.conns[nc] = struct{}{}
		d.wg.Add(1)
		d.mu.Unlock()
		go func() {
			defer d.wg.Done()
			defer func() {
				d.mu.Lock()
				delete(d.conns, nc)
				d.mu.Unlock()
				nc.Close()
			}()
			serveDemoWS(nc)
		}()
	}
}

// serveDemoWS is the WebSocket server: it pushes a tick every 400 ms
// (a binary one every third), echoes what the client sends (compressed
// when the client's message was), answers pings and the close.
func serveDemoWS(nc net.Conn) {
	ext := wsflate.Extension{Parameters: wsflate.DefaultParameters}
	up := ws.Upgrader{Negotiate: ext.Negotiate}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := up.Upgrade(nc); err != nil {
		return
	}
	nc.SetDeadline(time.Time{})
	_, deflate := ext.Accepted()
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
	br := bufio.NewReader(nc)
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

// client is the demo's scripted client: polling on one kept-alive
// connection, and in rounds a request with Connection: close and a
// WebSocket session through a CONNECT tunnel, until ctx is done.
func (d *demo) client(ctx context.Context, proxyAddr string) {
	proxyURL := &url.URL{Scheme: "http", Host: proxyAddr}
	base := "http://" + d.httpLn.Addr().String()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tr := &http.Transport{Proxy: http.ProxyURL(proxyURL), MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		for n := 1; sleepCtx(ctx, 700*time.Millisecond); n++ {
			path := "/api/poll?n=" + fmt.Sprint(n)
			if n%5 == 0 {
				path = "/logo.png"
			}
			demoGet(ctx, c, base+path)
		}
	}()
	closer := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), DisableKeepAlives: true}, Timeout: 5 * time.Second}
	for round := 1; ctx.Err() == nil; round++ {
		req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/echo", strings.NewReader(fmt.Sprintf(`{"round":%d,"hello":"world"}`, round)))
		if err == nil {
			req.Header.Set("Content-Type", "application/json")
			if resp, err := closer.Do(req); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		demoWebSocket(ctx, proxyAddr, d.wsLn.Addr().String())
		sleepCtx(ctx, time.Second)
	}
	wg.Wait()
}

func demoGet(ctx context.Context, c *http.Client, u string) {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return
	}
	resp, err := c.Do(req)
	if err != nil {
		return
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
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

// demoWebSocket opens a CONNECT tunnel through the proxy, upgrades to a
// WebSocket offering permessage-deflate, sends a text, a JSON text, a
// ping, a fragmented message, a compressed one and a binary one while the
// server pushes, then closes.
func demoWebSocket(ctx context.Context, proxyAddr, wsAddr string) error {
	nc, err := net.DialTimeout("tcp", proxyAddr, 5*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	fmt.Fprintf(nc, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", wsAddr, wsAddr)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("CONNECT: %s", resp.Status)
	}
	dialer := ws.Dialer{Extensions: []httphead.Option{wsflate.DefaultParameters.Option()}}
	rw := struct {
		io.Reader
		io.Writer
	}{br, nc}
	wbr, hs, err := dialer.Upgrade(rw, &url.URL{Scheme: "ws", Host: wsAddr, Path: "/live"})
	if err != nil {
		return err
	}
	var r io.Reader = br
	if wbr != nil {
		r = io.MultiReader(wbr, br)
	}
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
			return ctx.Err()
		}
	}
	if !pause(2 * time.Second) {
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
