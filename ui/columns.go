package ui

import (
	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// This file sizes table columns by their content, with caps: tview gives
// each column the width of its widest visible cell, so one long row takes
// the width from every other column. A fitTable measures the rows it is
// about to draw, fits the columns to the table's width (fit), and its
// cells then carry those widths as their MaxWidth: a column never takes
// more than its cap, and the one flexible column (a path, a preview) takes
// what is left, with an ellipsis where a cell is cut.

// colSpec is how a column may be sized.
type colSpec struct {
	min, max int  // bounds of its width; max 0 means no cap
	flex     bool // it takes the width the others leave (one per table)
	pref     int  // flex only: the width it gets (when its content wants it) before the others get more than their min
}

// fitColumns returns the width of each column, given the table's width,
// the columns' specs and the widths their content wants. Columns take
// what they want within their bounds; the flexible one takes the rest;
// when that is less than what it wants up to its pref (at least its min),
// the widest others give way, down to their own min.
func fitColumns(width int, specs []colSpec, want []int) []int {
	w := make([]int, len(specs))
	flex := -1
	used := len(specs) - 1 // one separator between columns
	for i, sp := range specs {
		if sp.flex {
			flex = i
			continue
		}
		w[i] = max(min(want[i], capOf(sp)), 0)
		used += w[i]
	}
	if flex < 0 {
		return w
	}
	need := min(want[flex], max(specs[flex].min, specs[flex].pref))
	for used+need > width {
		widest := -1
		for i, sp := range specs {
			if i != flex && w[i] > sp.min && (widest < 0 || w[i] > w[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		w[widest]--
		used--
	}
	w[flex] = max(width-used, 1)
	if c := capOf(specs[flex]); w[flex] > c {
		w[flex] = c
	}
	return w
}

func capOf(sp colSpec) int {
	if sp.max <= 0 {
		return 1 << 30
	}
	return sp.max
}

// fitTable is a Table whose columns are fitted before each draw.
type fitTable struct {
	*tview.Table
	specs  func(width int) []colSpec // the columns' specs for a table this wide
	text   func(row, col int) string // a cell's text as drawn (without color tags)
	widths []int                     // the fitted widths, for GetCell
}

func newFitTable(specs func(width int) []colSpec, text func(row, col int) string) *fitTable {
	return &fitTable{Table: tview.NewTable(), specs: specs, text: text}
}

// Draw fits the columns to the rows about to be drawn, then draws.
func (t *fitTable) Draw(screen tcell.Screen) {
	t.fit()
	t.Table.Draw(screen)
}

// fit measures the header and the visible rows.
func (t *fitTable) fit() {
	_, _, width, height := t.GetInnerRect()
	specs := t.specs(width)
	want := make([]int, len(specs))
	rows := t.GetRowCount()
	// Where Draw will put the rows: within the table (ScrollToEnd leaves
	// the offset past it), with the selection in sight.
	off, _ := t.GetOffset()
	off = min(off, max(0, rows-height+1))
	if sel, _ := t.GetSelection(); sel >= off+height-1 {
		off = sel - height + 2
	} else if sel >= 1 && sel <= off {
		off = sel - 1
	}
	measure := func(r int) {
		for c := range specs {
			want[c] = max(want[c], tview.TaggedStringWidth(tview.Escape(t.text(r, c))))
		}
	}
	measure(0)
	for r := max(1, off+1); r < rows && r < off+height; r++ {
		measure(r)
	}
	t.widths = fitColumns(width, specs, want)
}

// width returns the fitted width of column col (0: not fitted yet, no cap).
func (t *fitTable) width(col int) int {
	if col < len(t.widths) {
		return t.widths[col]
	}
	return 0
}

// sized caps a cell at its column's fitted width; the flexible column's
// cells expand to fill the row.
func (t *fitTable) sized(c *tview.TableCell, col int, flex bool) *tview.TableCell {
	if w := t.width(col); w > 0 {
		c.SetMaxWidth(w)
	}
	if flex {
		c.SetExpansion(1)
	}
	return c
}
