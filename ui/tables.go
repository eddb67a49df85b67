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

var connHeader = []string{"ID", "CLIENT", "HOST", "SCHEME", "STATE", "REQ", "MSG ↑↓", "BYTES ↑↓", "AGE"}

func (t connTable) GetRowCount() int    { return 1 + len(t.u.connView) }
func (t connTable) GetColumnCount() int { return len(connHeader) }

func (t connTable) GetCell(row, col int) *tview.TableCell {
	if row < 0 || row > len(t.u.connView) || col < 0 || col >= len(connHeader) {
		return nil
	}
	if row == 0 {
		return header(connHeader[col])
	}
	c := t.u.connView[row-1]
	return cell(connCell(c, col, t.u.clock()), stateColor(c, col))
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
		return c.state
	case 5:
		return fmt.Sprint(c.requests)
	case 6:
		return fmt.Sprintf("%d↑ %d↓", c.msgsUp+c.ctrlUp, c.msgsDown+c.ctrlDown)
	case 7:
		s := size(c.bytesUp) + "↑ " + size(c.bytesDown) + "↓"
		if !c.exact {
			s = "~" + s
		}
		return s
	case 8:
		return age(now.Sub(c.opened))
	}
	return ""
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
	switch c.state {
	case stateWebSocket:
		return tcell.ColorFuchsia
	case stateTunnel:
		return tcell.ColorDodgerBlue
	case stateClosed:
		return tcell.ColorGray
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

// timelineTable is the selected connection's timeline.
type timelineTable struct {
	tview.TableContentReadOnly
	u *UI
}

var timelineHeader = []string{"TIME", "", "WHAT", "PREVIEW"}

func (t timelineTable) GetRowCount() int    { return 1 + len(t.u.tlView) }
func (t timelineTable) GetColumnCount() int { return len(timelineHeader) }

func (t timelineTable) GetCell(row, col int) *tview.TableCell {
	if row < 0 || row > len(t.u.tlView) || col < 0 || col >= len(timelineHeader) {
		return nil
	}
	if row == 0 {
		return header(timelineHeader[col])
	}
	if t.u.tlConn == nil {
		return nil
	}
	ev := t.u.store.At(t.u.tlView[row-1])
	if ev == nil {
		if col == 2 {
			return cell("("+t.u.droppedWhere()+")", tcell.ColorGray)
		}
		return cell("", tcell.ColorGray)
	}
	color := tcell.ColorWhite
	switch {
	case ev.Kind == capture.KindError || ev.Kind == capture.KindClose && ev.Err != "" || unverified(ev):
		color = tcell.ColorRed
	case arrow(ev) == "→":
		color = tcell.ColorGreen
	case arrow(ev) == "←":
		color = tcell.ColorAqua
	case ev.Kind == capture.KindUpgrade:
		color = tcell.ColorFuchsia
	}
	switch col {
	case 0:
		return cell(rel(ev.Time, t.u.tlConn.opened), tcell.ColorGray)
	case 1:
		return cell(arrow(ev), color)
	case 2:
		w := what(ev)
		if ev.Kind == capture.KindTLS {
			w, _ = tlsParts(ev) // the rest is the preview
		}
		return cell(w, color).SetMaxWidth(48)
	case 3:
		c := cell(preview(ev), tcell.ColorSilver)
		if ev.Kind == capture.KindError || unverified(ev) {
			c.SetTextColor(tcell.ColorRed)
		}
		return c.SetExpansion(1)
	}
	return nil
}

func header(s string) *tview.TableCell {
	return tview.NewTableCell(s).SetSelectable(false).SetTextColor(tcell.ColorYellow).SetAttributes(tcell.AttrBold)
}

func cell(s string, color tcell.Color) *tview.TableCell {
	return tview.NewTableCell(tview.Escape(s)).SetTextColor(color)
}
