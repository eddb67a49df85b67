package ui

import (
	"fmt"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// guardSelection keeps tview's Table from searching forever for a row to
// select. To move a selection, tview's Table (v0.42.0, InputHandler) steps
// cell by cell, wrapping at the table's ends, until it finds a selectable
// cell or comes back to the cell it started from. Our header row is not
// selectable, so on a table with no rows it finds nothing; and it starts
// outside the table, on row 1 (where the dashboard parks the selection of
// an empty view, and where tview's Draw moves a selection that sits on
// unselectable rows): it never comes back to it, and the UI goroutine
// spins for good, the screen frozen and every key lost, q included.
//
// The guard is the table's input capture, which sees every key before the
// table does: with no row to select it takes the key (there is nothing to
// move), otherwise it first puts a selection that lies outside the rows
// back on the nearest row. A click outside the rows (the header, the empty
// space below them) selects nothing, instead of a row that does not exist.
func (u *UI) guardSelection(t *tview.Table) {
	t.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
		n := t.GetRowCount() - 1 // the rows below the header
		if n < 1 {
			return nil
		}
		if r, c := t.GetSelection(); r < 1 || r > n || c != 0 {
			u.selecting = true
			t.Select(min(max(r, 1), n), 0)
			u.selecting = false
		}
		return ev
	})
	t.SetMouseCapture(func(action tview.MouseAction, ev *tcell.EventMouse) (tview.MouseAction, *tcell.EventMouse) {
		if action == tview.MouseLeftClick {
			if r, _ := t.CellAt(ev.Position()); r < 1 {
				return tview.MouseConsumed, nil
			}
		}
		return action, ev
	})
}

// connTable is the connections table, read from the model on each draw.
type connTable struct {
	tview.TableContentReadOnly
	u *UI
}

var connHeader = []string{"ID", "CLIENT", "HOST", "SCHEME", "STATE", "REQ", "MSG ↑↓", "BYTES ↑↓", "AGE", "PROTO"}

// connOrder is the order of connHeader's columns on screen: PROTO (the
// last added, h2.go) next to SCHEME.
var connOrder = []int{0, 1, 2, 3, 9, 4, 5, 6, 7, 8}

// connSpecs caps the connection table's columns; HOST takes the rest.
func connSpecs(int) []colSpec {
	specs := make([]colSpec, len(connOrder))
	for i, col := range connOrder {
		specs[i] = connSpecsBy[col]
	}
	return specs
}

// connSpecsBy are the caps of connHeader's columns, in its order.
var connSpecsBy = []colSpec{{min: 2, max: 7}, {min: 6, max: 22}, {min: 10, pref: 24, max: 48, flex: true}, {min: 4, max: 6}, {min: 9, max: 10}, {min: 3, max: 5}, {min: 5, max: 14}, {min: 18, max: 24}, {min: 3, max: 4}, {min: 5, max: 9}}

func (t connTable) GetRowCount() int    { return 1 + len(t.u.connView) }
func (t connTable) GetColumnCount() int { return len(connHeader) }

func (t connTable) GetCell(row, col int) *tview.TableCell {
	if row < 0 || row > len(t.u.connView) || col < 0 || col >= len(connHeader) {
		return nil
	}
	lc := connOrder[col]
	if row == 0 {
		return t.u.conns.sized(header(connHeader[lc]), col, false)
	}
	c := t.u.connView[row-1]
	text := connCell(c, lc, t.u.clock())
	if w := t.u.conns.width(col); lc == 9 && w > 0 && tview.TaggedStringWidth(text) > w {
		text = c.proto() // without "≤N" rather than cut (h2.go)
	}
	return t.u.conns.sized(cell(text, stateColor(c, lc)), col, false)
}

// text is a cell's text, for fitting the columns.
func (t connTable) text(row, col int) string {
	if col < 0 || col >= len(connOrder) {
		return ""
	}
	col = connOrder[col]
	if row == 0 {
		return connHeader[col]
	}
	if row > len(t.u.connView) {
		return ""
	}
	return connCell(t.u.connView[row-1], col, t.u.clock())
}

// connCell is the text of one cell of a connection's row.
func connCell(c *conn, col int, now time.Time) string {
	switch col {
	case 0:
		return fmt.Sprintf("#%d", c.id)
	case 1:
		return c.client
	case 2:
		return c.host
	case 3:
		return c.scheme
	case 4:
		return c.shownState()
	case 5:
		return fmt.Sprint(c.requests)
	case 6:
		return count(c.msgsUp+c.ctrlUp) + "↑ " + count(c.msgsDown+c.ctrlDown) + "↓"
	case 7:
		up, down := c.bytesUp, c.bytesDown
		if !c.exact && c.hasLive {
			up, down = c.liveBytes[0], c.liveBytes[1]
		}
		s := size(up) + "↑ " + size(down) + "↓"
		if !c.exact && !c.hasLive {
			s = "~" + s // estimated from the events: the help explains
		}
		return s
	case 8:
		return age(now.Sub(c.opened))
	case 9:
		return c.protoCell() // h2.go
	}
	return ""
}

// shownState is the STATE column: an HTTP connection says what it does
// now (idle between exchanges, waiting for a response, receiving one).
func (c *conn) shownState() string {
	if c.state != stateHTTP {
		return c.state
	}
	switch {
	case c.flight != "":
		return c.flight
	case c.pending > 0:
		return "waiting"
	}
	return "idle"
}

func stateColor(c *conn, col int) tcell.Color {
	if col == 3 && c.unverified {
		return tcell.ColorRed // https with an upstream certificate not verified (-k)
	}
	if col != 4 {
		if c.state == stateClosed {
			return tcell.ColorGray
		}
		return tcell.ColorWhite
	}
	switch c.shownState() {
	case stateWebSocket:
		return tcell.ColorFuchsia
	case stateTunnel:
		return tcell.ColorDodgerBlue
	case stateClosed:
		return tcell.ColorGray
	case "idle":
		return tcell.ColorDarkCyan
	}
	return tcell.ColorGreen
}

// clock is the dashboard's now: the wall clock, or for a saved capture the
// time of its last event.
func (u *UI) clock() time.Time {
	if u.cfg.ReadOnly {
		return u.st.last
	}
	return u.now()
}

// eventsTable is the selected connection's events view: every event but
// frames, one per row.
type eventsTable struct {
	tview.TableContentReadOnly
	u *UI
}

var eventsHeader = []string{"TIME", "", "WHAT", "PREVIEW"}

// eventsSpecs lets WHAT take at most 40% of the width: one long row (an
// upgrade with its extensions) does not squeeze the preview.
func eventsSpecs(width int) []colSpec {
	return []colSpec{{min: 7, max: 10}, {min: 1, max: 1}, {min: 10, max: max(16, width*2/5)}, {min: 10, pref: 30, flex: true}}
}

func (t eventsTable) GetRowCount() int    { return 1 + len(t.u.tlView) }
func (t eventsTable) GetColumnCount() int { return len(eventsHeader) }

func (t eventsTable) GetCell(row, col int) *tview.TableCell {
	if row < 0 || row > len(t.u.tlView) || col < 0 || col >= len(eventsHeader) {
		return nil
	}
	tb := t.u.timeline
	if row == 0 {
		return tb.sized(header(eventsHeader[col]), col, col == 3)
	}
	if t.u.tlConn == nil {
		return nil
	}
	ev := t.u.store.At(t.u.tlView[row-1])
	if ev == nil {
		if col == 2 {
			return tb.sized(cell("("+t.u.droppedWhere()+")", tcell.ColorGray), col, false)
		}
		return cell("", tcell.ColorGray)
	}
	color := eventColor(ev)
	text := t.text(row, col)
	switch col {
	case 0:
		return tb.sized(cell(text, tcell.ColorGray), col, false)
	case 1, 2:
		return tb.sized(cell(text, color), col, false)
	case 3:
		c := cell(text, tcell.ColorSilver)
		if ev.Kind == capture.KindError || unverified(ev) {
			c.SetTextColor(tcell.ColorRed)
		}
		return tb.sized(c, col, true)
	}
	return nil
}

// tlEvent returns the timeline's connection and the event on row (from
// 1): nil when there is no such row, or its event was dropped.
func (u *UI) tlEvent(row int) (*conn, *capture.Event) {
	c := u.tlConn
	if c == nil || row < 1 || row > len(u.tlView) {
		return c, nil
	}
	return c, u.store.At(u.tlView[row-1])
}

func (t eventsTable) text(row, col int) string {
	if row == 0 {
		return eventsHeader[col]
	}
	c, ev := t.u.tlEvent(row)
	if ev == nil {
		return ""
	}
	switch col {
	case 0:
		return rel(ev.Time, c.opened)
	case 1:
		return arrow(ev)
	case 2:
		if ev.Kind == capture.KindTLS {
			w, _ := tlsParts(ev) // the rest is the preview
			return w
		}
		return whatIn(ev, c)
	case 3:
		return preview(ev)
	}
	return ""
}

// eventColor colors an event's row by its direction and kind.
func eventColor(ev *capture.Event) tcell.Color {
	switch {
	case ev.Conn == 0 && ev.Kind != capture.KindGap:
		return tcell.ColorYellow // global.go
	case ev.Kind == capture.KindError || ev.Kind == capture.KindGap || ev.Kind == capture.KindClose && ev.Err != "" || unverified(ev):
		return tcell.ColorRed
	case arrow(ev) == "→":
		return tcell.ColorGreen
	case arrow(ev) == "←":
		return tcell.ColorAqua
	case ev.Kind == capture.KindUpgrade:
		return tcell.ColorFuchsia
	}
	return tcell.ColorWhite
}

// whatIn is what(ev) with a request's target in origin-form when it names
// the connection's host (shown in the title).
func whatIn(ev *capture.Event, c *conn) string {
	if ev.Kind == capture.KindRequest && ev.Method != "CONNECT" {
		s := ev.Method + " " + originForm(ev.Target, c.host)
		if ev.BodyLen > 0 {
			s += " " + size(ev.BodyLen)
		}
		return s
	}
	return what(ev)
}

func header(s string) *tview.TableCell {
	return tview.NewTableCell(s).SetSelectable(false).SetTextColor(tcell.ColorYellow).SetAttributes(tcell.AttrBold)
}

func cell(s string, color tcell.Color) *tview.TableCell {
	return tview.NewTableCell(tview.Escape(s)).SetTextColor(color)
}
