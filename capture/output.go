package capture

// Output is somewhere events go: the capture log, the headless printer,
// later the dashboard. Implementations are safe for concurrent use.
type Output interface {
	// Stream returns the sink for one connection's events.
	Stream() Stream
}

// Stream takes one connection's events in order. It is used by one
// goroutine at a time (the proxy holds the connection's lock).
type Stream interface {
	// Add records ev. It must not keep ev or its slices after it returns:
	// they are reused by the decoder. It may block as Flush does: the
	// capture log hands over what it holds before it grows past its bound,
	// and has its writer encode a huge event while Add waits.
	Add(ev *Event)
	// Flush hands what was added to the output. It blocks while the output
	// is behind, so a slow disk slows the connection instead of losing events
	// or growing memory. It returns the output's last write error, if any.
	Flush() error
	// Close releases the stream after a final Flush.
	Close()
}
