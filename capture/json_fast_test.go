package capture

import (
	"bytes"
	"encoding/base64"
	"testing"
	"time"
)

// The fast helpers must write exactly what the general code writes.

func FuzzAppendTime(f *testing.F) {
	for _, s := range []int64{0, 1, 59, 86399, 86400, 951782400, 1741981862, 4102444800, 253402300799, 253402300800, -1, -62135596800} {
		f.Add(s, int64(0))
		f.Add(s, int64(126e6))
		f.Add(s, int64(999999999))
		f.Add(s, int64(100))
	}
	var tt timeText // one stream's cache, across the fuzzer's inputs
	f.Fuzz(func(t *testing.T, sec, nsec int64) {
		tm := time.Unix(sec, nsec%1e9).In(time.FixedZone("X", 3600))
		got := string(appendTime([]byte("x"), tm))
		want := "x" + tm.UTC().Format(time.RFC3339Nano)
		if got != want {
			t.Fatalf("appendTime(%d, %d) = %q, want %q", sec, nsec, got, want)
		}
		// The cache writes the same, for a new time and again for the
		// same one (a second event of the same read).
		for range 2 {
			if got := string(tt.append([]byte("x"), tm)); got != want {
				t.Fatalf("timeText.append(%d, %d) = %q, want %q", sec, nsec, got, want)
			}
		}
	})
}

// A stream's events alternate between the times of two reads: the cache
// must never write the other's text.
func TestTimeTextAlternating(t *testing.T) {
	var tt timeText
	a := time.Date(2026, 12, 7, 6, 0, 0, 1, time.UTC)
	times := []time.Time{a, a, a.Add(1), a, a.Add(time.Hour), a.Add(time.Hour), time.Unix(253402300800, 0), a, time.Time{}, a}
	for i, tm := range times {
		if got, want := string(tt.append(nil, tm)), string(appendTime(nil, tm)); got != want {
			t.Errorf("event %d: %q, want %q", i, got, want)
		}
	}
}

func TestAppendTimeEveryDay(t *testing.T) {
	for d := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2500; d = d.Add(24*time.Hour + 3*time.Second + 17) {
		if got, want := string(appendTime(nil, d)), d.Format(time.RFC3339Nano); got != want {
			t.Fatalf("appendTime = %q, want %q", got, want)
		}
	}
}

func FuzzAppendBase64(f *testing.F) {
	for n := range 40 {
		f.Add(bytes.Repeat([]byte{0xfb, 0xff, 0x00, 0x3e}, n)[:n*3/2], []byte("prefix"))
	}
	f.Fuzz(func(t *testing.T, p, prefix []byte) {
		got := appendBase64(append([]byte(nil), prefix...), p)
		want := base64.StdEncoding.AppendEncode(append([]byte(nil), prefix...), p)
		if !bytes.Equal(got, want) {
			t.Fatalf("appendBase64(%x) = %q, want %q", p, got, want)
		}
	})
}

func FuzzAppendJSONStringFast(f *testing.F) {
	for _, s := range []string{"", "binary", "a\"b", "\\", "\x00", "é", "\xff", "line\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendJSONStringFast([]byte("x"), s)
		want := append([]byte("x\""), appendEscaped(nil, s)...)
		want = append(want, '"')
		if !bytes.Equal(got, want) {
			t.Fatalf("appendJSONStringFast(%q) = %q, want %q", s, got, want)
		}
	})
}

func BenchmarkAppendBase64(b *testing.B) {
	p := bytes.Repeat([]byte("frametap"), 8<<10)
	buf := make([]byte, 0, 2*len(p))
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		for b.Loop() {
			buf = appendBase64(buf[:0], p)
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(p)))
		for b.Loop() {
			buf = base64.StdEncoding.AppendEncode(buf[:0], p)
		}
	})
}

func BenchmarkAppendTime(b *testing.B) {
	tm := time.Now()
	buf := make([]byte, 0, 64)
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			buf = appendTime(buf[:0], tm)
		}
	})
	b.Run("stdlib", func(b *testing.B) {
		for b.Loop() {
			buf = tm.UTC().AppendFormat(buf[:0], time.RFC3339Nano)
		}
	})
}
