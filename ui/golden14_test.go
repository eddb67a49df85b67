package ui

import (
	"fmt"
	"testing"

	"github.com/gdamore/tcell/v2"
)

// Golden renders of issue 14's dashboard parts, at 80×24 and 200×50: the
// filter prompt with a bad expression under it, the help page with the
// filter atoms, and the inject composer. go test -update rewrites them.

// newWSUI is a dashboard on a w×h screen over the fixture's WebSocket,
// still open, with an Injector.
func newWSUI(t *testing.T, w, h int) *UI {
	t.Helper()
	u := newTestUI(t, Config{Inject: newTestInjector()}, liveWS())
	u.cfg.Screen.(tcell.SimulationScreen).SetSize(w, h)
	return u
}

func TestGoldenFilterError(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {200, 50}} {
		u := newWSUI(t, sz[0], sz[1])
		u.press(tcell.KeyRune, '/')
		u.typeText("~ws ~op text")
		u.press(tcell.KeyEnter, 0)
		u.press(tcell.KeyRune, '/')
		u.press(tcell.KeyCtrlU, 0)
		u.typeText("~d (foo")
		u.press(tcell.KeyEnter, 0)
		golden(t, fmt.Sprintf("filter-error-%dx%d.golden", sz[0], sz[1]), screenAt(u))
	}
}

func TestGoldenHelp(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {200, 50}} {
		u := newWSUI(t, sz[0], sz[1])
		u.press(tcell.KeyRune, '?')
		golden(t, fmt.Sprintf("help-%dx%d.golden", sz[0], sz[1]), screenAt(u))
		if sz[1] == 50 {
			// The page scrolls to the filter atoms' end.
			u.press(tcell.KeyRune, 'G')
			golden(t, fmt.Sprintf("help-end-%dx%d.golden", sz[0], sz[1]), screenAt(u))
		}
	}
}

func TestGoldenComposer(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {200, 50}} {
		u := newWSUI(t, sz[0], sz[1])
		selectMessage(t, u, "server", "text")
		u.press(tcell.KeyRune, 'i')
		golden(t, fmt.Sprintf("composer-%dx%d.golden", sz[0], sz[1]), screenAt(u))
		u.press(tcell.KeyTab, 0)
		for range 5 {
			u.press(tcell.KeyRight, 0) // close: code and reason
		}
		u.press(tcell.KeyTab, 0)
		u.typeText("4000")
		u.press(tcell.KeyTab, 0)
		u.typeText("going away")
		golden(t, fmt.Sprintf("composer-close-%dx%d.golden", sz[0], sz[1]), screenAt(u))
	}
}
