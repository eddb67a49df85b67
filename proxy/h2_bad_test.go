package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/frametap/frametap/capture"
)

// Bad HTTP/2 through the proxy (issue 9): each case's client sends broken
// HTTP/2 through a CONNECT tunnel to a server that records what it gets,
// while another client keeps an HTTP/2 connection through the same proxy.
// The broken connection gets an error event and is relayed byte for byte
// both ways; the other one is not touched.

// h2Frame is one frame's bytes (RFC 9113 section 4.1).
func h2Frame(typ, flags uint8, stream uint32, payload []byte) []byte {
	b := make([]byte, 9, 9+len(payload))
	b[0], b[1], b[2] = byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload))
	b[3], b[4] = typ, flags
	binary.BigEndian.PutUint32(b[5:], stream)
	return append(b, payload...)
}

// h2Open is the client's opening: the preface and an empty SETTINGS.
func h2Open() []byte {
	return append([]byte(http2.ClientPreface), h2Frame(4, 0, 0, nil)...)
}

// getBlock is an HPACK block of :method GET, :scheme http, :path / and
// :authority a, all without indexing, so that every stream may reuse it.
var getBlock = []byte{0x82, 0x86, 0x84, 0x01, 0x01, 'a'}

// sinkServer accepts one connection (with TLS when cfg is set), sends
// greeting, reads until the client's end, then closes; it hands what it
// read to got. When seen is set, it also signals there once it has read
// want bytes.
type sinkServer struct {
	addr string
	got  chan []byte
}

func startSink(t *testing.T, cfg *tls.Config, greeting []byte, want int, seen chan struct{}) *sinkServer {
	t.Helper()
	ln := listenLoopback(t)
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
	}
	s := &sinkServer{addr: ln.Addr().String(), got: make(chan []byte, 1)}
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			s.got <- nil
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(60 * time.Second))
		nc.Write(greeting)
		var buf bytes.Buffer
		p := make([]byte, 64<<10)
		for {
			n, err := nc.Read(p)
			buf.Write(p[:n])
			if seen != nil && buf.Len() >= want {
				close(seen)
				seen = nil
			}
			if err != nil {
				break
			}
		}
		s.got <- buf.Bytes()
	}()
	return s
}

type h2BadCase struct {
	name   string
	tls    bool   // ALPN h2 over intercepted TLS, else h2c in a plaintext tunnel
	client []byte // what the client sends
	server []byte // what the server sends first
	want   string // in an error event of the connection
}

func h2BadCases() []h2BadCase {
	settings := h2Frame(4, 0, 0, nil)
	headers := h2Frame(1, 0x5, 1, getBlock)
	flood := append(h2Open(), h2Frame(1, 0x1, 1, getBlock[:2])...)
	for range 200 {
		flood = append(flood, h2Frame(9, 0, 1, nil)...)
	}
	flood = append(flood, h2Frame(9, 0x4, 1, getBlock[2:])...)
	return []h2BadCase{
		{name: "malformed frame", client: append(h2Open(), h2Frame(4, 0, 0, []byte{0, 3, 0, 0, 0})...), server: settings,
			want: "malformed SETTINGS frame of 5 bytes"},
		{name: "bad preface in a tunnel (HTTP/1.x then)", client: []byte("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + string(settings)), server: settings,
			want: `unsupported version "HTTP/2.0"`},
		{name: "bad preface after ALPN h2", tls: true, client: []byte("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + string(settings)), server: settings,
			want: "connection preface: byte 18"},
		{name: "hpack error", client: append(h2Open(), h2Frame(1, 0x5, 1, []byte{0xff, 0xff, 0xff, 0xff, 0x0f})...), server: settings,
			want: "hpack: "},
		{name: "frame larger than SETTINGS allow", client: append(append(h2Open(), h2Frame(1, 0x4, 1, getBlock)...), h2Frame(0, 0x1, 1, make([]byte, 20000))...), server: settings,
			want: "DATA frame of 20000 bytes: the server's SETTINGS_MAX_FRAME_SIZE is 16384"},
		{name: "CONTINUATION flood", client: flood, server: settings,
			want: "header block of more than 128 frames"},
		{name: "server's malformed frame", client: append(h2Open(), headers...), server: append(settings, h2Frame(8, 0, 0, []byte{1})...),
			want: "malformed WINDOW_UPDATE frame of 1 bytes"},
	}
}

// h2Bystander is an HTTP/2 client that keeps one connection through the
// proxy to an h2c server, to show that a broken connection does not touch
// it.
func h2Bystander(t *testing.T, proxyAddr string) func() {
	t.Helper()
	up := startH2C(t)
	client := h2cClient(func() (net.Conn, error) {
		rc := dialRaw(t, proxyAddr)
		rc.conn.SetDeadline(time.Now().Add(5 * time.Minute))
		rc.send("CONNECT " + up + " HTTP/1.1\r\nHost: " + up + "\r\n\r\n")
		if resp, _ := rc.response("CONNECT"); resp.StatusCode != 200 {
			return nil, fmt.Errorf("CONNECT: %s", resp.Status)
		}
		return rc.conn, nil
	})
	n := 0
	ask := func() {
		t.Helper()
		n++
		resp, err := client.Post(fmt.Sprintf("http://%s/by/%d", up, n), "text/plain", strings.NewReader("still here"))
		if err != nil {
			t.Fatalf("the other connection: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("POST /by/%d still here", n); string(b) != want {
			t.Fatalf("the other connection got %q, want %q", b, want)
		}
	}
	ask()
	return ask
}

// runBad sends c.client through a tunnel to a sink that sends c.server,
// and requires both to arrive unchanged. It returns the client's local
// address (to find its events) and calls during once the sink has read
// all but the end.
func runBad(t *testing.T, w *tlsWorld, proxyAddr string, c h2BadCase, during func()) {
	t.Helper()
	var cfg *tls.Config
	if c.tls {
		cfg = w.serverTLS()
		cfg.NextProtos = []string{"h2"}
	}
	seen := make(chan struct{})
	sink := startSink(t, cfg, c.server, len(c.client), seen)
	rc := dialRaw(t, proxyAddr)
	rc.conn.SetDeadline(time.Now().Add(60 * time.Second))
	rc.send("CONNECT " + sink.addr + " HTTP/1.1\r\nHost: " + sink.addr + "\r\n\r\n")
	if resp, _ := rc.response("CONNECT"); resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %s", resp.Status)
	}
	var conn interface {
		io.Writer
		CloseWrite() error
	} = rc.conn.(*net.TCPConn)
	var from io.Reader = rc.br // the server's first bytes may have come with the 200
	if c.tls {
		tc := tls.Client(rc.conn, &tls.Config{RootCAs: w.caPool, ServerName: "127.0.0.1", NextProtos: []string{"h2"}})
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
			t.Fatalf("ALPN %q, want h2", p)
		}
		conn, from = tc, tc
	}
	got := make(chan []byte, 1)
	go func() { b, _ := io.ReadAll(from); got <- b }()
	if _, err := conn.Write(c.client); err != nil {
		t.Fatal(err)
	}
	select {
	case <-seen:
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not get the client's bytes")
	}
	if during != nil {
		during()
	}
	conn.CloseWrite()
	if b := <-sink.got; !bytes.Equal(b, c.client) {
		t.Errorf("the server got %d bytes, not the %d the client sent (first difference at %d)", len(b), len(c.client), firstDifference(b, c.client))
	}
	if b := <-got; !bytes.Equal(b, c.server) {
		t.Errorf("the client got %d bytes, not the %d the server sent", len(b), len(c.server))
	}
}

func firstDifference(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

func TestH2BadInput(t *testing.T) {
	w := newTLSWorld(t)
	tp := startTap(t, w.config())
	ask := h2Bystander(t, tp.addr)
	for _, c := range h2BadCases() {
		t.Run(c.name, func(t *testing.T) {
			runBad(t, w, tp.addr, c, nil)
			ask()
		})
	}
	tp.waitClosedBut(1)
	evs := tp.stop()
	for _, c := range h2BadCases() {
		found := false
		for _, ev := range kinds(evs, 0, capture.KindError) {
			found = found || strings.Contains(ev.Msg, c.want)
		}
		if !found {
			t.Errorf("%s: no error event with %q", c.name, c.want)
		}
	}
	var by []capture.Event
	for _, ev := range kinds(evs, 0, capture.KindRequest) {
		if strings.HasPrefix(ev.Target, "/by/") {
			by = kinds(evs, ev.Conn, "")
			break
		}
	}
	if errs := kinds(by, 0, capture.KindError); len(errs) > 0 || len(kinds(by, 0, capture.KindResponse)) != 1+1+len(h2BadCases()) { // the CONNECT's, the first ask, one per case
		t.Errorf("the other connection: errors %+v, %d responses", errs, len(kinds(by, 0, capture.KindResponse)))
	}
}

// waitClosedBut waits until at most n connections are open.
func (tp *tap) waitClosedBut(n int) {
	tp.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		tp.p.mu.Lock()
		open := len(tp.p.conns)
		tp.p.mu.Unlock()
		if open <= n {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	tp.t.Fatalf("connections still open after 5s")
}

// A client that opens 100,000 streams that its server never answers: the
// decoder follows at most 1024 of them, so the proxy's heap stays bounded
// while they are all open, and the rest are counted.
func TestH2StreamFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 streams")
	}
	const streams = 100000
	client := h2Open()
	for i := range streams {
		client = append(client, h2Frame(1, 0x5, uint32(2*i+1), getBlock)...)
	}
	w := newTLSWorld(t)
	tp := startTap(t, Config{})
	var before, during runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	runBad(t, w, tp.addr, h2BadCase{client: client, server: h2Frame(4, 0, 0, nil)}, func() {
		runtime.GC()
		runtime.ReadMemStats(&during)
	})
	grew := int64(during.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap: %d KiB before, %d KiB with %d streams open (%+d KiB)", before.HeapAlloc>>10, during.HeapAlloc>>10, streams, grew>>10)
	// The client's bytes themselves are 1.5 MB of it, in this process.
	if grew > 24<<20 {
		t.Errorf("the heap grew by %d MiB while %d streams were open", grew>>20, streams)
	}
	tp.waitClosed()
	evs := tp.stop()
	last := evs[len(evs)-1]
	if last.Kind != capture.KindClose || last.H2Streams != streams || last.H2MaxOpen != 1024 {
		t.Errorf("close %+v: want h2_streams %d, h2_max_open 1024", last, streams)
	}
	if n := len(kinds(evs, 0, capture.KindRequest)); n != 1+1024 {
		t.Errorf("%d requests recorded, want the CONNECT and 1024 streams", n)
	}
	found := false
	for _, ev := range kinds(evs, 0, capture.KindError) {
		found = found || strings.Contains(ev.Msg, "more than 1024 streams open at once")
	}
	if !found {
		t.Errorf("no error about the streams past the bound")
	}
}

// startH2Pusher runs a loopback h2c server that answers the client's first
// request on stream 1 with n DATA frames of size bytes, then ends it.
func startH2Pusher(b *testing.B, size, n int) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	frame := h2Frame(0, 0, 1, bytes.Repeat([]byte("x"), size))
	batch := bytes.Repeat(frame, max(1, 32<<10/len(frame)))
	perBatch := len(batch) / len(frame)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		// The client's preface, SETTINGS and request, then the
		// server's SETTINGS and the response's HEADERS (:status 200,
		// indexed).
		if _, err := io.ReadFull(nc, make([]byte, len(h2Open())+9+len(getBlock))); err != nil {
			return
		}
		go io.Copy(io.Discard, nc)
		nc.Write(h2Frame(4, 0, 0, nil))
		nc.Write(h2Frame(1, 0x4, 1, []byte{0x88}))
		for sent := 0; sent < n; sent += perBatch {
			k := min(perBatch, n-sent)
			if _, err := nc.Write(batch[:k*len(frame)]); err != nil {
				return
			}
		}
		nc.Write(h2Frame(0, 0x1, 1, nil))
	}()
	return ln.Addr().String()
}

// BenchmarkH2Push is BenchmarkPush for HTTP/2: a server sends DATA frames
// on one stream through frametap (reverse mode, h2c), decoded, with and
// without a capture log. One op is one DATA frame: set beside
// BenchmarkPush's WebSocket frames of the same size, it shows what HTTP/2
// decoding costs against WebSocket decoding.
func BenchmarkH2Push(b *testing.B) {
	for _, size := range []int{64, 4096} {
		for _, out := range []string{"none", "json"} {
			b.Run(fmt.Sprint(size)+"B/"+out, func(b *testing.B) {
				srv := startH2Pusher(b, size, b.N)
				cfg := Config{Mode: Reverse, Upstream: srv}
				if out == "json" {
					lg := capture.NewLog(io.Discard, capture.JSON, capture.LogOptions{})
					b.Cleanup(func() { lg.Close() })
					cfg.Outputs = []capture.Output{lg}
				}
				p := New(cfg)
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				go p.Serve(ln)
				b.Cleanup(func() { p.Shutdown(context.Background()) })
				nc, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				defer nc.Close()
				nc.Write(append(h2Open(), h2Frame(1, 0x5, 1, getBlock)...))
				br := bufio.NewReaderSize(nc, 64<<10)
				if _, err := io.CopyN(io.Discard, br, 9+10); err != nil { // SETTINGS, HEADERS
					b.Fatal(err)
				}
				b.SetBytes(int64(9 + size))
				b.ReportAllocs()
				b.ResetTimer()
				if _, err := io.CopyN(io.Discard, br, int64(b.N*(9+size))); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
