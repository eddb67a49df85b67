package ui

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// The model keeps the open connections and the closed ones the store still
// holds events of, not every connection ever seen (--ui-events 100 with
// 20,000 short connections).
func TestConnsBounded(t *testing.T) {
	for _, tc := range []struct {
		name  string
		every int // refresh after this many connections
	}{
		{"refresh keeps up", 10},
		{"refresh falls behind the store", 400},
	} {
		st := NewStore(100)
		u := New(Config{}, st)
		// Three connections that stay open from the start.
		for id := uint64(1); id <= 3; id++ {
			addNow(st.Stream(), &capture.Event{Kind: capture.KindOpen, Conn: id, Time: at(0), Client: "127.0.0.1:2"})
		}
		u.refresh()
		for id := uint64(4); id <= 20_000; id++ {
			s := st.Stream()
			addNow(s, &capture.Event{Kind: capture.KindOpen, Conn: id, Time: at(0), Client: "127.0.0.1:1"})
			addNow(s, &capture.Event{Kind: capture.KindClose, Conn: id, Time: at(1)})
			if id%uint64(tc.every) == 0 {
				u.refresh()
			}
		}
		u.refresh()
		if got, max := len(u.st.conns), 3+st.Max(); got > max {
			t.Errorf("%s: model keeps %d connections, want at most %d (3 open + one per event held)", tc.name, got, max)
		}
		if got, want := len(u.st.byID), len(u.st.conns); got != want {
			t.Errorf("%s: byID has %d, conns %d", tc.name, got, want)
		}
		for id := uint64(1); id <= 3; id++ {
			if c := u.st.byID[id]; c == nil || c.state == stateClosed {
				t.Errorf("%s: open connection #%d was dropped", tc.name, id)
			}
		}
		if got, want := u.st.open, 3; got != want {
			t.Errorf("%s: open got %d, want %d", tc.name, got, want)
		}
		if c := u.st.byID[20_000]; c == nil || len(c.rows) != 2 {
			t.Errorf("%s: the newest connection and its 2 events should be held: %+v", tc.name, c)
		}
	}
}

// Dropped already counts the events the store let go before the model
// applied them: counted once, and described by where they still are.
func TestDroppedCountedOnce(t *testing.T) {
	evs := make([]capture.Event, 0, 1000)
	evs = append(evs, capture.Event{Kind: capture.KindOpen, Conn: 1, Time: at(0), Client: "127.0.0.1:1"})
	for i := 1; i < 1000; i++ {
		evs = append(evs, capture.Event{Kind: capture.KindMessage, Conn: 1, Time: at(i), From: "server", Op: "text", Len: 1, Payload: []byte("x")})
	}
	for _, tc := range []struct {
		name  string
		cfg   Config
		every int // refresh after this many events; 0: once at the end
		want  string
	}{
		{"capture file, one refresh", Config{CaptureFile: "cap.jsonl"}, 0, "900 older events only in the capture file"},
		{"capture file, refresh keeps up", Config{CaptureFile: "cap.jsonl"}, 10, "900 older events only in the capture file"},
		{"capture file, refresh falls behind", Config{CaptureFile: "cap.jsonl"}, 250, "900 older events only in the capture file"},
		{"no capture file", Config{}, 0, "900 older events dropped from memory ·"},
		{"view", Config{ReadOnly: true, Source: "x.jsonl"}, 0, "900 older events only in the capture file"},
	} {
		st := NewStore(100)
		u := New(tc.cfg, st)
		for i := range evs {
			feed(st, evs[i:i+1])
			if tc.every > 0 && (i+1)%tc.every == 0 {
				u.refresh()
			}
		}
		u.refresh()
		if got := u.status.GetText(true); !strings.Contains(got, tc.want) {
			t.Errorf("%s: status %q, want %q", tc.name, got, tc.want)
		}
	}
}

// The store bounds the memory its events hold as well as their number,
// and counts what it let go for the budget as dropped.
func TestStoreByteBudget(t *testing.T) {
	const budget = 4 << 20
	big := bytes.Repeat([]byte("x"), 10<<10)
	for _, tc := range []struct {
		name        string
		events      int
		payload     []byte
		owned       bool // AddOwned, as frametap view does: no MaxKeep cut
		wantHeld    int
		wantDropped int
		factor      int // SetHeapFactor; 0: the default
	}{
		{"small events: the event count binds", 5000, []byte("x"), false, 1000, 4000, 0},
		{"10 KiB payloads: the budget binds", 500, big, false, 0, 0, 0},
		{"10 KiB payloads, a quarter of the budget (serve)", 500, big, false, 0, 0, 4},
		{"one event over the budget alone is held", 3, bytes.Repeat([]byte("y"), 2*budget), true, 1, 2, 0},
	} {
		s := NewStoreSize(1000, budget)
		factor := int64(DefaultHeapFactor)
		if tc.factor > 0 {
			s.SetHeapFactor(tc.factor)
			factor = int64(tc.factor)
		}
		for i := range tc.events {
			ev := &capture.Event{Kind: capture.KindMessage, Conn: 1, Time: time.Unix(1e9, 0), From: "server", Op: "binary", Payload: tc.payload, Len: int64(len(tc.payload))}
			if tc.owned {
				ev.Payload = bytes.Clone(tc.payload)
				s.AddOwned(ev)
			} else {
				addNow(s.Stream(), ev)
			}
			if s.At(i) == nil {
				t.Fatalf("%s: the newest event %d is not held", tc.name, i)
			}
		}
		held := s.Total() - s.Base()
		var got int64
		for i := s.Base(); i < s.Total(); i++ {
			got += slotSize(&s.ring[i%s.max])
		}
		if got != s.bytes {
			t.Errorf("%s: store counts %d bytes, its events hold %d", tc.name, s.bytes, got)
		}
		if held > 1 && got > budget/factor {
			t.Errorf("%s: %d events hold %d bytes, over the budget of %d", tc.name, held, got, budget)
		}
		if s.Dropped() != tc.events-held {
			t.Errorf("%s: Dropped %d, want %d", tc.name, s.Dropped(), tc.events-held)
		}
		if tc.wantHeld > 0 && (held != tc.wantHeld || s.Dropped() != tc.wantDropped) {
			t.Errorf("%s: held %d dropped %d, want %d and %d", tc.name, held, s.Dropped(), tc.wantHeld, tc.wantDropped)
		}
		if perBudget := int(budget/factor) / len(tc.payload); tc.wantHeld == 0 && (held >= tc.events || held < perBudget/2) {
			t.Errorf("%s: held %d of %d events, want about %d", tc.name, held, tc.events, perBudget)
		}
	}
	if got, want := NewStore(0).MaxBytes(), int64(DefaultMaxBytes); got != want {
		t.Errorf("NewStore's budget: got %d, want %d", got, want)
	}
}

// The model follows the store when it drops for the byte budget.
func TestStoreByteBudgetModel(t *testing.T) {
	st := NewStoreSize(1000, 1<<20)
	u := New(Config{CaptureFile: "cap.jsonl"}, st)
	big := bytes.Repeat([]byte("x"), 60<<10)
	for id := uint64(1); id <= 100; id++ {
		feed(st, []capture.Event{
			{Kind: capture.KindOpen, Conn: id, Time: at(0), Client: "127.0.0.1:1"},
			{Kind: capture.KindResponse, Conn: id, Time: at(1), Seq: 1, Status: 200, BodyLen: int64(len(big)), Body: big},
			{Kind: capture.KindClose, Conn: id, Time: at(2)},
		})
		u.refresh()
	}
	if got := len(u.st.conns); got > 20 {
		t.Errorf("model keeps %d connections of 100 with about 16 bodies held", got)
	}
	want := fmt.Sprintf("%d older events only in the capture file", st.Dropped())
	if got := u.status.GetText(true); st.Dropped() == 0 || !strings.Contains(got, want) {
		t.Errorf("status %q, want %q", got, want)
	}
}
