package main

// The dashboard of issue 13 end to end, in tmux: a compressed JSON API
// read decoded, its timing waterfall, a slow download watched while it
// streams, and bodies that do not decode (not gzip, a bomb, an unknown
// coding) shown raw with the reason while the relay hands the client
// every byte and the process stays small.

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
)

// readableJSON is what the API answers, encoded.
var readableJSON = []byte(`{"items":[{"id":7,"name":"alpha","price":101.5},{"id":8,"name":"beta","price":99.25}],"total":2}`)

// readableAPI is the upstream: JSON in gzip, br and zstd, bodies that do
// not decode, and a download that sends a chunk each time gate is fed.
func readableAPI(t *testing.T, gate chan struct{}) (*httptest.Server, map[string][]byte) {
	js := readableJSON
	enc := func(c string) []byte {
		var b bytes.Buffer
		var w io.WriteCloser
		switch c {
		case "gzip":
			w = gzip.NewWriter(&b)
		case "br":
			w = brotli.NewWriter(&b)
		case "zstd":
			w, _ = zstd.NewWriter(&b)
		}
		w.Write(js)
		w.Close()
		return b.Bytes()
	}
	var one bytes.Buffer
	gw := gzip.NewWriter(&one)
	gw.Write(make([]byte, 16<<20))
	gw.Close()
	bodies := map[string][]byte{
		"/api/items": enc("gzip"), "/api/users": enc("br"), "/api/stats": enc("zstd"),
		"/bad/notgzip": []byte("plain text, whatever the header says"),
		"/bad/bomb":    bytes.Repeat(one.Bytes(), 64), // 1 GiB of zeros
		"/bad/snappy":  []byte("\xff\x06\x00\x00sNaPpY"),
	}
	codings := map[string]string{"/api/items": "gzip", "/api/users": "br", "/api/stats": "zstd", "/bad/notgzip": "gzip", "/bad/bomb": "gzip", "/bad/snappy": "snappy"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/download" {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", strconv.Itoa(4*256<<10))
			w.WriteHeader(200)
			for range 4 {
				<-gate
				w.Write(bytes.Repeat([]byte{'x'}, 256<<10))
				w.(http.Flusher).Flush()
			}
			return
		}
		b, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", codings[r.URL.Path])
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv, bodies
}

func TestE2EDashboardReadableInTmux(t *testing.T) {
	requireE2E(t)
	gate := make(chan struct{})
	up, bodies := readableAPI(t, gate)
	capPath := filepath.Join(t.TempDir(), "readable.jsonl")
	s := startTmux(t, fmt.Sprintf("GORACE=atexit_sleep_ms=10 %q --listen 127.0.0.1:0 -w %q", e2eBinary, capPath), 200, 50)
	screen := s.waitFor(20*time.Second, "start", "Connections (0)", "frametap 127.0.0.1:")
	m := regexp.MustCompile(`frametap (127\.0\.0\.1:\d+) regular`).FindStringSubmatch(screen)
	if m == nil {
		t.Fatalf("no listen address in the status line:\n%s", screen)
	}
	proxyURL, _ := url.Parse("http://" + m[1])
	// One kept-alive connection, bodies as they crossed the wire.
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), DisableCompression: true, MaxConnsPerHost: 1}}
	defer client.CloseIdleConnections()
	get := func(path string) {
		t.Helper()
		resp, err := client.Get(up.URL + path)
		if err != nil {
			t.Fatalf("GET %s through frametap: %v\n%s", path, err, s.pane())
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || sha256.Sum256(b) != sha256.Sum256(bodies[path]) {
			t.Fatalf("GET %s: %d bytes (%v), not the %d the server sent: the relay must hand over every byte", path, len(b), err, len(bodies[path]))
		}
	}

	// A compressed JSON API: the row in origin-form with its coding, the
	// detail with the JSON decoded and the timing waterfall (the first
	// exchange dialed the server: connect).
	get("/api/items")
	screen = s.waitFor(15*time.Second, "a gzip JSON response",
		"GET    /api/items", "gzip", "body, ", fmt.Sprintf("gzip, %d B decoded", len(readableJSON)), `"name": "alpha"`,
		"timing", "connect", "TCP connect", "wait", "time to first byte", "receive")
	t.Logf("a gzip JSON response:\n%s", screen)
	get("/api/users")
	s.waitFor(15*time.Second, "a br JSON response", "GET    /api/users", fmt.Sprintf("br, %d B decoded", len(readableJSON)), `"price": 99.25`, "on a reused connection")
	get("/api/stats")
	s.waitFor(15*time.Second, "a zstd JSON response", "GET    /api/stats", fmt.Sprintf("zstd, %d B decoded", len(readableJSON)), `"total": 2`)

	// Bodies that do not decode: shown raw with the reason.
	for _, tc := range []struct{ path, why string }{
		{"/bad/notgzip", "not decoded: not valid gzip: invalid header"},
		{"/bad/snappy", `not decoded: content coding "snappy" is not decoded by frametap`},
		{"/bad/bomb", "not decoded: stopped decoding gzip at 67108864 bytes"},
	} {
		get(tc.path)
		s.waitFor(30*time.Second, "bad input "+tc.path, tc.path, tc.why)
	}
	rss := peakRSS(t, s)
	t.Logf("frametap peak RSS after the bomb: %d MiB", rss>>20)
	if rss > 600<<20 {
		t.Errorf("frametap's peak memory %d MiB after a 1 GiB gzip bomb: decoding is not bounded", rss>>20)
	}

	// A slow download, watched while it streams: its row (status, bytes so
	// far) and the connection's growing byte count are on screen before it
	// ends.
	done := make(chan error, 1)
	go func() {
		resp, err := client.Get(up.URL + "/download")
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		done <- err
	}()
	gate <- struct{}{}
	first := s.waitFor(15*time.Second, "a download in progress", "GET    /download", "200…", "256.0 KiB…", "receiving")
	gate <- struct{}{}
	second := s.waitFor(15*time.Second, "a download growing", "512.0 KiB…")
	if a, b := downBytes(first), downBytes(second); !(a > 256<<10 && b > a) {
		t.Errorf("the connection's bytes did not grow while the download streamed: %d then %d\n%s\n%s", a, b, first, second)
	}
	t.Logf("a download in progress:\n%s", second)
	select {
	case err := <-done:
		t.Fatalf("the download ended before the test let it: %v", err)
	default:
	}
	gate <- struct{}{}
	gate <- struct{}{}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.waitFor(15*time.Second, "the download done", "1.0 MiB ")

	client.CloseIdleConnections()
	s.keys("q")
	s.waitExit("q")
	b, err := os.ReadFile(capPath)
	if err != nil || !strings.Contains(string(b), fmt.Sprintf(`"decoded_len":%d`, len(readableJSON))) || !strings.Contains(string(b), `"wait_ms":`) {
		t.Errorf("capture after q: %v; want decoded_len and wait_ms in it", err)
	}
}

// downBytes reads the first connection row's bytes from the server, as
// the BYTES column shows them.
func downBytes(screen string) int64 {
	m := regexp.MustCompile(`([\d.]+) (B|KiB|MiB)↓`).FindStringSubmatch(screen)
	if m == nil {
		return -1
	}
	f, _ := strconv.ParseFloat(m[1], 64)
	switch m[2] {
	case "KiB":
		f *= 1 << 10
	case "MiB":
		f *= 1 << 20
	}
	return int64(f)
}

// peakRSS returns the peak resident memory of the frametap running in s.
func peakRSS(t *testing.T, s *tmuxSession) int64 {
	t.Helper()
	out, err := s.tm("list-panes", "-t", s.name, "-F", "#{pane_pid}")
	if err != nil {
		t.Fatalf("tmux list-panes: %v %s", err, out)
	}
	shell := strings.TrimSpace(out)
	pid, err := exec.Command("pgrep", "-P", shell, "frametap").Output()
	if err != nil {
		t.Fatalf("no frametap under the pane's shell %s: %v", shell, err)
	}
	status, err := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(status)
	if m == nil {
		t.Fatalf("no VmHWM in /proc status:\n%s", status)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}
