package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/frametap/frametap/capture/pcapng"
)

// pcapConv is one TCP conversation read back from a pcap file.
type pcapConv struct {
	client, server netip.AddrPort
	data           [2][]byte // what each side sent, in order
	fin            [2]bool
	rst            bool
	comment        string
}

// readPcap reads the conversations of a pcapng file in the order of their
// SYNs, with gopacket's reader and decoders.
func readPcap(t *testing.T, path string) []*pcapConv {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewNgReader(f, pcapgo.DefaultNgReaderOptions)
	if err != nil {
		t.Fatal(err)
	}
	var convs []*pcapConv
	live := map[[2]netip.AddrPort]*pcapConv{}
	for {
		pkt, _, opts, err := r.ReadPacketDataWithOptions()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		first := layers.LayerTypeIPv4
		if pkt[0]>>4 == 6 {
			first = layers.LayerTypeIPv6
		}
		p := gopacket.NewPacket(pkt, first, gopacket.Default)
		var src, dst netip.Addr
		switch ip := p.NetworkLayer().(type) {
		case *layers.IPv4:
			src, _ = netip.AddrFromSlice(ip.SrcIP)
			dst, _ = netip.AddrFromSlice(ip.DstIP)
		case *layers.IPv6:
			src, _ = netip.AddrFromSlice(ip.SrcIP)
			dst, _ = netip.AddrFromSlice(ip.DstIP)
		}
		tcp := p.TransportLayer().(*layers.TCP)
		from := netip.AddrPortFrom(src.Unmap(), uint16(tcp.SrcPort))
		to := netip.AddrPortFrom(dst.Unmap(), uint16(tcp.DstPort))
		if tcp.SYN && !tcp.ACK {
			c := &pcapConv{client: from, server: to}
			if len(opts.Comments) > 0 {
				c.comment = opts.Comments[0]
			}
			convs = append(convs, c)
			live[[2]netip.AddrPort{from, to}] = c
			continue
		}
		side := 0
		c := live[[2]netip.AddrPort{from, to}]
		if c == nil {
			side, c = 1, live[[2]netip.AddrPort{to, from}]
		}
		if c == nil {
			t.Fatalf("a packet %v → %v outside any conversation", from, to)
		}
		c.data[side] = append(c.data[side], tcp.Payload...)
		c.fin[side] = c.fin[side] || tcp.FIN
		c.rst = c.rst || tcp.RST
	}
	return convs
}

// recordingServer is a loopback HTTP/1.1 upstream that answers each
// request with "<name> <path>" and records, per connection, the bytes it
// received and sent, to compare with the pcap file.
type recordingServer struct {
	name, addr string
	mu         sync.Mutex
	conns      map[netip.AddrPort]*[2]bytes.Buffer // by the client's address: received, sent
}

func startRecordingServer(t *testing.T, name string) *recordingServer {
	t.Helper()
	rs := &recordingServer{name: name, conns: map[netip.AddrPort]*[2]bytes.Buffer{}}
	rs.addr = serveEach(listenLoopback(t), func(nc net.Conn) {
		defer nc.Close()
		rec := &[2]bytes.Buffer{}
		rs.mu.Lock()
		rs.conns[nc.RemoteAddr().(*net.TCPAddr).AddrPort()] = rec
		rs.mu.Unlock()
		br := bufio.NewReader(io.TeeReader(nc, lockedWriter{&rs.mu, &rec[0]}))
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body := rs.name + " " + req.URL.Path
			resp := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			rs.mu.Lock()
			rec[1].WriteString(resp)
			rs.mu.Unlock()
			if _, err := io.WriteString(nc, resp); err != nil {
				return
			}
		}
	})
	return rs
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// startPcapTap runs a proxy writing a pcap file; stop returns its
// conversations once the proxy is shut down and the file closed.
func startPcapTap(t *testing.T, cfg Config) (*tap, func() []*pcapConv) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "relay.pcapng")
	w, err := pcapng.Create(path, pcapng.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Pcap = w
	tp := startTap(t, cfg)
	return tp, func() []*pcapConv {
		tp.stop()
		if err := w.Close(); err != nil {
			t.Fatalf("closing the pcap file: %v", err)
		}
		return readPcap(t, path)
	}
}

// TestPcapRegular: in regular mode the pcap file has one conversation per
// client connection and server, from the client's address to the
// server's, with exactly the bytes the server received and sent (request
// heads as forwarded, in origin-form), FINs at the end; a conversation
// starts anew when a kept-alive connection is routed to another server;
// a CONNECT and its 200, and frametap's own 502, are conversations with
// frametap's listening address.
func TestPcapRegular(t *testing.T) {
	a, b := startRecordingServer(t, "A"), startRecordingServer(t, "B")
	tp, stop := startPcapTap(t, Config{})
	listen := netip.MustParseAddrPort(tp.addr)

	one := dialRaw(t, tp.addr)
	for _, tc := range []struct {
		srv  *recordingServer
		path string
	}{{a, "/one"}, {a, "/two"}, {b, "/three"}} {
		one.send("GET http://" + tc.srv.addr + tc.path + " HTTP/1.1\r\nHost: " + tc.srv.addr + "\r\nProxy-Connection: keep-alive\r\n\r\n")
		if resp, body := one.response("GET"); resp.StatusCode != 200 || body != tc.srv.name+" "+tc.path {
			t.Fatalf("GET %s: %d %q", tc.path, resp.StatusCode, body)
		}
	}
	one.finish()

	two := dialRaw(t, tp.addr)
	connect := "CONNECT " + a.addr + " HTTP/1.1\r\nHost: " + a.addr + "\r\n\r\n"
	two.send(connect)
	if resp, _ := two.response("CONNECT"); resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %s", resp.Status)
	}
	inside := "GET /four HTTP/1.1\r\nHost: " + a.addr + "\r\n\r\n"
	two.send(inside)
	if _, body := two.response("GET"); body != "A /four" {
		t.Fatalf("through the tunnel: %q", body)
	}
	two.finish()

	three := dialRaw(t, tp.addr)
	// Refused with its body on the way: frametap answers, then reads the
	// rest of the request, which the file has after the answer.
	refused := "POST http://127.0.0.1:1/x HTTP/1.1\r\nHost: 127.0.0.1:1\r\nContent-Length: 5\r\n\r\n"
	three.send(refused)
	if resp, _ := three.response("POST"); resp.StatusCode != 502 {
		t.Fatalf("unreachable upstream: %s", resp.Status)
	}
	three.send("hello")
	three.finish()
	tp.waitClosed()

	convs := stop()
	addrOf := func(nc net.Conn) netip.AddrPort { return nc.LocalAddr().(*net.TCPAddr).AddrPort() }
	byServer := map[netip.AddrPort][]*pcapConv{}
	for _, c := range convs {
		byServer[c.server] = append(byServer[c.server], c)
		if !c.fin[0] || !c.fin[1] || c.rst {
			t.Errorf("conversation %v → %v (%s) ended fin %v rst %v, want FINs both ways", c.client, c.server, c.comment, c.fin, c.rst)
		}
	}
	aAddr, bAddr := netip.MustParseAddrPort(a.addr), netip.MustParseAddrPort(b.addr)
	if len(convs) != 5 || len(byServer[aAddr]) != 2 || len(byServer[bAddr]) != 1 || len(byServer[listen]) != 2 {
		for _, c := range convs {
			t.Logf("%v → %v %q: %q / %q", c.client, c.server, c.comment, c.data[0], c.data[1])
		}
		t.Fatalf("%d conversations, want 5: 2 to A, 1 to B, 2 to frametap's listener", len(convs))
	}
	// The conversations to A and B carry what the servers received and
	// sent, byte for byte, from the client's own address.
	for _, srv := range []*recordingServer{a, b} {
		for _, c := range byServer[netip.MustParseAddrPort(srv.addr)] {
			var recv, sent []byte
			srv.mu.Lock()
			for _, rec := range srv.conns {
				if bytes.HasPrefix(c.data[0], rec[0].Bytes()[:min(10, rec[0].Len())]) && bytes.Equal(c.data[1], rec[1].Bytes()) {
					recv, sent = bytes.Clone(rec[0].Bytes()), bytes.Clone(rec[1].Bytes())
				}
			}
			srv.mu.Unlock()
			if !bytes.Equal(c.data[0], recv) || !bytes.Equal(c.data[1], sent) {
				t.Errorf("conversation to %s %q:\nclient sent %q\nserver sent %q\nwhat a server received %q and sent %q", srv.name, c.comment, c.data[0], c.data[1], recv, sent)
			}
			if !strings.HasPrefix(c.comment, "frametap conn ") || !strings.HasSuffix(c.comment, srv.addr) {
				t.Errorf("comment %q", c.comment)
			}
		}
	}
	if convs[0].client != addrOf(one.conn) || convs[0].server != aAddr || !bytes.HasPrefix(convs[0].data[0], []byte("GET /one HTTP/1.1\r\n")) ||
		!bytes.Contains(convs[0].data[0], []byte("GET /two HTTP/1.1\r\n")) || convs[1].client != addrOf(one.conn) || convs[1].server != bAddr {
		t.Errorf("conn one: %v → %v %q, then %v → %v", convs[0].client, convs[0].server, convs[0].data[0], convs[1].client, convs[1].server)
	}
	local := byServer[listen]
	if local[0].client != addrOf(two.conn) || string(local[0].data[0]) != connect || string(local[0].data[1]) != connectOK {
		t.Errorf("the CONNECT's own conversation: %v %q / %q", local[0].client, local[0].data[0], local[0].data[1])
	}
	tunnel := byServer[aAddr][1]
	if tunnel.client != addrOf(two.conn) || string(tunnel.data[0]) != inside || string(tunnel.data[1]) != "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nA /four" {
		t.Errorf("the tunnel: %v %q / %q", tunnel.client, tunnel.data[0], tunnel.data[1])
	}
	if local[1].client != addrOf(three.conn) || string(local[1].data[0]) != refused+"hello" || !bytes.HasPrefix(local[1].data[1], []byte("HTTP/1.1 502 Bad Gateway\r\n")) ||
		!strings.Contains(local[1].comment, "502") {
		t.Errorf("frametap's 502: %v %q / %q (%s)", local[1].client, local[1].data[0], local[1].data[1], local[1].comment)
	}
}

// TestPcapInterceptedWebSocket: through an intercepted TLS tunnel, the
// pcap file has the plaintext both ways: the upgrade and the frames, masked
// as the client sent them.
func TestPcapInterceptedWebSocket(t *testing.T) {
	w := newTLSWorld(t)
	srv := w.startWSSEcho(t)
	tp, stop := startPcapTap(t, w.config())
	tc, err := connectTLS(t, tp.addr, srv, &tls.Config{RootCAs: w.caPool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(tc, "GET /echo HTTP/1.1\r\nHost: "+srv+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(tc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	var sent bytes.Buffer
	f := ws.MaskFrame(ws.NewTextFrame([]byte("hello over wss")))
	ws.WriteFrame(io.MultiWriter(tc, &sent), f)
	h, err := ws.ReadHeader(br)
	if err != nil || h.Length != 14 {
		t.Fatalf("echo: %+v %v", h, err)
	}
	echo := make([]byte, h.Length)
	if _, err := io.ReadFull(br, echo); err != nil || string(echo) != "hello over wss" {
		t.Fatalf("echo: %q %v", echo, err)
	}
	tc.Close()
	tp.waitClosed()
	convs := stop()
	var wsConv *pcapConv
	for _, c := range convs {
		if c.server.String() == srv {
			wsConv = c
		}
	}
	if wsConv == nil || !bytes.HasPrefix(wsConv.data[0], []byte("GET /echo HTTP/1.1\r\n")) || !bytes.HasSuffix(wsConv.data[0], sent.Bytes()) ||
		!bytes.HasPrefix(wsConv.data[1], []byte("HTTP/1.1 101 ")) || !bytes.HasSuffix(wsConv.data[1], []byte("\x81\x0ehello over wss")) {
		for _, c := range convs {
			t.Logf("%v → %v %q: %q / %q", c.client, c.server, c.comment, c.data[0], c.data[1])
		}
		t.Fatal("no plaintext WebSocket conversation to the server, with the masked frame as sent")
	}
}

// TestPcapRelayAllocs fails if a relayed chunk allocates with --pcap on:
// a server pushes WebSocket frames through frametap, decoded and written
// to the pcap file (and to nothing else), and the process counts its
// allocations over thousands of chunks once warm.
func TestPcapRelayAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are not counted under the race detector")
	}
	const chunk = 4 << 10 // one write of the server: 63 frames of 63 bytes
	const warm, measured = 2000, 4000
	var frame bytes.Buffer
	ws.WriteFrame(&frame, ws.NewBinaryFrame(bytes.Repeat([]byte("x"), 63)))
	batch := bytes.Repeat(frame.Bytes(), chunk/frame.Len())
	go1 := make(chan struct{})
	srv := serveEach(listenLoopback(t), func(nc net.Conn) {
		defer nc.Close()
		if _, err := http.ReadRequest(bufio.NewReader(nc)); err != nil {
			return
		}
		io.WriteString(nc, benchAccept)
		for i := 0; i < warm+measured; i++ {
			if i == warm {
				<-go1
			}
			if _, err := nc.Write(batch); err != nil {
				return
			}
		}
	})
	// A queue of 1 MiB holds at most 25 batch buffers: the writer's own
	// allocations while its queue grows stay few, and apart from the
	// relay's.
	w := pcapng.NewWriter(io.Discard, pcapng.Options{QueueBytes: 1 << 20})
	defer w.Close()
	p := New(Config{Mode: Reverse, Upstream: srv, Pcap: w})
	ln := listenLoopback(t)
	go p.Serve(ln)
	defer p.Shutdown(context.Background())
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	io.WriteString(nc, benchUpgrade)
	br := bufio.NewReaderSize(nc, 64<<10)
	if _, err := http.ReadResponse(br, nil); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	read := func(n int) {
		for left := n; left > 0; {
			k, err := br.Read(buf[:min(left, len(buf))])
			if err != nil {
				t.Fatal(err)
			}
			left -= k
		}
	}
	read(warm * len(batch))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	close(go1)
	read(measured * len(batch))
	runtime.ReadMemStats(&after)
	allocs := after.Mallocs - before.Mallocs
	// The relay reads at most chunkSize a chunk: 16 MB are at least 500
	// chunks, so a chunk that allocated would make it 500 or more. A few
	// allocations are not the relay's: the runtime's (pools refilled
	// after a GC) and the pcap writer's while its queue grows.
	minChunks := uint64(measured * len(batch) / chunkSize)
	if allocs > minChunks/4 {
		t.Errorf("%d allocations while the server's %d writes of %d bytes were relayed with --pcap on: the relay allocates per chunk", allocs, measured, len(batch))
	}
	if st := w.Stats(); st.Packets < measured || st.Err != nil {
		t.Errorf("pcap writer: %+v, want at least %d packets", st, measured)
	}
	t.Logf("%d allocations over %d bytes relayed to the pcap writer", allocs, measured*len(batch))
}

// TestKeyLog: with Config.KeyLog, both legs of an intercepted connection
// log their TLS 1.3 secrets: the client's leg under the client's own
// random (so its own key log lines are among them), the server's under
// frametap's.
func TestKeyLog(t *testing.T) {
	w := newTLSWorld(t)
	srv := w.startHTTPS(t)
	var keys lockedBuffer
	cfg := w.config()
	cfg.KeyLog = &keys
	tp := startTap(t, cfg)
	var clientKeys lockedBuffer
	tc, err := connectTLS(t, tp.addr, srv, &tls.Config{RootCAs: w.caPool, ServerName: "127.0.0.1", KeyLogWriter: &clientKeys})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(tc, "GET /k HTTP/1.1\r\nHost: "+srv+"\r\nConnection: close\r\n\r\n")
	if b, _ := io.ReadAll(tc); !bytes.Contains(b, []byte("secret /k")) {
		t.Fatalf("response %q", b)
	}
	tp.stop()
	randoms := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(keys.String()), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("key log line %q", line)
		}
		randoms[f[1]] = append(randoms[f[1]], f[0])
	}
	if len(randoms) != 2 {
		t.Fatalf("key log has %d client randoms, want 2 (one per leg):\n%s", len(randoms), keys.String())
	}
	for r, labels := range randoms {
		if strings.Join(labels, " ") != "CLIENT_HANDSHAKE_TRAFFIC_SECRET SERVER_HANDSHAKE_TRAFFIC_SECRET CLIENT_TRAFFIC_SECRET_0 SERVER_TRAFFIC_SECRET_0" {
			t.Errorf("random %s…: labels %v", r[:8], labels)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(clientKeys.String()), "\n") {
		if !strings.Contains(keys.String(), line) {
			t.Errorf("the client's own key log line %q is not in frametap's", line)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestPcapReset: a server that resets its connection ends the
// conversation with a RST from the server, after the bytes it sent.
func TestPcapReset(t *testing.T) {
	srv := serveEach(listenLoopback(t), func(nc net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(nc)); err != nil {
			nc.Close()
			return
		}
		io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
		time.Sleep(50 * time.Millisecond)
		nc.(*net.TCPConn).SetLinger(0) // close with a RST
		nc.Close()
	})
	tp, stop := startPcapTap(t, Config{Mode: Reverse, Upstream: srv})
	rc := dialRaw(t, tp.addr)
	rc.send("GET /r HTTP/1.1\r\nHost: x\r\n\r\n")
	io.Copy(io.Discard, rc.conn)
	rc.conn.Close()
	tp.waitClosed()
	convs := stop()
	if len(convs) != 1 || !convs[0].rst || string(convs[0].data[1]) != "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial" {
		for _, c := range convs {
			t.Logf("%v → %v: rst %v fin %v %q / %q", c.client, c.server, c.rst, c.fin, c.data[0], c.data[1])
		}
		t.Fatal("want one conversation that ends with the server's RST after its bytes")
	}
}
