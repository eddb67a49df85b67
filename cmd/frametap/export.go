package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/capture/har"
	"github.com/frametap/frametap/filter"
)

const exportUsage = `Usage: frametap export --har OUT [--filter EXPR] CAPTURE

Writes the capture log CAPTURE (JSON Lines, as -w writes it; - reads
standard input) as a HAR 1.2 file OUT (- writes standard output), for
Chrome or Firefox DevTools, HTTP Toolkit, Charles or Postman: one entry per
HTTP exchange, WebSocket messages in Chrome's shape, and frametap's
_connectionId, _seq and _webSocketClose. docs/capture-format.md says what
each field comes from.

OUT is written whole or not at all: the HAR goes to a temporary file beside
it, which takes OUT's name (replacing a file there) once complete.

Flags:
`

// runExport is `frametap export --har OUT CAPTURE`.
func runExport(args []string, stdout, stderr io.Writer) error {
	var out, expr string
	fs := flag.NewFlagSet("frametap export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, exportUsage); fs.PrintDefaults() }
	fs.StringVar(&out, "har", "", "write the HAR to `OUT` (- for standard output)")
	fs.StringVar(&expr, "filter", "", "export only the exchanges and messages `EXPR` selects (the filter language: frametap's /, mitmproxy's syntax)")
	// Flags may follow the capture's name too.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if out == "" || len(pos) != 1 {
		fs.Usage()
		return errors.New("export: want --har OUT and one CAPTURE")
	}
	var f *filter.Filter
	if expr != "" {
		var err error
		if f, err = filter.Parse(expr); err != nil {
			return fmt.Errorf("--filter: %w", err)
		}
	}

	evs, err := readCaptureStrict(pos[0], stderr)
	if err != nil {
		return err
	}
	opt := har.Options{Creator: har.Creator{Name: "frametap", Version: version()}}
	if f != nil {
		opt.Selected = f.Select(evs)
	}
	h, st := har.Build(evs, opt)
	write := func(w io.Writer) error { return har.Write(w, h) }
	if out == "-" {
		if err := write(stdout); err != nil {
			if errors.Is(err, syscall.EPIPE) {
				return errors.New("export: standard output was closed before the HAR was written whole")
			}
			return fmt.Errorf("export: writing standard output: %w", err)
		}
	} else if err := writeFileWhole(out, write); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	fmt.Fprintf(stderr, "frametap: %d entries (%d WebSocket, %d messages) from %d events to %s\n", st.Entries, st.WebSockets, st.Messages, len(evs), displayName(out))
	if h.Log.Comment != "" {
		fmt.Fprintln(stderr, h.Log.Comment) // it says "frametap: " itself, for the HAR's readers
	}
	return nil
}

// readCaptureStrict reads every event of a capture (a file, or - for
// standard input). A line that does not parse, or a HAR given where a
// capture belongs, is an error naming the file and line; a cut last line
// is a warning on stderr, and the events before it are kept.
func readCaptureStrict(path string, stderr io.Writer) ([]*capture.Event, error) {
	in, err := openInput(path)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	if in.har {
		return nil, fmt.Errorf("%s is a HAR file, not a capture: frametap view shows it", in.name)
	}
	var evs []*capture.Event
	cut, err := in.eachEvent(func(ev *capture.Event) error { evs = append(evs, ev); return nil }, func(error) bool { return false })
	if err != nil {
		return nil, fmt.Errorf("%w (is it a frametap capture?)", err)
	}
	if cut != nil {
		fmt.Fprintf(stderr, "frametap: WARNING: %v\n", cut)
	}
	return evs, nil
}

// writeFileWhole writes what write writes to a new temporary file beside
// path, syncs it and gives it the name path (replacing what was there), so
// that path never holds a partial file: a failure leaves nothing behind.
// The file is readable by its owner only: captures hold credentials.
func writeFileWhole(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp") // mode 0600
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
			err = fmt.Errorf("writing %s: %w (nothing was left there)", path, err)
		}
	}()
	bw := bufio.NewWriterSize(f, 64<<10)
	if err := write(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func displayName(path string) string {
	if path == "-" {
		return "standard output"
	}
	return path
}

// version is frametap's module version, as the Go toolchain stamped it
// into the binary ("(devel)" for a build from a checkout).
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
