package ui

import (
	"sort"

	"github.com/frametap/frametap/capture"
)

// updateTimeline brings tlView up to date with tlConn's rows.
func (u *UI) updateTimeline() {
	c := u.tlConn
	if c == nil {
		u.tlView = u.tlView[:0]
		return
	}
	if u.st.filter == nil || c.selfMatch {
		u.tlView, u.tlScanned = c.rows, len(c.rows)
		return
	}
	if u.tlScanned > len(c.rows) {
		u.tlView, u.tlScanned = nil, 0
	}
	if u.tlScanned == 0 {
		u.tlView = nil
	}
	for _, i := range c.rows[u.tlScanned:] {
		if ev := u.store.At(i); ev != nil && u.st.filter.match(eventText(ev)) {
			u.tlView = append(u.tlView, i)
		}
	}
	u.tlScanned = len(c.rows)
}

// selectLast moves both selections to the newest connection and row.
func (u *UI) selectLast() {
	u.selecting = true
	defer func() { u.selecting = false }()
	if n := len(u.connView); n > 0 {
		u.conns.Select(n, 0)
		u.connSelected(n)
	}
	if n := len(u.tlView); n > 0 {
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
	if r > len(u.tlView) || r < 1 {
		u.timeline.Select(max(1, len(u.tlView)), 0)
		r, _ = u.timeline.GetSelection()
		u.rowSelected(r)
	}
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
		u.updateTimeline()
		u.selecting = true
		r := 1
		if u.follow {
			r = max(1, len(u.tlView))
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
	if !u.selecting && row != len(u.tlView) && u.follow {
		u.follow = false
		u.paintStatus()
	}
	if row < 1 || row > len(u.tlView) || u.tlConn == nil {
		u.detail.SetText("")
		return
	}
	i := u.tlView[row-1]
	ev := u.store.At(i)
	if ev == nil {
		u.detail.SetText("[gray](" + u.droppedWhere() + ")[-]")
		return
	}
	var frames []*capture.Event
	if ev.Kind == capture.KindMessage {
		frames = u.framesOf(u.tlConn, i, ev)
	}
	u.detail.SetText(detail(ev, frames, u.pairOf(u.tlConn, i, ev), u.tlConn.opened)).ScrollToBeginning()
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
