package ui

import (
	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// This file sizes the panes by the terminal, at each draw: the
// connections pane as tall as its rows need, up to a third of the screen;
// below 120 columns the timeline and the detail do not share the width
// (side by side they would get 38 columns each at 80): the timeline takes
// it all, and the detail takes the whole screen but the status line while
// it has the focus (Enter opens it, Esc goes back).

// narrowWidth is the width below which the timeline and the detail are
// shown one at a time.
const narrowWidth = 120

// rootView is the application's root: the pages, laid out for the
// terminal before each draw.
type rootView struct {
	*tview.Pages
	u *UI
}

// Draw lays the panes out for the screen, then draws them.
func (r *rootView) Draw(screen tcell.Screen) {
	_, _, w, h := r.GetRect()
	r.u.relayout(w, h)
	r.Pages.Draw(screen)
}

// relayout sizes the panes for a w×h screen. It runs on the UI goroutine
// (in Draw): it changes sizes only, never queues anything.
func (u *UI) relayout(w, h int) {
	if w != u.width {
		u.width = w
		u.paintStatus() // it fits the status line to the width
	}
	narrow := w < narrowWidth
	connsH, summaryH := min(max(len(u.connView)+3, 5), max(5, h/3)), 3
	if narrow && u.pane == paneDetail {
		connsH, summaryH = 0, 0 // the detail takes the screen; Esc gives it back
	}
	u.layout.ResizeItem(u.conns, connsH, 0)
	u.layout.ResizeItem(u.summary, summaryH, 0)
	if narrow != u.narrow {
		u.narrow = narrow
		u.paintTitles()
	}
	if k := u.shown; k.width != 0 && k.width != u.detailWidth() {
		r, _ := u.timeline.GetSelection()
		u.rowSelected(r) // its waterfall fits the new width
	}
	switch {
	case narrow && u.pane == paneDetail:
		u.lower.ResizeItem(u.timeline, 0, 0)
		u.lower.ResizeItem(u.detail, 0, 1)
	case narrow:
		u.lower.ResizeItem(u.timeline, 0, 1)
		u.lower.ResizeItem(u.detail, 0, 0)
	default:
		u.lower.ResizeItem(u.timeline, 0, 1)
		u.lower.ResizeItem(u.detail, detailWidth(w), 0)
	}
	// The help page leaves the status line in sight; it scrolls when the
	// terminal is shorter than it.
	u.helpCol.ResizeItem(u.help, min(u.helpHeight(), max(3, h-2)), 0)
}

// detailWidth is the detail pane's width on a wide screen w columns wide:
// two fifths of it, but 80 columns (a hex dump's line) while the rows keep
// half.
func detailWidth(w int) int { return max(w*2/5, min(80, w/2)) }

// setView shows the exchanges or the events of the selected connection in
// the timeline pane.
func (u *UI) setView(v int) {
	u.view = v
	if v == viewH2Frames {
		t := framesTable{u: u}
		u.timeline.SetContent(t)
		u.timeline.specs, u.timeline.text = framesSpecs, t.text
	} else if v == viewEvents {
		t := eventsTable{u: u}
		u.timeline.SetContent(t)
		u.timeline.specs, u.timeline.text = eventsSpecs, t.text
	} else {
		t := exchangesTable{u: u}
		u.timeline.SetContent(t)
		u.timeline.specs, u.timeline.text = u.xSpecs, t.text
	}
	u.tlScanned, u.tlView = 0, nil
	u.resetExchanges()
	if u.tlConn == nil {
		return
	}
	u.updateTimeline()
	u.selecting = true
	r := 1
	if u.follow {
		r = max(1, u.rowCount())
	}
	u.timeline.Select(r, 0)
	u.selecting = false
	u.rowSelected(r)
	u.paintTitles()
}

// rowCount is how many rows the timeline pane shows.
func (u *UI) rowCount() int {
	if u.view != viewExchanges { // events, and HTTP/2 frames
		return len(u.tlView)
	}
	if u.xAll && u.tlConn != nil {
		return len(u.tlConn.xrows)
	}
	return len(u.xView)
}

// resetExchanges makes the exchanges view scan its connection anew.
func (u *UI) resetExchanges() {
	u.xAll, u.xView, u.xScanned, u.xPending = false, nil, 0, nil
}
