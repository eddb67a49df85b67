package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"testing"

	"github.com/frametap/frametap/capture"
)

// BenchmarkEncodedDownload measures what undoing a content coding costs
// the relay: one op is one gzip response of 5 MiB of JSON (about 1.6 MiB on
// the wire) through frametap on a kept-alive connection, with the capture
// log on. "gzip" labels it Content-Encoding: gzip, so the recorder decodes
// it as it streams; "unlabeled" sends the same bytes as
// application/octet-stream, which is not decoded. MB/s counts wire bytes.
func BenchmarkEncodedDownload(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	var js bytes.Buffer
	for js.Len() < 5<<20 {
		fmt.Fprintf(&js, `{"id":%d,"name":"item-%d","price":%.2f},`, r.IntN(1e9), r.IntN(1e4), r.Float64()*1e3)
	}
	wire := gzipped(b, js.Bytes())
	for _, label := range []string{"unlabeled", "gzip"} {
		b.Run(label, func(b *testing.B) {
			head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", len(wire))
			if label == "gzip" {
				head = fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n", len(wire))
			}
			up := serveEach(listenLoopback(b), func(nc net.Conn) {
				defer nc.Close()
				br := bufio.NewReader(nc)
				for {
					if _, err := http.ReadRequest(br); err != nil {
						return
					}
					io.WriteString(nc, head)
					if _, err := nc.Write(wire); err != nil {
						return
					}
				}
			})
			lg := capture.NewLog(io.Discard, capture.JSON, capture.LogOptions{})
			b.Cleanup(func() { lg.Close() })
			p := New(Config{Mode: Reverse, Upstream: up, Outputs: []capture.Output{lg}})
			ln := listenLoopback(b)
			go p.Serve(ln)
			b.Cleanup(func() { p.Shutdown(context.Background()) })
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			br := bufio.NewReaderSize(nc, 64<<10)
			req := []byte("GET /download HTTP/1.1\r\nHost: bench\r\n\r\n")
			b.SetBytes(int64(len(wire)))
			b.ReportAllocs()
			for b.Loop() {
				nc.Write(req)
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
