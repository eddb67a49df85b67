package coding

import (
	"bytes"
	"testing"
)

// FuzzStream feeds arbitrary bytes, split at an arbitrary point, to each
// coding: no panic, no decoded bytes past the limit, no more kept than
// asked, and an error for anything that is not a whole coded stream.
func FuzzStream(f *testing.F) {
	for _, c := range []string{Gzip, Deflate, Brotli, Zstd} {
		f.Add(encode(f, sampleJSON, c), uint8(0), uint16(7))
		f.Add(encode(f, make([]byte, 4096), c), uint8(0), uint16(100))
	}
	f.Add(encode(f, sampleJSON, Gzip, Brotli), uint8(4), uint16(3))
	f.Add([]byte("\x1f\x8b\x08\x00garbage"), uint8(0), uint16(1))
	f.Fuzz(func(t *testing.T, wire []byte, which uint8, cut uint16) {
		chains := [][]string{{Gzip}, {Deflate}, {Brotli}, {Zstd}, {Gzip, Brotli}, {Zstd, Gzip}}
		cs := chains[int(which)%len(chains)]
		const limit, keep = 1 << 16, 100
		s := NewStream(cs, limit, keep)
		k := min(int(cut), len(wire))
		s.Write(wire[:k])
		s.Write(wire[k:])
		res := s.Close()
		if res.Len > limit || len(res.Kept) > keep || int64(len(res.Kept)) > res.Len {
			t.Fatalf("len %d kept %d: past the bounds", res.Len, len(res.Kept))
		}
		if res.Err == nil {
			whole := Decode(cs, wire, limit)
			if whole.Err != nil || whole.Len != res.Len || !bytes.Equal(whole.Kept[:len(res.Kept)], res.Kept) {
				t.Fatalf("split and whole disagree: %d %v vs %d %v", res.Len, res.Err, whole.Len, whole.Err)
			}
		}
	})
}
