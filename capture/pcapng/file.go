package pcapng

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
)

// fileWriter is the goroutine that owns a Writer's destination: only it
// touches dst, out and cut. It writes whole pcapng blocks only, so it can
// tell after a failed write where the last whole block ends.
type fileWriter struct {
	w      *Writer
	dst    io.Writer
	closer io.Closer // closed after the writer; nil for NewWriter

	ng   *pcapgo.NgWriter // the writer's own blocks: header, interface, statistics
	sink blockSink        // under ng: appends to out

	header []byte // the section header and interface blocks, which begin the file
	out    []byte // whole blocks waiting for one write(2)
	// cut is the unwritten end of the block that the destination took only
	// part of; it goes first when the destination takes writes again.
	cut      []byte
	written  int64 // bytes the destination took
	boundary int64 // where the last whole block ends in the destination
	failing  error // the current failure, nil while writing
	lastErr  error // the last failure, kept for Close's report
	start    time.Time
}

func newFileWriter(w *Writer, dst io.Writer) *fileWriter {
	fw := &fileWriter{w: w, dst: dst, out: make([]byte, 0, outSize), start: time.Now()}
	fw.sink.buf = &fw.out
	ng, err := pcapgo.NewNgWriterInterface(&fw.sink, ngInterface(), ngSection())
	if err != nil {
		panic("pcapng: " + err.Error()) // cannot happen: blockSink never fails
	}
	fw.ng = ng
	fw.flushNg()
	fw.header = append([]byte(nil), fw.out...)
	return fw
}

// flushNg moves what ng buffered into out.
func (fw *fileWriter) flushNg() {
	_ = fw.ng.Flush() // into blockSink, which never fails
}

// run writes batches until the queue is closed and drained. It writes when
// its buffer fills and every interval, not after each batch: a write(2) per
// batch would cost a syscall per relayed chunk.
func (fw *fileWriter) run(interval time.Duration) {
	defer close(fw.w.done)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case b, ok := <-fw.w.queue:
			if !ok {
				fw.finish()
				return
			}
			// The buffer goes back before the room is told: a Stream
			// that waited for room finds it on the free list.
			n := cap(*b)
			fw.take(*b)
			fw.w.putBuf(b)
			fw.w.taken(n)
		case <-tick.C:
			fw.flush()
		}
	}
}

// take writes or buffers one batch of whole blocks. A batch of half the
// buffer or more is written as it is, after what is buffered: copying it
// would cost more than the write(2) it saves.
func (fw *fileWriter) take(p []byte) {
	fw.w.packets.Add(int64(countPackets(p)))
	if len(p) >= cap(fw.out)/2 || len(fw.out)+len(p) > cap(fw.out) {
		fw.flush()
	}
	switch {
	case fw.failing != nil:
		fw.drop(p)
	case len(p) >= cap(fw.out)/2:
		fw.write(p)
	default:
		fw.out = append(fw.out, p...)
	}
}

// flush writes out, or, while the destination fails, tries it again.
func (fw *fileWriter) flush() {
	if fw.failing != nil {
		fw.retry()
	}
	if fw.failing != nil {
		fw.drop(fw.out)
	} else if len(fw.out) > 0 {
		fw.write(fw.out)
	}
	fw.out = fw.out[:0]
}

// write writes whole blocks p to the destination. On an error it keeps the
// unwritten end of the block that was cut, and drops the blocks after it.
func (fw *fileWriter) write(p []byte) {
	n, err := fw.dst.Write(p)
	fw.written += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err == nil {
		fw.boundary = fw.written
		return
	}
	start, end := blockAt(p, n)
	fw.boundary = fw.written - int64(n-start)
	fw.cut = append(fw.cut[:0], p[n:end]...)
	fw.drop(p[end:])
	fw.fail(err)
}

// retry completes the cut block, then writes an Interface Statistics Block
// that records the packets lost so far, at the time the gap ends: the
// destination took it, so it takes writes again.
func (fw *fileWriter) retry() {
	if len(fw.cut) > 0 {
		n, err := fw.dst.Write(fw.cut)
		fw.written += int64(n)
		fw.cut = fw.cut[n:]
		if err == nil && len(fw.cut) > 0 {
			err = io.ErrShortWrite
		}
		if err != nil {
			fw.fail(err)
			return
		}
		fw.boundary = fw.written
	}
	if fw.boundary < int64(len(fw.header)) {
		// The failure came before the file had its header: the rest of
		// it goes first, or nothing after it can be read.
		fw.failing = nil
		fw.write(fw.header[fw.boundary:])
		if fw.failing != nil {
			return
		}
	}
	var isb []byte
	fw.sink.buf = &isb
	fw.stats(time.Now())
	fw.sink.buf = &fw.out
	fw.failing = nil
	fw.w.failing.Store(nil)
	fw.write(isb)
}

// stats appends an Interface Statistics Block with the counts so far.
func (fw *fileWriter) stats(now time.Time) {
	received := fw.w.packets.Load()
	_ = fw.ng.WriteInterfaceStats(0, pcapgo.NgInterfaceStatistics{
		LastUpdate:      now,
		StartTime:       fw.start,
		EndTime:         now,
		PacketsReceived: uint64(received),
		PacketsDropped:  uint64(fw.w.lost.Load()),
	}) // into blockSink, which never fails
	fw.flushNg()
}

// drop counts blocks that will never reach the destination.
func (fw *fileWriter) drop(p []byte) {
	if len(p) == 0 {
		return
	}
	fw.w.lost.Add(int64(countPackets(p)))
	fw.w.lostBytes.Add(int64(len(p)))
}

func (fw *fileWriter) fail(err error) {
	err = fmt.Errorf("pcapng: writing: %w", err)
	fw.failing, fw.lastErr = err, err
	fw.w.failing.Store(&err) // its own copy: readers deref it without a lock
}

// finish writes what is left and the final statistics, and leaves no cut
// block behind if it can.
func (fw *fileWriter) finish() {
	fw.flush()
	if fw.failing == nil {
		fw.stats(time.Now())
		fw.flush()
	}
	if len(fw.cut) > 0 {
		if t, ok := fw.dst.(interface{ Truncate(int64) error }); ok {
			if err := t.Truncate(fw.boundary); err == nil {
				fw.cut = nil
			}
		}
	}
}

// result is Close's error, after finish.
func (fw *fileWriter) result() error {
	var errs []error
	if lost := fw.w.lost.Load(); lost > 0 || fw.lastErr != nil {
		errs = append(errs, fmt.Errorf("%w; %d of %d packets (%d bytes) not written", fw.lastErr, lost, fw.w.packets.Load(), fw.w.lostBytes.Load()))
		if fw.lastErr == nil {
			errs[0] = fmt.Errorf("pcapng: %d of %d packets (%d bytes) written after Close", lost, fw.w.packets.Load(), fw.w.lostBytes.Load())
		}
	}
	if len(fw.cut) > 0 {
		errs = append(errs, fmt.Errorf("pcapng: the destination ends in a cut block: its last %d bytes are not a whole block", fw.written-fw.boundary))
	}
	if fw.closer != nil {
		if err := fw.closer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("pcapng: closing: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Block types (draft-ietf-opsawg-pcapng section 4).
const blockEPB = 6 // Enhanced Packet Block

// blockAt returns the start and end of the block of p (whole blocks) that
// holds byte n; both are n when n is where a block begins or len(p).
func blockAt(p []byte, n int) (start, end int) {
	for off := 0; off+8 <= len(p); {
		l := int(binary.LittleEndian.Uint32(p[off+4:]))
		if l < 12 || off+l > len(p) {
			break // not a block: cannot happen for what this package wrote
		}
		if n == off {
			return n, n
		}
		if n < off+l {
			return off, off + l
		}
		off += l
	}
	return n, n
}

// countPackets returns how many Enhanced Packet Blocks p (whole blocks)
// holds.
func countPackets(p []byte) int {
	c := 0
	for off := 0; off+8 <= len(p); {
		l := int(binary.LittleEndian.Uint32(p[off+4:]))
		if l < 12 || off+l > len(p) {
			break
		}
		if binary.LittleEndian.Uint32(p[off:]) == blockEPB {
			c++
		}
		off += l
	}
	return c
}
