package ui

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
)

// BenchmarkInject200k injects 200,000 events (WebSocket frames and
// messages with 100-byte payloads on 8 connections, from 8 goroutines as
// the proxy would) into a running dashboard as fast as possible, and
// reports the time until the screen shows all of them and the heap held.
//
//	go test ./ui -run '^$' -bench Inject200k -benchtime 3x
func BenchmarkInject200k(b *testing.B) {
	const conns, total = 8, 200_000
	payload := []byte(strings.Repeat("x", 90) + `{"n":1}`)
	for b.Loop() {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)

		scr := tcell.NewSimulationScreen("UTF-8")
		scr.Init()
		st := NewStore(0)
		u := New(Config{Screen: scr, Listen: "127.0.0.1:8080", Mode: "regular"}, st)
		scr.SetSize(200, 50)
		done := make(chan error, 1)
		go func() { done <- u.Run(context.Background()) }()

		var peak uint64
		stopPeak := make(chan struct{})
		peakDone := make(chan struct{})
		go func() { // sample the heap while it grows
			defer close(peakDone)
			var m runtime.MemStats
			for {
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
				select {
				case <-stopPeak:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()

		start := time.Now()
		var wg sync.WaitGroup
		for c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := st.Stream()
				ev := capture.Event{Kind: capture.KindOpen, Conn: uint64(c + 1), Time: time.Now(), Client: "127.0.0.1:1"}
				s.Add(&ev)
				for i := 1; i < total/conns; i++ {
					if i%2 == 1 {
						ev = capture.Event{Kind: capture.KindFrame, Conn: uint64(c + 1), Time: time.Now(), From: "server", Fin: true, Opcode: 1, Len: int64(len(payload))}
					} else {
						ev = capture.Event{Kind: capture.KindMessage, Conn: uint64(c + 1), Time: time.Now(), From: "server", Op: "text", Frames: 1, Len: int64(len(payload)), WireLen: int64(len(payload)), Payload: payload}
					}
					s.Add(&ev)
				}
				s.Flush()
			}()
		}
		wg.Wait()
		injected := time.Since(start)
		want := fmt.Sprintf("%d events", total)
		var screen string
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			u.app.QueueUpdate(func() { screen = simText(scr) })
			if strings.Contains(screen, want) && strings.Contains(screen, fmt.Sprintf("#%d 127.0.0.1:1", conns)) {
				break
			}
		}
		drawn := time.Since(start)
		if !strings.Contains(screen, want) {
			b.Fatalf("screen never showed %q:\n%s", want, screen)
		}
		close(stopPeak)
		<-peakDone
		var after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&after)
		u.Quit()
		<-done
		b.ReportMetric(float64(injected.Milliseconds()), "ms-injected")
		b.ReportMetric(float64(drawn.Milliseconds()), "ms-drawn")
		b.ReportMetric(float64(peak-before.HeapInuse)/(1<<20), "MiB-peak-heap")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB-held")
		runtime.KeepAlive(u)
	}
}

// BenchmarkStoreAdd is the dashboard's cost on the relay: what a
// connection's stream spends per event handed to the Store, for the
// events of a server pushing 64-byte binary messages (a frame and a
// message each), with the default bounds (so that the ring fills and the
// oldest are dropped, as in a long run). One op is one event.
func BenchmarkStoreAdd(b *testing.B) {
	payload := []byte(strings.Repeat("frametap", 8))
	frame := capture.Event{Kind: capture.KindFrame, Conn: 1, Time: time.Now(), From: "server", Fin: true, Opcode: 2, Len: 64}
	msg := capture.Event{Kind: capture.KindMessage, Conn: 1, Time: time.Now(), From: "server", Op: "binary", Frames: 1, Len: 64, WireLen: 64, Payload: payload}
	for _, conns := range []int{1, 8} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			st := NewStore(0)
			var next atomic.Int64
			b.ReportAllocs()
			b.SetParallelism((conns + 1) / 2)
			b.RunParallel(func(pb *testing.PB) {
				s := st.Stream()
				f, m := frame, msg
				f.Conn = uint64(next.Add(1))
				m.Conn = f.Conn
				for i := 0; pb.Next(); i++ {
					if i%2 == 0 {
						s.Add(&f)
					} else {
						s.Add(&m)
					}
					if i%64 == 63 { // one chunk of a push: 32 messages
						s.Flush()
					}
				}
				s.Close()
			})
		})
	}
}
