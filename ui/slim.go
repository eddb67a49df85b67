package ui

import (
	"reflect"
	"slices"
	"time"
	"unsafe"

	"github.com/frametap/frametap/capture"
)

// slimEvent is how the store holds a WebSocket frame or message event: the
// dozen fields such an event has, in about a tenth of a capture.Event and
// with two pointers instead of sixty. A WebSocket flood is made of these
// events, and held as copies of capture.Event they cost the live dashboard
// most of its CPU time: an allocation of 1 KiB per event on the relay's
// goroutine, and the garbage collector marking every one it held (issue
// 15). A slim event lives inside the store's ring; At and Since make a
// capture.Event of it when asked.
type slimEvent struct {
	t       int64 // Time, Unix nanoseconds
	conn    uint64
	len     int64
	wireLen int64
	payload []byte // kept, at most MaxKeep bytes
	reason  string
	stream  uint32
	frames  int32
	code    int32
	kind    uint8 // slimFrame or slimMessage; 0: not a slim event
	from    uint8 // index in slimSides
	op      uint8 // index in slimOps
	opcode  uint8
	rsv     uint8
	flags   uint8 // slimFin, ...
}

// slimEvent.kind.
const (
	slimFrame = 1 + iota
	slimMessage
)

// slimEvent.flags.
const (
	slimFin = 1 << iota
	slimMasked
	slimCompressed
	slimTruncated
	slimInjected
)

var (
	slimSides = [...]string{"client", "server"}
	slimOps   = [...]string{"", "text", "binary", "close", "ping", "pong", "continuation"}
)

// index returns i with names[i] == s, or -1.
func index(names []string, s string) int {
	for i, n := range names {
		if n == s {
			return i
		}
	}
	return -1
}

// slimOf returns ev as a slimEvent when it is a frame or message event
// that sets no field a slimEvent lacks; ok is false otherwise (the store
// then keeps a copy of the whole event). The payload is copied, cut to
// MaxKeep bytes as copyEvent cuts it.
func slimOf(ev *capture.Event) (s slimEvent, ok bool) {
	switch ev.Kind {
	case capture.KindFrame:
		s.kind = slimFrame
	case capture.KindMessage:
		s.kind = slimMessage
	default:
		return s, false
	}
	from, op := index(slimSides[:], ev.From), index(slimOps[:], ev.Op)
	if from < 0 || op < 0 || ev.Time.IsZero() || int64(ev.Frames) != int64(int32(ev.Frames)) || int64(ev.Code) != int64(int32(ev.Code)) || !slimOnly(ev) {
		return slimEvent{}, false
	}
	s.t, s.conn, s.len, s.wireLen = ev.Time.UnixNano(), ev.Conn, ev.Len, ev.WireLen
	s.reason, s.stream, s.frames, s.code = ev.Reason, ev.Stream, int32(ev.Frames), int32(ev.Code)
	s.from, s.op, s.opcode, s.rsv = uint8(from), uint8(op), ev.Opcode, ev.RSV
	var truncated bool
	s.payload, truncated = keep(ev.Payload, ev.Truncated)
	s.flags = bit(ev.Fin, slimFin) | bit(ev.Masked, slimMasked) | bit(ev.Compressed, slimCompressed) |
		bit(truncated, slimTruncated) | bit(ev.Injected, slimInjected)
	return s, true
}

// bit returns f when set, else 0.
func bit(set bool, f uint8) uint8 {
	if set {
		return f
	}
	return 0
}

// slimOnly reports whether ev sets no field besides those a slimEvent
// holds: every word of the Event that holds another field must be zero.
// The words are found by reflection (otherBits), so a field added to
// capture.Event later keeps an event that sets it out of the slim form,
// with no list here to update.
func slimOnly(ev *capture.Event) bool {
	words := (*[eventWords]uintptr)(unsafe.Pointer(ev))
	var a, b uintptr
	for i := 0; i+1 < eventWords; i += 2 {
		a |= words[i] & otherBits[i]
		b |= words[i+1] & otherBits[i+1]
	}
	if eventWords%2 == 1 {
		a |= words[eventWords-1] & otherBits[eventWords-1]
	}
	return a|b == 0
}

// eventWords is how many machine words a capture.Event has. An Event holds
// pointers, so it is aligned to a word and its size is a whole number of
// words on every platform, and loading it word by word is aligned.
const eventWords = int(unsafe.Sizeof(capture.Event{}) / unsafe.Sizeof(uintptr(0)))

// slimFieldNames are the fields of capture.Event a slimEvent holds.
var slimFieldNames = []string{"Kind", "Conn", "Time", "From", "Op", "Len", "WireLen", "Payload", "Reason",
	"Stream", "Frames", "Code", "Opcode", "RSV", "Fin", "Masked", "Compressed", "Truncated", "Injected"}

// otherBits has, for each word of a capture.Event, the bits that belong to
// fields a slimEvent lacks (padding is left out). It is built byte by byte
// through the same memory view slimOnly reads words through, so it holds
// on either byte order.
var otherBits = func() (bits [eventWords]uintptr) {
	mask := unsafe.Slice((*byte)(unsafe.Pointer(&bits)), unsafe.Sizeof(bits))
	typ := reflect.TypeOf(capture.Event{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		if slices.Contains(slimFieldNames, f.Name) {
			continue
		}
		for b := f.Offset; b < f.Offset+f.Type.Size(); b++ {
			mask[b] = 0xff
		}
	}
	return bits
}()

// event returns the capture.Event s holds, newly allocated. Its Payload is
// the store's: events in the store are immutable.
func (s *slimEvent) event() *capture.Event {
	ev := new(capture.Event)
	s.fill(ev)
	return ev
}

// fill sets the fields of ev, a zero Event, to the event s holds.
func (s *slimEvent) fill(ev *capture.Event) {
	ev.Kind = capture.KindFrame
	if s.kind == slimMessage {
		ev.Kind = capture.KindMessage
	}
	ev.Conn, ev.Time, ev.From, ev.Op = s.conn, time.Unix(0, s.t), slimSides[s.from], slimOps[s.op]
	ev.Len, ev.WireLen, ev.Payload, ev.Reason = s.len, s.wireLen, s.payload, s.reason
	ev.Stream, ev.Frames, ev.Code, ev.Opcode, ev.RSV = s.stream, int(s.frames), int(s.code), s.opcode, s.rsv
	ev.Fin, ev.Masked, ev.Compressed = s.flags&slimFin != 0, s.flags&slimMasked != 0, s.flags&slimCompressed != 0
	ev.Truncated, ev.Injected = s.flags&slimTruncated != 0, s.flags&slimInjected != 0
}

// size is what s costs the store besides its slot: the payload and the
// reason.
func (s *slimEvent) size() int64 {
	return int64(cap(s.payload) + len(s.reason))
}
