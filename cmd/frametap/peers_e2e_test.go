package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// peerChecks caches, per library, whether its peer is installed.
var peerChecks sync.Map // library -> error

// requirePeer fails t when the library's peer is not installed.
func requirePeer(t *testing.T, library string) {
	t.Helper()
	v, ok := peerChecks.Load(library)
	if !ok {
		var cmd *exec.Cmd
		switch library {
		case "python":
			cmd = exec.Command(peerPython, "-c", "import websockets")
		case "node":
			cmd = exec.Command("node", "-e", "require('ws')")
			cmd.Env = append(os.Environ(), "NODE_PATH="+peerNodePath)
		}
		var err error
		if b, cerr := cmd.CombinedOutput(); cerr != nil {
			err = fmt.Errorf("%v: %s", cerr, bytes.TrimSpace(b))
		}
		v, _ = peerChecks.LoadOrStore(library, err)
	}
	if err, _ := v.(error); err != nil {
		t.Fatalf("%s WebSocket peer missing (apt-get install -y python3-websockets node-ws): %v", library, err)
	}
}

// peerServer is a peer's server process, listening on port.
type peerServer struct {
	cmd  *exec.Cmd
	port string
	out  lockedBuffer
	done chan error
}

var portLine = regexp.MustCompile(`(?m)^PORT (\d+)$`)

// startPeerServer runs a peer server (argv, run with env added) and waits
// for the "PORT n" line it prints once listening.
func startPeerServer(t *testing.T, env []string, argv ...string) *peerServer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	t.Cleanup(cancel)
	ps := &peerServer{done: make(chan error, 1)}
	ps.cmd = exec.CommandContext(ctx, argv[0], argv[1:]...)
	ps.cmd.Env = append(os.Environ(), env...)
	ps.cmd.Dir = peersDir(t)
	ps.cmd.Stdout, ps.cmd.Stderr = &ps.out, &ps.out
	ps.cmd.WaitDelay = time.Second
	if err := ps.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { ps.done <- ps.cmd.Wait() }()
	t.Cleanup(func() { ps.cmd.Process.Kill() })
	deadline := time.After(10 * time.Second)
	for {
		if m := portLine.FindStringSubmatch(ps.out.String()); m != nil {
			ps.port = m[1]
			return ps
		}
		select {
		case err := <-ps.done:
			t.Fatalf("%v exited before listening (%v):\n%s", argv[1:], err, ps.out.String())
		case <-deadline:
			t.Fatalf("%v did not print its port in 10 s:\n%s", argv[1:], ps.out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// wait requires the server to exit by itself (it serves one connection).
func (ps *peerServer) wait(t *testing.T) {
	t.Helper()
	select {
	case err := <-ps.done:
		if err != nil {
			t.Errorf("peer server: %v\n%s", err, ps.out.String())
		}
	case <-time.After(10 * time.Second):
		t.Errorf("peer server still running 10 s after its client finished:\n%s", ps.out.String())
	}
}

// runPeerClient runs a peer client to completion.
func runPeerClient(t *testing.T, env []string, argv ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = peersDir(t)
	cmd.WaitDelay = time.Second
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("peer client %v: %v\n%s", argv[1:], err, b)
	}
}

func peersDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join("testdata", "peers"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// readPeerLog reads a peer's JSON Lines log.
func readPeerLog(t *testing.T, path string) []peerMsg {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("peer log: %v", err)
	}
	defer f.Close()
	var out []peerMsg
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 8<<20)
	for sc.Scan() {
		var m peerMsg
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, m)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

// pick returns the entries logged with dir whose control-ness is control.
func pick(log []peerMsg, dir string, control bool) []peerMsg {
	var out []peerMsg
	for _, m := range log {
		if m.Dir == dir && m.control() == control {
			out = append(out, m)
		}
	}
	return out
}

// subsequence requires every element of part to appear in whole, in order.
func subsequence(t *testing.T, what string, part, whole []peerMsg) {
	t.Helper()
	j := 0
	for _, p := range part {
		for j < len(whole) && (whole[j].Type != p.Type || !bytes.Equal(whole[j].B64, p.B64) || whole[j].Code != p.Code) {
			j++
		}
		if j == len(whole) {
			t.Errorf("%s: %v not found in order in %d messages", what, p, len(whole))
			return
		}
		j++
	}
}

// wsConnOf returns the one connection of conns that upgraded.
func wsConnOf(t *testing.T, conns [][]capture.Event) []capture.Event {
	t.Helper()
	var ws [][]capture.Event
	for _, c := range conns {
		if slices.ContainsFunc(c, func(ev capture.Event) bool { return ev.Kind == capture.KindUpgrade }) {
			ws = append(ws, c)
		}
	}
	if len(ws) != 1 {
		t.Fatalf("%d connections upgraded to WebSocket, want 1 (of %d connections)", len(ws), len(conns))
	}
	return ws[0]
}

// TestE2EPeers runs real WebSocket libraries through frametap and requires
// the capture to show, byte for byte and in order, what the peers logged
// sending and receiving.
func TestE2EPeers(t *testing.T) {
	requireE2E(t)
	type peer struct {
		library        string
		env            []string
		server, client []string
	}
	peers := []peer{
		{library: "python", server: []string{peerPython, "-B", "py_server.py"}, client: []string{peerPython, "-B", "py_client.py"}},
		{library: "node", env: []string{"NODE_PATH=" + peerNodePath}, server: []string{"node", "node_server.js"}, client: []string{"node", "node_client.js"}},
	}
	for _, p := range peers {
		for _, mode := range modes {
			for _, deflate := range []bool{true, false} {
				comp := map[bool]string{true: "deflate", false: "none"}[deflate]
				t.Run(p.library+"/"+mode+"/"+comp, func(t *testing.T) {
					requirePeer(t, p.library)
					dir := t.TempDir()
					serverLog, clientLog := filepath.Join(dir, "server.jsonl"), filepath.Join(dir, "client.jsonl")
					srv := startPeerServer(t, p.env, append(p.server, serverLog, comp)...)
					serverAddr := "127.0.0.1:" + srv.port
					tp := startTap(t, tapMode(mode, serverAddr))
					url := "ws://" + tp.addr + "/e2e"
					args := append(p.client, url, clientLog, comp)
					if mode == "regular" {
						url = "ws://" + serverAddr + "/e2e"
						args = append(p.client, url, clientLog, comp, tp.addr)
					}
					start := time.Now()
					runPeerClient(t, p.env, args...)
					srv.wait(t)
					t.Logf("peers done in %v", time.Since(start).Round(time.Millisecond))
					conns := tp.conns(tp.stop())
					conn := wsConnOf(t, conns)
					if mode == "regular" {
						checkTunnel(t, conn, serverAddr)
					}
					checkPeerCapture(t, checkWSConn(t, conn, true), readPeerLog(t, clientLog), readPeerLog(t, serverLog), deflate)
					// Issue 11: the capture as HAR, and the --pcap file as
					// Wireshark reads it (har_e2e_test.go).
					checkExport(t, tp, tp.stop())
					checkPcap(t, tp, tp.stop())
				})
			}
		}
	}
}

// checkPeerCapture compares the capture of one WebSocket connection with
// the peers' logs.
func checkPeerCapture(t *testing.T, c wsCapture, client, server []peerMsg, deflate bool) {
	t.Helper()
	if !c.upgrade.AcceptOK || c.upgrade.Protocol != "websocket" {
		t.Errorf("upgrade: accept_ok %v, protocol %q", c.upgrade.AcceptOK, c.upgrade.Protocol)
	}
	if got := strings.Contains(c.upgrade.Extensions, "permessage-deflate"); got != deflate {
		t.Errorf("upgrade extensions %q, want permessage-deflate: %v", c.upgrade.Extensions, deflate)
	}
	for _, ev := range c.errors {
		t.Errorf("error event from %q: %s", ev.From, ev.Msg)
	}
	if !c.close.WebSocket || c.close.WSClosedBy != "client" || !c.close.WSCloseClean || c.close.Err != "" {
		t.Errorf("close: websocket %v, ws_closed_by %q, ws_close_clean %v, err %q; want true, client, true, none",
			c.close.WebSocket, c.close.WSClosedBy, c.close.WSCloseClean, c.close.Err)
	}

	// The peers agree with each other: bytes went through unchanged.
	sameMessages(t, "client→server data, server's log vs client's log", pick(server, "recv", false), pick(client, "sent", false), false)
	sameMessages(t, "server→client data, client's log vs server's log", pick(client, "recv", false), pick(server, "sent", false), false)
	subsequence(t, "control frames the server logged receiving", pick(server, "recv", true), pick(client, "sent", true))

	// The capture agrees with the peers. The server's library answers
	// pings and closes by itself, so the client logs the server's control
	// frames as it received them.
	cm, sm := c.messages["client"], c.messages["server"]
	sameMessages(t, "client→server data, capture vs client's log", asPeerMsgs(cm, false), pick(client, "sent", false), true)
	sameMessages(t, "server→client data, capture vs server's log", asPeerMsgs(sm, false), pick(server, "sent", false), true)
	sameMessages(t, "client→server control, capture vs client's log", asPeerMsgs(cm, true), pick(client, "sent", true), true)
	sameMessages(t, "server→client control, capture vs client's log", asPeerMsgs(sm, true), pick(client, "recv", true), true)
	t.Logf("capture: extensions %q; client→server %s; server→client %s", c.upgrade.Extensions, summary(cm), summary(sm))
	if n := len(pick(client, "sent", false)); n < 200 {
		t.Errorf("the client logged only %d data messages sent", n)
	}

	// Compression: every data message under permessage-deflate (both
	// libraries compress all of them as configured here), none without;
	// the large text ones must shrink.
	for _, ev := range append(slices.Clone(cm), sm...) {
		if ev.Op != "text" && ev.Op != "binary" {
			continue
		}
		if ev.Compressed != deflate {
			t.Errorf("%s %s message of %d bytes %q: compressed %v, want %v", ev.From, ev.Op, ev.Len, preview(ev.Payload), ev.Compressed, deflate)
			break
		}
		if deflate && ev.Op == "text" && ev.Len >= 1024 && ev.WireLen >= ev.Len {
			t.Errorf("%s text message of %d bytes %q: wire_len %d, want it compressed smaller", ev.From, ev.Len, preview(ev.Payload), ev.WireLen)
		}
		if !deflate && ev.WireLen != ev.Len {
			t.Errorf("%s %s message: wire_len %d != len %d without compression", ev.From, ev.Op, ev.WireLen, ev.Len)
		}
	}
}

// summary describes a direction's captured messages in one line.
func summary(ms []capture.Event) string {
	var data, compressed, fragmented int
	var largest, wire, total int64
	ops := map[string]int{}
	for _, m := range ms {
		ops[m.Op]++
		if m.Op != "text" && m.Op != "binary" {
			continue
		}
		data++
		total += m.Len
		wire += m.WireLen
		largest = max(largest, m.Len)
		if m.Compressed {
			compressed++
		}
		if m.Frames > 1 {
			fragmented++
		}
	}
	return fmt.Sprintf("%d data messages (%d compressed, %d fragmented, largest %d B, %d B inflated from %d B on the wire), %d ping, %d pong, %d close",
		data, compressed, fragmented, largest, total, wire, ops["ping"], ops["pong"], ops["close"])
}
