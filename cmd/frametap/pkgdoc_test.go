package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// moduleRoot is the directory of the go.mod above the test's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = up
	}
}

// TestPackageDocs checks that every package of the module has a doc
// comment that starts as godoc expects: "Package name ..." for a library,
// "Command name ..." for a program (STYLE.md, practice 12). It walks the
// module's directories with go/parser, so it needs no go command.
func TestPackageDocs(t *testing.T) {
	root := moduleRoot(t)
	seen := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != root && (name == "testdata" || name == "vendor" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		files, err := filepath.Glob(filepath.Join(path, "*.go"))
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		pkg, doc := "", ""
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, file, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				return err
			}
			pkg = f.Name.Name
			if f.Doc != nil && doc == "" {
				doc = f.Doc.Text()
			}
		}
		if pkg == "" {
			return nil // no package here, or tests only
		}
		seen++
		rel, _ := filepath.Rel(root, path)
		want := "Package " + pkg + " "
		if pkg == "main" {
			want = "Command " + filepath.Base(path) + " "
		}
		switch {
		case doc == "":
			t.Errorf("%s: package %s has no doc comment", rel, pkg)
		case !strings.HasPrefix(doc, want):
			t.Errorf("%s: package doc starts %q, want %q", rel, doc[:min(len(doc), len(want)+20)], want+"...")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 5 {
		t.Errorf("saw %d packages, want the module's 5 at least", seen)
	}
}
