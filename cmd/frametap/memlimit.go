package main

import (
	"os"
	"runtime/debug"
)

// heapBase is what frametap itself needs besides the dashboard's events:
// the relay's buffers, the capture log's queue, the dashboard's model.
const heapBase = 64 << 20

// limitHeap makes the garbage collector hold the process within the
// dashboard's memory bound plus heapBase (issue 15: with the dashboard
// open under load the process held 437 MB against a bound of about
// 256 MiB). The Store keeps its events within half its bound, so that
// the collector's usual headroom (GOGC=100: twice the live data) fits
// within it; the soft limit is the backstop when the rest of the process
// grows. A GOMEMLIMIT in the environment wins.
func limitHeap(storeBytes int64) {
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(storeBytes + heapBase)
}
