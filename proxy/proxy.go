// Package proxy accepts client connections, relays their bytes to the
// upstream unchanged (or, as a forward proxy, with request heads rewritten
// as RFC 9110 section 7.6 asks of a proxy) and feeds every byte through a
// decode.Conn on the way, turning what it decodes into capture events.
//
// Two modes share one listener: Regular is an explicit HTTP proxy (absolute-
// form requests and CONNECT tunnels, as browsers and curl use one); Reverse
// relays every connection to one fixed upstream.
package proxy

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/decode"
	"github.com/frametap/frametap/proxy/certs"
)

// Mode says how the proxy finds the upstream of a connection.
type Mode int

const (
	// Regular is an explicit HTTP proxy: each request names its upstream
	// (absolute-form), CONNECT opens a tunnel.
	Regular Mode = iota
	// Reverse relays every client connection to Config.Upstream.
	Reverse
)

func (m Mode) String() string {
	if m == Reverse {
		return "reverse"
	}
	return "regular"
}

// ParseMode reads a mode as mitmproxy's --mode spells it: "regular", or
// "reverse:http://host:port" (ws:// is the same thing), or
// "reverse:https://host:port" (or wss://) for an upstream spoken to with
// TLS. It returns the mode and, for reverse, the upstream as Config.Upstream
// takes it: host:port, or https://host:port for TLS.
func ParseMode(s string) (Mode, string, error) {
	if s == "" || s == "regular" {
		return Regular, "", nil
	}
	spec, ok := strings.CutPrefix(s, "reverse:")
	if !ok {
		return 0, "", fmt.Errorf("mode %q: want regular or reverse:http://host:port", s)
	}
	u, err := url.Parse(spec)
	if err != nil || u.Host == "" {
		return 0, "", fmt.Errorf("mode %q: want reverse:http://host:port", s)
	}
	port, prefix := "", ""
	switch u.Scheme {
	case "http", "ws":
		port = "80"
	case "https", "wss":
		port, prefix = "443", "https://"
	default:
		return 0, "", fmt.Errorf("mode %q: unknown scheme %q; use http://, ws://, https:// or wss://", s, u.Scheme)
	}
	if u.Path != "" && u.Path != "/" {
		return 0, "", fmt.Errorf("mode %q: a path is not supported, only scheme://host:port", s)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), port)
	}
	return Reverse, prefix + host, nil
}

// Config configures a Proxy. The zero value is a regular proxy that decodes
// but records nothing.
type Config struct {
	Mode Mode
	// Upstream is, in Reverse mode, where every client connection is
	// relayed: host:port, or https://host:port to speak TLS to it.
	Upstream string

	// CA issues the certificates frametap shows TLS clients. If nil, TLS
	// is not intercepted: tunnels carrying it are relayed opaque, and in
	// reverse mode the client's bytes go to the upstream as they come.
	CA *certs.CA
	// UpstreamRoots verifies the certificates of TLS upstreams. If nil,
	// the system's roots are used.
	UpstreamRoots *x509.CertPool
	// Insecure accepts any upstream certificate (mitmproxy's
	// --ssl-insecure); tls events still say whether it verified. The
	// caller warns the user (once: the command line does).
	Insecure bool
	// IgnoreHosts: CONNECT tunnels whose host:port it matches anywhere
	// (a search, as mitmproxy's ignore_hosts, so that patterns users copy
	// from mitmproxy mean the same) are relayed opaque, never intercepted
	// (for clients that pin certificates). If nil, every TLS tunnel is
	// intercepted when CA is set.
	IgnoreHosts *regexp.Regexp
	// AllowUpstream, if set, is the only upstreams frametap connects to:
	// it must match a host:port whole (frametap anchors it at both ends),
	// and one it does not match gets a 502 before any name lookup or dial.
	// Tests and demos use it to keep a browser's background requests on
	// this machine. If nil, any upstream may be dialed.
	AllowUpstream *regexp.Regexp
	// DialContext connects to upstreams, after AllowUpstream allowed them.
	// If nil, a net.Dialer's is used.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// Decode bounds what the decoders keep (bodies, messages, heads).
	Decode decode.Config
	// Outputs receive every event. Each must be safe for concurrent use.
	Outputs []capture.Output
	// DialTimeout bounds dialing an upstream. If zero, 10 seconds.
	DialTimeout time.Duration
	// HeaderTimeout bounds how long an HTTP client may take to send a
	// request head: the first from the accept, a later one from its
	// first byte. A client that sent part of a head is answered 408; one
	// that sent nothing is closed quietly. If zero, DefaultHeaderTimeout;
	// if negative, none.
	HeaderTimeout time.Duration
	// IdleTimeout bounds how long an HTTP connection may stay open between
	// exchanges, with no request owed an answer and none started. If zero,
	// DefaultIdleTimeout; if negative, none. Neither timeout applies while
	// a body, a WebSocket or a tunnel's bytes flow, or while a response is
	// due.
	IdleTimeout time.Duration
	// Logger reports what is not an event (a failing capture output).
	// If nil, slog.Default() is used.
	Logger *slog.Logger

	// DecodeBodies records, beside each encoded body, its first
	// Decode.MaxBody bytes once its content codings are undone
	// (decoded_body; --decode-bodies). If false, only decoded_len is.
	DecodeBodies bool
}

// Defaults of Config's timeouts. The header timeout is nginx's
// client_header_timeout default, long enough to type a request into nc by
// hand; the idle timeout is longer than the idle timeouts of browsers
// (Firefox 115 s, Chrome 5 minutes at most), so that frametap never closes
// a kept-alive connection the client is about to reuse.
const (
	DefaultHeaderTimeout = 60 * time.Second
	DefaultIdleTimeout   = 5 * time.Minute
)

// Proxy serves client connections. Its methods are safe for concurrent use.
type Proxy struct {
	cfg    Config
	log    *slog.Logger
	nextID atomic.Uint64

	ctx    context.Context // cancelled by Shutdown: ends dials in progress
	cancel context.CancelFunc

	mu        sync.Mutex // guards the registry below, touched once per accept and close
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	shutdown  bool
	wg        sync.WaitGroup // one per live connection

	outputWarned atomic.Bool

	upAddr string // Reverse: Config.Upstream as host:port
	upTLS  bool   // Reverse: the upstream speaks TLS

	allow         *regexp.Regexp // Config.AllowUpstream anchored at both ends
	dialContext   func(ctx context.Context, network, addr string) (net.Conn, error)
	headerTimeout time.Duration // <= 0: none
	idleTimeout   time.Duration // <= 0: none
}

// New returns a Proxy; Serve starts it.
func New(cfg Config) *Proxy {
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	upAddr, upTLS := strings.CutPrefix(cfg.Upstream, "https://")
	var allow *regexp.Regexp
	if cfg.AllowUpstream != nil {
		// A group around any valid expression is valid.
		allow = regexp.MustCompile(`^(?:` + cfg.AllowUpstream.String() + `)$`)
	}
	dial := cfg.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	return &Proxy{
		upAddr:        upAddr,
		upTLS:         upTLS,
		allow:         allow,
		dialContext:   dial,
		headerTimeout: orDefault(cfg.HeaderTimeout, DefaultHeaderTimeout),
		idleTimeout:   orDefault(cfg.IdleTimeout, DefaultIdleTimeout),
		cfg:           cfg,
		log:           lg,
		ctx:           ctx,
		cancel:        cancel,
		listeners:     make(map[net.Listener]struct{}),
		conns:         make(map[*conn]struct{}),
	}
}

// ErrShutdown is returned by Serve after Shutdown.
var ErrShutdown = errors.New("proxy: shut down")

// Serve accepts connections on ln until Shutdown, and returns ErrShutdown
// then, or the listener's error.
func (p *Proxy) Serve(ln net.Listener) error {
	p.mu.Lock()
	if p.shutdown {
		p.mu.Unlock()
		ln.Close()
		return ErrShutdown
	}
	p.listeners[ln] = struct{}{}
	p.mu.Unlock()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			p.mu.Lock()
			down := p.shutdown
			p.mu.Unlock()
			if down {
				return ErrShutdown
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscallEMFILE) {
				// Out of descriptors or a transient error: wait, as
				// net/http does, rather than spin.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				p.log.Warn("accept", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		backoff = 0
		c := newConn(p, nc)
		if !p.register(c) {
			nc.Close()
			return ErrShutdown
		}
		go c.serve()
	}
}

func (p *Proxy) register(c *conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shutdown {
		return false
	}
	p.conns[c] = struct{}{}
	p.wg.Add(1)
	return true
}

func (p *Proxy) unregister(c *conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	p.wg.Done()
}

// Shutdown stops accepting, closes every open connection (each writes its
// close event) and waits for them, or for ctx.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.shutdown = true
	for ln := range p.listeners {
		ln.Close()
	}
	open := make([]*conn, 0, len(p.conns))
	for c := range p.conns {
		open = append(open, c)
	}
	p.mu.Unlock()
	p.cancel()
	for _, c := range open {
		c.abort()
	}

	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shutdown: connections still open: %w", ctx.Err())
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// maxBody is the body bytes kept per message, as decode.Config reads
// Decode.MaxBody.
func (p *Proxy) maxBody() int {
	switch n := p.cfg.Decode.MaxBody; {
	case n == 0:
		return decode.DefaultMaxBody
	case n < 0:
		return 0
	default:
		return n
	}
}

// allowed reports whether Config.AllowUpstream lets frametap dial addr.
func (p *Proxy) allowed(addr string) bool {
	return p.allow == nil || p.allow.MatchString(addr)
}

// intercepts reports whether a CONNECT tunnel to addr is to have its TLS
// terminated.
func (p *Proxy) intercepts(addr string) bool {
	return p.cfg.CA != nil && (p.cfg.IgnoreHosts == nil || !p.cfg.IgnoreHosts.MatchString(addr))
}

// warnOutput reports a failing capture output once: the relay goes on
// (the bytes still reach their peer) but the user must know the record
// has a hole.
func (p *Proxy) warnOutput(err error) {
	if p.outputWarned.CompareAndSwap(false, true) {
		p.log.Error("capture output failing; relaying continues", "err", err)
	}
}
