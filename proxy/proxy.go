// Package proxy accepts client connections, relays their bytes to the
// upstream unchanged (or, as a forward proxy, with request heads rewritten
// as RFC 9110 section 7.6 asks of a proxy) and feeds every byte through a
// decode.Conn on the way, turning what it decodes into capture events.
//
// Each listener has a mode (mode.go), which decides how a connection finds
// its upstream: Regular is an explicit HTTP proxy (absolute-form requests
// and CONNECT tunnels, as browsers and curl use one); Reverse relays every
// connection to one fixed upstream; SOCKS5 is a SOCKS5 proxy; Transparent
// takes connections a firewall redirected; UpstreamProxy is Regular
// reaching servers through another proxy. One Proxy serves any number of
// listeners, each in its mode, into one capture.
package proxy

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/capture/pcapng"
	"github.com/frametap/frametap/decode"
	"github.com/frametap/frametap/proxy/certs"
)

// Config configures a Proxy. The zero value is a regular proxy that decodes
// but records nothing.
type Config struct {
	// Mode is the mode of the listeners given to Serve; ServeMode gives a
	// listener a mode of its own, so that one Proxy (one capture, one
	// numbering of connections, one shutdown) serves several.
	Mode Mode
	// Upstream is what Mode needs, as ParseMode returns it: in Reverse
	// mode, where every client connection is relayed (host:port, or
	// https://host:port to speak TLS to it); in UpstreamProxy mode, the
	// proxy every upstream is reached through
	// (http://[user:pass@]host:port or socks5://[user:pass@]host:port).
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
	// DialContext connects to upstreams (and to an upstream proxy), after
	// AllowUpstream allowed them. If nil, a net.Dialer's is used, which
	// sets Mark.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// Modes beyond regular and reverse (issue 12).

	// ProxyAuth, if set, is the username and password a SOCKS5 client
	// must give (RFC 1929; mitmproxy's --proxyauth user:pass). If nil,
	// SOCKS5 clients need none.
	ProxyAuth *Credentials
	// Mark, if not zero, is set as SO_MARK on every socket frametap dials
	// (Linux; it needs CAP_NET_ADMIN), so that a firewall rule redirecting
	// traffic to a transparent listener can leave frametap's own upstream
	// connections alone. It is ignored when DialContext is set.
	Mark int

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

	// Pcap, if set, gets every connection's bytes as the relay forwards
	// them, as synthetic TCP (--pcap; see pcap.go). The caller closes it
	// after Shutdown.
	Pcap *pcapng.Writer
	// KeyLog, if set, gets the TLS secrets of both legs of every
	// intercepted connection in the NSS key log format (--keylog), as
	// crypto/tls writes them. It must be safe for concurrent use.
	KeyLog io.Writer
	// DecodeBodies records, beside each encoded body, its first
	// Decode.MaxBody bytes once its content codings are undone
	// (decoded_body; --decode-bodies). If false, only decoded_len is.
	DecodeBodies bool

	// Issue 10: push. LongPoll is how long an exchange must be held to
	// be a long poll, and how long a chunked response must stay open for
	// its chunks to be recorded as they come (--long-poll). If zero,
	// push.DefaultLongPoll (1s).
	LongPoll time.Duration
	// SocketIOPath, if set, is a path Socket.IO is decoded on besides
	// DefaultSocketIOPath (--socketio-path; the path option of Socket.IO's
	// server and client), e.g. "/ws/". If empty, only
	// DefaultSocketIOPath is.
	SocketIOPath string
}

// Credentials are a username and password (Config.ProxyAuth).
type Credentials struct {
	User, Password string
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

	settleOnce sync.Once // settle.go, started by the first ServeMode

	outputWarned atomic.Bool

	// own holds the local addresses of the upstream sockets transparent
	// connections dialed, so that one the firewall redirects back to
	// frametap is refused instead of relayed in a loop (transparent.go).
	own sync.Map

	allow         *regexp.Regexp // Config.AllowUpstream anchored at both ends
	dialContext   dialFunc
	headerTimeout time.Duration // <= 0: none
	idleTimeout   time.Duration // <= 0: none

	eio *eioSessions // issue 10: Engine.IO sessions by sid, across connections (eio_session.go)
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
	var allow *regexp.Regexp
	if cfg.AllowUpstream != nil {
		// A group around any valid expression is valid.
		allow = regexp.MustCompile(`^(?:` + cfg.AllowUpstream.String() + `)$`)
	}
	dial := cfg.DialContext
	if dial == nil {
		d := &net.Dialer{}
		if cfg.Mark != 0 {
			d.Control = markControl(cfg.Mark)
		}
		dial = d.DialContext
	}
	return &Proxy{
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
		eio:           newEIOSessions(maxEIOSessions),
	}
}

// ErrShutdown is returned by Serve after Shutdown.
var ErrShutdown = errors.New("proxy: shut down")

// Serve accepts connections on ln until Shutdown, in Config's mode, and
// returns ErrShutdown then, or the listener's error.
func (p *Proxy) Serve(ln net.Listener) error {
	return p.ServeMode(ln, p.cfg.Mode, p.cfg.Upstream)
}

// ServeMode is Serve with ln's own mode and upstream (as Config.Mode and
// Config.Upstream take them). A mode it cannot serve (a malformed
// upstream, transparent mode off Linux) is an error at once.
func (p *Proxy) ServeMode(ln net.Listener, mode Mode, upstream string) error {
	in, err := newIngress(mode, upstream, ln.Addr().String())
	if err != nil {
		ln.Close()
		return err
	}
	p.mu.Lock()
	if p.shutdown {
		p.mu.Unlock()
		ln.Close()
		return ErrShutdown
	}
	p.listeners[ln] = struct{}{}
	p.mu.Unlock()
	p.settleOnce.Do(func() { go p.settle() }) // settle.go

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
		c := newConn(p, in, nc)
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
