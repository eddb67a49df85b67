package capture

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"
)

// largeChunk is how many bytes of a large event's body or payload the
// writer encodes at a time: at most 48 KiB once escaped.
const largeChunk = 8 << 10

// logWriter is the goroutine that owns a Log's destination: only it
// touches dst, file and buf, and it alone sets the Log's health.
type logWriter struct {
	l    *Log
	dst  io.Writer
	file *os.File // dst, when it is a regular file: a cut line is truncated away
	buf  []byte   // lines waiting for dst: whole ones, and while encodeLarge runs the start of one

	// off counts the bytes dst took, lineEnd the bytes up to the last
	// '\n' among them. off > lineEnd means that dst ends in part of a line:
	// one encodeLarge is writing, or one a failed write cut.
	off, lineEnd int64

	retry   time.Duration
	err     error     // the write error in force; nil while writing works
	since   time.Time // when err began
	gapLost int64     // events lost since err began
	nextTry time.Time // when to try dst again while err is set
}

// run writes what the queue brings until it is closed and drained. It
// flushes every interval (and when the buffer fills, and at the end), not
// after each batch: a write(2) per batch would cost a syscall per relayed
// chunk, which is what makes a busy proxy slow, while a reader of the file
// or the terminal cannot tell 100 ms apart. While writing fails, it tries
// the destination again every retry interval.
func (w *logWriter) run(interval time.Duration) {
	defer close(w.l.done)
	defer close(w.l.changed)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case it, ok := <-w.l.queue:
			if !ok {
				w.flush()
				if w.err != nil {
					w.resume() // a last try, which records the gap if the disk is back
				}
				return
			}
			if w.err != nil && !time.Now().Before(w.nextTry) {
				w.resume()
			}
			if it.buf != nil {
				w.l.taken(len(*it.buf))
				w.put(*it.buf)
				w.l.putBuf(it.buf)
			} else {
				w.encodeLarge(it.ev)
				it.done <- struct{}{}
			}
		case <-tick.C:
			w.flush()
			if w.err != nil && !time.Now().Before(w.nextTry) {
				w.resume()
			}
		}
	}
}

// put writes the whole lines p: into buf, or straight to dst when they do
// not fit in it. While writing fails they are lost.
func (w *logWriter) put(p []byte) {
	if w.err != nil {
		w.lose(lines(p))
		return
	}
	if len(w.buf)+len(p) > cap(w.buf) {
		w.flush()
		if w.err != nil {
			w.lose(lines(p))
			return
		}
		if len(p) >= cap(w.buf) {
			w.write(p)
			return
		}
	}
	w.buf = append(w.buf, p...)
}

// flush writes buf out.
func (w *logWriter) flush() {
	if len(w.buf) == 0 {
		return
	}
	if w.err != nil {
		w.lose(lines(w.buf))
	} else {
		w.write(w.buf)
	}
	w.buf = w.buf[:0]
}

// encodeLarge encodes ev into buf piece by piece, writing buf out whenever
// it fills, so that ev's encoding never exists whole: a 16 MiB message of
// control characters, 96 MiB of JSON, costs the writer's 64 KiB buffer.
// Only the body or payload can be that large; the rest of an event is
// bounded by the decoder's limit on a message head.
func (w *logWriter) encodeLarge(ev *Event) {
	if w.err != nil {
		w.lose(1)
		return
	}
	if w.l.format == Text { // a text line shows a preview of the payload only
		w.buf = ev.AppendText(w.buf)
		return
	}
	w.buf = ev.appendJSONHead(w.buf, nil)
	for _, c := range [...]content{ev.content(), ev.decodedContent()} {
		if c.field == "" {
			continue
		}
		w.buf = c.appendOpen(w.buf)
		for p := c.p; len(p) > 0; {
			if len(w.buf)+6*largeChunk > cap(w.buf) {
				w.flush()
				if w.err != nil {
					w.lose(1) // its start, if written, was cut off again
					return
				}
			}
			n := c.chunk(p, largeChunk)
			w.buf = c.appendValue(w.buf, p[:n])
			p = p[n:]
		}
		w.buf = append(w.buf, '"')
	}
	w.buf = ev.appendJSONTail(w.buf)
}

// write writes p to dst: lines, the last of which may be the start of one
// (encodeLarge). On an error, the lines dst took whole count as written,
// the others as lost, and a line dst took in part is cut off again.
func (w *logWriter) write(p []byte) {
	n, err := w.writeRaw(p)
	w.l.written.Add(lines(p[:n]))
	if err != nil {
		w.lose(lines(p[n:]))
		w.fail(err)
	}
}

// writeRaw writes p to dst and keeps off and lineEnd.
func (w *logWriter) writeRaw(p []byte) (int, error) {
	n, err := w.dst.Write(p)
	n = max(0, min(n, len(p)))
	if n > 0 {
		if i := bytes.LastIndexByte(p[:n], '\n'); i >= 0 {
			w.lineEnd = w.off + int64(i) + 1
		}
		w.off += int64(n)
	}
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	return n, err
}

// lose counts k events that will never be written.
func (w *logWriter) lose(k int64) {
	w.l.lost.Add(k)
	w.gapLost += k
}

// fail makes err the write error in force: it cuts off a line dst took in
// part, and tells whoever watches when writing was working until now.
func (w *logWriter) fail(err error) {
	w.cutBack()
	now := time.Now()
	w.err = fmt.Errorf("capture: writing log: %w", err)
	w.l.lastErr = w.err
	w.nextTry = now.Add(w.retry)
	starts := w.since.IsZero()
	if starts {
		w.since = now
	}
	w.l.failure.Store(&failure{err: w.err, since: w.since})
	if starts {
		w.notify()
	}
}

// cutBack truncates a regular file back to its last whole line. Other
// destinations keep the cut line: resume ends it with a newline.
func (w *logWriter) cutBack() {
	cut := w.off - w.lineEnd
	if cut == 0 || w.file == nil {
		return
	}
	// The file offset is where the last write ended, with O_APPEND or
	// without (stdout redirected with >).
	pos, err := w.file.Seek(0, io.SeekCurrent)
	if err != nil || pos < cut {
		return
	}
	if w.file.Truncate(pos-cut) != nil {
		return
	}
	if _, err := w.file.Seek(pos-cut, io.SeekStart); err != nil {
		return
	}
	w.off = w.lineEnd
}

// resume tries dst again with the gap event, after a newline that ends a
// cut line dst still holds. If dst takes it whole, writing works again.
func (w *logWriter) resume() {
	now := time.Now()
	w.nextTry = now.Add(w.retry)
	line := w.buf[:0]
	if w.off > w.lineEnd {
		line = append(line, '\n')
	}
	gap := Event{Kind: KindGap, Time: now, Lost: w.gapLost, Since: w.since, Msg: w.err.Error()}
	line = w.l.format.append(line, &gap, nil)
	_, err := w.writeRaw(line)
	w.buf = line[:0]
	if err != nil {
		w.fail(err)
		return
	}
	w.err, w.since, w.gapLost = nil, time.Time{}, 0
	w.l.failure.Store(nil)
	w.notify()
}

// notify tells HealthChanged's reader, without waiting for it.
func (w *logWriter) notify() {
	select {
	case w.l.changed <- struct{}{}:
	default:
	}
}
