package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/filter"
)

// This file is the filter language on the command line (issue 14):
// --filter for what the proxy writes (headless lines and -w), for
// `frametap view`, and `frametap help filters`.

// parseFilter parses the expression of flag (e.g. "--filter"). A bad one is
// an error that quotes it and points at the column under it:
//
//	--filter: filter: unbalanced "(" at column 4
//	  ~d (foo
//	     ^
func parseFilter(flag, expr string) (*filter.Filter, error) {
	f, err := filter.Parse(expr)
	if err == nil {
		return f, nil
	}
	msg := fmt.Sprintf("%s: %v", flag, err)
	if fe, ok := errors.AsType[*filter.Error](err); ok && fe.Col > 0 && !strings.ContainsAny(expr, "\n\t") {
		msg += "\n  " + expr + "\n  " + strings.Repeat(" ", fe.Col-1) + "^"
	}
	return nil, errors.New(msg)
}

// filtered wraps each output in a filter.Output of f, which starts what it
// writes with a meta event naming f. With f nil the outputs are returned
// as they are.
func filtered(f *filter.Filter, outs []capture.Output) ([]capture.Output, error) {
	if f == nil {
		return outs, nil
	}
	wrapped := make([]capture.Output, len(outs))
	for i, o := range outs {
		fo, err := filter.NewOutput(o, f, filter.OutputOptions{})
		if err != nil {
			return nil, fmt.Errorf("--filter: writing the meta event: %w", err)
		}
		wrapped[i] = fo
	}
	return wrapped, nil
}

// selectEvents keeps the events of a whole capture that f selects (as
// filter.Select judges them: with everything known of their connection),
// and the open and close of each connection that has a selected event, so
// that every connection kept is whole. The meta and gap events of the
// capture (conn 0) are kept when f selects them. The result shares the
// events of evs.
func selectEvents(f *filter.Filter, evs []*capture.Event) []*capture.Event {
	sel := f.Select(evs)
	hit := make(map[uint64]bool)
	for i, ev := range evs {
		if sel[i] && ev.Conn != 0 {
			hit[ev.Conn] = true
		}
	}
	var out []*capture.Event
	for i, ev := range evs {
		if sel[i] || hit[ev.Conn] && ev.Conn != 0 && (ev.Kind == capture.KindOpen || ev.Kind == capture.KindClose) {
			out = append(out, ev)
		}
	}
	return out
}

// runHelp is `frametap help [filters]`.
func runHelp(args []string, stdout, stderr io.Writer) error {
	switch {
	case len(args) == 1 && args[0] == "filters":
		_, err := io.WriteString(stdout, filter.Help)
		return err
	case len(args) == 0:
		fmt.Fprint(stdout, usage)
		fmt.Fprintln(stdout, "\nMore help: frametap help filters (the filter language of --filter and /); frametap -h (the flags)")
		return nil
	}
	return fmt.Errorf("help: unknown topic %q; try: frametap help filters", strings.Join(args, " "))
}
