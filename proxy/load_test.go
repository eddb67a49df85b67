package proxy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// Issue 15: nothing of the record is given up for speed. 300 WebSocket
// connections at once, each sending loadMessages messages and reading
// their echoes, through a proxy recording with -w: every event of every
// connection must reach the capture, onto a real file and onto a
// destination slower than the relay (where the connections must wait for
// it rather than drop events or queue them without bound).
const (
	loadConns    = 300
	loadMessages = 50
)

func TestCaptureLosslessUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("300 connections")
	}
	t.Run("file", func(t *testing.T) {
		tp := startTap(t, Config{Mode: Reverse, Upstream: startFrameEcho(t)})
		runLoad(t, tp.addr)
		tp.waitClosed()
		checkLoad(t, tp.stop())
	})
	t.Run("slow destination", func(t *testing.T) {
		// 2 ms a write, 256 KiB of queue: the 9 MB the load encodes
		// cannot wait in memory, so the connections wait for the writes.
		dst := &slowLines{delay: 2 * time.Millisecond}
		lg := capture.NewLog(dst, capture.JSON, capture.LogOptions{QueueLen: 4, QueueBytes: 256 << 10})
		p := New(Config{Mode: Reverse, Upstream: startFrameEcho(t), Outputs: []capture.Output{lg}})
		ln := listenLoopback(t)
		go p.Serve(ln)
		runLoad(t, ln.Addr().String())
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		p.Shutdown(ctx)
		if err := lg.Close(); err != nil {
			t.Fatal(err)
		}
		evs, err := capture.Read(bytes.NewReader(dst.buf.Bytes()))
		if err != nil {
			t.Fatalf("reading the capture back: %v", err)
		}
		checkLoad(t, evs)
		t.Logf("%d bytes of capture in %d writes", dst.buf.Len(), dst.writes)
	})
}

// runLoad runs loadConns WebSocket clients at once against addr.
func runLoad(t *testing.T, addr string) {
	t.Helper()
	frame, echo := maskedFrame(64)
	var (
		wg     sync.WaitGroup
		failed atomic.Int64
		first  sync.Once
	)
	for range loadConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := loadClient(addr, frame, echo); err != nil {
				failed.Add(1)
				first.Do(func() { t.Errorf("a client failed: %v", err) })
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d of %d clients failed", n, loadConns)
	}
}

// loadClient upgrades, sends loadMessages frames, reads their echoes and
// closes.
func loadClient(addr string, frame []byte, echo int) error {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	if _, err := io.WriteString(nc, benchUpgrade); err != nil {
		return err
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("upgrade answered %s", resp.Status)
	}
	if _, err := nc.Write(bytes.Repeat(frame, loadMessages)); err != nil {
		return err
	}
	if _, err := io.CopyN(io.Discard, br, int64(loadMessages*echo)); err != nil {
		return fmt.Errorf("reading the echoes: %w", err)
	}
	return nil
}

// checkLoad checks that evs hold every event of the load: each connection
// opened, upgraded, carried loadMessages frames and messages each way, and
// closed.
func checkLoad(t *testing.T, evs []capture.Event) {
	t.Helper()
	type count struct{ open, upgrade, close, frames, msgs [2]int }
	per := map[uint64]*count{}
	for i := range evs {
		ev := &evs[i]
		c := per[ev.Conn]
		if c == nil {
			c = &count{}
			per[ev.Conn] = c
		}
		side := 0
		if ev.From == "server" {
			side = 1
		}
		switch ev.Kind {
		case capture.KindOpen:
			c.open[0]++
		case capture.KindUpgrade:
			c.upgrade[0]++
		case capture.KindClose:
			c.close[0]++
		case capture.KindFrame:
			c.frames[side]++
		case capture.KindMessage:
			c.msgs[side]++
		}
	}
	if len(per) != loadConns {
		t.Errorf("the capture has %d connections, want %d", len(per), loadConns)
	}
	want := count{open: [2]int{1}, upgrade: [2]int{1}, close: [2]int{1},
		frames: [2]int{loadMessages, loadMessages}, msgs: [2]int{loadMessages, loadMessages}}
	bad := 0
	for id, c := range per {
		if *c != want {
			if bad++; bad <= 3 {
				t.Errorf("connection %d: %+v, want %+v", id, *c, want)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d connections lost events", bad, len(per))
	}
}

// slowLines is a capture destination slower than the relay: it sleeps on
// every write.
type slowLines struct {
	delay  time.Duration
	buf    bytes.Buffer // written by the Log's one writer goroutine
	writes int
}

func (w *slowLines) Write(p []byte) (int, error) {
	time.Sleep(w.delay)
	w.writes++
	return w.buf.Write(p)
}
