package contentview

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// stompCommands are the frames of STOMP 1.2 ("Client Frames" and "Server
// Frames"); STOMP 1.0 and 1.1 use a subset.
var stompCommands = map[string]bool{
	"CONNECT": true, "STOMP": true, "SEND": true, "SUBSCRIBE": true, "UNSUBSCRIBE": true,
	"ACK": true, "NACK": true, "BEGIN": true, "COMMIT": true, "ABORT": true, "DISCONNECT": true,
	"CONNECTED": true, "MESSAGE": true, "RECEIPT": true, "ERROR": true,
}

// stompKeyHeaders are the headers a summary names, in order.
var stompKeyHeaders = []string{"destination", "subscription", "id", "message-id", "receipt", "receipt-id", "transaction", "message", "accept-version", "version", "host"}

// viewMaxFrames bounds the frames or packets of one message a view lists.
const viewMaxFrames = 32

// STOMP reads a WebSocket message as STOMP frames (STOMP 1.2, "Augmented
// BNF"): a command line, header lines, an empty line, a body ended by a
// NUL (or of content-length bytes, then a NUL), each line ended by LF or
// CRLF. A message may hold several frames, and an EOL alone is a
// heart-beat. version is "1.0", "1.1" or "1.2" (as the subprotocol
// v10.stomp, v11.stomp or v12.stomp says; "" is 1.2): from 1.1 on,
// header values other than a CONNECT's or CONNECTED's are escaped.
func STOMP(payload []byte, version string) View {
	v := View{Protocol: "stomp"}
	p := payload
	var summaries []string
	beats, frames := 0, 0
	for len(p) > 0 && v.Err == "" {
		// "heart-beating": an EOL between frames.
		if p[0] == '\n' {
			beats++
			p = p[1:]
			continue
		}
		if len(p) > 1 && p[0] == '\r' && p[1] == '\n' {
			beats++
			p = p[2:]
			continue
		}
		frames++
		if frames > viewMaxFrames {
			v.add("frames", fmt.Sprintf("more than %d: the rest not shown", viewMaxFrames))
			break
		}
		if frames > 1 {
			v.add("frame", strconv.Itoa(frames))
		}
		var sum string
		sum, p = stompFrame(&v, p, version)
		summaries = append(summaries, sum)
	}
	switch {
	case frames == 0 && v.Err == "":
		v.Summary = fmt.Sprintf("heart-beat ×%d", beats)
		if beats == 0 {
			v.Err = "empty message"
		}
	case len(summaries) > 0:
		v.Summary = summaries[0]
		if frames > 1 {
			v.Summary += fmt.Sprintf(" (+%d frames)", frames-1)
		}
	}
	if frames > 1 {
		v.Body = nil // the bodies of several frames are in the fields
	}
	return v
}

// stompLine cuts a line ended by LF or CRLF off p.
func stompLine(p []byte) (line, rest []byte, ok bool) {
	k := bytes.IndexByte(p, '\n')
	if k < 0 {
		return p, nil, false
	}
	line = p[:k]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, p[k+1:], true
}

// stompFrame reads one frame off p into v, and returns its summary and
// what follows it.
func stompFrame(v *View, p []byte, version string) (summary string, rest []byte) {
	line, p, ok := stompLine(p)
	cmd := string(line)
	v.add("command", clip(line))
	summary = clip(line)
	switch {
	case !ok:
		v.Err = "a command line without its EOL"
		return summary, nil
	case !stompCommands[cmd]:
		v.Err = fmt.Sprintf("unknown command %q", clip(line))
	}
	escaped := version != "1.0" && cmd != "CONNECT" && cmd != "CONNECTED"
	seen := map[string]string{}
	contentLength := -1
	for {
		line, p, ok = stompLine(p)
		if !ok {
			v.setErr("headers without the empty line that ends them")
			return summary, nil
		}
		if len(line) == 0 {
			break
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found {
			v.setErr(fmt.Sprintf("header line %q without a colon", clip(line)))
			continue
		}
		n, val := string(name), string(value)
		if escaped {
			var err string
			n, err = stompUnescape(n, version)
			v.setErr(err)
			val, err = stompUnescape(val, version)
			v.setErr(err)
		}
		if !utf8.ValidString(n) || !utf8.ValidString(val) {
			v.setErr("a header that is not UTF-8")
		}
		v.add(clip([]byte(n)), clip([]byte(val)))
		if _, dup := seen[n]; dup {
			// STOMP 1.2, "Repeated Header Entries": "only the first
			// header entry SHOULD be used as the value of header entry".
			continue
		}
		seen[n] = val
		if n == "content-length" {
			cl, err := strconv.Atoi(val)
			if err != nil || cl < 0 {
				v.setErr(fmt.Sprintf("content-length %q is not a length", clip([]byte(val))))
				continue
			}
			contentLength = cl
		}
	}
	for _, h := range stompKeyHeaders {
		if val, ok := seen[h]; ok {
			summary += " " + h + "=" + clip([]byte(val))
		}
	}
	var body []byte
	if contentLength >= 0 {
		if contentLength >= len(p) || p[contentLength] != 0 {
			v.setErr(fmt.Sprintf("content-length %d, but no NUL after that many body bytes (%d bytes left)", contentLength, len(p)))
			body, p = p, nil
		} else {
			body, p = p[:contentLength], p[contentLength+1:]
		}
	} else if k := bytes.IndexByte(p, 0); k >= 0 {
		body, p = p[:k], p[k+1:]
	} else {
		v.setErr("a frame without the NUL that ends it")
		body, p = p, nil
	}
	if len(body) > 0 {
		v.add("body", clip(body))
		v.Body = body
		summary += fmt.Sprintf(" (%d bytes)", len(body))
	}
	// "the NULL octet can be optionally followed by multiple EOLs"
	for len(p) > 0 && (p[0] == '\n' || p[0] == '\r' && len(p) > 1 && p[1] == '\n') {
		if p[0] == '\r' {
			p = p[1:]
		}
		p = p[1:]
	}
	return summary, p
}

// stompUnescape undoes the escapes of a header (STOMP 1.2, "Value
// Encoding"): \r (1.2 only), \n, \c and \\; any other is "a fatal protocol
// error".
func stompUnescape(s, version string) (string, string) {
	if !strings.Contains(s, `\`) {
		return s, ""
	}
	var b strings.Builder
	bad := ""
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch {
		case i < len(s) && s[i] == 'n':
			b.WriteByte('\n')
		case i < len(s) && s[i] == 'c':
			b.WriteByte(':')
		case i < len(s) && s[i] == '\\':
			b.WriteByte('\\')
		case i < len(s) && s[i] == 'r' && version != "1.1":
			b.WriteByte('\r')
		default:
			if bad == "" {
				bad = fmt.Sprintf("undefined escape in header %q", clip([]byte(s)))
			}
			b.WriteByte('\\')
			i--
		}
	}
	return b.String(), bad
}

// setErr keeps the first reason a message does not parse.
func (v *View) setErr(err string) {
	if v.Err == "" {
		v.Err = err
	}
}
