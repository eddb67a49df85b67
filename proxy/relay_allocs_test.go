package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"

	"github.com/gobwas/ws"

	"github.com/frametap/frametap/capture"
)

// TestCaptureRelayAllocs fails if a relayed chunk allocates with -w on:
// a server streams an HTTP/1.1 body (by length, and chunked), WebSocket
// messages or HTTP/2 DATA frames through frametap, decoded and written to
// a capture log, and the process counts its allocations over thousands of
// chunks once warm (TestPcapRelayAllocs does the same for --pcap).
func TestCaptureRelayAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations are not counted under the race detector")
	}
	const warm, measured = 2000, 4000
	const chunk = 4 << 10
	var wsFrame bytes.Buffer
	ws.WriteFrame(&wsFrame, ws.NewBinaryFrame(bytes.Repeat([]byte("x"), 63)))
	h2Data := h2Frame(0, 0, 1, bytes.Repeat([]byte("y"), 1015))
	bodyChunk := append(append([]byte(fmt.Sprintf("%x\r\n", chunk-8)), bytes.Repeat([]byte("z"), chunk-8)...), "\r\n"...)
	total := (warm + measured) * chunk
	for _, tc := range []struct {
		name   string
		client []byte                       // what the client sends first
		answer func(nc net.Conn) error      // the server's side before it streams
		head   func(br *bufio.Reader) error // the client reads what comes before the stream
		batch  []byte                       // what the server writes, again and again
	}{
		{
			name:   "websocket messages",
			client: []byte(benchUpgrade),
			answer: func(nc net.Conn) error {
				if _, err := http.ReadRequest(bufio.NewReader(nc)); err != nil {
					return err
				}
				_, err := io.WriteString(nc, benchAccept)
				return err
			},
			head:  func(br *bufio.Reader) error { _, err := http.ReadResponse(br, nil); return err },
			batch: bytes.Repeat(wsFrame.Bytes(), chunk/wsFrame.Len()),
		},
		{
			name:   "http/1.1 body by length",
			client: []byte("GET /big HTTP/1.1\r\nHost: bench\r\n\r\n"),
			answer: func(nc net.Conn) error {
				if _, err := http.ReadRequest(bufio.NewReader(nc)); err != nil {
					return err
				}
				_, err := fmt.Fprintf(nc, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", total)
				return err
			},
			head:  skipHead,
			batch: bytes.Repeat([]byte("b"), chunk),
		},
		{
			name:   "http/1.1 chunked body",
			client: []byte("GET /big HTTP/1.1\r\nHost: bench\r\n\r\n"),
			answer: func(nc net.Conn) error {
				if _, err := http.ReadRequest(bufio.NewReader(nc)); err != nil {
					return err
				}
				_, err := io.WriteString(nc, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
				return err
			},
			head:  skipHead,
			batch: bodyChunk,
		},
		{
			name:   "http/2 DATA frames",
			client: append(h2Open(), h2Frame(1, 0x5, 1, getBlock)...),
			answer: func(nc net.Conn) error {
				if _, err := io.ReadFull(nc, make([]byte, len(h2Open())+9+len(getBlock))); err != nil {
					return err
				}
				go io.Copy(io.Discard, nc)
				nc.Write(h2Frame(4, 0, 0, nil))
				_, err := nc.Write(h2Frame(1, 0x4, 1, []byte{0x88}))
				return err
			},
			head: func(br *bufio.Reader) error {
				_, err := io.CopyN(io.Discard, br, 9+10) // SETTINGS, HEADERS
				return err
			},
			batch: bytes.Repeat(h2Data, chunk/len(h2Data)),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			go1 := make(chan struct{})
			srv := serveEach(listenLoopback(t), func(nc net.Conn) {
				defer nc.Close()
				if tc.answer(nc) != nil {
					return
				}
				for i := 0; i < warm+measured; i++ {
					if i == warm {
						<-go1
					}
					if _, err := nc.Write(tc.batch); err != nil {
						return
					}
				}
			})
			// A queue of 1 MiB and 16 batches: each Flush hands a pooled
			// batch buffer to the writer, and while the writer lags the
			// pool grows by one buffer per batch in flight (with the
			// default 256, 184 allocations for the DATA frames on this
			// 2-core machine): the writer's, not the relay's.
			lg := capture.NewLog(io.Discard, capture.JSON, capture.LogOptions{QueueBytes: 1 << 20, QueueLen: 16})
			defer lg.Close()
			p := New(Config{Mode: Reverse, Upstream: srv, Outputs: []capture.Output{lg}})
			ln := listenLoopback(t)
			go p.Serve(ln)
			defer p.Shutdown(context.Background())
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.Write(tc.client)
			br := bufio.NewReaderSize(nc, 64<<10)
			if err := tc.head(br); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 64<<10)
			read := func(n int) {
				for left := n; left > 0; {
					k, err := br.Read(buf[:min(left, len(buf))])
					if err != nil {
						t.Fatal(err)
					}
					left -= k
				}
			}
			read(warm * len(tc.batch))
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			close(go1)
			read(measured * len(tc.batch))
			runtime.ReadMemStats(&after)
			allocs := after.Mallocs - before.Mallocs
			// The relay reads at most chunkSize a chunk: 16 MB are at
			// least 500 chunks, so a chunk that allocated would make it
			// 500 or more. A few allocations are not the relay's: the
			// runtime's (pools refilled after a GC) and the log writer's.
			minChunks := uint64(measured * len(tc.batch) / chunkSize)
			if allocs > minChunks/4 {
				t.Errorf("%d allocations while the server's %d writes of %d bytes were relayed with -w on: the relay allocates per chunk", allocs, measured, len(tc.batch))
			}
			if h := lg.Health(); h.Err != nil || h.Lost != 0 {
				t.Errorf("capture log: %+v", h)
			}
			t.Logf("%d allocations over %d bytes relayed with -w on", allocs, measured*len(tc.batch))
		})
	}
}

// skipHead reads a response head.
func skipHead(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			return nil
		}
	}
}
