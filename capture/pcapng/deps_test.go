package pcapng

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps pcapng a file format: no UI, no HTTP, none of frametap's
// other packages (the proxy depends on it, not the other way). It does
// depend on net: gopacket's layers hold addresses as net.IP and pcapgo
// carries a raw-socket reader; neither opens a socket here.
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
		case strings.HasPrefix(dep, "net/http"), strings.HasPrefix(dep, "crypto/tls"),
			strings.Contains(dep, "tview"), strings.Contains(dep, "tcell"),
			strings.HasPrefix(dep, "github.com/frametap/frametap/") && dep != "github.com/frametap/frametap/capture/pcapng":
			t.Errorf("capture/pcapng depends on %s", dep)
		}
	}
}
