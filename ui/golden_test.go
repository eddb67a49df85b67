package ui

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"image"
	"image/png"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
	"github.com/klauspost/compress/zstd"
)

// Golden renders of issue 13's views, at 80×24 and 200×50: the exchanges
// view, the detail of a response decoded from gzip, br and zstd, and a
// response still streaming. go test -update rewrites them.

// apiJSON is what the fixture's API answers.
var apiJSON = []byte(`{"items":[{"id":7,"name":"alpha","price":101.5},{"id":8,"name":"beta","price":99.25}],"total":2,"next":null}`)

func encodeAs(t testing.TB, c string, b []byte) []byte {
	var out bytes.Buffer
	switch c {
	case "gzip":
		w := gzip.NewWriter(&out)
		w.Write(b)
		w.Close()
	case "br":
		w := brotli.NewWriter(&out)
		w.Write(b)
		w.Close()
	case "zstd":
		w, _ := zstd.NewWriter(&out)
		w.Write(b)
		w.Close()
	}
	return out.Bytes()
}

func hdrs(kv ...string) []capture.Header {
	var hs []capture.Header
	for i := 0; i < len(kv); i += 2 {
		hs = append(hs, capture.Header{kv[i], kv[i+1]})
	}
	return hs
}

// apiFixture is one kept-alive connection to an API through regular
// mode: JSON in gzip, br and zstd, a form POST, an image, a body that
// claims gzip but is not; then a download whose response head arrived and
// whose body is coming (live: no response event yet).
func apiFixture(t testing.TB) []capture.Event {
	var pngb bytes.Buffer
	png.Encode(&pngb, image.NewGray(image.Rect(0, 0, 320, 200)))
	ev := []capture.Event{{Kind: capture.KindOpen, Conn: 4, Time: at(0), Client: "127.0.0.1:41000", Mode: "regular"}}
	ms := func(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }
	add := func(seq int, t0 int, method, path string, reqH []capture.Header, reqBody []byte, status int, respH []capture.Header, body []byte, decoded int, decodeErr string, wait, receive float64) {
		ev = append(ev, capture.Event{Kind: capture.KindRequest, Conn: 4, Time: at(t0), Seq: seq, Method: method, Target: "http://api.test:8080" + path,
			Host: "api.test:8080", Proto: "HTTP/1.1", Headers: append(hdrs("Host", "api.test:8080"), reqH...), BodyLen: int64(len(reqBody)), Body: reqBody})
		resp := capture.Event{Kind: capture.KindResponse, Conn: 4, Time: at(t0).Add(ms(wait + receive)), Seq: seq, Status: status, StatusText: "OK", Proto: "HTTP/1.1",
			Headers: respH, BodyLen: int64(len(body)), Body: body, DecodeErr: decodeErr, Timed: true, Wait: ms(wait), Receive: ms(receive)}
		if decoded > 0 {
			resp.Decoded, resp.DecodedLen = true, int64(decoded)
		}
		if seq == 1 {
			resp.Connect = ms(0.42)
		}
		ev = append(ev, resp)
	}
	for i, c := range []string{"gzip", "br", "zstd"} {
		add(i+1, 10+100*i, "GET", "/api/items?page="+string(rune('1'+i)), hdrs("Accept-Encoding", "gzip, br, zstd"), nil, 200,
			hdrs("Content-Type", "application/json; charset=utf-8", "Content-Encoding", c), encodeAs(t, c, apiJSON), len(apiJSON), "", 12.5, 0.8)
	}
	add(4, 400, "POST", "/api/login", hdrs("Content-Type", "application/x-www-form-urlencoded"), []byte("user=ada&pass=s3cr%21t&remember=on"), 200,
		hdrs("Content-Type", "application/json"), []byte(`{"token":"abc"}`), 0, "", 30, 0.1)
	add(5, 500, "GET", "/static/logo.png", nil, nil, 200, hdrs("Content-Type", "image/png"), pngb.Bytes(), 0, "", 3, 1.5)
	add(6, 600, "GET", "/api/broken", nil, nil, 200, hdrs("Content-Type", "application/json", "Content-Encoding", "gzip"), []byte(`{"not":"gzip"}`), 0,
		"not valid gzip: invalid header", 2, 0.1)
	ev = append(ev, capture.Event{Kind: capture.KindRequest, Conn: 4, Time: at(700), Seq: 7, Method: "GET", Target: "http://api.test:8080/downloads/dataset.bin",
		Host: "api.test:8080", Proto: "HTTP/1.1", Headers: hdrs("Host", "api.test:8080")})
	return ev
}

// liveDownload tells the store, as the proxy does while bytes flow, that
// exchange 7's response head arrived and 12 MiB of its body came.
func liveDownload(st *Store, stream capture.Stream) {
	lv := stream.(capture.Live)
	lv.Relayed("client", 1200)
	lv.Relayed("server", 12<<20+900)
	lv.Head(0, &capture.Event{Kind: capture.KindRequest, Conn: 4, Time: at(700), Seq: 7, Method: "GET", Target: "http://api.test:8080/downloads/dataset.bin", Proto: "HTTP/1.1", Headers: hdrs("Host", "api.test:8080")})
	lv.Head(0, &capture.Event{Kind: capture.KindResponse, Conn: 4, Time: at(720), Seq: 7, Status: 200, StatusText: "OK", Proto: "HTTP/1.1",
		Headers: hdrs("Content-Type", "application/octet-stream", "Content-Length", "104857600")})
	for k := 0; k < 12; k++ {
		lv.Body("server", 7, 0, 1<<20, at(720+k*100))
	}
}

// newAPIUI is a dashboard on a w×h screen over apiFixture, with the
// download in flight.
func newAPIUI(t *testing.T, w, h int) *UI {
	t.Helper()
	scr := tcell.NewSimulationScreen("UTF-8")
	if err := scr.Init(); err != nil {
		t.Fatal(err)
	}
	st := NewStore(0)
	stream := st.Stream()
	for _, ev := range apiFixture(t) {
		stream.Add(&ev)
	}
	stream.Flush()
	liveDownload(st, stream)
	u := New(Config{Screen: scr, Listen: "127.0.0.1:8080", Mode: "regular", CaptureFile: "api.jsonl",
		CaptureHealth: func() (int64, int64, error) { return 14, 0, nil }}, st)
	scr.SetSize(w, h)
	u.now = func() time.Time { return at(2000) }
	u.refresh()
	return u
}

// screenAt is the screen's text, as the golden files hold it.
func screenAt(u *UI) string { return u.text() + "\n" }

// The exchanges view: one row per exchange, origin-form paths, the
// decoded responses' codings, the download in flight with its bytes and
// rate; the connection's BYTES as relayed and its STATE receiving.
func TestGoldenExchanges(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {200, 50}} {
		u := newAPIUI(t, sz[0], sz[1])
		golden(t, fmt.Sprintf("exchanges-%dx%d.golden", sz[0], sz[1]), screenAt(u))
	}
}

// The detail of a JSON response decoded from gzip, br and zstd: its
// timings as a waterfall, the request, the response with both sizes and
// the JSON pretty-printed. At 80 columns the detail takes the screen and
// is scrolled to its end, where the body is.
func TestGoldenDecodedDetail(t *testing.T) {
	for row, c := range map[int]string{1: "gzip", 2: "br", 3: "zstd"} {
		for _, sz := range [][2]int{{80, 24}, {200, 50}} {
			u := newAPIUI(t, sz[0], sz[1])
			u.press(tcell.KeyRune, 'f')
			u.press(tcell.KeyTab, 0)
			u.timeline.Select(row, 0)
			u.press(tcell.KeyEnter, 0)
			if sz[0] < narrowWidth {
				u.screen() // lay it out, then scroll to the body
				u.press(tcell.KeyRune, 'G')
			}
			golden(t, fmt.Sprintf("detail-%s-%dx%d.golden", c, sz[0], sz[1]), screenAt(u))
		}
	}
}

// A response still streaming: its row (status, bytes so far, rate) and
// its detail (head arrived, bytes, rate, time to first byte).
func TestGoldenLiveResponse(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {200, 50}} {
		u := newAPIUI(t, sz[0], sz[1])
		u.press(tcell.KeyTab, 0)
		u.press(tcell.KeyEnter, 0) // the newest row: follow selected it
		golden(t, fmt.Sprintf("live-%dx%d.golden", sz[0], sz[1]), screenAt(u))
	}
}
