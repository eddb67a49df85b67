package pcapng

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// httpServer is a Go HTTP/1.1 server on loopback (network "tcp4" or
// "tcp6") that answers every request with its method and path, and a
// body of ?n= bytes when asked.
func httpServer(t *testing.T, network string) *httptest.Server {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n := 0
		fmt.Sscan(r.URL.Query().Get("n"), &n)
		out := fmt.Sprintf("%s %s %d\n%s", r.Method, r.URL.Path, len(body), strings.Repeat("x", n))
		w.Header().Set("Content-Length", strconv.Itoa(len(out)))
		io.WriteString(w, out)
	})
	srv := httptest.NewUnstartedServer(h)
	if network == "tcp6" {
		ln, err := net.Listen("tcp6", "[::1]:0")
		if err != nil {
			t.Skip("no IPv6 loopback:", err)
		}
		srv.Listener.Close()
		srv.Listener = ln
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// client returns an HTTP client whose connections go to addr (the tee),
// kept alive between requests.
func client(addr string) *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
		MaxIdleConnsPerHost: 1,
	}}
}

func get(t *testing.T, c *http.Client, method, url, body string) string {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHTTPKeepAlive relays real Go HTTP/1.1 exchanges, three kept alive on
// one connection and one on a second connection, and checks that tshark
// sees each request on its TCP stream with its request number, each
// response, the bytes exactly as relayed, and nothing it would flag.
func TestHTTPKeepAlive(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6"} {
		t.Run(network, func(t *testing.T) {
			needTshark(t)
			srv := httpServer(t, network)
			file := tempFile(t, "http.pcapng")
			w, err := Create(file, Options{})
			if err != nil {
				t.Fatal(err)
			}
			tt := newTee(t, network, srv.Listener.Addr().String(), w)
			base := "http://" + srv.Listener.Addr().String()

			c1 := client(tt.addr())
			get(t, c1, "GET", base+"/a", "")
			get(t, c1, "POST", base+"/b", strings.Repeat("p", 5000)) // a body over several segments
			get(t, c1, "GET", base+"/c?n=100000", "")                // a response over many segments, past ackEvery
			c1.CloseIdleConnections()
			c2 := client(tt.addr())
			get(t, c2, "GET", base+"/d", "")
			c2.CloseIdleConnections()
			tt.wait()
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}

			got := fields(t, file, "http.request", "tcp.stream", "http.request_number", "http.request.method", "http.request.uri")
			want := [][]string{
				{"0", "1", "GET", "/a"},
				{"0", "2", "POST", "/b"},
				{"0", "3", "GET", "/c?n=100000"},
				{"1", "1", "GET", "/d"},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("requests:\n got %q\nwant %q", got, want)
			}
			got = fields(t, file, "http.response", "tcp.stream", "http.response.code", "http.content_length", "http.response_for.uri")
			want = [][]string{
				{"0", "200", "9", base + "/a"},
				{"0", "200", "13", base + "/b"},
				{"0", "200", "100009", base + "/c?n=100000"},
				{"1", "200", "9", base + "/d"},
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("responses:\n got %q\nwant %q", got, want)
			}
			ps := packets(t, file)
			checkClean(t, ps)
			checkFollow(t, ps, 0, tt.conn(0))
			checkFollow(t, ps, 1, tt.conn(1))
		})
	}
}
