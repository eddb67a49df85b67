package ui

import (
	"fmt"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/capture/push"
	"github.com/rivo/tview"
)

// This file is the push view (the P key, issue 10): one row per host and
// way of pushing (polling, long-polling, SSE, streaming, WebSocket,
// Socket.IO) with what it cost on the wire, the same rows as `frametap
// view --headless --summary`. A push.Summary is fed every event the
// dashboard applies, on the UI goroutine; the table reads its rows.

// pushView is the push view's state and widgets.
type pushView struct {
	sum   *push.Summary
	rows  []push.Row // as the last refresh found them
	table *tview.Table
	note  *tview.TextView
	page  *tview.Flex
	shown bool
}

// buildPush makes the push view's page; build calls it once the status
// line and the pages exist.
func (u *UI) buildPush() {
	p := &u.push
	p.sum = push.NewSummary(u.cfg.Push)
	p.table = tview.NewTable().SetFixed(1, 0).SetSelectable(true, false).SetContent(pushTable{u: u})
	p.table.SetBorder(true).SetTitleAlign(tview.AlignLeft).
		SetTitle(" Push: how each host pushes, and what it costs on the wire · P or Esc: back ")
	p.note = tview.NewTextView().SetDynamicColors(true).SetWrap(true)
	p.page = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(p.table, 0, 1, true).
		AddItem(p.note, 4, 0, false).
		AddItem(u.status, 1, 0, false)
	u.pages.AddPage("push", p.page, true, false)
}

// addPush feeds one applied event to the summary.
func (u *UI) addPush(ev *capture.Event) { u.push.sum.Add(ev) }

// clearPush forgets what the summary learned (the c key).
func (u *UI) clearPush() {
	u.push.sum = push.NewSummary(u.cfg.Push)
	u.push.rows = nil
}

// showPush opens or closes the push view.
func (u *UI) showPush(on bool) {
	u.push.shown = on
	if on {
		u.paintPush()
		u.pages.SwitchToPage("push")
		u.app.SetFocus(u.push.table)
		return
	}
	u.pages.SwitchToPage("main")
	u.setPane(u.pane)
}

// paintPush takes the summary's rows and writes the lesson under them. It
// runs at each refresh while the view is shown.
func (u *UI) paintPush() {
	p := &u.push
	if !p.shown {
		return
	}
	p.rows = p.sum.Rows()
	n, _ := p.table.GetSelection()
	if n < 1 || n > len(p.rows) {
		p.table.Select(max(1, min(n, len(p.rows))), 0)
	}
	p.note.SetText(pushLesson(p.rows))
}

// pushLesson is the text under the table: the costliest and the cheapest
// way of pushing side by side (on the host that pushes the most ways, where
// they carry the same data, when there is one), and what OVERHEAD means.
func pushLesson(rows []push.Row) string {
	ways := map[string]int{} // mechanisms with pushed messages, by host
	for _, r := range rows {
		if r.Messages > 0 && r.Mechanism != push.None {
			ways[r.Host]++
		}
	}
	host, most := "", 0
	for _, r := range rows { // rows are sorted by host: the first wins a tie
		if ways[r.Host] > most {
			host, most = r.Host, ways[r.Host]
		}
	}
	var hi, lo *push.Row
	for i := range rows {
		r := &rows[i]
		if r.Messages == 0 || r.Mechanism == push.None || most > 1 && r.Host != host {
			continue
		}
		if hi == nil || r.OverheadPerMessage() > hi.OverheadPerMessage() {
			hi = r
		}
		if lo == nil || r.OverheadPerMessage() < lo.OverheadPerMessage() {
			lo = r
		}
	}
	var first string
	switch {
	case hi == nil:
		first = " No pushed message yet: a poll that brought news, an SSE event, a streamed chunk or a WebSocket message from the server."
	case hi == lo || lo.OverheadPerMessage() <= 0:
		first = fmt.Sprintf(" %s by [::b]%s[::-]: %.0f B on the wire around each message pushed.", tview.Escape(hi.Host), hi.Mechanism, hi.OverheadPerMessage())
	default:
		first = fmt.Sprintf(" %s: each message pushed by [::b]%s[::-] cost %.0f B on the wire besides its payload; by [::b]%s[::-], %.0f B (%.0f× less).",
			tview.Escape(hi.Host), hi.Mechanism, hi.OverheadPerMessage(), lo.Mechanism, lo.OverheadPerMessage(), hi.OverheadPerMessage()/lo.OverheadPerMessage())
	}
	return first + "\n [gray]MSGS: messages pushed. OVERHEAD: the wire bytes both ways that are not their payload (HTTP heads, framing), per message and as a share.[-]"
}

// pushTable is the push view's table, read from its rows on each draw:
// every column of `view --summary` when the screen is wide, fewer (with
// the polling figures in one) when it is narrow.
type pushTable struct {
	tview.TableContentReadOnly
	u *UI
}

// Columns of the narrow table: push.Columns' indices, and -1 for NOTES.
var (
	pushNarrow     = []int{0, 1, 4, 5, 7, 8, 9, -1}
	pushNarrowHead = []string{"HOST", "PUSH", "MSGS", "PAYLOAD", "OVH/MSG", "OVH", "MSG/S", "NOTES"}
)

func (t pushTable) wide() bool { return t.u.width >= narrowWidth }

func (t pushTable) GetRowCount() int { return len(t.u.push.rows) + 1 }

func (t pushTable) GetColumnCount() int {
	if t.wide() {
		return len(push.Columns)
	}
	return len(pushNarrow)
}

func (t pushTable) GetCell(row, col int) *tview.TableCell {
	if col < 0 || col >= t.GetColumnCount() || row < 0 || row > len(t.u.push.rows) {
		return nil
	}
	var text string
	switch {
	case row == 0 && t.wide():
		text = push.Columns[col]
	case row == 0:
		text = pushNarrowHead[col]
	default:
		r := t.u.push.rows[row-1]
		cells := r.Cells()
		switch {
		case t.wide():
			text = cells[col]
		case pushNarrow[col] >= 0:
			text = cells[pushNarrow[col]]
		case r.Mechanism == push.Polling:
			text = cells[10] + ", " + cells[11] + " empty" // CADENCE, EMPTY
		case r.Mechanism == push.LongPolling:
			text = "held " + cells[12] // HOLD
		}
	}
	c := tview.NewTableCell(tview.Escape(text)).SetSelectable(row > 0)
	if row == 0 {
		c.SetTextColor(tview.Styles.SecondaryTextColor).SetAttributes(0)
	}
	if col > 1 && row > 0 {
		c.SetAlign(tview.AlignRight)
	}
	return c
}
