package ui

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/frametap/frametap/capture"
	"github.com/rivo/tview"
)

// size formats a byte count as people read it: 42 B, 1.2 KiB, 3.4 MiB.
func size(n int64) string {
	switch {
	case n < 1024:
		return strconv.FormatInt(n, 10) + " B"
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// count formats a number of messages to fit a narrow column:
// 9999, 14.8k, 148k, 1.5M, 148M, 2.1G. A unit holds one decimal below 99.95
// of it and none up to 999.5 (never "100.0k" or "1000k").
func count(n int) string {
	if n < 10_000 {
		return strconv.Itoa(n)
	}
	v := float64(n)
	for _, unit := range []string{"k", "M", "G"} {
		v /= 1000
		if v < 99.95 {
			return strconv.FormatFloat(v, 'f', 1, 64) + unit
		}
		if v < 999.5 || unit == "G" {
			return strconv.FormatFloat(v, 'f', 0, 64) + unit
		}
	}
	panic("unreachable")
}

// age formats a duration in one short unit, as k9s does: 42s, 5m, 3h, 2d.
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d"
}

// rel formats the time of an event relative to its connection's start.
func rel(t, start time.Time) string {
	d := t.Sub(start)
	if d < 0 {
		d = 0
	}
	return fmt.Sprintf("+%.3fs", d.Seconds())
}

// arrow is the direction of an event: → client to server, ← server to
// client, · frametap's own (open, upgrade, close). A tls event points from
// the side whose handshake it records: → the client's, ← the server's.
func arrow(ev *capture.Event) string {
	switch {
	case ev.Kind == capture.KindRequest || ev.From == "client" || ev.Kind == capture.KindTLS && ev.Side == "client":
		return "→"
	case ev.Kind == capture.KindResponse || ev.From == "server" || ev.Kind == capture.KindTLS && ev.Side == "server":
		return "←"
	}
	return "·"
}

// tlsParts describes a tls event in two parts, the timeline's WHAT and
// PREVIEW: "TLS client: SNI x" and "TLS 1.3, http/1.1, cipher", or
// "TLS server: CN=x" and "issuer CN=y, verified" (or NOT VERIFIED).
func tlsParts(ev *capture.Event) (head, rest string) {
	or := func(s, none string) string {
		if s == "" {
			return none
		}
		return s
	}
	params := or(ev.Version, "TLS ?") + ", " + or(ev.ALPN, "no ALPN") + ", " + or(ev.Cipher, "cipher ?")
	if ev.Side != "server" {
		return "TLS client: SNI " + or(ev.SNI, "(none)"), params
	}
	v := "verified"
	if !ev.Verified {
		v = "NOT VERIFIED"
	}
	return "TLS server: " + or(ev.Subject, "(no subject)"), "issuer " + or(ev.Issuer, "(none)") + ", " + v + ", " + params
}

// unverified reports whether ev is the tls event of an upstream certificate
// that was not verified (-k).
func unverified(ev *capture.Event) bool {
	return ev.Kind == capture.KindTLS && ev.Side == "server" && !ev.Verified
}

// what says what an event is, in the timeline's words: GET /path,
// 200 OK 1.2 KiB, TEXT 42 B, CLOSE 1000 "bye".
func what(ev *capture.Event) string {
	if ev.Conn == 0 {
		return globalWhat(ev) // global.go
	}
	if ev.Kind == capture.KindH2Frame {
		return h2FrameWhat(ev) // h2frames.go
	}
	switch ev.Kind {
	case capture.KindOpen:
		s := "OPEN from " + ev.Client
		if ev.Server != "" {
			s += " to " + ev.Server
		}
		return s
	case capture.KindRequest:
		s := ev.Method + " " + ev.Target
		if ev.BodyLen > 0 {
			s += " " + size(ev.BodyLen)
		}
		return s
	case capture.KindResponse:
		s := strconv.Itoa(ev.Status) + " " + ev.StatusText
		if ev.Status != 101 || ev.BodyLen > 0 {
			s += " " + size(ev.BodyLen)
		}
		return s
	case capture.KindUpgrade:
		s := "UPGRADE " + ev.Protocol
		if ev.Extensions != "" {
			s += " (" + ev.Extensions + ")"
		}
		return s
	case capture.KindFrame:
		if ev.Injected {
			return fmt.Sprintf("FRAME %s %d B injected", opName(ev.Opcode), ev.Len)
		}
		return fmt.Sprintf("FRAME %s %d B", opName(ev.Opcode), ev.Len)
	case capture.KindMessage:
		var s string
		switch ev.Op {
		case "text":
			s = "TEXT " + size(ev.Len)
		case "binary":
			s = "BIN " + size(ev.Len)
		case "close":
			s = "CLOSE"
			if ev.Code != 0 {
				s += " " + strconv.Itoa(ev.Code)
			}
			if ev.Reason != "" {
				s += " " + strconv.Quote(ev.Reason)
			}
		default:
			s = strings.ToUpper(ev.Op)
		}
		if ev.Frames > 1 {
			s += fmt.Sprintf(" ×%d frames", ev.Frames)
		}
		if ev.Compressed {
			s += " deflate"
		}
		if ev.Injected {
			s += " injected" // frametap wrote it (the i key)
		}
		return s
	case capture.KindEIO: // issue 10, Socket.IO (eio.go)
		return eioWhat(ev)
	case capture.KindError:
		return "ERROR " + ev.Msg
	case capture.KindTLS:
		head, rest := tlsParts(ev)
		return head + ", " + rest
	case capture.KindClose:
		s := "CLOSED ↑" + size(ev.BytesFromClient) + " ↓" + size(ev.BytesFromServer)
		if ev.Err != "" {
			s += " " + ev.Err
		}
		return s
	}
	return string(ev.Kind)
}

// opName names a frame opcode (RFC 6455 section 5.2).
func opName(op uint8) string {
	switch op {
	case 0:
		return "cont"
	case 1:
		return "text"
	case 2:
		return "binary"
	case 8:
		return "close"
	case 9:
		return "ping"
	case 10:
		return "pong"
	}
	return "op" + strconv.Itoa(int(op))
}

// preview is a one-line glimpse of an event's content.
func preview(ev *capture.Event) string {
	var b []byte
	switch ev.Kind {
	case capture.KindRequest, capture.KindResponse:
		b = ev.Body
	case capture.KindMessage:
		if ev.Op == "close" {
			return ""
		}
		b = ev.Payload
	case capture.KindUpgrade:
		if ev.AcceptOK {
			return "accept ok"
		}
		return "accept MISMATCH"
	case capture.KindTLS:
		_, rest := tlsParts(ev)
		return rest
	case capture.KindEIO: // issue 10, Socket.IO (eio.go)
		return eioPreview(ev)
	default:
		return ""
	}
	return glimpse(b, 80)
}

// glimpse shows up to n characters of b on one line: text with control
// characters escaped, or the first bytes in hex.
func glimpse(b []byte, n int) string {
	if len(b) == 0 {
		return ""
	}
	if utf8.Valid(b) {
		var sb strings.Builder
		for i, r := range string(b) {
			if i >= 4*n || sb.Len() >= n {
				sb.WriteString("…")
				break
			}
			switch {
			case r == '\n':
				sb.WriteString(`\n`)
			case r == '\r':
				sb.WriteString(`\r`)
			case r == '\t':
				sb.WriteString(" ")
			case !unicode.IsPrint(r):
				fmt.Fprintf(&sb, `\x%02x`, r)
			default:
				sb.WriteRune(r)
			}
		}
		return sb.String()
	}
	k := min(len(b), n/3)
	s := hex.EncodeToString(b[:k])
	var sb strings.Builder
	for i := 0; i < len(s); i += 2 {
		if i > 0 {
			sb.WriteByte(' ')
		}
		sb.WriteString(s[i : i+2])
	}
	if k < len(b) {
		sb.WriteString(" …")
	}
	return sb.String()
}

// hexLimit bounds the hex dump shown in the detail pane.
const hexLimit = 16 << 10

// printable reports whether text is made of printable characters and
// ordinary whitespace.
func printable(b []byte) bool {
	for _, r := range string(b) {
		if !unicode.IsPrint(r) && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
}

// detail renders an event for the detail pane. frames are the frame events
// a message was made of; pair is a response's request or a request's
// response, when known; start is the connection's start; mode how bodies
// are shown (the v key); view is a message's subprotocol reading, shown
// above its payload.
func detail(ev *capture.Event, frames []*capture.Event, pair *capture.Event, start time.Time, mode int, view string) string {
	if ev.Conn == 0 {
		return globalDetail(ev) // global.go
	}
	var sb strings.Builder
	col := "white"
	switch {
	case ev.Kind == capture.KindError || unverified(ev):
		col = "red"
	case arrow(ev) == "→":
		col = "green"
	case arrow(ev) == "←":
		col = "aqua"
	}
	fmt.Fprintf(&sb, "[%s::b]%s %s[-::-]\n", col, arrow(ev), tview.Escape(what(ev)))
	fmt.Fprintf(&sb, "[gray]%s  %s after the connection opened  conn #%d[-]\n",
		ev.Time.Local().Format("15:04:05.000000"), rel(ev.Time, start), ev.Conn)
	switch ev.Kind {
	case capture.KindRequest, capture.KindResponse:
		if pair != nil {
			if ev.Kind == capture.KindResponse {
				fmt.Fprintf(&sb, "[gray]answered %s after the request[-]\n", pair.Time.Sub(ev.Time).Abs().Round(time.Microsecond))
			} else {
				fmt.Fprintf(&sb, "[gray]answered in %s[-]\n", pair.Time.Sub(ev.Time).Abs().Round(time.Microsecond))
			}
		}
		sb.WriteByte('\n')
		if ev.Kind == capture.KindRequest {
			fmt.Fprintf(&sb, "[::b]%s %s %s[::-]\n", tview.Escape(ev.Method), tview.Escape(ev.Target), tview.Escape(ev.Proto))
		} else {
			fmt.Fprintf(&sb, "[::b]%s %d %s[::-]\n", tview.Escape(ev.Proto), ev.Status, tview.Escape(ev.StatusText))
		}
		writeHeaders(&sb, ev.Headers)
		sb.WriteByte('\n')
		writeBody(&sb, ev, mode)
		if len(ev.Trailers) > 0 {
			sb.WriteString("\n[gray]trailers:[-]\n")
			writeHeaders(&sb, ev.Trailers)
		}
	case capture.KindMessage:
		fmt.Fprintf(&sb, "\nfrom %s, %s, %s, %d %s on the wire (%s)",
			ev.From, ev.Op, size(ev.Len), ev.Frames, plural(ev.Frames, "frame", "frames"), size(ev.WireLen))
		if ev.Compressed {
			sb.WriteString(", compressed with permessage-deflate")
		}
		sb.WriteString("\n")
		if ev.Op == "close" {
			fmt.Fprintf(&sb, "code %d, reason %s\n", ev.Code, tview.Escape(strconv.Quote(ev.Reason)))
		}
		if len(frames) > 0 {
			sb.WriteString("\n[::b]frames[::-]\n[gray]  #  FIN RSV  OPCODE  MASK     LEN  TIME[-]\n")
			for i, f := range frames {
				fmt.Fprintf(&sb, "%3d  %-3s %d%d%d  %-6s  %-4s %7d  %s\n", i+1,
					yes(f.Fin), f.RSV>>2&1, f.RSV>>1&1, f.RSV&1, opName(f.Opcode), yes(f.Masked), f.Len, rel(f.Time, start))
			}
		}
		sb.WriteString(view) // the subprotocol's reading (subprotocol.go)
		if ev.Op != "close" {
			sb.WriteString("\n[::b]payload[::-]\n")
			sb.WriteString(content(ev.Payload, "", "", mode))
			if ev.Truncated || int64(len(ev.Payload)) < ev.Len {
				fmt.Fprintf(&sb, "[yellow]showing the first %s of %s; the capture file has the rest[-]\n", size(int64(len(ev.Payload))), size(ev.Len))
			}
		}
	case capture.KindUpgrade:
		fmt.Fprintf(&sb, "\nprotocol     %s\nsubprotocol  %s\nextensions   %s\naccept       %s\n",
			tview.Escape(ev.Protocol), tview.Escape(ev.Subprotocol), tview.Escape(ev.Extensions), map[bool]string{true: "ok (RFC 6455 §4.2.2)", false: "[red]does not match the key[-]"}[ev.AcceptOK])
	case capture.KindOpen:
		fmt.Fprintf(&sb, "\nclient  %s\nserver  %s\nmode    %s\n", ev.Client, ev.Server, ev.Mode)
	case capture.KindClose:
		fmt.Fprintf(&sb, "\nbytes from client  %d\nbytes from server  %d\n", ev.BytesFromClient, ev.BytesFromServer)
		if ev.WebSocket {
			fmt.Fprintf(&sb, "WebSocket closed by %q, clean: %v\n", ev.WSClosedBy, ev.WSCloseClean)
		}
		if ev.Err != "" {
			fmt.Fprintf(&sb, "[red]%s[-]\n", tview.Escape(ev.Err))
		}
	case capture.KindEIO: // issue 10, Socket.IO (eio.go)
		writeEIODetail(&sb, ev)
	case capture.KindError:
		fmt.Fprintf(&sb, "\n[red]%s[-]\n", tview.Escape(ev.Msg))
		if w := errorWhere(ev); w != "" {
			sb.WriteString(w + "\n")
		}
	case capture.KindTLS:
		writeTLS(&sb, ev)
	case capture.KindFrame:
		fmt.Fprintf(&sb, "FIN %v RSV %d opcode %d masked %v len %d\n", ev.Fin, ev.RSV, ev.Opcode, ev.Masked, ev.Len)
	case capture.KindH2Frame:
		writeH2Frame(&sb, ev) // h2frames.go
	}
	return sb.String()
}

// errorWhere says where an error event arose. frametap records its own
// failures with a side too: a dial or a TLS handshake with the upstream
// ("server"), a TLS handshake the client refused ("client"); those are not
// in anybody's bytes. They are told apart by the proxy's wording.
func errorWhere(ev *capture.Event) string {
	m := strings.ToLower(ev.Msg)
	switch {
	case ev.From == "server" && strings.Contains(m, "upstream"):
		return "frametap could not connect to the server: the dial, the TLS handshake or the server's certificate failed (no bytes from the server were decoded)"
	case ev.From == "client" && (strings.Contains(m, "tls handshake with the client") || strings.Contains(m, "frametap's certificate")):
		return "in the TLS handshake between the client and frametap"
	case ev.From != "":
		return "in the bytes the " + ev.From + " sent"
	}
	return ""
}

// writeTLS lists every field of a tls event (docs/capture-format.md).
func writeTLS(sb *strings.Builder, ev *capture.Event) {
	side := "frametap was the client's server, with a certificate its CA signed"
	if ev.Side == "server" {
		side = "frametap dialed the upstream as a TLS client"
	}
	na := func(s string) string {
		if ev.Side != "server" {
			return "[gray](n/a: frametap's own certificate)[-]"
		}
		return tview.Escape(s)
	}
	verified := "[green]yes[-] (against the trusted roots)"
	switch {
	case ev.Side != "server":
		verified = na("")
	case !ev.Verified:
		verified = "[white:red]NOT VERIFIED[-:-] (-k / --ssl-insecure): anyone on the path could impersonate this server"
	}
	fmt.Fprintf(sb, "\nside      %s\nsni       %s\nalpn      %s\nversion   %s\ncipher    %s\nsubject   %s\nissuer    %s\nverified  %s\n",
		tview.Escape(ev.Side+" ("+side+")"), tview.Escape(quoteEmpty(ev.SNI)), tview.Escape(quoteEmpty(ev.ALPN)),
		tview.Escape(ev.Version), tview.Escape(ev.Cipher), na(ev.Subject), na(ev.Issuer), verified)
}

// quoteEmpty shows "" for an empty field, so that "none sent" is visible.
func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

func writeHeaders(sb *strings.Builder, hs []capture.Header) {
	for _, h := range hs {
		fmt.Fprintf(sb, "[yellow]%s[-]: %s\n", tview.Escape(h[0]), tview.Escape(h[1]))
	}
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
