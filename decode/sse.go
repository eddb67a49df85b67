package decode

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Errors of the Server-Sent Events parser. Each is reported at most once
// per stream, wrapped with where it happened; the bytes are relayed
// unchanged whatever the parser thinks of them.
var (
	// ErrSSETooLarge reports a line longer than the parser keeps (the
	// body bound, Config.MaxBody), or an event whose data, id or event
	// type is longer than it keeps. The rest is counted, not kept, and the
	// events it cut say Truncated.
	ErrSSETooLarge = errors.New("sse line too long")
	// ErrSSEUTF8 reports a stream that is not UTF-8. As the spec says
	// ("Streams must be decoded using the UTF-8 decode algorithm"), what
	// is kept of data, ids and event types is decoded with each invalid
	// sequence replaced by U+FFFD, which is what an EventSource sees.
	ErrSSEUTF8 = errors.New("sse stream not UTF-8")
	// ErrSSECutShort reports a stream that ended inside an event that had
	// data: the spec discards it ("If the file ends in the middle of an
	// event, before the final empty line, the incomplete event is not
	// dispatched").
	ErrSSECutShort = errors.New("sse event cut short")
)

// sseValueMax bounds what is kept of an id, event type or retry value.
const sseValueMax = 4096

// SSEEvent is one event dispatched by a text/event-stream body, by the
// rules of WHATWG HTML section 9.2.6, "Interpreting an event stream".
//
// Data and ID are valid only during the call that receives the event: copy
// what you keep. A block of lines that dispatches no event (only comments,
// only retry or id, no data field) gives no SSEEvent; SSEStats counts it.
//
// Len is the block's bytes on the wire: from the first byte after the
// blank line that ended the block before it (or after the stream's BOM)
// through the line end of the blank line that dispatched it, every line
// end counted as sent (CRLF is 2 bytes) and comment and unknown field
// lines included. The Len of all events, the bytes of blocks that
// dispatched nothing, a leading BOM and the unfinished block at the end
// add up to the body's length. So that Len does not depend on how the
// bytes were split, an event whose blank line ends in a CR is dispatched
// when the next byte says whether an LF belongs to that line end, or when
// the body ends.
type SSEEvent struct {
	Event     string // the event type: "message" when the block set none or an empty one
	Data      []byte // the data fields joined with LF: the first Config.MaxBody bytes, decoded as UTF-8
	DataLen   int64  // length of the whole data on the wire; Data is shorter when Truncated, and longer when invalid UTF-8 became U+FFFD
	ID        []byte // the id the block set, when HasID (it may be empty)
	HasID     bool   // the block set an id: an id field without U+0000 NULL
	Retry     int64  // the reconnection time the block set, in milliseconds
	HasRetry  bool   // the block had a retry field of ASCII digits only
	Truncated bool   // Data, ID or Event was cut at its bound (ErrSSETooLarge)
	Comments  int    // comment lines in the block
	Len       int64  // bytes of the block on the wire, as defined above
	Offset    int64  // where the block starts in the body (after de-chunking)
}

// SSEStats counts what a text/event-stream body carried so far.
type SSEStats struct {
	Bytes      int64 // body bytes fed
	Events     int64 // dispatched events
	EventBytes int64 // the sum of their Len
	Comments   int64 // comment lines, in all blocks
	Ignored    int64 // blocks that dispatched no event (no data field)
	Retry      int64 // the last reconnection time set, in milliseconds; -1 when none
}

// sseSink receives what an sseStream decodes, from the goroutine that
// feeds it.
type sseSink interface {
	sseEvent(*SSEEvent)
	sseError(error)
}

// sseState is where an sseStream is in its bytes.
type sseState uint8

const (
	sseBOM        sseState = iota // the stream's first bytes: maybe a BOM
	sseLineStart                  // at the first byte of a line
	sseName                       // in a field name
	sseValueStart                 // right after the colon: one space is skipped
	sseValue                      // in a field value
	sseSkip                       // in a comment, or the value of a field that is ignored
	sseAfterCR                    // a CR ended a line: an LF right after belongs to it
)

// sseField is a field name the spec gives a meaning to.
type sseField uint8

const (
	sseOther sseField = iota
	sseData
	sseEventType
	sseID
	sseRetry
)

var (
	sseBOMBytes = [3]byte{0xEF, 0xBB, 0xBF}
	sseLF       = []byte{'\n'}
)

// sseStream parses one text/event-stream body as it streams, in any split.
// It keeps at most max bytes of an event's data and sseValueMax of each id,
// event type and retry value, whatever the line lengths. It is not safe for
// concurrent use.
type sseStream struct {
	sink  sseSink
	max   int
	state sseState
	bomN  int // bytes of a BOM matched at the stream's start

	// The line.
	name     [5]byte // the field name so far; a longer name is no known field
	nameN    int
	field    sseField
	lineLen  int64
	val      []byte // the value of an id, event or retry field
	valLen   int64
	nul      bool // the value has a U+0000 NULL
	nonDigit bool // the value has a byte other than an ASCII digit
	blankCR  bool // a CR ended a blank line: dispatch once the next byte says whether an LF follows

	// The block: the event buffers of the spec.
	data       []byte
	dataLen    int64 // with the LF after each data field
	evType     []byte
	id         []byte
	hasID      bool
	retry      int64
	hasRetry   bool
	truncated  bool
	comments   int
	blockLen   int64
	blockStart int64

	off        int64 // bytes fed so far
	stats      SSEStats
	ev         SSEEvent
	lastType   string // the last event type handed out, so that a repeated one is not allocated again
	utf8       utf8Stream
	badUTF8    bool // ErrSSEUTF8 was reported: kept text is decoded with replacement
	chunkValid bool // the chunk being scanned was checked whole: its pieces need not be
	longSaid   bool // ErrSSETooLarge was reported
	ended      bool
	fixData    []byte // scratch for decoding with replacement
	fixID      []byte
	fixEvType  []byte
}

// newSSEStream returns a parser that reports to sink and keeps at most max
// bytes of an event's data (a Conn passes Config.maxBody()).
func newSSEStream(max int, sink sseSink) *sseStream {
	return &sseStream{sink: sink, max: max, stats: SSEStats{Retry: -1}}
}

// feed parses p, the next bytes of the body. It keeps no reference to p.
func (s *sseStream) feed(p []byte) {
	if s.ended || len(p) == 0 {
		return
	}
	s.stats.Bytes += int64(len(p))
	s.chunkValid = false
	if !s.badUTF8 && s.utf8.n == 0 && s.state != sseBOM {
		// Most streams are UTF-8: check the chunk at once, and its
		// pieces one by one only if it is not, to find where.
		u := s.utf8
		u.write(p)
		if !u.bad {
			s.utf8, s.chunkValid = u, true
		}
	}
	s.scan(p)
}

// scan runs the line machine over p.
func (s *sseStream) scan(p []byte) {
	// The next CR and LF in p at or after i (len(p) when none), each
	// searched for again only once passed, so that a chunk of many lines
	// with one kind of line end is scanned once.
	cr, lf := -1, -1
	for i := 0; i < len(p); {
		switch s.state {
		case sseBOM:
			// WHATWG HTML 9.2.6: "One leading U+FEFF BYTE ORDER MARK
			// character must be ignored if any are present."
			if p[i] == sseBOMBytes[s.bomN] {
				s.bomN++
				s.off++
				i++
				if s.bomN == len(sseBOMBytes) {
					s.state = sseLineStart
					s.blockStart = s.off
				}
				continue
			}
			// Not a BOM: the bytes matched so far start the first line.
			n := s.bomN
			s.state, s.bomN = sseLineStart, 0
			s.off -= int64(n)
			s.scan(sseBOMBytes[:n])
			continue
		case sseAfterCR:
			if p[i] == '\n' {
				s.take(p[i : i+1])
				i++
			}
			s.state = sseLineStart
			if s.blankCR {
				s.blankCR = false
				s.dispatch()
			}
			continue
		case sseLineStart:
			switch p[i] {
			case '\r', '\n':
				// "If the line is empty (a blank line): Dispatch the event."
				s.take(p[i : i+1])
				if p[i] == '\r' {
					s.state, s.blankCR = sseAfterCR, true
				} else {
					s.dispatch()
				}
				i++
				continue
			case ':':
				// "If the line starts with a U+003A COLON character (:):
				// Ignore the line."
				s.comments++
				s.stats.Comments++
				s.state = sseSkip
				s.take(p[i : i+1])
				s.lineLen = 1
				i++
				continue
			}
			s.state, s.nameN, s.lineLen = sseName, 0, 0
			continue
		}

		// The rest of a line: up to its line end.
		if cr < i {
			cr = indexFrom(p, i, '\r')
		}
		if lf < i {
			lf = indexFrom(p, i, '\n')
		}
		end := min(cr, lf)
		seg := p[i:end]
		s.take(seg)
		s.lineLong(int64(len(seg)))
		switch s.state {
		case sseName:
			k := bytes.IndexByte(seg, ':')
			if k < 0 {
				// The name goes on, or the line ends here: "Otherwise,
				// the string is not empty but does not contain a U+003A
				// COLON character (:): Process the field using ... the
				// whole line as the field name, and the empty string as
				// the field value."
				s.addName(seg)
				break
			}
			// "Collect the characters on the line before the first
			// U+003A COLON character (:), and let field be that string."
			s.addName(seg[:k])
			s.startValue()
			if s.state == sseValueStart {
				s.valueStart(seg[k+1:])
			}
		case sseValueStart:
			s.valueStart(seg)
		case sseValue:
			s.addValue(seg)
		}
		i = end
		if i == len(p) {
			break
		}
		// A line end.
		if s.state != sseSkip {
			s.endField()
		}
		s.take(p[i : i+1])
		s.state = sseLineStart
		if p[i] == '\r' {
			s.state = sseAfterCR
		}
		i++
	}
}

// indexFrom is the index of c in p at or after i, or len(p).
func indexFrom(p []byte, i int, c byte) int {
	if k := bytes.IndexByte(p[i:], c); k >= 0 {
		return i + k
	}
	return len(p)
}

// take counts b, the next bytes of the block, and checks that they are
// UTF-8 unless feed found the whole chunk valid: every byte but those of a
// BOM passes here, in order, so that invalid text is known before the
// event that holds it is dispatched, at the same byte whatever the split.
func (s *sseStream) take(b []byte) {
	s.blockLen += int64(len(b))
	s.off += int64(len(b))
	if s.chunkValid || len(b) == 1 && b[0] < utf8.RuneSelf && s.utf8.n == 0 {
		return // known valid, or a line end or a colon with no rune cut short before it
	}
	if !s.badUTF8 {
		s.utf8.write(b)
		s.checkUTF8()
	}
}

// lineLong counts n more bytes of the line and reports, once per stream, a
// line longer than the parser keeps.
func (s *sseStream) lineLong(n int64) {
	s.lineLen += n
	if s.lineLen > int64(s.max) && !s.longSaid && s.max > 0 {
		s.longSaid = true
		s.sink.sseError(fmt.Errorf("%w: a line longer than %d bytes at offset %d: its bytes are counted, and no more than %d of an event's data (%d of an id or event type) are kept", ErrSSETooLarge, s.max, s.off-s.lineLen, s.max, min(s.max, sseValueMax)))
	}
}

// dispatch ends a block at a blank line (WHATWG HTML 9.2.6, "dispatch the
// event").
func (s *sseStream) dispatch() {
	if s.dataLen == 0 {
		// "If the data buffer is an empty string, set the data buffer
		// and the event type buffer to the empty string and return."
		s.stats.Ignored++
		s.resetBlock()
		return
	}
	ev := &s.ev
	*ev = SSEEvent{
		DataLen:   s.dataLen - 1,
		HasID:     s.hasID,
		Retry:     s.retry,
		HasRetry:  s.hasRetry,
		Truncated: s.truncated,
		Comments:  s.comments,
		Len:       s.blockLen,
		Offset:    s.blockStart,
	}
	// "If the data buffer's last character is a U+000A LINE FEED (LF)
	// character, then remove the last character from the data buffer."
	ev.Data = s.data[:min(int64(len(s.data)), ev.DataLen)]
	if s.truncated {
		ev.Data = utf8Whole(ev.Data)
	}
	evType := s.evType
	if s.hasID {
		ev.ID = s.id
	}
	if s.badUTF8 {
		s.fixData = appendUTF8Replaced(s.fixData[:0], ev.Data)
		ev.Data = s.fixData
		if ev.ID != nil {
			s.fixID = appendUTF8Replaced(s.fixID[:0], ev.ID)
			ev.ID = s.fixID
		}
		s.fixEvType = appendUTF8Replaced(s.fixEvType[:0], evType)
		evType = s.fixEvType
	}
	switch {
	case len(evType) == 0:
		ev.Event = "message"
	case string(evType) == s.lastType:
		ev.Event = s.lastType
	default:
		s.lastType = string(evType)
		ev.Event = s.lastType
	}
	s.stats.Events++
	s.stats.EventBytes += s.blockLen
	s.sink.sseEvent(ev)
	ev.Data, ev.ID = nil, nil
	s.resetBlock()
}

func (s *sseStream) resetBlock() {
	s.data, s.dataLen = s.data[:0], 0
	s.evType = s.evType[:0]
	s.id, s.hasID = s.id[:0], false
	s.hasRetry, s.truncated = false, false
	s.comments = 0
	s.blockLen, s.blockStart = 0, s.off
}

// checkUTF8 reports, once, bytes that are not UTF-8.
func (s *sseStream) checkUTF8() {
	if s.utf8.bad && !s.badUTF8 {
		s.badUTF8 = true
		s.sink.sseError(fmt.Errorf("%w: invalid UTF-8 at or before offset %d: data, ids and event types are kept with each invalid sequence replaced by U+FFFD, as an EventSource decodes them", ErrSSEUTF8, s.off))
	}
}

// end says the body ended. A blank line ended by a CR dispatches its event
// now; an unfinished block is discarded, as the spec says, and reported if
// it had data.
func (s *sseStream) end() {
	if s.ended {
		return
	}
	if s.state == sseBOM && s.bomN > 0 {
		// The start of a BOM and no more: bytes of no line.
		s.utf8.write(sseBOMBytes[:s.bomN])
	}
	if !s.badUTF8 {
		s.utf8.close()
		s.checkUTF8()
	}
	if s.state == sseAfterCR && s.blankCR {
		s.blankCR = false
		s.dispatch()
	}
	inData := s.field == sseData && (s.state == sseValue || s.state == sseValueStart)
	if s.dataLen > 0 || inData {
		s.sink.sseError(fmt.Errorf("%w: the stream ended in the event at offset %d, after %d of its bytes: it is not dispatched", ErrSSECutShort, s.blockStart, s.blockLen))
	}
	s.ended = true
}
