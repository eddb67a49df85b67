package ui

import (
	"iter"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/frametap/frametap/capture"
)

// Defaults of a Store.
const (
	// DefaultMaxEvents is how many events the dashboard holds when
	// --ui-events is not given.
	DefaultMaxEvents = 200_000
	// DefaultMaxBytes is about how much memory the events a Store holds may
	// cost the process (bodies, payloads, headers and the events
	// themselves, and the garbage collector's headroom: see DefaultHeapFactor)
	// before the oldest are dropped, however few they are: 200,000 events
	// with 64 KiB bodies would otherwise be 12 GiB.
	DefaultMaxBytes = 256 << 20
	// MaxKeep is how many bytes of each body and message payload the
	// dashboard keeps in memory; the capture file has the rest.
	MaxKeep = 64 << 10
)

// Store is the dashboard's memory of events: a capture.Output whose streams
// copy each event (bounding bodies and payloads to MaxKeep bytes) and append
// it under a short lock of the store's own, so the relay never waits on the
// screen. It holds at most its capacity in events and about its byte budget
// in memory (see eventSize); past either the oldest events are dropped, and
// Dropped says how many. The newest event is always held.
//
// Events are addressed by their absolute index, counted from the first
// event the store ever took: the events held are those from Base to
// Total-1. An event in the store is immutable.
//
// Store is safe for concurrent use.
type Store struct {
	max        int
	maxBytes   int64
	heapFactor int64 // events are held within maxBytes/heapFactor; under mu

	mu    sync.RWMutex
	ring  []slot  // event i is ring[i%max] for Base() <= i < Total()
	sizes []int64 // sizes[i%max] is what ring[i%max] costs (slotSize), counted once
	base  int     // absolute index of the oldest event held
	total int     // absolute index of the next event
	bytes int64   // eventSize of the events held

	totalA atomic.Int64 // mirrors total for lock-free polling by the pump

	cacheMu sync.Mutex              // guards cache; never held with mu
	cache   [atCacheLen]cachedEvent // slim events At made lately, by index modulo atCacheLen

	// The live side (live.go): connections whose streams are open.
	liveMu      sync.RWMutex
	lives       map[uint64]*liveConn
	closedBytes int64       // bytes relayed on connections no longer registered
	hasLive     atomic.Bool // some stream reported bytes relayed
}

// NewStore returns a Store holding at most max events and DefaultMaxBytes;
// max <= 0 means DefaultMaxEvents.
func NewStore(max int) *Store { return NewStoreSize(max, 0) }

// NewStoreSize returns a Store holding at most maxEvents events and about
// maxBytes bytes of them; maxEvents <= 0 means DefaultMaxEvents and
// maxBytes <= 0 DefaultMaxBytes.
func NewStoreSize(maxEvents int, maxBytes int64) *Store {
	if maxEvents <= 0 {
		maxEvents = DefaultMaxEvents
	}
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	return &Store{max: maxEvents, maxBytes: maxBytes, heapFactor: DefaultHeapFactor}
}

// Stream returns a sink for one connection's events. It implements
// capture.Live too (live.go).
func (s *Store) Stream() capture.Stream { return &storeStream{s: s, lc: &liveConn{}} }

// Max returns the store's capacity in events.
func (s *Store) Max() int { return s.max }

// MaxBytes returns the store's byte budget.
func (s *Store) MaxBytes() int64 { return s.maxBytes }

// slot is how the store holds one event: a WebSocket frame or message as
// a slimEvent, anything else as a copy of the event.
type slot struct {
	ev   *capture.Event // nil for a slim event
	slim slimEvent
}

// event returns the event sl holds: a slim one is made anew.
func (sl *slot) event() *capture.Event {
	if sl.ev != nil || sl.slim.kind == 0 {
		return sl.ev
	}
	return sl.slim.event()
}

// slotSize estimates the memory sl holds: the event's (eventSize), or the
// slim event's variable parts and its slot.
func slotSize(sl *slot) int64 {
	if sl.ev != nil {
		return eventSize(sl.ev)
	}
	return slotOverhead + sl.slim.size()
}

// add appends ev, which the store now owns.
func (s *Store) add(ev *capture.Event) {
	sl := slot{ev: ev}
	n := slotSize(&sl)
	s.mu.Lock()
	s.put(sl, n)
	s.totalA.Store(int64(s.total)) // under mu: two adds must not publish out of order
	s.mu.Unlock()
}

// addBatch appends evs, which the store now owns, sizes[i] being
// eventSize(evs[i]), under one hold of the lock: the lock all connections
// share is taken once per chunk a connection relays, not once per event
// (with 8 connections adding events as fast as they could, the mutex
// profile showed them waiting on each other for 98% of the time).
func (s *Store) addBatch(evs []slot, sizes []int64) {
	s.mu.Lock()
	for i := range evs {
		s.put(evs[i], sizes[i])
	}
	s.totalA.Store(int64(s.total))
	s.mu.Unlock()
}

// put appends ev of size n. Callers hold mu.
func (s *Store) put(ev slot, n int64) {
	if s.total-s.base == s.max {
		s.drop() // its slot is the one ev takes
	}
	if len(s.ring) < s.max {
		s.ring = append(s.ring, ev)
		s.sizes = append(s.sizes, n)
	} else {
		s.ring[s.total%s.max] = ev
		s.sizes[s.total%s.max] = n
	}
	s.total++
	s.bytes += n
	for s.bytes > s.maxBytes/s.heapFactor && s.total-s.base > 1 {
		s.drop()
	}
}

// drop lets the oldest event held go. Callers hold mu.
func (s *Store) drop() {
	k := s.base % s.max
	s.bytes -= s.sizes[k]
	s.ring[k] = slot{}
	s.base++
}

// DefaultHeapFactor is how much more memory than the events it holds the
// process needs to hold them, by default: Go's garbage collector
// (GOGC=100) lets the heap grow to twice the live data before it collects,
// so a store of 256 MiB of events made a process of 437 MiB (issue 15).
// The Store keeps the events it holds within MaxBytes/HeapFactor, so that
// the heap stays within about MaxBytes. serve leaves more room (see
// SetHeapFactor).
const DefaultHeapFactor = 2

// SetHeapFactor makes the store keep its events within MaxBytes/f from now
// on, leaving the rest of its bound to the garbage collector's headroom
// and the rest of the process. The cost of collecting grows with the live
// data over the headroom: with the events at half the bound, a flood
// through the live dashboard (push 64 B) spent a third of the process's
// CPU time marking them, so serve holds a quarter and runs the collector
// with GOGC=400 under a soft limit of MaxBytes plus a base (memlimit.go).
// f below 1 counts as 1.
func (s *Store) SetHeapFactor(f int) {
	s.mu.Lock()
	s.heapFactor = int64(max(f, 1))
	s.mu.Unlock()
}

// slotOverhead is what any event costs the store: its slot in the ring
// and its size.
const slotOverhead = int64(unsafe.Sizeof(slot{}) + unsafe.Sizeof(int64(0)))

// eventOverhead is what an event held whole costs besides its variable
// parts: the allocation that holds a copy (an Event is rounded up to the
// allocator's size class, 968 bytes to 1024) and its slot.
var eventOverhead = allocSize(int(unsafe.Sizeof(capture.Event{}))) + slotOverhead

// allocSize returns the bytes the allocator gives an object of n bytes:
// growing a slice rounds its capacity up to the same size classes.
func allocSize(n int) int64 {
	return int64(cap(append([]byte(nil), make([]byte, n)...)))
}

// eventSize estimates the memory ev holds: the event, its body, payload,
// header fields and the longer strings. It must not change while ev is
// held (events in the store are immutable).
func eventSize(ev *capture.Event) int64 {
	if ev == nil {
		return 0
	}
	n := eventOverhead + int64(cap(ev.Body)+cap(ev.Payload)+cap(ev.DecodedBody)+len(ev.DecodeErr))
	for _, hs := range [][]capture.Header{ev.Headers, ev.Trailers} {
		n += int64(cap(hs)) * int64(unsafe.Sizeof(capture.Header{}))
		for _, h := range hs {
			n += int64(len(h[0]) + len(h[1]))
		}
	}
	return n + int64(len(ev.Target)+len(ev.Msg)+len(ev.Err)+len(ev.Reason)+len(ev.StatusText))
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

// At returns event i, or nil when it is not held (dropped or not yet
// taken). A slim event is made when asked, and the last few made are kept
// (atCache): a redraw's table cells and the filter ask for the same events
// again and again.
func (s *Store) At(i int) *capture.Event {
	s.mu.RLock()
	if i < s.base || i >= s.total {
		s.mu.RUnlock()
		return nil
	}
	sl := s.ring[i%s.max]
	s.mu.RUnlock()
	if sl.ev != nil || sl.slim.kind == 0 {
		return sl.ev
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	c := &s.cache[i%len(s.cache)]
	if c.ev == nil || c.i != i { // absolute indices are never reused
		*c = cachedEvent{i: i, ev: sl.slim.event()}
	}
	return c.ev
}

// atCacheLen is how many slim events At keeps made: at most 64 payloads of
// MaxKeep bytes stay referenced after the store dropped their events.
const atCacheLen = 64

// cachedEvent is a slim event At made, and its absolute index.
type cachedEvent struct {
	i  int
	ev *capture.Event
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
		evs = append(evs, s.ring[i%s.max].event())
	}
	return evs, first
}

// Each calls fn with every event held from absolute index from up to the
// Total at the call, in order, and returns the index after the last. It is
// how the dashboard applies new events: the events of WebSocket frames and
// messages are made in one scratch Event, reused for the next, so a flood
// of them costs no allocation per event here either; fn must not keep ev.
// The store's lock is held only while a few hundred slots are copied, never
// while fn runs: the relay does not wait on the screen.
func (s *Store) Each(from int, fn func(i int, ev *capture.Event)) (next int) {
	var (
		buf     [256]slot
		scratch capture.Event
	)
	end := s.Total()
	for from < end {
		s.mu.RLock()
		first := max(from, s.base)
		n := min(end-first, len(buf))
		for k := range max(n, 0) {
			buf[k] = s.ring[(first+k)%s.max]
		}
		s.mu.RUnlock()
		if n <= 0 {
			return first
		}
		for k := range n {
			ev := buf[k].ev
			if ev == nil {
				scratch = capture.Event{}
				buf[k].slim.fill(&scratch)
				ev = &scratch
			}
			fn(first+k, ev)
		}
		clear(buf[:n]) // let what they point to go
		from = first + n
	}
	return from
}

// Snapshot returns the events held now, one at a time, and how many they
// are. It copies the store's slots, not the events (a tenth of their
// size for slim ones): the `w` key writes 200,000 events without making
// them all at once. A slim event is made in one scratch Event, valid
// until the next is asked for; whole events are the store's.
func (s *Store) Snapshot() (evs iter.Seq[*capture.Event], n int) {
	s.mu.RLock()
	slots := make([]slot, 0, s.total-s.base)
	for i := s.base; i < s.total; i++ {
		slots = append(slots, s.ring[i%s.max])
	}
	s.mu.RUnlock()
	return func(yield func(*capture.Event) bool) {
		var scratch capture.Event
		for k := range slots {
			ev := slots[k].ev
			if ev == nil {
				scratch = capture.Event{}
				slots[k].slim.fill(&scratch)
				ev = &scratch
			}
			if !yield(ev) {
				return
			}
		}
	}, len(slots)
}

// Clear forgets every event held; the absolute indices go on.
func (s *Store) Clear() {
	s.mu.Lock()
	s.base = s.total
	s.bytes = 0
	clear(s.ring) // let the GC have them; ring[i%max] addressing stays
	clear(s.sizes)
	s.mu.Unlock()
}

// storeStream is a Store's capture.Stream, and its capture.Live. The
// proxy calls it from one connection's goroutines, one call at a time.
type storeStream struct {
	s          *Store
	lc         *liveConn
	registered bool

	// The events added since the last Flush, in a batch from batchPool
	// (nil between flushes: an idle connection holds none), and the
	// exchanges whose final response is among them.
	batch *storeBatch
	done  []int
}

// storeBatch is the slots a stream fills between two flushes, with their
// sizes. It comes from batchPool at a chunk's first event and goes back at
// Flush: a slot is 112 bytes, and a stream that kept a batch of its own
// between chunks would hold 8 KiB for the life of its connection.
type storeBatch struct {
	n     int
	slots [storeBatchLen]slot
	sizes [storeBatchLen]int64
}

// storeBatchLen is the most events a stream holds before it hands them to
// the store without waiting for Flush.
const storeBatchLen = 64

var batchPool = sync.Pool{New: func() any { return new(storeBatch) }}

// Add copies ev, which the decoder reuses after the call; Flush appends
// the copies to the store.
func (st *storeStream) Add(ev *capture.Event) {
	if !st.registered {
		st.registered = true
		st.lc.id = ev.Conn
		st.s.register(st.lc)
	}
	if st.batch == nil {
		st.batch = batchPool.Get().(*storeBatch)
	}
	b := st.batch
	sl := &b.slots[b.n]
	if s, ok := slimOf(ev); ok {
		sl.slim = s
	} else {
		sl.ev = copyEvent(ev)
	}
	b.sizes[b.n] = slotSize(sl)
	b.n++
	if ev.Kind == capture.KindResponse && (ev.Status >= 200 || ev.Status == 101) {
		st.done = append(st.done, ev.Seq)
	}
	if b.n == storeBatchLen {
		st.Flush()
	}
}

// Flush appends the events added since the last Flush to the store.
func (st *storeStream) Flush() error {
	b := st.batch
	if b == nil {
		return nil
	}
	st.batch = nil
	st.s.addBatch(b.slots[:b.n], b.sizes[:b.n])
	clear(b.slots[:b.n]) // what the slots point to is the store's now
	b.n = 0
	batchPool.Put(b)
	for _, seq := range st.done {
		st.lc.done(seq) // the row shows the event from now on
	}
	st.done = st.done[:0]
	return nil
}

// Close appends what is left and forgets the connection's live side: its
// last event is in.
func (st *storeStream) Close() {
	st.Flush()
	st.done = nil
	if st.registered {
		st.s.unregister(st.lc)
	}
}

// copyEvent returns a copy of ev that shares no slice with it, with Body
// and Payload cut to MaxKeep bytes (and Truncated set when cut).
func copyEvent(ev *capture.Event) *capture.Event {
	c := *ev
	c.Headers = copyHeaders(ev.Headers)
	c.Trailers = copyHeaders(ev.Trailers)
	c.Body, c.Truncated = keep(ev.Body, c.Truncated)
	c.Payload, c.Truncated = keep(ev.Payload, c.Truncated)
	c.DecodedBody, c.DecodedTruncated = keep(ev.DecodedBody, c.DecodedTruncated)
	c.EIO = ev.EIO.Clone() // issue 10, Socket.IO: nil on other kinds
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
