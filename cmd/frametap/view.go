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

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/filter"
	"github.com/frametap/frametap/ui"
)

// runView is `frametap view FILE`: the dashboard over a saved capture.
func runView(args []string, stdout, stderr io.Writer) error {
	var (
		uiEvents int
		headless bool
		expr     string // --filter
	)
	fs := flag.NewFlagSet("frametap view", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: frametap view [--ui-events N | --headless] [--filter EXPR] FILE\n\nShows a capture log (JSON Lines, as -w writes it) in the dashboard, read-only,\nor with --headless prints it as frametap --headless would have.\n\nFlags:")
		fs.PrintDefaults()
	}
	fs.IntVar(&uiEvents, "ui-events", ui.DefaultMaxEvents, "events held in memory; a longer capture shows its last ones")
	fs.BoolVar(&headless, "headless", false, "print one line per event to stdout instead of the dashboard")
	fs.StringVar(&expr, "filter", "", "show only the events `EXPR` selects, judged with the whole capture, and the open and close of their connections (see frametap help filters)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("view: want one capture FILE")
	}
	var flt *filter.Filter
	if expr != "" {
		var err error
		if flt, err = parseFilter("--filter", expr); err != nil {
			return err
		}
	}
	if headless {
		return printCapture(fs.Arg(0), flt, stdout, stderr)
	}
	if err := needTerminal(); err != nil {
		return err
	}
	return viewFile(fs.Arg(0), flt, uiEvents, stderr)
}

// printCapture writes a capture log as the headless text lines. Lines that
// do not parse are reported on stderr and skipped. With flt, only the
// events it selects are printed (see selectEvents); the whole capture is
// read first, since an event's verdict may depend on later ones.
func printCapture(path string, flt *filter.Filter, stdout, stderr io.Writer) error {
	if flt != nil {
		return printSelected(path, flt, stdout, stderr)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriter(stdout)
	r := capture.NewReader(f)
	var line []byte
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintln(stderr, "frametap:", err)
			if errors.Is(err, bufio.ErrTooLong) {
				break
			}
			continue
		}
		line = ev.AppendText(line[:0])
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// viewFile loads path and shows it until the user quits. With flt, the
// store gets only the events flt selects (loadSelected): the dashboard
// shows the selection, and its own / filters within it.
func viewFile(path string, flt *filter.Filter, uiEvents int, stderr io.Writer) error {
	store := ui.NewStore(uiEvents)
	var n, bad, kept int
	var err error
	if flt != nil {
		kept, n, bad, err = loadSelected(path, flt, store)
	} else {
		n, bad, err = loadCapture(path, store)
	}
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	source := path
	if flt != nil {
		source += " --filter " + strconv.Quote(flt.Source()) // the status line says the view is a selection
	}
	dash := ui.New(ui.Config{ReadOnly: true, Source: source}, store)
	err = dash.Run(ctx)
	if flt != nil {
		fmt.Fprintf(stderr, "frametap: %s: --filter %q showed %d of %d events\n", path, flt.Source(), kept, n)
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "frametap: %s: %d of %d lines did not parse and were skipped\n", path, bad, n+bad)
	}
	return err
}

// loadCapture reads the events of a capture log into store. Lines that do
// not parse are skipped and counted; a line too long to read ends it.
func loadCapture(path string, store *ui.Store) (n, bad int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	r := capture.NewReader(f)
	for {
		before := r.Line()
		ev, err := r.Next()
		switch {
		case err == io.EOF:
			return n, bad, nil
		case err != nil && r.Line() > before:
			bad++ // the line was read but did not parse
			continue
		case err != nil:
			return n, bad, err // too long, or a read error: the rest is unreachable
		case ev.Kind == capture.KindMeta:
			continue // how the capture was written (--filter), no connection's: the dashboard would show it as one
		}
		store.AddOwned(ev)
		n++
	}
}

// readAll reads every event of a capture log. Lines that do not parse are
// skipped and counted; a line too long to read ends it.
func readAll(path string) (evs []*capture.Event, bad int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	r := capture.NewReader(f)
	for {
		before := r.Line()
		ev, err := r.Next()
		switch {
		case err == io.EOF:
			return evs, bad, nil
		case err != nil && r.Line() > before:
			bad++
			continue
		case err != nil:
			return evs, bad, err
		}
		evs = append(evs, ev)
	}
}

// loadSelected reads a whole capture, selects its events with flt before
// any of them reaches the store (selectEvents), and adds the selection:
// kept of the n events read.
func loadSelected(path string, flt *filter.Filter, store *ui.Store) (kept, n, bad int, err error) {
	evs, bad, err := readAll(path)
	if err != nil {
		return 0, len(evs), bad, err
	}
	sel := selectEvents(flt, evs)
	for _, ev := range sel {
		if ev.Kind != capture.KindMeta { // as loadCapture
			store.AddOwned(ev)
		}
	}
	return len(sel), len(evs), bad, nil
}

// printSelected prints the events of a capture that flt selects.
func printSelected(path string, flt *filter.Filter, stdout, stderr io.Writer) error {
	evs, bad, err := readAll(path)
	if bad > 0 {
		fmt.Fprintf(stderr, "frametap: %s: %d lines did not parse and were skipped\n", path, bad)
	}
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(stdout)
	var line []byte
	for _, ev := range selectEvents(flt, evs) {
		line = ev.AppendText(line[:0])
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}
