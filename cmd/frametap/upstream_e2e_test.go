package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/frametap/frametap/capture"
)

// tinyproxy is Debian's tinyproxy running on loopback, as the proxy of a
// corporate network would: it requires Basic credentials.
type tinyproxy struct {
	addr string
	log  string // its log file
}

func startTinyproxy(t *testing.T) *tinyproxy {
	t.Helper()
	bin, err := exec.LookPath("tinyproxy")
	if err != nil {
		t.Fatal("tinyproxy not found: apt-get install -y tinyproxy")
	}
	dir := t.TempDir()
	tp := &tinyproxy{addr: freeAddrs(t, 1)[0], log: filepath.Join(dir, "tinyproxy.log")}
	_, port, _ := net.SplitHostPort(tp.addr)
	conf := filepath.Join(dir, "tinyproxy.conf")
	os.WriteFile(conf, fmt.Appendf(nil, "Port %s\nListen 127.0.0.1\nTimeout 30\nMaxClients 50\nLogLevel Info\nLogFile %q\nPidFile %q\nAllow 127.0.0.1\nBasicAuth corp s3cret\n",
		port, tp.log, filepath.Join(dir, "tinyproxy.pid")), 0o600)
	cmd := exec.Command(bin, "-d", "-c", conf)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", tp.addr, time.Second); err == nil {
			c.Close()
			return tp
		}
		if time.Now().After(deadline) {
			t.Fatalf("tinyproxy did not listen on %s:\n%s", tp.addr, out.String())
		}
	}
}

// requests returns the request lines tinyproxy logged.
func (tp *tinyproxy) requests() []string {
	b, _ := os.ReadFile(tp.log)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if _, req, ok := strings.Cut(line, "]: Request (file descriptor "); ok {
			if _, req, ok = strings.Cut(req, "): "); ok {
				out = append(out, req)
			}
		}
	}
	return out
}

// connectThrough opens a CONNECT tunnel to target through the HTTP proxy
// at proxyAddr, as a browser does for ws:// behind a proxy.
func connectThrough(ctx context.Context, proxyAddr, target string) (net.Conn, error) {
	nc, err := (&net.Dialer{}).DialContext(ctx, "tcp", proxyAddr)
	if err != nil {
		return nil, err
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(nc, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
	if err != nil || resp.StatusCode != 200 || br.Buffered() > 0 {
		nc.Close()
		return nil, fmt.Errorf("CONNECT %s: %v %v", target, resp, err)
	}
	nc.SetDeadline(time.Time{})
	return nc, nil
}

// Upstream mode with a real third-party HTTP proxy (tinyproxy) as the
// upstream: plain HTTP goes to it in absolute-form, https and a WebSocket
// through CONNECT, all with the credentials of the --mode URL; frametap
// still decodes everything. A wrong password is a 502 that names the
// upstream proxy and what it answered.
func TestUpstreamTinyproxyE2E(t *testing.T) {
	requireE2E(t)
	w := newModeWorld(t)
	tpx := startTinyproxy(t)
	tp := startTapArgs(t, "--mode", "upstream:http://corp:s3cret@"+tpx.addr, "--ca-dir", w.ca.Dir, "--upstream-ca", w.upCA.CertPath)
	if out, err := curl(t, "-x", "http://"+tp.addr, "http://"+w.plain+"/p"); err != nil || out != "plain /p" {
		t.Errorf("http: %q, %v", out, err)
	}
	if out, err := curl(t, "-x", "http://"+tp.addr, "--cacert", w.ca.CertPath, "https://"+w.secure+"/s"); err != nil || out != "secure /s sni=" {
		t.Errorf("https: %q, %v", out, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := ws.Dialer{NetDial: func(ctx context.Context, _, addr string) (net.Conn, error) { return connectThrough(ctx, tp.addr, addr) }}
	conn, _, _, err := d.Dial(ctx, "ws://"+w.plain+"/ws")
	if err != nil {
		t.Fatalf("ws: %v", err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	wsutil.WriteClientText(conn, []byte("through tinyproxy"))
	if b, err := wsutil.ReadServerText(conn); err != nil || string(b) != "echo:through tinyproxy" {
		t.Errorf("ws echo %q, %v", b, err)
	}
	ws.WriteFrame(conn, ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye"))))
	io.Copy(io.Discard, conn)
	conn.Close()
	evs := tp.stop()

	want := []string{"GET http://" + w.plain + "/p HTTP/1.1", "CONNECT " + w.secure + " HTTP/1.1", "CONNECT " + w.plain + " HTTP/1.1"}
	if got := tpx.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("tinyproxy logged:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	conns := tp.conns(evs)
	if len(conns) != 3 {
		t.Fatalf("%d connections:\n%s", len(conns), dumpEvents(evs))
	}
	wantServer := []string{w.plain, w.secure, w.plain}
	for i, c := range conns {
		if c[0].Mode != "upstream" || c[0].Listen != tp.addr {
			t.Errorf("connection %d opens %+v", i, c[0])
		}
		for _, ev := range c {
			if ev.Kind == capture.KindResponse && ev.Server != wantServer[i] {
				t.Errorf("connection %d: response from %q, want the server %s, not the proxy", i, ev.Server, wantServer[i])
			}
			if ev.Kind == capture.KindError {
				t.Errorf("connection %d: error %s", i, ev.Msg)
			}
		}
	}
	var msgs []string
	for _, ev := range eventsOfKind(conns[2], capture.KindMessage) {
		msgs = append(msgs, ev.From+" "+ev.Op+" "+string(ev.Payload))
	}
	if strings.Join(msgs, "|") != "client text through tinyproxy|server text echo:through tinyproxy|client close \x03\xe8bye|server close \x03\xe8bye" &&
		strings.Join(msgs, "|") != "client text through tinyproxy|server text echo:through tinyproxy|client close |server close " {
		t.Errorf("WebSocket messages %q", msgs)
	}
	if tls := eventsOfKind(conns[1], capture.KindTLS); len(tls) != 2 || !tls[0].Verified {
		t.Errorf("https tls events %+v", tls)
	}
	if t.Failed() {
		t.Logf("capture:\n%s", dumpEvents(evs))
	}

	// Wrong credentials: tinyproxy refuses, and the client is told who.
	bad := startTapArgs(t, "--mode", "upstream:http://corp:nope@"+tpx.addr, "--ca-dir", w.ca.Dir)
	nc, err := net.DialTimeout("tcp", bad.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(nc, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", w.secure, w.secure)
	resp, err := http.ReadResponse(bufio.NewReader(nc), &http.Request{Method: "CONNECT"})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	// tinyproxy says 401 where RFC 9110 has a proxy say 407.
	wantBody := "frametap: upstream proxy http://" + tpx.addr + " refused CONNECT " + w.secure + ": it answered \"HTTP/1.0 401 Unauthorized\" (it refused the credentials given in --mode upstream:...)"
	if resp.StatusCode != 502 || strings.TrimSpace(string(body)) != wantBody {
		t.Errorf("wrong credentials: %s %q, want 502 %q...", resp.Status, body, wantBody)
	}
	badEvs := bad.stop()
	var errs []string
	for _, c := range bad.conns(badEvs) {
		for _, ev := range c {
			if ev.Kind == capture.KindError {
				errs = append(errs, ev.From+": "+ev.Msg)
			}
		}
	}
	if len(errs) != 1 || !strings.HasPrefix(errs[0], "server: upstream proxy http://"+tpx.addr+" refused CONNECT") || strings.Contains(errs[0], "nope") {
		t.Errorf("errors %q", errs)
	}
}
