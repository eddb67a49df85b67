package pcapng

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// TestKeyLogDecrypts relays real HTTPS (TLS 1.3 and 1.2) through the tee,
// which writes it as the opaque TLS it is, the way frametap writes
// --ignore-hosts tunnels, with the key log set on both ends as frametap
// sets it on both legs. tshark sees no HTTP without the key log and every
// request with it.
func TestKeyLogDecrypts(t *testing.T) {
	for _, v := range []struct {
		name   string
		max    uint16
		labels []string
	}{
		{"TLS1.3", tls.VersionTLS13, []string{"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"}},
		{"TLS1.2", tls.VersionTLS12, []string{"CLIENT_RANDOM"}},
	} {
		t.Run(v.name, func(t *testing.T) {
			needTshark(t)
			keys := tempFile(t, "keys.log")
			kl, err := OpenKeyLog(keys)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, "secret answer to %s", r.URL.Path)
			}))
			srv.TLS = &tls.Config{KeyLogWriter: kl, MaxVersion: v.max}
			srv.StartTLS()
			defer srv.Close()
			file := tempFile(t, "tls.pcapng")
			w, err := Create(file, Options{})
			if err != nil {
				t.Fatal(err)
			}
			tt := newTee(t, "tcp4", srv.Listener.Addr().String(), w)
			tr := srv.Client().Transport.(*http.Transport).Clone()
			tr.TLSClientConfig.KeyLogWriter = kl
			tr.TLSClientConfig.MaxVersion = v.max
			tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "tcp", tt.addr())
			}
			c := &http.Client{Transport: tr}
			for _, p := range []string{"/one", "/two"} {
				if got := get(t, c, "GET", srv.URL+p, ""); got != "secret answer to "+p {
					t.Fatalf("got %q", got)
				}
			}
			tr.CloseIdleConnections()
			tt.wait()
			must(t, w.Close())
			must(t, kl.Close())

			if got := fields(t, file, "http", "frame.number"); len(got) != 0 {
				t.Errorf("HTTP visible without the keys: %q", got)
			}
			rows := tsharkKeys(t, file, keys, "http.request", "tcp.stream", "http.request_number", "http.request.uri")
			if want := [][]string{{"0", "1", "/one"}, {"0", "2", "/two"}}; !reflect.DeepEqual(rows, want) {
				t.Errorf("requests decrypted with the key log:\n got %q\nwant %q", rows, want)
			}
			checkClean(t, packets(t, file))
			checkKeyLines(t, keys, v.labels)
			if fi, err := os.Stat(keys); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("key log mode %v, %v; want 0600", fi.Mode(), err)
			}
		})
	}
}

// tsharkKeys is fields with the key log given to the TLS dissector.
func tsharkKeys(t *testing.T, file, keys, filter string, names ...string) [][]string {
	t.Helper()
	args := []string{"-o", "tls.keylog_file:" + keys, "-T", "fields", "-E", "separator=|", "-Y", filter}
	for _, n := range names {
		args = append(args, "-e", n)
	}
	var rows [][]string
	for line := range strings.Lines(tshark(t, file, args...)) {
		rows = append(rows, strings.Split(strings.TrimRight(line, "\n"), "|"))
	}
	return rows
}

// checkKeyLines checks that the key log holds whole NSS key log lines
// (label, client random, secret, in hex) and every label of labels.
func checkKeyLines(t *testing.T, path string, labels []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 || data[len(data)-1] != '\n' {
		t.Fatalf("key log does not end with a whole line: %q", data)
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || len(f[1]) != 64 || !isHex(f[1]) || !isHex(f[2]) {
			t.Errorf("not a key log line: %q", sc.Text())
			continue
		}
		seen[f[0]] = true
	}
	for _, l := range labels {
		if !seen[l] {
			t.Errorf("no %s line", l)
		}
	}
}

func isHex(s string) bool {
	for i := range len(s) {
		if hexVal(s[i]) < 0 {
			return false
		}
	}
	return s != ""
}

// statFlaky is a flakyFile that can also say its size, as KeyLog's Close
// needs to cut a line back.
type statFlaky struct{ *flakyFile }

func (s statFlaky) Stat() (os.FileInfo, error) { return s.f.Stat() }

// TestKeyLogWriteError fills the disk in the middle of a key log line:
// Write still succeeds (a failed key log write would abort the TLS
// handshake), the failure is reported, the lines wait, and they are all
// written, the cut one completed, once the disk has room.
func TestKeyLogWriteError(t *testing.T) {
	line := func(i int) []byte {
		return fmt.Appendf(nil, "CLIENT_RANDOM %064x %096x\n", i, i)
	}
	dst, path := newFlaky(t, int64(len(line(0))+50)) // one line and a piece of the next
	kl := NewKeyLog(statFlaky{dst})
	var want []byte
	for i := range 3 {
		want = append(want, line(i)...)
		if n, err := kl.Write(line(i)); n != len(line(i)) || err != nil {
			t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(line(i)))
		}
	}
	if err := kl.Err(); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Err() = %v, want ENOSPC", err)
	}
	dst.heal()
	want = append(want, line(3)...)
	kl.Write(line(3))
	if err := kl.Err(); err != nil {
		t.Errorf("Err() = %v after the disk recovered", err)
	}
	must(t, kl.Close())
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Errorf("key log:\n%s\nwant\n%s", got, want)
	}

	// A disk that stays full: Close cuts the partial line off and says
	// how many lines are lost.
	dst, path = newFlaky(t, int64(len(line(0))+50))
	kl = NewKeyLog(statFlaky{dst})
	for i := range 3 {
		kl.Write(line(i))
	}
	err := kl.Close()
	if err == nil || !strings.Contains(err.Error(), "2 key log lines not written") {
		t.Errorf("Close returned %v", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, line(0)) {
		t.Errorf("key log after Close: %q, want the one whole line", got)
	}
}

// TestKeyLogConcurrent writes lines from many goroutines: every line
// arrives whole.
func TestKeyLogConcurrent(t *testing.T) {
	var buf bytes.Buffer
	kl := NewKeyLog(&buf)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				fmt.Fprintf(kl, "CLIENT_RANDOM %064x %096x\n", g, i)
			}
		})
	}
	wg.Wait()
	must(t, kl.Close())
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 8*200 {
		t.Fatalf("%d lines, want %d", len(lines), 8*200)
	}
	for _, l := range lines {
		if len(l) != len("CLIENT_RANDOM ")+64+1+96 {
			t.Fatalf("broken line %q", l)
		}
	}
}
