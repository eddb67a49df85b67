package ui

import (
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/frametap/frametap/capture"
	"github.com/rivo/tview"
)

// This file is what the newer keys do: t switches the timeline between
// exchanges and events, h and H hide connections by host, v changes how
// bodies are shown, s saves a body or payload to a file.

// toggleView switches the timeline pane between the exchanges view and
// the events view.
func (u *UI) toggleView() {
	u.shown = shownRow{}
	if u.view != viewExchanges {
		u.setView(viewExchanges)
		return
	}
	u.setView(viewEvents)
}

// cycleBodyMode shows bodies the next way: by type, JSON paths, text, hex.
func (u *UI) cycleBodyMode() {
	u.bodyMode = (u.bodyMode + 1) % bodyModes
	r, _ := u.timeline.GetSelection()
	u.rowSelected(r)
	u.setNote("bodies shown " + bodyModeNames[u.bodyMode] + " (v)")
	u.paintStatus()
}

// hideSelected hides the connections to the selected connection's host.
func (u *UI) hideSelected() {
	r, _ := u.conns.GetSelection()
	if r < 1 || r > len(u.connView) || u.connView[r-1].host == "" {
		return
	}
	u.setHidden(append(u.hidden, u.connView[r-1].host))
}

// setHidden replaces the hidden hosts.
func (u *UI) setHidden(hosts []string) {
	u.hidden = u.hidden[:0]
	seen := map[string]bool{}
	for _, h := range hosts {
		if k := strings.ToLower(h); !seen[k] {
			seen[k] = true
			u.hidden = append(u.hidden, h)
		}
	}
	u.reselect()
}

// hiddenHost reports whether host is one of hidden: the same host:port,
// or the same host when the entry has no port.
func hiddenHost(host string, hidden []string) bool {
	if host == "" {
		return false
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	for _, h := range hidden {
		if strings.EqualFold(h, host) {
			return true
		}
		if _, _, err := net.SplitHostPort(h); err != nil && strings.EqualFold(strings.Trim(h, "[]"), name) {
			return true
		}
	}
	return false
}

// selectedEvent returns the event whose body or payload the s key saves:
// the selected row's message, request or response; for an exchange, its
// response when it has a body, else its request.
func (u *UI) selectedEvent() *capture.Event {
	row, _ := u.timeline.GetSelection()
	if u.view != viewExchanges { // events, HTTP/2 frames
		if row < 1 || row > len(u.tlView) {
			return nil
		}
		return u.store.At(u.tlView[row-1])
	}
	r, ok := u.xrowAt(row)
	switch {
	case !ok:
		return nil
	case r.ex == nil:
		return u.store.At(r.ev)
	}
	if r.ex.resp >= 0 {
		if ev := u.store.At(r.ex.resp); ev != nil && len(ev.Body) > 0 {
			return ev
		}
	}
	if r.ex.req >= 0 {
		return u.store.At(r.ex.req)
	}
	return nil
}

// askSave opens the prompt for where to save the selected body.
func (u *UI) askSave() {
	ev := u.selectedEvent()
	if ev == nil || ev.Kind != capture.KindRequest && ev.Kind != capture.KindResponse && ev.Kind != capture.KindMessage {
		u.setNote("[yellow]s: select a request, a response or a message first[-]")
		u.paintStatus()
		return
	}
	if b, _ := bodyToSave(ev); len(b) == 0 {
		u.setNote("[yellow]s: it has no body to save[-]")
		u.paintStatus()
		return
	}
	u.saving = ev
	u.openPrompt("save", "save to: ", saveName(ev))
}

// save writes the body chosen by askSave to path, in the background, and
// reports through the status line. The file is made 0600: bodies can hold
// secrets.
func (u *UI) save(path string) {
	ev := u.saving
	u.saving = nil
	if ev == nil || path == "" {
		return
	}
	b, what := bodyToSave(ev)
	u.setNote(fmt.Sprintf("saving %s to %s…", what, tview.Escape(path)))
	go func() {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			u.setAlert("[red]save failed: " + tview.Escape(err.Error()) + "[-]")
		} else {
			u.setNote(fmt.Sprintf("saved %s to %s", what, tview.Escape(path)))
		}
		u.dirty.Store(true)
	}()
}

// saveName proposes a file name for ev's body: conn, exchange and what it
// is, with an extension for its type.
func saveName(ev *capture.Event) string {
	switch ev.Kind {
	case capture.KindMessage:
		ext := ".bin"
		if ev.Op == "text" {
			ext = ".txt"
			if b := strings.TrimSpace(string(ev.Payload)); strings.HasPrefix(b, "{") || strings.HasPrefix(b, "[") {
				ext = ".json"
			}
		}
		return fmt.Sprintf("frametap-%d-%s-%s%s", ev.Conn, ev.From, ev.Time.Format("150405.000000"), ext)
	}
	ext := ".bin"
	switch mt := contentType(ev.Headers); {
	case strings.Contains(mt, "json"):
		ext = ".json"
	case strings.HasPrefix(mt, "text/html"):
		ext = ".html"
	case strings.HasPrefix(mt, "text/"):
		ext = ".txt"
	case strings.HasPrefix(mt, "image/"):
		ext = "." + strings.TrimSuffix(shortType(mt), "+xml")
	case strings.Contains(mt, "javascript"):
		ext = ".js"
	}
	return fmt.Sprintf("frametap-%d-%d-%s%s", ev.Conn, ev.Seq, ev.Kind, ext)
}
