package har

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPure keeps har a converter: bytes and values in and out, no files,
// sockets, clocks or screen, and of frametap's packages only capture. It
// reads the package's import lines (net/url and net/netip only parse).
func TestPure(t *testing.T) {
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range f.Imports {
			path, _ := strconv.Unquote(im.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			switch {
			case path == "net/url", path == "net/netip":
			case first == "net", first == "os", path == "syscall", first == "log",
				strings.Contains(path, "tview"), strings.Contains(path, "tcell"),
				strings.HasPrefix(path, "github.com/frametap/frametap/") && path != "github.com/frametap/frametap/capture":
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}
