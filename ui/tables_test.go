package ui

import (
	"fmt"
	"testing"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// The virtual tables answer nil for a cell outside them instead of
// indexing out of range: tview asks for row -1 when a click lands below
// the rows, and a panic on the UI goroutine ends the process.
func TestTableCellsOutside(t *testing.T) {
	u := newTestUI(t, Config{}, fixture())
	for _, tc := range []struct {
		name  string
		table tview.TableContent
	}{
		{"connections", connTable{u: u}},
		{"events", eventsTable{u: u}},
		{"exchanges", exchangesTable{u: u}},
	} {
		rows, cols := tc.table.GetRowCount(), tc.table.GetColumnCount()
		for _, rc := range [][2]int{{-1, 0}, {-1, -1}, {0, -1}, {1, -1}, {0, cols}, {1, cols}, {rows, 0}, {rows + 5, 1}} {
			if got := cellAt(tc.table, rc[0], rc[1]); got != "nil" {
				t.Errorf("%s: cell %d,%d of %d×%d: got %s, want nil", tc.name, rc[0], rc[1], rows, cols, got)
			}
		}
		if got := cellAt(tc.table, rows-1, cols-1); got == "nil" || got[0] == 'p' {
			t.Errorf("%s: the last cell %d,%d: got %s", tc.name, rows-1, cols-1, got)
		}
	}
}

// cellAt describes GetCell's answer: "nil", the cell's text, or "panic: …".
func cellAt(tc tview.TableContent, row, col int) (s string) {
	defer func() {
		if r := recover(); r != nil {
			s = fmt.Sprint("panic: ", r)
		}
	}()
	c := tc.GetCell(row, col)
	if c == nil {
		return "nil"
	}
	return "cell " + c.Text
}

// A click on a table's header or below its rows keeps the selection where
// it was; a click on a row selects it.
func TestClickOutsideRows(t *testing.T) {
	u := newTestUI(t, Config{}, fixture())
	u.press(tcell.KeyRune, 'f') // follow off: the selection stays where it is put
	u.screen()                  // lay the tables out
	x, y, _, _ := u.conns.GetInnerRect()
	for _, tc := range []struct {
		name   string
		dy     int // screen lines below the table's top
		want   int // the connection row selected after the click
		wantTL string
	}{
		{"header", 0, 2, "#2 chat.test ("},
		{"below the rows", 5, 2, "#2 chat.test ("},
		{"first row", 1, 1, "#1 api.test ("},
	} {
		got := func() (msg string) {
			defer func() {
				if r := recover(); r != nil {
					msg = fmt.Sprint("panic: ", r)
				}
			}()
			click := tcell.NewEventMouse(x+2, y+tc.dy, tcell.Button1, tcell.ModNone)
			u.conns.MouseHandler()(tview.MouseLeftClick, click, func(p tview.Primitive) { u.app.SetFocus(p) })
			return ""
		}()
		if got != "" {
			t.Errorf("click on the %s: %s", tc.name, got)
			continue
		}
		if r, _ := u.conns.GetSelection(); r != tc.want {
			t.Errorf("click on the %s: row %d selected, want %d", tc.name, r, tc.want)
		}
		mustContain(t, u.text(), tc.wantTL)
	}
}
