package main

import (
	"bufio"
	"fmt"
	"io"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/capture/push"
	"github.com/frametap/frametap/filter"
)

// printSummary is `frametap view --summary FILE` (issue 10): the push
// table of a saved capture, one row per host and mechanism (push.Summary),
// of the events flt selects when it is set.
func printSummary(path string, flt *filter.Filter, cfg push.Config, stdout, stderr io.Writer) error {
	sum := push.NewSummary(cfg)
	bad := func(err error) { fmt.Fprintln(stderr, "frametap:", err) }
	var ld loaded
	var err error
	if flt != nil {
		var sel []*capture.Event
		sel, ld, err = readSelected(path, flt, bad)
		for _, ev := range sel {
			sum.Add(ev)
		}
	} else {
		ld, err = readEvents(path, func(ev *capture.Event) error { sum.Add(ev); return nil }, bad)
	}
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(stdout)
	err = push.WriteTable(bw, sum.Rows())
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	ld.bad = 0 // each was reported as it came
	ld.report(sourceName(path), stderr)
	return quietPipe(err)
}
