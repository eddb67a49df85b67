package ui

import (
	"slices"
	"sort"

	"github.com/frametap/frametap/capture"
)

// updateTimeline brings the timeline pane's rows up to date with tlConn:
// the events view's tlView, or the exchanges view's xView, which first
// takes in what the Store knows live of the connection.
func (u *UI) updateTimeline() {
	c := u.tlConn
	if c == nil {
		u.tlView, u.xView = u.tlView[:0], u.xView[:0]
		return
	}
	if u.view == viewExchanges {
		u.mergeLive(c)
		u.updateExchanges(c)
		return
	}
	if u.view == viewH2Frames {
		u.updateFrames(c) // h2frames.go
		return
	}
	u.updateEvents(c)
}

// updateExchanges brings xView up to date with c's rows: all of them when
// nothing filters them, else the rows the filter matches, scanning only
// the new rows and the exchanges still in flight (an event row's match
// changes only when its connection is judged anew, and then the view
// scans again; an exchange's may, when its response comes).
func (u *UI) updateExchanges(c *conn) {
	if u.st.filter == nil {
		u.xAll, u.xView, u.xScanned, u.xPending = true, u.xView[:0], 0, u.xPending[:0]
		return
	}
	if u.xAll || u.xScanned > len(c.xrows) || u.fv.xJudged != c.fm.judged {
		u.xAll, u.xView, u.xScanned, u.xPending = false, u.xView[:0], 0, u.xPending[:0]
		u.fv.xJudged = c.fm.judged
	}
	pending := u.xPending[:0]
	for _, k := range u.xPending {
		r := c.xrows[k]
		switch {
		case r.ex.matched:
			at := sort.SearchInts(u.xView, k)
			u.xView = slices.Insert(u.xView, at, k)
		case r.ex.resp < 0:
			pending = append(pending, k)
		}
	}
	u.xPending = pending
	for k := u.xScanned; k < len(c.xrows); k++ {
		switch r := c.xrows[k]; {
		case u.st.matchRow(r):
			u.xView = append(u.xView, k)
		case r.ex != nil && r.ex.resp < 0:
			u.xPending = append(u.xPending, k)
		}
	}
	u.xScanned = len(c.xrows)
}

// mergeLive takes in the exchanges of c in flight, as the Store knows them.
func (u *UI) mergeLive(c *conn) {
	lc := u.store.live(c.id)
	if lc == nil || c.state == stateClosed {
		if len(c.liveViews) > 0 {
			c.liveViews = c.liveViews[:0]
			c.mergeLive(nil)
		}
		return
	}
	c.liveViews = lc.snapshot(c.liveViews[:0])
	c.mergeLive(c.liveViews)
}

// selectLast moves both selections to the newest connection and row.
func (u *UI) selectLast() {
	u.selecting = true
	defer func() { u.selecting = false }()
	if n := len(u.connView); n > 0 {
		u.conns.Select(n, 0)
		u.connSelected(n)
	}
	if n := u.rowCount(); n > 0 {
		u.timeline.Select(n, 0)
		u.rowSelected(n)
	}
}

// clampSelection keeps the selections on rows that exist.
func (u *UI) clampSelection() {
	u.selecting = true
	defer func() { u.selecting = false }()
	r, _ := u.conns.GetSelection()
	if r > len(u.connView) || r < 1 {
		u.conns.Select(max(1, len(u.connView)), 0)
	}
	r, _ = u.conns.GetSelection()
	u.connSelected(r)
	r, _ = u.timeline.GetSelection()
	if n := u.rowCount(); r > n || r < 1 {
		u.timeline.Select(max(1, n), 0)
		r, _ = u.timeline.GetSelection()
	}
	u.rowSelected(r) // a row in flight changes as its bytes come
}

// connSelected shows the timeline of the connection on row.
func (u *UI) connSelected(row int) {
	if !u.selecting && row != len(u.connView) {
		u.follow = false
	}
	var c *conn
	if row >= 1 && row <= len(u.connView) {
		c = u.connView[row-1]
	}
	if c != u.tlConn {
		u.tlConn, u.tlScanned, u.tlView = c, 0, nil
		u.resetExchanges()
		u.updateTimeline()
		u.selecting = true
		r := 1
		if u.follow {
			r = max(1, u.rowCount())
		}
		u.timeline.Select(r, 0).ScrollToBeginning()
		if u.follow {
			u.timeline.ScrollToEnd()
		}
		u.selecting = false
		u.rowSelected(r)
	}
	u.paintSummary()
	u.paintTitles()
	u.paintStatus()
}

// rowSelected shows the detail of the timeline's row.
func (u *UI) rowSelected(row int) {
	// Row 1 of an empty timeline (the filter hides its rows) is not the
	// user moving away from the newest row.
	if !u.selecting && row != u.rowCount() && u.rowCount() > 0 && u.follow {
		u.follow = false
		u.paintStatus()
	}
	text, ok := u.detailOf(row)
	if !ok {
		u.detail.SetText("")
		u.shown = shownRow{}
		return
	}
	key := u.rowKey(row)
	if key == u.shown && !u.shown.live {
		return // unchanged: keep where the user scrolled
	}
	row0, _ := u.detail.GetScrollOffset()
	u.detail.SetText(text)
	if key.same(u.shown) {
		u.detail.ScrollTo(row0, 0) // the same row, grown: keep the place
	} else {
		u.detail.ScrollToBeginning()
	}
	u.shown = key
}

// shownRow says what the detail pane shows, to redraw it only when that
// changed (a response in flight changes at every refresh).
type shownRow struct {
	view  int
	ex    *exchange
	ev    int
	live  bool
	mode  int
	width int
}

func (k shownRow) same(o shownRow) bool {
	return k.view == o.view && k.ex == o.ex && k.ev == o.ev && (k.ex != nil || k.ev >= 0)
}

// rowKey identifies the row of the timeline pane on row.
func (u *UI) rowKey(row int) shownRow {
	k := shownRow{view: u.view, ev: -1, mode: u.bodyMode, width: u.detailWidth()}
	if u.view != viewExchanges { // events, HTTP/2 frames
		if row >= 1 && row <= len(u.tlView) {
			k.ev = u.tlView[row-1]
		}
		return k
	}
	if r, ok := u.xrowAt(row); ok {
		k.ex, k.ev = r.ex, r.ev
		k.live = r.ex != nil && r.ex.resp < 0
	}
	return k
}

// detailOf renders the detail of the timeline's row.
func (u *UI) detailOf(row int) (string, bool) {
	c := u.tlConn
	if c == nil {
		return "", false
	}
	if u.view == viewExchanges {
		r, ok := u.xrowAt(row)
		if !ok {
			return "", false
		}
		if r.ex != nil {
			return u.exchangeDetail(c, r.ex), true
		}
		return u.eventDetail(c, r.ev), true
	}
	if row < 1 || row > len(u.tlView) {
		return "", false
	}
	return u.eventDetail(c, u.tlView[row-1]), true
}

// eventDetail renders the detail of event i of c.
func (u *UI) eventDetail(c *conn, i int) string {
	ev := u.store.At(i)
	if ev == nil {
		return "[gray](" + u.droppedWhere() + ")[-]"
	}
	var frames []*capture.Event
	if ev.Kind == capture.KindMessage {
		frames = u.framesOf(c, i, ev)
	}
	return detail(ev, frames, u.pairOf(c, i, ev), c.opened, u.bodyMode, u.messageView(c, ev))
}

// framesOf returns the frame events message i of c was made of: the
// ev.Frames frames of the same side and class (data or control) before it.
func (u *UI) framesOf(c *conn, i int, ev *capture.Event) []*capture.Event {
	control := ev.Op == "ping" || ev.Op == "pong" || ev.Op == "close"
	p := sort.SearchInts(c.all, i)
	var fs []*capture.Event
	for k := p - 1; k >= 0 && len(fs) < ev.Frames; k-- {
		f := u.store.At(c.all[k])
		if f == nil {
			break
		}
		if f.Kind == capture.KindMessage && f.From == ev.From && !control && f.Op != "ping" && f.Op != "pong" && f.Op != "close" {
			break // the previous data message of this side
		}
		if f.Kind != capture.KindFrame || f.From != ev.From || (f.Opcode >= 8) != control {
			continue
		}
		fs = append(fs, f)
	}
	for a, b := 0, len(fs)-1; a < b; a, b = a+1, b-1 {
		fs[a], fs[b] = fs[b], fs[a]
	}
	return fs
}

// pairOf returns a request's response or a response's request.
func (u *UI) pairOf(c *conn, i int, ev *capture.Event) *capture.Event {
	var want capture.Kind
	step := 1
	switch ev.Kind {
	case capture.KindRequest:
		want = capture.KindResponse
	case capture.KindResponse:
		want, step = capture.KindRequest, -1
	default:
		return nil
	}
	p := sort.SearchInts(c.rows, i)
	for k, n := p+step, 0; k >= 0 && k < len(c.rows) && n < 10000; k, n = k+step, n+1 {
		if e := u.store.At(c.rows[k]); e != nil && e.Kind == want && e.Seq == ev.Seq {
			return e
		}
	}
	return nil
}

func (u *UI) setPane(i int) {
	u.pane = i
	u.app.SetFocus(u.panes[i])
	u.paintFocus()
}
