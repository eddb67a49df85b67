package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/frametap/frametap/capture"
)

//go:embed testdata/pushbrowser/page.html
var pushPage string

// pushBrowserStream is what /events sends: the first block sets a long
// retry, so that Chromium does not reconnect before the page closes it.
var pushBrowserStream = []string{
	"retry: 60000\n\n",
	": hello\n\nevent: price\ndata: {\"p\":1}\ndata: more\nid: 1\n\n",
	"data: plain, keeps id 1\n\n",
	"event: news\nid: 2\ndata: héllo\n\n",
	": keep-alive\n\n",
	"event: done\ndata: bye\n\n",
}

// TestPushBrowserE2E: headless Chromium loads a page that reads an
// EventSource and a WebSocket the server pushes to, through frametap; the
// capture's sse events are what the page received (Chromium's lastEventId
// is the last id set so far), and the summary names sse and websocket.
func TestPushBrowserE2E(t *testing.T) {
	requireE2E(t)
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found: apt-get install -y chromium")
	}
	results := make(chan pageResults2, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, pushPage)
	})
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-store")
		for _, p := range pushBrowserStream {
			io.WriteString(w, p)
			w.(http.Flusher).Flush()
			time.Sleep(10 * time.Millisecond)
		}
		<-r.Context().Done() // open until the page closes it, as a live stream
	})
	mux.HandleFunc("GET /push-ws", func(w http.ResponseWriter, r *http.Request) {
		conn, _, _, err := ws.HTTPUpgrader{}.Upgrade(r, w)
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(30 * time.Second))
		for i := 1; i <= 3; i++ {
			ws.WriteFrame(conn, ws.NewTextFrame([]byte(fmt.Sprintf(`{"tick":%d}`, i))))
		}
		ws.WriteFrame(conn, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))
		if h, err := ws.ReadHeader(conn); err == nil && h.Length <= 125 { // the page's close
			io.CopyN(io.Discard, conn, h.Length)
		}
	})
	mux.HandleFunc("POST /results", func(w http.ResponseWriter, r *http.Request) {
		var res pageResults2
		if err := json.NewDecoder(r.Body).Decode(&res); err != nil {
			res.Error = "bad results: " + err.Error()
		}
		select {
		case results <- res:
		default:
		}
		w.WriteHeader(204)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	tp := startTapArgs(t, "--allow-upstream", `^127\.0\.0\.1:\d+$`)
	res2 := make(chan pageResults, 1)
	var got pageResults2
	go func() {
		got = <-results
		res2 <- pageResults{}
	}()
	runChromium(t, chromium, t.TempDir(), tp.addr, "http://"+ln.Addr().String()+"/", res2)
	if got.Error != "" {
		t.Fatalf("page: %s", got.Error)
	}
	evs := tp.stop()

	var capSSE []string
	lastID := ""
	for _, ev := range evs {
		if ev.Kind == capture.KindSSE {
			if ev.HasSSEID {
				lastID = ev.SSEID
			}
			capSSE = append(capSSE, fmt.Sprintf("%s %q id=%q", ev.SSEType, ev.Payload, lastID))
		}
		// Chromium's own requests to Google are refused by
		// --allow-upstream; the stream the page closed is cut short.
		if ev.Kind == capture.KindError && !strings.Contains(ev.Msg, "cut short") && !strings.Contains(ev.Msg, "--allow-upstream") {
			t.Errorf("error event: %s", ev.Msg)
		}
	}
	var pageSSE []string
	for _, e := range got.SSE {
		pageSSE = append(pageSSE, fmt.Sprintf("%s %q id=%q", e.Type, e.Data, e.ID))
	}
	if strings.Join(capSSE, "\n") != strings.Join(pageSSE, "\n") || len(pageSSE) != 4 {
		t.Errorf("capture's sse events:\n%s\nthe page's:\n%s", strings.Join(capSSE, "\n"), strings.Join(pageSSE, "\n"))
	}
	upgraded := map[uint64]bool{}
	for _, ev := range evs {
		switch {
		case ev.Kind == capture.KindUpgrade:
			upgraded[ev.Conn] = true
		case ev.Kind == capture.KindClose && upgraded[ev.Conn] && ev.Push != "websocket":
			t.Errorf("the WebSocket's connection %d closed with push %q", ev.Conn, ev.Push)
		}
	}
	if len(upgraded) != 1 {
		t.Errorf("%d WebSocket connections", len(upgraded))
	}
	if len(got.WS) != 3 {
		t.Errorf("page's WebSocket messages: %q", got.WS)
	}

	out, err := exec.Command(e2eBinary, "view", "--headless", "--summary", tp.capPath).CombinedOutput()
	if err != nil {
		t.Fatalf("view --summary: %v\n%s", err, out)
	}
	rows := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n")[1:] {
		if f := strings.Fields(l); f[0] == ln.Addr().String() {
			rows[f[1]] = f
		}
	}
	if f := rows["sse"]; len(f) < 5 || f[4] != "4" {
		t.Errorf("summary sse row %q\n%s", f, out)
	}
	if f := rows["websocket"]; len(f) < 5 || f[4] != "3" {
		t.Errorf("summary websocket row %q\n%s", f, out)
	}
	t.Logf("frametap view --summary:\n%s", out)
}

// pageResults2 is what the push page posts.
type pageResults2 struct {
	SSE   []struct{ Type, Data, ID string } `json:"sse"`
	WS    []string                          `json:"ws"`
	Error string                            `json:"error"`
}
