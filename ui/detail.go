package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/rivo/tview"
)

// exchangeDetail renders an exchange for the detail pane: what it was in
// one line, its timings as a waterfall, then its request and its response
// stacked, headers and bodies (decoded), or what arrived so far of a
// response still streaming.
func (u *UI) exchangeDetail(c *conn, x *exchange) string {
	var sb strings.Builder
	var req, resp *capture.Event
	if x.req >= 0 {
		req = u.store.At(x.req)
	}
	if x.resp >= 0 {
		resp = u.store.At(x.resp)
	}
	lv := x.live
	if resp != nil {
		lv = nil
	}
	path := originForm(x.target, c.host)
	if x.method == "CONNECT" {
		path = x.target
	}
	fmt.Fprintf(&sb, "[green::b]→ %s %s[-::-]", tview.Escape(x.method), tview.Escape(path))
	switch {
	case resp != nil:
		fmt.Fprintf(&sb, "  [aqua::b]← %d %s[-::-]", resp.Status, tview.Escape(resp.StatusText))
	case lv != nil && lv.resp != nil:
		fmt.Fprintf(&sb, "  [yellow::b]← %d %s, receiving[-::-]", lv.resp.Status, tview.Escape(lv.resp.StatusText))
	default:
		sb.WriteString("  [yellow]waiting for the response[-]")
	}
	sb.WriteByte('\n')
	fmt.Fprintf(&sb, "[gray]exchange %d of conn #%d", x.seq, c.id)
	switch {
	case x.stream != 0:
		fmt.Fprintf(&sb, " on HTTP/2 stream %d", x.stream)
	case x.seq > 1:
		sb.WriteString(" (keep-alive: the connection was reused)")
	}
	if !x.start.IsZero() {
		fmt.Fprintf(&sb, ", started %s after the connection opened", rel(x.start, c.opened))
	}
	sb.WriteString("[-]\n")
	if x.own {
		sb.WriteString("[yellow]frametap answered this itself: the server did not send these bytes[-]\n")
	}
	sb.WriteByte('\n')

	switch {
	case resp != nil:
		if ps := phasesOf(resp); ps != nil {
			writeWaterfall(&sb, ps, resp.Connect <= 0 && x.seq > 1, u.detailWidth())
			if hs := u.clientHandshake(c); hs > 0 && resp.Connect > 0 {
				fmt.Fprintf(&sb, "  [gray]and, before, the client's TLS handshake with frametap: %s (the connect and TLS above happened within it)[-]\n", duration(hs))
			}
			sb.WriteByte('\n')
		}
	case lv != nil && lv.resp != nil:
		elapsed := u.clock().Sub(x.start)
		fmt.Fprintf(&sb, "[::b]receiving[::-] %s of the body so far", size(lv.respBody))
		if r := lv.rate(); r > 0 {
			fmt.Fprintf(&sb, ", %s/s", size(int64(r)))
		}
		if !x.start.IsZero() && elapsed >= 0 {
			fmt.Fprintf(&sb, ", %s since the request", duration(elapsed))
		}
		if !lv.first.IsZero() && lv.resp != nil {
			fmt.Fprintf(&sb, "\n[gray]time to first byte: %s[-]", duration(lv.resp.Time.Sub(x.start)))
		}
		sb.WriteString("\n\n")
	}

	sb.WriteString("[::b]request[::-]\n")
	switch {
	case req != nil:
		fmt.Fprintf(&sb, "%s %s %s\n", tview.Escape(req.Method), tview.Escape(req.Target), tview.Escape(req.Proto))
		writeHeaders(&sb, req.Headers)
		writeBody(&sb, req, u.bodyMode)
	case lv != nil && lv.req != nil:
		fmt.Fprintf(&sb, "%s %s %s\n", tview.Escape(lv.req.Method), tview.Escape(lv.req.Target), tview.Escape(lv.req.Proto))
		writeHeaders(&sb, lv.req.Headers)
		if lv.reqBody > 0 {
			fmt.Fprintf(&sb, "[yellow]sending: %s of the body so far[-]\n", size(lv.reqBody))
		}
	case x.req >= 0:
		sb.WriteString("[gray](" + u.droppedWhere() + ")[-]\n")
	default:
		sb.WriteString("[gray](none: no request was outstanding)[-]\n")
	}

	sb.WriteString("\n[::b]response[::-]\n")
	switch {
	case resp != nil:
		fmt.Fprintf(&sb, "%s %d %s\n", tview.Escape(resp.Proto), resp.Status, tview.Escape(resp.StatusText))
		writeHeaders(&sb, resp.Headers)
		writeBody(&sb, resp, u.bodyMode)
		if len(resp.Trailers) > 0 {
			sb.WriteString("[gray]trailers:[-]\n")
			writeHeaders(&sb, resp.Trailers)
		}
	case lv != nil && lv.resp != nil:
		fmt.Fprintf(&sb, "%s %d %s\n", tview.Escape(lv.resp.Proto), lv.resp.Status, tview.Escape(lv.resp.StatusText))
		writeHeaders(&sb, lv.resp.Headers)
		fmt.Fprintf(&sb, "[yellow]body in progress: %s so far; shown when it is complete[-]\n", size(lv.respBody))
	case x.resp >= 0:
		sb.WriteString("[gray](" + u.droppedWhere() + ")[-]\n")
	default:
		sb.WriteString("[gray](not yet)[-]\n")
	}
	return sb.String()
}

// detailWidth is the width of the detail pane's text, as the layout gives
// it for the screen at the last draw.
func (u *UI) detailWidth() int {
	switch {
	case u.width == 0:
		return 78
	case u.width < narrowWidth:
		return u.width - 2
	}
	return detailWidth(u.width) - 2
}

// clientHandshake returns how long the client's TLS handshake with
// frametap took on c (0 when none was recorded).
func (u *UI) clientHandshake(c *conn) time.Duration {
	for _, i := range c.rows[:min(len(c.rows), 8)] {
		if ev := u.store.At(i); ev != nil && ev.Kind == capture.KindTLS && ev.Side == "client" {
			return ev.Handshake
		}
	}
	return 0
}
