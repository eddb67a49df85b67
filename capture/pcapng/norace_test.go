//go:build !race

package pcapng

const raceEnabled = false
