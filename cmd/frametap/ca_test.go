package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

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

// TestCAPrintsNoKeyToTrust: every path frametap ca prints, but the one it
// labels as the private key, is a file to trust or copy (into the NSS
// database, the system store): none may hold a private key. For frametap's
// own CA directory and for a mitmproxy one that holds only
// mitmproxy-ca.pem (key and certificate in one file).
func TestCAPrintsNoKeyToTrust(t *testing.T) {
	own := filepath.Join(t.TempDir(), "ca")
	mitm := t.TempDir()
	writeMitmproxyCA(t, mitm)
	for _, dir := range []string{own, mitm} {
		var out, errOut bytes.Buffer
		if err := run([]string{"ca", "--ca-dir", dir}, &out, &errOut); err != nil {
			t.Fatalf("frametap ca --ca-dir %s: %v\n%s", dir, err, errOut.String())
		}
		paths := regexp.MustCompile(regexp.QuoteMeta(dir) + `[^\s,)]*`)
		certs := 0
		for _, line := range strings.Split(out.String(), "\n") {
			for _, p := range paths.FindAllString(line, -1) {
				if strings.HasPrefix(strings.TrimSpace(line), "private key:") {
					continue
				}
				data, err := os.ReadFile(p)
				if err != nil {
					t.Errorf("printed %s: %v", p, err)
					continue
				}
				if bytes.Contains(data, []byte("PRIVATE KEY")) {
					t.Errorf("frametap ca --ca-dir %s prints %s, which holds a private key, in:\n  %s", dir, p, line)
				}
				certs++
			}
		}
		if certs < 5 {
			t.Errorf("frametap ca --ca-dir %s printed %d certificate paths, want the 5 instructions:\n%s", dir, certs, out.String())
		}
	}
}

// writeMitmproxyCA writes dir/mitmproxy-ca.pem as mitmproxy does: an RSA
// key (PKCS#1) and its CA certificate, owner-only, and nothing else.
func writeMitmproxyCA(t *testing.T, dir string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mitmproxy", Organization: []string{"mitmproxy"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	pem.Encode(&buf, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, certs.MitmproxyFile), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}
