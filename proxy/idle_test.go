package proxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"testing"

	"github.com/frametap/frametap/capture"
)

// startUpgrader runs a loopback server that answers every WebSocket
// upgrade and then holds the connection open, idle.
func startUpgrader(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				if _, err := http.ReadRequest(bufio.NewReader(nc)); err != nil {
					return
				}
				io.WriteString(nc, benchAccept)
				var one [1]byte
				for {
					if _, err := nc.Read(one[:]); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkIdleWebSocket reports what one idle, upgraded WebSocket costs the
// proxy: Go heap and goroutine stacks per connection, with a capture log on.
// One op is one connection.
func BenchmarkIdleWebSocket(b *testing.B) {
	srv := startUpgrader(b)
	lg := capture.NewLog(io.Discard, capture.JSON, capture.LogOptions{})
	defer lg.Close()
	p := New(Config{Mode: Reverse, Upstream: srv, Outputs: []capture.Output{lg}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go p.Serve(ln)
	defer p.Shutdown(context.Background())

	measure := func() (heap, stack uint64) {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc, ms.StackInuse
	}
	heap0, stack0 := measure()
	conns := make([]net.Conn, 0, b.N)
	defer func() {
		for _, nc := range conns {
			nc.Close()
		}
	}()
	for range b.N {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, nc)
		io.WriteString(nc, benchUpgrade)
		if _, err := http.ReadResponse(bufio.NewReader(nc), nil); err != nil {
			b.Fatal(err)
		}
	}
	heap1, stack1 := measure()
	if path := os.Getenv("FRAMETAP_HEAPPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	// The client side of each connection lives in this process too: count
	// only the proxy's share by subtracting an estimate would be guesswork,
	// so the figure is an upper bound (it includes the test's own conns and
	// the upgrader's goroutine per connection).
	b.ReportMetric(float64(heap1-heap0)/float64(b.N), "heap-B/conn")
	b.ReportMetric(float64(stack1-stack0)/float64(b.N), "stack-B/conn")
}
