package proxy

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// An HTTP/2 download watched live, as TestLiveProgress watches an
// HTTP/1.1 one (issue 13 for issue 9's streams): the response's head is
// told, with its stream, before its body ends, its bytes while they come;
// the recorded response is timed (send, wait, receive) and its gzip body
// decoded (decoded_len), as HTTP/1.x responses are.
func TestH2LiveProgress(t *testing.T) {
	plain := bytes.Repeat([]byte(`{"n":1},`), 500)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	chunks := [][]byte{gz.Bytes()[:gz.Len()/2], gz.Bytes()[gz.Len()/2:]}
	gate := make(chan struct{})
	ln := listenLoopback(t)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Protocols: &p, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for _, c := range chunks {
			<-gate
			w.Write(c)
			w.(http.Flusher).Flush()
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	ll := &liveLog{relayed: map[string]int64{}, bodyNow: make(chan int64, 100)}
	tp := startTap(t, Config{Mode: Reverse, Upstream: ln.Addr().String(), Outputs: []capture.Output{ll}})
	client := h2cClient(func() (net.Conn, error) { return net.Dial("tcp", tp.addr) })
	done := make(chan string, 1)
	go func() {
		resp, err := client.Get("http://" + tp.addr + "/api/slow")
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- fmt.Sprint(resp.Proto, " ", len(b))
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		ll.mu.Lock()
		seen := false
		for _, l := range ll.lines {
			seen = seen || l == "head response #1 status=200  headers=4"
		}
		ll.mu.Unlock()
		if seen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no response head while the body is held back:\n%q", ll.lines)
		}
	}
	var want int64
	for _, c := range chunks {
		gate <- struct{}{}
		want += int64(len(c))
		for got := <-ll.bodyNow; got < want; got = <-ll.bodyNow {
		}
	}
	if got := <-done; got != fmt.Sprint("HTTP/2.0 ", len(plain)) {
		t.Fatalf("client: %s", got)
	}
	client.CloseIdleConnections()
	tp.waitClosed()
	var resp *capture.Event
	for _, ev := range tp.stop() {
		if ev.Kind == capture.KindResponse && ev.Stream == 1 {
			resp = &ev
		}
	}
	switch {
	case resp == nil:
		t.Fatal("no response on stream 1")
	case !resp.Timed || resp.Wait <= 0 || resp.Receive <= 0:
		t.Errorf("response not timed: timed=%v send=%v wait=%v receive=%v", resp.Timed, resp.Send, resp.Wait, resp.Receive)
	case !resp.Decoded || resp.DecodedLen != int64(len(plain)) || resp.BodyLen != int64(gz.Len()):
		t.Errorf("body %d bytes decoded=%v to %d (%s), want %d to %d", resp.BodyLen, resp.Decoded, resp.DecodedLen, resp.DecodeErr, gz.Len(), len(plain))
	}
}
