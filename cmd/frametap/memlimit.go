package main

import (
	"os"
	"runtime/debug"

	"github.com/frametap/frametap/ui"
)

// The live dashboard's collector settings (limitHeap): the heap may grow
// to five times the live data before the collector runs, within the soft
// memory limit, and the events take a quarter of the bound.
const (
	dashboardGCPercent = 400
	dashboardHeapShare = 4
)

// limitHeap makes the garbage collector hold the live dashboard's process
// within the store's memory bound (issue 15: with the dashboard open under
// load the process held 437 MB against a bound of about 256 MiB). The
// Store keeps its events within a quarter of the bound; the rest is the
// collector's headroom and what the relay and the capture log use
// besides. With the events at half the bound, GOGC=100 and a soft limit of
// the bound plus 64 MiB, a flood through the dashboard (push 64 B) spent a
// third of the process's CPU time marking the events held, relayed 380k
// messages a second and held 325 MB; with a quarter, GOGC=400 and a soft
// limit of the bound, 560k and 250 MB. A GOGC or GOMEMLIMIT in the
// environment wins.
func limitHeap(store *ui.Store) {
	store.SetHeapFactor(dashboardHeapShare)
	storeBytes := store.MaxBytes()
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(dashboardGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(storeBytes)
	}
}
