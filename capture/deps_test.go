package capture

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps capture free of the network, the UI and frametap's other
// packages (STYLE.md, practice 1).
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
		case dep == "net" || strings.HasPrefix(dep, "net/"),
			strings.Contains(dep, "tview"), strings.Contains(dep, "tcell"),
			strings.HasPrefix(dep, "github.com/frametap/frametap/") && dep != "github.com/frametap/frametap/capture":
			t.Errorf("capture depends on %s", dep)
		}
	}
}
