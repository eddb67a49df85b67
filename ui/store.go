package ui

import (
	"sync"
	"sync/atomic"

	"github.com/frametap/frametap/capture"
)

// Defaults of a Store.
const (
	// DefaultMaxEvents is how many events the dashboard holds when
	// --ui-events is not given.
	DefaultMaxEvents = 200_000
	// MaxKeep is how many bytes of each body and message payload the
	// dashboard keeps in memory; the capture file has the rest.
	MaxKeep = 64 << 10
)

// Store is the dashboard's memory of events: a capture.Output whose streams
// copy each event (bounding bodies and payloads to MaxKeep bytes) and append
// it under a short lock of the store's own, so the relay never waits on the
// screen. It holds at most its capacity; past that the oldest events are
// dropped, and Dropped says how many.
//
// Events are addressed by their absolute index, counted from the first
// event the store ever took: the events held are those from Base to
// Total-1. An event in the store is immutable.
//
// Store is safe for concurrent use.
type Store struct {
	max int

	mu    sync.RWMutex
	ring  []*capture.Event // event i is ring[i%max] for Base() <= i < Total()
	base  int              // absolute index of the oldest event held
	total int              // absolute index of the next event

	totalA atomic.Int64 // mirrors total for lock-free polling by the pump
}

// NewStore returns a Store holding at most max events; max <= 0 means
// DefaultMaxEvents.
func NewStore(max int) *Store {
	if max <= 0 {
		max = DefaultMaxEvents
	}
	return &Store{max: max}
}

// Stream returns a sink for one connection's events.
func (s *Store) Stream() capture.Stream { return storeStream{s} }

// Max returns the store's capacity.
func (s *Store) Max() int { return s.max }

// add appends ev, which the store now owns.
func (s *Store) add(ev *capture.Event) {
	s.mu.Lock()
	if len(s.ring) < s.max {
		s.ring = append(s.ring, ev)
	} else {
		s.ring[s.total%s.max] = ev
	}
	s.total++
	if s.total-s.base > s.max {
		s.base = s.total - s.max
	}
	s.totalA.Store(int64(s.total)) // under mu: two adds must not publish out of order
	s.mu.Unlock()
}

// AddOwned appends ev without copying it: the caller gives it up (the
// reader of a saved capture allocates each event anew).
func (s *Store) AddOwned(ev *capture.Event) { s.add(ev) }

// Total returns the absolute index of the next event: how many events the
// store has taken since it was made.
func (s *Store) Total() int { return int(s.totalA.Load()) }

// Base returns the absolute index of the oldest event held.
func (s *Store) Base() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.base
}

// Dropped returns how many events were dropped to stay within capacity or
// by Clear.
func (s *Store) Dropped() int { return s.Base() }

// At returns event i, or nil when it is not held (dropped or not yet taken).
func (s *Store) At(i int) *capture.Event {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if i < s.base || i >= s.total {
		return nil
	}
	return s.ring[i%s.max]
}

// Since returns the events held from absolute index from on, and the index
// of the first one returned (later than from when some were dropped).
func (s *Store) Since(from int) (evs []*capture.Event, first int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	first = max(from, s.base)
	if first >= s.total {
		return nil, s.total
	}
	evs = make([]*capture.Event, 0, s.total-first)
	for i := first; i < s.total; i++ {
		evs = append(evs, s.ring[i%s.max])
	}
	return evs, first
}

// Clear forgets every event held; the absolute indices go on.
func (s *Store) Clear() {
	s.mu.Lock()
	s.base = s.total
	clear(s.ring) // let the GC have them; ring[i%max] addressing stays
	s.mu.Unlock()
}

// storeStream is a Store's capture.Stream.
type storeStream struct{ s *Store }

// Add copies ev, which the decoder reuses after the call, and appends it.
func (st storeStream) Add(ev *capture.Event) { st.s.add(copyEvent(ev)) }

// Flush does nothing: Add has already handed the event over.
func (storeStream) Flush() error { return nil }

// Close does nothing.
func (storeStream) Close() {}

// copyEvent returns a copy of ev that shares no slice with it, with Body
// and Payload cut to MaxKeep bytes (and Truncated set when cut).
func copyEvent(ev *capture.Event) *capture.Event {
	c := *ev
	c.Headers = copyHeaders(ev.Headers)
	c.Trailers = copyHeaders(ev.Trailers)
	c.Body, c.Truncated = keep(ev.Body, c.Truncated)
	c.Payload, c.Truncated = keep(ev.Payload, c.Truncated)
	return &c
}

func copyHeaders(hs []capture.Header) []capture.Header {
	if len(hs) == 0 {
		return nil
	}
	return append([]capture.Header(nil), hs...)
}

func keep(b []byte, truncated bool) ([]byte, bool) {
	if len(b) == 0 {
		return nil, truncated
	}
	if len(b) > MaxKeep {
		return append([]byte(nil), b[:MaxKeep]...), true
	}
	return append([]byte(nil), b...), truncated
}
