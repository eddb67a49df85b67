package pcapng

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// flakyFile is a real file that fills up like a disk: a Write past limit
// bytes writes what fits and fails with ENOSPC, and so does every Write
// after it, until heal.
type flakyFile struct {
	mu       sync.Mutex
	f        *os.File
	n, limit int64 // limit < 0: no limit
}

func (w *flakyFile) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.limit >= 0 && w.n+int64(len(p)) > w.limit {
		n, _ := w.f.Write(p[:max(0, w.limit-w.n)])
		w.n += int64(n)
		return n, &os.PathError{Op: "write", Path: w.f.Name(), Err: syscall.ENOSPC}
	}
	n, err := w.f.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *flakyFile) Truncate(size int64) error { return w.f.Truncate(size) }

func (w *flakyFile) heal() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.limit = -1
}

func newFlaky(t *testing.T, limit int64) (*flakyFile, string) {
	t.Helper()
	path := tempFile(t, "flaky.pcapng")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return &flakyFile{f: f, limit: limit}, path
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// blocks walks a pcapng file and returns its blocks' types, failing the
// test if the file does not end on a block boundary, and the drop counts
// (isb_ifdrop) of its Interface Statistics Blocks.
func blocks(t *testing.T, data []byte) (types []uint32, drops []uint64) {
	t.Helper()
	off := 0
	for off < len(data) {
		if off+12 > len(data) {
			t.Fatalf("%d bytes after the last block", len(data)-off)
		}
		typ := binary.LittleEndian.Uint32(data[off:])
		l := int(binary.LittleEndian.Uint32(data[off+4:]))
		if l < 12 || off+l > len(data) || binary.LittleEndian.Uint32(data[off+l-4:]) != uint32(l) {
			t.Fatalf("cut or damaged block at %d (type %d, length %d, file %d bytes)", off, typ, l, len(data))
		}
		types = append(types, typ)
		if typ == 5 { // ISB: interface id, timestamp, then options
			for o := off + 20; o+4 <= off+l-4; {
				code := binary.LittleEndian.Uint16(data[o:])
				n := int(binary.LittleEndian.Uint16(data[o+2:]))
				if code == 0 {
					break
				}
				if code == 5 { // isb_ifdrop
					drops = append(drops, binary.LittleEndian.Uint64(data[o+4:]))
				}
				o += 4 + (n+3)&^3
			}
		}
		off += l
	}
	return types, drops
}

// TestWriteErrorResume fills the disk in the middle of a block, writes on
// while it is full, then frees space: the file must have no cut block,
// the block that was cut must be whole, a statistics block must count
// the packets lost, Wireshark must mark the hole in the TCP stream, and
// what came after the disk recovered must be there.
func TestWriteErrorResume(t *testing.T) {
	needTshark(t)
	req, resp := exchange(t, "/before")
	req2, resp2 := exchange(t, "/after")
	dst, path := newFlaky(t, 3000) // past the handshake, in the response's segments
	w := NewWriter(dst, Options{FlushInterval: 5 * time.Millisecond})
	s := w.Stream()
	now := time.Now()
	must(t, s.Open(Conversation{Client: netip.MustParseAddrPort("127.0.0.1:40000"), Server: netip.MustParseAddrPort("127.0.0.1:80")}, now))
	must(t, s.Data(Client, req, now))
	must(t, s.Data(Server, append(resp, bytes.Repeat([]byte("x"), 4000)...), now)) // a response past the limit
	waitFor(t, "the write error", func() bool { return w.Stats().Err != nil })
	if err := w.Stats().Err; !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Stats().Err = %v, want ENOSPC", err)
	}
	lostBefore := w.Stats().Lost
	err := s.Data(Client, []byte("lost while the disk is full"), now)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Data while failing returned %v, want the failure", err)
	}
	waitFor(t, "the writer to drop the packet", func() bool { return w.Stats().Lost > lostBefore })
	lostWhileFull := w.Stats().Lost
	dst.heal()
	waitFor(t, "the writer to resume", func() bool { return w.Stats().Err == nil })
	must(t, s.Data(Client, req2, now))
	must(t, s.Data(Server, resp2, now))
	must(t, s.Close(now))
	err = w.Close()
	st := w.Stats()
	if err == nil || !strings.Contains(err.Error(), "not written") || !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close returned %v, want the lost packets and the write error", err)
	}
	if st.Lost == 0 || st.Lost != lostWhileFull {
		t.Errorf("%d packets lost, %d when the disk recovered", st.Lost, lostWhileFull)
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	types, drops := blocks(t, data)
	if len(drops) != 2 || drops[0] != uint64(lostWhileFull) || drops[1] != uint64(st.Lost) {
		t.Errorf("statistics blocks count %v packets dropped, want [%d %d]", drops, lostWhileFull, st.Lost)
	}
	epbs := 0
	for _, typ := range types {
		if typ == blockEPB {
			epbs++
		}
	}
	if int64(epbs) != st.Packets-st.Lost {
		t.Errorf("%d packets in the file, want %d written of %d", epbs, st.Packets-st.Lost, st.Packets)
	}

	// Wireshark reads it all, sees the requests before and after, and
	// flags the hole once, where it is.
	got := fields(t, path, "http.request", "http.request.uri")
	if len(got) != 2 || got[0][0] != "/before" || got[1][0] != "/after" {
		t.Errorf("requests %q, want /before and /after", got)
	}
	lost := 0
	for _, p := range packets(t, path) {
		if strings.Contains(p.expert, "Previous segment(s) not captured") {
			lost++
		}
	}
	if lost == 0 {
		t.Error("Wireshark does not see the hole")
	}
}

// TestWriteErrorAtStart fills the disk before the file has its header
// (the section header block is cut): when the disk frees, the header is
// completed before anything else, so the file can be read.
func TestWriteErrorAtStart(t *testing.T) {
	needTshark(t)
	req, resp := exchange(t, "/late")
	dst, path := newFlaky(t, 10)
	w := NewWriter(dst, Options{FlushInterval: 5 * time.Millisecond})
	s := w.Stream()
	now := time.Now()
	must(t, s.Open(Conversation{Client: netip.MustParseAddrPort("127.0.0.1:40000"), Server: netip.MustParseAddrPort("127.0.0.1:80")}, now))
	waitFor(t, "the write error", func() bool { return w.Stats().Err != nil })
	dst.heal()
	waitFor(t, "the writer to resume", func() bool { return w.Stats().Err == nil })
	must(t, s.Data(Client, req, now))
	must(t, s.Data(Server, resp, now))
	must(t, s.Close(now))
	if err := w.Close(); err == nil {
		t.Error("Close reported no loss")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	types, _ := blocks(t, data)
	if len(types) < 3 || types[0] != 0x0a0d0d0a || types[1] != 1 {
		t.Fatalf("blocks %v: want a section header, an interface, then the rest", types)
	}
	if got := fields(t, path, "http.request", "http.request.uri"); len(got) != 1 || got[0][0] != "/late" {
		t.Errorf("requests %q, want /late", got)
	}
}

// TestWriteErrorClose closes a Writer whose disk is still full after a
// write cut a block: Close must cut the file back to its last whole
// block, and say what was lost.
func TestWriteErrorClose(t *testing.T) {
	needTshark(t)
	req, resp := exchange(t, "/cut")
	dst, path := newFlaky(t, 2000)
	w := NewWriter(dst, Options{FlushInterval: 5 * time.Millisecond})
	s := w.Stream()
	now := time.Now()
	must(t, s.Open(Conversation{Client: netip.MustParseAddrPort("[::1]:40000"), Server: netip.MustParseAddrPort("[::1]:80")}, now))
	must(t, s.Data(Client, req, now))
	s.Data(Server, append(resp, bytes.Repeat([]byte("y"), 3000)...), now)
	s.Close(now)
	err := w.Close()
	if err == nil || !errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), "cut block") {
		t.Errorf("Close returned %v, want the write error and no cut block", err)
	}
	data, rerr := os.ReadFile(path)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if len(data) >= 2000 {
		t.Errorf("file of %d bytes: the cut block is still there", len(data))
	}
	blocks(t, data)
	packets(t, path) // tshark reads it without complaint
}

// TestDevFull writes to /dev/full, where every write fails.
func TestDevFull(t *testing.T) {
	w, err := Create("/dev/full", Options{FlushInterval: time.Millisecond})
	if err != nil {
		t.Skip("no /dev/full:", err)
	}
	s := w.Stream()
	now := time.Now()
	must(t, s.Open(Conversation{Client: netip.MustParseAddrPort("127.0.0.1:1"), Server: netip.MustParseAddrPort("127.0.0.1:2")}, now))
	waitFor(t, "the write error", func() bool { return w.Stats().Err != nil })
	if err := s.Data(Client, []byte("x"), now); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Data returned %v, want ENOSPC", err)
	}
	s.Close(now)
	err = w.Close()
	st := w.Stats()
	if !errors.Is(err, syscall.ENOSPC) || st.Lost != st.Packets || st.Packets != 3+1+4 {
		t.Errorf("Close: %v; stats %+v, want all 8 packets lost", err, st)
	}
	if err := s.Open(Conversation{}, now); !errors.Is(err, ErrClosed) {
		t.Errorf("Open after Close returned %v, want ErrClosed", err)
	}
	if got := w.Stats().Lost; got != st.Lost+3 {
		t.Errorf("packets after Close not counted as lost: %d, want %d", got, st.Lost+3)
	}
}

// gateWriter blocks every Write until release is closed, like a disk
// that has stalled.
type gateWriter struct {
	release chan struct{}
	buf     bytes.Buffer
}

func (w *gateWriter) Write(p []byte) (int, error) {
	<-w.release
	return w.buf.Write(p)
}

// TestBackpressure shows that a stalled destination makes Data wait once
// the queue holds QueueBytes, instead of queueing without bound or
// dropping, and that everything is written once it moves again.
func TestBackpressure(t *testing.T) {
	const queueBytes, chunks = 1 << 20, 200
	dst := &gateWriter{release: make(chan struct{})}
	w := NewWriter(dst, Options{QueueBytes: queueBytes})
	s := w.Stream()
	want := &wantConv{client: netip.MustParseAddrPort("127.0.0.1:40000"), server: netip.MustParseAddrPort("127.0.0.1:80"), end: "fin"}
	must(t, s.Open(Conversation{Client: want.client, Server: want.server}, time.Now()))
	chunk := bytes.Repeat([]byte("z"), 32<<10)
	var done atomic.Int64
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for range chunks {
			if err := s.Data(Server, chunk, time.Now()); err != nil {
				t.Error(err)
			}
			done.Add(1)
		}
		s.Close(time.Now())
	}()
	// Wait until the producer stops making progress.
	last := int64(-1)
	for deadline := time.Now().Add(10 * time.Second); ; {
		time.Sleep(20 * time.Millisecond)
		got := done.Load()
		if got == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Data never blocked on a stalled writer: %d returned", got)
		}
		last = got
	}
	select {
	case <-finished:
		t.Fatal("all Data calls returned while the writer was stalled")
	default:
	}
	// Held at most: the queue's bound in batches (one per chunk), one
	// batch in the writer's hands, and one let in over the bound.
	if bound := int64(queueBytes/newBufSize + 2); last > bound {
		t.Errorf("%d chunks returned while stalled, want at most %d", last, bound)
	}
	close(dst.release)
	<-finished
	must(t, w.Close())
	for range chunks {
		want.data[Server] = append(want.data[Server], chunk...)
	}
	checkBack(t, dst.buf.Bytes(), []*wantConv{want})
}
