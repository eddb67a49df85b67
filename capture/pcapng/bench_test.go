package pcapng

import (
	"io"
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// openStream returns a Stream of a Writer to io.Discard with a
// conversation open.
func openStream(tb testing.TB, client, server string) (*Writer, *Stream) {
	tb.Helper()
	w := NewWriter(io.Discard, Options{})
	s := w.Stream()
	err := s.Open(Conversation{Client: netip.MustParseAddrPort(client), Server: netip.MustParseAddrPort(server)}, time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	return w, s
}

// TestDataAllocs keeps the relay's hot path free of allocations: a chunk
// of any size, either direction, IPv4 or IPv6.
func TestDataAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are not counted under the race detector")
	}
	for _, tc := range []struct{ client, server string }{
		{"127.0.0.1:50000", "127.0.0.2:80"},
		{"[::1]:50000", "[::1]:443"},
	} {
		w, s := openStream(t, tc.client, tc.server)
		for _, size := range []int{1, 64, 1500, 32 << 10, 200 << 10} {
			b := make([]byte, size)
			now := time.Now()
			chunks := func() {
				s.Data(Client, b, now)
				s.Data(Server, b, now)
			}
			// Fill the queue first: its buffers are allocated while it
			// grows. AllocsPerRun runs on one thread, where the queue grows
			// to its bound (the writer runs only when the Stream waits).
			testing.AllocsPerRun(queueLen, chunks)
			if n := testing.AllocsPerRun(200, chunks); n != 0 {
				t.Errorf("%s: Data of %d bytes: %.1f allocations per two chunks, want 0", tc.server, size, n)
			}
		}
		s.Close(time.Now())
		w.Close()
	}
}

// BenchmarkData measures the relay's cost of writing a chunk: encoding
// on the connection's goroutine, the queue, and the writer goroutine's
// copy (to io.Discard: no disk).
func BenchmarkData(b *testing.B) {
	for _, size := range []int{64, 32 << 10} {
		b.Run(strconv.Itoa(size)+"B", func(b *testing.B) {
			w, s := openStream(b, "127.0.0.1:50000", "127.0.0.2:80")
			chunk := make([]byte, size)
			now := time.Now()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				s.Data(Side(i&1), chunk, now)
			}
			b.StopTimer()
			s.Close(now)
			w.Close()
		})
	}
}

// BenchmarkDataParallel is BenchmarkData with a connection per goroutine:
// the streams share only the queue and the writer.
func BenchmarkDataParallel(b *testing.B) {
	for _, size := range []int{64, 32 << 10} {
		b.Run(strconv.Itoa(size)+"B", func(b *testing.B) {
			w := NewWriter(io.Discard, Options{})
			chunk := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				s := w.Stream()
				now := time.Now()
				s.Open(Conversation{Client: netip.MustParseAddrPort("127.0.0.1:50000"), Server: netip.MustParseAddrPort("127.0.0.2:80")}, now)
				for i := 0; pb.Next(); i++ {
					s.Data(Side(i&1), chunk, now)
				}
				s.Close(now)
			})
			w.Close()
		})
	}
}
