// Package ui is frametap's live dashboard, built on tview: a table of
// connections, the timeline of the selected connection, the detail of the
// selected row and a status line, fed by the same events as the capture log.
//
// Events reach the dashboard through a Store (a capture.Output whose Add
// copies and appends under a lock of its own, so the relay never waits on
// the screen). One pump goroutine polls the store and, at most every
// Config.Interval and only when something changed, asks tview to apply the
// new events to the model (a plain state struct with an apply reducer) and
// redraw. Tables read the model through virtual TableContents.
package ui

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// Config configures a UI. The zero value is a live dashboard on the
// terminal with nothing to say about where it listens.
type Config struct {
	// Listen is the proxy's address and Mode its mode, for the status line.
	Listen, Mode string
	// CaptureFile is the file the capture log goes to, for the status line.
	// If empty, the w key offers to write the events held so far.
	CaptureFile string
	// ReadOnly shows a saved capture (frametap view): no rates, and no p or
	// w keys. Source names the file for the status line.
	ReadOnly bool
	Source   string
	// Screen is drawn on. If nil, the terminal is used.
	Screen tcell.Screen
	// Interval is the least time between two redraws. If zero, 33ms
	// (about 30 redraws a second at most).
	Interval time.Duration
	// Insecure says upstream certificates are not verified (-k): the
	// status line then says so in red, for as long as the dashboard runs.
	Insecure bool
}

// Panes, in Tab order.
const (
	paneConns = iota
	paneTimeline
	paneDetail
)

// UI is the dashboard. Its methods, except Run and Quit, must be called
// from the UI goroutine (or before Run); Run and Quit are safe for
// concurrent use.
type UI struct {
	cfg   Config
	store *Store
	st    *state
	now   func() time.Time

	app      *tview.Application
	pages    *tview.Pages
	layout   *tview.Flex
	conns    *tview.Table
	summary  *tview.TextView
	timeline *tview.Table
	detail   *tview.TextView
	prompt   *tview.InputField
	status   *tview.TextView
	help     *tview.TextView
	panes    []tview.Primitive

	connView  []*conn // the connections the filter lets through
	tlConn    *conn   // the connection the timeline shows
	tlView    []int   // absolute indices of its rows the filter lets through
	tlScanned int     // how many of tlConn.rows tlView has looked at
	base      int     // the store's Base when last trimmed
	pane      int
	follow    bool
	paused    bool
	helpShown bool
	prompting string // "filter" or "write" while the prompt is open
	selecting bool   // the selection is being moved by code, not the user
	samples   []sample

	seen     atomic.Int64 // the store's Total when last refreshed
	dirty    atomic.Bool  // something besides events changed (a write finished)
	noteMu   sync.Mutex
	note     string // the last message for the user (a write's result)
	quit     chan struct{}
	quitOnce sync.Once
	pumpDone chan struct{}
	started  chan struct{} // closed at the application's first draw
	runDone  chan struct{} // closed when app.Run has returned
	onceDraw sync.Once
}

// sample is the cumulative counters at one moment, for the rates.
type sample struct {
	t          time.Time
	msgs, wire int64
}

// New returns the dashboard over st.
func New(cfg Config, st *Store) *UI {
	if cfg.Interval <= 0 {
		cfg.Interval = 33 * time.Millisecond
	}
	u := &UI{
		cfg:      cfg,
		store:    st,
		st:       newState(),
		now:      time.Now,
		follow:   true,
		quit:     make(chan struct{}),
		pumpDone: make(chan struct{}),
		started:  make(chan struct{}),
		runDone:  make(chan struct{}),
	}
	u.build()
	u.refresh()
	return u
}

func (u *UI) build() {
	u.app = tview.NewApplication().EnableMouse(true)
	if u.cfg.Screen != nil {
		u.app.SetScreen(u.cfg.Screen)
	}

	u.conns = tview.NewTable().SetFixed(1, 0).SetSelectable(true, false).SetContent(connTable{u: u})
	u.conns.SetBorder(true).SetTitleAlign(tview.AlignLeft)
	u.conns.SetSelectionChangedFunc(func(row, _ int) { u.connSelected(row) })

	u.summary = tview.NewTextView().SetDynamicColors(true).SetWrap(false)

	u.timeline = tview.NewTable().SetFixed(1, 0).SetSelectable(true, false).SetContent(timelineTable{u: u})
	u.timeline.SetBorder(true).SetTitleAlign(tview.AlignLeft)
	u.timeline.SetSelectionChangedFunc(func(row, _ int) { u.rowSelected(row) })

	u.detail = tview.NewTextView().SetDynamicColors(true).SetScrollable(true).SetWrap(true)
	u.detail.SetBorder(true).SetTitle(" Detail ").SetTitleAlign(tview.AlignLeft)

	u.prompt = tview.NewInputField().SetFieldBackgroundColor(tcell.ColorDarkSlateGray)
	u.prompt.SetDoneFunc(u.promptDone)

	u.status = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	u.help = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	u.help.SetBorder(true).SetTitle(" Keys (Esc or q closes) ")

	lower := tview.NewFlex().
		AddItem(u.timeline, 0, 1, false).
		AddItem(u.detail, 0, 1, false)
	u.layout = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(u.conns, 0, 1, true).
		AddItem(u.summary, 3, 0, false).
		AddItem(lower, 0, 2, false).
		AddItem(u.prompt, 0, 0, false).
		AddItem(u.status, 1, 0, false)
	u.panes = []tview.Primitive{u.conns, u.timeline, u.detail}
	for i, p := range u.panes {
		i := i
		p.(interface {
			SetFocusFunc(func()) *tview.Box
		}).SetFocusFunc(func() { u.pane = i; u.paintFocus() })
	}

	helpBox := tview.NewFlex().
		AddItem(nil, 0, 1, false).
		AddItem(tview.NewFlex().SetDirection(tview.FlexRow).
			AddItem(nil, 0, 1, false).
			AddItem(u.help, len(u.bindings())+2, 0, true).
			AddItem(nil, 0, 1, false), 84, 0, true).
		AddItem(nil, 0, 1, false)
	u.pages = tview.NewPages().
		AddPage("main", u.layout, true, true).
		AddPage("help", helpBox, true, false)
	u.app.SetRoot(u.pages, true).SetInputCapture(u.onKey)
	u.app.SetAfterDrawFunc(func(tcell.Screen) { u.onceDraw.Do(func() { close(u.started) }) })
	u.setPane(paneConns)
}

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

// Quit stops the pump, then the application; Run returns. It is safe for
// concurrent use and may be called more than once.
func (u *UI) Quit() {
	u.quitOnce.Do(func() { close(u.quit) })
}

// Run shows the dashboard until the user quits or ctx is done. It returns
// app.Run's error when the terminal fails, at the start or later.
func (u *UI) Run(ctx context.Context) error {
	go u.pump()
	runDone := u.runDone
	go func() {
		select {
		case <-ctx.Done():
			u.Quit()
		case <-u.quit:
		}
		// Stop the pump first: it may be waiting in QueueUpdateDraw, which
		// only returns while the application runs.
		<-u.pumpDone
		for {
			u.app.Stop()
			select {
			case <-runDone:
				return
			case <-time.After(50 * time.Millisecond): // Run may not have started yet
			}
		}
	}()
	err := u.app.Run()
	close(u.runDone) // the pump stops waiting for updates no one will run
	u.Quit()
	<-u.pumpDone
	return err
}

// pump asks for a refresh at most every Interval, when the store took new
// events or something else changed, and once a second for the clocks. It
// starts once the application has drawn (app.Run may fail before) and
// stops on Quit or when app.Run returns.
func (u *UI) pump() {
	defer close(u.pumpDone)
	select {
	case <-u.started:
	case <-u.quit:
		return
	case <-u.runDone:
		return
	}
	t := time.NewTicker(u.cfg.Interval)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-u.quit:
			return
		case <-u.runDone:
			return
		case <-t.C:
		}
		changed := int64(u.store.Total()) != u.seen.Load() || u.dirty.Swap(false)
		if !changed && time.Since(last) < time.Second {
			continue
		}
		last = time.Now()
		if !u.queueRefresh() {
			return
		}
	}
}

// queueRefresh runs refresh on the UI goroutine and redraws. tview's
// QueueUpdateDraw waits until the event loop has run the update, and
// forever once app.Run has returned by itself (the terminal went away), so
// the call waits in a goroutine of its own and queueRefresh gives up when
// app.Run returns; it reports whether the refresh ran. It does not give up
// on Quit: while the application runs the update will run, and Run stops
// the application only after the pump has returned.
func (u *UI) queueRefresh() bool {
	done := make(chan struct{})
	go func() {
		u.app.QueueUpdateDraw(u.refresh)
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-u.runDone:
		return false
	}
}

// refresh applies the new events (unless paused) and updates the widgets.
// It runs on the UI goroutine.
func (u *UI) refresh() {
	select {
	case <-u.quit:
		return
	default:
	}
	u.seen.Store(int64(u.store.Total()))
	if !u.paused {
		evs, first := u.store.Since(u.st.applied)
		for k, ev := range evs {
			u.st.apply(first+k, ev)
		}
		if b := u.store.Base(); b != u.base {
			u.base = b
			u.st.trim(b)
			u.tlScanned, u.tlView = 0, nil
		}
	}
	u.takeSample()
	u.connView = u.st.visible(u.connView)
	u.updateTimeline()
	if u.follow {
		u.selectLast()
	} else {
		u.clampSelection()
	}
	u.paintStatus()
	u.paintTitles()
}

func (u *UI) takeSample() {
	if u.cfg.ReadOnly {
		return
	}
	now := u.now()
	u.samples = append(u.samples, sample{now, u.st.msgs, u.st.wire})
	// Keep about two seconds of samples.
	i := 0
	for i < len(u.samples)-2 && now.Sub(u.samples[i+1].t) > time.Second {
		i++
	}
	u.samples = u.samples[i:]
}

// rates returns data messages and wire bytes per second over the last
// second or so.
func (u *UI) rates() (msgs, bytes float64) {
	if len(u.samples) < 2 {
		return 0, 0
	}
	a, b := u.samples[0], u.samples[len(u.samples)-1]
	d := b.t.Sub(a.t).Seconds()
	if d <= 0 {
		return 0, 0
	}
	return float64(b.msgs-a.msgs) / d, float64(b.wire-a.wire) / d
}

// updateTimeline brings tlView up to date with tlConn's rows.
func (u *UI) updateTimeline() {
	c := u.tlConn
	if c == nil {
		u.tlView = u.tlView[:0]
		return
	}
	if u.st.filter == nil || c.selfMatch {
		u.tlView, u.tlScanned = c.rows, len(c.rows)
		return
	}
	if u.tlScanned > len(c.rows) {
		u.tlView, u.tlScanned = nil, 0
	}
	if u.tlScanned == 0 {
		u.tlView = nil
	}
	for _, i := range c.rows[u.tlScanned:] {
		if ev := u.store.At(i); ev != nil && u.st.filter.match(eventText(ev)) {
			u.tlView = append(u.tlView, i)
		}
	}
	u.tlScanned = len(c.rows)
}

// selectLast moves both selections to the newest connection and row.
func (u *UI) selectLast() {
	u.selecting = true
	defer func() { u.selecting = false }()
	if n := len(u.connView); n > 0 {
		u.conns.Select(n, 0)
		u.connSelected(n)
	}
	if n := len(u.tlView); n > 0 {
		u.timeline.Select(n, 0)
		u.rowSelected(n)
	}
}

// clampSelection keeps the selections on rows that exist.
func (u *UI) clampSelection() {
	u.selecting = true
	defer func() { u.selecting = false }()
	r, _ := u.conns.GetSelection()
	if r > len(u.connView) || r < 1 {
		u.conns.Select(max(1, len(u.connView)), 0)
	}
	r, _ = u.conns.GetSelection()
	u.connSelected(r)
	r, _ = u.timeline.GetSelection()
	if r > len(u.tlView) || r < 1 {
		u.timeline.Select(max(1, len(u.tlView)), 0)
		r, _ = u.timeline.GetSelection()
		u.rowSelected(r)
	}
}

// connSelected shows the timeline of the connection on row.
func (u *UI) connSelected(row int) {
	if !u.selecting && row != len(u.connView) {
		u.follow = false
	}
	var c *conn
	if row >= 1 && row <= len(u.connView) {
		c = u.connView[row-1]
	}
	if c != u.tlConn {
		u.tlConn, u.tlScanned, u.tlView = c, 0, nil
		u.updateTimeline()
		u.selecting = true
		r := 1
		if u.follow {
			r = max(1, len(u.tlView))
		}
		u.timeline.Select(r, 0).ScrollToBeginning()
		if u.follow {
			u.timeline.ScrollToEnd()
		}
		u.selecting = false
		u.rowSelected(r)
	}
	u.paintSummary()
	u.paintTitles()
	u.paintStatus()
}

// rowSelected shows the detail of the timeline's row.
func (u *UI) rowSelected(row int) {
	if !u.selecting && row != len(u.tlView) && u.follow {
		u.follow = false
		u.paintStatus()
	}
	if row < 1 || row > len(u.tlView) || u.tlConn == nil {
		u.detail.SetText("")
		return
	}
	i := u.tlView[row-1]
	ev := u.store.At(i)
	if ev == nil {
		u.detail.SetText("[gray](" + u.droppedWhere() + ")[-]")
		return
	}
	var frames []*capture.Event
	if ev.Kind == capture.KindMessage {
		frames = u.framesOf(u.tlConn, i, ev)
	}
	u.detail.SetText(detail(ev, frames, u.pairOf(u.tlConn, i, ev), u.tlConn.opened)).ScrollToBeginning()
}

// framesOf returns the frame events message i of c was made of: the
// ev.Frames frames of the same side and class (data or control) before it.
func (u *UI) framesOf(c *conn, i int, ev *capture.Event) []*capture.Event {
	control := ev.Op == "ping" || ev.Op == "pong" || ev.Op == "close"
	p := sort.SearchInts(c.all, i)
	var fs []*capture.Event
	for k := p - 1; k >= 0 && len(fs) < ev.Frames; k-- {
		f := u.store.At(c.all[k])
		if f == nil {
			break
		}
		if f.Kind == capture.KindMessage && f.From == ev.From && !control && f.Op != "ping" && f.Op != "pong" && f.Op != "close" {
			break // the previous data message of this side
		}
		if f.Kind != capture.KindFrame || f.From != ev.From || (f.Opcode >= 8) != control {
			continue
		}
		fs = append(fs, f)
	}
	for a, b := 0, len(fs)-1; a < b; a, b = a+1, b-1 {
		fs[a], fs[b] = fs[b], fs[a]
	}
	return fs
}

// pairOf returns a request's response or a response's request.
func (u *UI) pairOf(c *conn, i int, ev *capture.Event) *capture.Event {
	var want capture.Kind
	step := 1
	switch ev.Kind {
	case capture.KindRequest:
		want = capture.KindResponse
	case capture.KindResponse:
		want, step = capture.KindRequest, -1
	default:
		return nil
	}
	p := sort.SearchInts(c.rows, i)
	for k, n := p+step, 0; k >= 0 && k < len(c.rows) && n < 10000; k, n = k+step, n+1 {
		if e := u.store.At(c.rows[k]); e != nil && e.Kind == want && e.Seq == ev.Seq {
			return e
		}
	}
	return nil
}

func (u *UI) setPane(i int) {
	u.pane = i
	u.app.SetFocus(u.panes[i])
	u.paintFocus()
}

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
	u.setNote(fmt.Sprintf("writing %d events to %s…", len(evs), path))
	go func() {
		err := writeCapture(path, evs)
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

// writeCapture writes evs to a new file (mode 0600: captures hold secrets)
// with capture's encoder. It does not overwrite a file.
func writeCapture(path string, evs []*capture.Event) error {
	if path == "" {
		return errors.New("no file name")
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 64<<10)
	var buf []byte
	for _, ev := range evs {
		buf = ev.AppendJSON(buf[:0])
		if _, err := w.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
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
	if u.cfg.CaptureFile != "" || u.cfg.ReadOnly {
		return "dropped from memory: only in the capture file"
	}
	return "dropped from memory: no capture file"
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
			parts = append(parts, fmt.Sprintf("capture %s: %d events", tview.Escape(u.cfg.CaptureFile), u.store.Total()))
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
		if u.cfg.CaptureFile == "" && !u.cfg.ReadOnly {
			where = "dropped from memory" // the status says there is no capture file
		}
		parts = append(parts, fmt.Sprintf("[yellow]%d older events %s[-]", d, where))
	}
	if n := u.getNote(); n != "" {
		parts = append(parts, n)
	}
	parts = append(parts, "[gray]? help[-]")
	u.status.SetText(" " + strings.Join(parts, " · "))
}

// connTable is the connections table, read from the model on each draw.
type connTable struct {
	tview.TableContentReadOnly
	u *UI
}

var connHeader = []string{"ID", "CLIENT", "HOST", "SCHEME", "STATE", "REQ", "MSG ↑↓", "BYTES ↑↓", "AGE"}

func (t connTable) GetRowCount() int    { return 1 + len(t.u.connView) }
func (t connTable) GetColumnCount() int { return len(connHeader) }

func (t connTable) GetCell(row, col int) *tview.TableCell {
	if row == 0 {
		return header(connHeader[col])
	}
	if row > len(t.u.connView) {
		return nil
	}
	c := t.u.connView[row-1]
	return cell(connCell(c, col, t.u.clock()), stateColor(c, col))
}

// connCell is the text of one cell of a connection's row.
func connCell(c *conn, col int, now time.Time) string {
	switch col {
	case 0:
		return fmt.Sprintf("#%d", c.id)
	case 1:
		return c.client
	case 2:
		return c.host
	case 3:
		return c.scheme
	case 4:
		return c.state
	case 5:
		return fmt.Sprint(c.requests)
	case 6:
		return fmt.Sprintf("%d↑ %d↓", c.msgsUp+c.ctrlUp, c.msgsDown+c.ctrlDown)
	case 7:
		s := size(c.bytesUp) + "↑ " + size(c.bytesDown) + "↓"
		if !c.exact {
			s = "~" + s
		}
		return s
	case 8:
		return age(now.Sub(c.opened))
	}
	return ""
}

func stateColor(c *conn, col int) tcell.Color {
	if col == 3 && c.unverified {
		return tcell.ColorRed // https with an upstream certificate not verified (-k)
	}
	if col != 4 {
		if c.state == stateClosed {
			return tcell.ColorGray
		}
		return tcell.ColorWhite
	}
	switch c.state {
	case stateWebSocket:
		return tcell.ColorFuchsia
	case stateTunnel:
		return tcell.ColorDodgerBlue
	case stateClosed:
		return tcell.ColorGray
	}
	return tcell.ColorGreen
}

// clock is the dashboard's now: the wall clock, or for a saved capture the
// time of its last event.
func (u *UI) clock() time.Time {
	if u.cfg.ReadOnly {
		return u.st.last
	}
	return u.now()
}

// timelineTable is the selected connection's timeline.
type timelineTable struct {
	tview.TableContentReadOnly
	u *UI
}

var timelineHeader = []string{"TIME", "", "WHAT", "PREVIEW"}

func (t timelineTable) GetRowCount() int    { return 1 + len(t.u.tlView) }
func (t timelineTable) GetColumnCount() int { return len(timelineHeader) }

func (t timelineTable) GetCell(row, col int) *tview.TableCell {
	if row == 0 {
		return header(timelineHeader[col])
	}
	if row > len(t.u.tlView) || t.u.tlConn == nil {
		return nil
	}
	ev := t.u.store.At(t.u.tlView[row-1])
	if ev == nil {
		if col == 2 {
			return cell("("+t.u.droppedWhere()+")", tcell.ColorGray)
		}
		return cell("", tcell.ColorGray)
	}
	color := tcell.ColorWhite
	switch {
	case ev.Kind == capture.KindError || ev.Kind == capture.KindClose && ev.Err != "" || unverified(ev):
		color = tcell.ColorRed
	case arrow(ev) == "→":
		color = tcell.ColorGreen
	case arrow(ev) == "←":
		color = tcell.ColorAqua
	case ev.Kind == capture.KindUpgrade:
		color = tcell.ColorFuchsia
	}
	switch col {
	case 0:
		return cell(rel(ev.Time, t.u.tlConn.opened), tcell.ColorGray)
	case 1:
		return cell(arrow(ev), color)
	case 2:
		w := what(ev)
		if ev.Kind == capture.KindTLS {
			w, _ = tlsParts(ev) // the rest is the preview
		}
		return cell(w, color).SetMaxWidth(48)
	case 3:
		c := cell(preview(ev), tcell.ColorSilver)
		if ev.Kind == capture.KindError || unverified(ev) {
			c.SetTextColor(tcell.ColorRed)
		}
		return c.SetExpansion(1)
	}
	return nil
}

func header(s string) *tview.TableCell {
	return tview.NewTableCell(s).SetSelectable(false).SetTextColor(tcell.ColorYellow).SetAttributes(tcell.AttrBold)
}

func cell(s string, color tcell.Color) *tview.TableCell {
	return tview.NewTableCell(tview.Escape(s)).SetTextColor(color)
}

// RenderOnce applies the events held in st and draws the dashboard once on
// a w×h simulation screen, returning its text, one line per row: for tests
// and for text screenshots.
func RenderOnce(cfg Config, st *Store, w, h int) string {
	scr := tcell.NewSimulationScreen("UTF-8")
	scr.Init()
	cfg.Screen = scr
	u := New(cfg, st)
	scr.SetSize(w, h)
	u.pages.SetRect(0, 0, w, h)
	u.pages.Draw(scr)
	scr.Show()
	cells, cw, ch := scr.GetContents()
	var sb strings.Builder
	for y := 0; y < ch; y++ {
		var line strings.Builder
		for x := 0; x < cw; x++ {
			if r := cells[y*cw+x].Runes; len(r) > 0 {
				line.WriteString(string(r))
			} else {
				line.WriteByte(' ')
			}
		}
		sb.WriteString(strings.TrimRight(line.String(), " "))
		sb.WriteByte('\n')
	}
	return sb.String()
}
