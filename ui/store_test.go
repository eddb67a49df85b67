package ui

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// The decoder reuses an event's slices after Add: the store must have
// copied them.
func TestStoreCopies(t *testing.T) {
	s := NewStore(0)
	body := []byte("hello")
	hdrs := []capture.Header{{"Host", "a"}}
	ev := capture.Event{Kind: capture.KindRequest, Body: body, Headers: hdrs}
	st := s.Stream()
	addNow(st, &ev)
	copy(body, "XXXXX")
	hdrs[0][1] = "changed"
	got := s.At(0)
	if string(got.Body) != "hello" || got.Headers[0][1] != "a" {
		t.Errorf("stored event shares slices with the decoder's: body %q, header %q", got.Body, got.Headers[0][1])
	}
}

func TestStoreBoundsPayloads(t *testing.T) {
	s := NewStore(0)
	big := bytes.Repeat([]byte("x"), MaxKeep+100)
	addNow(s.Stream(), &capture.Event{Kind: capture.KindMessage, Payload: big, Len: int64(len(big))})
	got := s.At(0)
	if len(got.Payload) != MaxKeep || !got.Truncated || got.Len != int64(len(big)) {
		t.Errorf("payload %d bytes truncated=%v len=%d; want %d, true, %d", len(got.Payload), got.Truncated, got.Len, MaxKeep, len(big))
	}
}

func TestStoreDropsOldest(t *testing.T) {
	s := NewStore(3)
	st := s.Stream()
	for i := range 5 {
		addNow(st, &capture.Event{Kind: capture.KindError, Conn: uint64(i)})
	}
	if got, want := s.Dropped(), 2; got != want {
		t.Errorf("dropped: got %d, want %d", got, want)
	}
	if s.At(1) != nil || s.At(2).Conn != 2 || s.At(4).Conn != 4 {
		t.Errorf("held events wrong: %v %v %v", s.At(1), s.At(2), s.At(4))
	}
	evs, first := s.Since(0)
	if first != 2 || len(evs) != 3 || evs[2].Conn != 4 {
		t.Errorf("Since(0): first %d, %d events", first, len(evs))
	}
	s.Clear()
	addNow(st, &capture.Event{Kind: capture.KindError, Conn: 5})
	if evs, first := s.Since(0); first != 5 || len(evs) != 1 || evs[0].Conn != 5 {
		t.Errorf("after Clear: first %d, %d events", first, len(evs))
	}
}

// Streams of different connections add concurrently (found by the race
// detector in the tmux end-to-end run: Total was published outside the lock).
func TestStoreConcurrentAdds(t *testing.T) {
	s := NewStore(100)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := s.Stream()
			for i := range 200 {
				addNow(st, &capture.Event{Kind: capture.KindFrame, Conn: uint64(g + 1), Seq: i})
			}
		}()
	}
	wg.Wait()
	if s.Total() != 1600 || s.Base() != 1500 {
		t.Errorf("Total %d Base %d, want 1600 and 1500", s.Total(), s.Base())
	}
}

// Snapshot yields the events held when it was taken, in order, slim and
// whole alike, even once the store has moved on.
func TestStoreSnapshot(t *testing.T) {
	s := NewStore(4)
	st := s.Stream()
	t0 := time.Unix(1e9, 0)
	for i := range 6 {
		ev := &capture.Event{Kind: capture.KindMessage, Conn: uint64(i), Time: t0, From: "client", Op: "text", Payload: []byte{'a' + byte(i)}}
		if i%2 == 1 {
			ev.Kind, ev.Op, ev.Payload, ev.Msg = capture.KindError, "", nil, "whole" // not slim
		}
		st.Add(ev)
	}
	st.Flush()
	evs, n := s.Snapshot()
	st.Add(&capture.Event{Kind: capture.KindOpen, Conn: 99, Time: t0})
	st.Flush()
	var got []string
	for ev := range evs {
		got = append(got, fmt.Sprintf("%d:%s%s%s", ev.Conn, ev.Kind, ev.Payload, ev.Msg))
	}
	want := []string{"2:messagec", "3:errorwhole", "4:messagee", "5:errorwhole"}
	if n != len(want) || !slices.Equal(got, want) {
		t.Errorf("snapshot of %d: %q, want %q", n, got, want)
	}
}
