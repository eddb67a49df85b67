package har

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// readHAR reads testdata/name and turns it into events, checking that the
// events are what a capture's would be.
func readHAR(t *testing.T, name string) ([]*capture.Event, Summary) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return harEvents(t, b, name)
}

func harEvents(t *testing.T, b []byte, name string) ([]*capture.Event, Summary) {
	t.Helper()
	f, err := Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	evs, sum := f.Events(name)
	if msg := wellFormed(evs); msg != "" {
		t.Fatalf("%s: %s", name, msg)
	}
	return evs, sum
}

// wellFormed checks what docs/capture-format.md promises of a capture's
// order: the note first, then per connection open first and close last,
// nothing after the close, times never going back, a response after its
// request; and that every event encodes and reads back as a capture line.
func wellFormed(evs []*capture.Event) string {
	if len(evs) == 0 || evs[0].Kind != capture.KindError || evs[0].Conn != 0 {
		return "the first event is not the note"
	}
	type state struct {
		closed bool
		last   time.Time
		reqs   map[int]bool
	}
	conns := map[uint64]*state{}
	for i, ev := range evs[1:] {
		c := conns[ev.Conn]
		if c == nil {
			if ev.Kind != capture.KindOpen {
				return "connection " + eventString(ev) + " does not start with open"
			}
			c = &state{reqs: map[int]bool{}}
			conns[ev.Conn] = c
		}
		switch {
		case c.closed:
			return "an event after the close: " + eventString(ev)
		case ev.Time.Before(c.last):
			return "time goes back: " + eventString(ev)
		case ev.Kind == capture.KindResponse && !c.reqs[ev.Seq]:
			return "a response before its request: " + eventString(ev)
		}
		c.last = ev.Time
		c.reqs[ev.Seq] = c.reqs[ev.Seq] || ev.Kind == capture.KindRequest
		c.closed = ev.Kind == capture.KindClose
		line := ev.AppendJSON(nil)
		back, err := capture.Read(bytes.NewReader(line))
		if err != nil || len(back) != 1 {
			return fmt.Sprintf("event %d does not read back: %v", i+1, err)
		}
	}
	for id, c := range conns {
		if !c.closed {
			return fmt.Sprintf("connection %d has no close", id)
		}
	}
	return ""
}

// String shows an event in tests' messages.
func eventString(ev *capture.Event) string { return strings.TrimSpace(string(ev.AppendText(nil))) }

// byKind returns the events of kind k on connection conn (0: any).
func byKind(evs []*capture.Event, k capture.Kind, conn uint64) []*capture.Event {
	var out []*capture.Event
	for _, ev := range evs {
		if ev.Kind == k && (conn == 0 || ev.Conn == conn) {
			out = append(out, ev)
		}
	}
	return out
}

// TestReadFrametapHAR reads back what Build wrote: the exchanges, their
// connection, seq and stream, bodies, timings, and every WebSocket message
// with its frames, compression and lengths, as the capture had them.
func TestReadFrametapHAR(t *testing.T) {
	for _, name := range []string{"example", "h2"} {
		t.Run(name, func(t *testing.T) {
			orig := readCapture(t, name+".jsonl")
			evs, sum := readHAR(t, name+".har")
			if !strings.Contains(sum.Note, "grouped by _connectionId") || sum.Skipped != 0 {
				t.Errorf("summary %+v", sum)
			}
			// Every request, response, upgrade and message of the capture
			// comes back, on the same connection, as the capture had it
			// (less the CONNECT, which is no entry, and frames).
			type key struct {
				kind   capture.Kind
				conn   uint64
				seq    int
				stream uint32
				what   string
			}
			keyOf := func(ev *capture.Event) key {
				k := key{kind: ev.Kind, conn: ev.Conn, seq: ev.Seq, stream: ev.Stream}
				switch ev.Kind {
				case capture.KindRequest:
					k.what = ev.Method + " " + ev.Target + " " + ev.Host + " " + ev.Proto + " " + string(ev.Body) + " " + ev.Scheme
				case capture.KindResponse:
					k.what = ev.StatusText + " " + ev.Proto + " " + string(ev.Body) + " " + strings.Repeat("t", btoi(ev.Timed))
				case capture.KindUpgrade:
					k.what = ev.Protocol + " " + ev.Subprotocol + " " + ev.Extensions + " " + ev.Scheme
					k.seq = 0
				case capture.KindMessage:
					k.seq = 0
					k.what = ev.From + " " + ev.Op + " " + string(ev.Payload) + " " + ev.Reason +
						strings.Repeat("f", ev.Frames) + strings.Repeat("c", btoi(ev.Compressed)) + " " + itoa(ev.Len) + " " + itoa(ev.WireLen) + " " + itoa(int64(ev.Code))
				}
				return k
			}
			var want, got []key
			for _, ev := range orig {
				switch ev.Kind {
				case capture.KindRequest, capture.KindResponse, capture.KindUpgrade, capture.KindMessage:
					if ev.Seq == 1 && strings.Contains(name, "h2") && ev.Kind != capture.KindMessage {
						continue // the CONNECT
					}
					if ev.Kind == capture.KindMessage {
						ev = withoutPayloadForClose(ev)
					}
					want = append(want, keyOf(ev))
				}
			}
			for _, ev := range evs {
				switch ev.Kind {
				case capture.KindRequest, capture.KindResponse, capture.KindUpgrade, capture.KindMessage:
					got = append(got, keyOf(ev))
				}
			}
			// Messages keep their order; exchanges are compared by seq
			// (their times move: the HAR lays phases out from a start).
			sortKeys := func(ks []key) {
				slices.SortStableFunc(ks, func(a, b key) int {
					if c := strings.Compare(string(a.kind), string(b.kind)); c != 0 {
						return c
					}
					return a.seq - b.seq
				})
			}
			sortKeys(want)
			sortKeys(got)
			if !slices.Equal(got, want) {
				t.Errorf("events read back:\n got %v\nwant %v", got, want)
			}
			closes := byKind(evs, capture.KindClose, 0)
			origClose := byKind(orig, capture.KindClose, 0)[0]
			if len(closes) != 1 || closes[0].WSClosedBy != origClose.WSClosedBy || closes[0].WSCloseClean != origClose.WSCloseClean || !closes[0].WebSocket {
				t.Errorf("close %+v, want ws closed by %q clean %v", closes, origClose.WSClosedBy, origClose.WSCloseClean)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func withoutPayloadForClose(ev *capture.Event) *capture.Event {
	if ev.Op != "close" {
		return ev
	}
	c := *ev
	c.Payload = nil
	return &c
}

// TestReadBrowsersAndTools reads HARs in the shapes other writers give
// them, each written here after that writer's source (Firefox's
// har-builder.js, HTTP Toolkit's har.ts, mitmproxy's savehar.py, and an
// older Chrome's HARLog.ts, which put the connection id in "connection").
func TestReadBrowsersAndTools(t *testing.T) {
	t.Run("firefox", func(t *testing.T) {
		evs, sum := readHAR(t, "firefox.har")
		if sum.Conns != 2 || sum.Entries != 2 || !strings.Contains(sum.Note, "one per entry") || !strings.Contains(sum.Note, "Firefox 128.0") {
			t.Errorf("summary %+v", sum)
		}
		reqs := byKind(evs, capture.KindRequest, 0)
		resps := byKind(evs, capture.KindResponse, 0)
		opens := byKind(evs, capture.KindOpen, 0)
		if len(reqs) != 2 || len(resps) != 2 || len(opens) != 2 {
			t.Fatalf("%d requests, %d responses, %d opens", len(reqs), len(resps), len(opens))
		}
		r := reqs[0]
		// 11:00:00.100+01:00, then blocked, dns, connect and send: 14 ms.
		if r.Target != "/cart?id=7&q=a%20b" || r.Host != "shop.example:8443" || r.Scheme != "https" || r.Server != "192.0.2.10:8443" ||
			!r.Time.Equal(time.Date(2026, 11, 20, 10, 0, 0, 114e6, time.UTC)) || opens[0].Server != "192.0.2.10:8443" || opens[0].Client != NoClient {
			t.Errorf("request %s at %v, open %s", eventString(r), r.Time, eventString(opens[0]))
		}
		p := resps[0]
		// ssl is part of connect in HAR.
		// The entry's end: 42 ms, the sum of its timings but ssl.
		if string(p.Body) != "<p>cart</p>\n" || p.BodyLen != 12 || p.Truncated || !p.Timed || p.Connect != 4*time.Millisecond || p.TLSTime != 6*time.Millisecond || p.Wait != 20*time.Millisecond ||
			!p.Time.Equal(time.Date(2026, 11, 20, 10, 0, 0, 142e6, time.UTC)) {
			t.Errorf("response %s at %v: connect %v tls %v", eventString(p), p.Time, p.Connect, p.TLSTime)
		}
		if string(reqs[1].Body) != "{\"id\":7}\n" || resps[1].BodyLen != 11 || !resps[1].Truncated || len(resps[1].Body) != 0 {
			t.Errorf("POST without the response body: %s / %s", eventString(reqs[1]), eventString(resps[1]))
		}
	})
	t.Run("httptoolkit", func(t *testing.T) {
		evs, sum := readHAR(t, "httptoolkit.har")
		if sum.Conns != 4 || sum.Messages != 4 {
			t.Errorf("summary %+v", sum)
		}
		reqs := byKind(evs, capture.KindRequest, 0)
		if !bytes.Equal(reqs[0].Body, []byte{0xde, 0xad, 0xbe, 0xef}) || reqs[0].Truncated || len(reqs[0].Trailers) != 1 {
			t.Errorf("HTTP Toolkit's _content body: %s %v", eventString(reqs[0]), reqs[0].Trailers)
		}
		resps := byKind(evs, capture.KindResponse, 0)
		if !bytes.Equal(resps[0].Body, []byte{1, 2, 3}) {
			t.Errorf("base64 content: %v", resps[0].Body)
		}
		up := byKind(evs, capture.KindUpgrade, 0)
		if len(up) != 2 || !up[0].AcceptOK || up[0].Subprotocol != "chat" || up[0].Scheme != "" {
			t.Errorf("upgrades %v", up)
		}
		msgs := byKind(evs, capture.KindMessage, up[0].Conn)
		if len(msgs) != 3 || msgs[0].From != "client" || string(msgs[0].Payload) != `{"op":"sub"}` || msgs[1].Op != "binary" ||
			!bytes.Equal(msgs[1].Payload, []byte{0, 1, 2}) || !msgs[2].Time.Equal(time.UnixMicro(1795176001500000)) {
			for _, m := range msgs {
				t.Log(eventString(m))
			}
			t.Errorf("messages of the first WebSocket")
		}
		closes := byKind(evs, capture.KindClose, 0)
		var aborted, unanswered bool
		for _, c := range closes {
			aborted = aborted || c.WebSocket && strings.Contains(c.Err, "aborted")
		}
		for _, e := range byKind(evs, capture.KindError, 0)[1:] {
			unanswered = unanswered || e.Msg == "no response"
		}
		if !aborted || !unanswered {
			t.Errorf("aborted WebSocket %v, request with no response %v", aborted, unanswered)
		}
	})
	t.Run("mitmproxy", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join("testdata", "mitmproxy.har"))
		if err != nil {
			t.Fatal(err)
		}
		// mitmproxy writes .zhar files with zlib; gzip is read too.
		var z, g bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(b)
		zw.Close()
		gw := gzip.NewWriter(&g)
		gw.Write(b)
		gw.Close()
		for name, in := range map[string][]byte{"har": b, "zhar": z.Bytes(), "gzip": g.Bytes()} {
			evs, sum := harEvents(t, in, "mitmproxy."+name)
			if sum.Entries != 2 || sum.Messages != 2 || sum.Skipped != 2 || !strings.Contains(sum.Note, "2 WebSocket messages left out") {
				t.Errorf("%s: summary %+v", name, sum)
			}
			msgs := byKind(evs, capture.KindMessage, 0)
			if len(msgs) != 2 || string(msgs[0].Payload) != "ping me" || !bytes.Equal(msgs[1].Payload, []byte{0xff, 0}) {
				t.Errorf("%s: messages %v", name, msgs)
			}
			var killed bool
			for _, e := range byKind(evs, capture.KindError, 0)[1:] {
				killed = killed || e.Msg == "no response: Connection killed."
			}
			if !killed {
				t.Errorf("%s: no error event with mitmproxy's _error", name)
			}
			if up := byKind(evs, capture.KindUpgrade, 0); len(up) != 1 || up[0].Extensions != "permessage-deflate" {
				t.Errorf("%s: upgrade %v", name, up)
			}
		}
	})
	t.Run("old chrome", func(t *testing.T) {
		evs, sum := readHAR(t, "oldchrome.har")
		if sum.Conns != 2 || !strings.Contains(sum.Note, "older Chrome") {
			t.Errorf("summary %+v", sum)
		}
		reqs := byKind(evs, capture.KindRequest, 123456)
		if len(reqs) != 2 || reqs[0].Seq != 1 || reqs[1].Seq != 2 || reqs[0].Server != "203.0.113.5:80" {
			t.Errorf("connection 123456: %v", reqs)
		}
	})
}

// TestReadBad: what is not a HAR is an error that says so; entries and
// messages that are broken are left out and counted, the rest shown.
func TestReadBad(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "not a HAR"},
		{"hello", "not a HAR"},
		{`{"kind":"open","conn":1}`, ErrNotHAR.Error()},
		{`{"log":{"entries":{}}}`, "not a HAR"},
		{`{"log":{"entries":[1]}}`, "log.entries[0]"},
		{`{"log":{"entries":[{"time":"soon"}]}}`, "log.entries[0]"},
		{"\x78\x9c\x01\x02", "zlib"},
	} {
		_, err := Read(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Read(%q) = %v, want an error saying %q", tc.in, err, tc.want)
		}
	}
	if _, err := Read(strings.NewReader(`{"log":{"entries":null}}`)); !errors.Is(err, ErrNotHAR) {
		t.Errorf("entries null: %v", err)
	}
	evs, sum := harEvents(t, []byte(`{"log":{"creator":{"name":"x"},"entries":[{"startedDateTime":"never","request":{"url":"http://a/"}},`+
		`{"startedDateTime":"2026-01-01T00:00:00Z","request":{"url":"::bad url","method":"GET"},"response":null,"timings":{}}]}}`), "bad.har")
	if sum.Entries != 1 || sum.Skipped != 1 || !strings.Contains(sum.Note, "1 entry left out") || len(byKind(evs, capture.KindRequest, 0)) != 1 {
		t.Errorf("summary %+v", sum)
	}
}

func TestSniff(t *testing.T) {
	for in, want := range map[string]bool{
		"{\n  \"log\": {":                true,
		"\ufeff{\"log\":{}}":             true,
		"{\"kind\":\"open\",\"conn\":1}": false,
		"\x78\x9cabc":                    true,
		"\x1f\x8b\x08":                   true,
		"":                               false,
		"[":                              false,
	} {
		if got := Sniff([]byte(in)); got != want {
			t.Errorf("Sniff(%q) = %v, want %v", in, got, want)
		}
	}
}

// FuzzRead: whatever bytes Read accepts, Events makes events a capture
// could hold, in a capture's order, and bounded by the input: no more
// events than entries and messages allow.
func FuzzRead(f *testing.F) {
	for _, name := range []string{"firefox.har", "httptoolkit.har", "mitmproxy.har", "oldchrome.har", "example.har", "h2.har"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"log":{"entries":[{"startedDateTime":"2026-01-01T00:00:00Z","_connectionId":1,"_seq":"3","_webSocketMessages":[{"type":"send","time":"1e10","opcode":8,"data":"A"}]}]}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		file, err := Read(bytes.NewReader(in))
		if err != nil {
			return
		}
		evs, sum := file.Events("fuzz.har")
		if msg := wellFormed(evs); msg != "" {
			t.Fatal(msg)
		}
		msgs := 0
		for _, e := range file.Entries {
			msgs += len(e.WebSocketMessages)
		}
		if limit := 1 + 5*len(file.Entries) + msgs; len(evs) > limit {
			t.Fatalf("%d events from %d entries and %d messages", len(evs), len(file.Entries), msgs)
		}
		if sum.Entries > len(file.Entries) {
			t.Fatalf("summary %+v of %d entries", sum, len(file.Entries))
		}
	})
}
