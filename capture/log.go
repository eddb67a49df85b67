package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Format selects how a Log writes events.
type Format int

const (
	JSON Format = iota // the capture file: one JSON object per line, as AppendJSON writes it
	Text               // the headless printer: one readable line per event, as AppendText writes it
)

// String returns "json" or "text".
func (f Format) String() string {
	switch f {
	case JSON:
		return "json"
	case Text:
		return "text"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// LogOptions configures a Log. The zero value gives the defaults.
type LogOptions struct {
	// QueueLen is how many flushed batches may wait for the writer before
	// Flush blocks; it bounds the memory a slow writer can hold. Batches are
	// one Flush of one stream, usually a few events. If zero, 256 is used.
	QueueLen int
	// QueueBytes bounds the bytes of encoded events waiting for the
	// writer, whatever their number: one batch can be a whole 16 MiB
	// message. A batch larger than the bound still goes when the queue is
	// empty. If zero, 64 MiB is used.
	QueueBytes int64
	// FlushInterval is the longest that written events may wait in the
	// writer's buffer before they reach the destination. If zero, 100ms
	// is used.
	FlushInterval time.Duration
}

// ErrClosed is returned by a Stream's Flush after its Log was closed.
var ErrClosed = errors.New("capture: log closed")

// Sizes of the log's buffers.
const (
	writeBufferSize = 64 << 10 // the bufio.Writer on the destination
	streamBufSize   = 4 << 10  // a fresh stream buffer
	maxPooledBuf    = 1 << 20  // buffers grown past this are left to the GC
)

// Log is an Output that encodes events in one Format and writes them to an
// io.Writer from one goroutine. It is lossless and bounded: each Stream
// encodes into its own buffer, Flush queues the buffer for the writer, and a
// full queue makes Flush wait, so a slow destination slows the connections
// instead of dropping events or growing memory.
//
// A write error (a full disk) is kept: Flush and Close report it, and the
// writer goes on draining the queue without writing, counting the bytes
// lost, so that no connection waits forever.
//
// Log is safe for concurrent use; each of its Streams is used by one
// goroutine at a time.
type Log struct {
	format Format
	queue  chan *[]byte
	done   chan struct{} // closed when the writer goroutine has returned
	closer io.Closer     // closed by Close after the writer; nil for NewLog
	pool   sync.Pool     // of *[]byte with length 0

	mu     sync.RWMutex // held for reading while sending on queue, for writing to close it
	closed bool         // queue is closed; under mu

	// The byte bound of the queue. queued is read without a lock on the
	// fast path; a sender over the bound waits on room, which the writer
	// signals after each batch while anyone waits.
	maxQueued int64
	queued    atomic.Int64
	waiters   atomic.Int32
	roomMu    sync.Mutex
	room      *sync.Cond

	err  atomic.Pointer[error] // the first write error, set once by the writer
	lost atomic.Int64          // bytes of events that never reached the destination

	closeOnce sync.Once
	closeErr  error
}

// NewLog returns a Log writing to w in format f and starts its writer
// goroutine. Call Close to stop it; Close does not close w.
func NewLog(w io.Writer, f Format, opt LogOptions) *Log {
	if opt.QueueLen <= 0 {
		opt.QueueLen = 256
	}
	if opt.FlushInterval <= 0 {
		opt.FlushInterval = 100 * time.Millisecond
	}
	if opt.QueueBytes <= 0 {
		opt.QueueBytes = 64 << 20
	}
	l := &Log{
		format:    f,
		queue:     make(chan *[]byte, opt.QueueLen),
		done:      make(chan struct{}),
		maxQueued: opt.QueueBytes,
	}
	l.room = sync.NewCond(&l.roomMu)
	l.pool.New = func() any {
		b := make([]byte, 0, streamBufSize)
		return &b
	}
	lw := &logWriter{l: l, dst: countingWriter{w: w}}
	lw.bw = bufio.NewWriterSize(&lw.dst, writeBufferSize)
	go lw.run(opt.FlushInterval)
	return l
}

// NewFileLog opens path for appending, creating it with mode 0600 because a
// capture may hold credentials, and returns a Log writing to it in format
// f with the default LogOptions. Its Close closes the file.
func NewFileLog(path string, f Format) (*Log, error) {
	file, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	l := NewLog(file, f, LogOptions{})
	l.closer = file
	return l, nil
}

// Stream returns a new Stream for one connection's events.
func (l *Log) Stream() Stream {
	return &logStream{l: l}
}

// Err returns the first write error, or nil.
func (l *Log) Err() error {
	if p := l.err.Load(); p != nil {
		return *p
	}
	return nil
}

// Lost returns how many bytes of encoded events did not reach the
// destination because of a write error or a Flush after Close.
func (l *Log) Lost() int64 {
	return l.lost.Load()
}

// Close writes out everything queued, flushes, stops the writer goroutine
// and, for NewFileLog, closes the file. It returns the first write error,
// with the number of bytes lost. Events that Streams have not flushed yet
// are not written: close the Streams first. Close may be called more than
// once; later calls return the same error.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		close(l.queue)
		l.mu.Unlock()
		<-l.done
		if err := l.Err(); err != nil {
			l.closeErr = fmt.Errorf("%w; %d bytes of events lost", err, l.Lost())
		}
		if l.closer != nil {
			if err := l.closer.Close(); err != nil && l.closeErr == nil {
				l.closeErr = fmt.Errorf("capture: closing log: %w", err)
			}
		}
	})
	return l.closeErr
}

// send queues b for the writer, waiting while the queue is full.
func (l *Log) send(b *[]byte) error {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		l.lost.Add(int64(len(*b)))
		l.putBuf(b)
		return ErrClosed
	}
	n := int64(len(*b))
	if l.queued.Load()+n > l.maxQueued {
		l.waitRoom(n)
	}
	l.queued.Add(n)
	l.queue <- b
	l.mu.RUnlock()
	return l.Err()
}

// waitRoom waits until n more bytes fit in the queue, or the queue is
// empty.
func (l *Log) waitRoom(n int64) {
	l.roomMu.Lock()
	l.waiters.Add(1)
	for q := l.queued.Load(); q > 0 && q+n > l.maxQueued; q = l.queued.Load() {
		l.room.Wait()
	}
	l.waiters.Add(-1)
	l.roomMu.Unlock()
}

// taken tells waiting senders that the writer took n bytes off the queue.
func (l *Log) taken(n int) {
	l.queued.Add(-int64(n))
	if l.waiters.Load() > 0 {
		l.roomMu.Lock()
		l.room.Broadcast()
		l.roomMu.Unlock()
	}
}

func (l *Log) getBuf() *[]byte {
	return l.pool.Get().(*[]byte)
}

func (l *Log) putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	l.pool.Put(b)
}

// logStream is a Log's Stream: it encodes into its own buffer and hands the
// buffer over on Flush.
type logStream struct {
	l   *Log
	buf *[]byte // nil until the first Add after a Flush
}

func (s *logStream) Add(ev *Event) {
	if s.buf == nil {
		s.buf = s.l.getBuf()
	}
	if s.l.format == Text {
		*s.buf = ev.AppendText(*s.buf)
	} else {
		*s.buf = ev.AppendJSON(*s.buf)
	}
}

func (s *logStream) Flush() error {
	if s.buf == nil || len(*s.buf) == 0 {
		if s.l.isClosed() {
			return ErrClosed
		}
		return s.l.Err()
	}
	b := s.buf
	s.buf = nil
	return s.l.send(b)
}

func (s *logStream) Close() {
	s.Flush()
	if s.buf != nil {
		s.l.putBuf(s.buf)
		s.buf = nil
	}
}

func (l *Log) isClosed() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.closed
}

// logWriter is the goroutine that owns a Log's destination: only it
// touches bw and dst.
type logWriter struct {
	l   *Log
	dst countingWriter
	bw  *bufio.Writer
	in  int64 // bytes taken from the queue
	err error // the first write error
}

// run writes batches until the queue is closed and drained. It flushes
// every interval (and when the buffer fills, and at the end), not after each
// batch: a write(2) per batch would cost a syscall per relayed chunk, which
// is what makes a busy proxy slow, while a reader of the file or the
// terminal cannot tell 100 ms apart.
func (w *logWriter) run(interval time.Duration) {
	defer close(w.l.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case b, ok := <-w.l.queue:
			if !ok {
				w.flush()
				return
			}
			w.l.taken(len(*b))
			w.write(*b)
			w.l.putBuf(b)
		case <-tick.C:
			w.flush()
		}
	}
}

func (w *logWriter) write(p []byte) {
	w.in += int64(len(p))
	if w.err != nil {
		w.l.lost.Add(int64(len(p)))
		return
	}
	if _, err := w.bw.Write(p); err != nil {
		w.fail(err)
	}
}

func (w *logWriter) flush() {
	if w.err != nil || w.bw.Buffered() == 0 {
		return
	}
	if err := w.bw.Flush(); err != nil {
		w.fail(err)
	}
}

// fail records the first write error: what was taken in and not written so
// far is lost, and so is everything after it.
func (w *logWriter) fail(err error) {
	w.err = fmt.Errorf("capture: writing log: %w", err)
	w.l.lost.Add(w.in - w.dst.n)
	w.l.err.Store(&w.err)
}

// countingWriter counts the bytes its writer accepted.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
