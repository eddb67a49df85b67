package proxy

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/frametap/frametap/capture"
)

// The workloads of ../shared/bench/compare.sh as go test benchmarks, so
// that each change to the hot path is measured with -benchmem and
// benchstat rather than by wall clock on a shared machine: pingpong (64 B
// and 4 KiB, 10 connections), push (BenchmarkPush, 64 B to 64 KiB) and
// keep-alive HTTP (10 connections). The peers here are allocation-free,
// so allocs/op is the proxy's.

// benchOutputs returns the proxy's outputs for a benchmark's "none" or
// "json" variant: no capture, or the -w capture log (to io.Discard: the
// encoding and the writer goroutine are measured, not the disk).
func benchOutputs(b *testing.B, out string) []capture.Output {
	if out != "json" {
		return nil
	}
	lg := capture.NewLog(io.Discard, capture.JSON, capture.LogOptions{})
	b.Cleanup(func() { lg.Close() })
	return []capture.Output{lg}
}

// startBenchProxy runs a reverse-mode proxy to upstream and returns its
// address.
func startBenchProxy(b *testing.B, upstream string, outputs []capture.Output) string {
	b.Helper()
	p := New(Config{Mode: Reverse, Upstream: upstream, Outputs: outputs})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go p.Serve(ln)
	b.Cleanup(func() { p.Shutdown(context.Background()) })
	return ln.Addr().String()
}

// startFrameEcho runs a loopback WebSocket server that answers the upgrade
// and echoes each binary frame unmasked, without allocating per frame.
// Frames are at most 64 KiB.
func startFrameEcho(b testing.TB) string {
	return serveEach(listenLoopback(b), func(nc net.Conn) {
		defer nc.Close()
		br := bufio.NewReaderSize(nc, 64<<10)
		for { // the upgrade request's head
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
		}
		io.WriteString(nc, benchAccept)
		out := make([]byte, 4+64<<10)
		var (
			hdr  [14]byte
			mask [4]byte // out of the loop: io.ReadFull makes it escape, once per connection
		)
		for {
			if _, err := io.ReadFull(br, hdr[:2]); err != nil {
				return
			}
			n, h := int(hdr[1]&0x7f), 2
			if n == 126 {
				if _, err := io.ReadFull(br, hdr[2:4]); err != nil {
					return
				}
				n, h = int(binary.BigEndian.Uint16(hdr[2:4])), 4
			}
			mask = [4]byte{}
			if hdr[1]&0x80 != 0 {
				if _, err := io.ReadFull(br, mask[:]); err != nil {
					return
				}
			}
			if n > 64<<10 {
				return
			}
			copy(out, hdr[:h])
			out[1] &^= 0x80
			p := out[h : h+n]
			if _, err := io.ReadFull(br, p); err != nil {
				return
			}
			for i := range p {
				p[i] ^= mask[i&3]
			}
			if _, err := nc.Write(out[:h+n]); err != nil {
				return
			}
		}
	})
}

// maskedFrame returns a client's binary frame of size bytes (at most
// 64 KiB) and the length of the server's unmasked echo of it.
func maskedFrame(size int) (frame []byte, echo int) {
	mask := []byte{1, 2, 3, 4}
	switch {
	case size < 126:
		frame = []byte{0x82, 0x80 | byte(size)}
		echo = 2 + size
	default:
		frame = []byte{0x82, 0x80 | 126, byte(size >> 8), byte(size)}
		echo = 4 + size
	}
	frame = append(frame, mask...)
	for i := range size {
		frame = append(frame, ('a'+byte(i%26))^mask[i&3])
	}
	return frame, echo
}

// BenchmarkPingPong is compare.sh's pingpong workload: 10 WebSocket
// connections, each sending one binary message and waiting for its echo.
// One op is one round trip.
func BenchmarkPingPong(b *testing.B) {
	for _, size := range []int{64, 4096} {
		for _, out := range []string{"none", "json"} {
			b.Run(strconv.Itoa(size)+"B/"+out, func(b *testing.B) {
				addr := startBenchProxy(b, startFrameEcho(b), benchOutputs(b, out))
				frame, echo := maskedFrame(size)
				conns := make(chan net.Conn, 10)
				for range cap(conns) {
					nc, err := net.Dial("tcp", addr)
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { nc.Close() })
					io.WriteString(nc, benchUpgrade)
					if _, err := readBenchHead(nc); err != nil {
						b.Fatal(err)
					}
					conns <- nc
				}
				b.SetBytes(int64(2 * size))
				b.SetParallelism((cap(conns) + 1) / 2)
				b.ReportAllocs()
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					var nc net.Conn
					select {
					case nc = <-conns:
					default:
						b.Error("more goroutines than connections")
						return
					}
					buf := make([]byte, echo)
					for pb.Next() {
						if _, err := nc.Write(frame); err != nil {
							b.Error(err)
							return
						}
						if _, err := io.ReadFull(nc, buf); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}

// readBenchHead reads a response head byte by byte, so that nothing after it is
// consumed, and returns its length.
func readBenchHead(nc net.Conn) (int, error) {
	var tail [4]byte
	var one [1]byte
	for n := 1; ; n++ {
		if _, err := io.ReadFull(nc, one[:]); err != nil {
			return n, err
		}
		copy(tail[:], tail[1:])
		tail[3] = one[0]
		if string(tail[:]) == "\r\n\r\n" {
			return n, nil
		}
	}
}

// BenchmarkHTTPKeepAlive is compare.sh's http workload: 10 kept-alive
// connections, each sending a GET and reading its small response. One op
// is one exchange.
func BenchmarkHTTPKeepAlive(b *testing.B) {
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
	us := serveEach(listenLoopback(b), func(nc net.Conn) {
		defer nc.Close()
		br := bufio.NewReader(nc)
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) > 2 {
				continue
			}
			if _, err := nc.Write(resp); err != nil {
				return
			}
		}
	})
	req := []byte("GET /bench HTTP/1.1\r\nHost: bench\r\nUser-Agent: frametap-bench\r\nAccept: */*\r\n\r\n")
	for _, out := range []string{"none", "json"} {
		b.Run(out, func(b *testing.B) {
			addr := startBenchProxy(b, us, benchOutputs(b, out))
			var mu sync.Mutex
			var conns []net.Conn
			for range 10 {
				nc, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { nc.Close() })
				conns = append(conns, nc)
			}
			b.SetParallelism(5)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				mu.Lock()
				nc := conns[len(conns)-1]
				conns = conns[:len(conns)-1]
				mu.Unlock()
				buf := make([]byte, len(resp))
				for pb.Next() {
					if _, err := nc.Write(req); err != nil {
						b.Error(err)
						return
					}
					if _, err := io.ReadFull(nc, buf); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
