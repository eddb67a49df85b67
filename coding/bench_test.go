package coding

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchBody is 1 MiB of JSON as an API returns it: records with varying
// ids, names and prices (it compresses about 4:1 with gzip).
var benchBody = func() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"alpha", "beta", "gamma", "delta", "proxy", "http", "websocket", "frame", "tap", "wire"}
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	for b.Len() < 1<<20 {
		fmt.Fprintf(&b, `{"id":%d,"name":"%s-%s-%d","price":%.2f,"tags":["%s","%s"]},`, r.IntN(1e9),
			words[r.IntN(10)], words[r.IntN(10)], r.IntN(1000), r.Float64()*1000, words[r.IntN(10)], words[r.IntN(10)])
	}
	b.WriteString(`{}]}`)
	return b.Bytes()
}()

// BenchmarkStream measures decoding a 1 MiB body fed in 32 KiB chunks, as
// the recorder feeds it: decoded MB/s (SetBytes counts decoded bytes) and
// allocations per body.
func BenchmarkStream(b *testing.B) {
	for _, c := range []string{Gzip, Deflate, Brotli, Zstd} {
		wire := encode(b, benchBody, c)
		b.Run(c, func(b *testing.B) {
			b.SetBytes(int64(len(benchBody)))
			b.ReportAllocs()
			for b.Loop() {
				s := NewStream([]string{c}, 64<<20, 0)
				for p := wire; len(p) > 0; {
					n := min(len(p), 32<<10)
					s.Write(p[:n])
					p = p[n:]
				}
				if res := s.Close(); res.Err != nil || res.Len != int64(len(benchBody)) {
					b.Fatal(res.Err)
				}
			}
			b.ReportMetric(float64(len(benchBody))/float64(len(wire)), "ratio")
		})
	}
	b.Run("relay-copy", func(b *testing.B) { // what relaying the same bytes costs, for scale
		dst := make([]byte, 32<<10)
		b.SetBytes(int64(len(benchBody)))
		for b.Loop() {
			for p := benchBody; len(p) > 0; {
				n := copy(dst, p)
				p = p[n:]
			}
		}
	})
}
