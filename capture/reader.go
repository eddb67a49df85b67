package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxLineSize is the longest capture line a Reader accepts.
const MaxLineSize = 64 << 20

// Reader reads events back from a capture log (JSON Lines). A Reader is
// not safe for concurrent use.
type Reader struct {
	sc   *bufio.Scanner
	line int
}

// NewReader returns a Reader reading capture lines from r.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	// The scanner's buffer holds the line and its "\r\n".
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineSize+2)
	return &Reader{sc: sc}
}

// Next returns the next event, or io.EOF after the last one. Blank lines
// are skipped, unknown fields ignored, and an event of an unknown kind is
// returned with its known fields set. An error names the line it is about;
// a line that does not parse can be skipped by calling Next again, but a
// line over MaxLineSize ends the reading.
func (r *Reader) Next() (*Event, error) {
	for r.sc.Scan() {
		r.line++
		b := bytes.TrimSpace(r.sc.Bytes())
		if len(b) == 0 {
			continue
		}
		ev := new(Event)
		if err := ev.UnmarshalJSON(b); err != nil {
			return nil, fmt.Errorf("capture: line %d: %w", r.line, err)
		}
		return ev, nil
	}
	if err := r.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("capture: line %d: longer than %d bytes: %w", r.line+1, MaxLineSize, err)
		}
		return nil, fmt.Errorf("capture: after line %d: %w", r.line, err)
	}
	return nil, io.EOF
}

// Line returns the number of the line the last event came from.
func (r *Reader) Line() int {
	return r.line
}
