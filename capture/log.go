package capture

import (
	"bytes"
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

// append appends e in format f; tt as for appendJSON.
func (f Format) append(dst []byte, e *Event, tt *timeText) []byte {
	if f == Text {
		return e.AppendText(dst)
	}
	return e.appendJSON(dst, tt)
}

// LogOptions configures a Log. The zero value gives the defaults.
type LogOptions struct {
	// QueueLen is how many flushed batches may wait for the writer before
	// Flush blocks; it bounds the memory a slow writer can hold. Batches are
	// one Flush of one stream, usually a few events. If zero, 256 is used.
	QueueLen int
	// QueueBytes bounds the bytes of encoded events waiting for the
	// writer, whatever their number. A Stream hands over what it encoded
	// before it passes 1 MiB (or QueueBytes when smaller), and an event
	// whose encoding would pass that alone (a 16 MiB message of control
	// characters is 96 MiB of JSON) is not encoded ahead at all: the
	// writer encodes it piece by piece into the destination while the
	// Stream waits. If zero, 64 MiB is used.
	QueueBytes int64
	// FlushInterval is the longest that written events may wait in the
	// writer's buffer before they reach the destination. If zero, 100ms
	// is used.
	FlushInterval time.Duration
	// RetryInterval is how often a destination that failed (a full disk)
	// is tried again. If zero, 1s is used.
	RetryInterval time.Duration
}

// ErrClosed is returned by a Stream's Flush after its Log was closed.
var ErrClosed = errors.New("capture: log closed")

// Sizes of the log's buffers.
const (
	writeBufferSize = 64 << 10 // the writer's buffer of whole lines
	streamBufSize   = 4 << 10  // a fresh stream buffer
	maxBatch        = 1 << 20  // a stream hands its buffer over before it passes this
	maxPooledBuf    = 2 << 20  // buffers grown past this are left to the GC
)

// Health is a snapshot of a Log for a status line. Safe to call from any goroutine.
type Health struct {
	Written int64     // events written to the destination so far
	Lost    int64     // events that could not be written (a write error, a full disk) since the Log started
	Err     error     // the write error in force now; nil while writing works (again)
	Since   time.Time // when Err began; zero when Err is nil
}

// Log is an Output that encodes events in one Format and writes them to an
// io.Writer from one goroutine. It is lossless and bounded: each Stream
// encodes into its own buffer, Flush queues the buffer for the writer, and a
// full queue makes Flush wait, so a slow destination slows the connections
// instead of dropping events or growing memory.
//
// A write error (a full disk) does not stop it. The lines the destination
// took whole stay; a line it took in part is cut off again (truncated, for
// a regular file), so the destination holds whole lines only. While the
// error lasts, the writer goes on draining the queue without writing,
// counting the events as lost, so that no connection waits on a dead disk
// and memory stays bounded; Flush returns the error. Every RetryInterval it
// tries the destination again, and once it takes a line, writing resumes
// with a gap event that records how many events were lost and since when.
// Health reports all of it at any time, HealthChanged when it changes.
//
// Log is safe for concurrent use; each of its Streams is used by one
// goroutine at a time.
type Log struct {
	format   Format
	maxBatch int // a stream hands over its buffer before it passes this
	queue    chan item
	done     chan struct{} // closed when the writer goroutine has returned
	changed  chan struct{} // HealthChanged; closed with done
	closer   io.Closer     // closed by Close after the writer; nil for NewLog
	pool     sync.Pool     // of *[]byte with length 0

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

	// Health, set by the writer (lost also by senders after Close).
	written atomic.Int64
	lost    atomic.Int64
	failure atomic.Pointer[failure] // nil while writing works
	lastErr error                   // the last write error; the writer's, read by Close after done

	closeOnce sync.Once
	closeErr  error
}

// failure is a write error in force.
type failure struct {
	err   error
	since time.Time
}

// item is what a Stream queues for the writer: a batch of encoded lines,
// or one event too large to encode ahead, which the writer encodes into
// the destination itself while the sender waits on done.
type item struct {
	buf  *[]byte // whole lines; nil for ev
	ev   *Event
	done chan struct{} // receives when the writer is done with ev
}

// NewLog returns a Log writing to w in format f and starts its writer
// goroutine. Call Close to stop it; Close does not close w. When w is an
// *os.File on a regular file, a line cut by a failed write is truncated
// away; on other destinations (a pipe, a terminal) the cut line is ended by
// a newline when writing resumes, so that the gap event and what follows
// start on lines of their own.
func NewLog(w io.Writer, f Format, opt LogOptions) *Log {
	if opt.QueueLen <= 0 {
		opt.QueueLen = 256
	}
	if opt.FlushInterval <= 0 {
		opt.FlushInterval = 100 * time.Millisecond
	}
	if opt.RetryInterval <= 0 {
		opt.RetryInterval = time.Second
	}
	if opt.QueueBytes <= 0 {
		opt.QueueBytes = 64 << 20
	}
	l := &Log{
		format:    f,
		maxBatch:  int(min(maxBatch, opt.QueueBytes)),
		queue:     make(chan item, opt.QueueLen),
		done:      make(chan struct{}),
		changed:   make(chan struct{}, 1),
		maxQueued: opt.QueueBytes,
	}
	l.room = sync.NewCond(&l.roomMu)
	l.pool.New = func() any {
		b := make([]byte, 0, streamBufSize)
		return &b
	}
	lw := &logWriter{l: l, dst: w, buf: make([]byte, 0, writeBufferSize), retry: opt.RetryInterval}
	if file, ok := w.(*os.File); ok {
		if st, err := file.Stat(); err == nil && st.Mode().IsRegular() {
			lw.file = file
		}
	}
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

// Health returns the Log's counts and the write error in force.
func (l *Log) Health() Health {
	h := Health{Written: l.written.Load(), Lost: l.lost.Load()}
	if f := l.failure.Load(); f != nil {
		h.Err, h.Since = f.err, f.since
	}
	return h
}

// HealthChanged returns a channel that receives when writing starts to
// fail or resumes; read Health then. Changes close together are told once.
// The channel is closed when the Log's writer has stopped (after Close).
func (l *Log) HealthChanged() <-chan struct{} {
	return l.changed
}

// err returns the write error in force, or nil.
func (l *Log) err() error {
	if f := l.failure.Load(); f != nil {
		return f.err
	}
	return nil
}

// Close writes out everything queued, flushes, stops the writer goroutine
// and, for NewFileLog, closes the file. When events were lost to write
// errors it returns the last write error, with the number of events lost,
// even if writing had resumed since. Events that Streams have not flushed
// yet are not written: close the Streams first. Close may be called more
// than once; later calls return the same error.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		close(l.queue)
		l.mu.Unlock()
		<-l.done
		if l.lastErr != nil {
			h := l.Health()
			if h.Err != nil {
				l.closeErr = fmt.Errorf("%w; %d events lost", h.Err, h.Lost)
			} else {
				l.closeErr = fmt.Errorf("capture: %d events lost to write errors, recorded by gap events (the last: %w)", h.Lost, l.lastErr)
			}
		}
		if l.closer != nil {
			if err := l.closer.Close(); err != nil && l.closeErr == nil {
				l.closeErr = fmt.Errorf("capture: closing log: %w", err)
			}
		}
	})
	return l.closeErr
}

// send queues it for the writer, waiting while the queue is full. It
// returns the write error in force, or ErrClosed.
func (l *Log) send(it item) error {
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		if it.buf != nil {
			l.lost.Add(lines(*it.buf))
			l.putBuf(it.buf)
		} else {
			l.lost.Add(1)
		}
		return ErrClosed
	}
	var n int64
	if it.buf != nil {
		n = int64(len(*it.buf))
	}
	if n > 0 && l.queued.Load()+n > l.maxQueued {
		l.waitRoom(n)
	}
	l.queued.Add(n)
	l.queue <- it
	l.mu.RUnlock()
	return l.err()
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

func (l *Log) isClosed() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.closed
}

// lines counts the lines in p: each event is one line, in both formats.
func lines(p []byte) int64 {
	return int64(bytes.Count(p, newline))
}

var newline = []byte{'\n'}
