package capture

import (
	"strconv"
	"unicode/utf8"
)

// appendEIOText appends what the text line says of an eio event (issue
// 10, Socket.IO):
//
//	←server #3 polling message sid=Xq2 EVENT / ack=4 "news" [{"n":1}]
//	client→ #2 websocket ping sid=Xq2 "probe"
//	client→ #2 websocket message binary sid=Xq2 attachment=1 hex:0102
//
// Arguments and data are cut like message payloads.
func (e *Event) appendEIOText(dst []byte) []byte {
	x := e.EIO
	if x == nil {
		x = &EIO{}
	}
	dst = appendFrom(dst, e.From)
	dst = appendSeq(dst, e.Seq)
	dst = appendStreamText(dst, e.Stream)
	dst = append(dst, ' ')
	dst = appendWord(dst, x.Transport)
	dst = append(dst, ' ')
	dst = appendWord(dst, x.Type)
	if x.Binary {
		dst = append(dst, " binary"...)
	}
	if x.SID != "" {
		dst = append(dst, " sid="...)
		dst = appendWord(dst, x.SID)
	}
	if x.Attachment > 0 {
		dst = append(dst, " attachment="...)
		dst = strconv.AppendInt(dst, int64(x.Attachment), 10)
	}
	if x.SIOType != "" {
		dst = append(dst, ' ')
		dst = appendWord(dst, x.SIOType)
		dst = append(dst, ' ')
		dst = appendWord(dst, x.Nsp)
		if x.HasAck {
			dst = append(dst, " ack="...)
			dst = strconv.AppendInt(dst, x.AckID, 10)
		}
		if x.Event != "" {
			dst = append(dst, ' ')
			dst = strconv.AppendQuote(dst, x.Event)
		}
		if x.Attachments > 0 {
			dst = append(dst, " attachments="...)
			dst = strconv.AppendInt(dst, int64(x.Attachments), 10)
		}
		if x.Args != nil {
			dst = append(dst, ' ')
			dst = appendJSONPreview(dst, x.Args)
		}
		if x.SIOData != nil {
			dst = append(dst, ' ')
			dst = appendJSONPreview(dst, x.SIOData)
		}
	}
	switch {
	case len(e.Payload) == 0:
	case !x.Binary && utf8.Valid(e.Payload):
		dst = append(dst, ' ')
		dst = appendQuotedPreview(dst, e.Payload)
	default:
		dst = append(dst, " hex:"...)
		dst = appendHexPreview(dst, e.Payload)
	}
	return dst
}

// appendJSONPreview appends the first textPreviewRunes characters of JSON
// as they are (JSON is readable unquoted), control characters escaped so
// that it stays on one line, "…" marking a cut.
func appendJSONPreview(dst []byte, p []byte) []byte {
	n, i := 0, 0
	for i < len(p) && n < textPreviewRunes {
		_, size := utf8.DecodeRune(p[i:])
		i += size
		n++
	}
	dst = appendLine(dst, string(p[:i]))
	if i < len(p) {
		dst = append(dst, "…"...)
	}
	return dst
}
