package proxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/decode"
	"github.com/frametap/frametap/filter"
)

// eioServer is a hand-written Engine.IO server: each polling GET of a
// session is answered with the next body the test queued for it, byte for
// byte; POSTs are answered "ok"; a WebSocket upgrade answers the probe and,
// after the client's upgrade packet, sends the messages the test queued.
type eioServer struct {
	mu    sync.Mutex
	polls map[string][]string // by sid ("" for the handshake): the bodies of the GETs to come
	posts []string            // the POST bodies received
	ws    []eioWSMsg          // what the server sends once the client upgraded
	got   []eioWSMsg          // what the client sent over the WebSocket
}

type eioWSMsg struct {
	bin  bool
	data string
}

func startEIOServer(t *testing.T) (*eioServer, string) {
	t.Helper()
	s := &eioServer{polls: map[string][]string{}}
	us := startHTTP(t, s.serve)
	return s, us.addr
}

func (s *eioServer) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("transport") == "websocket" {
		s.serveWS(w, r)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method == "POST" {
		b, _ := io.ReadAll(r.Body)
		s.posts = append(s.posts, string(b))
		io.WriteString(w, "ok")
		return
	}
	sid := q.Get("sid")
	body := "6" // a noop ends a poll nothing was queued for
	if len(s.polls[sid]) > 0 {
		body, s.polls[sid] = s.polls[sid][0], s.polls[sid][1:]
	}
	w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
	io.WriteString(w, body)
}

func (s *eioServer) serveWS(w http.ResponseWriter, r *http.Request) {
	nc, _, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return
	}
	defer nc.Close()
	for {
		b, op, err := wsutil.ReadClientData(nc)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.got = append(s.got, eioWSMsg{op == ws.OpBinary, string(b)})
		out := s.ws
		s.mu.Unlock()
		switch string(b) {
		case "2probe":
			wsutil.WriteServerText(nc, []byte("3probe"))
		case "5":
			for _, m := range out {
				op := ws.OpText
				if m.bin {
					op = ws.OpBinary
				}
				wsutil.WriteServerMessage(nc, op, []byte(m.data))
			}
		}
	}
}

// eioClient drives the client's side of a session through frametap.
type eioClient struct {
	t    *testing.T
	addr string
	path string // "/socket.io/" unless a test says otherwise
	hc   *http.Client
}

func newEIOClient(t *testing.T, addr string) *eioClient {
	tr := &http.Transport{MaxConnsPerHost: 1}
	t.Cleanup(tr.CloseIdleConnections)
	return &eioClient{t: t, addr: addr, path: "/socket.io/", hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// poll sends a polling GET (body "") or POST and returns the response body.
func (c *eioClient) poll(query, body string) string {
	c.t.Helper()
	u := "http://" + c.addr + c.path + "?" + query
	var resp *http.Response
	var err error
	if body == "" {
		resp, err = c.hc.Get(u)
	} else {
		resp, err = c.hc.Post(u, "text/plain;charset=UTF-8", strings.NewReader(body))
	}
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return string(b)
}

// eioLine is an eio event in a few words, for comparing with a want list.
func eioLine(ev capture.Event) string {
	x := ev.EIO
	s := fmt.Sprintf("%s %s %s", ev.From, x.Transport, x.Type)
	if x.Binary {
		s += fmt.Sprintf(" bin[%x]", ev.Payload)
	} else if len(ev.Payload) > 0 {
		s += " " + string(ev.Payload)
	}
	if x.Attachment > 0 {
		s += fmt.Sprintf(" att=%d", x.Attachment)
	}
	if x.SIOType != "" {
		s += " | " + x.SIOType + " " + x.Nsp
		if x.HasAck {
			s += fmt.Sprintf(" ack=%d", x.AckID)
		}
		if x.Event != "" {
			s += " " + x.Event
		}
		if x.Attachments > 0 {
			s += fmt.Sprintf(" %d-", x.Attachments)
		}
		if x.Args != nil {
			s += " " + string(x.Args)
		}
		if x.SIOData != nil {
			s += " " + string(x.SIOData)
		}
	}
	return s
}

const eioOpen4 = `0{"sid":"S4","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`

// TestEIOPollingThenWebSocket follows one Engine.IO v4 session through
// frametap: the handshake, polls with several packets each (a binary
// attachment in base64), a POST, then the upgrade probe and the WebSocket,
// across two connections tied by the sid. A Socket.IO packet with broken
// JSON on each transport is reported once, its bytes relayed unchanged,
// and the rest of the session decoded.
func TestEIOPollingThenWebSocket(t *testing.T) {
	srv, up := startEIOServer(t)
	const rs = "\x1e"
	srv.polls[""] = []string{eioOpen4}
	srv.polls["S4"] = []string{
		`40{"sid":"N1"}` + rs + `42["news",{"n":1}]` + rs + `451-["file",{"_placeholder":true,"num":0}]` + rs + "bAQID",
		`42["broken"` + rs + `42["after",2]` + rs + `42["still",3]`,
		"6",
	}
	srv.ws = []eioWSMsg{{false, `430["ok"]`}, {false, `42["bad`}, {false, `452-/admin,["two",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]`}, {true, "\x09\x09"}, {true, "\x08"}, {false, "42/admin,[\"x\"]"}}
	tp := startTap(t, Config{Mode: Reverse, Upstream: up})
	c := newEIOClient(t, tp.addr)

	if got := c.poll("EIO=4&transport=polling&t=1", ""); got != eioOpen4 {
		t.Fatalf("handshake body %q", got)
	}
	post := "40" + rs + `420["hello","world"]`
	if got := c.poll("EIO=4&transport=polling&sid=S4", post); got != "ok" {
		t.Fatalf("POST answered %q", got)
	}
	want := srv.polls["S4"][0]
	if got := c.poll("EIO=4&transport=polling&sid=S4", ""); got != want {
		t.Fatalf("poll body %q, want %q", got, want)
	}
	want = srv.polls["S4"][0]
	if got := c.poll("EIO=4&transport=polling&sid=S4", ""); got != want {
		t.Fatalf("poll body with broken JSON %q, want it unchanged %q", got, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, _, _, err := ws.Dial(ctx, "ws://"+tp.addr+"/socket.io/?EIO=4&transport=websocket&sid=S4")
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	wsutil.WriteClientText(nc, []byte("2probe"))
	if b, err := wsutil.ReadServerText(nc); err != nil || string(b) != "3probe" {
		t.Fatalf("probe answered %q, %v", b, err)
	}
	c.poll("EIO=4&transport=polling&sid=S4", "") // the poll the upgrade ends
	wsutil.WriteClientText(nc, []byte("5"))
	for i, m := range srv.ws {
		b, _, err := wsutil.ReadServerData(nc)
		if err != nil || string(b) != m.data {
			t.Fatalf("WebSocket message %d: %q, %v; want %q", i, b, err, m.data)
		}
	}
	wsutil.WriteClientText(nc, []byte(`42/admin,1["ask"]`))
	wsutil.WriteClientText(nc, []byte(`41`))
	wsutil.WriteClientText(nc, []byte(`1`))
	ws.WriteFrame(nc, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	io.Copy(io.Discard, nc)
	nc.Close()
	c.hc.CloseIdleConnections()
	tp.waitClosed()
	evs := tp.stop()

	var got []string
	for _, ev := range kinds(evs, 0, capture.KindEIO) {
		if ev.EIO.SID != "S4" {
			t.Errorf("eio event %s: sid %q, want S4", eioLine(ev), ev.EIO.SID)
		}
		got = append(got, eioLine(ev))
	}
	wantEIO := []string{
		`server polling open {"sid":"S4","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`,
		`client polling message | CONNECT /`,
		`client polling message | EVENT / ack=0 hello ["world"]`,
		`server polling message | CONNECT / {"sid":"N1"}`,
		`server polling message | EVENT / news [{"n":1}]`,
		`server polling message | BINARY_EVENT / file 1- [{"_placeholder":true,"num":0}]`,
		`server polling message bin[010203] att=1`,
		`server polling message 2["broken" | EVENT /`,
		`server polling message | EVENT / after [2]`,
		`server polling message | EVENT / still [3]`,
		`client websocket ping probe`,
		`server websocket pong probe`,
		`server polling noop`,
		`client websocket upgrade`,
		`server websocket message | ACK / ack=0 ["ok"]`,
		`server websocket message 2["bad | EVENT /`,
		`server websocket message | BINARY_EVENT /admin two 2- [{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]`,
		`server websocket message bin[0909] att=1`,
		`server websocket message bin[08] att=2`,
		`server websocket message | EVENT /admin x []`,
		`client websocket message | EVENT /admin ack=1 ask []`,
		`client websocket message | DISCONNECT /`,
		`client websocket close`,
	}
	if !slices.Equal(got, wantEIO) {
		t.Errorf("eio events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantEIO, "\n"))
	}
	var errs []string
	for _, ev := range kinds(evs, 0, capture.KindError) {
		errs = append(errs, ev.From+": "+ev.Msg)
	}
	if len(errs) != 2 || !strings.Contains(errs[0], "broken JSON") || !strings.Contains(errs[1], "broken JSON") {
		t.Errorf("errors %q, want one for the broken poll and one for the WebSocket", errs)
	}
	if len(srv.posts) != 1 || srv.posts[0] != post {
		t.Errorf("server got POSTs %q, want %q unchanged", srv.posts, post)
	}
	if n := tp.p.eio.len(); n != 0 {
		t.Errorf("%d sessions left in the table after the close packet", n)
	}
}

// TestEIOv3Polling follows an Engine.IO v3 session (length-prefixed
// payloads, the length in characters; binary as `b4` and base64) and one
// poll whose length prefix is wrong: one error for that exchange, its bytes
// relayed unchanged, the packets before it decoded and the next poll
// decoded again.
func TestEIOv3Polling(t *testing.T) {
	srv, up := startEIOServer(t)
	open := `0{"sid":"S3","upgrades":[],"pingInterval":25000,"pingTimeout":60000}`
	srv.polls[""] = []string{fmt.Sprintf("%d:%s2:40", len(open), open)}
	srv.polls["S3"] = []string{
		eioV3(`42["né",{"a":1}]`, `451-["f",{"_placeholder":true,"num":0}]`, `b4AQID`),
		eioV3(`42["x"]`) + `99:42["cut"]`,
		eioV3(`2ok`),
	}
	tp := startTap(t, Config{Mode: Reverse, Upstream: up})
	c := newEIOClient(t, tp.addr)
	hs := srv.polls[""][0]
	if got := c.poll("EIO=3&transport=polling", ""); got != hs {
		t.Fatalf("handshake %q", got)
	}
	for range 3 {
		want := srv.polls["S3"][0]
		if got := c.poll("EIO=3&transport=polling&sid=S3", ""); got != want {
			t.Fatalf("poll %q, want it unchanged: %q", got, want)
		}
	}
	c.poll("EIO=3&transport=polling&sid=S3", eioV3(`42["up",1]`, "1"))
	c.hc.CloseIdleConnections()
	tp.waitClosed()
	evs := tp.stop()
	var got []string
	for _, ev := range kinds(evs, 0, capture.KindEIO) {
		if ev.EIO.SID != "S3" {
			t.Errorf("eio event %s: sid %q, want S3", eioLine(ev), ev.EIO.SID)
		}
		got = append(got, eioLine(ev))
	}
	want := []string{
		`server polling open ` + open[1:],
		`server polling message | CONNECT /`,
		`server polling message | EVENT / né [{"a":1}]`,
		`server polling message | BINARY_EVENT / f 1- [{"_placeholder":true,"num":0}]`,
		`server polling message bin[010203] att=1`,
		`server polling message | EVENT / x []`,
		`server polling invalid 99:42["cut"]`,
		`server polling ping ok`,
		`client polling message | EVENT / up [1]`,
		`client polling close`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("eio events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	errs := kinds(evs, 0, capture.KindError)
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "length prefix 99") || errs[0].From != "server" {
		t.Errorf("errors %v, want one about the length prefix 99, from the server", errs)
	}
}

// eioV3 is a v3 text payload: each packet after its length in characters.
func eioV3(pks ...string) string {
	var b strings.Builder
	for _, p := range pks {
		fmt.Fprintf(&b, "%d:%s", utf8.RuneCountInString(p), p)
	}
	return b.String()
}

// TestEIOBodyCut: a polling body longer than --max-body is relayed whole;
// the packets in its first bytes are decoded, and one error says where
// decoding stopped.
func TestEIOBodyCut(t *testing.T) {
	srv, up := startEIOServer(t)
	big := `42["big","` + strings.Repeat("x", 300) + `"]`
	body := `42["a"]` + "\x1e" + `42["b"]` + "\x1e" + big + "\x1e" + `42["z"]`
	srv.polls["S"] = []string{body}
	tp := startTap(t, Config{Mode: Reverse, Upstream: up, Decode: decode.Config{MaxBody: 100}})
	c := newEIOClient(t, tp.addr)
	if got := c.poll("EIO=4&transport=polling&sid=S", ""); got != body {
		t.Fatalf("body not relayed whole: %d bytes of %d", len(got), len(body))
	}
	c.hc.CloseIdleConnections()
	tp.waitClosed()
	evs := tp.stop()
	var got []string
	for _, ev := range kinds(evs, 0, capture.KindEIO) {
		got = append(got, eioLine(ev))
	}
	want := []string{`server polling message | EVENT / a []`, `server polling message | EVENT / b []`}
	if !slices.Equal(got, want) {
		t.Errorf("eio events %q, want %q", got, want)
	}
	errs := kinds(evs, 0, capture.KindError)
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "from byte 15") {
		t.Errorf("errors %v, want one saying decoding stopped at byte 15", errs)
	}
}

// TestEIOSocketIOPath: Config.SocketIOPath (--socketio-path) adds a path
// Socket.IO is decoded on; other paths are not decoded.
func TestEIOSocketIOPath(t *testing.T) {
	srv, up := startEIOServer(t)
	srv.polls["A"] = []string{`42["on /rt/"]`}
	srv.polls["B"] = []string{`42["elsewhere"]`}
	tp := startTap(t, Config{Mode: Reverse, Upstream: up, SocketIOPath: "/rt"})
	c := newEIOClient(t, tp.addr)
	c.path = "/rt/"
	c.poll("EIO=4&transport=polling&sid=A", "")
	c.path = "/other/"
	c.poll("EIO=4&transport=polling&sid=B", "")
	c.hc.CloseIdleConnections()
	tp.waitClosed()
	var got []string
	for _, ev := range kinds(tp.stop(), 0, capture.KindEIO) {
		got = append(got, ev.EIO.SID+" "+eioLine(ev))
	}
	if want := []string{`A server polling message | EVENT / on /rt/ []`}; !slices.Equal(got, want) {
		t.Errorf("eio events %q, want %q", got, want)
	}
}

// TestEIOSessionTable: the table holds at most its bound, evicting the
// session used least recently.
func TestEIOSessionTable(t *testing.T) {
	tb := newEIOSessions(3)
	a := tb.get("a")
	tb.get("b")
	tb.get("c")
	if tb.get("a") != a {
		t.Fatal("a session looked up again is not the same")
	}
	tb.get("d") // evicts b, the least recently used
	if n := tb.len(); n != 3 {
		t.Errorf("%d sessions, want the bound 3", n)
	}
	for _, sid := range []string{"a", "c", "d"} {
		if _, ok := tb.m[sid]; !ok {
			t.Errorf("session %s evicted", sid)
		}
	}
	if _, ok := tb.m["b"]; ok {
		t.Error("session b, the least recently used, still held")
	}
	tb.end("a")
	if _, ok := tb.m["a"]; ok || tb.len() != 2 {
		t.Errorf("an ended session is still held (%d sessions)", tb.len())
	}
}

// TestEIOHeldByFilter: a filter output holds a request and what follows it
// until its response (~c); the eio events of the request's body it holds
// keep their arguments, though the decoder reuses the body's buffer.
func TestEIOHeldByFilter(t *testing.T) {
	_, up := startEIOServer(t)
	path := filepath.Join(t.TempDir(), "capture.jsonl")
	lg, err := capture.NewFileLog(path, capture.JSON)
	if err != nil {
		t.Fatal(err)
	}
	fo, err := filter.NewOutput(lg, filter.MustParse("~c 200"), filter.OutputOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := New(Config{Mode: Reverse, Upstream: up, Outputs: []capture.Output{fo}})
	ln := listenLoopback(t)
	done := make(chan error, 1)
	go func() { done <- p.Serve(ln) }()
	c := newEIOClient(t, ln.Addr().String())
	post := `42["hello","world"]` + "\x1e" + `42["more",{"k":"` + strings.Repeat("v", 64) + `"}]`
	for range 3 {
		c.poll("EIO=4&transport=polling&sid=F", post)
	}
	c.hc.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.Shutdown(ctx)
	<-done
	lg.Close()
	evs, err := capture.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range kinds(evs, 0, capture.KindEIO) {
		got = append(got, string(ev.EIO.Args))
	}
	want := []string{`["world"]`, `[{"k":"` + strings.Repeat("v", 64) + `"}]`}
	want = append(append(want, want...), want...)
	if !slices.Equal(got, want) {
		t.Errorf("args written through the filter:\n%q\nwant\n%q", got, want)
	}
}

// TestEIOOverH2C: Engine.IO polling over HTTP/2 (h2c, reverse mode): the
// packets of each stream's body are eio events with their stream.
func TestEIOOverH2C(t *testing.T) {
	s := &eioServer{polls: map[string][]string{"": {eioOpen4}, "S4": {`42["over h2",1]`}}}
	ln := listenLoopback(t)
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: http.HandlerFunc(s.serve), Protocols: &p}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	tp := startTap(t, Config{Mode: Reverse, Upstream: ln.Addr().String()})
	c := newEIOClient(t, tp.addr)
	c.hc = h2cClient(func() (net.Conn, error) { return net.Dial("tcp", tp.addr) })
	c.poll("EIO=4&transport=polling", "")
	c.poll("EIO=4&transport=polling&sid=S4", "40")
	c.poll("EIO=4&transport=polling&sid=S4", "")
	c.hc.CloseIdleConnections()
	tp.waitClosed()
	var got []string
	for _, ev := range kinds(tp.stop(), 0, capture.KindEIO) {
		got = append(got, fmt.Sprintf("seq=%d stream=%d sid=%s %s", ev.Seq, ev.Stream, ev.EIO.SID, eioLine(ev)))
	}
	want := []string{
		`seq=1 stream=1 sid=S4 server polling open ` + eioOpen4[1:],
		`seq=2 stream=3 sid=S4 client polling message | CONNECT /`,
		`seq=3 stream=5 sid=S4 server polling message | EVENT / over h2 [1]`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("eio events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
