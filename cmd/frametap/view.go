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
	"github.com/frametap/frametap/ui"
)

// viewUsage is `frametap view --help`.
const viewUsage = `Usage: frametap view [flags] FILE   (flags before or after FILE)

Shows a capture log (JSON Lines, as -w writes it) in the dashboard, read-only,
or with --headless prints it as frametap --headless would have.

Flags:
`

// runView is `frametap view FILE`: the dashboard over a saved capture.
func runView(args []string, stdout, stderr io.Writer) error {
	var (
		uiEvents int
		headless bool
	)
	fs := flag.NewFlagSet("frametap view", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&uiEvents, "ui-events", ui.DefaultMaxEvents, "events held in memory; a longer capture shows its last ones")
	fs.BoolVar(&headless, "headless", false, "print one line per event to stdout instead of the dashboard")
	files, err := parseFlags(fs, args, stdout, func(w io.Writer) { fmt.Fprint(w, viewUsage) })
	if err != nil {
		return flagErr(err)
	}
	if len(files) != 1 {
		return errors.New("view: want one capture FILE (see frametap view --help)")
	}
	if headless {
		return printCapture(files[0], stdout, stderr)
	}
	if err := needTerminal(); err != nil {
		return err
	}
	return viewFile(files[0], uiEvents, stderr)
}

// printCapture writes a capture log as the headless text lines. Lines that
// do not parse are reported on stderr and skipped.
func printCapture(path string, stdout, stderr io.Writer) error {
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

// viewFile loads path and shows it until the user quits.
func viewFile(path string, uiEvents int, stderr io.Writer) error {
	store := ui.NewStore(uiEvents)
	n, bad, err := loadCapture(path, store)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dash := ui.New(ui.Config{ReadOnly: true, Source: path}, store)
	err = dash.Run(ctx)
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
		}
		store.AddOwned(ev)
		n++
	}
}
