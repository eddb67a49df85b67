package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// seqEvent returns the n-th event of stream conn; Len carries n so that
// order can be checked on the way back.
func seqEvent(conn uint64, n int) *Event {
	if n%2 == 0 {
		return &Event{Kind: KindFrame, Conn: conn, Time: time.Now(), From: "client", Fin: true, Opcode: 1, Len: int64(n)}
	}
	return &Event{Kind: KindMessage, Conn: conn, Time: time.Now(), From: "server", Op: "text", Frames: 1, Len: int64(n), Payload: []byte(fmt.Sprint("message ", n))}
}

func TestLogConcurrentStreams(t *testing.T) {
	const goroutines, streamsEach, events = 16, 4, 500
	path := filepath.Join(t.TempDir(), "capture.jsonl")
	l, err := NewFileLog(path, JSON)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			streams := make([]Stream, streamsEach)
			for i := range streams {
				streams[i] = l.Stream()
			}
			// Interleave the goroutine's streams, flushing after 1 to 7 events.
			for n := range events {
				for i, s := range streams {
					s.Add(seqEvent(uint64(g*streamsEach+i), n))
					if (n+i)%(1+(g+i)%7) == 0 {
						if err := s.Flush(); err != nil {
							t.Error(err)
						}
					}
				}
			}
			for _, s := range streams {
				s.Close()
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("capture file mode = %v, want 0600", got)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	next := map[uint64]int64{}
	r := NewReader(f)
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if want := next[ev.Conn]; ev.Len != want {
			t.Fatalf("line %d: stream %d event %d, want %d", r.Line(), ev.Conn, ev.Len, want)
		}
		next[ev.Conn]++
	}
	if len(next) != goroutines*streamsEach {
		t.Errorf("read %d streams, want %d", len(next), goroutines*streamsEach)
	}
	for conn, n := range next {
		if n != events {
			t.Errorf("stream %d: %d events, want %d", conn, n, events)
		}
	}
}

func TestNewFileLogAppends(t *testing.T) {
	path := filepath.Join(t.TempDir(), "capture.jsonl")
	for i := range 2 {
		l, err := NewFileLog(path, JSON)
		if err != nil {
			t.Fatal(err)
		}
		s := l.Stream()
		s.Add(seqEvent(uint64(i), 0))
		s.Close()
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Count(b, []byte("\n")); got != 2 {
		t.Errorf("after two runs the file has %d lines, want 2:\n%s", got, b)
	}
	if _, err := NewFileLog(filepath.Join(t.TempDir(), "no", "such", "dir"), JSON); err == nil {
		t.Error("NewFileLog in a missing directory: nil error")
	}
}

// gateWriter blocks every Write until release is closed, like a disk that
// has stalled.
type gateWriter struct {
	release chan struct{}
	mu      sync.Mutex
	buf     bytes.Buffer
}

func (w *gateWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// TestLogBackpressure shows that a stalled writer makes Flush block once
// its buffer and the queue are full, instead of queueing without bound.
func TestLogBackpressure(t *testing.T) {
	const queue, flushes = 4, 2000 // 2000 events are well over the 64 KiB buffer
	w := &gateWriter{release: make(chan struct{})}
	l := NewLog(w, JSON, LogOptions{QueueLen: queue})
	s := l.Stream()
	var done atomic.Int64
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for n := range flushes {
			s.Add(seqEvent(1, n))
			if err := s.Flush(); err != nil {
				t.Error(err)
			}
			done.Add(1)
		}
	}()

	// Wait until the producer stops making progress.
	last := int64(-1)
	for deadline := time.Now().Add(5 * time.Second); ; {
		time.Sleep(20 * time.Millisecond)
		got := done.Load()
		if got == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Flush never blocked on a stalled writer: %d returned", got)
		}
		last = got
	}
	select {
	case <-finished:
		t.Fatal("all Flushes returned while the writer was stalled")
	default:
	}
	// What the writer can hold: its 64 KiB buffer, one batch in hand, and
	// the queue.
	batch := len(seqEvent(1, 1000).AppendJSON(nil))
	if bound := int64(writeBufferSize/batch + 1 + queue + 1); last > bound {
		t.Errorf("%d Flushes returned while the writer was stalled, want at most %d", last, bound)
	}

	close(w.release)
	<-finished
	s.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := bytes.Count(w.buf.Bytes(), []byte("\n")); got != flushes {
		t.Errorf("wrote %d events, want %d", got, flushes)
	}
}

// TestLogQueueBytes shows that the queue is bounded in bytes too: big
// batches (whole messages) block Flush long before the batch count is
// reached, so a stalled disk cannot make the log hold QueueLen × 22 MiB.
func TestLogQueueBytes(t *testing.T) {
	const queueBytes, flushes = 1 << 20, 40
	w := &gateWriter{release: make(chan struct{})}
	l := NewLog(w, JSON, LogOptions{QueueLen: 256, QueueBytes: queueBytes})
	s := l.Stream()
	big := &Event{Kind: KindMessage, Conn: 1, Time: t0, From: "server", Op: "binary", Frames: 1, Len: 200 << 10, WireLen: 200 << 10, Payload: bytes.Repeat([]byte{7}, 200<<10)}
	batch := int64(len(big.AppendJSON(nil)))
	var done atomic.Int64
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for range flushes {
			s.Add(big)
			if err := s.Flush(); err != nil {
				t.Error(err)
			}
			done.Add(1)
		}
	}()
	last := int64(-1)
	for deadline := time.Now().Add(5 * time.Second); ; {
		time.Sleep(20 * time.Millisecond)
		got := done.Load()
		if got == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Flush never blocked: %d returned", got)
		}
		last = got
	}
	// Held at most: one batch in the writer's hands (stalled in Write) and
	// queueBytes in the queue (plus the one that may exceed it).
	if bound := 1 + queueBytes/batch + 1; last > bound {
		t.Errorf("%d batches of %d bytes returned while stalled, want at most %d (QueueBytes %d)", last, batch, bound, queueBytes)
	}
	close(w.release)
	<-finished
	s.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := bytes.Count(w.buf.Bytes(), []byte("\n")); got != flushes {
		t.Errorf("wrote %d events, want %d", got, flushes)
	}
}

// slowWriter sleeps on every Write, like a slow disk.
type slowWriter struct {
	delay time.Duration
	n     atomic.Int64
}

func (w *slowWriter) Write(p []byte) (int, error) {
	time.Sleep(w.delay)
	w.n.Add(int64(len(p)))
	return len(p), nil
}

// TestLogSlowWriter checks that the producer's pace drops to the writer's.
func TestLogSlowWriter(t *testing.T) {
	w := &slowWriter{delay: 5 * time.Millisecond}
	l := NewLog(w, JSON, LogOptions{QueueLen: 2})
	s := l.Stream()
	start := time.Now()
	var total int
	for n := range 20 {
		ev := seqEvent(1, 2*n+1)                       // a message
		ev.Payload = bytes.Repeat([]byte("x"), 70<<10) // over the 64 KiB buffer: one Write each
		s.Add(ev)
		total += len(ev.AppendJSON(nil))
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	// 20 writes of 5ms, less the ones the queue and the writer hold.
	if elapsed := time.Since(start); elapsed < 70*time.Millisecond {
		t.Errorf("20 Flushes onto a 5ms writer took %v: they did not wait", elapsed)
	}
	s.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := w.n.Load(); got != int64(total) {
		t.Errorf("wrote %d bytes, want %d", got, total)
	}
}

// fullDisk accepts limit bytes, then fails like a full disk.
type fullDisk struct {
	limit int
	n     int
	data  []byte
}

func (w *fullDisk) Write(p []byte) (int, error) {
	if w.n+len(p) <= w.limit {
		w.n += len(p)
		w.data = append(w.data, p...)
		return len(p), nil
	}
	k := w.limit - w.n
	w.n = w.limit
	w.data = append(w.data, p[:k]...)
	return k, &os.PathError{Op: "write", Path: "capture.jsonl", Err: syscall.ENOSPC}
}

func TestLogWriteError(t *testing.T) {
	const goroutines, events = 8, 2000
	w := &fullDisk{limit: 100 << 10}
	l := NewLog(w, JSON, LogOptions{QueueLen: 2, RetryInterval: time.Millisecond})
	var sawErr atomic.Int64
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			s := l.Stream()
			for n := range events {
				s.Add(seqEvent(uint64(g), n))
				if err := s.Flush(); err != nil {
					if !errors.Is(err, syscall.ENOSPC) {
						t.Errorf("Flush: %v, want ENOSPC", err)
					}
					sawErr.Add(1)
				}
			}
			s.Close()
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("streams blocked after a write error")
	}
	err := l.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Close: %v, want ENOSPC", err)
	}
	if sawErr.Load() == 0 {
		t.Error("no Flush reported the write error")
	}
	h := l.Health()
	if !strings.Contains(err.Error(), fmt.Sprintf("%d events lost", h.Lost)) {
		t.Errorf("Close error %q does not say what was lost (%d events)", err, h.Lost)
	}
	if got, want := h.Written+h.Lost, int64(goroutines*events); got != want {
		t.Errorf("written %d + lost %d = %d events, want %d", h.Written, h.Lost, got, want)
	}
	if h.Err == nil || h.Since.IsZero() {
		t.Errorf("Health after a lasting error: %+v, want Err and Since set", h)
	}
	// The disk never came back: what it holds is whole lines, as many as
	// Health says were written, then the start of the line that failed
	// (fullDisk cannot be truncated).
	if got := int64(bytes.Count(w.data[:w.n], []byte("\n"))); got != h.Written {
		t.Errorf("destination holds %d lines, Health says %d written", got, h.Written)
	}
	if err2 := l.Close(); err2 != err {
		t.Errorf("second Close: %v, want %v", err2, err)
	}
}

func TestLogFlushAfterClose(t *testing.T) {
	var buf bytes.Buffer
	l := NewLog(&buf, JSON, LogOptions{})
	s := l.Stream()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("empty Flush after Close: %v, want ErrClosed", err)
	}
	ev := seqEvent(1, 0)
	s.Add(ev)
	s.Add(ev)
	if err := s.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush after Close: %v, want ErrClosed", err)
	}
	s.Close()
	if got := l.Health().Lost; got != 2 {
		t.Errorf("Health().Lost = %d, want 2", got)
	}
	if buf.Len() != 0 {
		t.Errorf("wrote %q after Close", buf.Bytes())
	}
}

// syncBuffer is a bytes.Buffer safe to read while the writer writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestLogWritesWithoutClose checks that flushed events reach the
// destination promptly, not only at Close.
func TestLogWritesWithoutClose(t *testing.T) {
	var buf syncBuffer
	l := NewLog(&buf, Text, LogOptions{})
	defer l.Close()
	s := l.Stream()
	s.Add(&Event{Kind: KindError, Conn: 9, Time: t0, Msg: "boom"})
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "19:51:02.123456 #9 error    boom\n"
	deadline := time.Now().Add(5 * time.Second)
	for buf.String() != want {
		if time.Now().After(deadline) {
			t.Fatalf("after 5s the destination holds %q, want %q", buf.String(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestStreamAddAllocs checks that a stream in steady state encodes
// without allocating.
func TestStreamAddAllocs(t *testing.T) {
	l := NewLog(io.Discard, JSON, LogOptions{})
	defer l.Close()
	s := l.Stream().(*logStream)
	ev := messageEvent()
	s.Add(ev)
	if n := testing.AllocsPerRun(100, func() { s.Add(ev) }); n != 0 {
		t.Errorf("Add: %v allocations, want 0", n)
	}
}

func BenchmarkLog(b *testing.B) {
	for _, perFlush := range []int{1, 8} {
		b.Run(fmt.Sprintf("%d_events_per_flush", perFlush), func(b *testing.B) {
			l := NewLog(io.Discard, JSON, LogOptions{})
			var streamID atomic.Uint64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				s := l.Stream()
				frame, msg := frameEvent(), messageEvent()
				frame.Conn, msg.Conn = streamID.Add(1), frame.Conn
				n := 0
				for pb.Next() {
					if n%2 == 0 {
						s.Add(frame)
					} else {
						s.Add(msg)
					}
					if n++; n%perFlush == 0 {
						s.Flush()
					}
				}
				s.Close()
			})
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
