package ui

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

func (u *UI) paintFocus() {
	for i, p := range u.panes {
		b := p.(interface {
			SetBorderColor(tcell.Color) *tview.Box
		})
		if i == u.pane {
			b.SetBorderColor(tcell.ColorYellow)
		} else {
			b.SetBorderColor(tcell.ColorGray)
		}
	}
}

func (u *UI) paintTitles() {
	t := fmt.Sprintf(" Connections (%d", len(u.connView))
	if u.st.filter != nil || len(u.hidden) > 0 {
		t += fmt.Sprintf(" of %d", len(u.st.conns))
	}
	if n := u.st.hiddenCount(u.hidden); n > 0 {
		t += fmt.Sprintf(", %d hidden by host: H", n)
	}
	u.conns.SetTitle(t + ") ")
	name, other := "Exchanges", "events"
	if u.view == viewEvents {
		name, other = "Timeline", "exchanges"
	}
	if u.view == viewH2Frames {
		name, other = "HTTP/2 frames", "exchanges" // h2frames.go
	}
	hint := ""
	if u.narrow {
		hint = " · Enter: detail"
	}
	if c := u.tlConn; c != nil {
		u.timeline.SetTitle(fmt.Sprintf(" %s #%d %s (%d rows) · t: %s%s ", name, c.id, tview.Escape(c.host), u.rowCount(), other, hint))
	} else {
		u.timeline.SetTitle(" " + name + " ")
	}
	if u.narrow {
		u.detail.SetTitle(" Detail · Esc: back ")
	} else {
		u.detail.SetTitle(" Detail ")
	}
}

func (u *UI) paintSummary() {
	if u.tlConn == nil {
		u.summary.SetText(" [gray]no connection yet: point a client at the proxy[-]")
		return
	}
	lines := u.tlConn.summary()
	for i := range lines {
		lines[i] = " " + tview.Escape(lines[i])
	}
	lines[0] = fmt.Sprintf(" [::b]#%d[::-]", u.tlConn.id) + modeNote(u.tlConn) + lines[0] // listeners.go
	u.summary.SetText(strings.Join(lines, "\n"))
}

// droppedWhere says where an event the store dropped can still be found.
func (u *UI) droppedWhere() string {
	switch {
	case u.cfg.ReadOnly:
		return "dropped from memory: only in the capture file"
	case u.cfg.CaptureFile == "":
		return "dropped from memory: no capture file"
	case u.health.failing():
		return "dropped from memory: in the capture file, unless it is among the events it lost"
	}
	return "dropped from memory: only in the capture file"
}

// captureStatus is the status line's word on the capture file, and
// whether it goes first, so that a narrow terminal does not cut it off:
// while writing fails. It reads Config.CaptureHealth into u.health.
func (u *UI) captureStatus() (s string, first bool) {
	file := tview.Escape(u.cfg.CaptureFile)
	if u.cfg.CaptureHealth == nil {
		return fmt.Sprintf("capture %s: %d events seen", file, u.store.Total()), false
	}
	h := &u.health
	h.written, h.lost, h.err = u.cfg.CaptureHealth()
	switch {
	case h.err != nil:
		// The count before the reason, which may be long.
		return fmt.Sprintf("[white:red::b]capture %s FAILING[-:-:-][red]: %d %s not written (%d written) · %s[-]",
			file, h.lost, plural(int(h.lost), "event", "events"), h.written, tview.Escape(h.err.Error())), true
	case h.lost > 0:
		return fmt.Sprintf("[red]capture %s: %d events written · %d lost, not written[-]", file, h.written, h.lost), false
	}
	return fmt.Sprintf("capture %s: %d events written", file, h.written), false
}

// statusPart is one part of the status line. When the line does not fit
// the terminal, parts take their short form, then are dropped, from the
// least important up; parts ranked statusKeep (what fails, what is
// paused, the last message, "? help") are never dropped.
type statusPart struct {
	text, short string // short: "" when it has none
	rank        int    // higher stays longer
}

// fitStatus joins the parts, shortened or dropped until they fit width
// columns (0: no limit), in their order.
func fitStatus(parts []statusPart, width int) string {
	join := func() string {
		var kept []string
		for _, p := range parts {
			if p.text != "" {
				kept = append(kept, p.text)
			}
		}
		return " " + strings.Join(kept, " · ")
	}
	fits := func() bool { return width <= 0 || tview.TaggedStringWidth(join()) <= width }
	byRank := make([]int, len(parts))
	for i := range byRank {
		byRank[i] = i
	}
	sort.SliceStable(byRank, func(a, b int) bool { return parts[byRank[a]].rank < parts[byRank[b]].rank })
	for _, i := range byRank {
		if fits() {
			return join()
		}
		if parts[i].short != "" {
			parts[i].text = parts[i].short
		}
	}
	for _, i := range byRank {
		if fits() || parts[i].rank >= statusKeep {
			break
		}
		parts[i].text = ""
	}
	return join()
}

// statusKeep is the rank of parts that stay whatever the width.
const statusKeep = 100

// paintStatus writes the status line, fitted to the terminal's width: the
// parts that matter least go first, what fails, what is paused, the last
// message and "? help" never.
func (u *UI) paintStatus() {
	var parts []statusPart
	add := func(rank int, text, short string) { parts = append(parts, statusPart{text, short, rank}) }
	if u.cfg.ReadOnly {
		add(60, "[::b]frametap view[::-] "+tview.Escape(u.cfg.Source), "")
		add(50, fmt.Sprintf("%d events", u.store.Total()), "")
		add(20, "read-only", "")
	} else {
		if u.cfg.Insecure {
			// First, so that a narrow terminal does not cut it off.
			add(statusKeep, "[white:red::b]UPSTREAM CERTS NOT VERIFIED (-k)[-:-:-]", "")
		}
		l, short := u.listenersStatus() // listeners.go
		add(60, l, short)
		if u.cfg.CaptureFile != "" {
			c, first := u.captureStatus()
			if first {
				parts = append([]statusPart{{c, "", statusKeep}}, parts...)
			} else {
				rank := 62
				if u.health.failing() {
					rank = statusKeep
				}
				add(rank, c, "")
			}
		} else {
			// Above the address: what is being recorded, and that events
			// come, matter more on a narrow screen than where it listens.
			add(62, fmt.Sprintf("no capture file (w writes one): %d events", u.store.Total()), fmt.Sprintf("no capture (w): %d events", u.store.Total()))
		}
	}
	add(45, fmt.Sprintf("conns %d open / %d", u.st.open, len(u.st.conns)), fmt.Sprintf("%d/%d conns", u.st.open, len(u.st.conns)))
	switch {
	case u.cfg.ReadOnly:
	case u.paused:
		add(55, "rates paused", "")
	default:
		m, b := u.rates()
		add(55, fmt.Sprintf("%.0f msg/s %s/s", m, size(int64(b))), size(int64(b))+"/s")
	}
	if u.follow {
		add(30, "[green]FOLLOW[-]", "")
	}
	if u.paused {
		add(statusKeep, fmt.Sprintf("[black:yellow]PAUSED[-:-] %d new events not shown", u.store.Total()-u.st.applied), "[black:yellow]PAUSED[-:-]")
	}
	if u.st.filter != nil {
		add(80, "filter "+tview.Escape(u.st.filter.String()), "")
	}
	if len(u.hidden) > 0 {
		add(35, fmt.Sprintf("%d %s hidden (H)", len(u.hidden), plural(len(u.hidden), "host", "hosts")), "")
	}
	// Dropped counts every event the store let go, whether or not the model
	// had applied it first.
	if d := u.store.Dropped(); d > 0 && u.store.Total() > 0 {
		where := "only in the capture file"
		if u.cfg.CaptureFile == "" && !u.cfg.ReadOnly || u.health.failing() {
			// The status says there is no capture file, or that it lost events.
			where = "dropped from memory"
		}
		add(70, fmt.Sprintf("[yellow]%d older events %s[-]", d, where), fmt.Sprintf("[yellow]%d dropped[-]", d))
	}
	u.globalStatus(add) // global.go
	if n := u.getNote(); n != "" {
		add(u.noteRank(), n, "")
	}
	add(statusKeep, "[gray]? help[-]", "")
	u.status.SetText(fitStatus(parts, u.width))
}
