package capture

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReader(t *testing.T) {
	in := "\n" +
		`{"kind":"open","conn":1,"t":"2025-03-14T19:51:02.5+01:00","client":"a:1","mode":"regular"}` + "\r\n" +
		"   \n" +
		`{"kind":"hologram","conn":2,"t":"2025-03-14T19:51:02Z","msg":"hi","depth":3,"layers":[1,2]}` + "\n" +
		`{"kind":"gap","conn":0,"t":"2025-03-14T19:51:09Z","lost":7,"since":"2025-03-14T19:51:03Z","msg":"disk full"}` + "\n" +
		`{"kind":"error","conn":2,"t":"2025-03-14T19:51:02Z","msg":"no newline at the end"}`
	want := []Event{
		{Kind: KindOpen, Conn: 1, Time: time.Date(2025, 3, 14, 18, 51, 2, 5e8, time.UTC), Client: "a:1", Mode: "regular"},
		{Kind: "hologram", Conn: 2, Time: time.Date(2025, 3, 14, 19, 51, 2, 0, time.UTC), Msg: "hi"},
		{Kind: KindGap, Time: time.Date(2025, 3, 14, 19, 51, 9, 0, time.UTC), Lost: 7, Since: time.Date(2025, 3, 14, 19, 51, 3, 0, time.UTC), Msg: "disk full"},
		{Kind: KindError, Conn: 2, Time: time.Date(2025, 3, 14, 19, 51, 2, 0, time.UTC), Msg: "no newline at the end"},
	}
	wantLines := []int{2, 4, 5, 6}
	r := NewReader(strings.NewReader(in))
	for i := range want {
		got, err := r.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if got.Kind != want[i].Kind || got.Conn != want[i].Conn || !got.Time.Equal(want[i].Time) || got.Time.Location() != time.UTC ||
			got.Client != want[i].Client || got.Mode != want[i].Mode || got.Msg != want[i].Msg {
			t.Errorf("event %d: got %+v, want %+v", i, got, want[i])
		}
		if r.Line() != wantLines[i] {
			t.Errorf("event %d: Line() = %d, want %d", i, r.Line(), wantLines[i])
		}
	}
	for range 2 {
		if ev, err := r.Next(); err != io.EOF {
			t.Errorf("at the end: %v, %v, want io.EOF", ev, err)
		}
	}
}

func TestReaderErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"not JSON", "{\"kind\":\"open\"}\n\nnot json\n", "capture: line 3: invalid character"},
		{"no kind", `{"conn":1}`, `capture: line 1: event has no "kind"`},
		{"wrong type", `{"kind":"frame","len":"five"}`, "capture: line 1: json: cannot unmarshal string"},
		{"bad base64", `{"kind":"message","op":"binary","data":"@@"}`, "capture: line 1: illegal base64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(tt.in))
			var err error
			for err == nil {
				_, err = r.Next()
			}
			if err == io.EOF || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestReaderSkipsBadLine checks that reading goes on after a bad line.
func TestReaderSkipsBadLine(t *testing.T) {
	r := NewReader(strings.NewReader("{\"kind\":\"open\"}\n{oops\n{\"kind\":\"close\"}\n"))
	var kinds []Kind
	var errs int
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs++
			continue
		}
		kinds = append(kinds, ev.Kind)
	}
	if errs != 1 || len(kinds) != 2 || kinds[0] != KindOpen || kinds[1] != KindClose {
		t.Errorf("got kinds %v and %d errors, want [open close] and 1", kinds, errs)
	}
}

// repeatReader yields n copies of b, without holding them in memory.
type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = r.b
	}
	r.n -= k
	return k, nil
}

func TestReaderLongLines(t *testing.T) {
	// A 3 MiB body is fine.
	big := &Event{Kind: KindResponse, Conn: 1, Time: t0, Seq: 1, Status: 200, BodyLen: 3 << 20, Body: bytes.Repeat([]byte("y"), 3<<20)}
	in := append(seqEvent(1, 0).AppendJSON(nil), big.AppendJSON(nil)...)
	r := NewReader(bytes.NewReader(in))
	r.Next()
	got, err := r.Next()
	if err != nil || !bytes.Equal(got.Body, big.Body) {
		t.Fatalf("3 MiB line: %v", err)
	}

	const max = 4 << 20 // NewReader's bound is 1 GiB: the same code, smaller
	long := io.MultiReader(strings.NewReader("{}\n{\"kind\":\"x\",\"pad\":\""), &repeatReader{b: 'z', n: max})
	r = newReaderSize(long, max)
	r.Next()
	_, err = r.Next()
	if err == nil || !strings.Contains(err.Error(), "line 2: longer than") {
		t.Errorf("line over MaxLineSize: %v", err)
	}
	if errors.Is(err, io.EOF) {
		t.Error("over-long line reported as io.EOF")
	}

	// What frametap writes at its default limits reads back: a 16 MiB text
	// message of control characters is a ~96 MiB line.
	if testing.Short() {
		t.Skip("the worst-case line needs ~200 MiB")
	}
	worst := &Event{Kind: KindMessage, Conn: 1, Time: t0, From: "client", Op: "text", Frames: 1, Len: 16 << 20, WireLen: 16 << 20, Payload: bytes.Repeat([]byte{1}, 16<<20)}
	line := worst.AppendJSON(nil)
	r = NewReader(bytes.NewReader(append(line, seqEvent(1, 0).AppendJSON(nil)...)))
	got, err = r.Next()
	if err != nil || !bytes.Equal(got.Payload, worst.Payload) {
		t.Fatalf("a %d-byte line at the default --max-message: %v", len(line), err)
	}
	if _, err := r.Next(); err != nil {
		t.Errorf("the line after it: %v", err)
	}
}

func TestReadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cap.jsonl")
	var b []byte
	for n := range 3 {
		b = seqEvent(1, n).AppendJSON(b)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	evs, err := ReadFile(path)
	if err != nil || len(evs) != 3 || evs[2].Seq != seqEvent(1, 2).Seq {
		t.Fatalf("ReadFile = %d events, %v", len(evs), err)
	}
	if err := os.WriteFile(path, append(b, "{oops\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	if evs, err := ReadFile(path); err == nil || !strings.Contains(err.Error(), "line 4") || len(evs) != 3 {
		t.Errorf("ReadFile of a bad line 4 = %d events, %v", len(evs), err)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("ReadFile of a missing file: nil error")
	}
}

// FuzzReader: whatever line a Reader accepts, AppendJSON writes it back as
// one valid JSON line, and that line reads back to an event that writes
// the same line (reading is lossy only once: unknown fields, zones). Run:
// go test -fuzz FuzzReader ./capture
func FuzzReader(f *testing.F) {
	for _, e := range exampleEvents() {
		f.Add(e.AppendJSON(nil))
	}
	f.Add([]byte(`{"kind":"gap","conn":0,"t":"2025-03-14T19:51:09Z","lost":7,"since":"2025-03-14T19:51:03+02:00","msg":"disk full"}`))
	f.Add([]byte(`{"kind":"message","op":"text","data":"/w==","truncated":true}` + "\n" + `{"kind":"x"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in))
		for range 100 {
			ev, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if strings.Contains(err.Error(), "longer than") {
					return
				}
				continue
			}
			line := ev.AppendJSON(nil)
			if !json.Valid(line) || bytes.IndexByte(line, '\n') != len(line)-1 {
				t.Fatalf("%q read as an event written as %q", in, line)
			}
			again, err := NewReader(bytes.NewReader(line)).Next()
			if err != nil {
				t.Fatalf("%q: reading back %q: %v", in, line, err)
			}
			if line2 := again.AppendJSON(nil); !bytes.Equal(line2, line) {
				t.Fatalf("%q: written %q, read back and written %q", in, line, line2)
			}
		}
	})
}

// TestReadCutLine checks that a capture whose last line was cut at any byte
// (frametap killed, a full disk) reads up to the line before, with an error
// that says so and wraps ErrCutLine, while a last line that is whole but
// lacks its newline reads, and one that is not an event at all is an
// ordinary error.
func TestReadCutLine(t *testing.T) {
	var whole []byte
	for _, e := range exampleEvents()[:3] {
		whole = e.AppendJSON(whole)
	}
	last := exampleEvents()[3].AppendJSON(nil)
	last = last[:len(last)-1] // without its newline
	for n := 1; n < len(last); n++ {
		in := append(bytes.Clone(whole), last[:n]...)
		evs, err := Read(bytes.NewReader(in))
		var ce *CutLineError
		if len(evs) != 3 || !errors.Is(err, ErrCutLine) || !errors.As(err, &ce) || ce.Line != 4 || ce.Len != n {
			t.Fatalf("cut after %d bytes of line 4: %d events, %v", n, len(evs), err)
		}
		if !strings.Contains(err.Error(), "line 4") || !strings.Contains(err.Error(), "cut short") {
			t.Errorf("cut after %d bytes: %q does not say where and what", n, err)
		}
	}
	evs, err := Read(bytes.NewReader(append(bytes.Clone(whole), last...)))
	if err != nil || len(evs) != 4 {
		t.Errorf("a whole last line without a newline: %d events, %v", len(evs), err)
	}
	for _, bad := range []string{"not json", `{"kind":"open"}}`, `{"conn":1}`, "[1,"} {
		evs, err := Read(bytes.NewReader(append(bytes.Clone(whole), bad...)))
		if len(evs) != 3 || err == nil || errors.Is(err, ErrCutLine) || !strings.Contains(err.Error(), "line 4") {
			t.Errorf("last line %q: %d events, %v; want an error about line 4 that is not ErrCutLine", bad, len(evs), err)
		}
	}
	// A cut line is the last line only: the same bytes with a newline are
	// a broken line.
	evs, err = Read(bytes.NewReader(append(append(bytes.Clone(whole), last[:10]...), '\n')))
	if errors.Is(err, ErrCutLine) || err == nil || len(evs) != 3 {
		t.Errorf("a cut line ended by a newline: %d events, %v; want an ordinary error", len(evs), err)
	}

	path := filepath.Join(t.TempDir(), "cut.jsonl")
	if err := os.WriteFile(path, append(bytes.Clone(whole), last[:20]...), 0o600); err != nil {
		t.Fatal(err)
	}
	evs, err = ReadFile(path)
	if len(evs) != 3 || !errors.Is(err, ErrCutLine) || !strings.Contains(err.Error(), path) {
		t.Errorf("ReadFile of a cut capture: %d events, %v", len(evs), err)
	}
}
