package pcapng

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// wantConv is what a script gave one conversation.
type wantConv struct {
	client, server netip.AddrPort
	data           [2][]byte
	end            string
}

// runScript drives a Stream by the bytes of script and returns what the
// file must hold. Each operation is one byte, some take a second one:
// data from either side (sizes up to 8 KiB: many segments, and batches
// past batchMax), a FIN from either side, a RST, a new conversation (IPv4
// or IPv6: a change of server), Close.
func runScript(t *testing.T, w *Writer, script []byte) []*wantConv {
	t.Helper()
	s := w.Stream()
	var convs []*wantConv
	var cur *wantConv
	fin := [2]bool{}
	now := time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC)
	tick := func() time.Time { now = now.Add(time.Microsecond); return now }
	open := func(v6 bool) {
		n := len(convs)
		c := &wantConv{
			client: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(40000+n)),
			server: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(2 + n%200)}), 80),
		}
		if v6 {
			c.client = netip.AddrPortFrom(netip.IPv6Loopback(), uint16(40000+n))
			c.server = netip.AddrPortFrom(netip.AddrFrom16([16]byte{0xfd, 15: byte(n)}), 443)
		}
		if cur != nil && cur.end == "" {
			cur.end = "fin"
		}
		if err := s.Open(Conversation{Client: c.client, Server: c.server}, tick()); err != nil {
			t.Fatal(err)
		}
		convs = append(convs, c)
		cur, fin = c, [2]bool{}
	}
	open(false)
	for i := 0; i < len(script); i++ {
		op := script[i]
		side := Side(op >> 7)
		var arg int
		if i+1 < len(script) {
			arg = int(script[i+1])
		}
		switch op & 7 {
		case 0, 1, 2, 3: // data: op's bits 3..6, the next byte and bit 0 give the size
			i++
			n := (int(op>>3&15)<<8|arg)*2 + int(op&1)
			b := bytes.Repeat([]byte{op, byte(arg), byte(i)}, n/3+1)[:n]
			err := s.Data(side, b, tick())
			switch {
			case cur.end != "":
				if !errors.Is(err, ErrNotOpen) && n > 0 {
					t.Fatalf("Data after the end: %v", err)
				}
			case fin[side]:
				if err == nil {
					t.Fatal("Data after FIN: no error")
				}
			case err != nil:
				t.Fatal(err)
			default:
				cur.data[side] = append(cur.data[side], b...)
			}
		case 4:
			if err := s.End(side, tick()); err != nil && cur.end == "" {
				t.Fatal(err)
			}
			if cur.end == "" {
				fin[side] = true
			}
		case 5:
			if err := s.Reset(side, tick(), "fuzz"); err != nil && cur.end == "" {
				t.Fatal(err)
			}
			if cur.end == "" {
				cur.end = "rst"
			}
		case 6:
			open(op&8 != 0)
		case 7:
			if err := s.Close(tick()); err != nil {
				t.Fatal(err)
			}
			if cur.end == "" {
				cur.end = "fin"
			}
		}
		if cur.end == "" && fin[Client] && fin[Server] {
			cur.end = "fin"
		}
	}
	if err := s.Close(tick()); err != nil {
		t.Fatal(err)
	}
	if cur.end == "" {
		cur.end = "fin"
	}
	return convs
}

// checkBack compares what readBack found in data with what was written.
func checkBack(t *testing.T, data []byte, want []*wantConv) {
	t.Helper()
	got, err := readBack(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d conversations, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.client != w.client || g.server != w.server {
			t.Errorf("conversation %d: %v → %v, want %v → %v", i, g.client, g.server, w.client, w.server)
		}
		for side := range w.data {
			if !bytes.Equal(g.data[side], w.data[side]) {
				t.Errorf("conversation %d, %s: %d bytes read back, %d written; first difference at %d", i, Side(side), len(g.data[side]), len(w.data[side]), firstDiff(g.data[side], w.data[side]))
			}
		}
		if g.end != w.end {
			t.Errorf("conversation %d ends with %q, want %q", i, g.end, w.end)
		}
	}
}

// FuzzStream runs scripts of Stream calls and reads the file back.
func FuzzStream(f *testing.F) {
	f.Add([]byte{0, 10, 0x81, 200, 4, 0x84})
	f.Add([]byte{0x78, 255, 0xf8, 255, 6, 0x81, 3, 0x0e, 0, 40, 0x85})
	f.Add([]byte{7, 0, 1, 0x84, 0, 9, 4, 4, 0x86, 3, 3})
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) > 512 {
			return
		}
		var buf bytes.Buffer
		w := NewWriter(&buf, Options{QueueBytes: 256 << 10})
		want := runScript(t, w, script)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		checkBack(t, buf.Bytes(), want)
	})
}

// FuzzBlockAt checks the block walker against any bytes: it must not
// panic and must stay within p.
func FuzzBlockAt(f *testing.F) {
	block := func(typ, n int) []byte {
		b := make([]byte, n)
		binary.LittleEndian.PutUint32(b, uint32(typ))
		binary.LittleEndian.PutUint32(b[4:], uint32(n))
		binary.LittleEndian.PutUint32(b[n-4:], uint32(n))
		return b
	}
	f.Add(append(block(6, 32), block(5, 28)...), 40)
	f.Add(block(6, 12), 3)
	f.Fuzz(func(t *testing.T, p []byte, n int) {
		if n < 0 || n > len(p) {
			return
		}
		start, end := blockAt(p, n)
		if start > n || end < n || end > len(p) || start < 0 {
			t.Fatalf("blockAt(%d bytes, %d) = %d, %d", len(p), n, start, end)
		}
		if c := countPackets(p); c < 0 || c > len(p)/12 {
			t.Fatalf("countPackets = %d for %d bytes", c, len(p))
		}
	})
}

// TestConcurrentStreams writes many connections at once through a small
// queue, so that Streams wait on each other's batches, and reads every
// byte back in place.
func TestConcurrentStreams(t *testing.T) {
	const streams, chunks = 16, 150
	var buf bytes.Buffer
	w := NewWriter(&buf, Options{QueueBytes: 256 << 10})
	want := make([]*wantConv, streams)
	var wg sync.WaitGroup
	for i := range streams {
		want[i] = &wantConv{
			client: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(50000+i)),
			server: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 1, byte(i)}), 8080),
			end:    "fin",
		}
		if i%2 == 1 {
			want[i].client = netip.AddrPortFrom(netip.IPv6Loopback(), uint16(50000+i))
			want[i].server = netip.AddrPortFrom(netip.IPv6Loopback(), 9000)
		}
		wg.Go(func() {
			c := want[i]
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			s := w.Stream()
			if err := s.Open(Conversation{Client: c.client, Server: c.server, Comment: fmt.Sprint("conn ", i)}, time.Now()); err != nil {
				t.Error(err)
				return
			}
			b := make([]byte, 40<<10)
			for range chunks {
				side := Side(rng.IntN(2))
				n := 1 + rng.IntN(len(b))
				for j := range n {
					b[j] = byte(rng.Uint32())
				}
				c.data[side] = append(c.data[side], b[:n]...)
				if err := s.Data(side, b[:n], time.Now()); err != nil {
					t.Error(err)
				}
				clear(b[:n]) // the Stream copied what it keeps
			}
			if err := s.Close(time.Now()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := readBack(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	// Conversations interleave in the file: match them by client.
	byClient := map[netip.AddrPort]*readConv{}
	for _, g := range got {
		byClient[g.client] = g
	}
	for i, c := range want {
		g := byClient[c.client]
		if g == nil {
			t.Errorf("conversation %d missing", i)
			continue
		}
		if g.comment != fmt.Sprint("conn ", i) {
			t.Errorf("conversation %d: comment %q", i, g.comment)
		}
		for side := range c.data {
			if !bytes.Equal(g.data[side], c.data[side]) {
				t.Errorf("conversation %d, %s: %d bytes read back, %d written", i, Side(side), len(g.data[side]), len(c.data[side]))
			}
		}
		if g.end != "fin" {
			t.Errorf("conversation %d ends with %q", i, g.end)
		}
	}
	if st := w.Stats(); st.Lost != 0 || st.Err != nil {
		t.Errorf("stats %+v", st)
	}
}

// TestBulkTransfer sends 12 MiB one way, more than the window (8 MiB) a
// side announces: the receiver must acknowledge as it goes, or Wireshark
// flags the window full.
func TestBulkTransfer(t *testing.T) {
	file := tempFile(t, "bulk.pcapng")
	w, err := Create(file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := w.Stream()
	c := &wantConv{
		client: netip.MustParseAddrPort("127.0.0.1:50000"),
		server: netip.MustParseAddrPort("127.0.0.1:8080"),
		end:    "fin",
	}
	must(t, s.Open(Conversation{Client: c.client, Server: c.server}, time.Now()))
	chunk := make([]byte, 32<<10)
	for i := range 12 << 5 {
		for j := range chunk {
			chunk[j] = byte(i + j)
		}
		c.data[Server] = append(c.data[Server], chunk...)
		must(t, s.Data(Server, chunk, time.Now()))
	}
	must(t, s.Close(time.Now()))
	must(t, w.Close())
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	checkBack(t, data, []*wantConv{c})
	if _, err := exec.LookPath("tshark"); err == nil {
		for _, r := range fields(t, file, "tcp.analysis.flags", "frame.number", "_ws.expert.message") {
			t.Errorf("frame %s: %s", r[0], r[1])
		}
	}
}
