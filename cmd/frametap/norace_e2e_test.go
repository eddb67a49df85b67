//go:build !race

package main

// raceEnabled: the suite runs without the race detector.
const raceEnabled = false
