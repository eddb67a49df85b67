package pcapng

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Conversation completeness as Wireshark reports it (tcp.completeness):
// the bits of SYN, SYN-ACK, ACK, data, FIN and RST seen.
const (
	completeFIN = "31" // SYN, SYN-ACK, ACK, data, FIN
	completeRST = "47" // SYN, SYN-ACK, ACK, data, RST
)

// TestEndings relays a connection that ends with FINs and one that the
// relay ends with a RST in the middle of a response, and checks how each
// conversation ends.
func TestEndings(t *testing.T) {
	needTshark(t)
	srv := httpServer(t, "tcp4")
	file := tempFile(t, "end.pcapng")
	w, err := Create(file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tt := newTee(t, "tcp4", srv.Listener.Addr().String(), w)
	base := "http://" + srv.Listener.Addr().String()
	c := client(tt.addr())
	get(t, c, "GET", base+"/fin", "")
	c.CloseIdleConnections()
	tt.wait()
	tt = newTee(t, "tcp4", srv.Listener.Addr().String(), w, 50000)
	c = client(tt.addr())
	if _, err := c.Get(base + "/rst?n=200000"); err == nil {
		// The head may have arrived before the reset: the body cannot.
		t.Log("response head arrived before the reset")
	}
	c.CloseIdleConnections()
	tt.wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	ps := packets(t, file)
	checkClean(t, ps)
	fin, rst := stream(ps, 0), stream(ps, 1)
	if got := fin[0].comment; got != "tee" {
		t.Errorf("SYN comment %q, want %q", got, "tee")
	}
	if got := fin[len(fin)-1].completeness; got != completeFIN {
		t.Errorf("stream 0 completeness %s, want %s (ended by FINs)", got, completeFIN)
	}
	var flags []string
	for _, p := range fin[len(fin)-4:] {
		flags = append(flags, p.flags)
	}
	// FIN from the side that ended first, ACK, FIN from the other, ACK.
	if want := []string{"0x0011", "0x0010", "0x0011", "0x0010"}; !reflect.DeepEqual(flags, want) {
		t.Errorf("stream 0 ends with flags %q, want %q", flags, want)
	}
	last := rst[len(rst)-1]
	if last.flags != "0x0014" || last.srcPort != int(srvPort(t, srv.Listener.Addr().String())) {
		t.Errorf("stream 1 ends with flags %s from port %d, want a RST-ACK from the server", last.flags, last.srcPort)
	}
	if last.comment != "frametap: test reset" {
		t.Errorf("RST comment %q", last.comment)
	}
	if last.completeness != completeRST {
		t.Errorf("stream 1 completeness %s, want %s (ended by RST)", last.completeness, completeRST)
	}
	for _, p := range rst {
		if p.flags == "0x0011" {
			t.Errorf("frame %d: a FIN in the reset conversation", p.frame)
		}
	}
}

func srvPort(t *testing.T, addr string) uint16 {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return ap.Port()
}

// exchange returns the bytes of one real HTTP/1.1 exchange (GET path), as
// a relay saw them: what the client sent and what the server sent.
func exchange(t *testing.T, path string) (req, resp []byte) {
	t.Helper()
	srv := httpServer(t, "tcp4")
	w := NewWriter(io.Discard, Options{})
	defer w.Close()
	tt := newTee(t, "tcp4", srv.Listener.Addr().String(), w)
	c := client(tt.addr())
	get(t, c, "GET", "http://"+srv.Listener.Addr().String()+path, "")
	c.CloseIdleConnections()
	tt.wait()
	tc := tt.conn(0)
	return tc.sent[Client].Bytes(), tc.sent[Server].Bytes()
}

// TestServerChange writes one client connection that reaches a server, is
// routed to a second one, then back to the first (regular mode routing a
// kept-alive connection by Host): three conversations, each a complete TCP
// connection that tshark dissects on its own, the third on the same ports
// as the first.
func TestServerChange(t *testing.T) {
	needTshark(t)
	type hop struct {
		server string
		path   string
	}
	hops := []hop{{"127.0.0.7:8080", "/one"}, {"[::1]:80", "/two"}, {"127.0.0.7:8080", "/three"}}
	file := tempFile(t, "reroute.pcapng")
	w, err := Create(file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := w.Stream()
	client := netip.MustParseAddrPort("127.0.0.1:40000")
	now := time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC)
	for i, h := range hops {
		req, resp := exchange(t, h.path)
		tick := func() time.Time { now = now.Add(time.Millisecond); return now }
		if err := s.Open(Conversation{Client: client, Server: netip.MustParseAddrPort(h.server), Comment: "conn 1, hop " + h.server}, tick()); err != nil {
			t.Fatal(err)
		}
		must(t, s.Data(Client, req, tick()))
		must(t, s.Data(Server, resp, tick()))
		if i == len(hops)-1 {
			must(t, s.End(Server, tick()))
			must(t, s.Close(tick()))
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	got := fields(t, file, "http.request", "tcp.stream", "http.request_number", "http.request.uri", "ip.src", "ipv6.src", "ipv6.dst", "tcp.dstport")
	want := [][]string{
		{"0", "1", "/one", "127.0.0.1", "", "", "8080"},
		// A client on IPv4 and a server on IPv6: both written as IPv6,
		// the client's address mapped.
		{"1", "1", "/two", "", "::ffff:127.0.0.1", "::1", "80"},
		{"2", "1", "/three", "127.0.0.1", "", "", "8080"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("requests:\n got %q\nwant %q", got, want)
	}
	ps := packets(t, file)
	// The third conversation is on the ports of the first: Wireshark
	// notes it on its SYN, and starts a new stream (the initial sequence
	// numbers differ), which is what happened. Nothing else is flagged.
	var rest []pkt
	for _, p := range ps {
		if p.reused {
			if p.stream != 2 || p.flags != "0x0002" {
				t.Errorf("frame %d (stream %d, flags %s): ports reused", p.frame, p.stream, p.flags)
			}
			continue
		}
		rest = append(rest, p)
	}
	checkClean(t, rest)
	for i := range hops {
		st := stream(ps, i)
		if c := st[len(st)-1].completeness; c != completeFIN {
			t.Errorf("stream %d: completeness %s, want %s", i, c, completeFIN)
		}
		if !strings.HasPrefix(st[0].comment, "conn 1, hop ") {
			t.Errorf("stream %d: SYN comment %q", i, st[0].comment)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestUnknownAddresses opens conversations whose addresses are missing
// (a pipe has none): they are written with unspecified addresses of the
// other side's family, and still read back.
func TestUnknownAddresses(t *testing.T) {
	var buf bytes.Buffer
	w := NewWriter(&buf, Options{})
	s := w.Stream()
	now := time.Now()
	v4, v6 := netip.MustParseAddrPort("127.0.0.1:80"), netip.MustParseAddrPort("[fd00::1]:443")
	want := []*wantConv{
		{client: netip.AddrPortFrom(netip.IPv4Unspecified(), 0), server: v4, end: "fin"},
		{client: netip.AddrPortFrom(netip.IPv6Unspecified(), 0), server: v6, end: "fin"},
	}
	must(t, s.Open(Conversation{Server: v4}, now))
	must(t, s.Data(Client, []byte("a"), now))
	want[0].data[Client] = []byte("a")
	must(t, s.Open(Conversation{Server: v6}, now))
	must(t, s.Data(Server, []byte("b"), now))
	want[1].data[Server] = []byte("b")
	must(t, s.Close(now))
	if err := s.Data(Client, []byte("c"), now); !errors.Is(err, ErrNotOpen) {
		t.Errorf("Data after Close returned %v, want ErrNotOpen", err)
	}
	must(t, w.Close())
	checkBack(t, buf.Bytes(), want)
}
