package pcapng

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// tee is a loopback TCP relay that writes what it relays to a Writer, the
// way the proxy will: one Stream per client connection, one conversation
// between the client's address and the server's, each chunk written under
// the connection's lock in the order it was relayed, a FIN when a side
// ends, a RST when the relay fails.
type tee struct {
	t      *testing.T
	ln     net.Listener
	target string
	w      *Writer
	wg     sync.WaitGroup
	// resetOn, if set, makes the relay end each connection with a RST
	// from the server once the server has sent this many bytes.
	resetOn int

	mu    sync.Mutex
	conns []*teeConn // in accept order, which is tshark's tcp.stream order
}

// teeConn is one relayed connection: what each side sent, as the relay
// saw it.
type teeConn struct {
	mu      sync.Mutex
	s       *Stream
	client  netip.AddrPort
	sent    [2]bytes.Buffer
	resetOn int // tee.resetOn
	reset   bool
}

// newTee relays connections on a new listener on network ("tcp4" or
// "tcp6", loopback) to target and writes them to w; resetOn, if given,
// sets tee.resetOn.
func newTee(t *testing.T, network, target string, w *Writer, resetOn ...int) *tee {
	t.Helper()
	addr := "127.0.0.1:0"
	if network == "tcp6" {
		addr = "[::1]:0"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	tt := &tee{t: t, ln: ln, target: target, w: w}
	if len(resetOn) > 0 {
		tt.resetOn = resetOn[0]
	}
	tt.wg.Add(1)
	go tt.accept()
	t.Cleanup(tt.close)
	return tt
}

func (tt *tee) addr() string { return tt.ln.Addr().String() }

func (tt *tee) close() {
	tt.ln.Close()
	tt.wg.Wait()
}

// wait waits for every relayed connection to end.
func (tt *tee) wait() {
	tt.ln.Close()
	tt.wg.Wait()
}

func (tt *tee) conn(i int) *teeConn {
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return tt.conns[i]
}

func (tt *tee) accept() {
	defer tt.wg.Done()
	for {
		c, err := tt.ln.Accept()
		if err != nil {
			return
		}
		tc := &teeConn{s: tt.w.Stream(), client: c.RemoteAddr().(*net.TCPAddr).AddrPort(), resetOn: tt.resetOn}
		tt.mu.Lock()
		tt.conns = append(tt.conns, tc)
		tt.mu.Unlock()
		tt.wg.Add(1)
		go func() {
			defer tt.wg.Done()
			tt.relay(tc, c)
		}()
	}
}

func (tt *tee) relay(tc *teeConn, client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", tt.target)
	if err != nil {
		tt.t.Error(err)
		return
	}
	defer server.Close()
	tc.mu.Lock()
	err = tc.s.Open(Conversation{Client: tc.client, Server: server.RemoteAddr().(*net.TCPAddr).AddrPort(), Comment: "tee"}, time.Now())
	tc.mu.Unlock()
	if err != nil {
		tt.t.Error(err)
	}
	done := make(chan struct{}, 2)
	go tc.copy(Client, server, client, done)
	go tc.copy(Server, client, server, done)
	<-done
	<-done
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if err := tc.s.Close(time.Now()); err != nil {
		tt.t.Error(err)
	}
}

// copy relays what side from sends: it reads from src and writes to dst.
func (tc *teeConn) copy(from Side, dst, src net.Conn, done chan<- struct{}) {
	defer func() { done <- struct{}{} }()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			tc.mu.Lock()
			if tc.reset {
				tc.mu.Unlock()
				return
			}
			tc.sent[from].Write(buf[:n])
			if werr := tc.s.Data(from, buf[:n], time.Now()); werr != nil {
				panic(werr)
			}
			if from == Server && tc.resetOn > 0 && tc.sent[Server].Len() >= tc.resetOn {
				tc.reset = true
				tc.s.Reset(Server, time.Now(), "test reset")
				dst.(*net.TCPConn).SetLinger(0)
				dst.Close()
				src.Close()
				tc.mu.Unlock()
				return
			}
			tc.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			tc.mu.Lock()
			if !tc.reset && errors.Is(err, io.EOF) {
				tc.s.End(from, time.Now())
			}
			tc.mu.Unlock()
			dst.(*net.TCPConn).CloseWrite()
			return
		}
	}
}

// needTshark skips the test when tshark is not installed.
func needTshark(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark is not installed (Debian: apt-get install tshark); these tests read the pcapng with Wireshark's dissectors")
	}
}

// tshark runs tshark -r file with args and returns its output. Anything
// on stderr but the warning about running as root fails the test: tshark
// reports a damaged file there.
func tshark(t *testing.T, file string, args ...string) string {
	t.Helper()
	cmd := exec.Command("tshark", append([]string{"-r", file}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	for line := range strings.Lines(stderr.String()) {
		if strings.Contains(line, "Running as user") || strings.TrimSpace(line) == "" {
			continue
		}
		t.Errorf("tshark %s: %s", strings.Join(args, " "), line)
	}
	if err != nil {
		t.Fatalf("tshark %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// fields returns the fields of the packets that match filter (all, if
// empty), one row per packet.
func fields(t *testing.T, file, filter string, names ...string) [][]string {
	t.Helper()
	// Two passes, as Wireshark's window does: conversation completeness
	// is final on every packet. Wireshark verifies checksums only when
	// asked.
	args := []string{"-2", "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"}
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	for _, n := range names {
		args = append(args, "-e", n)
	}
	var rows [][]string
	for line := range strings.Lines(tshark(t, file, args...)) {
		rows = append(rows, strings.Split(strings.TrimRight(line, "\n"), "|"))
	}
	return rows
}

// pkt is one packet as tshark dissected it.
type pkt struct {
	frame, stream    int
	srcPort, dstPort int
	flags            string // tcp.flags: 0x0012 for SYN-ACK
	seqRaw, ackRaw   string
	payload          []byte
	ipCsum, tcpCsum  string // checksum status: 1 is good
	analysis         string // tcp.analysis.flags: present when Wireshark flagged something
	expert           string
	comment          string
	completeness     string
	src, dst         string // ip.src or ipv6.src
	reused           bool   // tcp.analysis.reused_ports: a SYN on the ports of an earlier conversation
}

// packets returns every packet of file as tshark dissects it, checksums
// verified (Wireshark does not verify them by default).
func packets(t *testing.T, file string) []pkt {
	t.Helper()
	names := []string{"frame.number", "tcp.stream", "tcp.srcport", "tcp.dstport", "tcp.flags", "tcp.seq_raw", "tcp.ack_raw", "tcp.payload",
		"ip.checksum.status", "tcp.checksum.status", "tcp.analysis.flags", "_ws.expert.message", "frame.comment", "tcp.completeness",
		"ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "tcp.analysis.reused_ports"}
	var ps []pkt
	for _, r := range fields(t, file, "", names...) {
		p := pkt{flags: r[4], seqRaw: r[5], ackRaw: r[6], payload: unhex(t, r[7]), ipCsum: r[8], tcpCsum: r[9], analysis: r[10], expert: r[11], comment: r[12], completeness: r[13],
			src: r[14] + r[15], dst: r[16] + r[17], reused: r[18] != ""}
		p.frame, _ = strconv.Atoi(r[0])
		p.stream, _ = strconv.Atoi(r[1])
		p.srcPort, _ = strconv.Atoi(r[2])
		p.dstPort, _ = strconv.Atoi(r[3])
		ps = append(ps, p)
	}
	return ps
}

// checkClean checks every packet: IP and TCP checksums good, and no TCP
// analysis flag (retransmission, lost segment, window full, duplicate
// ACK, ...).
func checkClean(t *testing.T, ps []pkt) {
	t.Helper()
	if len(ps) == 0 {
		t.Fatal("no packets")
	}
	for _, p := range ps {
		if p.ipCsum != "" && p.ipCsum != "1" {
			t.Errorf("frame %d: IPv4 checksum status %s, want 1 (good)", p.frame, p.ipCsum)
		}
		if p.tcpCsum != "1" {
			t.Errorf("frame %d: TCP checksum status %q, want 1 (good)", p.frame, p.tcpCsum)
		}
		if p.analysis != "" {
			t.Errorf("frame %d: TCP analysis flags: %s", p.frame, p.expert)
		}
	}
}

// stream returns the packets of TCP stream i.
func stream(ps []pkt, i int) []pkt {
	var out []pkt
	for _, p := range ps {
		if p.stream == i {
			out = append(out, p)
		}
	}
	return out
}

// checkFollow checks that TCP stream i carries exactly the bytes the relay
// saw, per direction, in order.
func checkFollow(t *testing.T, ps []pkt, i int, tc *teeConn) {
	t.Helper()
	s := stream(ps, i)
	if len(s) == 0 || s[0].flags != "0x0002" {
		t.Fatalf("stream %d does not start with a SYN", i)
	}
	clientPort := s[0].srcPort
	var got [2][]byte
	for _, p := range s {
		side := Server
		if p.srcPort == clientPort {
			side = Client
		}
		got[side] = append(got[side], p.payload...)
	}
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for side, want := range tc.sent {
		if !bytes.Equal(got[side], want.Bytes()) {
			t.Errorf("stream %d, %s: tshark has %d bytes, the relay saw %d; first difference at %d", i, Side(side), len(got[side]), want.Len(), firstDiff(got[side], want.Bytes()))
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	s = strings.ReplaceAll(s, ",", "")
	s = strings.ReplaceAll(s, ":", "")
	b := make([]byte, len(s)/2)
	for i := range b {
		hi, lo := hexVal(s[2*i]), hexVal(s[2*i+1])
		if hi < 0 || lo < 0 {
			t.Fatalf("not hex: %q", s)
		}
		b[i] = byte(hi<<4 | lo)
	}
	return b
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// tempFile returns a path for a pcapng file in the test's directory.
func tempFile(t *testing.T, name string) string {
	return filepath.Join(t.TempDir(), name)
}
