package main

// HTTP/2 through the frametap binary with real peers (issue 9): nghttp and
// h2load (nghttp2-client) against nghttpd (nghttp2-server) over h2c in
// reverse mode, with the proxy→server leg dissected by tshark; curl
// multiplexing over an intercepted TLS tunnel to a Go h2 server; an
// h2-only Go client. WebSocket over HTTP/2 and Chromium are in
// h2ws_e2e_test.go.
//
//	apt-get install -y nghttp2-client nghttp2-server nghttp2-proxy tshark

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/proxy/certs"
)

// needTool returns the path of a peer, failing the test when it is missing.
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed (apt-get install -y %s): %v", name, pkg, err)
	}
	return p
}

// freePort returns a loopback port nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// bgProcess runs a peer in the background until the test ends.
type bgProcess struct {
	cmd  *exec.Cmd
	out  lockedBuffer
	done chan error
}

func startBackground(t *testing.T, argv ...string) *bgProcess {
	t.Helper()
	p := &bgProcess{cmd: exec.Command(argv[0], argv[1:]...), done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	return p
}

// waitListening waits until addr accepts, for up to 10 s.
func waitListening(t *testing.T, addr string, p *bgProcess) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("%v exited (%v):\n%s", p.cmd.Args, err, p.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("%v not listening on %s after 10 s:\n%s", p.cmd.Args, addr, p.out.String())
}

// startNghttpd serves dir over h2c (prior knowledge and Upgrade) on a free
// loopback port and returns its port. Connections to it are the proxy→server
// leg the tests dissect, so it starts no earlier than tshark does.
func startNghttpd(t *testing.T, dir string) string {
	t.Helper()
	nghttpd := needTool(t, "nghttpd", "nghttp2-server")
	port := freePort(t)
	p := startBackground(t, nghttpd, "--no-tls", "--address=127.0.0.1", "-d", dir, port)
	waitListening(t, "127.0.0.1:"+port, p)
	return port
}

// docroot writes files of different sizes for nghttpd to serve: small
// ones, and one that takes many DATA frames and WINDOW_UPDATEs.
func docroot(t *testing.T) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"/a.txt": "file a\n",
		"/b.txt": strings.Repeat("file b, a little longer. ", 40),
		"/c.txt": strings.Repeat("0123456789abcdef", 20000), // 320 KB
		"/d.txt": "file d\n",
		"/e.txt": "file e\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, files
}

// tsharkCapture records the loopback traffic of one TCP port.
type tsharkCapture struct {
	cmd  *exec.Cmd
	path string
	out  lockedBuffer
	done chan error
}

// startTshark starts capturing tcp port on lo and returns once tshark says
// the capture started.
func startTshark(t *testing.T, port string) *tsharkCapture {
	t.Helper()
	tshark := needTool(t, "tshark", "tshark")
	tc := &tsharkCapture{path: filepath.Join(t.TempDir(), "leg.pcapng"), done: make(chan error, 1)}
	tc.cmd = exec.Command(tshark, "-i", "lo", "-f", "tcp port "+port, "-w", tc.path)
	tc.cmd.Stdout, tc.cmd.Stderr = &tc.out, &tc.out
	if err := tc.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { tc.done <- tc.cmd.Wait() }()
	t.Cleanup(func() { tc.cmd.Process.Kill() })
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(tc.out.String(), "Capturing on") {
		select {
		case err := <-tc.done:
			t.Fatalf("tshark exited (%v):\n%s", err, tc.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("tshark did not start capturing in 20 s:\n%s", tc.out.String())
		}
	}
	time.Sleep(300 * time.Millisecond) // "Capturing on" comes just before the capture filter is live
	return tc
}

// h2wire is one HTTP/2 frame header as the wire carried it.
type h2wire struct {
	from   string
	typ    int
	stream uint32
	length int
	flags  int
}

func (f h2wire) String() string {
	return fmt.Sprintf("%s type=%d stream=%d len=%d flags=0x%02x", f.from, f.typ, f.stream, f.length, f.flags)
}

// frames stops the capture and returns, per TCP connection in the order
// they started, the HTTP/2 frames tshark dissected, server's marked by
// their source port.
func (tc *tsharkCapture) frames(t *testing.T, serverPort string) [][]h2wire {
	t.Helper()
	time.Sleep(300 * time.Millisecond) // the last packets through the capture
	tc.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-tc.done:
	case <-time.After(10 * time.Second):
		t.Fatal("tshark did not stop")
	}
	out, err := exec.Command("tshark", "-r", tc.path, "-d", "tcp.port=="+serverPort+",http2",
		"-T", "fields", "-E", "separator=|", "-e", "tcp.stream", "-e", "tcp.srcport",
		"-e", "http2.type", "-e", "http2.streamid", "-e", "http2.length", "-e", "http2.flags").Output()
	if err != nil {
		t.Fatalf("tshark -r: %v", err)
	}
	var conns [][]h2wire
	index := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 6 {
			continue
		}
		i, ok := index[f[0]]
		if !ok {
			i = len(conns)
			index[f[0]] = i
			conns = append(conns, nil)
		}
		if f[2] == "" {
			continue // no frame in this packet (or only the preface)
		}
		from := "client"
		if f[1] == serverPort {
			from = "server"
		}
		types, ids, lens, flags := strings.Split(f[2], ","), strings.Split(f[3], ","), strings.Split(f[4], ","), strings.Split(f[5], ",")
		if len(ids) != len(types) || len(lens) != len(types) || len(flags) != len(types) {
			t.Fatalf("tshark line %q: fields of different lengths", line)
		}
		for k := range types {
			typ, _ := strconv.Atoi(types[k])
			id, _ := strconv.ParseUint(ids[k], 10, 32)
			n, _ := strconv.Atoi(lens[k])
			fl, _ := strconv.ParseInt(strings.TrimPrefix(flags[k], "0x"), 16, 32)
			conns[i] = append(conns[i], h2wire{from: from, typ: typ, stream: uint32(id), length: n, flags: int(fl)})
		}
	}
	// Connections that carried no client frame are not HTTP/2 ones: the
	// test's own check that the server listens, frametap's readiness
	// probe (which it relays to the server in reverse mode).
	return slices.DeleteFunc(conns, func(c []h2wire) bool {
		return !slices.ContainsFunc(c, func(f h2wire) bool { return f.from == "client" })
	})
}

// h2TypeNumbers maps the capture's frame type names to their numbers.
var h2TypeNumbers = map[string]int{"DATA": 0, "HEADERS": 1, "PRIORITY": 2, "RST_STREAM": 3, "SETTINGS": 4, "PUSH_PROMISE": 5,
	"PING": 6, "GOAWAY": 7, "WINDOW_UPDATE": 8, "CONTINUATION": 9, "PRIORITY_UPDATE": 16}

// capturedFrames returns a connection's h2frame events as wire frames.
func capturedFrames(conn []capture.Event) []h2wire {
	var out []h2wire
	for _, ev := range conn {
		if ev.Kind != capture.KindH2Frame {
			continue
		}
		typ, ok := h2TypeNumbers[ev.FrameType]
		if !ok {
			n, _ := strconv.ParseInt(strings.TrimPrefix(ev.FrameType, "0x"), 16, 32)
			typ = int(n)
		}
		out = append(out, h2wire{from: ev.From, typ: typ, stream: ev.Stream, length: int(ev.Len), flags: int(ev.Flags)})
	}
	return out
}

// sameFrames compares two frame lists direction by direction: how the two
// directions interleave depends on timing, each one's order does not.
func sameFrames(t *testing.T, what string, got, want []h2wire) {
	t.Helper()
	for _, from := range []string{"client", "server"} {
		g := slices.DeleteFunc(slices.Clone(got), func(f h2wire) bool { return f.from != from })
		w := slices.DeleteFunc(slices.Clone(want), func(f h2wire) bool { return f.from != from })
		for i := range max(len(g), len(w)) {
			if i >= len(g) || i >= len(w) || g[i] != w[i] {
				t.Errorf("%s, %s frames: #%d differs (%d captured, %d on the wire): captured %v, wire %v",
					what, from, i, len(g), len(w), at3(g, i), at3(w, i))
				return
			}
		}
	}
}

func at3(fs []h2wire, i int) string {
	if i < len(fs) {
		return fs[i].String()
	}
	return "none"
}

// nghttpLog is what nghttp -v logged of one connection: the header
// fields it sent and received, per stream, in order.
type nghttpLog struct {
	sent, recv map[uint32][]capture.Header
}

var nghttpFrameRE = regexp.MustCompile(`^\[\s*[\d.]+\] (send|recv) (\S+) frame <length=\d+, flags=0x[0-9a-f]+, stream_id=(\d+)>`)
var nghttpFieldRE = regexp.MustCompile(`^ {10}(:?[a-z0-9-]+): (.*)$`)
var nghttpRecvRE = regexp.MustCompile(`^\[\s*[\d.]+\] recv \(stream_id=(\d+)\) (:?[a-z0-9-]+): (.*)$`)

func parseNghttp(out string) nghttpLog {
	l := nghttpLog{sent: map[uint32][]capture.Header{}, recv: map[uint32][]capture.Header{}}
	var cur map[uint32][]capture.Header
	var stream uint32
	for _, line := range strings.Split(out, "\n") {
		if m := nghttpRecvRE.FindStringSubmatch(line); m != nil {
			id, _ := strconv.ParseUint(m[1], 10, 32)
			l.recv[uint32(id)] = append(l.recv[uint32(id)], capture.Header{m[2], m[3]})
			continue
		}
		if m := nghttpFrameRE.FindStringSubmatch(line); m != nil {
			cur = nil
			if m[1] == "send" && m[2] == "HEADERS" {
				cur = l.sent
				id, _ := strconv.ParseUint(m[3], 10, 32)
				stream = uint32(id)
			}
			continue
		}
		if strings.HasPrefix(line, "[") {
			cur = nil
			continue
		}
		if m := nghttpFieldRE.FindStringSubmatch(line); m != nil && cur != nil {
			cur[stream] = append(cur[stream], capture.Header{m[1], m[2]})
		}
	}
	return l
}

// TestE2EH2Nghttp runs nghttp against nghttpd through frametap in reverse
// mode over h2c with prior knowledge: three files multiplexed on one
// connection; a header split over CONTINUATION frames; non-default HPACK
// table sizes. The capture's requests and responses carry the fields
// nghttp logged sending and receiving and the files' bytes, and its
// h2frame events are the frames tshark dissects on the proxy→server leg,
// one for one. (nghttpd sends its SETTINGS before it reads a byte: the
// server speaking first is decoded too.)
func TestE2EH2Nghttp(t *testing.T) {
	requireE2E(t)
	nghttp := needTool(t, "nghttp", "nghttp2-client")
	dir, files := docroot(t)
	port := freePort(t)
	tc := startTshark(t, port)
	nghttpd := startBackground(t, needTool(t, "nghttpd", "nghttp2-server"), "--no-tls", "--address=127.0.0.1", "-d", dir, port)
	waitListening(t, "127.0.0.1:"+port, nghttpd)
	tp := startTap(t, "reverse:http://127.0.0.1:"+port)
	base := "http://" + tp.addr
	runs := []struct {
		name  string
		args  []string
		paths []string
	}{
		{"multiplexed", nil, []string{"/a.txt", "/b.txt", "/c.txt"}},
		{"continuation", []string{"--continuation"}, []string{"/a.txt"}},
		{"table sizes", []string{"--header-table-size=65536", "--encoder-header-table-size=2048", "-H", "x-repeat: " + strings.Repeat("r", 300)}, []string{"/a.txt", "/b.txt", "/d.txt", "/e.txt"}},
	}
	logs := make([]nghttpLog, len(runs))
	for i, r := range runs {
		args := append([]string{"-nv"}, r.args...)
		for _, p := range r.paths {
			args = append(args, base+p)
		}
		out, err := exec.Command(nghttp, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: nghttp %v: %v\n%s", r.name, args, err, out)
		}
		logs[i] = parseNghttp(string(out))
	}
	// The probe of startTap has no server leg: it closed before a byte.
	conns := tp.conns(tp.stop())
	wire := tc.frames(t, port)
	if len(conns) != len(runs) || len(wire) != len(runs) {
		t.Fatalf("%d connections captured, %d HTTP/2 ones on the server leg; want %d", len(conns), len(wire), len(runs))
	}
	for i, r := range runs {
		conn := conns[i]
		reqs, resps := kinds(conn, capture.KindRequest), kinds(conn, capture.KindResponse)
		for _, ev := range kinds(conn, capture.KindError) {
			if !strings.Contains(ev.Msg, "ends with whitespace") { // RFC 9113 section 8.2.1 is not nghttp's concern
				t.Errorf("%s: error %q", r.name, ev.Msg)
			}
		}
		sameFrames(t, r.name, capturedFrames(conn), wire[i])
		if len(reqs) != len(r.paths) || len(resps) != len(r.paths) {
			t.Errorf("%s: %d requests, %d responses, want %d", r.name, len(reqs), len(resps), len(r.paths))
			continue
		}
		for _, q := range reqs {
			if q.Proto != "HTTP/2.0" || q.Scheme != "http" || !slices.Equal(q.Headers, logs[i].sent[q.Stream]) {
				t.Errorf("%s: request stream %d: %s %s %s headers %q;\nnghttp sent %q", r.name, q.Stream, q.Proto, q.Scheme, q.Target, q.Headers, logs[i].sent[q.Stream])
			}
		}
		for _, p := range resps {
			q := reqs[slices.IndexFunc(reqs, func(q capture.Event) bool { return q.Seq == p.Seq })]
			if p.Status != 200 || string(p.Body) != files[q.Target] || p.BodyLen != int64(len(files[q.Target])) || !slices.Equal(p.Headers, logs[i].recv[p.Stream]) {
				t.Errorf("%s: response %d (%s): %d, %d bytes, headers %q;\nnghttp received %q", r.name, p.Stream, q.Target, p.Status, p.BodyLen, p.Headers, logs[i].recv[p.Stream])
			}
		}
		last := conn[len(conn)-1]
		if !last.H2 || last.H2Streams != len(r.paths) {
			t.Errorf("%s: close %+v, want h2_streams %d", r.name, last, len(r.paths))
		}
		if r.name == "continuation" && !slices.ContainsFunc(wire[i], func(f h2wire) bool { return f.typ == 9 }) {
			t.Errorf("continuation: no CONTINUATION frame on the wire")
		}
	}
}

// TestE2EH2CUpgrade runs nghttp -u (Upgrade: h2c) through frametap in
// reverse mode to nghttpx, which takes the upgrade (nghttpd does not) in
// front of a Go HTTP/1.1 file server.
func TestE2EH2CUpgrade(t *testing.T) {
	requireE2E(t)
	nghttp := needTool(t, "nghttp", "nghttp2-client")
	dir, files := docroot(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	backend := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go backend.Serve(ln)
	t.Cleanup(func() { backend.Close() })
	port := freePort(t)
	nx := startBackground(t, needTool(t, "nghttpx", "nghttp2-proxy"), "--conf=/dev/null", "--frontend=127.0.0.1,"+port+";no-tls",
		"--backend="+strings.Replace(ln.Addr().String(), ":", ",", 1), "--workers=1", "--errorlog-file=/dev/null")
	waitListening(t, "127.0.0.1:"+port, nx)
	tp := startTap(t, "reverse:http://127.0.0.1:"+port)
	out, err := exec.Command(nghttp, "-nuv", "http://"+tp.addr+"/b.txt").CombinedOutput()
	if err != nil {
		t.Fatalf("nghttp -u: %v\n%s", err, out)
	}
	log := parseNghttp(string(out))
	conns := tp.conns(tp.stop())
	if len(conns) != 1 {
		t.Fatalf("%d connections, want 1", len(conns))
	}
	checkH2CUpgrade(t, conns[0], files["/b.txt"])
	for _, p := range kinds(conns[0], capture.KindResponse) {
		if p.Stream == 1 && !slices.Equal(p.Headers, log.recv[1]) {
			t.Errorf("response on stream 1: headers %q, nghttp received %q", p.Headers, log.recv[1])
		}
	}
	for _, ev := range kinds(conns[0], capture.KindError) {
		t.Errorf("error: %s", ev.Msg)
	}
}

// kinds returns a connection's events of one kind.
func kinds(conn []capture.Event, k capture.Kind) []capture.Event {
	var out []capture.Event
	for _, ev := range conn {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

// checkH2CUpgrade checks an h2c upgrade: the HTTP/1.1 request, its 101,
// the upgrade to h2c, then its response on stream 1 with the same seq.
func checkH2CUpgrade(t *testing.T, conn []capture.Event, body string) {
	t.Helper()
	var got []string
	for _, ev := range conn {
		switch ev.Kind {
		case capture.KindRequest:
			got = append(got, fmt.Sprintf("request %d %s %s %s stream=%d", ev.Seq, ev.Method, ev.Target, ev.Proto, ev.Stream))
		case capture.KindResponse:
			got = append(got, fmt.Sprintf("response %d %d %s stream=%d %d", ev.Seq, ev.Status, ev.Proto, ev.Stream, ev.BodyLen))
			if ev.Stream == 1 && string(ev.Body) != body {
				t.Errorf("upgrade: response body %q, want %q", ev.Body, body)
			}
		case capture.KindUpgrade:
			got = append(got, "upgrade "+ev.Protocol)
		}
	}
	want := []string{"request 1 GET /b.txt HTTP/1.1 stream=0", "response 1 101 HTTP/1.1 stream=0 0", "upgrade h2c",
		fmt.Sprintf("response 1 200 HTTP/2.0 stream=1 %d", len(body))}
	if !slices.Equal(got, want) {
		t.Errorf("upgrade: exchanges\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if last := conn[len(conn)-1]; !last.H2 || last.H2Streams != 1 {
		t.Errorf("upgrade: close %+v, want h2_streams 1", last)
	}
}

// TestE2EH2Load runs h2load through frametap in reverse mode against
// nghttpd: every request and response is in the capture.
func TestE2EH2Load(t *testing.T) {
	requireE2E(t)
	h2load := needTool(t, "h2load", "nghttp2-client")
	dir, files := docroot(t)
	port := startNghttpd(t, dir)
	tp := startTap(t, "reverse:http://127.0.0.1:"+port)
	const n, clients = 2000, 4
	out, err := exec.Command(h2load, "-n", fmt.Sprint(n), "-c", fmt.Sprint(clients), "-m", "10", "http://"+tp.addr+"/b.txt").CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("%d succeeded", n)) {
		t.Fatalf("h2load: %v\n%s", err, out)
	}
	conns := tp.conns(tp.stop())
	var reqs, resps, streams int
	for _, conn := range conns {
		for _, ev := range conn {
			switch ev.Kind {
			case capture.KindRequest:
				reqs++
			case capture.KindResponse:
				if ev.Status == 200 && string(ev.Body) == files["/b.txt"] {
					resps++
				}
			case capture.KindClose:
				streams += ev.H2Streams
			case capture.KindError:
				t.Errorf("error: %s", ev.Msg)
			}
		}
	}
	if len(conns) != clients || reqs != n || resps != n || streams != n {
		t.Errorf("%d connections, %d requests, %d responses with the file, %d streams; want %d, %d", len(conns), reqs, resps, streams, clients, n)
	}
}

// h2TLSServer is a Go HTTPS server with its own CA that speaks h2 (and
// http/1.1, unless h1Only) and logs what it received and sent, per path.
type h2TLSServer struct {
	addr string
	mu   sync.Mutex
	log  map[string]string // path -> "method proto body-received -> body-sent"
}

func startH2TLSServer(t *testing.T, ca *certs.CA, h1Only bool) *h2TLSServer {
	t.Helper()
	s := &h2TLSServer{log: map[string]string{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, _ := io.ReadAll(r.Body)
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/f/"))
		out := strings.Repeat(fmt.Sprintf("%s says %d. ", r.URL.Path, n), 1+n*n*300)
		io.WriteString(w, out)
		s.mu.Lock()
		s.log[r.URL.Path] = fmt.Sprintf("%s %s %q -> %d bytes", r.Method, r.Proto, in, len(out))
		s.mu.Unlock()
	})}
	srv.TLSConfig = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return ca.Leaf("127.0.0.1") }}
	if h1Only {
		srv.TLSConfig.NextProtos = []string{"http/1.1"}
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	return s
}

// TestE2EH2Curl runs curl --http2 with several URLs multiplexed on one
// connection (-Z) through frametap in regular mode, a CONNECT tunnel with
// TLS intercepted, to a Go h2 server: ALPN h2 on both legs, every stream's
// request and response in the capture as curl and the server logged them.
// The same curl to a server that speaks only HTTP/1.1 gets http/1.1.
func TestE2EH2Curl(t *testing.T) {
	requireE2E(t)
	curl := needTool(t, "curl", "curl")
	dir := t.TempDir()
	upCA, err := certs.LoadOrCreate(filepath.Join(dir, "upstream-ca"))
	if err != nil {
		t.Fatal(err)
	}
	caDir := filepath.Join(dir, "frametap-ca")
	for _, tc := range []struct {
		name   string
		h1Only bool
	}{{"h2 server", false}, {"h1-only server", true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startH2TLSServer(t, upCA, tc.h1Only)
			tp := startTapArgs(t, "--ca-dir", caDir, "--upstream-ca", upCA.CertPath, "--allow-upstream", `^127\.0\.0\.1:\d+$`)
			const n = 6
			args := []string{"-sS", "--max-time", "30", "--http2", "-Z", "--parallel-max", "10", "-x", "http://" + tp.addr,
				"--cacert", filepath.Join(caDir, certs.CertFile), "-w", "%{url_effective} %{http_version} %{response_code} %{size_download}\\n"}
			out := t.TempDir()
			for i := 1; i <= n; i++ {
				args = append(args, fmt.Sprintf("https://%s/f/%d", srv.addr, i), "-o", filepath.Join(out, fmt.Sprint(i)))
			}
			cmd := exec.Command(curl, args...)
			var stderr lockedBuffer // curl 7.88 shows -Z's progress meter despite -s
			cmd.Stderr = &stderr
			b, err := cmd.Output()
			if err != nil {
				t.Fatalf("curl: %v\n%s%s", err, b, stderr.String())
			}
			wantVersion := map[bool]string{false: "2", true: "1.1"}[tc.h1Only]
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				if f := strings.Fields(line); len(f) != 4 || f[1] != wantVersion || f[2] != "200" {
					t.Errorf("curl: %q, want HTTP %s and 200", line, wantVersion)
				}
			}
			evs := tp.stop()
			var conns [][]capture.Event
			for _, c := range tp.conns(evs) {
				if len(kinds(c, capture.KindRequest)) > 1 {
					conns = append(conns, c)
				}
			}
			if !tc.h1Only && len(conns) != 1 {
				t.Fatalf("%d connections carried the requests, want 1 (multiplexed)", len(conns))
			}
			var alpn []string
			seen := 0
			for _, conn := range conns {
				for _, ev := range conn {
					switch ev.Kind {
					case capture.KindTLS:
						alpn = append(alpn, ev.Side+"="+ev.ALPN)
					case capture.KindRequest:
						if ev.Method == "CONNECT" {
							continue
						}
						srv.mu.Lock()
						logged := srv.log[ev.Target]
						srv.mu.Unlock()
						if got := fmt.Sprintf("%s %s %q", ev.Method, ev.Proto, ev.Body); !strings.HasPrefix(logged, got+" ->") {
							t.Errorf("request %s: captured %s, the server logged %s", ev.Target, got, logged)
						}
						if !tc.h1Only && (ev.Stream == 0 || ev.Seq < 2 || ev.Scheme != "https") {
							t.Errorf("request %s: stream %d seq %d scheme %q", ev.Target, ev.Stream, ev.Seq, ev.Scheme)
						}
					case capture.KindResponse:
						if ev.Seq < 2 {
							continue
						}
						q := kinds(conn, capture.KindRequest)[slices.IndexFunc(kinds(conn, capture.KindRequest), func(q capture.Event) bool { return q.Seq == ev.Seq })]
						saved, _ := os.ReadFile(filepath.Join(out, strings.TrimPrefix(q.Target, "/f/")))
						if string(ev.Body) != string(saved) || ev.Status != 200 {
							t.Errorf("response to %s: %d, %d bytes; curl saved %d bytes", q.Target, ev.Status, len(ev.Body), len(saved))
						}
						seen++
					case capture.KindError:
						t.Errorf("error: %s", ev.Msg)
					}
				}
			}
			if seen != n {
				t.Errorf("%d responses captured, want %d", seen, n)
			}
			want := "server=" + map[bool]string{false: "h2", true: "http/1.1"}[tc.h1Only]
			want += "," + strings.Replace(want, "server", "client", 1)
			if alpn[0]+","+alpn[1] != want {
				t.Errorf("tls events %v, want %s", alpn, want)
			}
			if !tc.h1Only {
				last := conns[0][len(conns[0])-1]
				t.Logf("one connection, %d streams, up to %d at once", last.H2Streams, last.H2MaxOpen)
				if !last.H2 || last.H2Streams != n {
					t.Errorf("close %+v, want h2_streams %d", last, n)
				}
			}
		})
	}
}

// TestE2EH2OnlyClient: a Go client that offers ALPN h2 alone (as gRPC
// clients do) through a CONNECT tunnel, to an h2 server.
func TestE2EH2OnlyClient(t *testing.T) {
	requireE2E(t)
	dir := t.TempDir()
	upCA, err := certs.LoadOrCreate(filepath.Join(dir, "upstream-ca"))
	if err != nil {
		t.Fatal(err)
	}
	caDir := filepath.Join(dir, "frametap-ca")
	srv := startH2TLSServer(t, upCA, false)
	tp := startTapArgs(t, "--ca-dir", caDir, "--upstream-ca", upCA.CertPath)
	pem, err := os.ReadFile(filepath.Join(caDir, certs.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	nc, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", srv.addr, srv.addr)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	tc := tls.Client(nc, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", NextProtos: []string{"h2"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		t.Fatalf("an h2-only client's handshake through frametap: %v", err)
	}
	var p http.Protocols
	p.SetHTTP2(true)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Protocols:      &p,
		DialTLSContext: func(context.Context, string, string) (net.Conn, error) { return tc, nil },
	}}
	r, err := client.Post("https://127.0.0.1/f/1", "text/plain", strings.NewReader("grpc-ish"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	tc.Close()
	if r.Proto != "HTTP/2.0" || !strings.HasPrefix(string(body), "/f/1 says 1.") {
		t.Fatalf("%s %q", r.Proto, body)
	}
	var got []string
	for _, ev := range tp.stop() {
		if ev.Kind == capture.KindRequest || ev.Kind == capture.KindResponse {
			got = append(got, fmt.Sprintf("%s %d %s %s %d", ev.Kind, ev.Seq, ev.Method, ev.Proto, ev.Stream))
		}
	}
	want := []string{"request 1 CONNECT HTTP/1.1 0", "response 1  HTTP/1.1 0", "request 2 POST HTTP/2.0 1", "response 2  HTTP/2.0 1"}
	if !slices.Equal(got, want) {
		t.Errorf("exchanges %q, want %q", got, want)
	}
}
