package ui

import (
	"context"
	"encoding/base64"
	"fmt"
	"unicode/utf8"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// This file is the inject composer (the i key): on a live WebSocket, a
// small form over the dashboard to write one message into the
// connection, toward the server or the client. It opens prefilled from
// the selected message (its direction, type and payload); Tab moves
// between the fields, ← → choose, Enter sends, Ctrl-J (or Alt-Enter) puts
// a new line in the payload, Esc cancels (or, while the message waits for
// the end of one under way, gives up on it: nothing is sent). What the
// proxy says (sent, refused and why, waiting) is shown in the composer;
// once sent, the composer closes and the message shows in the timeline,
// marked injected.

// composer is the inject composer while it is open.
type composer struct {
	conn    *conn
	page    *tview.Flex // centred on the screen
	form    *tview.Flex // the bordered box
	to, typ *choice
	code    *tview.InputField
	reason  *tview.InputField
	payload *tview.TextArea
	msg     *tview.TextView
	focus   int
	cancel  context.CancelFunc // while sending
	news    *injectNews        // the Inject call in progress
}

const composerWidth, composerHeight = 76, 16

// askInject opens the composer on the timeline's connection, prefilled
// from the selected message, when it carries a WebSocket that takes one.
func (u *UI) askInject() {
	c := u.tlConn
	switch {
	case c == nil:
		u.notice("[yellow]i: select a WebSocket connection first[-]")
		return
	case !c.ws:
		u.notice(fmt.Sprintf("[yellow]i: connection #%d is not a WebSocket[-]", c.id))
		return
	case c.state == stateClosed:
		u.notice(fmt.Sprintf("[yellow]i: connection #%d is closed[-]", c.id))
		return
	}
	errUp, errDown := u.cfg.Inject.Injectable(c.id, true), u.cfg.Inject.Injectable(c.id, false)
	if errUp != nil && errDown != nil {
		u.notice("[red]i: " + tview.Escape(errUp.Error()) + "[-]")
		return
	}
	cp := &composer{conn: c}
	u.comp = cp
	cp.to = newChoice("To      ", "server", "client")
	cp.typ = newChoice("Type    ")
	for _, t := range injectTypes {
		cp.typ.options = append(cp.typ.options, t.name)
	}
	cp.code = tview.NewInputField().SetLabel("Code    ").SetFieldWidth(6).SetAcceptanceFunc(tview.InputFieldInteger)
	cp.reason = tview.NewInputField().SetLabel("Reason  ")
	cp.payload = tview.NewTextArea().SetLabel("Payload ").SetPlaceholder("(empty)")
	cp.msg = tview.NewTextView().SetDynamicColors(true).SetWrap(true)
	if errUp != nil {
		cp.to.sel = 1
	}
	if ev := u.selectedEvent(); ev != nil && ev.Kind == capture.KindMessage && ev.Conn == c.id {
		if ev.From == "server" && errDown == nil {
			cp.to.sel = 1
		} else if ev.From == "client" && errUp == nil {
			cp.to.sel = 0
		}
		var p string
		cp.typ.sel, p = injectTypeOf(ev)
		cp.payload.SetText(p, true)
		if ev.Op == "close" {
			if ev.Code != 0 {
				cp.code.SetText(fmt.Sprint(ev.Code))
			}
			cp.reason.SetText(ev.Reason)
		}
		if ev.Truncated {
			cp.say(fmt.Sprintf("[yellow]prefilled with the first %s of the message, all the dashboard keeps[-]", size(MaxKeep)))
		}
	}
	last := cp.typ.sel
	cp.typ.changed = func() {
		cp.recode(injectTypes[last].enc, injectTypes[cp.typ.sel].enc)
		last = cp.typ.sel
		u.layoutComposer()
	}
	hint := tview.NewTextView().SetDynamicColors(true).SetWrap(true).
		SetText("[gray]Tab next field · ← → choose · Enter send · Ctrl-J new line · Esc cancel[-]")
	cp.form = tview.NewFlex().SetDirection(tview.FlexRow)
	cp.form.SetBorder(true).SetTitle(fmt.Sprintf(" Inject into #%d %s ", c.id, tview.Escape(c.host))).SetTitleAlign(tview.AlignLeft)
	cp.form.SetBorderColor(tcell.ColorYellow)
	cp.form.SetInputCapture(u.composerKey)
	cp.form.AddItem(cp.to, 1, 0, true).
		AddItem(cp.typ, 1, 0, false).
		AddItem(cp.code, 1, 0, false).
		AddItem(cp.reason, 1, 0, false).
		AddItem(cp.payload, 0, 1, false).
		AddItem(cp.msg, 2, 0, false).
		AddItem(hint, 1, 0, false)
	cp.page = tview.NewFlex().
		AddItem(nil, 0, 1, false).
		AddItem(tview.NewFlex().SetDirection(tview.FlexRow).
			AddItem(nil, 0, 1, false).
			AddItem(cp.form, composerHeight, 0, true).
			AddItem(nil, 0, 1, false), composerWidth, 0, true).
		AddItem(nil, 0, 1, false)
	u.pages.AddPage("inject", cp.page, true, true)
	u.layoutComposer()
	u.focusComposer(0)
}

// notice puts s on the status line now.
func (u *UI) notice(s string) {
	u.setNote(s)
	u.paintStatus()
}

// fields returns the composer's fields in Tab order: code and reason for
// a close, the payload for the others.
func (cp *composer) fields() []tview.Primitive {
	if injectTypes[cp.typ.sel].op == "close" {
		return []tview.Primitive{cp.to, cp.typ, cp.code, cp.reason}
	}
	return []tview.Primitive{cp.to, cp.typ, cp.payload}
}

// layoutComposer shows the fields of the chosen type.
func (u *UI) layoutComposer() {
	cp := u.comp
	closing := injectTypes[cp.typ.sel].op == "close"
	h := func(on bool, n, p int) (int, int) {
		if on {
			return n, p
		}
		return 0, 0
	}
	n, p := h(closing, 1, 0)
	cp.form.ResizeItem(cp.code, n, p)
	cp.form.ResizeItem(cp.reason, n, p)
	n, p = h(!closing, 0, 1)
	cp.form.ResizeItem(cp.payload, n, p)
	if n == 0 && p == 0 {
		cp.form.ResizeItem(cp.payload, 0, 0)
	}
	if cp.focus >= len(cp.fields()) {
		u.focusComposer(len(cp.fields()) - 1)
	}
}

func (u *UI) focusComposer(i int) {
	cp := u.comp
	fs := cp.fields()
	cp.focus = (i + len(fs)) % len(fs)
	u.app.SetFocus(fs[cp.focus])
}

// composerKey takes the composer's keys before its fields do.
func (u *UI) composerKey(ev *tcell.EventKey) *tcell.EventKey {
	cp := u.comp
	if cp == nil {
		return ev
	}
	switch ev.Key() {
	case tcell.KeyEscape:
		if cp.cancel != nil {
			cp.cancel() // Inject returns, saying nothing was sent
			return nil
		}
		u.closeComposer()
		return nil
	case tcell.KeyTab:
		u.focusComposer(cp.focus + 1)
		return nil
	case tcell.KeyBacktab:
		u.focusComposer(cp.focus - 1)
		return nil
	case tcell.KeyEnter:
		if ev.Modifiers()&tcell.ModAlt != 0 {
			if cp.fields()[cp.focus] == cp.payload {
				return tcell.NewEventKey(tcell.KeyEnter, '\n', tcell.ModNone)
			}
			return nil
		}
		u.sendInjection()
		return nil
	case tcell.KeyCtrlJ:
		if cp.fields()[cp.focus] == cp.payload {
			return tcell.NewEventKey(tcell.KeyEnter, '\n', tcell.ModNone)
		}
		return nil
	}
	if cp.cancel != nil {
		return nil // sending: the fields stay as they are
	}
	return ev
}

// recode rewrites the payload from one encoding to another (hex to
// base64, say), when it reads in the first: the bytes stay the same.
func (cp *composer) recode(from, to int) {
	if from == to {
		return
	}
	b, err := decodePayload(cp.payload.GetText(), from)
	if err != nil {
		return
	}
	switch to {
	case encHex:
		cp.payload.SetText(hexGroups(b), true)
	case encBase64:
		cp.payload.SetText(base64.StdEncoding.EncodeToString(b), true)
	default:
		if utf8.Valid(b) {
			cp.payload.SetText(string(b), true)
		}
	}
}

// say shows s in the composer's message line.
func (cp *composer) say(s string) { cp.msg.SetText(s) }

// sendInjection builds the message from the fields and hands it to the
// Injector, in a goroutine: it may wait for the end of a message under
// way. What comes of it is taken by takeInjectNews.
func (u *UI) sendInjection() {
	cp := u.comp
	if cp.cancel != nil {
		return // one at a time
	}
	t := injectTypes[cp.typ.sel]
	m := Injection{ToServer: cp.to.sel == 0, Op: t.op}
	var err error
	if t.op == "close" {
		m.CloseReason = cp.reason.GetText()
		m.CloseCode, err = parseCloseCode(cp.code.GetText())
	} else {
		m.Payload, err = decodePayload(cp.payload.GetText(), t.enc)
	}
	if err != nil {
		cp.say("[red]not sent: " + tview.Escape(err.Error()) + "[-]")
		return
	}
	dir := "to the server"
	if !m.ToServer {
		dir = "to the client"
	}
	what := fmt.Sprintf("%s message (%s) %s of #%d", t.op, size(int64(len(m.Payload))), dir, cp.conn.id)
	if t.op == "close" {
		what = fmt.Sprintf("close %d %q %s of #%d", m.CloseCode, m.CloseReason, dir, cp.conn.id)
	}
	news := &injectNews{}
	m.OnWait = func() {
		news.set(func(n *injectNews) { n.waiting = true })
		u.dirty.Store(true)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cp.cancel, cp.news = cancel, news
	cp.say("[yellow]sending…[-]")
	inj, id := u.cfg.Inject, cp.conn.id
	go func() {
		err := inj.Inject(ctx, id, m)
		cancel()
		news.set(func(n *injectNews) { n.done, n.err, n.what = true, err, what })
		u.dirty.Store(true)
	}()
}

// takeInjectNews shows what became of the message being sent: the
// composer closes and the status line says it was written, or the
// composer stays and says why it was not, or that it waits.
func (u *UI) takeInjectNews() {
	cp := u.comp
	if cp == nil || cp.news == nil {
		return
	}
	waiting, done, what, err := cp.news.take()
	switch {
	case done && err == nil:
		u.closeComposer()
		u.setNote("injected a " + tview.Escape(what))
	case done:
		cp.cancel, cp.news = nil, nil
		cp.say("[red]" + tview.Escape(err.Error()) + "[-]")
	case waiting:
		cp.say("[yellow]waiting for the end of the message under way in that direction (a fragmented message); Esc gives up[-]")
	}
}

// closeComposer takes the composer away; a message being sent goes on.
func (u *UI) closeComposer() {
	if u.comp == nil {
		return
	}
	u.comp = nil
	u.pages.RemovePage("inject")
	u.setPane(u.pane)
}

// choice is a one-line field that shows its options side by side, the
// chosen one highlighted; ← → (or h l, Space) choose.
type choice struct {
	*tview.Box
	label   string
	options []string
	sel     int
	changed func()
}

func newChoice(label string, options ...string) *choice {
	return &choice{Box: tview.NewBox(), label: label, options: options}
}

// Draw draws the label and the options.
func (c *choice) Draw(screen tcell.Screen) {
	c.Box.DrawForSubclass(screen, c)
	x, y, w, _ := c.GetInnerRect()
	labelStyle := tcell.StyleDefault.Foreground(tcell.ColorYellow)
	if c.HasFocus() {
		labelStyle = labelStyle.Bold(true)
	}
	end := x + w
	x += printAt(screen, c.label, x, y, end, labelStyle)
	for i, o := range c.options {
		st := tcell.StyleDefault.Foreground(tcell.ColorSilver)
		text := " " + o + " "
		if i == c.sel {
			st = tcell.StyleDefault.Foreground(tcell.ColorBlack).Background(tcell.ColorSilver)
			if c.HasFocus() {
				st = st.Background(tcell.ColorYellow)
			}
			text = "[" + o + "]"
		}
		x += printAt(screen, text, x, y, end, st) + 1
	}
}

// printAt prints s from x on row y, up to end, and returns its width.
func printAt(screen tcell.Screen, s string, x, y, end int, st tcell.Style) int {
	n := 0
	for _, r := range s {
		if x+n >= end {
			break
		}
		screen.SetContent(x+n, y, r, nil, st)
		n++
	}
	return n
}

// InputHandler moves the choice.
func (c *choice) InputHandler() func(*tcell.EventKey, func(tview.Primitive)) {
	return c.WrapInputHandler(func(ev *tcell.EventKey, _ func(tview.Primitive)) {
		old := c.sel
		switch {
		case ev.Key() == tcell.KeyLeft, ev.Key() == tcell.KeyRune && ev.Rune() == 'h':
			c.sel = (c.sel + len(c.options) - 1) % len(c.options)
		case ev.Key() == tcell.KeyRight, ev.Key() == tcell.KeyRune && (ev.Rune() == 'l' || ev.Rune() == ' '):
			c.sel = (c.sel + 1) % len(c.options)
		}
		if c.sel != old && c.changed != nil {
			c.changed()
		}
	})
}
