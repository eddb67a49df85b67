//go:build race

package main

// raceEnabled: the suite runs under the race detector, so the frametap
// binary it builds does too.
const raceEnabled = true
