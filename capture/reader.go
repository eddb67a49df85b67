package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// MaxLineSize is the longest capture line a Reader accepts. A line is as
// long as its event: a message kept whole at the default --max-message
// (16 MiB) of control characters escapes to about 96 MiB of JSON, so the
// bound sits well above what frametap writes. The buffer grows with the
// lines actually read, not to this size.
const MaxLineSize = 1 << 30

// Reader reads events back from a capture log (JSON Lines). A Reader is
// not safe for concurrent use.
type Reader struct {
	sc   *bufio.Scanner
	line int
	max  int
}

// NewReader returns a Reader reading capture lines from r.
func NewReader(r io.Reader) *Reader {
	return newReaderSize(r, MaxLineSize)
}

func newReaderSize(r io.Reader, max int) *Reader {
	sc := bufio.NewScanner(r)
	// The scanner's buffer holds the line and its "\r\n".
	sc.Buffer(make([]byte, 0, 64<<10), max+2)
	return &Reader{sc: sc, max: max}
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
			return nil, fmt.Errorf("capture: line %d: longer than %d bytes: %w", r.line+1, r.max, err)
		}
		return nil, fmt.Errorf("capture: after line %d: %w", r.line, err)
	}
	return nil, io.EOF
}

// Line returns the number of the line the last event came from.
func (r *Reader) Line() int {
	return r.line
}

// ReadFile reads every event of the capture log at path, in order. It stops
// at the first line that does not parse, naming it: a capture frametap
// wrote is whole, so a bad line means the file is not what it should be.
func ReadFile(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	defer f.Close()
	r := NewReader(f)
	evs := []Event{}
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			return evs, nil
		}
		if err != nil {
			return evs, fmt.Errorf("%s: %w", path, err)
		}
		evs = append(evs, *ev)
	}
}
