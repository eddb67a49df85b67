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

// The package is cut by job: ui.go builds the widgets; layout.go sizes
// the panes by the terminal; run.go is the application loop, the pump and
// refresh; keys.go the keys, the help and the prompts; actions.go what
// the newer keys do (hide hosts, save a body); selection.go what the
// selections show; paint.go the titles, the summary and the status line;
// tables.go and xtable.go the virtual tables (connections, events,
// exchanges) and columns.go how their columns are sized; detail.go the
// detail of an exchange, timing.go its waterfall, body.go how a body is
// shown (decoded, by type); render.go draws once for tests and
// screenshots. state.go is the model, exchange.go its exchanges view,
// filter.go the filter, store.go the events it reads, live.go what the
// Store learns while bytes flow, and format.go the text of an event.

import (
	"sync"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/capture/push"
	"sync/atomic"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// Config configures a UI. The zero value is a live dashboard on the
// terminal with nothing to say about where it listens.
type Config struct {
	// Listen is the proxy's address and Mode its mode, for the status line.
	Listen, Mode string
	// Listeners lists every address the proxy listens on, with its mode
	// (issue 12: several modes at once), for the status line. If empty,
	// Listen and Mode are shown.
	Listeners []Listener
	// CaptureFile is the file the capture log goes to, for the status line.
	// If empty, the w key offers to write the events held so far.
	CaptureFile string
	// CaptureHealth reports on the capture file: how many events it has
	// written, how many it lost (will never write), and the error that
	// keeps it from writing now (nil while writing works, and again once
	// it resumed). The status line then counts the events written, not
	// those seen, and turns red while writing fails (saying why and how
	// many events were not written) and, after, for as long as any were
	// lost. If nil, the status line counts the events seen. It is called
	// from the dashboard's goroutines, on each redraw and once per
	// Interval: it must be safe for concurrent use, and quick.
	CaptureHealth func() (written, lost int64, err error)
	// ReadOnly shows a saved capture (frametap view): no rates, and no p or
	// w keys. Source names the file for the status line.
	ReadOnly bool
	Source   string
	// Screen is drawn on. If nil, the terminal is used.
	Screen tcell.Screen
	// Interval is the least time between two redraws. If zero, 33ms
	// (about 30 redraws a second at most). While refreshing and drawing
	// take long (a flood of events), redraws are spaced further apart:
	// see redrawWait.
	Interval time.Duration
	// Insecure says upstream certificates are not verified (-k): the
	// status line then says so in red, for as long as the dashboard runs.
	Insecure bool
	// HideHosts lists hosts whose connections are hidden at start (the h
	// key adds to it, H edits it): a host, or host:port.
	HideHosts []string
	// Push says what the push view (P) counts as polling and long-polling
	// (--long-poll). The zero value is push's defaults.
	Push push.Config

	// Inject writes messages into live WebSocket connections (the i key,
	// composer.go). If nil, there is no i key (a saved capture).
	Inject Injector
}

// Panes, in Tab order.
const (
	paneConns = iota
	paneTimeline
	paneDetail
)

// Views of the timeline pane (the t key).
const (
	viewExchanges = iota // one row per exchange, message and error
	viewEvents           // every event but frames, one per row
	viewH2Frames         // the connection's HTTP/2 frames (F, h2frames.go)
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
	root     *rootView // pages, laid out for the terminal at each draw
	pages    *tview.Pages
	layout   *tview.Flex
	lower    *tview.Flex // the timeline and the detail
	conns    *fitTable
	summary  *tview.TextView
	timeline *fitTable
	detail   *tview.TextView
	prompt   *tview.InputField
	status   *tview.TextView
	help     *tview.TextView
	helpCol  *tview.Flex // the help page's column, sized by the terminal
	panes    []tview.Primitive

	// Issue 14's: the filter's error line and view state (filterview.go).
	promptErr *tview.TextView // under the prompt: what is wrong with what it holds
	fv        filterView
	comp      *composer    // the inject composer while it is open (composer.go)
	exporting *exported    // the command the export prompt writes (copyas.go)
	scr       tcell.Screen // the screen drawn on, for OSC 52 (copyas.go)

	connView  []*conn        // the connections the filter and the hidden hosts let through
	tlConn    *conn          // the connection the timeline shows
	tlView    []int          // events view: absolute indices of its rows the filter lets through
	tlScanned int            // how many of tlConn.rows tlView has looked at
	xView     []int          // exchanges view: indices into tlConn.xrows the filter lets through, unless xAll
	xAll      bool           // exchanges view: every row of tlConn.xrows shows (no filter, or the connection matches)
	xScanned  int            // how many of tlConn.xrows xView has looked at
	xPending  []int          // rows of exchanges the filter did not match yet that may still (in flight), sorted
	view      int            // viewExchanges or viewEvents
	hidden    []string       // hosts hidden (h, H)
	bodyMode  int            // how the detail shows bodies (v)
	width     int            // the screen's, at the last draw
	narrow    bool           // one of timeline and detail at a time (the terminal is narrow)
	shown     shownRow       // what the detail pane shows
	saving    *capture.Event // the event whose body the save prompt saves
	base      int            // the store's Base when last trimmed
	pane      int
	follow    bool
	paused    bool
	helpShown bool
	prompting string // "filter" or "write" while the prompt is open
	health    health // the capture file's, as the status line last showed it
	selecting bool   // the selection is being moved by code, not the user
	samples   []sample
	push      pushView // the push view (P)

	seen      atomic.Int64 // the store's Total when last refreshed
	cycle     atomic.Int64 // how long the last refresh and its draw took, in ns (redrawWait)
	refreshAt time.Time    // when the refresh being drawn began; the UI goroutine's
	dirty     atomic.Bool  // something besides events changed (a write finished)
	noteMu    sync.Mutex
	note      string // the last message for the user (a write's result)
	noteAlert bool   // it says something failed: it stays on a narrow status line
	quit      chan struct{}
	quitOnce  sync.Once
	pumpDone  chan struct{}
	started   chan struct{} // closed at the application's first draw
	runDone   chan struct{} // closed when app.Run has returned
	onceDraw  sync.Once
}

// health is what Config.CaptureHealth said.
type health struct {
	written, lost int64
	err           error
}

// failing reports whether the capture file fails now or lost events.
func (h health) failing() bool { return h.err != nil || h.lost > 0 }

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
		hidden:   append([]string(nil), cfg.HideHosts...),
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

	ct := connTable{u: u}
	u.conns = newFitTable(connSpecs, ct.text)
	u.conns.SetFixed(1, 0).SetSelectable(true, false).SetContent(ct)
	u.conns.SetBorder(true).SetTitleAlign(tview.AlignLeft)
	u.conns.SetSelectionChangedFunc(func(row, _ int) { u.connSelected(row) })
	u.guardSelection(u.conns.Table)

	u.summary = tview.NewTextView().SetDynamicColors(true).SetWrap(false)

	u.timeline = newFitTable(nil, nil)
	u.setView(viewExchanges)
	u.timeline.SetFixed(1, 0).SetSelectable(true, false)
	u.timeline.SetBorder(true).SetTitleAlign(tview.AlignLeft)
	u.timeline.SetSelectionChangedFunc(func(row, _ int) { u.rowSelected(row) })
	u.guardSelection(u.timeline.Table)

	u.detail = tview.NewTextView().SetDynamicColors(true).SetScrollable(true).SetWrap(true)
	u.detail.SetBorder(true).SetTitle(" Detail ").SetTitleAlign(tview.AlignLeft)

	u.prompt = tview.NewInputField().SetFieldBackgroundColor(tcell.ColorDarkSlateGray)
	u.prompt.SetDoneFunc(u.promptDone)
	u.promptErr = tview.NewTextView().SetDynamicColors(true).SetWrap(false)

	u.status = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	u.help = tview.NewTextView().SetDynamicColors(true).SetWrap(false)
	u.help.SetBorder(true).SetTitle(" Keys, then filters (↓ PgDn scroll · Esc or q closes) ")

	u.lower = tview.NewFlex().
		AddItem(u.timeline, 0, 1, false).
		AddItem(u.detail, 0, 1, false)
	u.layout = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(u.conns, 0, 1, true).
		AddItem(u.summary, 3, 0, false).
		AddItem(u.lower, 0, 2, false).
		AddItem(u.prompt, 0, 0, false).
		AddItem(u.promptErr, 0, 0, false).
		AddItem(u.status, 1, 0, false)
	u.panes = []tview.Primitive{u.conns, u.timeline, u.detail}
	for i, p := range u.panes {
		i := i
		p.(interface {
			SetFocusFunc(func()) *tview.Box
		}).SetFocusFunc(func() { u.pane = i; u.paintFocus() })
	}

	u.helpCol = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(nil, 0, 1, false).
		AddItem(u.help, u.helpHeight(), 0, true).
		AddItem(nil, 0, 1, false)
	helpBox := tview.NewFlex().
		AddItem(nil, 0, 1, false).
		AddItem(u.helpCol, 84, 0, true).
		AddItem(nil, 0, 1, false)
	u.pages = tview.NewPages().
		AddPage("main", u.layout, true, true).
		AddPage("help", helpBox, true, false)
	u.help.SetWrap(true).SetScrollable(true)
	u.buildPush()
	u.root = &rootView{Pages: u.pages, u: u}
	u.app.SetRoot(u.root, true).SetInputCapture(u.onKey)
	u.app.SetAfterDrawFunc(func(scr tcell.Screen) {
		u.scr = scr
		u.onceDraw.Do(func() { close(u.started) })
		if !u.refreshAt.IsZero() {
			u.cycle.Store(int64(time.Since(u.refreshAt)))
			u.refreshAt = time.Time{}
		}
	})
	u.setPane(paneConns)
}
