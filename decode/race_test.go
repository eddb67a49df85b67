//go:build race

package decode

func init() { raceEnabled = true }
