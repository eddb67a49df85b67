// Command frametap is an inspecting proxy for HTTP/1.x, HTTP/2 and WebSocket: it
// relays every byte between client and server unchanged, decodes what it
// carries and records it as a capture log.
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/capture/pcapng"
	"github.com/frametap/frametap/capture/push"
	"github.com/frametap/frametap/decode"
	"github.com/frametap/frametap/filter"
	"github.com/frametap/frametap/proxy"
	"github.com/frametap/frametap/ui"
)

// demoRunner starts the demo's scripted client once the proxy listens on
// addr; it stops when ctx is done.
type demoRunner func(ctx context.Context, addr string)

// serve runs the proxy until Ctrl-C (or SIGTERM, or q in the dashboard),
// then shuts it down and flushes the capture. demo, if not nil, is started
// once the proxy listens.
func serve(o options, listenSet bool, stdout, stderr io.Writer, demo demoRunner) error {
	lns, err := parseListeners(o, listenSet)
	if err != nil {
		return err
	}
	proxyAuth, err := parseProxyAuth(o.proxyAuth, lns)
	if err != nil {
		return err
	}
	if o.mark != 0 {
		if err := proxy.CheckMark(o.mark); err != nil {
			return fmt.Errorf("--set-mark: %w", err)
		}
	}
	maxBody, err := parseSize(o.maxBody)
	if err != nil {
		return fmt.Errorf("--max-body: %w", err)
	}
	maxMessage, err := parseSize(o.maxMessage)
	if err != nil {
		return fmt.Errorf("--max-message: %w", err)
	}
	if p := o.socketIOPath; p != "" && (!strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?# ")) { // issue 10
		return fmt.Errorf("--socketio-path %q: want a path that starts with /, such as /ws/", p)
	}
	if o.headerWait < 0 || o.idleWait < 0 {
		return errors.New("--header-timeout and --idle-timeout take a duration such as 30s or 5m, or 0 for no limit")
	}
	var flt *filter.Filter // --filter
	if o.filter != "" {
		if flt, err = parseFilter("--filter", o.filter); err != nil {
			return err
		}
	}
	var allowUp *regexp.Regexp
	if len(o.allowUp) > 0 {
		// The proxy anchors it: each pattern must match a whole host:port.
		if allowUp, err = regexp.Compile("(?i)(?:" + strings.Join(o.allowUp, ")|(?:") + ")"); err != nil {
			return fmt.Errorf("--allow-upstream: %w", err)
		}
	}
	plan, err := planOutputs(o, stdout, stderr)
	if err != nil {
		return err
	}
	o.headless = plan.headless
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

	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancelCause(sigCtx)
	defer cancel(nil)
	pipe := &pipeStopper{cancel: cancel, w: logw}
	// A broken pipe on standard output stops frametap (pipe.go).
	onStdout := func(toStdout bool) func() {
		if toStdout {
			return pipe.stop
		}
		return nil
	}

	var outputs []capture.Output
	var logs []*capture.Log
	var closers []func() error                                // the pcap file and the key log, after the logs
	var captureHealth func() (written, lost int64, err error) // the -w file's, for the status line
	closeLogs := func() error {
		var errs []error
		for _, l := range logs {
			errs = append(errs, dropPipeErr(l.Close(), pipe))
		}
		for _, c := range closers {
			errs = append(errs, dropPipeErr(c(), pipe))
		}
		return errors.Join(errs...)
	}
	if o.write != "" {
		l, name, err := newCaptureLog(o.write, stdout)
		if err != nil {
			return err
		}
		captureHealth = func() (int64, int64, error) { h := l.Health(); return h.Written, h.Lost, h.Err }
		logs = append(logs, l)
		outputs = append(outputs, l)
		go watchCapture(l, name, logw, onStdout(o.write == "-"))
	}
	var store *ui.Store
	switch {
	case o.headless && plan.text != nil:
		text := capture.NewLog(plan.text, capture.Text, capture.LogOptions{})
		logs = append(logs, text)
		outputs = append(outputs, text)
		go watchCapture(text, plan.textName, logw, onStdout(plan.textOut))
	}
	// --filter applies to the -w file and the headless lines, not to the
	// dashboard, which has its own filter (/).
	if outputs, err = filtered(flt, outputs); err != nil {
		closeLogs()
		return err
	}
	if !o.headless {
		store = ui.NewStore(o.uiEvents)
		outputs = append(outputs, store)
		limitHeap(store) // memlimit.go
	}
	var pcapW *pcapng.Writer
	if o.pcap != "" {
		if pcapW, err = newPcap(o.pcap, stdout); err != nil {
			closeLogs()
			return err
		}
		closers = append(closers, pcapW.Close)
		if o.pcap == "-" {
			watchDone := make(chan struct{})
			go watchPcapPipe(pcapW, pipe, watchDone)
			closers = append([]func() error{func() error { close(watchDone); return nil }}, closers...)
		}
	}
	var keys *pcapng.KeyLog
	if o.keylog != "" {
		if keys, err = pcapng.OpenKeyLog(o.keylog); err != nil {
			closeLogs()
			return err
		}
		closers = append(closers, keys.Close)
	}

	// -q keeps stderr for warnings: what frametap listens on and where its
	// CA is are said only without it, as mitmdump -q says neither.
	notices := stderr
	if o.quiet {
		notices = io.Discard
	}
	tlsc, err := o.tls.load(notices, stderr)
	if err != nil {
		closeLogs()
		return err
	}
	var sockets []net.Listener
	for _, l := range lns {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			for _, s := range sockets {
				s.Close()
			}
			closeLogs()
			return fmt.Errorf("--mode %s: %w", l.spec, err)
		}
		sockets = append(sockets, ln)
	}
	ln := sockets[0]
	cfg := proxy.Config{
		Mode:     lns[0].mode, // each listener's is given to ServeMode below
		Upstream: lns[0].upstream,
		Decode:   decode.Config{MaxBody: noneIfZero(maxBody), MaxMessage: noneIfZero(maxMessage)},
		Outputs:  outputs,
		Logger:   logger,

		ProxyAuth:    proxyAuth, // socks5 listeners (issue 12)
		Mark:         o.mark,
		DecodeBodies: o.decodeBodies,
		LongPoll:     o.longPoll,     // issue 10
		SocketIOPath: o.socketIOPath, // issue 10

		CA:            tlsc.ca,
		UpstreamRoots: tlsc.roots,
		Insecure:      tlsc.insecure,
		IgnoreHosts:   tlsc.ignore,
		AllowUpstream: allowUp,

		HeaderTimeout: noLimitIfZero(o.headerWait),
		IdleTimeout:   noLimitIfZero(o.idleWait),

		Pcap: pcapW,
	}
	if keys != nil { // not a nil *KeyLog in the interface
		cfg.KeyLog = keys
	}
	p := proxy.New(cfg)
	var status []ui.Listener // each listener for the dashboard's status line
	for i, l := range lns {
		addr := sockets[i].Addr().String()
		fmt.Fprintf(notices, "frametap: listening on %s, %s", addr, l.describe(addr, proxyAuth != nil, o.mark))
		if o.write != "" {
			fmt.Fprintf(notices, ", capture to %s", displayName(o.write))
		}
		if o.pcap != "" {
			fmt.Fprintf(notices, ", pcap to %s", displayName(o.pcap))
		}
		fmt.Fprintln(notices)
		status = append(status, ui.Listener{Addr: addr, Mode: l.mode.String()})
		if proxyAuth != nil && l.mode != proxy.SOCKS5 && l.mode != proxy.Reverse && l.mode != proxy.Transparent {
			fmt.Fprintf(stderr, "frametap: note: --proxyauth applies to SOCKS5 listeners only: the %s listener on %s takes any client that reaches it\n", l.mode, addr)
		}
	}
	if o.control != "" {
		cs, err := listenControl(o.control, p)
		if err != nil {
			for _, s := range sockets {
				s.Close()
			}
			closeLogs()
			return err
		}
		defer cs.close()
	}

	served := make(chan error, len(lns))
	for i, l := range lns {
		go func() { served <- p.ServeMode(sockets[i], l.mode, l.upstream) }()
	}
	demoCtx, stopDemo := context.WithCancel(ctx)
	demoDone := make(chan struct{})
	if demo != nil {
		go func() { defer close(demoDone); demo(demoCtx, ln.Addr().String()) }()
	} else {
		close(demoDone)
	}
	endDemo := func() { stopDemo(); <-demoDone }

	if store != nil {
		listen, modeName := ln.Addr().String(), lns[0].mode.String()
		if demo != nil {
			modeName += " (demo)"
			status[0].Mode = modeName
		}
		dash := ui.New(ui.Config{Listen: listen, Mode: modeName, Listeners: status, CaptureFile: o.write, CaptureHealth: captureHealth, Insecure: tlsc.insecure, HideHosts: o.uiHide, Push: push.Config{LongPoll: o.longPoll},
			Inject: dashInjector{p}}, store)
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
	sctx, cancelShutdown := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancelShutdown()
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
