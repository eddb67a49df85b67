package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/frametap/frametap/proxy/certs"
)

// The proxy makes its CA in ~/.frametap when it starts: keep the tests'
// (and the frametap processes they start) out of the real home.
func init() {
	if dir, err := os.MkdirTemp("", "frametap-test-home-"); err == nil {
		os.Setenv("HOME", dir)
	}
}

func TestCACommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	var out, errOut bytes.Buffer
	if err := run([]string{"ca", "--ca-dir", dir}, &out, &errOut); err != nil {
		t.Fatalf("frametap ca: %v\n%s", err, errOut.String())
	}
	cert := filepath.Join(dir, certs.CertFile)
	for _, want := range []string{cert, "certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n frametap -i " + cert, "--cacert " + cert, "update-ca-certificates", "Firefox"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("frametap ca output lacks %q:\n%s", want, out.String())
		}
	}
	os.Chmod(filepath.Join(dir, certs.KeyFile), 0o644)
	if err := run([]string{"ca", "--ca-dir", dir}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("key 0644: err = %v, want one that says chmod 600", err)
	}
}

func TestTLSFlags(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--ca-dir", dir, "--upstream-ca", filepath.Join(dir, "missing.pem")},
		{"--ca-dir", dir, "--ignore-hosts", "("},
	} {
		var out, errOut bytes.Buffer
		if err := run(append([]string{"--headless", "--listen", "127.0.0.1:0"}, args...), &out, &errOut); err == nil {
			t.Errorf("run(%q) succeeded", args)
		}
	}
}
