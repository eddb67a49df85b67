// Command frametap is an inspecting proxy for HTTP/1.x, HTTP/2 and WebSocket: it
// relays every byte between client and server unchanged, decodes what it
// carries and records it as a capture log.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/frametap/frametap/capture/push"
	"github.com/frametap/frametap/filter"
	"github.com/frametap/frametap/proxy"
	"github.com/frametap/frametap/ui"
)

const usage = `frametap: see what really crosses the wire (HTTP/1.x, HTTP/2 and WebSocket).

Usage:
  frametap [flags]            the proxy, with the live dashboard (--headless: text lines)
  frametap demo [flags]       the proxy, a demo server and a scripted client: see it work
  frametap view FILE          the dashboard over a saved capture or a HAR file (also:
                              frametap -r FILE; --headless prints it as lines; - reads stdin)
  frametap export --har OUT CAPTURE
                              a capture as a HAR file for browsers' DevTools (- for stdin/stdout)
  frametap ca                 where frametap's CA is, and how to trust it (for https/wss)
  frametap help filters       the filter language of --filter (and the dashboard's /)
  frametap replay FILE --conn N   send connection N's client side again, to its server or --to URL
  frametap inject --control SOCKET --conn N --to server|client --text MSG
                              write a WebSocket message into a live connection of a frametap
                              started with --control SOCKET

  frametap --version          which build this is

Point a client at it as an HTTP proxy (regular mode, the default):
  frametap --headless -w capture.jsonl
  curl -x http://127.0.0.1:8080 http://127.0.0.1:3000/

Or put it in front of one server (reverse mode):
  frametap --headless --mode reverse:http://127.0.0.1:3000 -p 8080
  curl http://127.0.0.1:8080/   (and ws:// clients alike)

Or as a SOCKS5 proxy, through another proxy, or transparently (see the README):
  frametap --mode socks5                 curl --socks5-hostname 127.0.0.1:1080 http://...
  frametap --mode upstream:http://corp-proxy:3128
  frametap --mode transparent --set-mark 1
Several at once, one capture: --mode regular@8080 --mode socks5@1080
Into a pipeline, or Wireshark:
  frametap -w - | jq .         the capture on stdout (text lines on stderr; -q: none)
  frametap -q --pcap out.pcapng --keylog keys.txt

Flags:
`

// options are the parsed command line.
type options struct {
	listen     string
	listenHost string
	port       int
	modes      []string // --mode, repeatable: MODE or MODE@PORT (listeners.go)
	proxyAuth  string   // --proxyauth user:pass (SOCKS5)
	mark       int      // --set-mark
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

	// Issue 14.
	filter  string // --filter: what headless lines and -w keep
	control string // --control: the unix socket `frametap inject` talks to
	// Issue 11's outputs: -q (issue 15's flag, mitmdump's spelling),
	// --pcap and --keylog (pipe.go).
	quiet  bool
	pcap   string
	keylog string
	// Readable bodies (issue 13).
	decodeBodies bool     // --decode-bodies
	uiHide       []string // --ui-hide
	// Push (issue 10).
	longPoll time.Duration // --long-poll
}

func main() {
	// A write to a closed pipe returns EPIPE instead of killing the
	// process (Go's default for standard output), so that frametap -w - |
	// head ends cleanly, saying so (pipe.go).
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, errHelped), errors.Is(err, flag.ErrHelp):
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
		// Issue 14.
		case "help":
			return runHelp(args[1:], stdout, stderr)
		case "inject":
			return runInject(args[1:], stdout, stderr)
		case "replay":
			return runReplay(args[1:], stdout, stderr)
		case "export":
			return runExport(args[1:], stdout, stderr)
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
		var flt *filter.Filter
		if o.filter != "" {
			var err error
			if flt, err = parseFilter("--filter", o.filter); err != nil {
				return err
			}
		}
		if o.headless {
			return printCapture(o.read, flt, stdout, stderr)
		}
		if err := needTerminal(); err != nil {
			return err
		}
		return viewFile(o.read, flt, o.uiEvents, stderr)
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
	fs.Var((*stringsFlag)(&o.modes), "mode", "regular (an HTTP proxy with CONNECT), socks5, transparent, upstream:http://host:port (or socks5://), or reverse:http://host:port (also https://, ws://, wss://); repeatable as `MODE@PORT` to listen in several modes at once (default regular)")
	fs.StringVar(&o.proxyAuth, "proxyauth", "", "require this `user:pass` of SOCKS5 clients (RFC 1929), as mitmproxy's --proxyauth")
	fs.IntVar(&o.mark, "set-mark", 0, "set SO_MARK `N` on frametap's own upstream sockets (Linux, needs CAP_NET_ADMIN), so that a transparent-mode redirect rule can leave them alone")
	fs.StringVar(&o.write, "w", "", "append every event to `FILE` as JSON Lines (the capture log)")
	fs.BoolVar(&o.headless, "headless", false, "print one line per event to stdout instead of the dashboard")
	fs.StringVar(&o.maxBody, "max-body", "1MiB", "HTTP body bytes kept per message in events (k, KiB, M, MiB suffixes)")
	fs.StringVar(&o.maxMessage, "max-message", "16MiB", "WebSocket payload bytes kept per message in events")
	fs.Var((*stringsFlag)(&o.allowUp), "allow-upstream", "dial only upstreams whose whole host:port matches `REGEX`, e.g. '127\\.0\\.0\\.1:\\d+' (repeatable); others get a 502, with no name lookup")
	fs.DurationVar(&o.headerWait, "header-timeout", proxy.DefaultHeaderTimeout, "an HTTP client must send a request head within this `DURATION` (the first from the connection's start); 0: no limit")
	fs.DurationVar(&o.idleWait, "idle-timeout", proxy.DefaultIdleTimeout, "an HTTP connection with no exchange under way is closed after this `DURATION`; 0: no limit (never applies to WebSockets or tunnels)")
	fs.IntVar(&o.uiEvents, "ui-events", ui.DefaultMaxEvents, "events the dashboard holds in memory (and at most about 256 MiB of them); older ones are only in the capture file (-w), or gone without one")
	addTLSFlags(fs, &o.tls)
	// Issue 14.
	fs.StringVar(&o.control, "control", "", "listen on the unix socket `PATH` (owner-only) for frametap inject and scripts: see frametap inject -h")
	fs.StringVar(&o.filter, "filter", "", "write only the events `EXPR` selects to the headless lines and -w (whole exchanges and messages, with the open and close of their connections; the capture starts with a meta event naming EXPR); see frametap help filters")
	addOutputFlags(fs, o)
	fs.BoolVar(&o.decodeBodies, "decode-bodies", false, "also record each encoded body (gzip, deflate, br, zstd) decoded, as decoded_body, up to --max-body; decoded_len is recorded always")
	fs.Var((*stringsFlag)(&o.uiHide), "ui-hide", "hide the connections to `HOST` (or host:port) in the dashboard, as its h key does (repeatable)")
	// Issue 10.
	fs.DurationVar(&o.longPoll, "long-poll", push.DefaultLongPoll, "an exchange the server holds at least this `DURATION` is a long poll, and a chunked response still open this long after its head is recorded chunk by chunk")
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
