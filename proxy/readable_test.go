package proxy

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/frametap/frametap/capture"
)

// The readable-bodies side of the proxy (issue 13), through real sockets:
// encoded bodies keep their wire bytes and gain decoded_len (and
// decoded_body with DecodeBodies); bad ones say why; the client gets the
// bytes the server sent whatever frametap thought of them.

var apiJSON = []byte(`{"items":[{"id":1,"name":"alpha"},{"id":2,"name":"beta"}],"total":2}`)

func gzipped(t testing.TB, b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// encodedServer serves /PATH with the body and Content-Encoding of bodies.
func encodedServer(t *testing.T, bodies map[string]struct {
	coding string
	body   []byte
}) *upstreamServer {
	return startHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		b, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if b.coding != "" {
			w.Header().Set("Content-Encoding", b.coding)
		}
		w.Write(b.body)
	})
}

func TestDecodedBodies(t *testing.T) {
	defer func(old int64) { minDecodeLimit = old }(minDecodeLimit)
	minDecodeLimit = 1 << 20

	var br, zs bytes.Buffer
	bw := brotli.NewWriter(&br)
	bw.Write(apiJSON)
	bw.Close()
	zw, _ := zstd.NewWriter(&zs)
	zw.Write(apiJSON)
	zw.Close()
	bomb := bytes.Repeat(gzipped(t, make([]byte, 16<<20)), 64) // 1 GiB of zeros
	bodies := map[string]struct {
		coding string
		body   []byte
	}{
		"/gzip": {"gzip", gzipped(t, apiJSON)},
		"/br":   {"br", br.Bytes()},
		"/zstd": {"zstd", zs.Bytes()},
		"/both": {"gzip, br", func() []byte {
			var b bytes.Buffer
			w := brotli.NewWriter(&b)
			w.Write(gzipped(t, apiJSON))
			w.Close()
			return b.Bytes()
		}()},
		"/plain":    {"", apiJSON},
		"/notgzip":  {"gzip", []byte("this is not gzip at all")},
		"/unknown":  {"snappy", []byte("\xff\x06\x00\x00sNaPpY")},
		"/bomb":     {"gzip", bomb},
		"/identity": {"identity", apiJSON},
	}
	up := encodedServer(t, bodies)
	tp := startTap(t, Config{Mode: Reverse, Upstream: up.addr, DecodeBodies: true})
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	for _, path := range []string{"/gzip", "/br", "/zstd", "/both", "/plain", "/notgzip", "/unknown", "/bomb", "/identity"} {
		resp, err := client.Get("http://" + tp.addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		// The relay is unaffected: the client gets the server's bytes.
		if err != nil || sha256.Sum256(got) != sha256.Sum256(bodies[path].body) {
			t.Fatalf("GET %s: %d bytes (err %v), not the %d the server sent", path, len(got), err, len(bodies[path].body))
		}
	}
	client.CloseIdleConnections()
	tp.waitClosed()
	byTarget := map[string]capture.Event{}
	var target string
	for _, ev := range tp.stop() {
		switch ev.Kind {
		case capture.KindRequest:
			target = ev.Target
		case capture.KindResponse:
			byTarget[target] = ev
		}
	}
	for path, want := range map[string]struct {
		decoded bool
		err     string
	}{
		"/gzip": {true, ""}, "/br": {true, ""}, "/zstd": {true, ""}, "/both": {true, ""},
		"/plain": {false, ""}, "/identity": {false, ""},
		"/notgzip": {false, "not valid gzip: invalid header"},
		"/unknown": {false, `content coding "snappy" is not decoded by frametap`},
		"/bomb":    {false, "stopped decoding gzip at 4194304 bytes"}, // 4 × --max-body,
	} {
		ev := byTarget[path]
		if ev.BodyLen != int64(len(bodies[path].body)) {
			t.Errorf("%s: body_len %d, want the wire's %d", path, ev.BodyLen, len(bodies[path].body))
		}
		if ev.Decoded != want.decoded || !strings.Contains(ev.DecodeErr, want.err) || (want.err == "") != (ev.DecodeErr == "") {
			t.Errorf("%s: decoded %v (%d) err %q, want %v and %q", path, ev.Decoded, ev.DecodedLen, ev.DecodeErr, want.decoded, want.err)
		}
		if want.decoded && (ev.DecodedLen != int64(len(apiJSON)) || !bytes.Equal(ev.DecodedBody, apiJSON)) {
			t.Errorf("%s: decoded_len %d body %q, want %d %q", path, ev.DecodedLen, ev.DecodedBody, len(apiJSON), apiJSON)
		}
	}
	if ev := byTarget["/bomb"]; len(ev.DecodedBody) != 1<<20 || !ev.DecodedTruncated {
		t.Errorf("/bomb: %d decoded bytes kept, truncated %v; want the first 1 MiB, cut", len(ev.DecodedBody), ev.DecodedTruncated)
	}
}

// Without DecodeBodies, only decoded_len is recorded.
func TestDecodedLenOnly(t *testing.T) {
	up := encodedServer(t, map[string]struct {
		coding string
		body   []byte
	}{"/gzip": {"gzip", gzipped(t, apiJSON)}})
	tp := startTap(t, Config{Mode: Reverse, Upstream: up.addr})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	resp, err := client.Get("http://" + tp.addr + "/gzip")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	client.CloseIdleConnections()
	tp.waitClosed()
	resps := kinds(tp.stop(), 0, capture.KindResponse)
	if len(resps) != 1 || !resps[0].Decoded || resps[0].DecodedLen != int64(len(apiJSON)) || resps[0].DecodedBody != nil {
		t.Fatalf("responses: %+v", resps)
	}
}

// Timings: connect_ms on the exchange that dialed, not on the one that
// reused the connection; wait_ms at least the server's think time (the
// request was read before the server got it, the response after it
// answered); receive_ms at least the time the test held the second half of
// the body back after frametap had read the first (a gate, not a sleep
// frametap might oversleep).
func TestTimings(t *testing.T) {
	const think, pause = 40 * time.Millisecond, 30 * time.Millisecond
	gate := make(chan struct{})
	up := startHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(think)
		w.Header().Set("Content-Length", "10")
		w.WriteHeader(200)
		io.WriteString(w, "hello")
		w.(http.Flusher).Flush()
		<-gate
		io.WriteString(w, "world")
	})
	ll := &liveLog{relayed: map[string]int64{}, bodyNow: make(chan int64, 100)}
	tp := startTap(t, Config{Outputs: []capture.Output{ll}})
	proxyURL, _ := url.Parse("http://" + tp.addr)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}}
	for i := range 2 {
		done := make(chan string, 1)
		go func() {
			resp, err := client.Get("http://" + up.addr + "/x")
			if err != nil {
				done <- err.Error()
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			done <- string(b)
		}()
		for got := <-ll.bodyNow; got < int64(10*i+5); got = <-ll.bodyNow {
		}
		time.Sleep(pause) // frametap has read "hello": hold "world" back
		gate <- struct{}{}
		if body := <-done; body != "helloworld" {
			t.Fatalf("body %q", body)
		}
	}
	client.CloseIdleConnections()
	tp.waitClosed()
	resps := kinds(tp.stop(), 0, capture.KindResponse)
	if len(resps) != 2 {
		t.Fatalf("%d responses", len(resps))
	}
	if resps[0].Conn != resps[1].Conn {
		t.Fatalf("the client did not reuse its connection: conns %d and %d", resps[0].Conn, resps[1].Conn)
	}
	if resps[0].Connect <= 0 || resps[1].Connect != 0 || resps[0].TLSTime != 0 {
		t.Errorf("connect: %v then %v (tls %v); want a dial on the first exchange only", resps[0].Connect, resps[1].Connect, resps[0].TLSTime)
	}
	for i, ev := range resps {
		if !ev.Timed || ev.Send < 0 || ev.Wait < think || ev.Receive < pause {
			t.Errorf("response %d: timed %v send %v wait %v receive %v; want wait ≥ %v, receive ≥ %v", i+1, ev.Timed, ev.Send, ev.Wait, ev.Receive, think, pause)
		}
	}
}

// Through an intercepted CONNECT: frametap's own 200 says so and carries
// no dial; the first exchange inside carries connect_ms and tls_ms, and
// both tls events a handshake_ms.
func TestTimingsTLS(t *testing.T) {
	w := newTLSWorld(t)
	upAddr := w.startHTTPS(t)
	tp := startTap(t, w.config())
	c := httpsClient(tp.addr, w.caPool, "")
	for range 2 {
		get(t, c, "https://"+upAddr+"/a")
	}
	c.CloseIdleConnections()
	tp.waitClosed()
	evs := tp.stop()
	resps := kinds(evs, 0, capture.KindResponse)
	if len(resps) != 3 {
		t.Fatalf("%d responses, want the CONNECT's and two", len(resps))
	}
	if !resps[0].ByFrametap || resps[0].Connect != 0 || resps[1].ByFrametap {
		t.Errorf("by_frametap %v %v, connect of the 200 %v", resps[0].ByFrametap, resps[1].ByFrametap, resps[0].Connect)
	}
	if resps[1].Connect <= 0 || resps[1].TLSTime <= 0 || resps[2].Connect != 0 || resps[2].TLSTime != 0 {
		t.Errorf("connect %v tls %v, then %v %v: want them on the first exchange inside only", resps[1].Connect, resps[1].TLSTime, resps[2].Connect, resps[2].TLSTime)
	}
	client, server := tlsEvents(t, evs)
	if len(client) != 1 || len(server) != 1 || client[0].Handshake <= 0 || server[0].Handshake != resps[1].TLSTime {
		t.Errorf("tls events: %+v %+v", client, server)
	}
}
