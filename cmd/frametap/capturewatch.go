package main

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/frametap/frametap/capture"
)

// watchCapture tells w at once when writing the capture output l (named
// name) starts to fail and when it works again, with how many events were
// lost meanwhile. It returns when l is closed; Close's error tells the
// rest at exit. When l writes to standard output and its reader goes away
// (EPIPE), pipeClosed, if not nil, is called instead: frametap stops.
func watchCapture(l *capture.Log, name string, w io.Writer, pipeClosed func()) {
	var failing bool
	var since time.Time
	var lostBefore int64
	for range l.HealthChanged() {
		h := l.Health()
		if pipeClosed != nil && errors.Is(h.Err, syscall.EPIPE) {
			pipeClosed()
			return
		}
		switch {
		case h.Err != nil && !failing:
			since = h.Since
			cause := h.Err
			if u := errors.Unwrap(cause); u != nil {
				cause = u // "write FILE: no space left on device", without the capture: prefix
			}
			fmt.Fprintf(w, "frametap: WARNING: %s: %v: events are being lost until it can be written again (frametap tries every second)\n", name, cause)
		case h.Err == nil && failing:
			fmt.Fprintf(w, "frametap: %s is written again after %s: %d events were lost (a gap event in it records them)\n",
				name, time.Since(since).Round(time.Millisecond), h.Lost-lostBefore)
		case h.Err == nil && h.Lost > lostBefore: // failed and recovered before this goroutine looked
			fmt.Fprintf(w, "frametap: WARNING: %s failed for a moment: %d events were lost (a gap event in it records them)\n", name, h.Lost-lostBefore)
		}
		failing = h.Err != nil
		if !failing {
			lostBefore = h.Lost
		}
	}
}
