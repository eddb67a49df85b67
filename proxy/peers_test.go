package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countedHTTP is a net/http upstream on loopback that counts the
// connections it accepted and has not closed yet, from its own ConnState
// hook: what a leak of upstream sockets shows as.
type countedHTTP struct {
	addr string
	open atomic.Int64
}

// startCountedHTTP runs h on loopback with no idle timeout of its own, so
// that only frametap can close a kept-alive connection.
func startCountedHTTP(t *testing.T, h http.HandlerFunc) *countedHTTP {
	t.Helper()
	ln := listenLoopback(t)
	cs := &countedHTTP{addr: ln.Addr().String()}
	srv := &http.Server{Handler: h, ConnState: func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			cs.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			cs.open.Add(-1)
		}
	}}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return cs
}

// countedTCP is a raw TCP upstream on loopback that reads each connection
// to its end, recording every byte, and counts those still open.
type countedTCP struct {
	addr string
	open atomic.Int64
	mu   sync.Mutex
	got  []string // what each closed connection carried
}

// startCountedTCP runs a server that calls serve on each connection (nil:
// read to EOF) and then closes it.
func startCountedTCP(t *testing.T, serve func(nc net.Conn, br *bufio.Reader)) *countedTCP {
	t.Helper()
	ct := &countedTCP{}
	ct.addr = serveEach(listenLoopback(t), func(nc net.Conn) {
		ct.open.Add(1)
		defer ct.open.Add(-1)
		defer nc.Close()
		rec := &recordingReader{r: nc}
		br := bufio.NewReader(rec)
		if serve != nil {
			serve(nc, br)
		}
		io.Copy(io.Discard, br)
		ct.mu.Lock()
		ct.got = append(ct.got, rec.b.String())
		ct.mu.Unlock()
	})
	return ct
}

// received returns everything the closed connections carried.
func (ct *countedTCP) received() string {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	return strings.Join(ct.got, "")
}

type recordingReader struct {
	r io.Reader
	b strings.Builder
}

func (rr *recordingReader) Read(p []byte) (int, error) {
	n, err := rr.r.Read(p)
	rr.b.Write(p[:n])
	return n, err
}

// readHead reads a request head off br and returns it.
func readHead(br *bufio.Reader) (string, error) {
	var sb strings.Builder
	for {
		line, err := br.ReadString('\n')
		sb.WriteString(line)
		if err != nil {
			return sb.String(), err
		}
		if line == "\r\n" {
			return sb.String(), nil
		}
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("counting descriptors: %v", err)
	}
	return len(ents)
}

// waitFor polls cond for up to 5 s and fails the test with what if it
// never holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not true after 5s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
