package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// The push suite (issue 10): a real EventSource client (npm eventsource)
// reads one event stream through the frametap binary over HTTP/1.1
// chunked, HTTP/1.1 close-delimited and HTTP/2 (h2c), and the capture's
// sse events must be the events it dispatched, in order; then a
// long-polling and a polling client, and frametap view --summary must name
// each mechanism.

// pushStream is the event stream the server sends, one flush per part:
// multi-line data, ids (one that stays for the next event), retry,
// comments, event types, a block that dispatches nothing, UTF-8.
var pushStream = []string{
	": welcome\n\n",
	"retry: 1500\nevent: price\ndata: {\"p\":1}\ndata: second line\nid: a1\n\n",
	"data: no id of its own\n\n",
	": keep-alive\n",
	"\nevent: news\r\ndata: héllo wörld\r\nid: b2\r\n\r\n",
	"data:   spaces kept\ndata:\n\n",
	"id\n\n",
	"data: after an empty id\n\n",
}

// pushStreamServer serves the stream on /sse (chunked over HTTP/1.1, DATA
// frames over h2c), close-delimited on /sse-close (the connection
// hijacked), a long poll on /lp and a short poll on /poll.
func pushStreamServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Protocols: &p, ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/sse":
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Cache-Control", "no-cache")
			for _, part := range pushStream {
				io.WriteString(w, part)
				w.(http.Flusher).Flush()
				time.Sleep(5 * time.Millisecond) // one read each, as a live stream
			}
		case "/sse-close":
			c, bw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			bw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")
			for _, part := range pushStream {
				bw.WriteString(part)
				bw.Flush()
				time.Sleep(5 * time.Millisecond)
			}
		case "/lp":
			time.Sleep(1100 * time.Millisecond) // past the default --long-poll of 1s
			io.WriteString(w, `{"news":true}`)
		case "/poll":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"price":1}`)
		default:
			http.NotFound(w, r)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// esEvent is an event as the EventSource client logged it.
type esEvent struct {
	Type, Data, ID, Fail string
	End                  bool
}

func (e esEvent) String() string { return fmt.Sprintf("%s %q id=%q", e.Type, e.Data, e.ID) }

// runEventSource runs the Node client on url and returns what it logged.
func runEventSource(t *testing.T, url, mode string) []esEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cl := exec.CommandContext(ctx, "node", "sse_client.js", url, mode)
	cl.Dir = filepath.Join("testdata", "push")
	cl.Stderr = os.Stderr
	out, err := cl.Output()
	if err != nil {
		t.Fatalf("EventSource client (%s): %v\n%s", mode, err, out)
	}
	var evs []esEvent
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	ended := false
	for sc.Scan() {
		var e esEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Fail != "" {
			t.Fatalf("client line %q: %v", sc.Bytes(), err)
		}
		if e.End {
			ended = true
			continue
		}
		evs = append(evs, e)
	}
	if !ended {
		t.Fatalf("the client did not see the stream end:\n%s", out)
	}
	return evs
}

func TestPushE2E(t *testing.T) {
	requireE2E(t)
	if _, err := os.Stat(filepath.Join("testdata", "push", "node_modules", "eventsource")); err != nil {
		t.Fatalf("EventSource peer missing (npm ci --prefix cmd/frametap/testdata/push): %v", err)
	}
	up := pushStreamServer(t)
	tp := startTap(t, "reverse:http://"+up)
	base := "http://" + tp.addr

	// The three transports of the stream, one connection each, in order.
	clients := map[string][]esEvent{
		"chunked": runEventSource(t, base+"/sse", "h1"),
		"close":   runEventSource(t, base+"/sse-close", "h1"),
		"h2":      runEventSource(t, base+"/sse", "h2c"),
	}
	// A long poll, then three short polls on one kept-alive connection.
	client := &http.Client{Timeout: 10 * time.Second}
	for _, path := range []string{"/lp", "/poll", "/poll", "/poll"} {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		if path == "/lp" {
			client.CloseIdleConnections() // the polls get a connection of their own
		}
	}
	client.CloseIdleConnections()
	evs := tp.stop()

	conns := tp.conns(evs)
	if len(conns) != 5 {
		t.Fatalf("%d connections, want 5 (3 streams, a long poll, the polls)", len(conns))
	}
	for i, name := range []string{"chunked", "close", "h2"} {
		checkStreamConn(t, name, conns[i], clients[name])
	}
	for i, want := range []string{"long-polling", "polling"} {
		c := conns[3+i]
		if last := c[len(c)-1]; last.Kind != capture.KindClose || last.Push != want {
			t.Errorf("connection %d: close %+v, want push %q", 4+i, last, want)
		}
	}
	for _, ev := range conns[3] {
		if ev.Kind == capture.KindResponse && (!ev.Timed || ev.Wait < time.Second) {
			t.Errorf("long poll response: timed=%v wait_ms=%v", ev.Timed, ev.Wait)
		}
	}

	// The summary of the saved capture names each mechanism.
	out, err := exec.Command(e2eBinary, "view", "--headless", "--summary", tp.capPath).CombinedOutput()
	if err != nil {
		t.Fatalf("view --summary: %v\n%s", err, out)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
		f := strings.Fields(l)
		rows[f[1]] = l
	}
	for mech, msgs := range map[string]string{"sse": "15", "long-polling": "1", "polling": "1"} {
		f := strings.Fields(rows[mech])
		if len(f) < 5 || f[4] != msgs {
			t.Errorf("summary row %s: %q, want %s messages\n%s", mech, rows[mech], msgs, out)
		}
	}
	t.Logf("frametap view --summary:\n%s", out)
}

// checkStreamConn checks one connection that carried the event stream.
func checkStreamConn(t *testing.T, name string, conn []capture.Event, client []esEvent) {
	t.Helper()
	var got []string
	var kinds []capture.Kind
	retry := false
	for _, ev := range conn {
		switch ev.Kind {
		case capture.KindSSE:
			// The client logs the id its event's block set (as
			// eventsource-parser gives it), "" when none: as the capture.
			retry = retry || ev.HasRetry && ev.Retry == 1500
			got = append(got, esEvent{Type: ev.SSEType, Data: string(ev.Payload), ID: ev.SSEID}.String())
			if (name == "h2") != (ev.Stream != 0) {
				t.Errorf("%s: sse event on stream %d", name, ev.Stream)
			}
		case capture.KindResponse:
			if !ev.Streaming || ev.Body != nil {
				t.Errorf("%s: response not written at its head as streaming: %+v", name, ev)
			}
		case capture.KindStreamEnd:
			if ev.Events != int64(len(client)) || ev.Comments != 2 || ev.BodyLen != int64(len(strings.Join(pushStream, ""))) {
				t.Errorf("%s: stream_end events=%d comments=%d body_len=%d", name, ev.Events, ev.Comments, ev.BodyLen)
			}
		case capture.KindClose:
			if ev.Push != "sse" {
				t.Errorf("%s: close push %q", name, ev.Push)
			}
		case capture.KindError:
			t.Errorf("%s: error event: %s", name, ev.Msg)
		}
		if ev.Kind != capture.KindH2Frame {
			kinds = append(kinds, ev.Kind)
		}
	}
	var want []string
	for _, e := range client {
		want = append(want, e.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: capture's sse events:\n%s\nthe client's:\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(want) != 5 || !retry {
		t.Errorf("%s: %d events, retry recorded %v", name, len(want), retry)
	}
	t.Logf("%s: %v", name, kinds)
}
