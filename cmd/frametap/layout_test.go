package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// The design card's dependency rules, as a test: decode is pure (bytes in,
// values out), capture is the event model and log (no sockets, no screen),
// and dependencies point one way. decode is checked on its own imports:
// gobwas/ws, which it must use for framing, itself imports net for its
// dialer, which decode never calls.
func TestPackageLayout(t *testing.T) {
	forbidden := map[string][]string{
		"decode":  {"net", "net/http", "os", "log/slog", "time", "github.com/frametap/frametap/capture", "github.com/frametap/frametap/proxy", "github.com/rivo/tview", "github.com/gdamore/tcell/v2"},
		"capture": {"net", "net/http", "github.com/frametap/frametap/decode", "github.com/frametap/frametap/proxy", "github.com/rivo/tview", "github.com/gdamore/tcell/v2"},
		"proxy":   {"github.com/rivo/tview", "github.com/gdamore/tcell/v2"},
	}
	out, err := exec.Command("go", "list", "-json", "../../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for dec.More() {
		var pkg struct {
			ImportPath string
			Name       string
			Doc        string
			Imports    []string
			Deps       []string
		}
		if err := dec.Decode(&pkg); err != nil {
			t.Fatal(err)
		}
		seen++
		if pkg.Doc == "" {
			t.Errorf("package %s has no package doc comment", pkg.ImportPath)
		}
		short := strings.TrimPrefix(pkg.ImportPath, "github.com/frametap/frametap/")
		deps := pkg.Deps
		if short == "decode" {
			deps = pkg.Imports
		}
		for _, bad := range forbidden[short] {
			for _, d := range deps {
				if d == bad {
					t.Errorf("package %s depends on %s", short, bad)
				}
			}
		}
	}
	if seen < 4 {
		t.Errorf("go list saw %d packages", seen)
	}
}
