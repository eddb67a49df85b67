package main

// End-to-end tests of issue 14's acting on connections, with the built
// binary and real peers: inject into a live Python websockets connection
// (permessage-deflate with context takeover) through frametap's control
// socket, and replay a Node ws session and a keep-alive HTTP session
// against their servers.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// startTapWith runs frametap as startTap does, with more arguments.
func startTapWith(t *testing.T, mode string, extra ...string) *tapProcess {
	t.Helper()
	capPath := filepath.Join(t.TempDir(), "capture.jsonl")
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		tp := &tapProcess{t: t, addr: addr, capPath: capPath, done: make(chan error, 1)}
		args := append([]string{"--headless", "-w", capPath, "--listen", addr, "--mode", mode}, extra...)
		tp.cmd = exec.Command(e2eBinary, args...)
		tp.cmd.Stdout, tp.cmd.Stderr = &tp.out, &tp.out
		tp.cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=10")
		if err := tp.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { tp.done <- tp.cmd.Wait() }()
		t.Cleanup(tp.kill)
		if tp.waitReady() {
			return tp
		}
		if attempt == 2 || !strings.Contains(tp.out.String(), "address already in use") {
			t.Fatalf("frametap did not start listening on %s:\n%s", addr, tp.out.String())
		}
	}
}

// stdinPeer is a peer process driven by lines on its stdin.
type stdinPeer struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  lockedBuffer
	done chan error
}

func startStdinPeer(t *testing.T, argv ...string) *stdinPeer {
	t.Helper()
	p := &stdinPeer{done: make(chan error, 1)}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Dir = peersDir(t)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	in, err := p.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.in = in
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	return p
}

func (p *stdinPeer) say(t *testing.T, line string) {
	t.Helper()
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		t.Fatalf("telling the peer %q: %v\n%s", line, err, p.out.String())
	}
}

// waitE2E polls cond every 20 ms for up to 20 s.
func waitE2E(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting until %s", what)
}

// logHas reports whether the peer log at path has a received message with
// payload p.
func logHas(t *testing.T, path, p string) bool {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		return false
	}
	for _, m := range readPeerLog(t, path) {
		if m.Dir == "recv" && string(m.B64) == p {
			return true
		}
	}
	return false
}

// received lists what a peer log says was received, as "type payload".
func received(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for _, m := range readPeerLog(t, path) {
		if m.Dir != "recv" {
			continue
		}
		if m.Type == "close" {
			out = append(out, fmt.Sprintf("close %d %s", m.Code, m.Reason))
			continue
		}
		out = append(out, m.Type+" "+string(m.B64))
	}
	return out
}

// inject runs `frametap inject` against the tap's control socket.
func inject(t *testing.T, sock string, conn uint64, to, text string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(e2eBinary, "inject", "--control", sock, "--conn", fmt.Sprint(conn), "--to", to, "--text", text)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=10")
	return cmd
}

// TestE2EInject injects into a live connection between a Python websockets
// client and server with permessage-deflate and context takeover: both
// peers get every message exactly once and in order, inflating keeps
// working after the injections, and an injection toward the client during
// a fragmented message waits for its end.
func TestE2EInject(t *testing.T) {
	requireE2E(t)
	requirePeer(t, "python")
	dir := t.TempDir()
	srvLog, cliLog := filepath.Join(dir, "server.jsonl"), filepath.Join(dir, "client.jsonl")
	srv := startStdinPeer(t, peerPython, "py_inject_server.py", srvLog)
	var port string
	waitE2E(t, "the server listens", func() bool {
		m := portLine.FindStringSubmatch(srv.out.String())
		if m != nil {
			port = m[1]
		}
		return m != nil
	})
	sock := filepath.Join(dir, "ft.sock")
	tp := startTapWith(t, "reverse:http://127.0.0.1:"+port, "--control", sock)
	cli := startStdinPeer(t, peerPython, "py_inject_client.py", "ws://"+tp.addr+"/", cliLog)
	waitE2E(t, "the client connects", func() bool { return strings.Contains(cli.out.String(), "OPEN") })

	// A long, repetitive text: compressed messages refer back to earlier
	// ones under context takeover.
	hello := func(n int) string {
		return fmt.Sprintf("hello %d ", n) + strings.Repeat("the quick brown fox jumps over the lazy dog ", 20)
	}
	cli.say(t, "send "+hello(1))
	waitE2E(t, "the echo of hello 1 arrives", func() bool { return logHas(t, cliLog, "echo: "+hello(1)) })

	var conn uint64
	waitE2E(t, "the capture has the upgrade", func() bool {
		evs, _ := capture.ReadFile(tp.capPath)
		for _, ev := range evs {
			if ev.Kind == capture.KindUpgrade {
				conn = ev.Conn
			}
		}
		return conn != 0
	})
	for _, tc := range []struct{ to, text, log string }{
		{"server", "INJECTED TO THE SERVER", srvLog},
		{"client", "INJECTED TO THE CLIENT", cliLog},
	} {
		if out, err := inject(t, sock, conn, tc.to, tc.text).CombinedOutput(); err != nil {
			t.Fatalf("frametap inject --to %s: %v\n%s", tc.to, err, out)
		}
		waitE2E(t, "the "+tc.to+" logs the injected message", func() bool { return logHas(t, tc.log, tc.text) })
	}
	cli.say(t, "send "+hello(2))
	waitE2E(t, "the echo of hello 2 arrives", func() bool { return logHas(t, cliLog, "echo: "+hello(2)) })

	// Inside a fragmented message toward the client, an injection waits.
	srv.say(t, "frag-start")
	waitE2E(t, "the first fragment is in the capture", func() bool {
		evs, _ := capture.ReadFile(tp.capPath)
		for _, ev := range evs {
			if ev.Kind == capture.KindFrame && ev.From == "server" && !ev.Fin {
				return true
			}
		}
		return false
	})
	var injOut lockedBuffer
	injCmd := inject(t, sock, conn, "client", "INJECTED DURING A FRAGMENTED MESSAGE")
	injCmd.Stdout, injCmd.Stderr = &injOut, &injOut
	if err := injCmd.Start(); err != nil {
		t.Fatal(err)
	}
	injDone := make(chan error, 1)
	go func() { injDone <- injCmd.Wait() }()
	waitE2E(t, "frametap inject says it waits", func() bool { return strings.Contains(injOut.String(), "waiting for its end") })
	select {
	case err := <-injDone:
		t.Fatalf("frametap inject returned (%v) before the fragmented message ended:\n%s", err, injOut.String())
	default:
	}
	srv.say(t, "frag-end")
	select {
	case err := <-injDone:
		if err != nil {
			t.Fatalf("frametap inject: %v\n%s", err, injOut.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("frametap inject still waits after the message ended:\n%s", injOut.String())
	}
	waitE2E(t, "the client logs the injection", func() bool { return logHas(t, cliLog, "INJECTED DURING A FRAGMENTED MESSAGE") })
	cli.say(t, "send "+hello(3))
	waitE2E(t, "the echo of hello 3 arrives", func() bool { return logHas(t, cliLog, "echo: "+hello(3)) })
	cli.say(t, "close")
	for name, p := range map[string]*stdinPeer{"client": cli, "server": srv} {
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("%s: %v\n%s", name, err, p.out.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s still running:\n%s", name, p.out.String())
		}
	}

	wantServer := []string{"text " + hello(1), "text INJECTED TO THE SERVER", "text " + hello(2), "text " + hello(3), "close 4000 done"}
	wantClient := []string{"text echo: " + hello(1), "text INJECTED TO THE CLIENT", "text echo: " + hello(2),
		"text fragment one, fragment two", "text INJECTED DURING A FRAGMENTED MESSAGE", "text echo: " + hello(3)}
	if got := received(t, srvLog); strings.Join(got, "\n") != strings.Join(wantServer, "\n") {
		t.Errorf("the server received:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantServer, "\n"))
	}
	if got := received(t, cliLog); strings.Join(got, "\n") != strings.Join(wantClient, "\n") {
		t.Errorf("the client received:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantClient, "\n"))
	}

	evs := tp.stop()
	ws := checkWSConn(t, wsConnOf(t, tp.conns(evs)), true)
	if !strings.Contains(ws.upgrade.Extensions, "permessage-deflate") || strings.Contains(ws.upgrade.Extensions, "no_context_takeover") {
		t.Errorf("negotiated %q, want permessage-deflate with context takeover", ws.upgrade.Extensions)
	}
	for _, e := range ws.errors {
		t.Errorf("error event: %s %s", e.From, e.Msg)
	}
	var got []string
	for _, from := range []string{"client", "server"} {
		for _, m := range ws.messages[from] {
			if m.Op != "text" {
				continue
			}
			got = append(got, fmt.Sprintf("%s %.30s compressed=%v injected=%v", from, m.Payload, m.Compressed, m.Injected))
		}
	}
	want := []string{
		"client hello 1 the quick brown fox ju compressed=true injected=false",
		"client INJECTED TO THE SERVER compressed=false injected=true",
		"client hello 2 the quick brown fox ju compressed=true injected=false",
		"client hello 3 the quick brown fox ju compressed=true injected=false",
		"server echo: hello 1 the quick brown  compressed=true injected=false",
		"server INJECTED TO THE CLIENT compressed=false injected=true",
		"server echo: hello 2 the quick brown  compressed=true injected=false",
		"server fragment one, fragment two compressed=true injected=false",
		"server INJECTED DURING A FRAGMENTED M compressed=false injected=true",
		"server echo: hello 3 the quick brown  compressed=true injected=false",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("captured text messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !ws.close.WSCloseClean {
		t.Errorf("the WebSocket did not close cleanly: %+v", ws.close)
	}
}

// runReplay runs `frametap replay` to completion and returns its stderr.
func runReplayBin(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, e2eBinary, append([]string{"replay"}, args...)...)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=10")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		t.Fatalf("frametap replay %v: %v\n%s", args, err, stderr.String())
	}
	return stderr.String()
}

// TestE2EReplayNodeWS captures a Node ws client's session (through a
// CONNECT tunnel, compressed) and replays it against the same server: the
// server logs the same client messages, pings and close the second time.
func TestE2EReplayNodeWS(t *testing.T) {
	requireE2E(t)
	requirePeer(t, "node")
	dir := t.TempDir()
	srvLog := filepath.Join(dir, "server.jsonl")
	srv := startPeerServer(t, []string{"NODE_PATH=" + peerNodePath}, "node", "node_replay_server.js", srvLog)
	tp := startTap(t, "regular")
	runPeerClient(t, []string{"NODE_PATH=" + peerNodePath}, "node", "node_client.js",
		"ws://127.0.0.1:"+srv.port+"/", filepath.Join(dir, "client.jsonl"), "deflate", tp.addr)
	evs := tp.stop()
	ws := wsConnOf(t, tp.conns(evs))
	out := filepath.Join(dir, "replay.jsonl")
	stderr := runReplayBin(t, tp.capPath, "--conn", fmt.Sprint(ws[0].Conn), "--speed", "1", "-w", out)
	if !strings.Contains(stderr, "Sec-WebSocket-Key is a fresh one") {
		t.Errorf("replay did not say the key was regenerated:\n%s", stderr)
	}
	srv.wait(t)
	byConn := map[int][]string{}
	f, err := os.Open(srvLog)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		var m struct {
			peerMsg
			Conn int `json:"conn"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		byConn[m.Conn] = append(byConn[m.Conn], m.peerMsg.String()+fmt.Sprintf(" %x", m.B64))
	}
	if len(byConn[1]) < 200 {
		t.Fatalf("the original session logged %d client messages", len(byConn[1]))
	}
	if a, b := strings.Join(byConn[1], "\n"), strings.Join(byConn[2], "\n"); a != b {
		t.Errorf("the server logged %d messages from the replay, %d from the original; first difference at %d", len(byConn[2]), len(byConn[1]), firstDiff([]byte(a), []byte(b)))
	}
	revs, err := capture.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rws := checkWSConn(t, revs, true)
	if len(rws.messages["server"]) < 200 || !rws.close.WSCloseClean {
		t.Errorf("replay capture: %d server messages, close %+v", len(rws.messages["server"]), rws.close)
	}
}

// TestE2EReplayHTTP captures curl's keep-alive session of three requests
// through frametap and replays it: the server logs the same requests, on
// one connection, the second time.
func TestE2EReplayHTTP(t *testing.T) {
	requireE2E(t)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is not installed (apt-get install -y curl)")
	}
	dir := t.TempDir()
	srvLog := filepath.Join(dir, "server.jsonl")
	srv := startPeerServer(t, nil, peerPython, "py_http_server.py", srvLog)
	tp := startTap(t, "regular")
	base := "http://127.0.0.1:" + srv.port
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "curl", "-sS", "-x", "http://"+tp.addr, base+"/a?x=1", base+"/b",
		"--next", "-x", "http://"+tp.addr, "--data-raw", "a body: 'quoted' & more", base+"/c").CombinedOutput(); err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	evs := tp.stop()
	var httpConn uint64
	for _, c := range tp.conns(evs) {
		if len(kindsOf(c, capture.KindRequest)) == 3 {
			httpConn = c[0].Conn
		}
	}
	if httpConn == 0 {
		t.Fatalf("no connection with curl's three requests")
	}
	runReplayBin(t, tp.capPath, "--conn", fmt.Sprint(httpConn), "--speed", "0", "-w", filepath.Join(dir, "replay.jsonl"))
	srv.cmd.Process.Signal(syscall.SIGTERM)
	type req struct {
		Port                    int
		Method, Path, Host, B64 string
	}
	var reqs []req
	b, _ := os.ReadFile(srvLog)
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r req
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, r)
	}
	if len(reqs) != 6 {
		t.Fatalf("the server logged %d requests, want 3 and 3: %+v", len(reqs), reqs)
	}
	for i := range 3 {
		a, b := reqs[i], reqs[i+3]
		if a.Method != b.Method || a.Path != b.Path || a.Host != b.Host || a.B64 != b.B64 {
			t.Errorf("request %d: original %+v, replay %+v", i, a, b)
		}
	}
	if reqs[0].Port != reqs[2].Port || reqs[3].Port != reqs[5].Port {
		t.Errorf("not one kept-alive connection each: ports %d %d %d / %d %d %d", reqs[0].Port, reqs[1].Port, reqs[2].Port, reqs[3].Port, reqs[4].Port, reqs[5].Port)
	}
}

func kindsOf(evs []capture.Event, k capture.Kind) []capture.Event {
	var out []capture.Event
	for _, ev := range evs {
		if ev.Kind == k {
			out = append(out, ev)
		}
	}
	return out
}

// A bad --filter stops the binary with exit status 2 and the column.
func TestE2EFilterExit(t *testing.T) {
	requireE2E(t)
	out, err := exec.Command(e2eBinary, "--headless", "--filter", "~d (foo").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), `unbalanced "(" at column 4`) {
		t.Errorf("exit %v, output %q; want status 2 and the column", err, out)
	}
}
