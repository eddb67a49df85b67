package capture

import (
	"strconv"
	"unicode/utf8"
)

// Limits of the text format's previews.
const (
	textPreviewRunes = 80 // characters of a text message shown
	hexPreviewBytes  = 32 // bytes of a binary payload shown in hex
)

// AppendText appends e as one line for a human watching a terminal, like a
// packet log, and a '\n':
//
//	19:51:02.123456 #3 open     127.0.0.1:51234 -> example:80 (reverse)
//	19:51:02.126001 #3 message  client→ text 5B 1 frame "hello"
//
// The time is local with microseconds, the kind is padded to one column,
// and control characters and invalid UTF-8 are escaped so that an event is
// never more than one line. Payloads are cut: text to 80 characters, binary
// to 32 bytes shown in hex; a cut is marked by "…".
func (e *Event) AppendText(dst []byte) []byte {
	dst = e.Time.Local().AppendFormat(dst, "15:04:05.000000")
	dst = append(dst, " #"...)
	dst = strconv.AppendUint(dst, e.Conn, 10)
	dst = append(dst, ' ')
	start := len(dst)
	dst = appendLine(dst, string(e.Kind))
	for n := len(dst) - start; n < len("response"); n++ {
		dst = append(dst, ' ')
	}

	switch e.Kind {
	case KindOpen:
		dst = append(dst, ' ')
		dst = appendWord(dst, e.Client)
		if e.Server != "" {
			dst = append(dst, " -> "...)
			dst = appendWord(dst, e.Server)
		}
		dst = append(dst, " ("...)
		dst = appendLine(dst, e.Mode)
		if e.Listen != "" {
			dst = append(dst, " on "...)
			dst = appendWord(dst, e.Listen)
		}
		dst = append(dst, ')')
	case KindClose:
		dst = append(dst, " ↑"...)
		dst = strconv.AppendInt(dst, e.BytesFromClient, 10)
		dst = append(dst, "B ↓"...)
		dst = strconv.AppendInt(dst, e.BytesFromServer, 10)
		dst = append(dst, 'B')
		if e.WebSocket {
			switch e.WSClosedBy {
			case "":
				dst = append(dst, " ws: no close frame"...)
			default:
				dst = append(dst, " ws: closed by "...)
				dst = appendWord(dst, e.WSClosedBy)
			}
			if e.WSCloseClean {
				dst = append(dst, ", clean"...)
			} else {
				dst = append(dst, ", unclean"...)
			}
		}
		if e.H2 {
			dst = append(dst, " h2: "...)
			dst = strconv.AppendInt(dst, int64(e.H2Streams), 10)
			dst = append(dst, " streams, up to "...)
			dst = strconv.AppendInt(dst, int64(e.H2MaxOpen), 10)
			dst = append(dst, " at once"...)
		}
		if e.Err != "" {
			dst = append(dst, " err: "...)
			dst = appendLine(dst, e.Err)
		}
	case KindRequest:
		dst = appendSeq(dst, e.Seq)
		dst = appendStreamText(dst, e.Stream)
		dst = append(dst, ' ')
		dst = appendWord(dst, e.Method)
		dst = append(dst, ' ')
		dst = appendWord(dst, e.Target)
		dst = append(dst, ' ')
		dst = appendWord(dst, e.Proto)
		dst = append(dst, " host="...)
		dst = appendWord(dst, e.Host)
		if e.Scheme != "" {
			dst = append(dst, " scheme="...)
			dst = appendWord(dst, e.Scheme)
		}
		if e.Protocol != "" {
			dst = append(dst, " protocol="...)
			dst = appendWord(dst, e.Protocol)
		}
		if e.Pushed {
			dst = append(dst, " pushed"...)
		}
		dst = e.appendBodyText(dst)
	case KindResponse:
		dst = appendSeq(dst, e.Seq)
		dst = appendStreamText(dst, e.Stream)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(e.Status), 10)
		if e.StatusText != "" {
			dst = append(dst, ' ')
			dst = appendLine(dst, e.StatusText)
		}
		dst = append(dst, ' ')
		dst = appendWord(dst, e.Proto)
		if e.Reset != "" {
			dst = append(dst, " reset="...)
			dst = appendWord(dst, e.Reset)
		}
		if e.Streaming { // issue 10
			dst = append(dst, " streaming"...)
		}
		dst = e.appendBodyText(dst)
	case KindUpgrade:
		dst = appendSeq(dst, e.Seq)
		dst = appendStreamText(dst, e.Stream)
		dst = append(dst, ' ')
		dst = appendWord(dst, e.Protocol)
		if e.Subprotocol != "" {
			dst = append(dst, " subprotocol="...)
			dst = appendWord(dst, e.Subprotocol)
		}
		if e.Extensions != "" {
			dst = append(dst, " ext="...)
			dst = strconv.AppendQuote(dst, e.Extensions)
		}
		switch {
		case e.Stream != 0: // over HTTP/2: no key, no accept
		case e.AcceptOK:
			dst = append(dst, " accept=ok"...)
		default:
			dst = append(dst, " accept=BAD"...)
		}
		if e.Scheme != "" {
			dst = append(dst, " scheme="...)
			dst = appendWord(dst, e.Scheme)
		}
	case KindTLS:
		dst = append(dst, ' ')
		dst = appendWord(dst, e.Side)
		dst = append(dst, " sni="...)
		dst = appendWord(dst, e.SNI)
		dst = append(dst, " alpn="...)
		dst = appendWord(dst, e.ALPN)
		dst = append(dst, ' ')
		dst = appendLine(dst, e.Version)
		dst = append(dst, ' ')
		dst = appendWord(dst, e.Cipher)
		if e.Side == "server" {
			dst = append(dst, " subject="...)
			dst = appendWord(dst, e.Subject)
			dst = append(dst, " issuer="...)
			dst = appendWord(dst, e.Issuer)
			if e.Verified {
				dst = append(dst, " verified"...)
			} else {
				dst = append(dst, " NOT-VERIFIED"...)
			}
		}
	case KindFrame:
		dst = appendFrom(dst, e.From)
		dst = appendStreamText(dst, e.Stream)
		if e.Fin {
			dst = append(dst, " FIN"...)
		}
		for bit := uint8(1); bit <= 3; bit++ {
			if e.RSV&(4>>(bit-1)) != 0 {
				dst = append(dst, " RSV"...)
				dst = append(dst, '0'+bit)
			}
		}
		dst = append(dst, ' ')
		dst = appendOpcode(dst, e.Opcode)
		if e.Masked {
			dst = append(dst, " masked"...)
		}
		dst = append(dst, " len="...)
		dst = strconv.AppendInt(dst, e.Len, 10)
		if e.Injected {
			dst = append(dst, " injected"...)
		}
	case KindMessage:
		dst = appendFrom(dst, e.From)
		dst = appendStreamText(dst, e.Stream)
		dst = append(dst, ' ')
		dst = appendWord(dst, e.Op)
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, e.Len, 10)
		dst = append(dst, 'B')
		if e.Compressed {
			dst = append(dst, " (wire "...)
			dst = strconv.AppendInt(dst, e.WireLen, 10)
			dst = append(dst, "B deflated)"...)
		}
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, int64(e.Frames), 10)
		if e.Frames == 1 {
			dst = append(dst, " frame"...)
		} else {
			dst = append(dst, " frames"...)
		}
		switch {
		case e.Op == "close":
			if e.Code == 0 {
				dst = append(dst, " no code"...)
			} else {
				dst = append(dst, " code="...)
				dst = strconv.AppendInt(dst, int64(e.Code), 10)
			}
			if e.Reason != "" {
				dst = append(dst, ' ')
				dst = appendQuotedPreview(dst, []byte(e.Reason))
			}
		case len(e.Payload) == 0:
		case (e.Op == "text" || e.Op == "ping" || e.Op == "pong") && utf8.Valid(keptText(e.Payload, e.Truncated)):
			// Pings and pongs mostly carry text ("are you there?"); quote
			// them like text. Binary ones, and binary messages, show hex.
			dst = append(dst, ' ')
			dst = appendQuotedPreview(dst, keptText(e.Payload, e.Truncated))
		default:
			dst = append(dst, " hex:"...)
			dst = appendHexPreview(dst, e.Payload)
		}
		if e.Truncated {
			dst = append(dst, " [truncated]"...)
		}
		if e.Injected {
			dst = append(dst, " injected"...)
		}
	case KindError:
		if e.From != "" {
			dst = appendFrom(dst, e.From)
		}
		dst = append(dst, ' ')
		dst = appendLine(dst, e.Msg)
	case KindH2Frame:
		dst = e.appendH2FrameText(dst)
	case KindGap:
		dst = append(dst, ' ')
		dst = strconv.AppendInt(dst, e.Lost, 10)
		dst = append(dst, " events lost since "...)
		dst = e.Since.Local().AppendFormat(dst, "15:04:05.000000")
		dst = append(dst, ": "...)
		dst = appendLine(dst, e.Msg)
	case KindMeta:
		dst = append(dst, " filter="...)
		dst = strconv.AppendQuote(dst, e.Filter)
	case KindSSE, KindChunk, KindStreamEnd: // issue 10
		dst = e.appendPushText(dst)
	}
	return append(dst, '\n')
}

// appendBodyText appends " body=N", with the trailer count and the
// truncation mark when there are any.
func (e *Event) appendBodyText(dst []byte) []byte {
	if e.Server != "" {
		dst = append(dst, " server="...)
		dst = appendWord(dst, e.Server)
	}
	dst = append(dst, " body="...)
	dst = strconv.AppendInt(dst, e.BodyLen, 10)
	if len(e.Trailers) > 0 {
		dst = append(dst, " trailers="...)
		dst = strconv.AppendInt(dst, int64(len(e.Trailers)), 10)
	}
	if e.Truncated {
		dst = append(dst, " [truncated]"...)
	}
	return e.appendHTTPText(dst) // issue 13: decoded size and timings
}

// appendStreamText appends " stream=N" for an event on an HTTP/2 stream.
func appendStreamText(dst []byte, stream uint32) []byte {
	if stream == 0 {
		return dst
	}
	dst = append(dst, " stream="...)
	return strconv.AppendUint(dst, uint64(stream), 10)
}

// appendH2FrameText appends an HTTP/2 frame header and what its payload
// says: " client→ HEADERS stream=1 flags=0x05 len=30".
func (e *Event) appendH2FrameText(dst []byte) []byte {
	dst = appendFrom(dst, e.From)
	dst = append(dst, ' ')
	dst = appendWord(dst, e.FrameType)
	dst = append(dst, " stream="...)
	dst = strconv.AppendUint(dst, uint64(e.Stream), 10)
	dst = append(dst, " flags=0x"...)
	dst = append(dst, hexDigits[e.Flags>>4], hexDigits[e.Flags&0xf])
	dst = append(dst, " len="...)
	dst = strconv.AppendInt(dst, e.Len, 10)
	switch e.FrameType {
	case "SETTINGS":
		for _, st := range e.Settings {
			dst = append(dst, ' ')
			dst = appendWord(dst, st.Name)
			dst = append(dst, '=')
			dst = strconv.AppendUint(dst, uint64(st.Value), 10)
		}
	case "RST_STREAM":
		dst = append(dst, " code="...)
		dst = appendWord(dst, e.ErrCode)
	case "GOAWAY":
		dst = append(dst, " code="...)
		dst = appendWord(dst, e.ErrCode)
		dst = append(dst, " last_stream="...)
		dst = strconv.AppendUint(dst, uint64(e.LastStream), 10)
	case "WINDOW_UPDATE":
		dst = append(dst, " increment="...)
		dst = strconv.AppendUint(dst, uint64(e.Increment), 10)
	case "PUSH_PROMISE":
		dst = append(dst, " promised="...)
		dst = strconv.AppendUint(dst, uint64(e.Promised), 10)
	}
	if e.Ack {
		dst = append(dst, " ack"...)
	}
	return dst
}

func appendSeq(dst []byte, seq int) []byte {
	dst = append(dst, " #"...)
	return strconv.AppendInt(dst, int64(seq), 10)
}

// appendFrom appends " client→" or " ←server": the arrow points the way
// the bytes went.
func appendFrom(dst []byte, from string) []byte {
	switch from {
	case "client":
		return append(dst, " client→"...)
	case "server":
		return append(dst, " ←server"...)
	}
	dst = append(dst, ' ')
	return appendWord(dst, from)
}

var opcodeNames = [...]string{0: "continuation", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong"}

// appendOpcode names a frame opcode (RFC 6455 section 5.2) as decode.OpName
// does, or writes a reserved one as 0xN.
func appendOpcode(dst []byte, op uint8) []byte {
	if int(op) < len(opcodeNames) && opcodeNames[op] != "" {
		return append(dst, opcodeNames[op]...)
	}
	dst = append(dst, "0x"...)
	return strconv.AppendUint(dst, uint64(op), 16)
}

// appendWord appends s as it is when it is one plain token, else quoted:
// empty, or holding a space, a quote, a control character or invalid UTF-8.
func appendWord(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, `""`...)
	}
	for _, r := range s {
		if r <= ' ' || r == '"' || r == 0x7f || r == utf8.RuneError || isLineBreaking(r) {
			return strconv.AppendQuote(dst, s)
		}
	}
	return append(dst, s...)
}

// appendLine appends free text with control characters, line separators and
// invalid UTF-8 escaped Go-style, so that it stays on one line.
func appendLine(dst []byte, s string) []byte {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				dst = append(dst, `\x`...)
				dst = append(dst, hexDigits[s[i]>>4], hexDigits[s[i]&0xf])
				continue
			}
			dst = utf8.AppendRune(dst, r)
		case r < ' ' || r == 0x7f || isLineBreaking(r):
			var tmp [16]byte
			q := strconv.AppendQuoteRune(tmp[:0], r)
			dst = append(dst, q[1:len(q)-1]...)
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}

// isLineBreaking reports C1 controls and the Unicode line and paragraph
// separators, which some terminals render as a line break.
func isLineBreaking(r rune) bool {
	return (r >= 0x80 && r <= 0x9f) || r == 0x2028 || r == 0x2029
}

// appendQuotedPreview appends valid UTF-8 text p quoted as strconv.Quote
// would, cut after textPreviewRunes characters. It does not allocate.
func appendQuotedPreview(dst []byte, p []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < textPreviewRunes && len(p) > 0; i++ {
		r, size := utf8.DecodeRune(p)
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case strconv.IsPrint(r) && (r != utf8.RuneError || size > 1):
			dst = append(dst, p[:size]...)
		default:
			var tmp [16]byte
			q := strconv.AppendQuoteRune(tmp[:0], r)
			dst = append(dst, q[1:len(q)-1]...)
		}
		p = p[size:]
	}
	dst = append(dst, '"')
	if len(p) > 0 {
		dst = append(dst, "…"...)
	}
	return dst
}

// appendHexPreview appends up to hexPreviewBytes of p in hex.
func appendHexPreview(dst []byte, p []byte) []byte {
	n := min(len(p), hexPreviewBytes)
	for _, c := range p[:n] {
		dst = append(dst, hexDigits[c>>4], hexDigits[c&0xf])
	}
	if n < len(p) {
		dst = append(dst, "…"...)
	}
	return dst
}
