package capture

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// flakyDisk is a destination that fills up: once it holds limit bytes it
// takes what fits of a write and fails with ENOSPC, until free raises the
// limit. It is not a file, so a cut line cannot be truncated.
type flakyDisk struct {
	mu    sync.Mutex
	limit int
	data  []byte
}

func (d *flakyDisk) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	room := d.limit - len(d.data)
	if len(p) <= room {
		d.data = append(d.data, p...)
		return len(p), nil
	}
	d.data = append(d.data, p[:max(room, 0)]...)
	return max(room, 0), &os.PathError{Op: "write", Path: "capture.jsonl", Err: syscall.ENOSPC}
}

func (d *flakyDisk) free(n int) {
	d.mu.Lock()
	d.limit += n
	d.mu.Unlock()
}

func (d *flakyDisk) bytes() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return bytes.Clone(d.data)
}

// waitHealth waits until Health satisfies ok, on HealthChanged.
func waitHealth(t *testing.T, l *Log, what string, ok func(Health) bool) Health {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		if h := l.Health(); ok(h) {
			return h
		}
		select {
		case <-l.HealthChanged():
		case <-timeout:
			t.Fatalf("after 10s still not %s: %+v", what, l.Health())
		}
	}
}

// sizedEvent is the n-th event of one stream with a line of about 333
// bytes, a length that no buffer or page size divides, so that a full disk
// cuts a line.
func sizedEvent(n int) *Event {
	return &Event{Kind: KindError, Conn: 1, Time: t0, From: "server", Msg: fmt.Sprintf("%08d %0250d", n, 0)}
}

// seqOf returns the n of a sizedEvent line.
func seqOf(t *testing.T, ev Event) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscanf(ev.Msg, "%d", &n); err != nil {
		t.Fatalf("event %+v: %v", ev, err)
	}
	return n
}

// fillFailResume drives one stream through a Log on a destination that
// fills up: events until writing fails, more while it fails, then free(),
// a wait until it works again, then a few more. It returns how many events
// it added.
func fillFailResume(t *testing.T, l *Log, free func()) int {
	t.Helper()
	s := l.Stream()
	n := 0
	add := func() error {
		s.Add(sizedEvent(n))
		n++
		return s.Flush()
	}
	for l.Health().Err == nil {
		if err := add(); err != nil && !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Flush: %v, want nil or ENOSPC", err)
		}
		if n > 1e6 {
			t.Fatal("a million events and the destination is not full")
		}
	}
	h := l.Health()
	if !errors.Is(h.Err, syscall.ENOSPC) || h.Since.IsZero() {
		t.Fatalf("Health once full: %+v, want ENOSPC and Since", h)
	}
	for range 100 { // the writer drops them (unless it has resumed meanwhile) and nobody waits
		if err := add(); err != nil && !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Flush while failing: %v, want ENOSPC", err)
		}
	}
	free()
	// The writer tries again by itself, every RetryInterval.
	waitHealth(t, l, "writing again", func(h Health) bool { return h.Err == nil })
	for range 100 {
		if err := add(); err != nil {
			t.Fatalf("Flush after resuming: %v", err)
		}
	}
	s.Close()
	return n
}

// checkGap checks a capture of sizedEvents that lost some: it is whole
// lines, the events in order, and before each run of events missing a gap
// event that counts them. A nearly full disk may take a gap line and fail
// again on the next write, so there can be more than one gap, each with
// its own count. Health must agree.
func checkGap(t *testing.T, evs []Event, total int, h Health) {
	t.Helper()
	var gaps, lost, pending int64
	next := 0
	for i, ev := range evs {
		if ev.Kind == KindGap {
			gaps++
			lost += ev.Lost
			pending += ev.Lost
			if ev.Conn != 0 || ev.Since.IsZero() || ev.Since.After(ev.Time) || !bytes.Contains([]byte(ev.Msg), []byte("no space left on device")) {
				t.Errorf("gap event %+v, want conn 0, since before t, msg ENOSPC", ev)
			}
			continue
		}
		if got, want := seqOf(t, ev), next+int(pending); got != want {
			t.Fatalf("event %d is #%d, want #%d (%d lost before it by the gap events)", i, got, want, pending)
		}
		next += int(pending) + 1
		pending = 0
	}
	if next+int(pending) != total {
		t.Errorf("capture accounts for %d events, want %d", next+int(pending), total)
	}
	if gaps == 0 || lost != h.Lost {
		t.Errorf("%d gap events counting %d lost, want at least one counting Health's %d", gaps, lost, h.Lost)
	}
	if h.Err != nil || !h.Since.IsZero() || h.Written+h.Lost != int64(total) || h.Lost == 0 {
		t.Errorf("Health at the end: %+v, want no error, written+lost = %d, some lost", h, total)
	}
}

// TestLogResumes drives a Log onto a destination that fills up, fails and
// recovers. It cannot be truncated, so the line the failure cut is ended
// by a newline before the gap event: every other line is whole.
func TestLogResumes(t *testing.T) {
	d := &flakyDisk{limit: 100 << 10}
	l := NewLog(d, JSON, LogOptions{FlushInterval: time.Millisecond, RetryInterval: 5 * time.Millisecond})
	total := fillFailResume(t, l, func() { d.free(1 << 20) })
	err := l.Close()
	h := l.Health()
	if !errors.Is(err, syscall.ENOSPC) || !bytes.Contains([]byte(err.Error()), []byte(fmt.Sprintf("%d events lost", h.Lost))) {
		t.Errorf("Close after resuming: %v, want the ENOSPC and %d events lost", err, h.Lost)
	}
	data := d.bytes()
	if data[len(data)-1] != '\n' {
		t.Errorf("destination ends in %q", data[max(0, len(data)-20):])
	}
	// The one cut line, as the full disk left it.
	var evs []Event
	cut := 0
	r := NewReader(bytes.NewReader(data))
	for {
		ev, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			cut++
			continue
		}
		evs = append(evs, *ev)
	}
	if cut > 1 {
		t.Errorf("%d lines do not parse, want at most the one a failure cut", cut)
	}
	checkGap(t, evs, total, l.Health())
}

// TestLogHealthChanged checks that a watcher learns of the failure and of
// the recovery as they happen, not at Close.
func TestLogHealthChanged(t *testing.T) {
	d := &flakyDisk{limit: 1000}
	l := NewLog(d, Text, LogOptions{FlushInterval: time.Millisecond, RetryInterval: time.Millisecond})
	s := l.Stream()
	for range 10 {
		s.Add(sizedEvent(0))
		s.Flush()
	}
	h := waitHealth(t, l, "failing", func(h Health) bool { return h.Err != nil })
	if !errors.Is(h.Err, syscall.ENOSPC) {
		t.Errorf("Err = %v, want ENOSPC", h.Err)
	}
	d.free(1 << 20)
	waitHealth(t, l, "writing again", func(h Health) bool { return h.Err == nil })
	s.Close()
	l.Close()
	for closed := false; !closed; {
		select {
		case _, ok := <-l.HealthChanged():
			closed = !ok
		case <-time.After(5 * time.Second):
			t.Fatal("HealthChanged not closed after Close")
		}
	}
	// The text format prints the gap too.
	if !bytes.Contains(d.bytes(), []byte(" gap      ")) || !bytes.Contains(d.bytes(), []byte("events lost since")) {
		t.Errorf("text output has no gap line:\n%s", d.bytes())
	}
}

// TestLogFullTmpfs fills a real file system: a capture file on a tiny
// tmpfs the test mounts, filled until ENOSPC, then space freed. The file
// must hold whole lines only, with a gap event counting the lost events,
// and resume.
func TestLogFullTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a tmpfs needs root (CI runs the tests as root)")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=128k,mode=700"); err != nil {
		if errors.Is(err, syscall.EPERM) {
			t.Skipf("skipped: root but cannot mount a tmpfs here: %v", err)
		}
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })

	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "capture.jsonl")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600) // as NewFileLog opens it
	if err != nil {
		t.Fatal(err)
	}
	l := NewLog(f, JSON, LogOptions{FlushInterval: time.Millisecond, RetryInterval: 5 * time.Millisecond})
	t.Cleanup(func() { l.Close(); f.Close() }) // before the unmount, when a check fails early
	var whileFull []byte
	total := fillFailResume(t, l, func() {
		whileFull, _ = os.ReadFile(path)
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
	})
	if err := l.Close(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Close after resuming: %v, want the ENOSPC it met", err)
	}
	f.Close()
	h := l.Health()

	// While the disk was full, the file already ended in a whole line.
	if len(whileFull) == 0 || whileFull[len(whileFull)-1] != '\n' {
		t.Errorf("while the disk was full the file (%d bytes) ended in %q, want a whole line", len(whileFull), whileFull[max(0, len(whileFull)-40):])
	}
	t.Logf("full at %d bytes of capture (%d events); %d lost; %d events in all", len(whileFull), bytes.Count(whileFull, []byte("\n")), h.Lost, total)
	evs, err := ReadFile(path) // stops at the first line that does not parse
	if err != nil {
		t.Fatal(err)
	}
	checkGap(t, evs, total, h)
}
