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

// key is one of the dashboard's own keys: the help page lists them in
// order, and onKey runs the first whose runes take the key pressed. A new
// view or action adds its key here (and one line to the help).
type dashKey struct {
	help  binding
	runes string       // the runes it answers to; "" for keys handled elsewhere (the tables', Tab, Enter, Esc)
	on    func(r rune) // what it does
	when  func() bool  // nil: always there; else only while it says so (help and keys alike)
}

// keys lists the dashboard's keys.
func (u *UI) keys() []dashKey {
	live := func() bool { return !u.cfg.ReadOnly }
	return []dashKey{
		{help: binding{"↑ ↓  j k", "move the selection (also PgUp PgDn, g G Home End)"}},
		{help: binding{"Tab  Shift-Tab", "next / previous pane: connections, timeline, detail"}},
		{help: binding{"Enter", "open: connection → its timeline → the row's detail"}},
		{help: binding{"Esc", "back one pane; in the connections pane, clear the filter"}},
		{help: binding{"t", "timeline: one row per exchange, or every event"}, runes: "t", on: func(rune) { u.toggleView() }},
		{help: binding{"F", "HTTP/2 frames of the connection: type, flags, stream, settings"}, runes: "F", on: func(rune) { u.toggleFrames() }},
		{help: binding{"/", "filter: ~ws ~op text · ~b hello · a word is ~u (atoms below)"}, runes: "/", on: func(rune) {
			u.openPrompt("filter", filterLabel, u.filterSrc())
		}},
		{help: binding{"h  H", "hide the selected connection's host / edit the hidden hosts"}, runes: "hH", on: func(r rune) {
			if r == 'h' {
				u.hideSelected()
			} else {
				u.openPrompt("hide", "hidden hosts (space-separated; empty shows all): ", strings.Join(u.hidden, " "))
			}
		}},
		{help: binding{"P", "push view: how each host pushes, what each way costs"}, runes: "P", on: func(rune) { u.showPush(true) }},
		{help: binding{"i", "inject a message into the WebSocket, to the server or the client"}, runes: "i", when: func() bool { return u.cfg.Inject != nil }, on: func(rune) { u.askInject() }},
		{help: binding{"e  E", "copy as a command (curl; websocat) to a file / the clipboard"}, runes: "eE", on: func(r rune) { u.askExport(r == 'E') }},
		{help: binding{"v", "show bodies by type, as JSON paths, as text, in hex"}, runes: "v", on: func(rune) { u.cycleBodyMode() }},
		{help: binding{"s", "save the selected body or message payload to a file"}, runes: "s", on: func(rune) { u.askSave() }},
		{help: binding{"f", "follow new connections and rows on/off"}, runes: "f", on: func(rune) {
			u.follow = !u.follow
			if u.follow {
				u.selectLast()
			}
			u.paintStatus()
		}},
		{help: binding{"p", "pause the display (the proxy and capture go on)"}, runes: "p", when: live, on: func(rune) {
			u.paused = !u.paused
			if !u.paused {
				u.refresh()
			}
			u.paintStatus()
		}},
		{help: binding{"w", "write the events held so far to a capture file"}, runes: "w", when: func() bool { return live() && u.cfg.CaptureFile == "" }, on: func(rune) {
			u.openPrompt("write", "write the capture so far to: ", time.Now().Format("frametap-20060102-150405.jsonl"))
		}},
		{help: binding{"c", "clear the events and the closed connections"}, runes: "c", on: func(rune) {
			u.store.Clear()
			u.st.clear()
			u.clearPush()
			u.base = u.store.Base()
			u.tlConn, u.shown = nil, shownRow{}
			u.refresh()
		}},
		{help: binding{"?", "this help"}, runes: "?", on: func(rune) { u.showHelp(true) }},
		{help: binding{"q  Ctrl-C", "quit"}, runes: "q", on: func(rune) { u.Quit() }},
		{help: binding{"mouse", "click to select, wheel to scroll"}},
	}
}

// bindings lists every key the dashboard answers to, as the help page shows
// them.
func (u *UI) bindings() []binding {
	var bs []binding
	for _, k := range u.keys() {
		if k.when == nil || k.when() {
			bs = append(bs, k.help)
		}
	}
	return bs
}

// helpLegend follows the keys on the help page: what the tables' marks
// mean.
var helpLegend = []string{
	"",
	"STATE idle: nothing under way · waiting: a request is out · sending,",
	"receiving: bytes flow. … : still coming. BYTES ~: an estimate (no close).",
}

func (u *UI) helpText() string {
	var sb strings.Builder
	for _, b := range u.bindings() {
		fmt.Fprintf(&sb, " [yellow]%-15s[-] %s\n", b.keys, b.what)
	}
	for _, l := range helpLegend {
		fmt.Fprintf(&sb, " [gray]%s[-]\n", l)
	}
	sb.WriteString(filterHelp())
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
			return nil
		}
		return ev // to the help page, which scrolls; nothing else acts
	}
	if u.comp != nil && !u.comp.form.HasFocus() {
		u.focusComposer(u.comp.focus) // a click took the focus away
	}
	if u.prompting != "" || u.comp != nil {
		return ev // the prompt (the composer) takes every key; Enter and Esc end it
	}
	if u.push.shown {
		switch {
		case ev.Key() == tcell.KeyEscape || ev.Key() == tcell.KeyRune && ev.Rune() == 'P':
			u.showPush(false)
		case ev.Key() == tcell.KeyRune && ev.Rune() == 'q':
			u.Quit()
		case ev.Key() == tcell.KeyRune:
		default:
			return ev // the table's keys: up, down, PgUp, PgDn
		}
		return nil
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
			u.clearFilter()
		}
		return nil
	case tcell.KeyRune:
	default:
		return ev
	}
	for _, k := range u.keys() {
		if k.on != nil && strings.ContainsRune(k.runes, ev.Rune()) && (k.when == nil || k.when()) {
			k.on(ev.Rune())
			return nil
		}
	}
	return ev
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
	if kind == "filter" && key == tcell.KeyEnter && !u.applyFilter(text) {
		return // the prompt stays, the error under it
	}
	u.hidePromptError()
	u.prompting = ""
	u.layout.ResizeItem(u.prompt, 0, 0)
	u.setPane(u.pane)
	if key != tcell.KeyEnter {
		return
	}
	switch kind {
	case "write":
		u.write(text)
	case "hide":
		u.setHidden(strings.Fields(text))
	case "save":
		u.save(text)
	case "export":
		u.export(text)
	}
}

func (u *UI) filterSrc() string {
	if u.st.filter == nil {
		return ""
	}
	return u.st.filter.source()
}

// clearFilter shows every connection again.
func (u *UI) clearFilter() {
	u.st.setFilter(nil, u.store)
	u.reselect()
}

// reselect shows the connections the filter and the hidden hosts let
// through, and selects the newest.
func (u *UI) reselect() {
	u.connView = u.st.visible(u.connView, u.hidden)
	u.tlConn, u.tlScanned, u.tlView, u.shown = nil, 0, nil, shownRow{}
	u.resetExchanges()
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
	evs, n := u.store.Snapshot()
	u.setNote(fmt.Sprintf("writing %d events to %s…", n, tview.Escape(path)))
	go func() {
		err := capture.WriteFileSeq(path, evs)
		if err != nil {
			u.setAlert("[red]write failed: " + tview.Escape(err.Error()) + "[-]")
		} else {
			u.setNote(fmt.Sprintf("wrote %d events to %s (bodies cut at %s)", n, tview.Escape(path), size(MaxKeep)))
		}
		u.dirty.Store(true)
	}()
}

// setNote sets the status line's message: news the line may drop when
// the terminal is narrow.
func (u *UI) setNote(s string) { u.putNote(s, false) }

// setAlert sets a message that stays on the status line whatever its
// width: a failure the user must see.
func (u *UI) setAlert(s string) { u.putNote(s, true) }

func (u *UI) putNote(s string, alert bool) {
	u.noteMu.Lock()
	u.note, u.noteAlert = s, alert
	u.noteMu.Unlock()
}

func (u *UI) getNote() string {
	u.noteMu.Lock()
	defer u.noteMu.Unlock()
	return u.note
}

// noteRank is how long the message stays on a narrow status line.
func (u *UI) noteRank() int {
	u.noteMu.Lock()
	defer u.noteMu.Unlock()
	if u.noteAlert {
		return statusKeep
	}
	return 50
}
