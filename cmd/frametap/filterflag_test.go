package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/filter"
	"github.com/frametap/frametap/ui"
)

// A bad expression is refused before anything starts, with the column and
// a caret under it; the same for view.
func TestFilterFlagBadExpression(t *testing.T) {
	for _, args := range [][]string{
		{"--headless", "--listen", "127.0.0.1:0", "--filter", "~d (foo"},
		{"view", "--headless", "--filter", "~d (foo", "nonexistent.jsonl"},
	} {
		var out, errOut bytes.Buffer
		err := run(args, &out, &errOut)
		if err == nil {
			t.Fatalf("run(%q) succeeded", args)
		}
		want := "--filter: filter: unbalanced \"(\" at column 4\n  ~d (foo\n     ^"
		if err.Error() != want {
			t.Errorf("run(%q): error\n%s\nwant\n%s", args, err, want)
		}
	}
}

func TestHelpFilters(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run([]string{"help", "filters"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if out.String() != filter.Help {
		t.Errorf("help filters printed %q, want filter.Help", out.String())
	}
	if err := run([]string{"help", "nonsense"}, &out, &errOut); err == nil {
		t.Error("help on an unknown topic succeeded")
	}
}

// --filter applies to -w and the headless lines: the capture starts with
// a meta event naming the filter and holds only the selected exchange,
// with the open and close of its connection.
func TestFilterFlagWrites(t *testing.T) {
	us := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "ok")
	}))
	defer us.Close()
	path := filepath.Join(t.TempDir(), "cap.jsonl")
	var stdout, stderr syncBuffer
	addr := runProxyOut(t, &stdout, &stderr, "--mode", "reverse:"+us.URL, "-w", path, "--filter", "~c 404")
	for _, p := range []string{"/a", "/missing", "/b"} {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(nc, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", p)
		io.ReadAll(nc)
		nc.Close()
	}
	waitUntil(t, "the filtered capture holds the 404's close", func() bool {
		evs, _ := capture.ReadFile(path)
		return len(evs) == 5
	})
	evs, err := capture.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range evs {
		s := string(ev.Kind)
		switch ev.Kind {
		case capture.KindMeta:
			s += " " + ev.Filter
		case capture.KindRequest:
			s += " " + ev.Target
		case capture.KindResponse:
			s += fmt.Sprint(" ", ev.Status)
		}
		got = append(got, s)
	}
	want := "meta ~c 404|open|request /missing|response 404|close"
	if strings.Join(got, "|") != want {
		t.Errorf("filtered capture:\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
	waitUntil(t, "the headless lines show the 404", func() bool { return strings.Contains(stdout.String(), "response #1 404") })
	if s := stdout.String(); !strings.Contains(s, `meta     filter="~c 404"`) || strings.Contains(s, "GET /a ") || strings.Contains(s, "GET /b ") {
		t.Errorf("headless lines not filtered as -w is:\n%s", s)
	}
}

// view --filter judges each event with its whole connection, and keeps the
// open and close of the connections it shows.
func TestViewFilterHeadless(t *testing.T) {
	path := writeCaptureFile(t, 2000)
	var out, errOut bytes.Buffer
	if err := run([]string{"view", "--headless", "--filter", "~conn 7 ~q", path}, &out, &errOut); err != nil {
		t.Fatalf("view: %v\n%s", err, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 3 {
		t.Fatalf("got %d lines:\n%s", len(lines), out.String())
	}
	for i, l := range lines {
		kind := strings.Fields(l)[2]
		switch {
		case !strings.Contains(l, " #7 "):
			t.Errorf("line %d is not connection 7's: %s", i, l)
		case i == 0 && kind != "open", i > 0 && kind != "request":
			t.Errorf("line %d: %s; want the open, then requests only", i, l)
		}
	}
	// The same selection reaches the dashboard's store.
	sel, _, err := readSelected(path, filter.MustParse("~conn 7 ~q"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(sel) != len(lines) {
		t.Errorf("selectEvents kept %d events, the headless view printed %d", len(sel), len(lines))
	}
}

// runProxyOut is runProxy with the outputs given.
func runProxyOut(t *testing.T, stdout, stderr *syncBuffer, args ...string) string {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		done <- run(append([]string{"--headless", "--listen", "127.0.0.1:0"}, args...), stdout, stderr)
	}()
	t.Cleanup(func() {
		interrupt()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	var addr string
	waitUntil(t, "frametap listens", func() bool {
		if m := listeningRE.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
		}
		return addr != ""
	})
	return addr
}

// waitUntil polls cond for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting until %s", what)
}

var listeningRE = regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)

// interrupt sends this process SIGINT, as runProxy's cleanup does.
func interrupt() { syscall.Kill(os.Getpid(), syscall.SIGINT) }

// BenchmarkViewFilter1M is `frametap view --filter` on a capture of
// 1,000,000 events: every line read and parsed, the whole capture judged
// (filter.Select), the selection handed to the dashboard's store.
//
//	go test ./cmd/frametap/ -run '^$' -bench ViewFilter1M -benchmem
func BenchmarkViewFilter1M(b *testing.B) {
	const n = 1_000_000
	path := writeCaptureFile(b, n)
	flt := filter.MustParse(`~ws ~op text ~b "price\":101"`)
	for b.Loop() {
		st := ui.NewStore(0)
		kept, ld, err := loadSelected(path, flt, st)
		if err != nil || ld.n != n || ld.bad != 0 || kept == 0 {
			b.Fatalf("loadSelected: kept %d of %d, %d bad, %v", kept, ld.n, ld.bad, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/event")
}
