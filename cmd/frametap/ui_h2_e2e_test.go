package main

// The dashboard with HTTP/2 end to end, in tmux (issue 9, and issue 13's
// live progress for HTTP/2): a Go h2 client fetches several resources at
// once through frametap (regular mode, TLS intercepted, ALPN h2 both
// ways) on one connection; the connections pane says h2 and "up to N at
// once", the exchanges view gives each stream's exchange its stream id
// and lanes, a slow stream shows while it streams, and F lists the
// frames.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/frametap/frametap/proxy/certs"
)

func TestE2EDashboardH2InTmux(t *testing.T) {
	requireE2E(t)
	const n = 6 // requests held by the server until all arrived: n streams open at once
	dir := t.TempDir()
	upCA, err := certs.LoadOrCreate(filepath.Join(dir, "upstream-ca"))
	if err != nil {
		t.Fatal(err)
	}
	tapCA, err := certs.LoadOrCreate(filepath.Join(dir, "frametap-ca"))
	if err != nil {
		t.Fatal(err)
	}

	// The server: /r/i answers once n of them arrived; /slow sends its
	// head, then its body when gate is fed.
	arrived := make(chan struct{}, n)
	all := make(chan struct{})
	var once sync.Once
	gate := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/slow":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.WriteHeader(200)
			w.Write(make([]byte, 64<<10))
			w.(http.Flusher).Flush()
			select {
			case <-gate:
			case <-ctx.Done():
			}
			w.Write(make([]byte, 64<<10))
		case strings.HasPrefix(r.URL.Path, "/r/"):
			arrived <- struct{}{}
			if len(arrived) == n {
				once.Do(func() { close(all) })
			}
			select {
			case <-all:
			case <-ctx.Done():
			}
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"path":%q,"proto":%q}`, r.URL.Path, r.Proto)
		default:
			io.WriteString(w, "warm")
		}
	})}
	srv.TLSConfig = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return upCA.Leaf("127.0.0.1") }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.ServeTLS(ln, "", "")
	defer srv.Close()
	base := "https://" + ln.Addr().String()

	s := startTmux(t, fmt.Sprintf("GORACE=atexit_sleep_ms=10 %q --listen 127.0.0.1:0 --ca-dir %q --upstream-ca %q --allow-upstream %q",
		e2eBinary, tapCA.Dir, upCA.CertPath, `^127\.0\.0\.1:\d+$`), 200, 50)
	screen := s.waitFor(20*time.Second, "start", "Connections (0)", "frametap 127.0.0.1:")
	m := regexp.MustCompile(`frametap (127\.0\.0\.1:\d+) regular`).FindStringSubmatch(screen)
	if m == nil {
		t.Fatalf("no listen address in the status line:\n%s", screen)
	}
	proxyURL, _ := url.Parse("http://" + m[1])
	roots := x509.NewCertPool()
	roots.AddCert(tapCA.Cert)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true, MaxConnsPerHost: 1,
	}}
	defer client.CloseIdleConnections()
	get := func(path string) (string, error) {
		resp, err := client.Get(base + path)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if resp.Proto != "HTTP/2.0" {
			return "", fmt.Errorf("%s: %s, want HTTP/2.0", path, resp.Proto)
		}
		return string(b), err
	}
	if _, err := get("/warm"); err != nil { // the connection, before the streams
		t.Fatalf("through frametap: %v\n%s", err, s.pane())
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 1; i <= n; i++ {
		wg.Go(func() {
			b, err := get(fmt.Sprintf("/r/%d", i))
			if err == nil && !strings.Contains(b, `"proto":"HTTP/2.0"`) {
				err = fmt.Errorf("/r/%d: %q", i, b)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// One connection, h2, n streams at once; each exchange with its stream.
	screen = s.waitFor(15*time.Second, "the h2 connection", "Connections (1)", "https", fmt.Sprintf("h2 ≤%d", n),
		fmt.Sprintf("%d requests on 1 TCP connection, up to %d at once (HTTP/2 multiplexing)", n+1, n),
		"STREAM LANES", "/r/1", fmt.Sprintf("/r/%d", n), "│●")
	t.Logf("the h2 connection:\n%s", screen)

	// A stream still streaming: its row with the status and bytes so far.
	done := make(chan error, 1)
	go func() { _, err := get("/slow"); done <- err }()
	s.waitFor(15*time.Second, "a stream in progress", "/slow", "200…", "64.0 KiB…", "receiving")
	close(gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.waitFor(15*time.Second, "the stream done", "128.0 KiB ")

	// The frames, one key away.
	s.keys("F")
	s.waitFor(10*time.Second, "the frames view", "HTTP/2 frames #", "END_STREAM END_HEADERS", "WINDOW_UPDATE")
	s.keys("Tab", "g") // its first rows: the connection's SETTINGS
	// Which settings each side lists, and in which order, differs
	// between runs of Go's HTTP/2 peers; each run's first SETTINGS rows
	// began with or soon named MAX_FRAME_SIZE.
	s.waitFor(10*time.Second, "the frames view's first rows", "SETTINGS", "MAX_FRAME_SIZE=")
	s.keys("F")
	s.waitFor(10*time.Second, "back to the exchanges", "Exchanges #")

	client.CloseIdleConnections()
	s.keys("q")
	s.waitExit("q")
}
