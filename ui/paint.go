package ui

import (
	"fmt"
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
	if u.st.filter != nil {
		t += fmt.Sprintf(" of %d", len(u.st.conns))
	}
	u.conns.SetTitle(t + ") ")
	if c := u.tlConn; c != nil {
		u.timeline.SetTitle(fmt.Sprintf(" Timeline #%d %s (%d rows) ", c.id, tview.Escape(c.host), len(u.tlView)))
	} else {
		u.timeline.SetTitle(" Timeline ")
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
	lines[0] = fmt.Sprintf(" [::b]#%d[::-]", u.tlConn.id) + lines[0]
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

func (u *UI) paintStatus() {
	var parts []string
	if u.cfg.ReadOnly {
		parts = append(parts, "[::b]frametap view[::-] "+tview.Escape(u.cfg.Source), fmt.Sprintf("%d events", u.store.Total()), "read-only")
	} else {
		parts = append(parts, "[::b]frametap[::-] "+tview.Escape(u.cfg.Listen)+" "+u.cfg.Mode)
		if u.cfg.Insecure {
			// First, so that a narrow terminal does not cut it off.
			parts[0] = "[white:red::b]UPSTREAM CERTS NOT VERIFIED (-k)[-:-:-] · " + parts[0]
		}
		if u.cfg.CaptureFile != "" {
			c, first := u.captureStatus()
			if first {
				parts = append([]string{c}, parts...)
			} else {
				parts = append(parts, c)
			}
		} else {
			parts = append(parts, fmt.Sprintf("no capture file (w writes one): %d events", u.store.Total()))
		}
	}
	parts = append(parts, fmt.Sprintf("conns %d open / %d", u.st.open, len(u.st.conns)))
	switch {
	case u.cfg.ReadOnly:
	case u.paused:
		parts = append(parts, "rates paused")
	default:
		m, b := u.rates()
		parts = append(parts, fmt.Sprintf("%.0f msg/s %s/s", m, size(int64(b))))
	}
	if u.follow {
		parts = append(parts, "[green]FOLLOW[-]")
	}
	if u.paused {
		parts = append(parts, fmt.Sprintf("[black:yellow]PAUSED[-:-] %d new events not shown", u.store.Total()-u.st.applied))
	}
	if u.st.filter != nil {
		parts = append(parts, "filter "+tview.Escape(u.st.filter.String()))
	}
	// Dropped counts every event the store let go, whether or not the model
	// had applied it first.
	if d := u.store.Dropped(); d > 0 && u.store.Total() > 0 {
		where := "only in the capture file"
		if u.cfg.CaptureFile == "" && !u.cfg.ReadOnly || u.health.failing() {
			// The status says there is no capture file, or that it lost events.
			where = "dropped from memory"
		}
		parts = append(parts, fmt.Sprintf("[yellow]%d older events %s[-]", d, where))
	}
	if n := u.getNote(); n != "" {
		parts = append(parts, n)
	}
	parts = append(parts, "[gray]? help[-]")
	u.status.SetText(" " + strings.Join(parts, " · "))
}
