package ui

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/capture/copyas"
	"github.com/rivo/tview"
)

// This file is "copy as a command" (e and E, mitmproxy's export habit,
// Chrome's "Copy as cURL"): the selected HTTP exchange as a curl command,
// a WebSocket (its handshake and the client's messages) as a websocat
// command line and the messages, rendered by capture/copyas; e writes it
// to a file (a prompt proposes a name), E copies it to the clipboard with
// the OSC 52 escape sequence, which terminals (xterm, kitty, iTerm2,
// WezTerm, Windows Terminal...) and tmux (set-clipboard on) take, over SSH
// too.

// exported is a command ready to write: its text, what it is and the
// file name proposed for it.
type exported struct {
	text, what, name string
}

// errNothingToExport: the selection is neither an HTTP exchange nor a
// WebSocket.
var errNothingToExport = errors.New("select an HTTP exchange or a WebSocket message first")

// exportSelected renders the timeline's selected row: an HTTP exchange's
// request as curl; a WebSocket message, or the exchange that upgraded, as
// websocat with the client's messages.
func (u *UI) exportSelected() (exported, error) {
	c := u.tlConn
	if c == nil {
		return exported{}, errNothingToExport
	}
	row, _ := u.timeline.GetSelection()
	var req *capture.Event
	ws := false
	switch r, ok := u.xrowAt(row); {
	case u.view == viewEvents:
		if row < 1 || row > len(u.tlView) {
			return exported{}, errNothingToExport
		}
		ev := u.store.At(u.tlView[row-1])
		switch {
		case ev == nil:
			return exported{}, errors.New(u.droppedWhere())
		case ev.Kind == capture.KindRequest:
			req = ev
		case ev.Kind == capture.KindResponse:
			req = u.pairOf(c, u.tlView[row-1], ev)
		}
		ws = c.ws && (req == nil || ev.Seq == c.upgradeSeq())
	case !ok:
		return exported{}, errNothingToExport
	case r.ex != nil:
		if r.ex.req >= 0 {
			req = u.store.At(r.ex.req)
		}
		ws = r.ex.upgraded && c.ws
		if req == nil && !ws {
			return exported{}, errors.New("its request is not held: " + u.droppedWhere())
		}
	default:
		ws = c.ws
	}
	if ws {
		var evs []*capture.Event
		for _, i := range c.all {
			if ev := u.store.At(i); ev != nil {
				evs = append(evs, ev)
			}
		}
		w, err := copyas.WebSocat(evs)
		if err != nil {
			return exported{}, err
		}
		return exported{text: w.String(), what: fmt.Sprintf("a websocat command and %d client %s", len(w.Messages), plural(len(w.Messages), "message", "messages")),
			name: fmt.Sprintf("frametap-%d-websocat.sh", c.id)}, nil
	}
	if req == nil {
		return exported{}, errNothingToExport
	}
	s, err := copyas.Curl(req)
	if err != nil {
		return exported{}, err
	}
	return exported{text: s + "\n", what: "a curl command", name: fmt.Sprintf("frametap-%d-%d-curl.sh", c.id, req.Seq)}, nil
}

// upgradeSeq returns the seq of the exchange that upgraded c to
// WebSocket, 0 when none is known.
func (c *conn) upgradeSeq() int {
	for k := len(c.xs) - 1; k >= 0; k-- {
		if c.xs[k].upgraded {
			return c.xs[k].seq
		}
	}
	return 0
}

// askExport opens the prompt for the file the selection's command goes
// to (e), or copies it to the clipboard (E).
func (u *UI) askExport(clip bool) {
	x, err := u.exportSelected()
	if err != nil {
		u.notice("[yellow]e: " + tview.Escape(err.Error()) + "[-]")
		return
	}
	if clip {
		if err := u.copyToClipboard([]byte(x.text)); err != nil {
			u.setAlert("[red]E: " + tview.Escape(err.Error()) + "[-]")
		} else {
			u.setNote(fmt.Sprintf("copied %s to the clipboard (%s, OSC 52)", x.what, size(int64(len(x.text)))))
		}
		u.paintStatus()
		return
	}
	u.exporting = &x
	u.openPrompt("export", "write "+x.what+" to: ", x.name)
}

// export writes the command askExport rendered to path, in the
// background, 0600 (commands carry cookies and tokens), and reports
// through the status line.
func (u *UI) export(path string) {
	x := u.exporting
	u.exporting = nil
	if x == nil || path == "" {
		return
	}
	go func() {
		if err := os.WriteFile(path, []byte(x.text), 0o600); err != nil {
			u.setAlert("[red]export failed: " + tview.Escape(err.Error()) + "[-]")
		} else {
			u.setNote(fmt.Sprintf("wrote %s to %s", x.what, tview.Escape(path)))
		}
		u.dirty.Store(true)
	}()
}

// maxClipboard bounds what E copies: terminals cap OSC 52 (xterm at about
// 100 KB of base64 by default).
const maxClipboard = 64 << 10

// copyToClipboard sends b to the terminal's clipboard: OSC 52 written to
// the terminal, between two draws (it runs on the UI goroutine, as draws
// do). On a screen without a terminal (a simulation), the screen's own
// clipboard takes it.
func (u *UI) copyToClipboard(b []byte) error {
	if len(b) > maxClipboard {
		return fmt.Errorf("%s is more than the %s terminals take through OSC 52: write it to a file (e)", size(int64(len(b))), size(maxClipboard))
	}
	scr := u.scr
	if scr == nil {
		scr = u.cfg.Screen
	}
	if scr == nil {
		return errors.New("no terminal to copy to yet")
	}
	if tty, ok := scr.Tty(); ok {
		_, err := io.WriteString(tty, osc52(b))
		return err
	}
	scr.SetClipboard(b)
	return nil
}

// osc52 is the escape sequence that sets the clipboard ("c") to b:
// ESC ] 52 ; c ; base64 BEL (xterm's control sequences, "Operating System
// Commands").
func osc52(b []byte) string {
	return "\x1b]52;c;" + base64.StdEncoding.EncodeToString(b) + "\a"
}
