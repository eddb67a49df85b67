package pcapng

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Writer. The zero value gives the defaults.
type Options struct {
	// QueueBytes bounds the memory of the batches of encoded packets
	// waiting for the writer goroutine (the capacity of their buffers,
	// 40 KiB or more each): past it, Stream calls wait (backpressure). A
	// batch larger than the bound still goes when the queue is empty. If
	// zero, 16 MiB is used.
	QueueBytes int64
	// FlushInterval is the longest that packets wait in the writer's
	// buffer before they reach the destination, and how often a failing
	// destination is tried again. If zero, 100ms is used.
	FlushInterval time.Duration
}

// ErrClosed is returned by a Stream's calls after its Writer was closed.
var ErrClosed = errors.New("pcapng: writer closed")

// Sizes of the writer's buffers.
const (
	queueLen     = 1024     // batches in the queue, whatever their size
	newBufSize   = 40 << 10 // a batch buffer: room for batchMax and one more packet
	outSize      = 64 << 10 // the writer goroutine's buffer: one write(2) per this much
	maxPooledBuf = 1 << 20  // batch buffers grown past this are left to the GC
)

// Writer writes connections as a pcapng file (draft-ietf-opsawg-pcapng)
// from one goroutine that owns the destination. It is lossless and
// bounded: each Stream encodes its packets into its own batch, the batch
// goes into a queue bounded in bytes, and a full queue makes the Stream
// wait, so a slow disk slows the connections instead of dropping packets
// or growing memory.
//
// A write error (a full disk) does not stop the connections: while the
// destination fails, the writer drops what comes, counts it (Stats), and
// tries the destination again every FlushInterval. It never leaves a cut
// block: the unwritten end of a block the destination took only part of is
// written first when the destination accepts writes again, followed by an
// Interface Statistics Block whose isb_ifdrop counts the packets lost so
// far; and Close truncates a file back to its last whole block if the
// destination still fails. The sequence numbers of the conversations go on
// over the lost bytes, so Wireshark marks each hole ("previous segment not
// captured") where it is.
//
// Writer is safe for concurrent use; each of its Streams is used by one
// goroutine at a time.
type Writer struct {
	queue chan *[]byte
	free  chan *[]byte  // emptied batch buffers, for getBuf
	done  chan struct{} // closed when the writer goroutine has returned
	fw    *fileWriter
	convs atomic.Uint64 // conversations opened, for their initial sequence numbers

	mu     sync.RWMutex // held for reading while sending on queue, for writing to close it
	closed bool         // under mu

	// The byte bound of the queue, as in capture.Log: queued is read
	// without a lock on the fast path; a sender over the bound waits on
	// room, which the writer signals after each batch while anyone waits.
	maxQueued int64
	queued    atomic.Int64
	waiters   atomic.Int32
	roomMu    sync.Mutex
	room      *sync.Cond

	failing   atomic.Pointer[error] // the error the destination fails with now, nil while it writes
	packets   atomic.Int64          // packets the Streams encoded
	lost      atomic.Int64          // of them, not written
	lostBytes atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

// NewWriter writes a pcapng section header and interface description to w
// and returns a Writer for it, with its writer goroutine started. Call
// Close to stop it; Close does not close w. If w has a method
// Truncate(int64) error (an *os.File), Close uses it to cut a failed write
// back to the last whole block.
func NewWriter(w io.Writer, opt Options) *Writer {
	if opt.QueueBytes <= 0 {
		opt.QueueBytes = 16 << 20
	}
	if opt.FlushInterval <= 0 {
		opt.FlushInterval = 100 * time.Millisecond
	}
	pw := &Writer{
		queue:     make(chan *[]byte, queueLen),
		free:      make(chan *[]byte, queueLen),
		done:      make(chan struct{}),
		maxQueued: opt.QueueBytes,
	}
	pw.room = sync.NewCond(&pw.roomMu)
	pw.fw = newFileWriter(pw, w)
	go pw.fw.run(opt.FlushInterval)
	return pw
}

// Create creates or truncates the file path, with mode 0600 because it
// holds decrypted traffic, and returns a Writer for it with opt. Its Close
// closes the file.
func Create(path string, opt Options) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pcapng: %w", err)
	}
	w := NewWriter(f, opt)
	w.fw.closer = f
	return w, nil
}

// Stream returns a new Stream for one client connection. It holds nothing
// until its first Open.
func (w *Writer) Stream() *Stream {
	return &Stream{w: w}
}

// Stats says how a Writer fares.
type Stats struct {
	Packets   int64 // packets the Streams wrote that the writer took so far
	Lost      int64 // of them, packets that did not reach the destination: write errors, or written after Close
	LostBytes int64 // the bytes of the blocks that did not reach the destination
	// Err is the error the destination fails with now, or nil while it
	// takes writes: after a failure the writer resumes by itself.
	Err error
}

// Stats returns the Writer's counts and its current failure.
func (w *Writer) Stats() Stats {
	return Stats{
		Packets:   w.packets.Load(),
		Lost:      w.lost.Load(),
		LostBytes: w.lostBytes.Load(),
		Err:       w.failure(),
	}
}

func (w *Writer) failure() error {
	if p := w.failing.Load(); p != nil {
		return *p
	}
	return nil
}

// status is what Stream calls return: ErrClosed or the current failure.
func (w *Writer) status() error {
	if w.isClosed() {
		return ErrClosed
	}
	return w.failure()
}

func (w *Writer) isClosed() bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return w.closed
}

// Close writes out everything queued and an Interface Statistics Block
// with the counts, flushes, stops the writer goroutine and, for Create,
// closes the file. It returns an error if any packet was lost, saying how
// many and why. Close the Streams first: a conversation still open ends
// without FIN, a call during Close may wait for it, and calls after it
// return ErrClosed, their packets counted as lost. Close may be called
// more than once; later calls return the same error.
func (w *Writer) Close() error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		close(w.queue)
		w.mu.Unlock()
		<-w.done
		w.closeErr = w.fw.result()
	})
	return w.closeErr
}

// send queues a batch for the writer, waiting while the queue is full. It
// takes b: b must not be used afterwards.
func (w *Writer) send(b *[]byte) error {
	if len(*b) == 0 {
		w.putBuf(b)
		return w.status()
	}
	w.mu.RLock()
	if w.closed {
		w.mu.RUnlock()
		n := int64(countPackets(*b))
		w.packets.Add(n)
		w.lost.Add(n)
		w.lostBytes.Add(int64(len(*b)))
		w.putBuf(b)
		return ErrClosed
	}
	n := int64(cap(*b))
	if w.queued.Load()+n > w.maxQueued {
		w.waitRoom(n)
	}
	w.queued.Add(n)
	w.queue <- b
	w.mu.RUnlock()
	return w.failure()
}

// waitRoom waits until n more bytes fit in the queue, or the queue is
// empty.
func (w *Writer) waitRoom(n int64) {
	w.roomMu.Lock()
	w.waiters.Add(1)
	for q := w.queued.Load(); q > 0 && q+n > w.maxQueued; q = w.queued.Load() {
		w.room.Wait()
	}
	w.waiters.Add(-1)
	w.roomMu.Unlock()
}

// taken tells waiting senders that the writer took n bytes off the queue.
func (w *Writer) taken(n int) {
	w.queued.Add(-int64(n))
	if w.waiters.Load() > 0 {
		w.roomMu.Lock()
		w.room.Broadcast()
		w.roomMu.Unlock()
	}
}

// getBuf returns an empty batch buffer: one the writer gave back, or a
// new one. The free list is a channel rather than a sync.Pool because
// batches cross goroutines (a Stream fills them, the writer empties them)
// and a pool drops its contents at every garbage collection. Buffers are
// allocated only while the queue grows past what it held before: the list
// keeps them all, so a Writer holds at most the memory its queue may hold
// (QueueBytes) in buffers, and a relay in a steady state allocates none.
func (w *Writer) getBuf() *[]byte {
	select {
	case b := <-w.free:
		return b
	default:
		b := make([]byte, 0, newBufSize)
		return &b
	}
}

// putBuf gives an emptied batch buffer back, unless it grew too big to
// keep or the list is full.
func (w *Writer) putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	select {
	case w.free <- b:
	default:
	}
}
