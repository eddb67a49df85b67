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
	"syscall"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/capture/har"
	"github.com/frametap/frametap/ui"
)

// runView is `frametap view FILE`: the dashboard over a saved capture.
func runView(args []string, stdout, stderr io.Writer) error {
	var (
		uiEvents int
		headless bool
	)
	fs := flag.NewFlagSet("frametap view", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: frametap view [--ui-events N | --headless] FILE\n\nShows a capture log (JSON Lines, as -w writes it) or a HAR file (Chrome, Firefox,\nHTTP Toolkit, mitmproxy, frametap export) in the dashboard, read-only, or with\n--headless prints it as frametap --headless would have. FILE - reads standard input.\n\nFlags:")
		fs.PrintDefaults()
	}
	fs.IntVar(&uiEvents, "ui-events", ui.DefaultMaxEvents, "events held in memory; a longer capture shows its last ones")
	fs.BoolVar(&headless, "headless", false, "print one line per event to stdout instead of the dashboard")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("view: want one capture or HAR FILE")
	}
	if headless {
		return printCapture(fs.Arg(0), stdout, stderr)
	}
	if err := needTerminal(); err != nil {
		return err
	}
	return viewFile(fs.Arg(0), uiEvents, stderr)
}

// printCapture writes a capture log, or a HAR, as the headless text lines.
// Capture lines that do not parse are reported on stderr and skipped; a
// cut last line is reported and ends it. Standard output closed by its
// reader (frametap view x --headless | head) ends it quietly.
func printCapture(path string, stdout, stderr io.Writer) error {
	in, err := openInput(path)
	if err != nil {
		return err
	}
	defer in.Close()
	bw := bufio.NewWriter(stdout)
	var line []byte
	print := func(ev *capture.Event) error {
		line = ev.AppendText(line[:0])
		_, err := bw.Write(line)
		return err
	}
	if in.har {
		evs, _, err := in.harEvents()
		if err != nil {
			return err
		}
		for _, ev := range evs {
			if err := print(ev); err != nil {
				return quietPipe(err)
			}
		}
		return quietPipe(bw.Flush())
	}
	cut, err := in.eachEvent(print, func(err error) bool {
		fmt.Fprintln(stderr, "frametap:", err)
		return true
	})
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if cut != nil {
		fmt.Fprintf(stderr, "frametap: WARNING: %v\n", cut)
	}
	return quietPipe(err)
}

// quietPipe takes standard output closed by its reader for a normal end.
func quietPipe(err error) error {
	if errors.Is(err, syscall.EPIPE) {
		return nil
	}
	return err
}

// viewFile loads path (a capture or a HAR; - reads standard input) and
// shows it until the user quits.
func viewFile(path string, uiEvents int, stderr io.Writer) error {
	store := ui.NewStore(uiEvents)
	ld, err := loadCapture(path, store)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	source := path
	if path == "-" {
		source = "standard input"
	}
	dash := ui.New(ui.Config{ReadOnly: true, Source: source}, store)
	err = dash.Run(ctx)
	if ld.bad > 0 {
		fmt.Fprintf(stderr, "frametap: %s: %d of %d lines did not parse and were skipped\n", source, ld.bad, ld.n+ld.bad)
	}
	if ld.cut != nil {
		fmt.Fprintf(stderr, "frametap: WARNING: %v\n", ld.cut)
	}
	if ld.har != nil {
		fmt.Fprintf(stderr, "frametap: %s\n", ld.har.Note)
	}
	return err
}

// loaded is what loadCapture read.
type loaded struct {
	n, bad int          // events read, capture lines that did not parse
	cut    error        // a cut last line: the events before it were read
	har    *har.Summary // the input was a HAR: what Events made of it
}

// loadCapture reads the events of a capture log, or of a HAR, into store.
// Capture lines that do not parse are skipped and counted; a line too long
// to read ends it.
func loadCapture(path string, store *ui.Store) (loaded, error) {
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
		for _, ev := range evs {
			store.AddOwned(ev)
		}
		ld.n, ld.har = len(evs), &sum
		return ld, nil
	}
	ld.cut, err = in.eachEvent(func(ev *capture.Event) error {
		store.AddOwned(ev)
		ld.n++
		return nil
	}, func(error) bool { ld.bad++; return true })
	return ld, err
}
