package main

import (
	"os"
	"runtime/debug"

	"github.com/frametap/frametap/ui"
)

// The live dashboard's collector settings (limitHeap).
const (
	// heapBase is what frametap itself needs besides the dashboard's
	// events: the relay's buffers (16 KiB or so per idle connection), the
	// capture log's queue (up to 64 MiB), the dashboard's model.
	heapBase = 64 << 20
	// dashboardGCPercent lets the heap grow to five times the live data
	// before the collector runs, within the soft memory limit.
	dashboardGCPercent = 400
	// dashboardHeapShare: the events take a quarter of the bound.
	dashboardHeapShare = 4
)

// limitHeap makes the garbage collector hold the live dashboard's process
// within the store's memory bound plus heapBase (issue 15: with the
// dashboard open under load the process held 437 MB against a bound of
// about 256 MiB). The Store keeps its events within a quarter of the
// bound; the rest is the collector's headroom. With the events at half
// the bound and GOGC=100, a flood through the dashboard (push 64 B) spent
// a third of the process's CPU time marking the events held and relayed
// 380k messages a second; with a quarter and GOGC=400, 560k.
//
// A GOMEMLIMIT in the environment wins, and then GOGC stays the runtime's
// (without a limit, GOGC=400 would let the heap grow to five times the
// live data); a GOGC in the environment wins too.
func limitHeap(store *ui.Store) {
	store.SetHeapFactor(dashboardHeapShare)
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(store.MaxBytes() + heapBase)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(dashboardGCPercent)
	}
}
