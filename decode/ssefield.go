package decode

import (
	"bytes"
	"fmt"
	"math"
)

// The fields of an event stream's lines (WHATWG HTML 9.2.6, "process the
// field"), as an sseStream reads them.

// addName takes the next bytes of a field name. It keeps 5: a longer name
// is none that the spec gives a meaning to.
func (s *sseStream) addName(b []byte) {
	for _, c := range b {
		if s.nameN >= len(s.name) {
			s.nameN = len(s.name) + 1 // longer than any known name
			return
		}
		s.name[s.nameN] = c
		s.nameN++
	}
}

// startValue identifies the field by its name and readies its value.
func (s *sseStream) startValue() {
	s.field = sseOther
	if s.nameN <= len(s.name) {
		switch string(s.name[:s.nameN]) {
		case "data":
			s.field = sseData
		case "event":
			s.field = sseEventType
		case "id":
			s.field = sseID
		case "retry":
			s.field = sseRetry
		}
	}
	s.val, s.valLen, s.nul, s.nonDigit = s.val[:0], 0, false, false
	s.state = sseValueStart
	if s.field == sseOther {
		// "Otherwise: The field is ignored."
		s.state = sseSkip
	}
}

// valueStart takes the first bytes of a value: "If value starts with a
// U+0020 SPACE character, remove it from value."
func (s *sseStream) valueStart(b []byte) {
	if len(b) == 0 {
		return
	}
	if b[0] == ' ' {
		b = b[1:]
	}
	s.state = sseValue
	s.addValue(b)
}

// addValue takes the next bytes of the value of the field being read.
func (s *sseStream) addValue(b []byte) {
	if len(b) == 0 {
		return
	}
	switch s.field {
	case sseData:
		s.data = s.keep(s.data, b, s.max)
		s.dataLen += int64(len(b))
		s.truncated = s.truncated || s.dataLen > int64(len(s.data))
		return
	case sseID:
		s.nul = s.nul || bytes.IndexByte(b, 0) >= 0
	case sseRetry:
		for _, c := range b {
			if c < '0' || c > '9' {
				s.nonDigit = true
				break
			}
		}
	}
	s.val = s.keep(s.val, b, min(s.max, sseValueMax))
	s.valLen += int64(len(b))
}

// keep appends what of b fits under bound, and reports, once per stream,
// bytes that did not fit.
func (s *sseStream) keep(dst, b []byte, bound int) []byte {
	room := bound - len(dst)
	if room >= len(b) {
		return append(dst, b...)
	}
	if !s.longSaid && bound > 0 {
		s.longSaid = true
		s.sink.sseError(fmt.Errorf("%w: an event's data, id or event type longer than %d bytes in the block at offset %d: its bytes are counted, the rest is not kept", ErrSSETooLarge, bound, s.blockStart))
	}
	return append(dst, b[:max(room, 0)]...)
}

// endField processes the field whose line just ended (WHATWG HTML 9.2.6,
// "process the field").
func (s *sseStream) endField() {
	if s.state == sseName {
		s.startValue()
	}
	switch s.field {
	case sseData:
		// "Append the field value to the data buffer, then append a
		// single U+000A LINE FEED (LF) character to the data buffer."
		s.data = s.keep(s.data, sseLF, s.max)
		s.dataLen++
		s.truncated = s.truncated || s.dataLen > int64(len(s.data))
	case sseEventType:
		// "Set the event type buffer to field value."
		s.evType = append(s.evType[:0], s.val...)
		s.truncated = s.truncated || s.valLen > int64(len(s.val))
	case sseID:
		// "If the field value does not contain U+0000 NULL, then set the
		// last event ID buffer to the field value. Otherwise, ignore the
		// field."
		if !s.nul {
			s.id = append(s.id[:0], s.val...)
			s.hasID = true
			s.truncated = s.truncated || s.valLen > int64(len(s.val))
		}
	case sseRetry:
		// "If the field value consists of only ASCII digits, then
		// interpret the field value as an integer in base ten, and set
		// the event stream's reconnection time to that integer.
		// Otherwise, ignore the field." A value past the largest int64
		// is taken as that.
		if s.valLen > 0 && !s.nonDigit {
			s.retry, s.hasRetry = sseDigits(s.val, s.valLen), true
			s.stats.Retry = s.retry
		}
	}
	s.field = sseOther
}

// sseDigits is the value of a string of n ASCII digits, of which b is the
// start, saturated at math.MaxInt64.
func sseDigits(b []byte, n int64) int64 {
	if n > int64(len(b)) {
		return math.MaxInt64
	}
	var v int64
	for _, c := range b {
		d := int64(c - '0')
		if v > (math.MaxInt64-d)/10 {
			return math.MaxInt64
		}
		v = v*10 + d
	}
	return v
}
