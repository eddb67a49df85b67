package coding

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// encode applies codings in order, as a server does.
func encode(t testing.TB, body []byte, codings ...string) []byte {
	t.Helper()
	for _, c := range codings {
		var b bytes.Buffer
		var w interface {
			Write([]byte) (int, error)
			Close() error
		}
		switch c {
		case Gzip:
			w = gzip.NewWriter(&b)
		case Deflate:
			w = zlib.NewWriter(&b)
		case "raw-deflate":
			w, _ = flate.NewWriter(&b, flate.BestSpeed)
		case Brotli:
			w = brotli.NewWriter(&b)
		case Zstd:
			zw, err := zstd.NewWriter(&b)
			if err != nil {
				t.Fatal(err)
			}
			w = zw
		default:
			t.Fatalf("no encoder for %q", c)
		}
		if _, err := w.Write(body); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		body = b.Bytes()
	}
	return body
}

var sampleJSON = []byte(`{"items":[{"id":1,"name":"alpha"},{"id":2,"name":"beta"},{"id":3,"name":"gamma"}],"total":3,"next":null}` + strings.Repeat(" ", 300))

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"gzip"}, "gzip"},
		{[]string{"GZip"}, "gzip"},
		{[]string{"x-gzip"}, "gzip"},
		{[]string{"identity"}, ""},
		{[]string{"gzip, br"}, "gzip,br"},
		{[]string{"deflate", " zstd ,,identity"}, "deflate,zstd"},
	} {
		if got := strings.Join(Parse(tc.in), ","); got != tc.want {
			t.Errorf("Parse(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDecodeEachCoding(t *testing.T) {
	for _, tc := range []struct {
		name    string
		applied []string // encoders, in order
		header  string   // Content-Encoding as sent
	}{
		{"gzip", []string{Gzip}, "gzip"},
		{"x-gzip", []string{Gzip}, "x-gzip"},
		{"deflate (zlib)", []string{Deflate}, "deflate"},
		{"deflate (raw, as some servers send)", []string{"raw-deflate"}, "deflate"},
		{"br", []string{Brotli}, "br"},
		{"zstd", []string{Zstd}, "zstd"},
		{"gzip then br", []string{Gzip, Brotli}, "gzip, br"},
		{"br then zstd then gzip", []string{Brotli, Zstd, Gzip}, "br, zstd, gzip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wire := encode(t, sampleJSON, tc.applied...)
			cs := Parse([]string{tc.header})
			res := Decode(cs, wire, 1<<20)
			if res.Err != nil || !bytes.Equal(res.Kept, sampleJSON) || res.Len != int64(len(sampleJSON)) {
				t.Fatalf("Decode: len %d err %v, kept %q", res.Len, res.Err, res.Kept)
			}
			// Every split of the wire bytes in two, and one byte at a time.
			for cut := 0; cut <= len(wire); cut++ {
				s := NewStream(cs, 1<<20, 1<<20)
				s.Write(wire[:cut])
				s.Write(wire[cut:])
				if got := s.Close(); got.Err != nil || !bytes.Equal(got.Kept, sampleJSON) {
					t.Fatalf("split at %d: len %d err %v", cut, got.Len, got.Err)
				}
			}
			s := NewStream(cs, 1<<20, 16)
			for i := range wire {
				s.Write(wire[i : i+1])
			}
			if got := s.Close(); got.Err != nil || got.Len != int64(len(sampleJSON)) || string(got.Kept) != string(sampleJSON[:16]) {
				t.Fatalf("byte by byte: len %d kept %q err %v", got.Len, got.Kept, got.Err)
			}
		})
	}
}

func TestDecodeBadInput(t *testing.T) {
	gz := encode(t, sampleJSON, Gzip)
	for _, tc := range []struct {
		name   string
		header string
		wire   []byte
		cause  error
		msg    string // in the error
	}{
		{"claims gzip, is not", "gzip", sampleJSON, ErrCorrupt, "not valid gzip: invalid header"},
		{"claims br, is gzip", "br", gz, ErrCorrupt, "not valid br"},
		{"claims zstd, is text", "zstd", []byte("hello, world"), ErrCorrupt, "not valid zstd"},
		{"unknown coding", "snappy", gz, ErrUnknown, `content coding "snappy" is not decoded`},
		{"compress", "compress", gz, ErrUnknown, "LZW"},
		{"encrypted", "aes128gcm", gz, ErrUnknown, "encrypted"},
		{"cut short", "gzip", gz[:len(gz)/2], ErrCutShort, "gzip"},
		{"bad checksum", "gzip", append(bytes.Clone(gz[:len(gz)-8]), 1, 2, 3, 4, 5, 6, 7, 8), ErrCorrupt, "checksum"},
		{"empty body claiming gzip", "gzip", nil, ErrCutShort, "gzip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Decode(Parse([]string{tc.header}), tc.wire, 1<<20)
			if !errors.Is(res.Err, tc.cause) || !strings.Contains(res.Err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v with %q", res.Err, tc.cause, tc.msg)
			}
		})
	}
}

// bomb returns a gzip body of many members, each n zeros: what a
// decompression bomb is, made without compressing a gigabyte.
func bomb(t testing.TB, members int, n int) []byte {
	t.Helper()
	one := encode(t, make([]byte, n), Gzip)
	return bytes.Repeat(one, members)
}

// A 1 GiB bomb stops at the limit, and costs the decoder's buffers, not
// the claimed size.
func TestDecodeBombIsBounded(t *testing.T) {
	wire := bomb(t, 64, 16<<20) // 1 GiB of zeros in about 1 MiB
	const limit = 16 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := NewStream([]string{Gzip}, limit, 1024)
	for p := wire; len(p) > 0; {
		n := min(len(p), 32<<10)
		s.Write(p[:n])
		p = p[n:]
	}
	res := s.Close()
	runtime.ReadMemStats(&after)
	if !errors.Is(res.Err, ErrLimit) || res.Len != limit {
		t.Fatalf("bomb: len %d err %v, want %d and ErrLimit", res.Len, res.Err, limit)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("decoding the bomb allocated %d bytes, want a few hundred KiB", alloc)
	}
	// A body that decodes to exactly the limit is whole.
	exact := Decode([]string{Gzip}, encode(t, make([]byte, 1000), Gzip), 1000)
	if exact.Err != nil || exact.Len != 1000 {
		t.Errorf("exactly the limit: len %d err %v", exact.Len, exact.Err)
	}
	over := Decode([]string{Gzip}, encode(t, make([]byte, 1001), Gzip), 1000)
	if !errors.Is(over.Err, ErrLimit) || over.Len != 1000 {
		t.Errorf("one past the limit: len %d err %v", over.Len, over.Err)
	}
}

// RFC 9659: a zstd window over 8 MB is refused, not allocated.
func TestZstdWindowBound(t *testing.T) {
	var b bytes.Buffer
	zw, err := zstd.NewWriter(&b, zstd.WithWindowSize(64<<20), zstd.WithSingleSegment(false))
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(bytes.Repeat([]byte("frametap "), 1<<20))
	zw.Close()
	res := Decode([]string{Zstd}, b.Bytes(), 1<<20)
	if !errors.Is(res.Err, ErrCorrupt) {
		t.Fatalf("64 MiB window: err %v, want ErrCorrupt", res.Err)
	}
}

// Streams closed before their end, or that failed, leave no coroutine.
func TestStreamsLeaveNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	gz := encode(t, sampleJSON, Gzip)
	for range 200 {
		s := NewStream([]string{Gzip}, 1<<20, 10)
		s.Write(gz[:10])
		s.Close() // cut short
		s = NewStream([]string{Brotli}, 1<<20, 10)
		s.Write(gz)
		s.Close() // corrupt
	}
	if after := runtime.NumGoroutine(); after > before+2 {
		t.Errorf("goroutines: %d before, %d after 400 streams", before, after)
	}
}
