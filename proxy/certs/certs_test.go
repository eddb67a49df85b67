package certs

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestCreateThenReuse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{"": 0o700, KeyFile: 0o600, CertFile: 0o644, CertDERFile: 0o644} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s/%s: mode %04o, want %04o", dir, name, got, want)
		}
	}
	if !ca.Cert.IsCA || ca.Cert.Subject.CommonName != "frametap CA" {
		t.Errorf("CA certificate: IsCA=%v subject %s", ca.Cert.IsCA, ca.Cert.Subject)
	}
	pemCert, _ := os.ReadFile(filepath.Join(dir, CertFile))
	der, _ := os.ReadFile(filepath.Join(dir, CertDERFile))
	if b, _ := pem.Decode(pemCert); b == nil || !bytes.Equal(b.Bytes, ca.Cert.Raw) || !bytes.Equal(der, ca.Cert.Raw) {
		t.Errorf("%s and %s do not hold the CA certificate", CertFile, CertDERFile)
	}

	os.Remove(filepath.Join(dir, CertDERFile)) // derived files come back
	again, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Cert.Equal(ca.Cert) {
		t.Error("second load made a new CA instead of reusing the first")
	}
	if der2, err := os.ReadFile(filepath.Join(dir, CertDERFile)); err != nil || !bytes.Equal(der2, der) {
		t.Errorf("%s not written again: %v", CertDERFile, err)
	}
}

func TestPermissions(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, KeyFile)
	before, _ := os.ReadFile(key)
	os.Chmod(key, 0o644)
	_, err := LoadOrCreate(dir)
	if !errors.Is(err, ErrPermissions) {
		t.Fatalf("key 0644: err = %v, want ErrPermissions", err)
	}
	t.Logf("key 0644: %v", err)
	if after, _ := os.ReadFile(key); !bytes.Equal(before, after) {
		t.Error("the key file was changed")
	}
	os.Chmod(key, 0o600)
	os.Chmod(dir, 0o777)
	if _, err := LoadOrCreate(dir); !errors.Is(err, ErrPermissions) {
		t.Errorf("dir 0777: err = %v, want ErrPermissions", err)
	}
	os.Chmod(dir, 0o700)
}

func TestCorruptKey(t *testing.T) {
	for name, data := range map[string]string{
		"garbage":    "not a PEM file\n",
		"no cert":    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n",
		"bad base64": "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			key := filepath.Join(dir, KeyFile)
			os.WriteFile(key, []byte(data), 0o600)
			_, err := LoadOrCreate(dir)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			if got, _ := os.ReadFile(key); string(got) != data {
				t.Error("the corrupt key file was replaced")
			}
		})
	}
	// A key and a certificate that do not belong together.
	a, b := t.TempDir(), t.TempDir()
	LoadOrCreate(a)
	LoadOrCreate(b)
	ka, _ := os.ReadFile(filepath.Join(a, KeyFile))
	kb, _ := os.ReadFile(filepath.Join(b, KeyFile))
	keyA, _ := pem.Decode(ka)
	_, restB := pem.Decode(kb)
	mixed := append(pem.EncodeToMemory(keyA), restB...)
	os.WriteFile(filepath.Join(a, KeyFile), mixed, 0o600)
	if _, err := LoadOrCreate(a); !errors.Is(err, ErrCorrupt) {
		t.Errorf("mismatched key: err = %v, want ErrCorrupt", err)
	}
}

// mitmproxyDir lays out dir as mitmproxy lays out ~/.mitmproxy when only
// its key file is left: an RSA key (PKCS#1) and its certificate in
// mitmproxy-ca.pem. It returns that file's content.
func mitmproxyDir(t *testing.T, dir string) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: randSerial(), Subject: pkix.Name{CommonName: "mitmproxy", Organization: []string{"mitmproxy"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	pem.Encode(&buf, &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, MitmproxyFile), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestMitmproxyCA uses a mitmproxy directory holding only mitmproxy-ca.pem
// (key and certificate): frametap uses the CA, and hands out a
// certificate-only file it writes beside it, never the key file.
func TestMitmproxyCA(t *testing.T) {
	dir := t.TempDir()
	keyFile := mitmproxyDir(t, dir)

	ca, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ca.Cert.Subject.CommonName != "mitmproxy" || ca.KeyPath != filepath.Join(dir, MitmproxyFile) {
		t.Errorf("loaded %s from %s, want mitmproxy's CA", ca.Cert.Subject, ca.KeyPath)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); err == nil {
		t.Error("frametap made its own CA beside mitmproxy's")
	}
	verifyLeaf(t, ca, "example.test")

	if want := filepath.Join(dir, MitmproxyCertFile); ca.CertPath != want {
		t.Errorf("CertPath = %s, want %s", ca.CertPath, want)
	}
	checkCertOnly(t, ca, 0o644)
	if after, _ := os.ReadFile(filepath.Join(dir, MitmproxyFile)); !bytes.Equal(after, keyFile) {
		t.Error("mitmproxy-ca.pem was changed")
	}
	// Loaded again, the file is kept as it is.
	st, _ := os.Stat(ca.CertPath)
	again, err := LoadOrCreate(dir)
	if err != nil || again.CertPath != ca.CertPath {
		t.Fatalf("second load: %v, CertPath %s", err, again.CertPath)
	}
	if st2, _ := os.Stat(ca.CertPath); !os.SameFile(st, st2) || !st2.ModTime().Equal(st.ModTime()) {
		t.Error("a good mitmproxy-ca-cert.pem was written again")
	}
}

// TestMitmproxyCertFileNotCertOnly: a mitmproxy-ca-cert.pem that holds the
// key too (a copy of mitmproxy-ca.pem, a symlink to it) or another
// certificate is left alone, and frametap writes frametap-ca-cert.pem.
func TestMitmproxyCertFileNotCertOnly(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(dir string, keyFile []byte) error
	}{
		{"copy of the key file", func(dir string, keyFile []byte) error {
			return os.WriteFile(filepath.Join(dir, MitmproxyCertFile), keyFile, 0o600)
		}},
		{"symlink to the key file", func(dir string, keyFile []byte) error {
			return os.Symlink(MitmproxyFile, filepath.Join(dir, MitmproxyCertFile))
		}},
		{"another certificate", func(dir string, keyFile []byte) error {
			other, err := LoadOrCreate(t.TempDir())
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, MitmproxyCertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.Cert.Raw}), 0o644)
		}},
		{"dangling symlink", func(dir string, keyFile []byte) error {
			return os.Symlink("/nonexistent/frametap-test", filepath.Join(dir, MitmproxyCertFile))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			keyFile := mitmproxyDir(t, dir)
			if err := tc.make(dir, keyFile); err != nil {
				t.Fatal(err)
			}
			before, _ := os.Readlink(filepath.Join(dir, MitmproxyCertFile))
			beforeData, _ := os.ReadFile(filepath.Join(dir, MitmproxyCertFile))
			ca, err := LoadOrCreate(dir)
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(dir, CertFile); ca.CertPath != want {
				t.Errorf("CertPath = %s, want %s", ca.CertPath, want)
			}
			checkCertOnly(t, ca, 0o644)
			after, _ := os.Readlink(filepath.Join(dir, MitmproxyCertFile))
			afterData, _ := os.ReadFile(filepath.Join(dir, MitmproxyCertFile))
			if before != after || !bytes.Equal(beforeData, afterData) {
				t.Error("mitmproxy-ca-cert.pem was changed")
			}
		})
	}
}

// checkCertOnly checks that ca.CertPath holds the CA certificate and no
// private key, with mode perm.
func checkCertOnly(t *testing.T, ca *CA, perm os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(ca.CertPath)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("PRIVATE KEY")) || !CertOnly(data, ca.Cert) {
		t.Errorf("%s is not the CA certificate alone:\n%s", ca.CertPath, data)
	}
	if st, err := os.Lstat(ca.CertPath); err != nil || st.Mode() != perm {
		t.Errorf("%s: mode %v (%v), want a regular file %v", ca.CertPath, st.Mode(), err, perm)
	}
}

// verifyLeaf issues a leaf for name and checks it verifies for name
// against the CA alone.
func verifyLeaf(t *testing.T, ca *CA, name string) *tls.Certificate {
	t.Helper()
	leaf, err := ca.Leaf(name)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
		t.Errorf("leaf for %s: %v", name, err)
	}
	return leaf
}

func TestLeafNames(t *testing.T) {
	ca, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		dns, ip   int
		verifyFor string
	}{
		{"example.test", 1, 0, "example.test"},
		{"localhost", 1, 0, "localhost"},
		{"127.0.0.1", 0, 1, "127.0.0.1"},
		{"::1", 0, 1, "::1"},
		{"[::1]", 0, 1, "::1"},
	} {
		verifyLeaf(t, ca, tc.verifyFor) // chains to the CA for the name a client checks
		leaf, err := ca.Leaf(tc.name)   // and the name as frametap is asked for it
		if err != nil {
			t.Fatal(err)
		}
		if got := leaf.Leaf; len(got.DNSNames) != tc.dns || len(got.IPAddresses) != tc.ip {
			t.Errorf("Leaf(%q): DNS %v IP %v", tc.name, got.DNSNames, got.IPAddresses)
		}
		if err := leaf.Leaf.VerifyHostname(tc.verifyFor); err != nil {
			t.Errorf("Leaf(%q): %v", tc.name, err)
		}
		if leaf.Leaf.NotAfter.After(ca.Cert.NotAfter) || leaf.Leaf.NotBefore.After(time.Now()) {
			t.Errorf("Leaf(%q) valid %v to %v", tc.name, leaf.Leaf.NotBefore, leaf.Leaf.NotAfter)
		}
	}
	if _, err := ca.Leaf(""); err == nil {
		t.Error("Leaf(\"\") succeeded")
	}
}

func TestLeafCache(t *testing.T) {
	ca, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ca.Leaf("a.test")
	b, _ := ca.Leaf("A.test.") // same name, spelled otherwise
	if a != b || ca.leaves.issued != 1 {
		t.Errorf("second Leaf for a.test: same=%v, issued %d, want a cache hit", a == b, ca.leaves.issued)
	}

	// Many tunnels to one new host at once make one certificate.
	var wg sync.WaitGroup
	got := make([]*tls.Certificate, 64)
	for i := range got {
		wg.Go(func() { got[i], _ = ca.Leaf("burst.test") })
	}
	wg.Wait()
	for i := range got {
		if got[i] == nil || got[i] != got[0] {
			t.Fatalf("concurrent Leaf calls got different certificates")
		}
	}
	if ca.leaves.issued != 2 {
		t.Errorf("issued %d leaves, want 2", ca.leaves.issued)
	}

	// The cache is bounded.
	small := newLeafCache(4)
	for i := range 10 {
		small.get(fmt.Sprint(i), ca.issue)
	}
	small.get("9", ca.issue) // recent: still there
	if small.len() != 4 || small.issued != 10 {
		t.Errorf("bounded cache holds %d, issued %d; want 4 and 10", small.len(), small.issued)
	}
}

// BenchmarkLeafIssue is the cost of the first tunnel to a new host: one
// ECDSA P-256 signature by the CA.
func BenchmarkLeafIssue(b *testing.B) {
	ca, err := LoadOrCreate(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		if _, err := ca.issue(fmt.Sprintf("host%d.test", i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLeafCached is the cost of every later tunnel to that host.
func BenchmarkLeafCached(b *testing.B) {
	ca, err := LoadOrCreate(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	ca.Leaf("cached.test")
	for b.Loop() {
		ca.Leaf("cached.test")
	}
}

// The corrupt-key error says to move the key away to make a new CA: the
// new CA's public files must then hold the new certificate, not the old
// one. (Found in review.)
func TestNewCAReplacesStaleCertFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, KeyFile), filepath.Join(t.TempDir(), "moved.pem")); err != nil {
		t.Fatal(err)
	}
	ca, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{CertFile, CertDERFile} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if blk, _ := pem.Decode(b); blk != nil {
			b = blk.Bytes
		}
		c, err := x509.ParseCertificate(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !c.Equal(ca.Cert) {
			t.Errorf("%s holds serial %x, want the new CA's %x", name, c.SerialNumber, ca.Cert.SerialNumber)
		}
	}
}
