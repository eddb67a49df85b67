package decode

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// h2Tee records the bytes of the connections a client dials, per
// connection, in the order the client saw them: what it writes before it
// writes it, what it reads when the read returns. Anything one side sends
// in answer to the other is thus recorded after what it answers, as a
// relay that decodes a chunk before forwarding it sees them.
type h2Tee struct {
	mu    sync.Mutex
	conns [][]h2Seg
}

func (t *h2Tee) add(conn int, side Side, p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.conns[conn] = append(t.conns[conn], h2Seg{side: side, b: bytes.Clone(p)})
}

func (t *h2Tee) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.conns = append(t.conns, nil)
	return &h2TeeConn{Conn: c, tee: t, n: len(t.conns) - 1}, nil
}

type h2TeeConn struct {
	net.Conn
	tee *h2Tee
	n   int
}

func (c *h2TeeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.tee.add(c.n, Server, p[:n])
	}
	return n, err
}

func (c *h2TeeConn) Write(p []byte) (int, error) {
	c.tee.add(c.n, Client, p)
	return c.Conn.Write(p)
}

// h2Exchange is one exchange as a peer saw it, or as the decoder did.
type h2Exchange struct {
	method, path, host string
	reqHeader          string // X-Req
	reqBody            string
	status             int
	respHeader         string // X-Path
	respBody           string
	trailer            string // X-Sum
}

// h2Collector keeps what the decoder reports, by Seq.
type h2Collector struct {
	h2Counter
	ex map[int]*h2Exchange
}

func (h *h2Collector) get(seq int) *h2Exchange {
	if h.ex[seq] == nil {
		h.ex[seq] = &h2Exchange{}
	}
	return h.ex[seq]
}

func h2Field(hs []Header, name string) string {
	for _, f := range hs {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

func (h *h2Collector) Request(r *Request) {
	h.h2Counter.Request(r)
	e := h.get(r.Seq)
	e.method, e.path, e.host = r.Method, r.Target, r.Host
	e.reqHeader, e.reqBody = h2Field(r.Headers, "x-req"), string(r.Body)
	if r.Truncated || r.Proto != "HTTP/2.0" || r.Scheme != "http" {
		h.errs = append(h.errs, fmt.Errorf("request %d: truncated %v, proto %q, scheme %q", r.Seq, r.Truncated, r.Proto, r.Scheme))
	}
}

func (h *h2Collector) Response(r *Response) {
	h.h2Counter.Response(r)
	e := h.get(r.Seq)
	e.status, e.respHeader, e.respBody = r.Status, h2Field(r.Headers, "x-path"), string(r.Body)
	e.trailer = h2Field(r.Trailers, "x-sum")
	if r.Truncated || r.Reset != "" {
		h.errs = append(h.errs, fmt.Errorf("response %d: truncated %v, reset %q", r.Seq, r.Truncated, r.Reset))
	}
}

// TestH2GoPeers captures the bytes both ways of a real exchange between
// Go's HTTP/2 client and server on loopback (h2c with prior knowledge),
// many requests at once on one connection, with HPACK tables of 64 KiB
// both ways and 1 MiB frames; the decoder must report the requests the
// server got and the responses the client got.
func TestH2GoPeers(t *testing.T) {
	var mu sync.Mutex
	served := map[string]*h2Exchange{}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		mu.Lock()
		served[r.URL.Path] = &h2Exchange{method: r.Method, path: r.URL.Path, host: r.Host, reqHeader: r.Header.Get("X-Req"), reqBody: string(body)}
		mu.Unlock()
		w.Header().Set("X-Path", r.URL.Path)
		w.Header().Set("X-Big", strings.Repeat("big-header-value;", 300)) // 5 KiB: needs the larger table to be indexed
		switch {
		case strings.HasPrefix(r.URL.Path, "/big"):
			w.Write(bytes.Repeat([]byte("0123456789"), 30_000))
		case strings.HasPrefix(r.URL.Path, "/trailer"):
			w.Header().Set("Trailer", "X-Sum")
			w.Write([]byte("with trailer"))
			w.Header().Set("X-Sum", "sum-"+r.URL.Path)
		case r.Method == http.MethodPost:
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte("echo:" + string(body)))
		default:
			w.Write([]byte("hello " + r.URL.Path))
		}
	})
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	srv := &http.Server{
		Handler:   handler,
		Protocols: &protos,
		HTTP2: &http.HTTP2Config{
			MaxDecoderHeaderTableSize: 65536,
			MaxEncoderHeaderTableSize: 65536,
			MaxReadFrameSize:          1 << 20,
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	tee := &h2Tee{}
	tr := &http.Transport{
		Protocols:   &protos,
		DialContext: tee.dial,
		HTTP2: &http.HTTP2Config{
			MaxDecoderHeaderTableSize: 65536,
			MaxEncoderHeaderTableSize: 65536,
			MaxReadFrameSize:          1 << 20,
		},
	}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	base := "http://" + ln.Addr().String()

	// One request first, so that the others share its connection.
	paths := []string{"/first"}
	for i := range 8 {
		paths = append(paths, fmt.Sprintf("/get/%d", i), fmt.Sprintf("/post/%d", i))
	}
	paths = append(paths, "/big/1", "/big/2", "/trailer/1", "/trailer/2")
	got := map[string]*h2Exchange{}
	var gotMu sync.Mutex
	fetch := func(path string) {
		method, body := http.MethodGet, io.Reader(nil)
		if strings.HasPrefix(path, "/post") {
			method, body = http.MethodPost, strings.NewReader(strings.Repeat("payload of "+path+" ", 50))
		}
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			t.Error(err)
			return
		}
		req.Header.Set("X-Req", strings.Repeat("request-header:"+path+";", 100))
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Error(err)
		}
		if resp.ProtoMajor != 2 {
			t.Errorf("%s: %s", path, resp.Proto)
		}
		gotMu.Lock()
		got[path] = &h2Exchange{status: resp.StatusCode, respHeader: resp.Header.Get("X-Path"), respBody: string(b), trailer: resp.Trailer.Get("X-Sum")}
		gotMu.Unlock()
	}
	fetch(paths[0])
	var wg sync.WaitGroup
	for _, p := range paths[1:] {
		wg.Go(func() { fetch(p) })
	}
	wg.Wait()
	tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != http.ErrServerClosed {
		t.Fatal(err)
	}
	if t.Failed() {
		return
	}

	tee.mu.Lock()
	// Under load Go's transport may dial a spare connection that never
	// carries a byte; those are left out.
	var conns [][]h2Seg
	for _, segs := range tee.conns {
		if len(segs) > 0 {
			conns = append(conns, segs)
		}
	}
	tee.mu.Unlock()
	if len(conns) != 1 {
		t.Errorf("%d connections carried bytes, want 1", len(conns))
	}
	decoded := map[string]*h2Exchange{}
	for i, segs := range conns {
		h := &h2Collector{ex: map[int]*h2Exchange{}}
		c := newH2Conn(Config{}, h, h2Start{})
		fed := 0
		for _, sg := range segs {
			c.feed(sg.side, sg.b)
			fed += len(sg.b)
		}
		c.end(Client)
		c.end(Server)
		st := c.stats()
		t.Logf("connection %d: %d bytes in %d reads and writes, %d frames; %+v", i, fed, len(segs), h.frames, st)
		for _, err := range h.errs {
			t.Errorf("connection %d: %v", i, err)
		}
		seqs := make([]int, 0, len(h.ex))
		for seq, e := range h.ex {
			seqs = append(seqs, seq)
			decoded[e.path] = e
		}
		slices.Sort(seqs)
		if len(seqs) != st.Streams || len(seqs) == 0 || seqs[0] != 1 || seqs[len(seqs)-1] != len(seqs) {
			t.Errorf("connection %d: seqs %v for %d streams", i, seqs, st.Streams)
		}
	}
	for _, p := range paths {
		d, s, g := decoded[p], served[p], got[p]
		if d == nil {
			t.Errorf("%s: not decoded", p)
			continue
		}
		want := h2Exchange{
			method: s.method, path: s.path, host: s.host, reqHeader: s.reqHeader, reqBody: s.reqBody,
			status: g.status, respHeader: g.respHeader, respBody: g.respBody, trailer: g.trailer,
		}
		if *d != want {
			t.Errorf("%s: decoded\n%+v\nthe peers saw\n%+v", p, clipExchange(*d), clipExchange(want))
		}
	}
}

func clipExchange(e h2Exchange) h2Exchange {
	for _, s := range []*string{&e.reqHeader, &e.reqBody, &e.respBody} {
		if len(*s) > 40 {
			*s = fmt.Sprintf("%s... (%d bytes)", (*s)[:40], len(*s))
		}
	}
	return e
}
