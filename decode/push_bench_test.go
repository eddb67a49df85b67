package decode

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// pushCount is a Handler and a Push that counts.
type pushCount struct{ events, chunks, errs, resps int }

func (c *pushCount) Request(*Request)                 {}
func (c *pushCount) Response(*Response)               { c.resps++ }
func (c *pushCount) Upgrade(*Upgrade)                 {}
func (c *pushCount) Frame(Side, *Frame)               {}
func (c *pushCount) Message(Side, *Message)           {}
func (c *pushCount) Error(Side, error)                { c.errs++ }
func (c *pushCount) StreamHead(*Response)             {}
func (c *pushCount) SSE(int, uint32, *SSEEvent)       { c.events++ }
func (c *pushCount) Chunk(*Chunk)                     { c.chunks++ }
func (c *pushCount) StillOpen(seq int, s uint32) bool { return false }

// BenchmarkPushSSE measures an event stream decoded the way frametap
// decodes it: an HTTP/1.1 chunked response (one chunk per event, as
// servers flush them) fed to a Conn a TCP segment at a time.
func BenchmarkPushSSE(b *testing.B) {
	const events = 4096
	in := sseBenchStream(events)
	var body strings.Builder
	for _, blk := range strings.SplitAfter(string(in), "\n\n") {
		if blk != "" {
			fmt.Fprintf(&body, "%x\r\n%s\r\n", len(blk), blk)
		}
	}
	body.WriteString("0\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n" + body.String())
	req := []byte("GET /events HTTP/1.1\r\nHost: h\r\n\r\n")
	c := &pushCount{}
	b.SetBytes(int64(len(resp)))
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for b.Loop() {
		conn := NewConn(Config{}, c)
		conn.Feed(Client, req)
		for p := resp; len(p) > 0; {
			k := min(len(p), 1460)
			conn.Feed(Server, p[:k])
			p = p[k:]
		}
	}
	runtime.ReadMemStats(&ms1)
	if c.events != b.N*events || c.errs != 0 || c.resps != b.N {
		b.Fatalf("%d events, %d errors, %d responses for %d runs", c.events, c.errs, c.resps, b.N)
	}
	b.ReportMetric(float64(b.N*events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(b.N*events), "allocs/event")
}
