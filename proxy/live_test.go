package proxy

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// liveLog is a capture output whose streams follow connections live
// (capture.Live), writing every call as a line in the order they came.
type liveLog struct {
	mu      sync.Mutex
	lines   []string
	relayed map[string]int64
	bodyNow chan int64 // body bytes of server responses so far, after each Body call
	body    int64
}

func (l *liveLog) Stream() capture.Stream { return liveStream{l} }

type liveStream struct{ l *liveLog }

func (s liveStream) say(line string) {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	s.l.lines = append(s.l.lines, line)
}

func (s liveStream) Add(ev *capture.Event) {
	s.say(fmt.Sprintf("event %s #%d status=%d body=%d", ev.Kind, ev.Seq, ev.Status, ev.BodyLen))
	if ev.Kind == capture.KindClose {
		s.say(fmt.Sprintf("close ↑%d ↓%d", ev.BytesFromClient, ev.BytesFromServer))
	}
}
func (liveStream) Flush() error { return nil }
func (liveStream) Close()       {}

func (s liveStream) Relayed(from string, n int64) {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	s.l.relayed[from] += n
}

func (s liveStream) Head(stream uint32, ev *capture.Event) {
	if ev.Body != nil || ev.BodyLen != 0 || ev.Time.IsZero() {
		s.say("BAD head: a body, or no time")
	}
	s.say(fmt.Sprintf("head %s #%d status=%d %s headers=%d", ev.Kind, ev.Seq, ev.Status, ev.Target, len(ev.Headers)))
}

func (s liveStream) Body(from string, seq int, stream uint32, n int64, t time.Time) {
	if from == "server" {
		s.l.mu.Lock()
		s.l.body += n
		now := s.l.body
		s.l.mu.Unlock()
		s.l.bodyNow <- now
	}
}

// A slow download, watched live: the response's head is told before its
// body ends, and its bytes while they come; Relayed counts what the close
// event counts. The server sends the next chunk only once the previous one
// was seen live.
func TestLiveProgress(t *testing.T) {
	gate := make(chan struct{})
	up := startHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for range 3 {
			<-gate
			w.Write(make([]byte, 1000))
			w.(http.Flusher).Flush()
		}
	})
	ll := &liveLog{relayed: map[string]int64{}, bodyNow: make(chan int64, 100)}
	tp := startTap(t, Config{Mode: Reverse, Upstream: up.addr, Outputs: []capture.Output{ll}})
	done := make(chan string, 1)
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	go func() {
		resp, err := client.Get("http://" + tp.addr + "/big")
		if err != nil {
			done <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- fmt.Sprint(len(b))
	}()
	waitLine := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			ll.mu.Lock()
			for _, l := range ll.lines {
				if l == want {
					ll.mu.Unlock()
					return
				}
			}
			ll.mu.Unlock()
		}
		t.Fatalf("never saw %q:\n%q", want, ll.lines)
	}
	waitLine("head response #1 status=200  headers=3")
	for want := int64(1000); want <= 3000; want += 1000 {
		gate <- struct{}{}
		for got := <-ll.bodyNow; got < want; got = <-ll.bodyNow {
		}
	}
	if got := <-done; got != "3000" {
		t.Fatalf("client: %s", got)
	}
	client.CloseIdleConnections()
	tp.waitClosed()
	tp.stop()
	ll.mu.Lock()
	defer ll.mu.Unlock()
	order := []string{"head request #1 status=0 /big headers=3", "event request #1 status=0 body=0", "head response #1 status=200  headers=3", "event response #1 status=200 body=3000"}
	k := 0
	for _, l := range ll.lines {
		if k < len(order) && l == order[k] {
			k++
		}
	}
	if k < len(order) {
		t.Errorf("calls out of order, or %q missing:\n%v", order[k], ll.lines)
	}
	close := ll.lines[len(ll.lines)-1]
	if want := fmt.Sprintf("close ↑%d ↓%d", ll.relayed["client"], ll.relayed["server"]); close != want {
		t.Errorf("Relayed counted %q, the close event %q", want, close)
	}
}
