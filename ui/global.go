package ui

import (
	"fmt"
	"strings"

	"github.com/frametap/frametap/capture"
	"github.com/rivo/tview"
)

// This file shows the events that belong to no connection (conn 0): a
// gap (the capture log lost events), a meta (the capture was written with
// --filter) and a note (what a HAR could not tell, from frametap view
// file.har). They are not a connection "#0": the status line says what
// they say, and they show as rows in the timelines they concern: a gap in
// the connections open while events were lost, a meta or a note at the
// top of every connection's (they are about the whole capture).

// globalNotes is what the events of no connection said.
type globalNotes struct {
	lost   int64  // events the capture log lost, over every gap
	gaps   int    // gap events
	filter string // the --filter the capture was written with (meta)
	note   string // the last note (a HAR's)
	sticky []int  // absolute indices of the meta and note events: each new connection's first rows
}

// maxSticky bounds the meta and note rows each connection starts with.
const maxSticky = 4

// applyGlobal records event i of no connection. It reports whether it
// took the event (every event of conn 0).
func (s *state) applyGlobal(i int, ev *capture.Event) bool {
	g := &s.global
	switch ev.Kind {
	case capture.KindGap:
		g.lost += ev.Lost
		g.gaps++
		for _, c := range s.conns {
			// The connections that may have lost events: open, or
			// active since the first loss.
			if c.state != stateClosed || !c.last.Before(ev.Since) {
				c.rows = append(c.rows, i)
				c.xrows = append(c.xrows, xrow{ev: i})
			}
		}
		return true
	case capture.KindMeta:
		g.filter = ev.Filter
	default:
		g.note = ev.Msg
	}
	if len(g.sticky) < maxSticky {
		g.sticky = append(g.sticky, i)
		for _, c := range s.conns {
			c.rows = append(c.rows, i)
			c.xrows = append(c.xrows, xrow{ev: i})
		}
	}
	return true
}

// startRows gives a new connection the meta and note rows.
func (s *state) startRows(c *conn) {
	for _, i := range s.global.sticky {
		c.rows = append(c.rows, i)
		c.xrows = append(c.xrows, xrow{ev: i})
	}
}

// globalStatus adds the status line's parts for the events of no
// connection.
func (u *UI) globalStatus(add func(rank int, text, short string)) {
	g := &u.st.global
	if g.gaps > 0 {
		add(75, fmt.Sprintf("[red]the capture lost %d %s (%d %s)[-]", g.lost, plural(int(g.lost), "event", "events"), g.gaps, plural(g.gaps, "gap", "gaps")),
			fmt.Sprintf("[red]%d lost[-]", g.lost))
	}
	if g.filter != "" {
		add(40, "written with --filter "+tview.Escape(g.filter), "")
	}
	if g.note != "" {
		head, _, _ := strings.Cut(g.note, ". ")
		if h, _, ok := strings.Cut(head, ": "); ok {
			head = h
		}
		add(38, "[yellow]"+tview.Escape(head)+" (NOTE rows say more)[-]", "[yellow]NOTE rows[-]")
	}
}

// globalWhat is what(ev) for an event of no connection.
func globalWhat(ev *capture.Event) string {
	switch ev.Kind {
	case capture.KindGap:
		return fmt.Sprintf("GAP %d %s not written to the capture file", ev.Lost, plural(int(ev.Lost), "event", "events"))
	case capture.KindMeta:
		return "META written with --filter " + ev.Filter
	}
	return "NOTE " + ev.Msg
}

// globalRowText is the exchanges view's row of an event of no connection.
func globalRowText(ev *capture.Event, c *conn, col int) string {
	switch col {
	case xcTime:
		if ev.Time.Before(c.opened) {
			return ""
		}
		return rel(ev.Time, c.opened)
	case xcMethod:
		w, _, _ := strings.Cut(globalWhat(ev), " ")
		return w
	case xcPath:
		_, rest, _ := strings.Cut(globalWhat(ev), " ")
		return rest
	}
	return ""
}

// globalDetail is the detail of an event of no connection.
func globalDetail(ev *capture.Event) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "[yellow::b]%s[-::-]\n", tview.Escape(strings.SplitN(globalWhat(ev), " ", 2)[0]))
	if !ev.Time.IsZero() {
		fmt.Fprintf(&sb, "[gray]%s · of no connection: about the whole capture[-]\n\n", ev.Time.Local().Format("15:04:05.000000"))
	}
	switch ev.Kind {
	case capture.KindGap:
		fmt.Fprintf(&sb, "The capture log could not write %d %s", ev.Lost, plural(int(ev.Lost), "event", "events"))
		if !ev.Since.IsZero() {
			fmt.Fprintf(&sb, " from %s until %s", ev.Since.Local().Format("15:04:05.000"), ev.Time.Local().Format("15:04:05.000"))
		}
		sb.WriteString(": the connections open then may miss events in the file.\n")
		if ev.Msg != "" {
			fmt.Fprintf(&sb, "[red]%s[-]\n", tview.Escape(ev.Msg))
		}
	case capture.KindMeta:
		fmt.Fprintf(&sb, "This capture was written with --filter %s: it holds only what the filter selected.\n", tview.Escape(ev.Filter))
	default:
		sb.WriteString(tview.Escape(ev.Msg) + "\n")
	}
	return sb.String()
}
