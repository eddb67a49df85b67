package har

import (
	"encoding/base64"
	"time"

	"github.com/frametap/frametap/capture"
)

// This file builds a WebSocket entry's messages and close.

// wsMessage is a message event in Chrome's _webSocketMessages shape.
func wsMessage(ev *capture.Event) WebSocketMessage {
	m := WebSocketMessage{
		Type:       "receive",
		Time:       epochSeconds(ev.Time),
		Opcode:     opcode(ev.Op),
		Frames:     ev.Frames,
		Compressed: ev.Compressed,
		WireLength: ev.WireLen,
		Length:     ev.Len,
		Truncated:  ev.Truncated,
	}
	if ev.From == "client" {
		m.Type = "send"
	}
	switch {
	case ev.Op == "close":
		// The close frame's payload (RFC 6455 section 5.5.1): the code,
		// two bytes, then the reason; empty when it had no body.
		var p []byte
		if ev.Code != 0 {
			p = append([]byte{byte(ev.Code >> 8), byte(ev.Code)}, ev.Reason...)
		}
		m.Data = base64.StdEncoding.EncodeToString(p)
	case ev.Op == "text":
		if text, ok := bodyText(ev.Payload, ev.Truncated); ok {
			m.Data = text
			break
		}
		// Invalid UTF-8 in a text message (a violation the capture
		// reports): the bytes, which Chrome would take for text.
		m.Data = base64.StdEncoding.EncodeToString(ev.Payload)
		m.Encoding = "base64"
	default:
		m.Data = base64.StdEncoding.EncodeToString(ev.Payload)
	}
	return m
}

// epochSeconds is t as Chrome writes a message's time: seconds since the
// epoch, to the microsecond.
func epochSeconds(t time.Time) float64 {
	return float64(t.UnixMicro()) / 1e6
}

// opcode numbers a message's op as RFC 6455 section 5.2 does.
func opcode(op string) int {
	switch op {
	case "text":
		return 1
	case "binary":
		return 2
	case "close":
		return 8
	case "ping":
		return 9
	case "pong":
		return 10
	}
	return 0 // continuation: frames with no message started
}

// wsClose says how x's WebSocket closed: from its first close message and
// the connection's close event. It is nil when no close frame was seen.
func (x *exchange) wsClose() *WebSocketClose {
	var first *capture.Event
	for _, m := range x.msgs {
		if m.Op == "close" {
			first = m
			break
		}
	}
	cl := x.c.close
	if first == nil && (cl == nil || cl.WSClosedBy == "") {
		return nil
	}
	wc := &WebSocketClose{}
	if first != nil {
		wc.Code, wc.Reason, wc.By = first.Code, first.Reason, first.From
	}
	if cl != nil {
		if cl.WSClosedBy != "" {
			wc.By = cl.WSClosedBy
		}
		wc.Clean = cl.WSCloseClean
	}
	return wc
}
