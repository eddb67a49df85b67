package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/capture/har"
	"github.com/frametap/frametap/ui"
)

// fixture returns the path of a capture or HAR fixture of capture/har.
func fixture(name string) string {
	return filepath.Join("..", "..", "capture", "har", "testdata", name)
}

// withStdin makes "-" read b for the rest of the test.
func withStdin(t *testing.T, b []byte) {
	t.Helper()
	old := stdin
	stdin = bytes.NewReader(b)
	t.Cleanup(func() { stdin = old })
}

// readHAR parses a HAR frametap wrote.
func readHAR(t *testing.T, b []byte) *har.HAR {
	t.Helper()
	var h har.HAR
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatalf("not a HAR: %v\n%s", err, b)
	}
	return &h
}

// leftovers lists the files in dir other than keep.
func leftovers(t *testing.T, dir string, keep ...string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		if !strings.Contains(strings.Join(keep, "\x00"), de.Name()) {
			out = append(out, de.Name())
		}
	}
	return out
}

// TestExport: frametap export --har OUT CAPTURE writes the whole HAR,
// owner-only, with flags before or after the capture's name; - reads
// standard input and writes standard output; --filter keeps what it
// selects.
func TestExport(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.har")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"export", fixture("example.jsonl"), "--har", out}, &stdout, &stderr); err != nil {
		t.Fatalf("export: %v\n%s", err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	h := readHAR(t, b)
	if len(h.Log.Entries) != 3 || h.Log.Creator.Name != "frametap" || h.Log.Entries[2].WebSocketMessages == nil {
		t.Errorf("HAR: %d entries, creator %+v", len(h.Log.Entries), h.Log.Creator)
	}
	if fi, _ := os.Stat(out); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600: a HAR holds what the capture holds", fi.Mode().Perm())
	}
	if !strings.Contains(stderr.String(), "3 entries (1 WebSocket, 6 messages) from 22 events to "+out) || stdout.Len() != 0 {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
	if l := leftovers(t, dir, "out.har"); len(l) != 0 {
		t.Errorf("left behind: %v", l)
	}

	// Again, over the file, from standard input, filtered to the
	// messages the server sent.
	capb, _ := os.ReadFile(fixture("example.jsonl"))
	withStdin(t, capb)
	stdout.Reset()
	stderr.Reset()
	if err := run([]string{"export", "--har", out, "--filter", "~ws", "-"}, &stdout, &stderr); err != nil {
		t.Fatalf("export -: %v\n%s", err, stderr.String())
	}
	b, _ = os.ReadFile(out)
	h = readHAR(t, b)
	if len(h.Log.Entries) != 1 || len(*h.Log.Entries[0].WebSocketMessages) != 3 {
		t.Errorf("--filter '~ws': %d entries", len(h.Log.Entries))
	}

	// To standard output.
	withStdin(t, capb)
	stdout.Reset()
	if err := run([]string{"export", "--har", "-", "-"}, &stdout, &stderr); err != nil {
		t.Fatalf("export to -: %v", err)
	}
	if h := readHAR(t, stdout.Bytes()); len(h.Log.Entries) != 3 {
		t.Errorf("to standard output: %d entries", len(h.Log.Entries))
	}
	// A bad filter is an error before anything is read.
	if err := run([]string{"export", "--har", out, "--filter", "~d (x", fixture("example.jsonl")}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "--filter") {
		t.Errorf("a bad filter: %v", err)
	}
}

// TestExportBadInput: a file that is not a capture, a HAR where a capture
// belongs, a broken line, an unwritable destination: a clear error naming
// the file (and line), and nothing at OUT; a capture cut at its last line
// is exported up to it, with a warning.
func TestExportBadInput(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(fixture("example.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(good), "\n")
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, in, want string
	}{
		{"text.txt", "hello\nworld\n", "text.txt: capture: line 1: invalid character 'h'"},
		{"bad3.jsonl", lines[0] + lines[1] + "{oops\n" + lines[3], "bad3.jsonl: capture: line 3"},
		{"binary.bin", "\x00\x01\x02\xff\n", "binary.bin: capture: line 1"},
		{"a.har", `{"log":{"entries":[]}}`, "a.har is a HAR file, not a capture"},
	} {
		in := write(tc.name, tc.in)
		out := filepath.Join(dir, tc.name+".har")
		var stdout, stderr bytes.Buffer
		err := run([]string{"export", "--har", out, in}, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error containing %q", tc.name, err, tc.want)
		}
		if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s: %s exists after the error", tc.name, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.jsonl")); err == nil {
		t.Fatal("?")
	}
	var stdout, stderr bytes.Buffer
	if err := run([]string{"export", "--har", filepath.Join(dir, "m.har"), filepath.Join(dir, "missing.jsonl")}, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "missing.jsonl") {
		t.Errorf("a missing capture: %v", err)
	}

	in := write("good.jsonl", string(good))
	// A directory that does not exist, and a directory where the file
	// should go (the rename onto it fails once the HAR is written).
	d2 := t.TempDir()
	isDir := filepath.Join(d2, "out.har")
	if err := os.Mkdir(isDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{filepath.Join(dir, "no", "such", "dir", "out.har"), isDir} {
		err := run([]string{"export", "--har", out, in}, &stdout, &stderr)
		if err == nil || !strings.Contains(err.Error(), out) {
			t.Errorf("unwritable %s: %v, want an error naming it", out, err)
		}
	}
	if l := leftovers(t, d2, "out.har"); len(l) != 0 {
		t.Errorf("left beside %s: %v", isDir, l)
	}

	// A write that fails half way leaves nothing at the path, nor a
	// temporary file beside it.
	out := filepath.Join(dir, "half.har")
	err = writeFileWhole(out, func(w io.Writer) error {
		io.WriteString(w, strings.Repeat("{", 100<<10))
		return errors.New("disk full, say")
	})
	if err == nil || !strings.Contains(err.Error(), out) || !strings.Contains(err.Error(), "nothing was left") {
		t.Errorf("writeFileWhole of a failing write: %v", err)
	}
	if l := leftovers(t, dir, "text.txt", "bad3.jsonl", "binary.bin", "a.har", "good.jsonl"); len(l) != 0 {
		t.Errorf("left behind: %v", l)
	}

	// Cut at its last line: exported up to it, with a warning.
	cut := write("cut.jsonl", strings.Join(lines[:10], "")+lines[10][:25])
	stderr.Reset()
	out = filepath.Join(dir, "cut.har")
	if err := run([]string{"export", "--har", out, cut}, &stdout, &stderr); err != nil {
		t.Fatalf("a cut capture: %v", err)
	}
	if !strings.Contains(stderr.String(), "WARNING: "+cut+": capture: line 11") || !strings.Contains(stderr.String(), "cut short") {
		t.Errorf("no warning about the cut line: %q", stderr.String())
	}
	b, _ := os.ReadFile(out)
	if h := readHAR(t, b); len(h.Log.Entries) != 3 || len(*h.Log.Entries[2].WebSocketMessages) != 1 {
		t.Errorf("the cut capture's HAR: %d entries", len(h.Log.Entries))
	}
}

// TestViewHAR: frametap view --headless FILE.har (and -r FILE.har, and -
// on standard input) prints a HAR's exchanges and WebSocket messages as
// the headless lines, after a note that says what a HAR cannot tell.
func TestViewHAR(t *testing.T) {
	for _, args := range [][]string{
		{"view", "--headless", fixture("httptoolkit.har")},
		{"-r", fixture("httptoolkit.har"), "--headless"},
		{"view", "--headless", "-"},
	} {
		b, _ := os.ReadFile(fixture("httptoolkit.har"))
		withStdin(t, b)
		var stdout, stderr bytes.Buffer
		if err := run(args, &stdout, &stderr); err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		out := stdout.String()
		for _, want := range []string{
			"#0 error    HAR file ", "written by HTTP Toolkit 1.20.1: 4 entries and 4 WebSocket messages",
			"open     \"(not in HAR)\" -> 127.0.0.1:3000 (har)", "request  #1 POST /upload HTTP/1.1",
			"upgrade  #1 websocket subprotocol=chat accept=ok", `client→ text 12B 0 frames "{\"op\":\"sub\"}"`,
			"←server binary 3B 0 frames hex:000102", "ws: no close frame", "no response",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%q: output lacks %q:\n%s", args, want, out)
			}
		}
	}
}

// TestViewStdinAndCut: view reads a capture from standard input, and a
// capture cut at its last line up to it, with a warning.
func TestViewStdinAndCut(t *testing.T) {
	good, _ := os.ReadFile(fixture("example.jsonl"))
	lines := strings.SplitAfter(string(good), "\n")
	withStdin(t, []byte(strings.Join(lines[:5], "")+lines[5][:30]))
	var stdout, stderr bytes.Buffer
	if err := run([]string{"view", "--headless", "-"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stdout.String(), "\n"); n != 5 {
		t.Errorf("%d lines printed, want the 5 whole ones:\n%s", n, stdout.String())
	}
	if !strings.Contains(stderr.String(), "WARNING: standard input: capture: line 6") {
		t.Errorf("stderr %q", stderr.String())
	}
	// The dashboard's loader reads the same.
	withStdin(t, []byte(strings.Join(lines[:5], "")+lines[5][:30]))
	st := ui.NewStore(0)
	ld, err := loadCapture("-", st)
	if err != nil || ld.n != 5 || ld.cut == nil || ld.bad != 0 {
		t.Errorf("loadCapture: %+v, %v", ld, err)
	}
	// And a HAR, with its summary.
	ld, err = loadCapture(fixture("mitmproxy.har"), st)
	if err != nil || ld.har == nil || ld.har.Entries != 2 || ld.n < 1+2*2 || st.Total() != 5+ld.n {
		t.Errorf("loadCapture of a HAR: %+v, %v", ld, err)
	}
}

// errWriter fails every write with err once it took limit bytes.
type errWriter struct {
	mu    sync.Mutex
	limit int
	n     int
	err   error
}

func (w *errWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n+len(p) > w.limit {
		return 0, w.err
	}
	w.n += len(p)
	return len(p), nil
}

// TestPipeOutput: -w - writes the capture to standard output as JSON
// Lines (the headless lines go to standard error; with -q, nothing but
// warnings does), and when standard output's reader goes away frametap
// stops by itself, cleanly, saying so.
func TestPipeOutput(t *testing.T) {
	us := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "pong") }))
	defer us.Close()
	for _, quiet := range []bool{false, true} {
		t.Run(fmt.Sprint("quiet=", quiet), func(t *testing.T) {
			addr := "127.0.0.1:" + freePort(t) // -q does not say where it listens
			args := []string{"-w", "-", "--listen", addr, "--mode", "reverse:" + us.URL}
			if quiet {
				args = append(args, "-q")
			}
			var stdout, stderr syncBuffer
			done := make(chan error, 1)
			go func() { done <- run(args, &stdout, &stderr) }()
			resp := getWhenListening(t, "http://"+addr+"/ping")
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			http.DefaultClient.CloseIdleConnections()
			time.Sleep(200 * time.Millisecond)
			stopRun(t, done)
			evs, err := capture.Read(strings.NewReader(stdout.String()))
			if err != nil || len(evs) != 4 || evs[1].Kind != capture.KindRequest || evs[1].Target != "/ping" {
				t.Errorf("standard output: %d events, %v:\n%s", len(evs), err, stdout.String())
			}
			lines := strings.Contains(stderr.String(), "request  #1 GET /ping")
			notices := strings.Contains(stderr.String(), "listening on "+addr+", reverse proxy") &&
				strings.Contains(stderr.String(), "capture to standard output") &&
				strings.Contains(stderr.String(), "intercepting TLS with the CA")
			if lines == quiet || notices == quiet || quiet && stderr.String() != "" {
				t.Errorf("stderr (quiet %v):\n%s", quiet, stderr.String())
			}
		})
	}
	t.Run("broken pipe", func(t *testing.T) {
		stdout := &errWriter{limit: 300, err: &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}}
		var stderr syncBuffer
		addr := "127.0.0.1:" + freePort(t)
		done := make(chan error, 1)
		go func() {
			done <- run([]string{"-w", "-", "-q", "--listen", addr, "--mode", "reverse:" + us.URL}, stdout, &stderr)
		}()
		resp := getWhenListening(t, "http://"+addr+"/ping")
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		for range 4 {
			if resp, err := http.Get("http://" + addr + "/ping"); err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v, want a clean end", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("frametap still running 10 s after standard output broke")
		}
		if !strings.Contains(stderr.String(), "standard output was closed (broken pipe): stopping") {
			t.Errorf("stderr:\n%s", stderr.String())
		}
	})
}

// getWhenListening GETs url once frametap listens, trying for up to 5 s
// (a refused dial leaves nothing in the capture, as a probe would).
func getWhenListening(t *testing.T, url string) *http.Response {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			return resp
		}
		if time.Now().After(deadline) {
			t.Fatalf("frametap not listening after 5 s: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPlanOutputs(t *testing.T) {
	var stdout, stderr bytes.Buffer
	for _, tc := range []struct {
		o        options
		headless bool
		text     io.Writer
		err      string
	}{
		{o: options{}, headless: false},
		{o: options{headless: true}, headless: true, text: &stdout},
		{o: options{quiet: true}, headless: true},
		{o: options{write: "-"}, headless: true, text: &stderr},
		{o: options{write: "-", quiet: true}, headless: true},
		{o: options{pcap: "-"}, headless: true, text: &stderr},
		{o: options{write: "x.jsonl", headless: true}, headless: true, text: &stdout},
		{o: options{write: "-", pcap: "-"}, err: "cannot both"},
		{o: options{write: "same", pcap: "same"}, err: "same file"},
	} {
		plan, err := planOutputs(tc.o, &stdout, &stderr)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: %v, want %q", tc.o, err, tc.err)
			}
			continue
		}
		if err != nil || plan.headless != tc.headless || plan.text != tc.text {
			t.Errorf("%+v: %+v, %v", tc.o, plan, err)
		}
	}
}
