package capture

import (
	"bufio"
	"bytes"
	"encoding/json"
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

// ErrCutLine is wrapped by the error a Reader returns for a last line that
// has no end of line and is a JSON object that stops too soon: a capture
// cut short while a line was being written (frametap was killed, the disk filled up). What comes
// before it is whole; callers usually keep it and warn.
var ErrCutLine = errors.New("the last line is cut short")

// CutLineError is the error of a cut last line (see ErrCutLine).
type CutLineError struct {
	Line int   // the line's number
	Len  int   // its length in bytes
	Err  error // why it does not parse
}

func (e *CutLineError) Error() string {
	return fmt.Sprintf("capture: line %d: %v: the last line is cut short (%d bytes and no end of line, as when frametap or the disk stopped while writing it); the capture is read up to the line before it", e.Line, e.Err, e.Len)
}

// Unwrap returns ErrCutLine and the parse error.
func (e *CutLineError) Unwrap() []error { return []error{ErrCutLine, e.Err} }

// Reader reads events back from a capture log (JSON Lines). A Reader is
// not safe for concurrent use.
type Reader struct {
	sc   *bufio.Scanner
	line int
	max  int
	open bool // the last line the scanner returned had no end of line
}

// NewReader returns a Reader reading capture lines from r.
func NewReader(r io.Reader) *Reader {
	return newReaderSize(r, MaxLineSize)
}

func newReaderSize(r io.Reader, max int) *Reader {
	rd := &Reader{max: max}
	sc := bufio.NewScanner(r)
	// The scanner's buffer holds the line and its "\r\n".
	sc.Buffer(make([]byte, 0, 64<<10), max+2)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		adv, tok, err := bufio.ScanLines(data, atEOF)
		if tok != nil {
			rd.open = atEOF && bytes.IndexByte(data[:adv], '\n') < 0
		}
		return adv, tok, err
	})
	rd.sc = sc
	return rd
}

// Next returns the next event, or io.EOF after the last one. Blank lines
// are skipped, unknown fields ignored, and an event of an unknown kind is
// returned with its known fields set. An error names the line it is about;
// a line that does not parse can be skipped by calling Next again, but a
// line over MaxLineSize ends the reading. A last line without an end of
// line that parses is an event like any other; one that does not parse is
// a *CutLineError (ErrCutLine), followed by io.EOF.
func (r *Reader) Next() (*Event, error) {
	for r.sc.Scan() {
		r.line++
		b := bytes.TrimSpace(r.sc.Bytes())
		if len(b) == 0 {
			continue
		}
		ev := new(Event)
		if err := ev.UnmarshalJSON(b); err != nil {
			if r.open && unfinished(b) {
				return nil, &CutLineError{Line: r.line, Len: len(r.sc.Bytes()), Err: err}
			}
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

// unfinished reports whether b is the start of a JSON object that ends
// too soon: what a write cut short leaves, as opposed to a line that is not
// a capture event at all.
func unfinished(b []byte) bool {
	if len(b) == 0 || b[0] != '{' {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	depth := 0
	for {
		tok, err := dec.Token()
		switch {
		case errors.Is(err, io.EOF):
			return depth > 0
		case errors.Is(err, io.ErrUnexpectedEOF):
			return true
		case err != nil:
			return false
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
		if depth == 0 {
			return false // a whole object: it did not parse for another reason
		}
	}
}

// Line returns the number of the line the last event came from.
func (r *Reader) Line() int {
	return r.line
}

// ReadFile reads every event of the capture log at path, in order, as
// Read does, naming path in its error.
func ReadFile(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	defer f.Close()
	evs, err := Read(f)
	if err != nil {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return evs, err
}

// Read reads every event of a capture log from r, in order. It stops at the
// first line that does not parse, naming it: a capture frametap wrote is
// whole, so a bad line means the input is not what it should be. The one
// exception is a cut last line (ErrCutLine): Read returns every event
// before it and an error that wraps ErrCutLine, which callers may take as
// a warning. The events read before any error are returned with it.
func Read(r io.Reader) ([]Event, error) {
	rd := NewReader(r)
	evs := []Event{}
	for {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return evs, nil
		}
		if err != nil {
			return evs, err
		}
		evs = append(evs, *ev)
	}
}
