package ui

import (
	"strconv"
	"strings"

	"github.com/rivo/tview"
)

// This file is where connections come in (issue 12): the status line
// lists every listener, and a connection's summary says which one it
// arrived on, in which mode.

// Listener is one address the proxy listens on, and its mode ("regular",
// "socks5", "reverse:http://…", …), as the status line shows it.
type Listener struct {
	Addr, Mode string
}

// listenersStatus is the status line's part on the listeners, and its
// short form.
func (u *UI) listenersStatus() (text, short string) {
	ls := u.cfg.Listeners
	if len(ls) == 0 {
		return "[::b]frametap[::-] " + tview.Escape(u.cfg.Listen) + " " + tview.Escape(u.cfg.Mode), "[::b]frametap[::-] " + tview.Escape(u.cfg.Listen)
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = tview.Escape(l.Addr + " " + l.Mode)
	}
	short = "[::b]frametap[::-] " + tview.Escape(ls[0].Addr)
	if len(ls) > 1 {
		short += " +" + strconv.Itoa(len(ls)-1)
	}
	return "[::b]frametap[::-] " + strings.Join(parts, ", "), short
}

// modeNote is the summary's word on how connection c came in: its mode
// and, when known, the listener ("socks5@127.0.0.1:1080 ·").
func modeNote(c *conn) string {
	if c.mode == "" {
		return ""
	}
	s := c.mode
	if c.listen != "" {
		s += "@" + c.listen
	}
	return " [gray]" + tview.Escape(s) + "[-] ·"
}
