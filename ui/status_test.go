package ui

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// render draws p alone on a w×h simulation screen. It returns the text,
// one line per row, each followed by a line marking its red cells: R for
// a red background, r for red text.
func render(t *testing.T, p tview.Primitive, w, h int) string {
	t.Helper()
	scr := tcell.NewSimulationScreen("UTF-8")
	if err := scr.Init(); err != nil {
		t.Fatal(err)
	}
	defer scr.Fini()
	scr.SetSize(w, h)
	p.SetRect(0, 0, w, h)
	p.Draw(scr)
	scr.Show()
	cells, cw, ch := scr.GetContents()
	var b strings.Builder
	for y := range ch {
		var text, red strings.Builder
		for x := range cw {
			c := cells[y*cw+x]
			if len(c.Runes) == 0 {
				text.WriteByte(' ')
			} else {
				text.WriteString(string(c.Runes))
			}
			fg, bg, _ := c.Style.Decompose()
			switch {
			case bg == tcell.ColorRed:
				red.WriteByte('R')
			case fg == tcell.ColorRed:
				red.WriteByte('r')
			default:
				red.WriteByte(' ')
			}
		}
		b.WriteString(strings.TrimRight(text.String(), " ") + "\n")
		b.WriteString(strings.TrimRight(red.String(), " ") + "\n")
	}
	return b.String()
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it)\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// fixedHealth returns a Config.CaptureHealth that always says the same.
func fixedHealth(written, lost int64, err error) func() (int64, int64, error) {
	return func() (int64, int64, error) { return written, lost, err }
}

// The status line on the capture file: the events written (not those
// seen: the fixture's 26), and in red, first, while writing fails, with
// the reason and how many events were not written; in red, in its place,
// once writing resumed after losing some (issue 8, defect 4).
func TestStatusCaptureHealth(t *testing.T) {
	full := errors.New("write /tmp/cap.jsonl: no space left on device")
	for _, tc := range []struct {
		name      string
		cfg       Config
		want      []string // in the status line
		red, nope string   // red: in red; nope: not in the status line
	}{
		{"seen", Config{CaptureFile: "cap.jsonl"},
			[]string{"capture cap.jsonl: 26 events seen"}, "", "written"},
		{"writing", Config{CaptureFile: "cap.jsonl", CaptureHealth: fixedHealth(602, 0, nil)},
			[]string{"capture cap.jsonl: 602 events written"}, "", "26 events"},
		{"failing", Config{CaptureFile: "cap.jsonl", CaptureHealth: fixedHealth(240, 362, full)},
			[]string{" capture cap.jsonl FAILING: 362 events not written (240 written) · write /tmp/cap.jsonl: no space left on device · frametap 127.0.0.1:8080"},
			"362 events not written", "26 events"},
		{"failing, nothing lost yet", Config{CaptureFile: "cap.jsonl", CaptureHealth: fixedHealth(240, 0, full)},
			[]string{"FAILING: 0 events not written (240 written) · write /tmp/cap.jsonl: no space left on device"},
			"0 events not written", ""},
		{"resumed", Config{CaptureFile: "cap.jsonl", CaptureHealth: fixedHealth(840, 362, nil)},
			[]string{"regular · capture cap.jsonl: 840 events written · 362 lost, not written · conns"},
			"362 lost", "FAILING"},
		{"failing with -k", Config{CaptureFile: "cap.jsonl", Insecure: true, CaptureHealth: fixedHealth(240, 1, full)},
			[]string{" capture cap.jsonl FAILING: 1 event not written (240 written) · write /tmp/cap.jsonl: no space left on device · UPSTREAM CERTS NOT VERIFIED (-k) · frametap"},
			"1 event not written", ""},
	} {
		u := newTestUI(t, tc.cfg, fixture())
		status := u.status.GetText(true)
		for _, w := range tc.want {
			if !strings.Contains(status, w) {
				t.Errorf("%s: status\n%q\nlacks %q", tc.name, status, w)
			}
		}
		if tc.nope != "" && strings.Contains(status, tc.nope) {
			t.Errorf("%s: status %q has %q", tc.name, status, tc.nope)
		}
		for _, width := range []int{200, 80} {
			got := render(t, u.status, width, 1)
			name := "status-" + strings.NewReplacer(" ", "-", ",", "", "(", "", ")", "").Replace(tc.name)
			golden(t, name+"-"+strconv.Itoa(width)+".golden", got)
			if tc.red != "" && width == 200 {
				lines := strings.Split(got, "\n")
				i := strings.Index(lines[0], tc.red)
				if i < 0 {
					t.Errorf("%s: %q not on screen:\n%s", tc.name, tc.red, got)
					continue
				}
				x := len([]rune(lines[0][:i])) // the cell where it starts
				if r := []rune(lines[1] + strings.Repeat(" ", width)); r[x] != 'r' && r[x] != 'R' {
					t.Errorf("%s: %q is not red:\n%s", tc.name, tc.red, got)
				}
			}
		}
	}
}

// A running dashboard shows the capture file failing, and recovering,
// without new traffic to trigger a redraw.
func TestRunShowsCaptureFailing(t *testing.T) {
	var (
		mu            sync.Mutex
		written, lost int64 = 26, 0
		werr          error
	)
	set := func(w, l int64, err error) { mu.Lock(); written, lost, werr = w, l, err; mu.Unlock() }
	cfg := Config{CaptureFile: "cap.jsonl", CaptureHealth: func() (int64, int64, error) {
		mu.Lock()
		defer mu.Unlock()
		return written, lost, werr
	}}
	l := startLiveSize(t, cfg, fixture(), 160, 24)
	if err := l.waitFor("capture cap.jsonl: 26 events written"); err != nil {
		t.Fatal(err)
	}
	set(26, 3, errors.New("write cap.jsonl: no space left on device"))
	if err := l.waitFor("capture cap.jsonl FAILING: 3 events not written (26 written) · write cap.jsonl: no space left on device"); err != nil {
		t.Fatal(err)
	}
	set(30, 3, nil)
	if err := l.waitFor("capture cap.jsonl: 30 events written · 3 lost, not written"); err != nil {
		t.Fatal(err)
	}
	if err := l.quit(); err != nil {
		t.Fatal(err)
	}
}
