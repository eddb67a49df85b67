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
	"sync"
	"testing"

	"github.com/frametap/frametap/capture"
)

// startUpgrader runs a loopback server that answers every WebSocket
// upgrade and then holds the connection open, idle, with no goroutine of
// its own, so that the benchmark's stack figures are the proxy's.
func startUpgrader(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var (
		mu   sync.Mutex
		held []net.Conn
	)
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, nc := range held {
			nc.Close()
		}
	})
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			// The upgrade request is small and arrives whole; the 101 is
			// sent without parsing it.
			buf := make([]byte, 4096)
			if _, err := nc.Read(buf); err != nil {
				nc.Close()
				continue
			}
			io.WriteString(nc, benchAccept)
			mu.Lock()
			held = append(held, nc)
			mu.Unlock()
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
	tx := capture.NewLog(io.Discard, capture.Text, capture.LogOptions{})
	defer tx.Close()
	p := New(Config{Mode: Reverse, Upstream: srv, Outputs: []capture.Output{lg, tx}})
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
		// One 16-byte masked binary message, as compare.sh's idle clients
		// send before they go quiet.
		nc.Write([]byte{0x82, 0x90, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4})
	}
	heap1, stack1 := measure()
	if path := os.Getenv("FRAMETAP_HEAPPROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	// The heap figure also holds the test's two sockets per connection
	// (client and upgrader side, a few hundred bytes each); the stacks are
	// the proxy's alone.
	b.ReportMetric(float64(heap1-heap0)/float64(b.N), "heap-B/conn")
	b.ReportMetric(float64(stack1-stack0)/float64(b.N), "stack-B/conn")
}
