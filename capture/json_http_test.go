package capture

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// randMS returns a duration the format keeps exactly (whole microseconds),
// or 0 one time in three.
func randMS(r *rand.Rand) time.Duration {
	if r.IntN(3) == 0 {
		return 0
	}
	return time.Duration(r.Int64N(1e8)) * time.Microsecond
}

// randHTTP sets the fields of readable bodies and timings on a request or
// response, as the recorder would.
func randHTTP(r *rand.Rand, e *Event) {
	switch r.IntN(3) {
	case 0: // not encoded
	case 1:
		e.Decoded, e.DecodedLen = true, r.Int64N(1e9)
		if r.IntN(2) == 0 {
			e.DecodedBody = randBytes(r)
			e.DecodedTruncated = len(e.DecodedBody) > 0 && r.IntN(2) == 0
		}
	case 2:
		e.DecodeErr = "x" + randString(r)
	}
	if e.Kind != KindResponse {
		return
	}
	e.ByFrametap = r.IntN(4) == 0
	e.Connect, e.TLSTime = randMS(r), randMS(r)
	if e.Timed = r.IntN(2) == 0; e.Timed {
		e.Send, e.Wait, e.Receive = randMS(r), randMS(r), randMS(r)
		if r.IntN(4) == 0 {
			e.Wait = -1
		}
	}
}

func TestAppendHTTPFields(t *testing.T) {
	ev := &Event{Kind: KindResponse, Conn: 3, Time: t0, Seq: 2, Status: 200, StatusText: "OK", Proto: "HTTP/1.1",
		Headers: []Header{{"Content-Encoding", "gzip"}}, BodyLen: 31, Body: []byte{0x1f, 0x8b},
		Truncated: true, Decoded: true, DecodedLen: 11, DecodedBody: []byte("hello world"),
		Connect: 1234567 * time.Nanosecond, TLSTime: 5 * time.Millisecond, Timed: true,
		Send: 0, Wait: 12*time.Millisecond + 345*time.Microsecond, Receive: 31 * time.Microsecond}
	want := `{"kind":"response","conn":3,"t":"2025-03-14T19:51:02.123456789Z","seq":2,"status":200,"status_text":"OK","proto":"HTTP/1.1",` +
		`"headers":[["Content-Encoding","gzip"]],"body_len":31,"decoded_len":11,` +
		`"connect_ms":1.235,"tls_ms":5,"send_ms":0,"wait_ms":12.345,"receive_ms":0.031,` +
		`"body_b64":"H4s=","decoded_body":"hello world","truncated":true}` + "\n"
	if got := string(ev.AppendJSON(nil)); got != want {
		t.Errorf("AppendJSON:\n got %s\nwant %s", got, want)
	}
	text := string(ev.AppendText(nil))
	for _, w := range []string{"body=31 [truncated] decoded=11", "ms: connect=1.235 tls=5 send=0 wait=12.345 receive=0.031"} {
		if !strings.Contains(text, w) {
			t.Errorf("AppendText %q lacks %q", text, w)
		}
	}
	bad := &Event{Kind: KindResponse, Conn: 3, Time: t0, Seq: 1, Status: 200, Proto: "HTTP/1.1", BodyLen: 5, Body: []byte("hello"),
		DecodeErr: "not valid gzip: invalid header", ByFrametap: true}
	if got := string(bad.AppendJSON(nil)); !strings.Contains(got, `"proto":"HTTP/1.1","by_frametap":true,"headers":[],"body_len":5,"decode_error":"not valid gzip: invalid header","body":"hello"}`) {
		t.Errorf("AppendJSON of a body that did not decode: %s", got)
	}
}

// A large decoded body goes through the writer piece by piece, like a
// large body, and reads back whole.
func TestLogLargeDecodedBody(t *testing.T) {
	big := bytes.Repeat([]byte("\x01decoded "), 2<<20)
	ev := &Event{Kind: KindResponse, Conn: 1, Time: t0, Seq: 1, Status: 200, Proto: "HTTP/1.1", BodyLen: 100, Body: []byte("wire"),
		Decoded: true, DecodedLen: int64(len(big)), DecodedBody: big}
	var out bytes.Buffer
	l := NewLog(&out, JSON, LogOptions{QueueBytes: 1 << 20})
	s := l.Stream()
	s.Add(ev)
	s.Flush()
	s.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if want := ev.AppendJSON(nil); !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("written piece by piece: %d bytes, whole: %d bytes", out.Len(), len(want))
	}
	var back Event
	if err := back.UnmarshalJSON(bytes.TrimSuffix(out.Bytes(), []byte("\n"))); err != nil || !bytes.Equal(back.DecodedBody, big) {
		t.Fatalf("read back: %v, %d decoded bytes", err, len(back.DecodedBody))
	}
}
