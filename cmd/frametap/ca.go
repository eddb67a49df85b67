package main

import (
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/frametap/frametap/proxy/certs"
)

// tlsOptions are the TLS interception flags, named as mitmproxy names them
// where it has them.
type tlsOptions struct {
	caDir       string
	upstreamCA  string
	insecure    bool
	ignoreHosts []string
}

// stringsFlag is a repeatable string flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// defaultCADir is ~/.frametap, or .frametap in the working directory when
// there is no home.
func defaultCADir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ".frametap"
	}
	return filepath.Join(home, ".frametap")
}

func addTLSFlags(fs *flag.FlagSet, o *tlsOptions) {
	fs.StringVar(&o.caDir, "ca-dir", defaultCADir(), "`DIR` of frametap's CA (made when missing); a ~/.mitmproxy directory works too (see frametap ca)")
	fs.StringVar(&o.upstreamCA, "upstream-ca", "", "trust the CA certificates in PEM `FILE` for upstream servers, beside the system's")
	fs.BoolVar(&o.insecure, "k", false, "do not verify upstream certificates (same as --ssl-insecure)")
	fs.BoolVar(&o.insecure, "ssl-insecure", false, "do not verify upstream certificates: anyone on the path can impersonate a server")
	fs.Var((*stringsFlag)(&o.ignoreHosts), "ignore-hosts", "relay CONNECT tunnels whose host:port matches `REGEX` opaque, without intercepting TLS (repeatable)")
}

// tlsConfig is what the flags make of the proxy's TLS fields.
type tlsConfig struct {
	ca       *certs.CA
	roots    *x509.CertPool
	insecure bool
	ignore   *regexp.Regexp
}

// load reads the CA (making it when missing), the upstream roots and the
// ignore pattern. It says on notices where the CA is, and on stderr what
// --ssl-insecure gives up.
func (o tlsOptions) load(notices, stderr io.Writer) (tlsConfig, error) {
	var tc tlsConfig
	ca, err := certs.LoadOrCreate(o.caDir)
	if err != nil {
		return tc, fmt.Errorf("--ca-dir: %w", err)
	}
	tc.ca, tc.insecure = ca, o.insecure
	if o.upstreamCA != "" {
		pemData, err := os.ReadFile(o.upstreamCA)
		if err != nil {
			return tc, fmt.Errorf("--upstream-ca: %w", err)
		}
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pemData) {
			return tc, fmt.Errorf("--upstream-ca: no PEM certificate in %s", o.upstreamCA)
		}
		tc.roots = roots
	}
	if len(o.ignoreHosts) > 0 {
		// Host names are case-insensitive: so is the match, as in mitmproxy.
		re, err := regexp.Compile("(?i)(?:" + strings.Join(o.ignoreHosts, ")|(?:") + ")")
		if err != nil {
			return tc, fmt.Errorf("--ignore-hosts: %w", err)
		}
		tc.ignore = re
	}
	fmt.Fprintf(notices, "frametap: intercepting TLS with the CA %s (run `frametap ca` to see how to trust it)\n", ca.CertPath)
	if o.insecure {
		fmt.Fprintln(stderr, "frametap: WARNING: --ssl-insecure: upstream certificates are not verified")
	}
	return tc, nil
}

const caUsage = `Usage: frametap ca [--ca-dir DIR]

Makes frametap's certificate authority when it is missing and prints where
its certificate is and how to trust it.

`

// runCA is the ca subcommand.
func runCA(args []string, stdout, stderr io.Writer) error {
	var o tlsOptions
	fs := flag.NewFlagSet("frametap ca", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.caDir, "ca-dir", defaultCADir(), "`DIR` of frametap's CA")
	rest, err := parseFlags(fs, args, stdout, func(w io.Writer) { fmt.Fprint(w, caUsage) })
	if err != nil {
		return flagErr(err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("ca: unexpected argument %q", rest[0])
	}
	ca, err := certs.LoadOrCreate(o.caDir)
	if err != nil {
		if errors.Is(err, certs.ErrPermissions) || errors.Is(err, certs.ErrCorrupt) {
			return fmt.Errorf("ca: %w", err)
		}
		return err
	}
	// The instructions copy CertPath into world-readable places: never
	// print a file that holds a private key as the one to trust.
	if data, err := os.ReadFile(ca.CertPath); err != nil || !certs.CertOnly(data, ca.Cert) {
		return fmt.Errorf("ca: %s is not the CA certificate alone (it may hold the private key): not telling you to trust or copy it", ca.CertPath)
	}
	fmt.Fprint(stdout, caInstructions(ca))
	return nil
}

// caInstructions tells how to trust ca in the usual places.
func caInstructions(ca *certs.CA) string {
	cert := ca.CertPath
	var b strings.Builder
	fmt.Fprintf(&b, `frametap's CA: %s
  certificate (PEM): %s
  private key:       %s (keep it secret: whoever has it can impersonate any site to you)
  valid until:       %s

Trust it where you want TLS intercepted (only on machines you control):

  Chrome/Chromium on Linux (NSS database of your user):
    mkdir -p $HOME/.pki/nssdb && certutil -d sql:$HOME/.pki/nssdb -N --empty-password   # only if it does not exist yet
    certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n frametap -i %s
    (certutil is in libnss3-tools; restart the browser)

  Firefox: Settings → Privacy & Security → Certificates → View Certificates →
    Authorities → Import %s, tick "Trust this CA to identify websites".
    Or with certutil on the profile: certutil -d sql:PROFILE_DIR -A -t C,, -n frametap -i %s

  curl:
    curl --cacert %s -x http://127.0.0.1:8080 https://example.com/

  Debian/Ubuntu system store (curl, wget, Python, Go and most tools):
    sudo cp %s /usr/local/share/ca-certificates/frametap.crt
    sudo update-ca-certificates

To intercept nothing for some hosts (apps that pin certificates):
  frametap --ignore-hosts 'example\.com:443$'
`, ca.Cert.Subject, cert, ca.KeyPath, ca.Cert.NotAfter.Format("2006-01-02"), cert, cert, cert, cert, cert)
	return b.String()
}
