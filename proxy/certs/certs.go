// Package certs keeps frametap's certificate authority on disk and issues
// the leaf certificates frametap shows TLS clients it intercepts.
//
// The CA lives in one directory under fixed names, as mitmproxy's does:
// frametap-ca.pem (private key and certificate, 0600), frametap-ca-cert.pem
// (the certificate, to hand to browsers and curl) and frametap-ca-cert.cer
// (the same in DER). A directory holding mitmproxy's mitmproxy-ca.pem is
// used too, so that a CA users already trust keeps working; since that file
// holds the private key, the certificate to hand out is
// mitmproxy-ca-cert.pem, which frametap writes when it is missing.
package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names in a CA directory.
const (
	KeyFile           = "frametap-ca.pem"       // private key and certificate, owner-only
	CertFile          = "frametap-ca-cert.pem"  // the certificate in PEM
	CertDERFile       = "frametap-ca-cert.cer"  // the certificate in DER
	MitmproxyFile     = "mitmproxy-ca.pem"      // mitmproxy's key and certificate, used when present
	MitmproxyCertFile = "mitmproxy-ca-cert.pem" // mitmproxy's certificate alone, written when missing
)

// Errors of loading a CA.
var (
	// ErrPermissions reports a key file or directory others may read or
	// write: frametap refuses to use a CA key that may have leaked.
	ErrPermissions = errors.New("permissions too open")
	// ErrCorrupt reports a CA file that does not hold a usable key and
	// certificate. frametap never replaces it.
	ErrCorrupt = errors.New("not a usable CA key and certificate")
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 397 * 24 * time.Hour // the most CA/Browser Forum rules allow a leaf
	clockSkew    = 48 * time.Hour       // leaves start this far in the past
)

// CA is a certificate authority: a key, its certificate, and a cache of the
// leaf certificates it issued. Its methods are safe for concurrent use.
type CA struct {
	// Dir is the directory the CA was loaded from; KeyPath the file
	// holding its key; CertPath the PEM certificate to trust and copy,
	// a file that holds the certificate alone, never a private key.
	Dir, KeyPath, CertPath string
	// Cert is the CA certificate.
	Cert *x509.Certificate

	key     crypto.Signer
	leafKey *ecdsa.PrivateKey // one key for every leaf, as mitmproxy does: issuing is then one signature
	leaves  *leafCache
}

// LoadOrCreate loads the CA in dir, creating the directory (0700) and a
// new ECDSA P-256 CA when there is none. A mitmproxy-ca.pem in dir is used
// in preference to frametap's own files. A key file others can read, or
// one that does not parse, is an error: it is never replaced.
func LoadOrCreate(dir string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("CA directory: %w", err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("CA directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("CA directory %s is not a directory", dir)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("CA directory %s is writable by others (mode %04o): %w; run chmod 700 %s",
			dir, st.Mode().Perm(), ErrPermissions, dir)
	}
	if mitm := filepath.Join(dir, MitmproxyFile); exists(mitm) {
		ca, err := load(mitm)
		if err != nil {
			return nil, err
		}
		ca.Dir = dir
		if ca.CertPath, err = mitmproxyCertPath(dir, ca.Cert); err != nil {
			return nil, err
		}
		return ca, nil
	}
	keyPath := filepath.Join(dir, KeyFile)
	if !exists(keyPath) {
		if err := create(keyPath); err != nil {
			return nil, err
		}
	}
	ca, err := load(keyPath)
	if err != nil {
		return nil, err
	}
	ca.Dir, ca.CertPath = dir, filepath.Join(dir, CertFile)
	// The public files are derived from the key file: write them when
	// missing (a user may have deleted one) or when they hold another
	// certificate (the user moved a broken key away, as the error says, and
	// a new CA was made): handing out a certificate that does not match the
	// key would make every intercepted site fail. The key is never touched.
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
	for _, f := range []struct {
		name string
		data []byte
	}{{CertFile, pemCert}, {CertDERFile, ca.Cert.Raw}} {
		p := filepath.Join(dir, f.name)
		if have, err := os.ReadFile(p); err == nil && bytes.Equal(have, f.data) {
			continue
		}
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return nil, fmt.Errorf("writing CA certificate: %w", err)
		}
	}
	return ca, nil
}

// mitmproxyCertPath returns the file of dir that holds cert alone, for a
// mitmproxy CA whose mitmproxy-ca.pem holds the key too: mitmproxy's own
// mitmproxy-ca-cert.pem when it holds exactly that, written (0644) when it
// is missing, as mitmproxy writes it. One that holds anything else (a
// private key, another certificate) is left alone, and frametap writes
// frametap-ca-cert.pem instead.
func mitmproxyCertPath(dir string, cert *x509.Certificate) (string, error) {
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	p := filepath.Join(dir, MitmproxyCertFile)
	have, err := os.ReadFile(p)
	switch {
	case err == nil && CertOnly(have, cert):
		return p, nil
	case errors.Is(err, fs.ErrNotExist) && !exists(p): // not a dangling symlink either
	default:
		p = filepath.Join(dir, CertFile)
		if have, err := os.ReadFile(p); err == nil && bytes.Equal(have, pemCert) {
			return p, nil
		}
	}
	if err := writeNew(p, pemCert); err != nil {
		return "", fmt.Errorf("writing CA certificate: %w", err)
	}
	return p, nil
}

// writeNew writes data to path (0644), replacing what path held by
// renaming a new file over it: a symlink at path is replaced, never
// followed.
func writeNew(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".frametap-cert-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// CertOnly reports whether data is PEM holding cert and no private key of
// any kind: what may be handed out, trusted and copied into a world-readable
// store.
func CertOnly(data []byte, cert *x509.Certificate) bool {
	if bytes.Contains(data, []byte("PRIVATE KEY")) {
		return false
	}
	b, _ := pem.Decode(data)
	return b != nil && b.Type == "CERTIFICATE" && bytes.Equal(b.Bytes, cert.Raw)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return !errors.Is(err, fs.ErrNotExist)
}

// create writes a new CA key and certificate to path, owner-only. It fails
// if path appeared meanwhile (O_EXCL): two frametaps starting at once end
// up with one CA.
func create(path string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(),
		Subject:               pkix.Name{CommonName: "frametap CA", Organization: []string{"frametap"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("creating CA certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	pem.Encode(&buf, &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // another frametap made it first: load theirs
		}
		return fmt.Errorf("creating CA key: %w", err)
	}
	_, err = f.Write(buf.Bytes())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("writing CA key: %w", err)
	}
	return nil
}

// load reads a PEM file holding a private key and its CA certificate, in
// either order (frametap writes the key first, mitmproxy too).
func load(path string) (*CA, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("CA key %s is accessible by others (mode %04o): %w; run chmod 600 %s",
			path, st.Mode().Perm(), ErrPermissions, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	corrupt := func(why string) error {
		return fmt.Errorf("CA key %s: %s: %w (frametap does not replace it: move it away to make a new CA, which clients must then trust again)",
			path, why, ErrCorrupt)
	}
	var key crypto.Signer
	var cert *x509.Certificate
	for rest := data; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch {
		case b.Type == "CERTIFICATE" && cert == nil:
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, corrupt("certificate: " + err.Error())
			}
			cert = c
		case strings.HasSuffix(b.Type, "PRIVATE KEY") && key == nil:
			k, err := parseKey(b)
			if err != nil {
				return nil, corrupt(err.Error())
			}
			key = k
		}
	}
	switch {
	case key == nil:
		return nil, corrupt("no PEM private key")
	case cert == nil:
		return nil, corrupt("no PEM certificate")
	case !cert.IsCA:
		return nil, corrupt("the certificate is not a CA certificate")
	case !publicKeysEqual(key.Public(), cert.PublicKey):
		return nil, corrupt("the key does not belong to the certificate")
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &CA{KeyPath: path, Cert: cert, key: key, leafKey: leafKey, leaves: newLeafCache(leafCacheSize)}, nil
}

func parseKey(b *pem.Block) (crypto.Signer, error) {
	var k any
	var err error
	switch b.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(b.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key of type %T cannot sign", k)
	}
	return s, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	switch a := a.(type) {
	case *ecdsa.PublicKey:
		return a.Equal(b)
	case *rsa.PublicKey:
		return a.Equal(b)
	case interface{ Equal(crypto.PublicKey) bool }:
		return a.Equal(b)
	}
	return false
}

func randSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n.Add(n, big.NewInt(1))
}

// Leaf returns a certificate for name (a DNS name or an IP address, with
// no port) signed by the CA, with name as its only subject alternative
// name. Leaves are cached: the first call for a name signs one, later calls
// and concurrent ones for the same name share it.
func (ca *CA) Leaf(name string) (*tls.Certificate, error) {
	name = strings.TrimSuffix(strings.ToLower(strings.Trim(name, "[]")), ".")
	if name == "" {
		return nil, errors.New("certificate for an empty name")
	}
	return ca.leaves.get(name, ca.issue)
}

// issue signs a new leaf for name.
func (ca *CA) issue(name string) (*tls.Certificate, error) {
	now := time.Now()
	notAfter := now.Add(leafValidity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"frametap"}},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &ca.leafKey.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("issuing a certificate for %s: %w", name, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: ca.leafKey, Leaf: leaf}, nil
}
