package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/capture/har"
)

// stdin is what "-" reads; a variable so that tests can give their own.
var stdin io.Reader = os.Stdin

// sniffSize is how much of an input is looked at to tell a HAR from a
// capture: the start of a JSON object and its first key.
const sniffSize = 4 << 10

// input is a capture or a HAR to read: a file, or standard input for "-".
type input struct {
	name string // the file's name, or "standard input"
	r    *bufio.Reader
	c    io.Closer // nil for standard input
	har  bool      // the input is a HAR (har.Sniff), not a capture
}

// openInput opens path ("-": standard input) and tells what it holds.
func openInput(path string) (*input, error) {
	in := &input{name: path}
	var src io.Reader
	if path == "-" {
		in.name, src = "standard input", stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		in.c, src = f, f
	}
	in.r = bufio.NewReaderSize(src, 64<<10)
	head, _ := in.r.Peek(sniffSize)
	in.har = har.Sniff(head)
	return in, nil
}

func (in *input) Close() {
	if in.c != nil {
		in.c.Close()
	}
}

// harEvents reads the input as a HAR and turns it into capture events.
func (in *input) harEvents() ([]*capture.Event, har.Summary, error) {
	f, err := har.Read(in.r)
	if err != nil {
		return nil, har.Summary{}, fmt.Errorf("%s: %w", in.name, err)
	}
	evs, sum := f.Events(in.name)
	return evs, sum, nil
}

// eachEvent calls fn with every event of a capture input, in order. A line
// that does not parse is passed to bad, which says whether reading goes
// on; a cut last line (capture.ErrCutLine) is returned as cut, a warning:
// the events before it were read. A line too long to read, or a read
// error, ends it with err.
func (in *input) eachEvent(fn func(*capture.Event) error, bad func(error) bool) (cut, err error) {
	r := capture.NewReader(in.r)
	for {
		before := r.Line()
		ev, err := r.Next()
		switch {
		case err == io.EOF:
			return nil, nil
		case errors.Is(err, capture.ErrCutLine):
			return fmt.Errorf("%s: %w", in.name, err), nil
		case err != nil && r.Line() > before: // the line was read but did not parse
			if !bad(fmt.Errorf("%s: %w", in.name, err)) {
				return nil, fmt.Errorf("%s: %w", in.name, err)
			}
			continue
		case err != nil:
			return nil, fmt.Errorf("%s: %w", in.name, err)
		}
		if err := fn(ev); err != nil {
			return nil, err
		}
	}
}
