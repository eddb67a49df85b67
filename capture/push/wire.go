package push

import (
	"bytes"
	"strconv"

	"github.com/frametap/frametap/capture"
)

// What an event's bytes were on the wire, where the event says it only in
// parts.

// requestHeadLen is an HTTP/1.x request head as sent: request line, fields
// and the blank line (RFC 9112 section 2.1). For HTTP/2 the Summary counts
// frames instead, when the capture has them; without them this is what
// HTTP/1.1 would have sent.
func requestHeadLen(ev *capture.Event) int64 {
	n := len(ev.Method) + 1 + len(ev.Target) + 1 + len(ev.Proto) + 2
	return int64(n) + fieldsLen(ev.Headers)
}

// responseHeadLen is a response head as sent: status line, fields, blank
// line.
func responseHeadLen(ev *capture.Event) int64 {
	n := len(ev.Proto) + 1 + 3 + 1 + len(ev.StatusText) + 2
	return int64(n) + fieldsLen(ev.Headers)
}

// fieldsLen is "name: value\r\n" for each field, and the final CRLF.
func fieldsLen(hs []capture.Header) int64 {
	n := 2
	for _, h := range hs {
		n += len(h[0]) + 2 + len(h[1]) + 2
	}
	return int64(n)
}

// wsHeaderLen is the length of a WebSocket frame header (RFC 6455 section
// 5.2) for a payload of n bytes.
func wsHeaderLen(n int64, masked bool) int64 {
	h := int64(2)
	switch {
	case n > 0xFFFF:
		h += 8
	case n > 125:
		h += 2
	}
	if masked {
		h += 4
	}
	return h
}

// eioMessage reports whether a WebSocket payload is an Engine.IO "message"
// packet (type 4), as opposed to its open, close, ping, pong, upgrade and
// noop.
func eioMessage(p []byte) bool { return len(p) > 0 && p[0] == '4' }

// eioMessages counts the Engine.IO message packets of a long-polling body:
// packets are separated by the record separator 0x1e (Engine.IO v4).
func eioMessages(body []byte) int64 {
	var n int64
	for p := range bytes.SplitSeq(body, []byte{0x1e}) {
		if eioMessage(p) || len(p) > 1 && p[0] == 'b' {
			n++
		}
	}
	return n
}

// formatRate is n per second with at most one decimal.
func formatRate(v float64) string {
	if v >= 10 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}
