package ui

import (
	"strings"

	"github.com/gdamore/tcell/v2"
)

// RenderOnce applies the events held in st and draws the dashboard once on
// a w×h simulation screen, returning its text, one line per row: for tests
// and for text screenshots.
func RenderOnce(cfg Config, st *Store, w, h int) string {
	scr := tcell.NewSimulationScreen("UTF-8")
	scr.Init()
	cfg.Screen = scr
	u := New(cfg, st)
	scr.SetSize(w, h)
	u.root.SetRect(0, 0, w, h)
	u.root.Draw(scr)
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
