package ui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// exchangesTable is the selected connection's exchanges view: one row per
// HTTP exchange (method, path, status, type, size, duration, with its
// keep-alive seq), one per WebSocket message and one per error. A response
// still streaming shows its status, the bytes so far and the rate.
type exchangesTable struct {
	tview.TableContentReadOnly
	u *UI
}

var exchangesHeader = []string{"TIME", "#", "METHOD", "PATH", "STATUS", "TYPE", "SIZE", "DURATION"}

// Columns of the exchanges view.
const (
	xcTime = iota
	xcSeq
	xcMethod
	xcPath
	xcStatus
	xcType
	xcSize
	xcDuration
)

// exchangesSpecs caps every column but PATH, which takes the rest: at 80
// columns a 30-character path shows whole.
func exchangesSpecs(int) []colSpec {
	return []colSpec{{min: 7, max: 9}, {min: 1, max: 4}, {min: 7, max: 7}, {min: 12, pref: 40, flex: true}, {min: 3, max: 7}, {min: 6, max: 14}, {min: 8, max: 16}, {min: 7, max: 18}}
}

func (t exchangesTable) GetRowCount() int    { return 1 + t.u.rowCount() }
func (t exchangesTable) GetColumnCount() int { return len(t.u.xcols()) }

func (t exchangesTable) GetCell(row, col int) *tview.TableCell {
	cols := t.u.xcols() // an HTTP/2 connection's has its streams' (h2view.go)
	if row < 0 || row > t.u.rowCount() || col < 0 || col >= len(cols) {
		return nil
	}
	tb, lc := t.u.timeline, cols[col]
	if row == 0 {
		return tb.sized(header(xHeader(lc)), col, lc == xcPath)
	}
	r, ok := t.u.xrowAt(row)
	if !ok {
		return nil
	}
	return tb.sized(cell(t.text(row, col), t.color(r, lc)), col, lc == xcPath)
}

// color is a cell's color: a request's method green, a status by its
// class, a message by its direction, an error red, what is in flight
// yellow.
func (t exchangesTable) color(r xrow, col int) tcell.Color {
	if r.ex == nil {
		ev := t.u.store.At(r.ev)
		if ev == nil {
			return tcell.ColorGray
		}
		if col == xcPath && ev.Kind != capture.KindError {
			return tcell.ColorSilver
		}
		return eventColor(ev)
	}
	x := r.ex
	switch col {
	case xcTime, xcSeq:
		return tcell.ColorGray
	case xcMethod:
		return tcell.ColorGreen
	case xcStatus:
		return statusColor(x)
	case xcSize, xcDuration:
		if x.resp < 0 {
			return tcell.ColorYellow
		}
	}
	return tcell.ColorWhite
}

func statusColor(x *exchange) tcell.Color {
	st := x.status
	if x.resp < 0 {
		if x.live == nil || x.live.resp == nil {
			return tcell.ColorYellow
		}
		st = x.live.resp.Status
	}
	switch {
	case st >= 500 || st == 0:
		return tcell.ColorRed
	case st >= 400:
		return tcell.ColorOrange
	case st >= 300:
		return tcell.ColorDarkCyan
	case st == 101:
		return tcell.ColorFuchsia
	}
	return tcell.ColorGreen
}

// xrowAt returns the row of the exchanges view on table row row (1-based).
func (u *UI) xrowAt(row int) (xrow, bool) {
	c := u.tlConn
	switch {
	case c == nil || row < 1 || row > u.rowCount():
		return xrow{}, false
	case u.xAll:
		return c.xrows[row-1], true
	case u.xView[row-1] >= len(c.xrows):
		return xrow{}, false
	}
	return c.xrows[u.xView[row-1]], true
}

// text is a cell's text.
func (t exchangesTable) text(row, col int) string {
	cols := t.u.xcols()
	if col < 0 || col >= len(cols) {
		return ""
	}
	col = cols[col]
	if row == 0 {
		return xHeader(col)
	}
	r, ok := t.u.xrowAt(row)
	if !ok {
		return ""
	}
	c := t.u.tlConn
	if r.ex == nil {
		ev := t.u.store.At(r.ev)
		if ev == nil {
			if col == xcPath {
				return "(" + t.u.droppedWhere() + ")"
			}
			return ""
		}
		return eventRowText(ev, c, col)
	}
	return exchangeText(r.ex, c, col, t.u.clock())
}

// eventRowText is a message's or an error's row.
func eventRowText(ev *capture.Event, c *conn, col int) string {
	if ev.Conn == 0 {
		return globalRowText(ev, c, col) // global.go
	}
	switch col {
	case xcStream:
		if ev.Stream != 0 {
			return strconv.FormatUint(uint64(ev.Stream), 10)
		}
	case xcTime:
		return rel(ev.Time, c.opened)
	case xcMethod:
		if ev.Kind == capture.KindError {
			return "ERROR"
		}
		return arrow(ev) + " " + strings.ToUpper(opShort(ev.Op))
	case xcPath:
		if ev.Kind == capture.KindError {
			return ev.Msg
		}
		mark := ""
		if ev.Injected {
			mark = "injected · " // frametap wrote it (the i key)
		}
		if ev.Op == "close" {
			return mark + strings.TrimPrefix(strings.TrimSuffix(what(ev), " injected"), "CLOSE ")
		}
		return mark + preview(ev)
	case xcType:
		if ev.Kind == capture.KindMessage {
			if ev.Compressed {
				return ev.Op + " deflate"
			}
			return ev.Op
		}
	case xcSize:
		if ev.Kind == capture.KindMessage {
			s := size(ev.Len)
			if ev.Frames > 1 {
				s += fmt.Sprintf(" ×%d", ev.Frames)
			}
			return s
		}
	}
	return ""
}

// opShort is a message op as the rows show it.
func opShort(op string) string {
	if op == "binary" {
		return "bin"
	}
	return op
}

// exchangeText is an exchange's row.
func exchangeText(x *exchange, c *conn, col int, now time.Time) string {
	var lv *liveView
	if x.resp < 0 {
		lv = x.live
	}
	switch col {
	case xcStream:
		return streamCell(x)
	case xcLanes:
		return x.lanes
	case xcTime:
		if x.start.IsZero() {
			return ""
		}
		return rel(x.start, c.opened)
	case xcSeq:
		if x.seq == 0 {
			return ""
		}
		return strconv.Itoa(x.seq)
	case xcMethod:
		if x.method == "" {
			return "?"
		}
		return x.method
	case xcPath:
		if x.method == "CONNECT" {
			return x.target
		}
		return originForm(x.target, c.host)
	case xcStatus:
		switch {
		case x.resp >= 0:
			return strconv.Itoa(x.status)
		case lv != nil && lv.resp != nil:
			return strconv.Itoa(lv.resp.Status) + "…"
		}
		return "…"
	case xcType:
		switch {
		case x.resp >= 0 && x.upgraded:
			return "upgrade"
		case x.resp >= 0 && x.method == "CONNECT" && x.status/100 == 2:
			return "tunnel"
		case x.resp >= 0:
			return shortType(x.ctype)
		case lv != nil && lv.resp != nil:
			return shortType(contentType(lv.resp.Headers))
		}
	case xcSize:
		switch {
		case x.resp >= 0 && x.codings != "":
			return size(x.bodyLen) + " " + x.codings
		case x.resp >= 0:
			return size(x.bodyLen)
		case lv != nil && lv.resp != nil:
			return size(lv.respBody) + "…"
		}
	case xcDuration:
		switch {
		case x.resp >= 0 && !x.start.IsZero():
			return duration(x.end.Sub(x.start))
		case lv != nil && !x.start.IsZero() && !now.Before(x.start):
			s := duration(now.Sub(x.start))
			if r := lv.rate(); r > 0 {
				s += " " + size(int64(r)) + "/s"
			}
			return s
		}
	}
	return ""
}

// duration formats a time span as a network panel does: 0.31 ms, 45 ms,
// 2.31 s, 1m05s.
func duration(d time.Duration) string {
	switch {
	case d < 0:
		return ""
	case d == 0:
		return "0 ms"
	case d < time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return d.Round(time.Second).String()
}
