package capture

// logStream is a Log's Stream: it encodes into its own buffer and hands the
// buffer over on Flush, or before the buffer passes the Log's maxBatch.
type logStream struct {
	l    *Log
	buf  *[]byte       // nil until the first Add after a hand-over
	done chan struct{} // where the writer says it is done with a large event; made on first use
	time timeText      // the text of the last event's time
}

// Add encodes ev into the stream's buffer. An event whose encoding could
// pass the Log's maxBatch on its own is not encoded here: Add queues what
// came before it, then the event itself for the writer to encode straight
// into the destination, and waits until the writer is done with it (ev's
// slices are valid only during Add). Like Flush, that wait is the
// backpressure of a slow destination.
func (s *logStream) Add(ev *Event) {
	n := ev.encodedBound(s.l.format, s.l.maxBatch)
	if n > s.l.maxBatch {
		s.handOver()
		s.addLarge(ev)
		return
	}
	if s.buf != nil && len(*s.buf)+n > s.l.maxBatch {
		s.handOver()
	}
	if s.buf == nil {
		s.buf = s.l.getBuf()
	}
	*s.buf = s.l.format.append(*s.buf, ev, &s.time)
}

// handOver queues what the stream has encoded. An error (the Log closed,
// or failing) is the next Flush's to report: Flush looks at both.
func (s *logStream) handOver() {
	if s.buf == nil || len(*s.buf) == 0 {
		return
	}
	b := s.buf
	s.buf = nil
	s.l.send(item{buf: b})
}

// addLarge has the writer encode ev and waits until it has.
func (s *logStream) addLarge(ev *Event) {
	if s.done == nil {
		s.done = make(chan struct{}, 1)
	}
	if s.l.send(item{ev: ev, done: s.done}) == ErrClosed {
		return
	}
	<-s.done
}

func (s *logStream) Flush() error {
	if s.buf == nil || len(*s.buf) == 0 {
		if s.l.isClosed() {
			return ErrClosed
		}
		return s.l.err()
	}
	b := s.buf
	s.buf = nil
	return s.l.send(item{buf: b})
}

func (s *logStream) Close() {
	s.Flush()
	if s.buf != nil {
		s.l.putBuf(s.buf)
		s.buf = nil
	}
}

// encodedFixed is room for everything of an encoding but its strings and
// bytes: field names, numbers, times, and the text format's previews (80
// characters of up to 10 bytes each once escaped, 32 bytes in hex).
const encodedFixed = 2 << 10

// encodedBound returns at least the length of e's encoding in format f,
// cheaply: six bytes for each byte of a string or header (the most either
// format's escaping makes of one, as \u0000 or \ufffd) plus encodedFixed.
// The body or payload counts in JSON only (text shows a preview); when
// counting it at six bytes a byte would pass limit, it is measured exactly
// instead (up to where it passes limit), so that a 1 MiB binary message,
// which base64 makes 1.33 MiB, is not taken for 6 MiB. The result is then
// exact or over limit.
func (e *Event) encodedBound(f Format, limit int) int {
	n := len(e.Kind) + len(e.From) + len(e.Client) + len(e.Server) + len(e.Mode) + len(e.Err) +
		len(e.WSClosedBy) + len(e.Method) + len(e.Target) + len(e.Host) + len(e.Proto) +
		len(e.StatusText) + len(e.Protocol) + len(e.Subprotocol) + len(e.Extensions) + len(e.Op) +
		len(e.Reason) + len(e.Msg) + len(e.Scheme) + len(e.Side) + len(e.SNI) + len(e.ALPN) +
		len(e.Version) + len(e.Cipher) + len(e.Subject) + len(e.Issuer) +
		len(e.DecodeErr) + // issue 13
		e.EIO.strLen() // issue 10, Socket.IO
	for i := range e.Headers {
		n += len(e.Headers[i][0]) + len(e.Headers[i][1]) + 2 // 12 bytes for `["",""],`
	}
	for i := range e.Trailers {
		n += len(e.Trailers[i][0]) + len(e.Trailers[i][1]) + 2
	}
	n = encodedFixed + 6*n
	if f == Text {
		return n
	}
	if rough := n + 6*(len(e.Body)+len(e.Payload)+len(e.DecodedBody)); rough <= limit {
		return rough
	}
	n += e.content().encodedLen(limit - n)
	if n > limit {
		return n
	}
	return n + e.decodedContent().encodedLen(limit-n)
}
