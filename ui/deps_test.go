package ui

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps the dashboard off the proxy and the decoders: it learns
// what it shows from capture events, and acts on connections (inject)
// through the Injector that frametap's serve wires to the proxy.
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
		switch dep {
		case "github.com/frametap/frametap/proxy", "github.com/frametap/frametap/decode":
			t.Errorf("ui depends on %s", dep)
		}
	}
}
