package capture

import (
	"bytes"
	"crypto/sha256"
	"hash"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// heapProbe is a destination that hashes what it gets and reads the heap
// in use every few writes, from the writer goroutine, while the Log works.
type heapProbe struct {
	h      hash.Hash
	n      int64
	writes int
	peak   uint64
}

func (p *heapProbe) Write(b []byte) (int, error) {
	p.h.Write(b)
	p.n += int64(len(b))
	if p.writes%8 == 0 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		p.peak = max(p.peak, ms.HeapInuse)
	}
	p.writes++
	return len(b), nil
}

// TestLogLargeEventMemory proves the bound for one huge event: a 16 MiB
// text message of control characters escapes to 96 MiB of JSON, and the
// Log must not hold that encoding (nor a large part of it) at any time.
func TestLogLargeEventMemory(t *testing.T) {
	const size = 16 << 20
	ev := &Event{Kind: KindMessage, Conn: 1, Time: t0, From: "client", Op: "text", Frames: 1, Len: size, WireLen: size,
		Payload: bytes.Repeat([]byte{0x01}, size)}
	probe := &heapProbe{h: sha256.New()}
	l := NewLog(probe, JSON, LogOptions{})
	s := l.Stream()
	s.Add(&Event{Kind: KindOpen, Conn: 1, Time: t0, Client: "127.0.0.1:1", Mode: "reverse"})

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse // the payload and the Log, before the event is added

	s.Add(ev)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&ms)
	peak := max(probe.peak, ms.HeapInuse)
	grew := int64(peak) - int64(base)
	t.Logf("wrote %d MiB of JSON in %d writes; heap in use grew by %d KiB at most", probe.n>>20, probe.writes, grew>>10)
	// The writer's 64 KiB buffer, a few stream buffers, and the
	// runtime's own: far below one MiB in practice; 4 MiB leaves room
	// for the GC's timing.
	if grew > 4<<20 {
		t.Errorf("heap in use grew by %d MiB while writing one 16 MiB message (96 MiB of JSON), want under 4 MiB", grew>>20)
	}

	// And the capture is exactly the two events, as AppendJSON writes them.
	// (Built from blocks: a second 96 MiB AppendJSON would take half a
	// minute under the race detector. TestContentPieces and
	// TestLogLargeEventsInOrder compare pieces with AppendJSON itself.)
	want := sha256.New()
	n, _ := want.Write((&Event{Kind: KindOpen, Conn: 1, Time: t0, Client: "127.0.0.1:1", Mode: "reverse"}).AppendJSON(nil))
	k, _ := want.Write(ev.appendJSONHead(nil, nil))
	n += k
	k, _ = want.Write([]byte(`,"text":"`))
	n += k
	block := bytes.Repeat([]byte(`\u0001`), 1<<10)
	for range size / (1 << 10) {
		k, _ = want.Write(block)
		n += k
	}
	k, _ = want.Write([]byte("\"}\n"))
	n += k
	if probe.n != int64(n) || !bytes.Equal(probe.h.Sum(nil), want.Sum(nil)) {
		t.Errorf("destination got %d bytes that differ from the %d of the two events' JSON", probe.n, n)
	}
}

// TestLogLargeEventsInOrder mixes huge events, which the writer encodes
// itself, with small ones, from several streams at once: every line must
// be whole, each stream's events in order, and each huge event exactly
// as AppendJSON writes it.
func TestLogLargeEventsInOrder(t *testing.T) {
	const streams, events = 2, 10
	var out syncBuffer
	l := NewLog(&out, JSON, LogOptions{QueueLen: 4})
	// 512 KiB of text with controls and 2-, 3- and 4-byte characters (1.1
	// MiB of JSON), which the writer cuts between characters; 900 KiB of
	// binary (1.2 MiB of base64), cut at multiples of 3 bytes.
	text := bytes.Repeat([]byte("\x01\"\n\x1f\x02é€😀"), 512<<10/14)
	binary := bytes.Repeat([]byte{0xff, 0, 7}, 900<<10/3+1)
	big := func(conn uint64, n int) *Event {
		ev := seqEvent(conn, n)
		switch n % 10 {
		case 3:
			ev.Kind, ev.Op, ev.Payload = KindMessage, "text", text
		case 7:
			ev.Kind, ev.Op, ev.Payload = KindMessage, "binary", binary
		}
		return ev
	}
	for _, n := range []int{3, 7} {
		if ev := big(0, n); ev.encodedBound(JSON, maxBatch) <= maxBatch {
			t.Fatalf("event %d is not large: %d bytes at most", n, ev.encodedBound(JSON, maxBatch))
		}
	}
	var wg sync.WaitGroup
	for g := range streams {
		wg.Go(func() {
			s := l.Stream()
			for n := range events {
				s.Add(big(uint64(g), n))
				if n%3 == 0 {
					s.Flush()
				}
			}
			s.Close()
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	next := map[uint64]int{}
	r := NewReader(bytes.NewReader([]byte(out.String())))
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n := next[ev.Conn]
		if ev.Len != int64(n) {
			t.Fatalf("line %d: stream %d event %d, want %d", r.Line(), ev.Conn, ev.Len, n)
		}
		if want := big(ev.Conn, n); !bytes.Equal(ev.Payload, want.Payload) {
			t.Fatalf("line %d: payload of %d bytes differs from the %d sent", r.Line(), len(ev.Payload), len(want.Payload))
		}
		next[ev.Conn]++
	}
	for g := range streams {
		if next[uint64(g)] != events {
			t.Errorf("stream %d: %d events, want %d", g, next[uint64(g)], events)
		}
	}
}

// TestLogLargeEventBackpressure: a huge event waits for the writer (Add
// blocks while the destination is stalled) and loses nothing.
func TestLogLargeEventBackpressure(t *testing.T) {
	w := &gateWriter{release: make(chan struct{})}
	l := NewLog(w, JSON, LogOptions{})
	s := l.Stream()
	ev := &Event{Kind: KindMessage, Conn: 1, Time: t0, From: "server", Op: "binary", Payload: bytes.Repeat([]byte{9}, 4<<20)}
	added := make(chan struct{})
	go func() {
		s.Add(ev)
		close(added)
	}()
	select {
	case <-added:
		t.Fatal("Add of a 4 MiB event returned while the destination was stalled")
	case <-time.After(100 * time.Millisecond):
	}
	close(w.release)
	<-added
	s.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.buf.Bytes(), ev.AppendJSON(nil)) {
		t.Errorf("destination holds %d bytes, want the event's %d", w.buf.Len(), len(ev.AppendJSON(nil)))
	}
}

// TestStreamHandsOverAtMaxBatch: a stream that is not flushed does not
// grow its buffer past maxBatch: it hands it over first.
func TestStreamHandsOverAtMaxBatch(t *testing.T) {
	var out syncBuffer
	l := NewLog(&out, JSON, LogOptions{})
	s := l.Stream().(*logStream)
	ev := &Event{Kind: KindMessage, Conn: 1, Time: t0, From: "server", Op: "binary", Payload: bytes.Repeat([]byte{9}, 100<<10)}
	for range 50 { // 50 × 133 KiB of base64, no Flush
		s.Add(ev)
		if s.buf != nil && len(*s.buf) > maxBatch {
			t.Fatalf("stream buffer holds %d bytes, over maxBatch %d", len(*s.buf), maxBatch)
		}
	}
	s.Close()
	l.Close()
	if got := bytes.Count([]byte(out.String()), []byte("\n")); got != 50 {
		t.Errorf("wrote %d events, want 50", got)
	}
}

// TestEncodedBound checks encodedBound's promise, in both formats, for
// random events and for large contents: a result within the limit is at
// least the real length (over the limit, it only says "large").
func TestEncodedBound(t *testing.T) {
	r := newRand()
	check := func(e *Event) {
		t.Helper()
		for _, f := range []Format{JSON, Text} {
			got := len(f.append(nil, e, nil))
			for _, limit := range []int{0, 2500, 5000, 20000, maxBatch, 1 << 30} {
				if bound := e.encodedBound(f, limit); bound <= limit && got > bound {
					t.Fatalf("%s of a %s event: %d bytes, bound %d within limit %d", f, e.Kind, got, bound, limit)
				}
			}
		}
	}
	for i := range 5000 {
		check(randEvent(r, allKinds[i%len(allKinds)]))
	}
	for _, p := range [][]byte{bytes.Repeat([]byte{0}, 300<<10), bytes.Repeat([]byte{0xff}, 300<<10), bytes.Repeat([]byte("😀"), 100<<10)} {
		check(&Event{Kind: KindMessage, Op: "text", Payload: p})
		check(&Event{Kind: KindResponse, Body: p, Truncated: true})
	}
}

// encodePieces encodes e's content as the writer does for a large event,
// in pieces of at most max bytes.
func encodePieces(e *Event, max int) []byte {
	dst := e.appendJSONHead(nil, nil)
	for _, c := range [...]content{e.content(), e.decodedContent()} {
		if c.field == "" {
			continue
		}
		dst = c.appendOpen(dst)
		for p := c.p; len(p) > 0; {
			n := c.chunk(p, max)
			dst = c.appendValue(dst, p[:n])
			p = p[n:]
		}
		dst = append(dst, '"')
	}
	return e.appendJSONTail(dst)
}

func TestContentPieces(t *testing.T) {
	r := newRand()
	for i := range 3000 {
		e := randEvent(r, allKinds[i%len(allKinds)])
		for _, max := range []int{4, 5, 6, 7, 64} {
			if got, want := encodePieces(e, max), e.AppendJSON(nil); !bytes.Equal(got, want) {
				t.Fatalf("in pieces of %d:\n%s\nwhole:\n%s", max, got, want)
			}
		}
	}
}

// FuzzContentPieces: any payload, cut in pieces of any size the writer
// may use, encodes as AppendJSON encodes it whole; and escapedLen is the
// length appendEscaped makes. Run: go test -fuzz FuzzContentPieces ./capture
func FuzzContentPieces(f *testing.F) {
	f.Add([]byte("hello \"world\"\n"), uint16(4), true)
	f.Add([]byte("é€😀\x00\x1f\xff"), uint16(5), true)
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6}, uint16(7), false)
	f.Fuzz(func(t *testing.T, p []byte, max uint16, text bool) {
		if max < 4 {
			max = 4
		}
		e := &Event{Kind: KindMessage, Op: "binary", Payload: p}
		if text {
			e.Op = "text"
		}
		if got, want := encodePieces(e, int(max)), e.AppendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("in pieces of %d:\n%q\nwhole:\n%q", max, got, want)
		}
		want := len(appendEscaped(nil, p))
		if got := escapedLen(p, want); got != want {
			t.Fatalf("escapedLen(%q) = %d, want %d", p, got, want)
		}
		if got := escapedLen(p, int(max)); (got > int(max)) != (want > int(max)) {
			t.Fatalf("escapedLen(%q, %d) = %d, want over the limit exactly when %d is", p, max, got, want)
		}
		if !utf8.Valid(p) && text && !bytes.Contains(e.AppendJSON(nil), []byte(`"data":`)) {
			t.Fatal("invalid UTF-8 text not written as data")
		}
	})
}
