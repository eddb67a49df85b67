package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/capture/har"
	"github.com/frametap/frametap/capture/push"
	"github.com/frametap/frametap/filter"
	"github.com/frametap/frametap/ui"
)

// viewUsage is `frametap view --help`.
const viewUsage = `Usage: frametap view [flags] FILE   (flags before or after FILE)

Shows a capture log (JSON Lines, as -w writes it) or a HAR file (Chrome, Firefox,
HTTP Toolkit, mitmproxy, frametap export) in the dashboard, read-only, or with
--headless prints it as frametap --headless would have. FILE - reads standard input.
With --summary it prints how each host pushed and what that cost instead.

Flags:
`

// runView is `frametap view FILE`: the dashboard over a saved capture.
func runView(args []string, stdout, stderr io.Writer) error {
	var (
		uiEvents int
		headless bool
		expr     string // --filter
		summary  bool   // --summary (issue 10)
		longPoll time.Duration
	)
	fs := flag.NewFlagSet("frametap view", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&uiEvents, "ui-events", ui.DefaultMaxEvents, "events held in memory; a longer capture shows its last ones")
	fs.BoolVar(&headless, "headless", false, "print one line per event to stdout instead of the dashboard")
	fs.StringVar(&expr, "filter", "", "show only the events `EXPR` selects, judged with the whole capture, and the open and close of their connections (see frametap help filters)")
	fs.BoolVar(&summary, "summary", false, "print how each host pushed (polling, long-polling, SSE, streaming, WebSocket, Socket.IO) and what it cost on the wire, one row per host and mechanism, instead of the events")
	fs.DurationVar(&longPoll, "long-poll", push.DefaultLongPoll, "with --summary: an exchange held at least this `DURATION` is a long poll")
	files, err := parseFlags(fs, args, stdout, func(w io.Writer) { fmt.Fprint(w, viewUsage) })
	if err != nil {
		return flagErr(err)
	}
	if len(files) != 1 {
		return errors.New("view: want one capture or HAR FILE (see frametap view --help)")
	}
	var flt *filter.Filter
	if expr != "" {
		if flt, err = parseFilter("--filter", expr); err != nil {
			return err
		}
	}
	if summary {
		return printSummary(files[0], flt, push.Config{LongPoll: longPoll}, stdout, stderr)
	}
	if headless {
		return printCapture(files[0], flt, stdout, stderr)
	}
	if err := needTerminal(); err != nil {
		return err
	}
	return viewFile(files[0], flt, uiEvents, stderr)
}

// loaded is what readEvents read.
type loaded struct {
	n, bad int          // events read, capture lines that did not parse
	cut    error        // a cut last line: the events before it were read
	har    *har.Summary // the input was a HAR: what Events made of it
}

// report tells the user on stderr what reading source skipped or could not
// tell.
func (ld loaded) report(source string, stderr io.Writer) {
	if ld.bad > 0 {
		fmt.Fprintf(stderr, "frametap: %s: %d of %d lines did not parse and were skipped\n", source, ld.bad, ld.n+ld.bad)
	}
	if ld.cut != nil {
		fmt.Fprintf(stderr, "frametap: WARNING: %v\n", ld.cut)
	}
	if ld.har != nil {
		fmt.Fprintf(stderr, "frametap: %s\n", ld.har.Note)
	}
}

// readEvents calls fn with every event of a capture log or a HAR (- reads
// standard input), in order. Capture lines that do not parse are skipped
// and counted, and passed to bad if it is not nil; a cut last line ends it
// with a warning (ld.cut); a line too long to read ends it with an error.
func readEvents(path string, fn func(*capture.Event) error, bad func(error)) (loaded, error) {
	var ld loaded
	in, err := openInput(path)
	if err != nil {
		return ld, err
	}
	defer in.Close()
	if in.har {
		evs, sum, err := in.harEvents()
		if err != nil {
			return ld, err
		}
		ld.har = &sum
		for _, ev := range evs {
			if err := fn(ev); err != nil {
				return ld, err
			}
			ld.n++
		}
		return ld, nil
	}
	ld.cut, err = in.eachEvent(func(ev *capture.Event) error {
		ld.n++
		return fn(ev)
	}, func(err error) bool {
		ld.bad++
		if bad != nil {
			bad(err)
		}
		return true
	})
	return ld, err
}

// readSelected reads a whole capture and returns the events flt selects
// (selectEvents): an event's verdict may depend on later ones.
func readSelected(path string, flt *filter.Filter, bad func(error)) ([]*capture.Event, loaded, error) {
	var evs []*capture.Event
	ld, err := readEvents(path, func(ev *capture.Event) error { evs = append(evs, ev); return nil }, bad)
	if err != nil {
		return nil, ld, err
	}
	return selectEvents(flt, evs), ld, nil
}

// printCapture writes a capture log, or a HAR, as the headless text lines;
// with flt, only the events it selects. Standard output closed by its
// reader (frametap view x --headless | head) ends it quietly.
func printCapture(path string, flt *filter.Filter, stdout, stderr io.Writer) error {
	bw := bufio.NewWriter(stdout)
	var line []byte
	print := func(ev *capture.Event) error {
		line = ev.AppendText(line[:0])
		_, err := bw.Write(line)
		return err
	}
	bad := func(err error) { fmt.Fprintln(stderr, "frametap:", err) }
	var ld loaded
	var err error
	if flt != nil {
		var sel []*capture.Event
		sel, ld, err = readSelected(path, flt, bad)
		for _, ev := range sel {
			if err = print(ev); err != nil {
				break
			}
		}
	} else {
		ld, err = readEvents(path, print, bad)
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	ld.bad = 0 // each was reported as it came
	ld.report(sourceName(path), stderr)
	return quietPipe(err)
}

// quietPipe takes standard output closed by its reader for a normal end.
func quietPipe(err error) error {
	if errors.Is(err, syscall.EPIPE) {
		return nil
	}
	return err
}

// sourceName is how the status line and messages name path.
func sourceName(path string) string {
	if path == "-" {
		return "standard input"
	}
	return path
}

// viewFile loads path (a capture or a HAR; - reads standard input) and
// shows it until the user quits. With flt, the store gets only the events
// flt selects: the dashboard shows the selection, and its own / filters
// within it.
func viewFile(path string, flt *filter.Filter, uiEvents int, stderr io.Writer) error {
	store := ui.NewStore(uiEvents)
	var ld loaded
	var err error
	kept := 0
	if flt != nil {
		kept, ld, err = loadSelected(path, flt, store)
	} else {
		ld, err = loadCapture(path, store)
	}
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	source := sourceName(path)
	if flt != nil {
		source += " --filter " + strconv.Quote(flt.Source()) // the status line says the view is a selection
	}
	dash := ui.New(ui.Config{ReadOnly: true, Source: source}, store)
	err = dash.Run(ctx)
	if flt != nil {
		fmt.Fprintf(stderr, "frametap: %s: --filter %q showed %d of %d events\n", sourceName(path), flt.Source(), kept, ld.n)
	}
	ld.report(sourceName(path), stderr)
	return err
}

// storeAdder adds events to store, meta events too: the dashboard says
// on its status line that the capture was written with --filter, and
// shows no connection for an event of no connection.
func storeAdder(store *ui.Store) func(*capture.Event) error {
	return func(ev *capture.Event) error {
		store.AddOwned(ev)
		return nil
	}
}

// loadCapture reads a capture or a HAR into store.
func loadCapture(path string, store *ui.Store) (loaded, error) {
	return readEvents(path, storeAdder(store), nil)
}

// loadSelected reads a whole capture and adds to store the events flt
// selects, before any reaches it: kept of the ld.n events read.
func loadSelected(path string, flt *filter.Filter, store *ui.Store) (kept int, ld loaded, err error) {
	sel, ld, err := readSelected(path, flt, nil)
	add := storeAdder(store)
	for _, ev := range sel {
		add(ev)
	}
	return len(sel), ld, err
}
