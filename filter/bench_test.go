package filter

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// benchEvents is the peers capture repeated to 1,000,000 events, each
// copy on connections of its own, four copies interleaved event by event,
// as concurrent connections are.
var benchEvents = sync.OnceValue(func() []*capture.Event {
	base, err := capture.ReadFile("testdata/peers.jsonl")
	if err != nil {
		panic(err)
	}
	const n, lanes = 1_000_000, 4
	out := make([]*capture.Event, 0, n)
	all := make([]capture.Event, n)
	for copyN := 0; len(out) < n; copyN += lanes {
		for i := 0; i < len(base) && len(out) < n; i++ {
			for l := 0; l < lanes && len(out) < n; l++ {
				ev := &all[len(out)]
				*ev = base[i]
				ev.Conn += uint64((copyN + l) * 3)
				out = append(out, ev)
			}
		}
	}
	return out
})

var benchExprs = []string{
	"~websocket",
	"~wq ~op text",
	"~d 127.0.0.1 ~c 404",
	"~u /chat ~ws",
	"~b chat",
	"~jq .type=order",
	"~sio ^chat$",
	"~op data !~fin | ~e | ~code 1000",
}

// meter measures a benchmark whose every op goes over a whole capture.
type meter struct {
	start   time.Time
	cpu     time.Duration
	mallocs uint64
}

func startMeter(b *testing.B) meter {
	b.ResetTimer()
	return meter{time.Now(), cpuTime(), mallocs()}
}

// report gives events/s (wall), events per CPU-second (all of the
// process's threads, GC included: robust on a shared machine) and
// allocations per event.
func (m meter) report(b *testing.B, n int) {
	total := float64(n) * float64(b.N)
	b.ReportMetric(total/time.Since(m.start).Seconds(), "events/s")
	if cpu := cpuTime() - m.cpu; cpu > 0 {
		b.ReportMetric(total/cpu.Seconds(), "events/cpu-s")
	}
	b.ReportMetric(float64(mallocs()-m.mallocs)/total, "allocs/event")
	b.ReportMetric(0, "ns/op") // the op is the whole capture; see events/s
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// BenchmarkMatch runs the streaming Matcher over 1,000,000 events.
func BenchmarkMatch(b *testing.B) {
	evs := benchEvents()
	for _, expr := range benchExprs {
		b.Run(expr, func(b *testing.B) {
			f := MustParse(expr)
			mt := startMeter(b)
			var hits int
			for range b.N {
				m := f.NewMatcher()
				for _, ev := range evs {
					if m.Match(ev) {
						hits++
					}
				}
			}
			mt.report(b, len(evs))
			b.ReportMetric(float64(hits)/float64(b.N), "matches")
		})
	}
}

// BenchmarkSelect runs the whole-capture evaluation over 1,000,000 events.
func BenchmarkSelect(b *testing.B) {
	evs := benchEvents()
	for _, expr := range benchExprs {
		b.Run(expr, func(b *testing.B) {
			f := MustParse(expr)
			mt := startMeter(b)
			for range b.N {
				f.Select(evs)
			}
			mt.report(b, len(evs))
		})
	}
}

// discard is a capture.Output that drops what it gets.
type discard struct{}

func (discard) Stream() capture.Stream { return discard{} }
func (discard) Add(*capture.Event)     {}
func (discard) Flush() error           { return nil }
func (discard) Close()                 {}

// BenchmarkOutput runs the filtering Output over 1,000,000 events, one
// stream per connection, flushed after each event as the proxy does.
func BenchmarkOutput(b *testing.B) {
	evs := benchEvents()
	for _, expr := range benchExprs {
		b.Run(expr, func(b *testing.B) {
			f := MustParse(expr)
			mt := startMeter(b)
			for range b.N {
				out, _ := NewOutput(discard{}, f, OutputOptions{})
				streams := map[uint64]capture.Stream{}
				for _, ev := range evs {
					s := streams[ev.Conn]
					if s == nil {
						s = out.Stream()
						streams[ev.Conn] = s
					}
					s.Add(ev)
					s.Flush()
					if ev.Kind == capture.KindClose {
						s.Close()
						delete(streams, ev.Conn)
					}
				}
			}
			mt.report(b, len(evs))
		})
	}
}

// BenchmarkReadSelect reads the 1,000,000 events back from a capture file
// and selects them, as `frametap view --filter` will: the reading is
// capture's, the rest is Select.
func BenchmarkReadSelect(b *testing.B) {
	evs := benchEvents()
	path := filepath.Join(b.TempDir(), "bench.jsonl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	var line []byte
	for _, ev := range evs {
		line = ev.AppendJSON(line[:0])
		w.Write(line)
	}
	w.Flush()
	f.Close()
	st, _ := os.Stat(path)
	b.Logf("capture of %d events, %d MB", len(evs), st.Size()>>20)
	flt := MustParse("~wq ~op text")
	b.ResetTimer()
	for range b.N {
		rf, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		r := capture.NewReader(rf)
		var got []*capture.Event
		readStart := time.Now()
		for {
			ev, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			got = append(got, ev)
		}
		rf.Close()
		read := time.Since(readStart)
		selStart := time.Now()
		flt.Select(got)
		b.ReportMetric(read.Seconds(), "s-read")
		b.ReportMetric(time.Since(selStart).Seconds(), "s-select")
	}
}

// BenchmarkParse parses a typical expression.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		if _, err := Parse(`~websocket ~wq (~op text | ~op binary) !~jq .type=ping ~d "api\.example\.com"`); err != nil {
			b.Fatal(err)
		}
	}
}
