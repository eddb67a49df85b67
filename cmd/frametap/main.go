// Command frametap is an inspecting proxy for HTTP/1.x and WebSocket: it
// relays every byte between client and server unchanged, decodes what it
// carries and records it as a capture log.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/decode"
	"github.com/frametap/frametap/proxy"
	"github.com/frametap/frametap/ui"
)

const usage = `frametap: see what really crosses the wire (HTTP/1.x and WebSocket).

Usage:
  frametap [flags]            the proxy, with the live dashboard (--headless: text lines)
  frametap demo [flags]       the proxy, a demo server and a scripted client: see it work
  frametap view FILE          the dashboard over a saved capture (also: frametap -r FILE;
                              --headless prints it as lines)
  frametap ca                 where frametap's CA is, and how to trust it (for https/wss)

  frametap --version          which build this is

Point a client at it as an HTTP proxy (regular mode, the default):
  frametap --headless -w capture.jsonl
  curl -x http://127.0.0.1:8080 http://127.0.0.1:3000/

Or put it in front of one server (reverse mode):
  frametap --headless --mode reverse:http://127.0.0.1:3000 -p 8080
  curl http://127.0.0.1:8080/   (and ws:// clients alike)

Flags:
`

// options are the parsed command line.
type options struct {
	listen     string
	listenHost string
	port       int
	mode       string
	write      string
	headless   bool
	maxBody    string
	maxMessage string
	uiEvents   int
	allowUp    []string
	headerWait time.Duration // --header-timeout
	idleWait   time.Duration // --idle-timeout
	tls        tlsOptions    // --ca-dir, --upstream-ca, -k, --ignore-hosts (ca.go)
	read       string

	// Readable bodies (issue 13).
	decodeBodies bool     // --decode-bodies
	uiHide       []string // --ui-hide
}

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, errHelped):
	case errors.Is(err, errFlags):
		os.Exit(2) // the flag package said what was wrong
	default:
		fmt.Fprintln(os.Stderr, "frametap:", err)
		os.Exit(2)
	}
}

// errFlags wraps a command line the flag package refused (it said why).
var errFlags = errors.New("bad flags")

// run dispatches the subcommands: demo, view, or the proxy itself.
func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case "demo":
			return runDemo(args[1:], stdout, stderr)
		case "ca":
			return runCA(args[1:], stdout, stderr)
		case "view":
			return runView(args[1:], stdout, stderr)
		}
	}
	var o options
	fs := newFlags("frametap", &o, stderr, "127.0.0.1:8080")
	fs.StringVar(&o.read, "r", "", "show the saved capture `FILE` in the dashboard, as mitmproxy's -r (same as frametap view FILE)")
	rest, err := parseFlags(fs, args, stdout, func(w io.Writer) { fmt.Fprint(w, usage) })
	if err != nil {
		return flagErr(err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected argument %q (see --help)", rest[0])
	}
	if o.read != "" {
		if o.headless {
			return printCapture(o.read, stdout, stderr)
		}
		if err := needTerminal(); err != nil {
			return err
		}
		return viewFile(o.read, o.uiEvents, stderr)
	}
	return serve(o, flagSet(fs, "listen"), stdout, stderr, nil)
}

// newFlags returns the flag set shared by the proxy and the demo.
func newFlags(name string, o *options, stderr io.Writer, listen string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", listen, "address to listen on, host:port (loopback unless you say otherwise)")
	fs.StringVar(&o.listenHost, "listen-host", "", "host to listen on, as mitmproxy's --listen-host (port from -p, default 8080)")
	fs.IntVar(&o.port, "p", 0, "port to listen on, as mitmproxy's -p (host from --listen-host, default 127.0.0.1)")
	fs.IntVar(&o.port, "listen-port", 0, "same as -p")
	fs.StringVar(&o.mode, "mode", "regular", "regular (an HTTP proxy with CONNECT) or reverse:http://host:port (also https://, ws://, wss://)")
	fs.StringVar(&o.write, "w", "", "append every event to `FILE` as JSON Lines (the capture log)")
	fs.BoolVar(&o.headless, "headless", false, "print one line per event to stdout instead of the dashboard")
	fs.StringVar(&o.maxBody, "max-body", "1MiB", "HTTP body bytes kept per message in events (k, KiB, M, MiB suffixes)")
	fs.StringVar(&o.maxMessage, "max-message", "16MiB", "WebSocket payload bytes kept per message in events")
	fs.Var((*stringsFlag)(&o.allowUp), "allow-upstream", "dial only upstreams whose whole host:port matches `REGEX`, e.g. '127\\.0\\.0\\.1:\\d+' (repeatable); others get a 502, with no name lookup")
	fs.DurationVar(&o.headerWait, "header-timeout", proxy.DefaultHeaderTimeout, "an HTTP client must send a request head within this `DURATION` (the first from the connection's start); 0: no limit")
	fs.DurationVar(&o.idleWait, "idle-timeout", proxy.DefaultIdleTimeout, "an HTTP connection with no exchange under way is closed after this `DURATION`; 0: no limit (never applies to WebSockets or tunnels)")
	fs.IntVar(&o.uiEvents, "ui-events", ui.DefaultMaxEvents, "events the dashboard holds in memory (and at most about 256 MiB of them); older ones are only in the capture file (-w), or gone without one")
	addTLSFlags(fs, &o.tls)
	fs.BoolVar(&o.decodeBodies, "decode-bodies", false, "also record each encoded body (gzip, deflate, br, zstd) decoded, as decoded_body, up to --max-body; decoded_len is recorded always")
	fs.Var((*stringsFlag)(&o.uiHide), "ui-hide", "hide the connections to `HOST` (or host:port) in the dashboard, as its h key does (repeatable)")
	return fs
}

// flagErr passes errHelped on, and marks an error the flag package
// reported itself.
func flagErr(err error) error {
	if errors.Is(err, errHelped) {
		return err
	}
	return fmt.Errorf("%w: %w", errFlags, err)
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// demoRunner starts the demo's scripted client once the proxy listens on
// addr; it stops when ctx is done.
type demoRunner func(ctx context.Context, addr string)

// serve runs the proxy until Ctrl-C (or SIGTERM, or q in the dashboard),
// then shuts it down and flushes the capture. demo, if not nil, is started
// once the proxy listens.
func serve(o options, listenSet bool, stdout, stderr io.Writer, demo demoRunner) error {
	addr, err := listenAddr(o, listenSet)
	if err != nil {
		return err
	}
	mode, upstream, err := proxy.ParseMode(o.mode)
	if err != nil {
		return err
	}
	maxBody, err := parseSize(o.maxBody)
	if err != nil {
		return fmt.Errorf("--max-body: %w", err)
	}
	maxMessage, err := parseSize(o.maxMessage)
	if err != nil {
		return fmt.Errorf("--max-message: %w", err)
	}
	if o.headerWait < 0 || o.idleWait < 0 {
		return errors.New("--header-timeout and --idle-timeout take a duration such as 30s or 5m, or 0 for no limit")
	}
	var allowUp *regexp.Regexp
	if len(o.allowUp) > 0 {
		// The proxy anchors it: each pattern must match a whole host:port.
		if allowUp, err = regexp.Compile("(?i)(?:" + strings.Join(o.allowUp, ")|(?:") + ")"); err != nil {
			return fmt.Errorf("--allow-upstream: %w", err)
		}
	}
	// The dashboard owns the terminal: what would go to stderr meanwhile
	// waits in memory and is printed when it closes.
	var held heldWriter
	logw := stderr
	if !o.headless {
		if err := needTerminal(); err != nil {
			return err
		}
		logw = &held
		defer held.writeTo(stderr)
	}
	logger := slog.New(slog.NewTextHandler(logw, nil))

	var outputs []capture.Output
	var logs []*capture.Log
	var captureHealth func() (written, lost int64, err error) // the -w file's, for the status line
	if o.write != "" {
		l, err := capture.NewFileLog(o.write, capture.JSON)
		if err != nil {
			return err
		}
		captureHealth = func() (int64, int64, error) { h := l.Health(); return h.Written, h.Lost, h.Err }
		logs = append(logs, l)
		outputs = append(outputs, l)
		go watchCapture(l, "capture file "+o.write, logw)
	}
	var store *ui.Store
	if o.headless {
		text := capture.NewLog(stdout, capture.Text, capture.LogOptions{})
		logs = append(logs, text)
		outputs = append(outputs, text)
		go watchCapture(text, "standard output", logw)
	} else {
		store = ui.NewStore(o.uiEvents)
		outputs = append(outputs, store)
	}
	closeLogs := func() error {
		var errs []error
		for _, l := range logs {
			errs = append(errs, l.Close())
		}
		return errors.Join(errs...)
	}

	tlsc, err := o.tls.load(stderr)
	if err != nil {
		closeLogs()
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		closeLogs()
		return err
	}
	p := proxy.New(proxy.Config{
		Mode:     mode,
		Upstream: upstream,
		Decode:   decode.Config{MaxBody: noneIfZero(maxBody), MaxMessage: noneIfZero(maxMessage)},
		Outputs:  outputs,
		Logger:   logger,

		DecodeBodies: o.decodeBodies,

		CA:            tlsc.ca,
		UpstreamRoots: tlsc.roots,
		Insecure:      tlsc.insecure,
		IgnoreHosts:   tlsc.ignore,
		AllowUpstream: allowUp,

		HeaderTimeout: noLimitIfZero(o.headerWait),
		IdleTimeout:   noLimitIfZero(o.idleWait),
	})
	desc := "HTTP proxy (set http://" + ln.Addr().String() + " as the proxy)"
	if mode == proxy.Reverse {
		desc = "reverse proxy to " + upstream
	}
	fmt.Fprintf(stderr, "frametap: listening on %s, %s", ln.Addr(), desc)
	if o.write != "" {
		fmt.Fprintf(stderr, ", capture to %s", o.write)
	}
	fmt.Fprintln(stderr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	served := make(chan error, 1)
	go func() { served <- p.Serve(ln) }()
	demoCtx, stopDemo := context.WithCancel(ctx)
	demoDone := make(chan struct{})
	if demo != nil {
		go func() { defer close(demoDone); demo(demoCtx, ln.Addr().String()) }()
	} else {
		close(demoDone)
	}
	endDemo := func() { stopDemo(); <-demoDone }

	if store != nil {
		modeName := mode.String()
		if demo != nil {
			modeName += " (demo)"
		}
		dash := ui.New(ui.Config{Listen: ln.Addr().String(), Mode: modeName, CaptureFile: o.write, CaptureHealth: captureHealth, Insecure: tlsc.insecure, HideHosts: o.uiHide}, store)
		uiErr := make(chan error, 1)
		go func() { uiErr <- dash.Run(ctx) }()
		select {
		case err := <-uiErr:
			if err != nil {
				endDemo()
				p.Shutdown(context.Background())
				closeLogs()
				return err
			}
		case err := <-served:
			dash.Quit()
			<-uiErr
			if !errors.Is(err, proxy.ErrShutdown) {
				endDemo()
				p.Shutdown(context.Background())
				closeLogs()
				return err
			}
		}
	} else {
		select {
		case <-ctx.Done():
			stop() // a second Ctrl-C kills the process the ordinary way
		case err := <-served:
			if !errors.Is(err, proxy.ErrShutdown) {
				endDemo()
				p.Shutdown(context.Background())
				closeLogs()
				return err
			}
		}
	}
	endDemo()
	// Shutdown closes every connection (each records its close), then the
	// logs drain and flush: all within 5 seconds.
	// A capture output that stopped draining (stdout into a paused pager, a
	// stalled disk) could hold that up: frametap still exits in 5 seconds
	// and says what may be missing.
	sctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	finished := make(chan error, 1)
	go func() {
		serr := p.Shutdown(sctx)
		finished <- errors.Join(serr, closeLogs())
	}()
	select {
	case err := <-finished:
		return err
	case <-time.After(5 * time.Second):
		return errors.New("shutdown took over 5 seconds: a capture output stopped taking events, and what it had not written is lost")
	}
}

// heldWriter keeps what is written while the dashboard has the terminal.
// It is safe for concurrent use.
type heldWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (h *heldWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.b.Write(p)
}

func (h *heldWriter) writeTo(w io.Writer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.b.WriteTo(w)
}

// listenAddr combines --listen with mitmproxy's -p and --listen-host.
func listenAddr(o options, listenSet bool) (string, error) {
	if o.port == 0 && o.listenHost == "" {
		return o.listen, nil
	}
	if listenSet {
		return "", errors.New("use either --listen or -p/--listen-host, not both")
	}
	host, port := o.listenHost, strconv.Itoa(o.port)
	if host == "" {
		host = "127.0.0.1"
	}
	if o.port == 0 {
		port = "8080"
	}
	return net.JoinHostPort(host, port), nil
}

// parseSize reads a byte count such as 1048576, 512k, 1MiB or 16M.
func parseSize(s string) (int, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}} {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size such as 1048576, 512k or 16MiB", s)
	}
	return n * mult, nil
}

// noLimitIfZero maps a user's 0 ("no limit") to proxy.Config's "none".
func noLimitIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// noneIfZero maps a user's 0 ("keep nothing") to decode.Config's "none".
func noneIfZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
