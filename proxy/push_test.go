package proxy

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// The event stream every SSE test serves: multi-line data, ids, a retry,
// comments, an event type, and a block that dispatches nothing.
var pushSSEParts = []string{
	": hi\nevent: price\ndata: {\"p\":1}\ndata: line2\nid: 1\n\n",
	"retry: 1500\ndata: r\n\n",
	": keep-alive\n\n",
	"id: 2\ndata: third\n\n",
}

// pushSSEWant is the sse events the stream dispatches, as "event|data|id|retry|len|comments".
var pushSSEWant = []string{
	"price|{\"p\":1}\nline2|1|-|51|1",
	"message|r||1500|21|0",
	"message|third|2|-|19|0",
}

func sseLine(ev capture.Event) string {
	id, retry := "", "-"
	if ev.HasSSEID {
		id = ev.SSEID
	}
	if ev.HasRetry {
		retry = fmt.Sprint(ev.Retry)
	}
	return fmt.Sprintf("%s|%s|%s|%s|%d|%d", ev.SSEType, ev.Payload, id, retry, ev.Len, ev.Comments)
}

// serveSSE writes the parts one flush at a time (chunked over HTTP/1.1,
// DATA frames over HTTP/2).
func serveSSE(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	for _, p := range pushSSEParts {
		io.WriteString(w, p)
		w.(http.Flusher).Flush()
	}
}

// checkSSECapture checks one connection's capture of the stream: the
// response at its head with "streaming", the sse events, a stream_end with
// the counts, and "push": "sse" on the close.
func checkSSECapture(t *testing.T, evs []capture.Event, stream bool) {
	t.Helper()
	var conn uint64
	for _, ev := range evs {
		if ev.Kind == capture.KindResponse && ev.Streaming {
			conn = ev.Conn
		}
	}
	if conn == 0 {
		t.Fatalf("no streaming response in %d events", len(evs))
	}
	var got []string
	var order []capture.Kind
	for _, ev := range kinds(evs, conn, "") {
		switch ev.Kind {
		case capture.KindResponse:
			if !ev.Streaming || ev.BodyLen != 0 || ev.Body != nil || !ev.Timed {
				t.Errorf("response %+v", ev)
			}
			order = append(order, ev.Kind)
		case capture.KindSSE:
			got = append(got, sseLine(ev))
			if stream != (ev.Stream != 0) {
				t.Errorf("sse on stream %d", ev.Stream)
			}
			order = append(order, ev.Kind)
		case capture.KindStreamEnd:
			if ev.Events != 3 || ev.Comments != 2 || ev.BodyLen != int64(len(strings.Join(pushSSEParts, ""))) {
				t.Errorf("stream_end %+v", ev)
			}
			order = append(order, ev.Kind)
		case capture.KindClose:
			if ev.Push != "sse" {
				t.Errorf("close push %q, want sse", ev.Push)
			}
		case capture.KindError:
			t.Errorf("error: %s", ev.Msg)
		}
	}
	if strings.Join(got, "\n") != strings.Join(pushSSEWant, "\n") {
		t.Errorf("sse events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(pushSSEWant, "\n"))
	}
	if fmt.Sprint(order) != "[response sse sse sse stream_end]" {
		t.Errorf("order %v", order)
	}
}

func TestSSEChunked(t *testing.T) {
	us := startHTTP(t, serveSSE)
	tp := startTap(t, Config{Mode: Reverse, Upstream: us.addr})
	resp, err := http.Get("http://" + tp.addr + "/events")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != strings.Join(pushSSEParts, "") {
		t.Fatalf("client read %q", body)
	}
	if te := resp.TransferEncoding; len(te) != 1 || te[0] != "chunked" {
		t.Fatalf("transfer encoding %v", te)
	}
	http.DefaultClient.CloseIdleConnections()
	tp.waitClosed()
	checkSSECapture(t, tp.stop(), false)
}

func TestSSECloseDelimited(t *testing.T) {
	ln := listenLoopback(t)
	addr := serveEach(ln, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 4096)
		c.Read(buf) // the request
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
		for _, p := range pushSSEParts {
			io.WriteString(c, p)
		}
	})
	tp := startTap(t, Config{Mode: Reverse, Upstream: addr})
	rc := dialRaw(t, tp.addr)
	rc.send("GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := rc.response("GET")
	if resp.ContentLength != -1 || body != strings.Join(pushSSEParts, "") {
		t.Fatalf("client read %d %q", resp.ContentLength, body)
	}
	rc.finish()
	tp.waitClosed()
	checkSSECapture(t, tp.stop(), false)
}

func TestSSEHTTP2(t *testing.T) {
	ln := listenLoopback(t)
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: http.HandlerFunc(serveSSE), Protocols: &p}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	tp := startTap(t, Config{Mode: Reverse, Upstream: ln.Addr().String()})
	client := h2cClient(func() (net.Conn, error) { return net.Dial("tcp", tp.addr) })
	resp, err := client.Get("http://" + ln.Addr().String() + "/events")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 || string(body) != strings.Join(pushSSEParts, "") {
		t.Fatalf("client read %s %q", resp.Proto, body)
	}
	client.CloseIdleConnections()
	tp.waitClosed()
	evs := tp.stop()
	checkSSECapture(t, evs, true)
}

// TestStreamingChunks: NDJSON streams by its type; a JSON body whose
// chunks keep coming --long-poll after its head streams from then on.
func TestStreamingChunks(t *testing.T) {
	const hold = 50 * time.Millisecond
	us := startHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/nd" {
			w.Header().Set("Content-Type", "application/x-ndjson")
			for _, p := range []string{"{\"a\":1}\n{\"b\"", ":2}\n", "{\"c\":3}\n"} {
				io.WriteString(w, p)
				w.(http.Flusher).Flush()
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		for _, p := range []string{"[1", ",2", ",3]"} {
			io.WriteString(w, p)
			w.(http.Flusher).Flush()
			time.Sleep(2 * hold) // so that the next chunk comes after --long-poll
		}
	})
	tp := startTap(t, Config{Mode: Reverse, Upstream: us.addr, LongPoll: hold})
	for _, path := range []string{"/nd", "/json"} {
		resp, err := http.Get("http://" + tp.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	http.DefaultClient.CloseIdleConnections()
	tp.waitClosed()
	evs := tp.stop()
	var got []string
	for _, ev := range evs {
		switch ev.Kind {
		case capture.KindResponse:
			got = append(got, fmt.Sprintf("response %d streaming=%v", ev.Seq, ev.Streaming))
		case capture.KindChunk:
			got = append(got, fmt.Sprintf("chunk %d %d %s", ev.Seq, ev.Len, ev.Payload))
		case capture.KindStreamEnd:
			got = append(got, fmt.Sprintf("end %d body_len=%d chunks=%d", ev.Seq, ev.BodyLen, ev.Chunks))
		case capture.KindClose:
			got = append(got, "close "+ev.Push)
		case capture.KindError:
			t.Errorf("error: %s", ev.Msg)
		}
	}
	// The JSON body's first chunk came at its head: it is the first
	// chunk event, with what was kept before the body streamed.
	want := []string{
		"response 1 streaming=true", `chunk 1 8 {"a":1}`, `chunk 1 8 {"b":2}`, `chunk 1 8 {"c":3}`, "end 1 body_len=24 chunks=3",
		"response 2 streaming=true", "chunk 2 2 [1", "chunk 2 2 ,2", "chunk 2 3 ,3]", "end 2 body_len=7 chunks=3",
		"close streaming",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLongPoll: an exchange held --long-poll or more is a long poll: its
// connection's close says so, and wait_ms says how long.
func TestLongPoll(t *testing.T) {
	const hold = 50 * time.Millisecond
	us := startHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(2 * hold)
		io.WriteString(w, `{"news":1}`)
	})
	tp := startTap(t, Config{Mode: Reverse, Upstream: us.addr, LongPoll: hold})
	resp, err := http.Get("http://" + tp.addr + "/poll")
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	tp.waitClosed()
	evs := tp.stop()
	for _, ev := range evs {
		switch ev.Kind {
		case capture.KindResponse:
			if ev.Streaming || !ev.Timed || ev.Wait < 2*hold {
				t.Errorf("response streaming=%v timed=%v wait %v", ev.Streaming, ev.Timed, ev.Wait)
			}
		case capture.KindClose:
			if ev.Push != "long-polling" {
				t.Errorf("close push %q", ev.Push)
			}
		}
	}
}

// TestH2Timings: HTTP/2 exchanges carry their timings like HTTP/1.x ones
// (wait_ms, for long polls too), now that the decoder's HTTP/2 streams
// report their heads and body bytes as they come.
func TestH2Timings(t *testing.T) {
	up := startH2C(t)
	tp := startTap(t, Config{Mode: Reverse, Upstream: up})
	client := h2cClient(func() (net.Conn, error) { return net.Dial("tcp", tp.addr) })
	for range 2 {
		resp, err := client.Post("http://"+up+"/echo", "text/plain", strings.NewReader("ping"))
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	client.CloseIdleConnections()
	tp.waitClosed()
	n := 0
	for _, ev := range tp.stop() {
		if ev.Kind == capture.KindResponse {
			n++
			if ev.Stream == 0 || !ev.Timed || ev.Wait < 0 {
				t.Errorf("h2 response stream=%d timed=%v wait=%v", ev.Stream, ev.Timed, ev.Wait)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d responses", n)
	}
}
