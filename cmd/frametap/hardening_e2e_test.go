package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	"github.com/frametap/frametap/capture"
)

// Issue 8, defect 0, as it was found: curl through frametap to a local dev
// server with a self-signed certificate frametap cannot verify, from a curl
// that does not trust frametap's CA either. Both handshakes fail; frametap
// must record both and go on serving, not exit.
func TestE2ECurlBothHandshakesFail(t *testing.T) {
	requireE2E(t)
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatalf("curl is needed: %v", err)
	}
	dev := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "dev") }))
	defer dev.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "plain") }))
	defer plain.Close()
	_, port, _ := net.SplitHostPort(dev.Listener.Addr().String())

	tp := startTapArgs(t, "--ca-dir", t.TempDir()) // a CA nobody trusts
	out, err := exec.Command(curl, "-sS", "--max-time", "20", "-x", "http://"+tp.addr, "https://localhost:"+port+"/").CombinedOutput()
	if err == nil {
		t.Fatalf("curl accepted frametap's certificate without trusting its CA: %s", out)
	}
	select {
	case err := <-tp.done:
		tp.done <- err
		t.Fatalf("frametap exited (%v) after curl's request:\n%s", err, tp.out.String())
	default:
	}
	out, err = exec.Command(curl, "-sS", "--max-time", "20", "-x", "http://"+tp.addr, plain.URL+"/").CombinedOutput()
	if err != nil || string(out) != "plain" {
		t.Fatalf("the next request through frametap: %q, %v", out, err)
	}
	evs := tp.stop()
	var errs []string
	for _, ev := range evs {
		if ev.Kind == capture.KindError {
			errs = append(errs, ev.From+": "+ev.Msg)
		}
	}
	if len(errs) != 2 || !strings.HasPrefix(errs[0], "server: ") || !strings.Contains(errs[0], "certificate") ||
		!strings.HasPrefix(errs[1], "client: ") {
		t.Errorf("errors %q, want the upstream's certificate, then the client's refusal", errs)
	}
}
