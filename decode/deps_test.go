package decode

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// decodeFiles parses the package's files: its own, or with tests set, its
// test files too.
func decodeFiles(t *testing.T, tests bool) (*token.FileSet, map[string]*ast.File) {
	t.Helper()
	names, err := filepath.Glob("*.go")
	if err != nil || len(names) == 0 {
		t.Fatalf("no Go files: %v", err)
	}
	fset := token.NewFileSet()
	files := map[string]*ast.File{}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") && !tests {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = f
	}
	return fset, files
}

// forbiddenImport says why decode may not import path, or "" if it may:
// decode is pure, bytes in and values out (STYLE.md, practice 1).
func forbiddenImport(path string) string {
	first, _, _ := strings.Cut(path, "/")
	switch {
	case path == "net/url":
		return "" // parsing only: no sockets
	case first == "net":
		return "sockets"
	case path == "time", path == "context":
		return "clocks and deadlines"
	case first == "log":
		return "logging"
	case first == "os", path == "syscall", path == "runtime":
		return "the operating system"
	case strings.Contains(path, "tview"), strings.Contains(path, "tcell"):
		return "the screen"
	case strings.HasPrefix(path, "github.com/frametap/frametap/"):
		return "frametap's other packages (dependencies point from proxy to decode)"
	}
	return ""
}

// TestPure keeps decode's own imports free of sockets, clocks, logging,
// the operating system, the screen and frametap's other packages. It reads
// the import lines, not the dependency graph: gobwas/ws, which decode uses
// for framing, imports net for a dialer decode never calls.
func TestPure(t *testing.T) {
	_, files := decodeFiles(t, false)
	for name, f := range files {
		for _, im := range f.Imports {
			path, err := strconv.Unquote(im.Path.Value)
			if err != nil {
				t.Fatal(err)
			}
			if why := forbiddenImport(path); why != "" {
				t.Errorf("%s imports %s: decode does not touch %s", name, path, why)
			}
		}
	}
}

// TestNoGoroutines checks that no file of decode starts a goroutine: a
// Conn runs on its caller's goroutine. Tests may: the real-peer tests run
// Node peers and a tee beside the decoder.
func TestNoGoroutines(t *testing.T) {
	fset, files := decodeFiles(t, false)
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			if g, ok := n.(*ast.GoStmt); ok {
				t.Errorf("%s: a go statement", fset.Position(g.Pos()))
			}
			return true
		})
	}
}

// TestDeps checks the whole dependency graph for what no dependency of
// decode may bring in either: the screen and frametap's other packages.
func TestDeps(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for dep := range strings.FieldsSeq(string(out)) {
		switch {
		case strings.Contains(dep, "tview"), strings.Contains(dep, "tcell"),
			strings.HasPrefix(dep, "github.com/frametap/frametap/") && dep != "github.com/frametap/frametap/decode":
			t.Errorf("decode depends on %s", dep)
		}
	}
}
