package proxy

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/gobwas/ws"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/capture/pcapng"
)

const benchUpgrade = "GET /push HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

const benchAccept = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"

// startPusher runs a loopback server that answers one WebSocket upgrade and
// then writes n unmasked binary frames of size bytes, then closes.
func startPusher(b *testing.B, size, n int) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	var frame bytes.Buffer
	ws.WriteFrame(&frame, ws.NewBinaryFrame(bytes.Repeat([]byte("x"), size)))
	batch := bytes.Repeat(frame.Bytes(), max(1, 32<<10/frame.Len()))
	perBatch := len(batch) / frame.Len()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		if _, err := http.ReadRequest(bufio.NewReader(nc)); err != nil {
			return
		}
		io.WriteString(nc, benchAccept)
		for sent := 0; sent < n; sent += perBatch {
			k := min(perBatch, n-sent)
			if _, err := nc.Write(batch[:k*frame.Len()]); err != nil {
				return
			}
		}
	}()
	return ln.Addr().String()
}

// BenchmarkPush measures the relay's hot path: a server pushing WebSocket
// frames through frametap to one client, decoded, with and without a
// capture log. One op is one frame; compare with the direct figures that
// compare.sh prints, not with a fixed number.
func BenchmarkPush(b *testing.B) {
	for _, size := range []int{64, 4096, 65536} {
		for _, out := range []string{"none", "json", "pcap"} {
			b.Run(strconv.Itoa(size)+"B/"+out, func(b *testing.B) {
				srv := startPusher(b, size, b.N)
				cfg := Config{Mode: Reverse, Upstream: srv}
				switch out {
				case "json":
					lg := capture.NewLog(io.Discard, capture.JSON, capture.LogOptions{})
					b.Cleanup(func() { lg.Close() })
					cfg.Outputs = []capture.Output{lg}
				case "pcap": // --pcap alone (issue 11)
					w := pcapng.NewWriter(io.Discard, pcapng.Options{})
					b.Cleanup(func() { w.Close() })
					cfg.Pcap = w
				}
				p := New(cfg)
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				go p.Serve(ln)
				b.Cleanup(func() { p.Shutdown(context.Background()) })

				nc, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				defer nc.Close()
				io.WriteString(nc, benchUpgrade)
				br := bufio.NewReaderSize(nc, 64<<10)
				if _, err := http.ReadResponse(br, nil); err != nil {
					b.Fatal(err)
				}
				hdr := 2
				switch {
				case size > 65535:
					hdr = 10
				case size > 125:
					hdr = 4
				}
				b.SetBytes(int64(size + hdr))
				b.ReportAllocs()
				b.ResetTimer()
				if _, err := io.CopyN(io.Discard, br, int64(b.N*(size+hdr))); err != nil {
					b.Fatal(err)
				}
			})
		}
	}
}
