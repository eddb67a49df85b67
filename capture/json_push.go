package capture

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// This file writes and reads the fields of push (issue 10): sse, chunk and
// stream_end events, a streaming response's "streaming", a close's "push".

// appendPush appends the fields of an sse, chunk or stream_end event, up
// to its content ("data" or "text"), which AppendJSON appends after.
func (e *Event) appendPush(dst []byte) []byte {
	dst = appendIntField(dst, `,"seq":`, int64(e.Seq))
	dst = appendStream(dst, e.Stream)
	switch e.Kind {
	case KindSSE:
		dst = appendStringField(dst, `,"event":`, e.SSEType)
		if e.HasSSEID {
			dst = appendStringField(dst, `,"id":`, e.SSEID)
		}
		if e.HasRetry {
			dst = appendIntField(dst, `,"retry":`, e.Retry)
		}
		dst = appendIntField(dst, `,"len":`, e.Len)
		if e.Comments > 0 {
			dst = appendIntField(dst, `,"comments":`, e.Comments)
		}
	case KindChunk:
		dst = appendIntField(dst, `,"len":`, e.Len)
	case KindStreamEnd:
		dst = appendIntField(dst, `,"body_len":`, e.BodyLen)
		if e.Events > 0 || e.Chunks == 0 {
			dst = appendIntField(dst, `,"events":`, e.Events)
		}
		if e.Chunks > 0 {
			dst = appendIntField(dst, `,"chunks":`, e.Chunks)
		}
		if e.Comments > 0 {
			dst = appendIntField(dst, `,"comments":`, e.Comments)
		}
		if e.Reset != "" {
			dst = appendStringField(dst, `,"reset":`, e.Reset)
		}
		if e.Timed {
			dst = appendMSField(dst, `,"receive_ms":`, max(e.Receive, 0))
		}
	}
	return dst
}

// pushContent is the content field of an sse event ("data", a string:
// the parser decoded it as UTF-8) or a chunk ("text" when UTF-8, else
// "data" in base64, as a message's payload).
func (e *Event) pushContent() content {
	if len(e.Payload) == 0 {
		return content{}
	}
	text := keptText(e.Payload, e.Truncated)
	if e.Kind == KindSSE {
		return content{field: "data", p: text}
	}
	if utf8.Valid(text) {
		return content{field: "text", p: text}
	}
	return content{field: "data", p: e.Payload, b64: true}
}

// wirePush is what wireEvent reads of these fields.
type wirePush struct {
	Streaming bool    `json:"streaming"`
	SSEType   string  `json:"event"`
	SSEID     *string `json:"id"`
	Retry     *int64  `json:"retry"`
	Comments  int64   `json:"comments"`
	Events    int64   `json:"events"`
	Chunks    int64   `json:"chunks"`
	Push      string  `json:"push"`
}

// set copies w into e.
func (w *wirePush) set(e *Event) {
	e.Streaming, e.Comments, e.Events, e.Chunks, e.Push = w.Streaming, w.Comments, w.Events, w.Chunks, w.Push
	if e.Kind != KindSSE {
		return
	}
	e.SSEType = w.SSEType
	if w.SSEID != nil {
		e.SSEID, e.HasSSEID = *w.SSEID, true
	}
	if w.Retry != nil {
		e.Retry, e.HasRetry = *w.Retry, true
	}
}

// decodeData decodes the "data" field: a string in an sse event, base64
// (RFC 4648 section 4) everywhere else.
func decodeData(kind Kind, raw json.RawMessage) ([]byte, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if kind == KindSSE {
		var s string
		err := json.Unmarshal(raw, &s)
		return []byte(s), err
	}
	var b []byte
	err := json.Unmarshal(raw, &b)
	return b, err
}

// appendPushText appends the headless line of an sse, chunk or stream_end
// event after its kind: "#seq [stream] event=T id=I retry=R 42B "data"".
func (e *Event) appendPushText(dst []byte) []byte {
	dst = appendSeq(dst, e.Seq)
	dst = appendStreamText(dst, e.Stream)
	switch e.Kind {
	case KindSSE:
		dst = append(dst, " event="...)
		dst = appendWord(dst, e.SSEType)
		if e.HasSSEID {
			dst = append(dst, " id="...)
			dst = strconv.AppendQuote(dst, e.SSEID)
		}
		if e.HasRetry {
			dst = append(dst, " retry="...)
			dst = strconv.AppendInt(dst, e.Retry, 10)
		}
	case KindStreamEnd:
		dst = append(dst, " body="...)
		dst = strconv.AppendInt(dst, e.BodyLen, 10)
		dst = append(dst, 'B')
		if e.Chunks > 0 {
			dst = append(dst, " chunks="...)
			dst = strconv.AppendInt(dst, e.Chunks, 10)
		} else {
			dst = append(dst, " events="...)
			dst = strconv.AppendInt(dst, e.Events, 10)
		}
		if e.Comments > 0 {
			dst = append(dst, " comments="...)
			dst = strconv.AppendInt(dst, e.Comments, 10)
		}
		if e.Reset != "" {
			dst = append(dst, " reset="...)
			dst = appendWord(dst, e.Reset)
		}
		return dst
	}
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, e.Len, 10)
	dst = append(dst, 'B')
	switch text := keptText(e.Payload, e.Truncated); {
	case len(e.Payload) == 0:
	case utf8.Valid(text):
		dst = append(dst, ' ')
		dst = appendQuotedPreview(dst, text)
	default:
		dst = append(dst, " hex:"...)
		dst = appendHexPreview(dst, e.Payload)
	}
	if e.Truncated {
		dst = append(dst, " [truncated]"...)
	}
	return dst
}
