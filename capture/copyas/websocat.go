package copyas

import (
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/frametap/frametap/capture"
)

// WebSocket is a WebSocket connection rendered for websocat
// (https://github.com/vi/websocat): the command line that opens the same
// handshake, and the messages the client sent after it.
type WebSocket struct {
	// Command opens the connection: websocat with the handshake's
	// headers (-H), its subprotocols (--protocol) and the URL.
	Command string
	// Messages are the client's messages, in order.
	Messages []Message
	// Notes say what the command does not reproduce (compression, control
	// frames websocat sends on its own).
	Notes []string
}

// Message is one message the client sent.
type Message struct {
	Op      string // text, binary, ping, pong, close
	Payload []byte // text and binary: the payload (inflated); ping, pong: theirs
	Code    int    // close
	Reason  string // close
}

// WebSocat renders the WebSocket connection of evs (the events of one
// connection, in capture order): the request that upgraded, and the client
// messages after it. Headers websocat makes itself (Host when it is the
// URL's, Upgrade, Connection, Sec-WebSocket-Key, -Version, -Extensions)
// are left out; Sec-WebSocket-Protocol becomes --protocol.
func WebSocat(evs []*capture.Event) (*WebSocket, error) {
	var req *capture.Event
	upgraded := map[int]bool{}
	for _, ev := range evs {
		if ev.Kind == capture.KindUpgrade && strings.EqualFold(ev.Protocol, "websocket") {
			upgraded[ev.Seq] = true
		}
	}
	for _, ev := range evs {
		if ev.Kind == capture.KindRequest && upgraded[ev.Seq] {
			req = ev
		}
	}
	if req == nil {
		return nil, ErrNoWebSocket
	}
	url, authority := requestURL(req, "ws", "wss")
	if s, ok := strings.CutPrefix(url, "http://"); ok {
		url = "ws://" + s
	} else if s, ok := strings.CutPrefix(url, "https://"); ok {
		url = "wss://" + s
	}
	out := &WebSocket{}
	args := []string{"websocat"}
	for _, h := range req.Headers {
		switch name := strings.ToLower(h[0]); {
		case name == "host" && h[1] == authority,
			name == "upgrade", name == "connection", name == "content-length",
			name == "sec-websocket-key", name == "sec-websocket-version",
			strings.HasPrefix(name, "proxy-"):
		case name == "sec-websocket-extensions":
			out.Notes = append(out.Notes, "websocat does not offer "+h[1]+": its messages go uncompressed")
		case name == "sec-websocket-protocol":
			args = append(args, "--protocol", shellQuote(h[1]))
		default:
			args = append(args, "-H", shellQuote(h[0]+": "+h[1]))
		}
	}
	for _, ev := range evs {
		if ev.Kind != capture.KindMessage || ev.From != "client" || ev.Time.Before(req.Time) {
			continue
		}
		if ev.Truncated {
			return nil, fmt.Errorf("%w: a %s message of %d bytes", ErrTruncated, ev.Op, ev.Len)
		}
		out.Messages = append(out.Messages, Message{Op: ev.Op, Payload: ev.Payload, Code: ev.Code, Reason: ev.Reason})
	}
	args = append(args, shellQuote(url))
	out.Command = strings.Join(args, " ")
	return out, nil
}

// String renders the command and the messages as a shell snippet. When
// every data message is one line of text, the messages are piped into
// websocat, one per line (websocat sends each line as a text message);
// otherwise the command comes alone and the messages follow as comments
// (binary ones in base64), to send by hand. Control messages are listed
// as comments: websocat sends its own pings and close.
func (w *WebSocket) String() string {
	var b strings.Builder
	for _, n := range w.Notes {
		b.WriteString("# " + n + "\n")
	}
	var lines []string
	piped := true
	for _, m := range w.Messages {
		switch {
		case m.Op == "text" && plainText(m.Payload) && !strings.ContainsAny(string(m.Payload), "\r\n"):
			lines = append(lines, shellQuote(string(m.Payload)))
		case m.Op == "text" || m.Op == "binary":
			piped = false
		}
	}
	if piped && len(lines) > 0 {
		b.WriteString("printf '%s\\n' " + strings.Join(lines, " ") + " | " + w.Command + "\n")
	} else {
		b.WriteString(w.Command + "\n")
	}
	for _, m := range w.Messages {
		switch m.Op {
		case "text":
			if !piped {
				fmt.Fprintf(&b, "# text: %q\n", m.Payload)
			}
		case "binary":
			fmt.Fprintf(&b, "# binary (base64): %s\n", base64.StdEncoding.EncodeToString(m.Payload))
		case "close":
			fmt.Fprintf(&b, "# then the client closed: code %d %q\n", m.Code, m.Reason)
		default:
			fmt.Fprintf(&b, "# %s %q\n", m.Op, m.Payload)
		}
	}
	return b.String()
}
