package capture

import (
	"encoding/base64"
	"errors"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends e as one JSON object and a '\n' to dst and returns the
// extended slice. It writes "kind", "conn" and "t" first, then exactly the
// fields of e.Kind in the order docs/capture-format.md lists; an unknown Kind
// gets the three common fields only. Strings are escaped per RFC 8259
// section 7, with invalid UTF-8 replaced by U+FFFD. It does not allocate
// when dst has room.
func (e *Event) AppendJSON(dst []byte) []byte {
	return e.appendJSON(dst, nil)
}

// appendJSON is AppendJSON, with the time's text taken from tt when it
// holds it (nil: written anew).
func (e *Event) appendJSON(dst []byte, tt *timeText) []byte {
	dst = e.appendJSONHead(dst, tt)
	if c := e.content(); c.field != "" {
		dst = c.appendOpen(dst)
		dst = c.appendValue(dst, c.p)
		dst = append(dst, '"')
	}
	if c := e.decodedContent(); c.field != "" {
		dst = c.appendOpen(dst)
		dst = c.appendValue(dst, c.p)
		dst = append(dst, '"')
	}
	return e.appendJSONTail(dst)
}

// appendJSONHead appends e's object up to its content field (see content),
// or up to its tail when it has none; tt as for appendJSON.
func (e *Event) appendJSONHead(dst []byte, tt *timeText) []byte {
	dst = append(dst, `{"kind":`...)
	dst = appendJSONString(dst, string(e.Kind))
	dst = append(dst, `,"conn":`...)
	dst = strconv.AppendUint(dst, e.Conn, 10)
	dst = append(dst, `,"t":"`...)
	dst = tt.append(dst, e.Time) // e.Time.UTC().AppendFormat(dst, time.RFC3339Nano), faster (json_fast.go)
	dst = append(dst, '"')

	switch e.Kind {
	case KindOpen:
		dst = appendStringField(dst, `,"client":`, e.Client)
		if e.Server != "" {
			dst = appendStringField(dst, `,"server":`, e.Server)
		}
		dst = appendStringField(dst, `,"mode":`, e.Mode)
		if e.Listen != "" {
			dst = appendStringField(dst, `,"listen":`, e.Listen)
		}
	case KindClose:
		dst = appendIntField(dst, `,"bytes_from_client":`, e.BytesFromClient)
		dst = appendIntField(dst, `,"bytes_from_server":`, e.BytesFromServer)
		if e.Err != "" {
			dst = appendStringField(dst, `,"err":`, e.Err)
		}
		if e.WebSocket {
			if e.WSClosedBy != "" {
				dst = appendStringField(dst, `,"ws_closed_by":`, e.WSClosedBy)
			}
			dst = appendBoolField(dst, `,"ws_close_clean":`, e.WSCloseClean)
		}
		if e.H2 {
			dst = appendIntField(dst, `,"h2_streams":`, int64(e.H2Streams))
			dst = appendIntField(dst, `,"h2_max_open":`, int64(e.H2MaxOpen))
		}
		if e.Push != "" { // issue 10
			dst = appendStringField(dst, `,"push":`, e.Push)
		}
	case KindRequest:
		dst = appendIntField(dst, `,"seq":`, int64(e.Seq))
		dst = appendStream(dst, e.Stream)
		dst = appendStringField(dst, `,"method":`, e.Method)
		dst = appendStringField(dst, `,"target":`, e.Target)
		dst = appendStringField(dst, `,"host":`, e.Host)
		dst = appendStringField(dst, `,"proto":`, e.Proto)
		if e.Scheme != "" {
			dst = appendStringField(dst, `,"scheme":`, e.Scheme)
		}
		if e.Protocol != "" {
			dst = appendStringField(dst, `,"protocol":`, e.Protocol)
		}
		if e.Pushed {
			dst = appendBoolField(dst, `,"pushed":`, true)
		}
		dst = e.appendExchange(dst)
		dst = e.appendDecoded(dst)
	case KindResponse:
		dst = appendIntField(dst, `,"seq":`, int64(e.Seq))
		dst = appendStream(dst, e.Stream)
		dst = appendIntField(dst, `,"status":`, int64(e.Status))
		dst = appendStringField(dst, `,"status_text":`, e.StatusText)
		dst = appendStringField(dst, `,"proto":`, e.Proto)
		if e.Reset != "" {
			dst = appendStringField(dst, `,"reset":`, e.Reset)
		}
		if e.ByFrametap {
			dst = append(dst, `,"by_frametap":true`...)
		}
		dst = e.appendExchange(dst)
		dst = e.appendDecoded(dst)
		dst = e.appendTimings(dst)
		if e.Streaming { // issue 10
			dst = append(dst, `,"streaming":true`...)
		}
	case KindUpgrade:
		dst = appendIntField(dst, `,"seq":`, int64(e.Seq))
		dst = appendStream(dst, e.Stream)
		dst = appendStringField(dst, `,"protocol":`, e.Protocol)
		dst = appendStringField(dst, `,"subprotocol":`, e.Subprotocol)
		dst = appendStringField(dst, `,"extensions":`, e.Extensions)
		if e.Stream == 0 { // over HTTP/2 there is no key to accept
			dst = appendBoolField(dst, `,"accept_ok":`, e.AcceptOK)
		}
		if e.Scheme != "" {
			dst = appendStringField(dst, `,"scheme":`, e.Scheme)
		}
	case KindTLS:
		dst = appendStringField(dst, `,"side":`, e.Side)
		dst = appendStringField(dst, `,"sni":`, e.SNI)
		dst = appendStringField(dst, `,"alpn":`, e.ALPN)
		dst = appendStringField(dst, `,"version":`, e.Version)
		dst = appendStringField(dst, `,"cipher":`, e.Cipher)
		if e.Side == "server" {
			dst = appendStringField(dst, `,"subject":`, e.Subject)
			dst = appendStringField(dst, `,"issuer":`, e.Issuer)
			dst = appendBoolField(dst, `,"verified":`, e.Verified)
		}
		if e.Handshake > 0 {
			dst = appendMSField(dst, `,"handshake_ms":`, e.Handshake)
		}
	case KindFrame:
		dst = appendStringField(dst, `,"from":`, e.From)
		dst = appendStream(dst, e.Stream)
		dst = appendBoolField(dst, `,"fin":`, e.Fin)
		dst = appendIntField(dst, `,"rsv":`, int64(e.RSV))
		dst = appendIntField(dst, `,"opcode":`, int64(e.Opcode))
		dst = appendBoolField(dst, `,"masked":`, e.Masked)
		dst = appendIntField(dst, `,"len":`, e.Len)
		if e.Injected {
			dst = appendBoolField(dst, `,"injected":`, true)
		}
	case KindMessage:
		dst = appendStringField(dst, `,"from":`, e.From)
		dst = appendStream(dst, e.Stream)
		dst = appendStringField(dst, `,"op":`, e.Op)
		dst = appendIntField(dst, `,"frames":`, int64(e.Frames))
		dst = appendIntField(dst, `,"len":`, e.Len)
		dst = appendIntField(dst, `,"wire_len":`, e.WireLen)
		dst = appendBoolField(dst, `,"compressed":`, e.Compressed)
		if e.Injected {
			dst = appendBoolField(dst, `,"injected":`, true)
		}
		if e.Op == "close" {
			dst = appendIntField(dst, `,"code":`, int64(e.Code))
			dst = appendStringField(dst, `,"reason":`, e.Reason)
		}
	case KindError:
		if e.From != "" {
			dst = appendStringField(dst, `,"from":`, e.From)
		}
		dst = appendStringField(dst, `,"msg":`, e.Msg)
	case KindGap:
		dst = appendIntField(dst, `,"lost":`, e.Lost)
		dst = append(dst, `,"since":"`...)
		dst = e.Since.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
		dst = appendStringField(dst, `,"msg":`, e.Msg)
	case KindMeta:
		dst = appendStringField(dst, `,"filter":`, e.Filter)
	case KindH2Frame:
		dst = e.appendH2Frame(dst)
	case KindSSE, KindChunk, KindStreamEnd: // issue 10
		dst = e.appendPush(dst)
	case KindEIO: // issue 10, Socket.IO
		dst = e.appendEIO(dst)
	}
	return dst
}

// appendStream appends "stream" when the event ran on an HTTP/2 stream.
func appendStream(dst []byte, stream uint32) []byte {
	if stream == 0 {
		return dst
	}
	return appendIntField(dst, `,"stream":`, int64(stream))
}

// appendH2Frame appends the fields of an h2frame event: the frame header,
// then the payload fields its type has.
func (e *Event) appendH2Frame(dst []byte) []byte {
	dst = appendStringField(dst, `,"from":`, e.From)
	dst = appendIntField(dst, `,"stream":`, int64(e.Stream))
	dst = appendStringField(dst, `,"type":`, e.FrameType)
	dst = appendIntField(dst, `,"flags":`, int64(e.Flags))
	dst = appendIntField(dst, `,"len":`, e.Len)
	switch e.FrameType {
	case "SETTINGS":
		dst = append(dst, `,"settings":[`...)
		for i, st := range e.Settings {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = append(dst, '[')
			dst = appendJSONString(dst, st.Name)
			dst = append(dst, ',')
			dst = strconv.AppendUint(dst, uint64(st.Value), 10)
			dst = append(dst, ']')
		}
		dst = append(dst, ']')
		dst = appendBoolField(dst, `,"ack":`, e.Ack)
	case "RST_STREAM":
		dst = appendStringField(dst, `,"code":`, e.ErrCode)
	case "GOAWAY":
		dst = appendStringField(dst, `,"code":`, e.ErrCode)
		dst = appendIntField(dst, `,"last_stream":`, int64(e.LastStream))
	case "WINDOW_UPDATE":
		dst = appendIntField(dst, `,"increment":`, int64(e.Increment))
	case "PUSH_PROMISE":
		dst = appendIntField(dst, `,"promised":`, int64(e.Promised))
	case "PING":
		dst = appendBoolField(dst, `,"ack":`, e.Ack)
	}
	return dst
}

// appendJSONTail appends what follows the content field: "truncated" and
// the end of the object and line.
func (e *Event) appendJSONTail(dst []byte) []byte {
	if e.Truncated && (e.Kind == KindRequest || e.Kind == KindResponse || e.Kind == KindMessage || e.Kind == KindSSE || e.Kind == KindChunk) {
		dst = append(dst, `,"truncated":true`...)
	}
	if e.DecodedTruncated && len(e.DecodedBody) > 0 && (e.Kind == KindRequest || e.Kind == KindResponse) {
		dst = append(dst, `,"decoded_truncated":true`...)
	}
	return append(dst, "}\n"...)
}

// content is the one field of an event that can be megabytes long: a body
// or a payload. The Log's writer encodes a large one piece by piece
// (appendValue on the pieces chunk cuts) so that a huge event never exists
// whole in encoded form.
type content struct {
	field string // "body", "body_b64", "text" or "data"; "" when the event has none
	p     []byte // the bytes to encode
	b64   bool   // base64 (RFC 4648 section 4) rather than a JSON string
}

// content returns e's content field: the body of a request or response
// when it has one, the payload of a message other than close.
func (e *Event) content() content {
	switch e.Kind {
	case KindRequest, KindResponse:
		if len(e.Body) == 0 {
			return content{}
		}
		if text := keptText(e.Body, e.Truncated); utf8.Valid(text) {
			return content{field: "body", p: text}
		}
		return content{field: "body_b64", p: e.Body, b64: true}
	case KindMessage:
		if e.Op == "close" {
			return content{}
		}
		if e.Op == "text" {
			if text := keptText(e.Payload, e.Truncated); utf8.Valid(text) {
				return content{field: "text", p: text}
			}
		}
		return content{field: "data", p: e.Payload, b64: true}
	case KindSSE, KindChunk: // issue 10
		return e.pushContent()
	case KindEIO: // issue 10, Socket.IO
		return e.eioContent()
	}
	return content{}
}

// appendOpen appends ,"field":" .
func (c content) appendOpen(dst []byte) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, c.field...)
	return append(dst, '"', ':', '"')
}

// appendValue appends p, the whole of c.p or one piece of it as cut by
// chunk, encoded.
func (c content) appendValue(dst, p []byte) []byte {
	if c.b64 {
		return appendBase64(dst, p) // base64.StdEncoding.AppendEncode, faster (json_fast.go)
	}
	return appendEscaped(dst, p)
}

// chunk returns how many of p's first bytes to encode next, at most max
// (at least 4): pieces encoded one after another give what encoding p
// whole gives. Base64 is cut at a multiple of 3 bytes, text (valid UTF-8)
// before a character.
func (c content) chunk(p []byte, max int) int {
	if len(p) <= max {
		return len(p)
	}
	if c.b64 {
		return max - max%3
	}
	n := max
	for n > max-utf8.UTFMax && !utf8.RuneStart(p[n]) {
		n--
	}
	return n
}

// encodedLen returns the length of c's value once encoded, without the
// quotes, or a length over limit as soon as it knows it passes limit.
func (c content) encodedLen(limit int) int {
	if c.b64 {
		return base64.StdEncoding.EncodedLen(len(c.p))
	}
	return escapedLen(c.p, limit)
}

// keptText is what of a kept body or payload can be written as text: when
// the limit cut it inside a UTF-8 sequence, the incomplete sequence at the
// end is left out (at most 3 bytes of a prefix that is cut anyway), so that
// text cut at --max-body or --max-message still reads as text rather than
// turning into base64. Nothing but an incomplete sequence stays as it is.
func keptText(p []byte, truncated bool) []byte {
	if !truncated {
		return p
	}
	for i := 1; i <= utf8.UTFMax-1 && i <= len(p); i++ {
		if utf8.RuneStart(p[len(p)-i]) {
			if !utf8.FullRune(p[len(p)-i:]) && i < len(p) {
				return p[:len(p)-i]
			}
			break
		}
	}
	return p
}

// appendExchange appends the fields requests and responses share, from
// "server" to "body_len"; the body and "truncated" follow.
func (e *Event) appendExchange(dst []byte) []byte {
	if e.Server != "" {
		dst = appendStringField(dst, `,"server":`, e.Server)
	}
	dst = append(dst, `,"headers":`...)
	dst = appendHeaders(dst, e.Headers)
	if len(e.Trailers) > 0 {
		dst = append(dst, `,"trailers":`...)
		dst = appendHeaders(dst, e.Trailers)
	}
	return appendIntField(dst, `,"body_len":`, e.BodyLen)
}

func appendHeaders(dst []byte, hs []Header) []byte {
	dst = append(dst, '[')
	for i := range hs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		dst = appendJSONString(dst, hs[i][0])
		dst = append(dst, ',')
		dst = appendJSONString(dst, hs[i][1])
		dst = append(dst, ']')
	}
	return append(dst, ']')
}

// appendStringField appends key, which is ,"name": (a constant that needs
// no escaping), and v as a JSON string. Keys come whole, punctuation and
// all, so that a field costs one append before its value.
func appendStringField(dst []byte, key, v string) []byte {
	dst = append(dst, key...)
	return appendJSONString(dst, v)
}

// appendIntField appends key (,"name":) and v.
func appendIntField(dst []byte, key string, v int64) []byte {
	dst = append(dst, key...)
	return strconv.AppendInt(dst, v, 10)
}

// appendBoolField appends key (,"name":) and v.
func appendBoolField(dst []byte, key string, v bool) []byte {
	dst = append(dst, key...)
	if v {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

// appendJSONString appends s as a quoted JSON string.
func appendJSONString(dst []byte, s string) []byte {
	return appendJSONStringFast(dst, s) // json_fast.go
}

const hexDigits = "0123456789abcdef"

// appendEscaped appends the body of a JSON string holding s, unquoted.
// RFC 8259 section 7: "All Unicode characters may be placed within the
// quotation marks, except for the characters that MUST be escaped: quotation
// mark, reverse solidus, and the control characters (U+0000 through
// U+001F)." Invalid UTF-8 becomes \ufffd, so the output is always valid.
func appendEscaped[T string | []byte](dst []byte, s T) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			// string(...) of at most 4 bytes converts on the stack.
			r, size := utf8.DecodeRuneInString(string(s[i:min(i+utf8.UTFMax, len(s))]))
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			} else {
				dst = append(dst, `\ufffd`...)
			}
		}
		i++
		start = i
	}
	return append(dst, s[start:]...)
}

// escapedLen returns len(appendEscaped(nil, p)) without building it, or
// a length over limit as soon as the count passes limit.
func escapedLen(p []byte, limit int) int {
	n := len(p)
	for i := 0; i < len(p) && n <= limit; {
		c := p[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			if r, size := utf8.DecodeRune(p[i:]); r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			n += len(`\ufffd`) - 1
		} else {
			switch c {
			case '"', '\\', '\n', '\r', '\t':
				n++
			default:
				n += len(`\u0000`) - 1
			}
		}
		i++
	}
	return n
}

// MarshalJSON returns e as AppendJSON writes it, without the newline, so
// that encoding/json writes the capture format too.
func (e *Event) MarshalJSON() ([]byte, error) {
	b := e.AppendJSON(nil)
	return b[:len(b)-1], nil
}

// errNoKind reports an object without "kind", which every event has.
var errNoKind = errors.New(`event has no "kind"`)
