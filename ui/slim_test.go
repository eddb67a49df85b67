package ui

import (
	"bytes"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

func slimCases() []*capture.Event {
	t0 := time.Date(2026, 12, 7, 6, 0, 0, 123456789, time.Local)
	return []*capture.Event{
		{Kind: capture.KindFrame, Conn: 7, Time: t0, From: "client", Fin: true, Opcode: 1, Masked: true, Len: 5},
		{Kind: capture.KindFrame, Conn: 7, Time: t0, From: "server", RSV: 4, Opcode: 2, Len: 1 << 40, Stream: 3, Injected: true},
		{Kind: capture.KindMessage, Conn: 1, Time: t0, From: "server", Op: "text", Frames: 1, Len: 5, WireLen: 5, Payload: []byte("hello")},
		{Kind: capture.KindMessage, Conn: 1, Time: t0, From: "client", Op: "binary", Frames: 3, Len: 70000, WireLen: 900, Compressed: true,
			Payload: bytes.Repeat([]byte{0, 0xff}, 35000), Injected: true, Stream: 5},
		{Kind: capture.KindMessage, Conn: 2, Time: t0, From: "client", Op: "close", Frames: 1, Len: 4, WireLen: 4, Code: 1001, Reason: "bye", Payload: []byte{3, 0xe9, 'b', 'y'}},
		{Kind: capture.KindMessage, Conn: 2, Time: t0, From: "server", Op: "ping", Frames: 1, Truncated: true, Payload: []byte("p")},
	}
}

// A frame or message event comes out of the store as it went in, its
// payload cut to MaxKeep as copyEvent cuts it.
func TestSlimRoundTrip(t *testing.T) {
	for i, ev := range slimCases() {
		s, ok := slimOf(ev)
		if !ok {
			t.Fatalf("case %d: %+v is not held slim", i, ev)
		}
		want := copyEvent(ev)
		got := s.event()
		if !got.Time.Equal(want.Time) {
			t.Errorf("case %d: time %v, want %v", i, got.Time, want.Time)
		}
		got.Time = want.Time
		if !reflect.DeepEqual(got, want) {
			t.Errorf("case %d:\n got %+v\nwant %+v", i, got, want)
		}
	}
}

// Each field slimFieldNames lists comes back: a name added there without
// slimOf and fill holding it would be lost.
func TestSlimHoldsEachListedField(t *testing.T) {
	typ := reflect.TypeOf(capture.Event{})
	for _, name := range slimFieldNames {
		switch name {
		case "Kind", "From", "Op", "Time": // set by every case, from a few values
			continue
		}
		f, _ := typ.FieldByName(name)
		ev := *slimCases()[2]
		setNonZero(t, reflect.ValueOf(&ev).Elem().FieldByIndex(f.Index))
		s, ok := slimOf(&ev)
		if !ok {
			t.Errorf("an event with %s set is not held slim", name)
			continue
		}
		got := reflect.ValueOf(s.event()).Elem().FieldByIndex(f.Index).Interface()
		if want := reflect.ValueOf(copyEvent(&ev)).Elem().FieldByIndex(f.Index).Interface(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: held %v, want %v", name, got, want)
		}
	}
}

// An event that sets any field a slimEvent lacks is held whole: each field
// of capture.Event is tried, so a field added later is covered too.
func TestSlimRefusesOtherFields(t *testing.T) {
	typ := reflect.TypeOf(capture.Event{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		if slices.Contains(slimFieldNames, f.Name) {
			continue
		}
		for _, base := range slimCases()[:3] {
			ev := *base
			v := reflect.ValueOf(&ev).Elem().Field(i)
			setNonZero(t, v)
			if _, ok := slimOf(&ev); ok {
				t.Errorf("a %s event with %s set is held slim: the field would be lost", ev.Kind, f.Name)
			}
		}
	}
	for _, ev := range []*capture.Event{
		{Kind: capture.KindMessage, Conn: 1, Time: time.Now(), From: "client", Op: "0x3"},
		{Kind: capture.KindFrame, Conn: 1, Time: time.Now(), From: "both"},
		{Kind: capture.KindFrame, Conn: 1},
		{Kind: capture.KindRequest, Conn: 1, Time: time.Now()},
	} {
		if _, ok := slimOf(ev); ok {
			t.Errorf("%+v is held slim", ev)
		}
	}
}

// setNonZero gives v a value other than its zero.
func setNonZero(t *testing.T, v reflect.Value) {
	t.Helper()
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Unix(1, 0)))
			return
		}
		setNonZero(t, v.Field(0))
	case reflect.Array:
		setNonZero(t, v.Index(0))
	default:
		t.Fatalf("no non-zero value for a %s", v.Type())
	}
}

// Holding a frame event in the store does not allocate: the relay's
// goroutine hands the dashboard a WebSocket flood without garbage.
func TestSlimStoreAddDoesNotAllocate(t *testing.T) {
	s := NewStoreSize(64, 0)
	st := s.Stream()
	ev := slimCases()[0]
	for range 2 * 64 { // the ring and the stream's batch reach their size
		st.Add(ev)
		st.Flush()
	}
	if n := testing.AllocsPerRun(1000, func() { st.Add(ev); st.Flush() }); n != 0 {
		t.Errorf("adding a frame event: %v allocations, want 0", n)
	}
	if got := s.At(s.Total() - 1); got == nil || got.Kind != capture.KindFrame || got.Len != 5 {
		t.Errorf("the last event held is %+v", got)
	}
}

// At makes a slim event once and gives the same Event while it is among the
// last it made; a dropped one is gone whatever the cache holds.
func TestStoreAtKeepsSlimEvents(t *testing.T) {
	s := NewStore(4)
	st := s.Stream()
	for _, ev := range slimCases()[:2] {
		st.Add(ev)
	}
	st.Flush()
	a, b := s.At(0), s.At(1)
	if a == nil || b == nil || a.Kind != capture.KindFrame || a == b {
		t.Fatalf("At(0), At(1) = %+v, %+v", a, b)
	}
	if s.At(0) != a {
		t.Error("a second At(0) made the event again")
	}
	for range 4 { // event 0 and 1 are dropped
		st.Add(slimCases()[0])
	}
	st.Flush()
	if ev := s.At(0); ev != nil {
		t.Errorf("At of a dropped event = %+v, want nil", ev)
	}
	if ev := s.At(0 + atCacheLen); ev != nil {
		t.Errorf("At past the events taken = %+v, want nil", ev)
	}
}
