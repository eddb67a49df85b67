package main

// The end-to-end suite: the frametap binary, run as a user runs it, between
// WebSocket peers nobody here wrote (Python websockets, Node ws) and a
// deliberately bad raw peer. It runs only with FRAMETAP_E2E=1, and then a
// missing peer is a failure, not a skip:
//
//	apt-get install -y python3-websockets node-ws
//	FRAMETAP_E2E=1 go test ./cmd/frametap/ -run E2E -v

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// Where the peers live: Debian's packages, not whatever is first on PATH.
const (
	peerPython   = "/usr/bin/python3"
	peerNodePath = "/usr/share/nodejs"
	peerTimeout  = 30 * time.Second
)

// e2eBinary is the frametap binary TestMain built, or e2eBuildErr why not.
var (
	e2eBinary   string
	e2eBuildErr error
)

// buildHome is HOME as the test started. Package variables are set before
// any init runs, and ca_test.go's init moves HOME to a temporary directory
// (so that the frametap processes make their CA there): the build must
// still find the module and build caches under the real one.
var buildHome = os.Getenv("HOME")

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Getenv("FRAMETAP_E2E") != "1" {
		return m.Run()
	}
	if b := os.Getenv("FRAMETAP_E2E_BINARY"); b != "" {
		// A test run again inside a network namespace (modes_e2e_test.go)
		// uses the binary its outer run built.
		e2eBinary = b
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "frametap-e2e-")
	if err != nil {
		e2eBuildErr = err
		return m.Run()
	}
	defer os.RemoveAll(dir)
	e2eBinary = filepath.Join(dir, "frametap")
	e2eBuildErr = buildFrametap(e2eBinary)
	return m.Run()
}

// buildFrametap builds this package's command, with the race detector when
// the tests themselves run with it.
func buildFrametap(out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	args := []string{"build", "-o", out}
	if raceEnabled {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, append(args, ".")...)
	cmd.Env = append(os.Environ(), "HOME="+buildHome)
	b, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go build: %v\n%s", err, b)
	}
	return nil
}

// requireE2E skips t unless FRAMETAP_E2E=1, and fails it when the binary
// did not build.
func requireE2E(t *testing.T) {
	t.Helper()
	if os.Getenv("FRAMETAP_E2E") != "1" {
		t.Skip("set FRAMETAP_E2E=1 to run the end-to-end suite")
	}
	if e2eBuildErr != nil {
		t.Fatalf("building frametap: %v", e2eBuildErr)
	}
}

// lockedBuffer collects a subprocess's output; it is safe for concurrent use.
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

// tapProcess is a running frametap binary.
type tapProcess struct {
	t       *testing.T
	cmd     *exec.Cmd
	addr    string
	capPath string
	pcap    string       // --pcap's file: every tap writes one (issue 11, har_e2e_test.go)
	out     lockedBuffer // stdout and stderr
	done    chan error
	probe   string // client address of the readiness probe
	evs     []capture.Event

	probes []string // client addresses of startTapListening's probes, one per listener (modes_e2e_test.go)
}

// startTap runs frametap in mode ("regular" or "reverse:http://...") on a
// free loopback port and waits until the port accepts.
func startTap(t *testing.T, mode string) *tapProcess {
	t.Helper()
	capPath := filepath.Join(t.TempDir(), "capture.jsonl")
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		tp := &tapProcess{t: t, addr: addr, capPath: capPath, pcap: filepath.Join(filepath.Dir(capPath), "relay.pcapng"), done: make(chan error, 1)}
		tp.cmd = exec.Command(e2eBinary, "--headless", "-w", capPath, "--pcap", tp.pcap, "--listen", addr, "--mode", mode)
		tp.cmd.Stdout, tp.cmd.Stderr = &tp.out, &tp.out
		// A race-enabled frametap sleeps 1 s at exit by default; a race
		// it finds still makes it exit 66, which stop reports.
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

// waitReady dials the port until it accepts, for up to 5 s, and reports
// false if frametap exited first.
func (tp *tapProcess) waitReady() bool {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-tp.done:
			tp.done <- err
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", tp.addr, time.Second); err == nil {
			tp.probe = c.LocalAddr().String()
			c.Close()
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// kill ends frametap if it is still running.
func (tp *tapProcess) kill() {
	select {
	case err := <-tp.done:
		tp.done <- err
	default:
		tp.cmd.Process.Kill()
	}
}

// stop sends SIGINT, requires frametap to exit within 5 s, and reads the
// capture back.
func (tp *tapProcess) stop() []capture.Event {
	tp.t.Helper()
	if tp.evs != nil {
		return tp.evs
	}
	tp.settle()
	tp.cmd.Process.Signal(syscall.SIGINT)
	select {
	case err := <-tp.done:
		tp.done <- err
		if err != nil {
			tp.t.Errorf("frametap exited with %v after SIGINT; output:\n%s", err, tp.out.String())
		}
	case <-time.After(5 * time.Second):
		tp.cmd.Process.Kill()
		tp.t.Fatalf("frametap still running 5 s after SIGINT; output:\n%s", tp.out.String())
	}
	evs, err := capture.ReadFile(tp.capPath)
	if err != nil {
		tp.t.Fatalf("reading the capture: %v", err)
	}
	tp.evs = evs
	return tp.evs
}

// settle waits, for up to 5 s, until every connection in the capture so far
// has its close event. A client that saw its server's FIN may finish before
// frametap has written the close that follows it; stopping frametap then
// would record that connection as cut by the shutdown.
func (tp *tapProcess) settle() {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		evs, _ := capture.ReadFile(tp.capPath) // a line being written is not read
		open := 0
		for _, ev := range evs {
			switch ev.Kind {
			case capture.KindOpen:
				open++
			case capture.KindClose:
				open--
			}
		}
		if open == 0 && len(evs) > 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// conns groups events by connection, in the order connections opened,
// leaving out the readiness probe's connection after checking it recorded
// no error.
func (tp *tapProcess) conns(evs []capture.Event) [][]capture.Event {
	tp.t.Helper()
	byConn := map[uint64][]capture.Event{}
	var order []uint64
	for _, ev := range evs {
		if _, ok := byConn[ev.Conn]; !ok {
			order = append(order, ev.Conn)
		}
		byConn[ev.Conn] = append(byConn[ev.Conn], ev)
	}
	var out [][]capture.Event
	for _, id := range order {
		c := byConn[id]
		if c[0].Kind == capture.KindOpen && c[0].Client == tp.probe {
			for _, ev := range c {
				if ev.Kind == capture.KindError {
					tp.t.Errorf("readiness probe (a connection closed without a byte): error event %q", ev.Msg)
				}
			}
			continue
		}
		out = append(out, c)
	}
	return out
}

// peerMsg is one message as a peer logged it, or as the capture shows it.
type peerMsg struct {
	Dir    string `json:"dir"`  // "sent" or "recv" (peer logs only)
	Type   string `json:"type"` // text, binary, ping, pong, close
	B64    []byte `json:"b64"`  // the payload; base64 in the log
	Code   int    `json:"code"`
	Reason string `json:"reason"`
	Frames int    `json:"frames"` // frames the sender used, when it fragmented
}

func (m peerMsg) control() bool { return m.Type != "text" && m.Type != "binary" }

func (m peerMsg) String() string {
	if m.Type == "close" {
		return fmt.Sprintf("close %d %q", m.Code, m.Reason)
	}
	return fmt.Sprintf("%s %dB %s", m.Type, len(m.B64), preview(m.B64))
}

// preview shows the first bytes of p: quoted when text, hex otherwise.
func preview(p []byte) string {
	const n = 32
	s, more := p, ""
	if len(s) > n {
		s, more = s[:n], "..."
	}
	if bytes.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0xfffd }) {
		return fmt.Sprintf("%x%s", s, more)
	}
	return fmt.Sprintf("%q%s", s, more)
}

// sameMessages reports the first difference between two message lists,
// comparing frame counts too when frames is set (a peer logs frames only
// when it fragmented a message, so 0 means 1).
func sameMessages(t *testing.T, what string, got, want []peerMsg, frames bool) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		if i >= len(got) || i >= len(want) {
			t.Errorf("%s: got %d messages, want %d; first extra or missing one is #%d: got %v, want %v",
				what, len(got), len(want), i, at(got, i), at(want, i))
			return
		}
		g, w := got[i], want[i]
		if g.Type != w.Type || !bytes.Equal(g.B64, w.B64) || g.Code != w.Code || g.Reason != w.Reason ||
			frames && g.Frames != max(w.Frames, 1) {
			d := firstDiff(g.B64, w.B64)
			t.Errorf("%s: message #%d of %d/%d differs (payloads first differ at byte %d: got %s, want %s):\n got %v (frames %d)\nwant %v (frames %d)",
				what, i, len(got), len(want), d, preview(g.B64[d:]), preview(w.B64[d:]), g, g.Frames, w, max(w.Frames, 1))
			return
		}
	}
}

// firstDiff returns the index of the first byte where a and b differ, or
// the shorter length.
func firstDiff(a, b []byte) int {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return i
}

func at(ms []peerMsg, i int) string {
	if i < len(ms) {
		return ms[i].String()
	}
	return "none"
}

// wsCapture is what the capture shows of one WebSocket connection.
type wsCapture struct {
	upgrade  capture.Event
	close    capture.Event
	messages map[string][]capture.Event // by From
	errors   []capture.Event
}

// checkWSConn checks the structure of one WebSocket connection's events:
// one upgrade, a close last and, when strict, frames that add up to their
// messages (count, FIN, opcode, RSV1, mask, lengths), which a peer that
// breaks the rules need not give.
func checkWSConn(t *testing.T, evs []capture.Event, strict bool) wsCapture {
	t.Helper()
	c := wsCapture{messages: map[string][]capture.Event{}}
	ups := 0
	type pending struct{ data, ctl []capture.Event }
	frames := map[string]*pending{"client": {}, "server": {}}
	bad := 0
	fail := func(format string, args ...any) {
		if !strict {
			return
		}
		bad++
		if bad <= 5 {
			t.Errorf(format, args...)
		}
	}
	for i, ev := range evs {
		switch ev.Kind {
		case capture.KindUpgrade:
			ups++
			c.upgrade = ev
		case capture.KindClose:
			c.close = ev
			if i != len(evs)-1 {
				t.Errorf("close event is #%d of %d events", i, len(evs))
			}
		case capture.KindError:
			c.errors = append(c.errors, ev)
		case capture.KindFrame:
			p := frames[ev.From]
			if p == nil {
				fail("frame from %q", ev.From)
				continue
			}
			if ev.Masked != (ev.From == "client") {
				fail("%s frame masked=%v", ev.From, ev.Masked)
			}
			if ev.Opcode >= 8 {
				p.ctl = append(p.ctl, ev)
			} else {
				p.data = append(p.data, ev)
			}
		case capture.KindMessage:
			c.messages[ev.From] = append(c.messages[ev.From], ev)
			p := frames[ev.From]
			if p == nil {
				fail("message from %q", ev.From)
				continue
			}
			if ev.Truncated || ev.Op != "close" && ev.Len != int64(len(ev.Payload)) {
				fail("%s %s message #%d: len %d, payload %d bytes, truncated %v", ev.From, ev.Op, len(c.messages[ev.From])-1, ev.Len, len(ev.Payload), ev.Truncated)
			}
			if ev.Op == "ping" || ev.Op == "pong" || ev.Op == "close" {
				if len(p.ctl) == 0 || ev.Frames != 1 || p.ctl[0].Len != ev.WireLen {
					fail("%s %s message: frames %d, wire_len %d, %d control frames pending", ev.From, ev.Op, ev.Frames, ev.WireLen, len(p.ctl))
				}
				if len(p.ctl) > 0 {
					p.ctl = p.ctl[1:]
				}
				continue
			}
			var wire int64
			ok := len(p.data) == ev.Frames && ev.Frames > 0
			for j, f := range p.data {
				wire += f.Len
				first, last := j == 0, j == len(p.data)-1
				ok = ok && f.Fin == last && (f.Opcode == 0) != first && (f.RSV == 4) == (first && ev.Compressed) && f.RSV&3 == 0
			}
			if !ok || wire != ev.WireLen || ev.Op == "text" && p.data[0].Opcode != 1 || ev.Op == "binary" && p.data[0].Opcode != 2 {
				fail("%s %s message (frames %d, wire_len %d, compressed %v) does not match its %d frames: %+v",
					ev.From, ev.Op, ev.Frames, ev.WireLen, ev.Compressed, len(p.data), p.data)
			}
			p.data = nil
		}
	}
	for from, p := range frames {
		if strict && len(p.data)+len(p.ctl) > 0 {
			t.Errorf("%d %s frames not followed by their message", len(p.data)+len(p.ctl), from)
		}
	}
	if ups != 1 {
		t.Errorf("%d upgrade events on the WebSocket connection, want 1", ups)
	}
	if c.close.Kind != capture.KindClose {
		t.Errorf("no close event on the WebSocket connection")
	}
	return c
}

// asPeerMsgs turns captured messages into peerMsgs, data or control ones.
func asPeerMsgs(evs []capture.Event, control bool) []peerMsg {
	var out []peerMsg
	for _, ev := range evs {
		m := peerMsg{Type: ev.Op, B64: ev.Payload, Code: ev.Code, Reason: ev.Reason, Frames: ev.Frames}
		if m.B64 == nil {
			m.B64 = []byte{}
		}
		if m.control() == control {
			out = append(out, m)
		}
	}
	return out
}

// checkTunnel requires, in regular mode, that conn opened a CONNECT tunnel
// to target that was answered 200.
func checkTunnel(t *testing.T, conn []capture.Event, target string) {
	t.Helper()
	var req, resp *capture.Event
	for i := range conn {
		switch ev := &conn[i]; {
		case ev.Kind == capture.KindRequest && req == nil:
			req = ev
		case ev.Kind == capture.KindResponse && resp == nil:
			resp = ev
		}
	}
	if req == nil || resp == nil || req.Method != "CONNECT" || req.Target != target || resp.Status != 200 {
		t.Errorf("regular mode: first exchange %+v / %+v, want CONNECT %s answered 200", req, resp, target)
	}
}

// modes are the two ways a client reaches a server through frametap.
var modes = []string{"reverse", "regular"}

// tapMode returns frametap's --mode for a server at serverAddr.
func tapMode(mode, serverAddr string) string {
	if mode == "reverse" {
		return "reverse:http://" + serverAddr
	}
	return "regular"
}
