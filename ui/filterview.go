package ui

import (
	"errors"
	"slices"
	"sort"
	"strings"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/filter"
	"github.com/rivo/tview"
)

// This file is the filter's side of the views and of the prompt: the
// events view under a filter, and a bad expression shown under the
// prompt, where it is, while the filter in force stays.

// filterView is what the views keep of the filter.
type filterView struct {
	tlJudged  uint64 // tlConn's filterMarks.judged the events view scanned with
	xJudged   uint64 // the same, for the exchanges view
	tlPending []int  // events view: requests not matched yet that may be once their response comes, sorted
}

// updateEvents brings the events view's rows (tlView) up to date with c:
// every row of c without a filter; under one, the rows it matches,
// judging only the new rows and the requests still in flight, unless c
// was judged anew.
func (u *UI) updateEvents(c *conn) {
	f := u.st.filter
	if f == nil {
		u.tlView, u.tlScanned = c.rows, len(c.rows)
		return
	}
	if u.tlScanned > len(c.rows) || u.tlScanned == 0 || u.fv.tlJudged != c.fm.judged {
		u.tlView, u.tlScanned, u.fv.tlPending = nil, 0, u.fv.tlPending[:0]
		u.fv.tlJudged = c.fm.judged
	}
	pending := u.fv.tlPending[:0]
	for _, i := range u.fv.tlPending {
		switch {
		case f.match(i):
			at := sort.SearchInts(u.tlView, i)
			u.tlView = slices.Insert(u.tlView, at, i)
		case u.inFlight(c, i):
			pending = append(pending, i)
		}
	}
	u.fv.tlPending = pending
	for _, i := range c.rows[u.tlScanned:] {
		switch {
		case f.match(i):
			u.tlView = append(u.tlView, i)
		case u.inFlight(c, i):
			u.fv.tlPending = append(u.fv.tlPending, i)
		}
	}
	u.tlScanned = len(c.rows)
}

// inFlight reports whether event i of c is a request whose final response
// has not come: its verdict may change when it does.
func (u *UI) inFlight(c *conn, i int) bool {
	ev := u.store.At(i)
	if ev == nil || ev.Kind != capture.KindRequest {
		return false
	}
	x := c.exchangeOf(ev.Seq, false)
	return x != nil && x.resp < 0
}

// filterLabel is the prompt's label for the filter.
const filterLabel = "filter (? lists the atoms): "

// applyFilter sets the filter to what the user typed and reports whether
// it did: a bad expression leaves the filter in force as it is, and is
// shown under the prompt, pointing at where it is wrong.
func (u *UI) applyFilter(src string) bool {
	f, err := newViewFilter(src, u.store.At, u.store.Base())
	if err != nil {
		u.showPromptError(src, err)
		return false
	}
	u.st.setFilter(f, u.store)
	u.reselect()
	return true
}

// showPromptError shows err under the prompt: a caret under the column it
// names, then the message.
func (u *UI) showPromptError(src string, err error) {
	msg := tview.Escape(err.Error())
	caret := ""
	if fe, ok := errors.AsType[*filter.Error](err); ok && fe.Col > 0 && !strings.ContainsAny(src, "\t\n") {
		col := tview.TaggedStringWidth(u.prompt.GetLabel()) + tview.TaggedStringWidth(tview.Escape(string([]rune(src)[:min(fe.Col-1, len([]rune(src)))])))
		caret = strings.Repeat(" ", col) + "^ "
	}
	u.promptErr.SetText(caret + "[red]" + msg + "[-]")
	u.layout.ResizeItem(u.promptErr, 1, 0)
}

// hidePromptError takes the error line away.
func (u *UI) hidePromptError() {
	u.promptErr.SetText("")
	u.layout.ResizeItem(u.promptErr, 0, 0)
}

// filterHelp is the help page's part on the filter language: filter.Help,
// the reference `frametap help filters` prints.
func filterHelp() string {
	var sb strings.Builder
	for i, l := range strings.Split(strings.TrimRight(filter.Help, "\n"), "\n") {
		switch {
		case i == 0:
			sb.WriteString("\n [yellow::b]" + tview.Escape(l) + "[-::-]\n")
		case l != "" && l[0] != ' ':
			sb.WriteString(" [yellow]" + tview.Escape(l) + "[-]\n")
		default:
			sb.WriteString(" " + tview.Escape(l) + "\n")
		}
	}
	return sb.String()
}

// helpHeight is the help page's height: its lines and its border.
func (u *UI) helpHeight() int { return strings.Count(u.helpText(), "\n") + 2 }
