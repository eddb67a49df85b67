package ui

import (
	"fmt"
	"strings"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// binding is one line of the help page.
type binding struct{ keys, what string }

// bindings lists every key the dashboard answers to, as the help page shows
// them; onKey and the tview widgets implement them.
func (u *UI) bindings() []binding {
	bs := []binding{
		{"↑ ↓  j k", "move the selection (also PgUp PgDn, g G Home End)"},
		{"Tab  Shift-Tab", "next / previous pane: connections, timeline, detail"},
		{"Enter", "open: connection → its timeline → the row's detail"},
		{"Esc", "back one pane; in the connections pane, clear the filter"},
		{"/", "filter: host, path, direction, op, text (regex or plain)"},
		{"f", "follow new connections and rows on/off"},
	}
	if !u.cfg.ReadOnly {
		bs = append(bs, binding{"p", "pause the display (the proxy and capture go on)"})
		if u.cfg.CaptureFile == "" {
			bs = append(bs, binding{"w", "write the events held so far to a capture file"})
		}
	}
	return append(bs,
		binding{"c", "clear the events and the closed connections"},
		binding{"?", "this help"},
		binding{"q  Ctrl-C", "quit"},
		binding{"mouse", "click to select, wheel to scroll"},
	)
}

func (u *UI) helpText() string {
	var sb strings.Builder
	for _, b := range u.bindings() {
		fmt.Fprintf(&sb, " [yellow]%-15s[-] %s\n", b.keys, b.what)
	}
	return sb.String()
}

// onKey handles the dashboard's own keys before the focused widget sees
// them. It runs on the UI goroutine: it must never QueueUpdate or Draw.
func (u *UI) onKey(ev *tcell.EventKey) *tcell.EventKey {
	if ev.Key() == tcell.KeyCtrlC {
		u.Quit()
		return nil
	}
	if u.helpShown {
		if ev.Key() == tcell.KeyEscape || ev.Key() == tcell.KeyRune && (ev.Rune() == 'q' || ev.Rune() == '?') {
			u.showHelp(false)
		}
		return nil
	}
	if u.prompting != "" {
		return ev // the prompt takes every key; Enter and Esc end it
	}
	switch ev.Key() {
	case tcell.KeyTab:
		u.setPane((u.pane + 1) % len(u.panes))
		return nil
	case tcell.KeyBacktab:
		u.setPane((u.pane + len(u.panes) - 1) % len(u.panes))
		return nil
	case tcell.KeyEnter:
		if u.pane < paneDetail {
			u.setPane(u.pane + 1)
		}
		return nil
	case tcell.KeyEscape:
		if u.pane > paneConns {
			u.setPane(u.pane - 1)
		} else if u.st.filter != nil {
			u.setFilter("")
		}
		return nil
	case tcell.KeyRune:
	default:
		return ev
	}
	switch ev.Rune() {
	case 'q':
		u.Quit()
	case '?':
		u.showHelp(true)
	case '/':
		u.openPrompt("filter", "filter (regex or text): ", u.filterSrc())
	case 'f':
		u.follow = !u.follow
		if u.follow {
			u.selectLast()
		}
		u.paintStatus()
	case 'p':
		if u.cfg.ReadOnly {
			return ev
		}
		u.paused = !u.paused
		if !u.paused {
			u.refresh()
		}
		u.paintStatus()
	case 'w':
		if u.cfg.ReadOnly || u.cfg.CaptureFile != "" {
			return ev
		}
		u.openPrompt("write", "write the capture so far to: ", time.Now().Format("frametap-20060102-150405.jsonl"))
	case 'c':
		u.store.Clear()
		u.st.clear()
		u.base = u.store.Base()
		u.tlConn = nil
		u.refresh()
	default:
		return ev
	}
	return nil
}

func (u *UI) showHelp(on bool) {
	u.helpShown = on
	if on {
		u.help.SetText(u.helpText())
		u.pages.ShowPage("help")
		u.app.SetFocus(u.help)
		return
	}
	u.pages.HidePage("help")
	u.setPane(u.pane)
}

func (u *UI) openPrompt(kind, label, text string) {
	u.prompting = kind
	u.prompt.SetLabel(label).SetText(text)
	u.layout.ResizeItem(u.prompt, 1, 0)
	u.app.SetFocus(u.prompt)
}

func (u *UI) promptDone(key tcell.Key) {
	kind, text := u.prompting, u.prompt.GetText()
	u.prompting = ""
	u.layout.ResizeItem(u.prompt, 0, 0)
	u.setPane(u.pane)
	if key != tcell.KeyEnter {
		return
	}
	switch kind {
	case "filter":
		u.setFilter(text)
	case "write":
		u.write(text)
	}
}

func (u *UI) filterSrc() string {
	if u.st.filter == nil {
		return ""
	}
	return u.st.filter.src
}

func (u *UI) setFilter(src string) {
	u.st.setFilter(newMatcher(src), u.store)
	u.connView = u.st.visible(u.connView)
	u.tlConn, u.tlScanned, u.tlView = nil, 0, nil
	u.selecting = true
	u.conns.Select(max(1, len(u.connView)), 0)
	u.selecting = false
	r, _ := u.conns.GetSelection()
	u.connSelected(r)
	u.paintStatus()
	u.paintTitles()
}

// write saves the events held so far as JSON Lines, in the background,
// and reports through the status line.
func (u *UI) write(path string) {
	evs, _ := u.store.Since(0)
	u.setNote(fmt.Sprintf("writing %d events to %s…", len(evs), tview.Escape(path)))
	go func() {
		err := capture.WriteFile(path, evs)
		if err != nil {
			u.setNote("[red]write failed: " + tview.Escape(err.Error()) + "[-]")
		} else {
			u.setNote(fmt.Sprintf("wrote %d events to %s (bodies cut at %s)", len(evs), tview.Escape(path), size(MaxKeep)))
		}
		u.dirty.Store(true)
	}()
}

func (u *UI) setNote(s string) {
	u.noteMu.Lock()
	u.note = s
	u.noteMu.Unlock()
}

func (u *UI) getNote() string {
	u.noteMu.Lock()
	defer u.noteMu.Unlock()
	return u.note
}
