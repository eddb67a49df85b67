package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/frametap/frametap/decode"
	"github.com/frametap/frametap/proxy"
)

// This file is frametap's control socket (issue 14): `frametap --control
// PATH` listens on a unix socket, and `frametap inject --control PATH`
// (or any script) asks the running frametap to inject a WebSocket message
// through it. It is how tests and scripts act on live connections without
// the dashboard.
//
// The socket is a unix socket only (never TCP), created owner-only: it is
// bound inside a fresh directory of mode 0700, set to mode 0600, then
// renamed to PATH, so no other user can connect between its creation and
// its chmod; on Linux each connection's peer must also run as frametap's
// user (SO_PEERCRED). The protocol is one JSON object per line: a request
// (controlRequest), answered by zero or more {"waiting": "..."} lines and
// one {"ok": true} or {"error": "..."} line.

// controlRequest is one request on the control socket.
type controlRequest struct {
	Op   string `json:"op"`   // "inject"
	Conn uint64 `json:"conn"` // the connection number, as in the capture
	To   string `json:"to"`   // "server" or "client"
	Type string `json:"type"` // text, binary, ping, pong, close
	// The payload: Text as it is, or Data (base64; JSON's []byte).
	Text   *string `json:"text,omitempty"`
	Data   []byte  `json:"data,omitempty"`
	Code   int     `json:"code,omitempty"`   // close
	Reason string  `json:"reason,omitempty"` // close
	// Timeout bounds the wait for the end of a message under way, e.g.
	// "30s"; 30 s when empty.
	Timeout string `json:"timeout,omitempty"`
}

// controlReply is one line of an answer.
type controlReply struct {
	OK      bool   `json:"ok,omitempty"`
	Waiting string `json:"waiting,omitempty"`
	Error   string `json:"error,omitempty"`
}

// maxControlLine bounds one request: a payload of proxy.MaxInjectPayload
// in base64, and room for the rest.
const maxControlLine = proxy.MaxInjectPayload/3*4 + 64<<10

// controlServer serves the control socket. It is safe for concurrent use.
type controlServer struct {
	p    *proxy.Proxy
	ln   net.Listener
	path string
	wg   sync.WaitGroup
}

// listenControl creates the control socket at path (see the file comment).
// A socket left at path by a frametap that no longer runs is replaced;
// anything else there is an error.
func listenControl(path string, p *proxy.Proxy) (*controlServer, error) {
	if st, err := os.Lstat(path); err == nil {
		if st.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("--control %s: exists and is not a socket", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("--control %s: another frametap listens there", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("--control %s: removing a stale socket: %w", path, err)
		}
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".frametap-control-")
	if err != nil {
		return nil, fmt.Errorf("--control: %w", err)
	}
	defer os.RemoveAll(dir)
	tmp := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", tmp)
	if err != nil {
		return nil, fmt.Errorf("--control: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("--control: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		return nil, fmt.Errorf("--control: %w", err)
	}
	cs := &controlServer{p: p, ln: ln, path: path}
	cs.wg.Go(cs.serve)
	return cs, nil
}

// close stops the control socket, waits for its requests and removes it.
func (cs *controlServer) close() {
	cs.ln.Close()
	os.Remove(cs.path)
	cs.wg.Wait()
}

func (cs *controlServer) serve() {
	for {
		nc, err := cs.ln.Accept()
		if err != nil {
			return
		}
		cs.wg.Go(func() { cs.handle(nc) })
	}
}

// handle answers the requests of one control connection.
func (cs *controlServer) handle(nc net.Conn) {
	defer nc.Close()
	if err := checkPeer(nc); err != nil {
		json.NewEncoder(nc).Encode(controlReply{Error: err.Error()})
		return
	}
	sc := bufio.NewScanner(nc)
	sc.Buffer(nil, maxControlLine)
	enc := json.NewEncoder(nc)
	for sc.Scan() {
		var req controlRequest
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			enc.Encode(controlReply{Error: "control: bad request: " + err.Error()})
			continue
		}
		if err := cs.do(req, enc); err != nil {
			enc.Encode(controlReply{Error: err.Error()})
			continue
		}
		enc.Encode(controlReply{OK: true})
	}
}

// do carries out one request; waiting lines go to enc.
func (cs *controlServer) do(req controlRequest, enc *json.Encoder) error {
	if req.Op != "inject" {
		return fmt.Errorf("control: unknown op %q; want inject", req.Op)
	}
	m, to, err := req.injection()
	if err != nil {
		return err
	}
	wait := 30 * time.Second
	if req.Timeout != "" {
		if wait, err = time.ParseDuration(req.Timeout); err != nil || wait <= 0 || wait > 10*time.Minute {
			return fmt.Errorf("control: timeout %q: want a duration up to 10m", req.Timeout)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	m.OnWait = func() {
		enc.Encode(controlReply{Waiting: fmt.Sprintf("connection %d: the %s is inside a message; waiting for its end (at most %v)", req.Conn, to.Other(), wait)})
	}
	return cs.p.Inject(ctx, req.Conn, to, m)
}

// injection reads the message of an inject request.
func (req controlRequest) injection() (proxy.Injection, decode.Side, error) {
	var to decode.Side
	switch req.To {
	case "server":
		to = decode.Server
	case "client":
		to = decode.Client
	default:
		return proxy.Injection{}, 0, fmt.Errorf("control: to %q: want server or client", req.To)
	}
	typ := req.Type
	if typ == "" {
		typ = "text"
	}
	op, err := proxy.ParseInjectOp(typ)
	if err != nil {
		return proxy.Injection{}, 0, err
	}
	m := proxy.Injection{Op: op, Payload: req.Data, CloseCode: req.Code, CloseReason: req.Reason}
	if req.Text != nil {
		if req.Data != nil {
			return proxy.Injection{}, 0, errors.New("control: give text or data, not both")
		}
		m.Payload = []byte(*req.Text)
	}
	return m, to, nil
}

// runInject is `frametap inject`: it asks a frametap started with
// --control to write one WebSocket message into a live connection.
func runInject(args []string, stdout, stderr io.Writer) error {
	var (
		req             controlRequest
		sock, text, hx  string
		b64, timeoutStr string
	)
	fs := flag.NewFlagSet("frametap inject", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: frametap inject --control SOCKET --conn N --to server|client [--type T] [--text S | --hex H | --base64 B] [--code N --reason R]

Writes one WebSocket message into live connection N of a frametap started with
--control SOCKET, at the next message boundary of that direction (it waits for
a message under way to end). Toward the server it is masked as a client's;
toward the client it is not. It shows in the capture with "injected": true.

  frametap inject --control /tmp/ft.sock --conn 3 --to server --text '{"type":"ping"}'
  frametap inject --control /tmp/ft.sock --conn 3 --to client --type close --code 1001 --reason bye

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&sock, "control", "", "the control `SOCKET` of a running frametap (its --control)")
	fs.Uint64Var(&req.Conn, "conn", 0, "the connection `N`, as the capture and the dashboard number it")
	fs.StringVar(&req.To, "to", "", "where the message goes: server or client")
	fs.StringVar(&req.Type, "type", "text", "text, binary, ping, pong or close")
	fs.StringVar(&text, "text", "", "the payload, as it is")
	fs.StringVar(&hx, "hex", "", "the payload in hex")
	fs.StringVar(&b64, "base64", "", "the payload in base64")
	fs.IntVar(&req.Code, "code", 0, "close: the status code (RFC 6455 section 7.4: 1000-1003, 1007-1014, 3000-4999)")
	fs.StringVar(&req.Reason, "reason", "", "close: the reason")
	fs.StringVar(&timeoutStr, "timeout", "30s", "how long to wait for a message under way to end")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("inject: unexpected argument %q (see -h)", fs.Arg(0))
	}
	if sock == "" || req.Conn == 0 || req.To == "" {
		fs.Usage()
		return errors.New("inject: --control, --conn and --to are required")
	}
	given := 0
	if flagSet(fs, "text") {
		given++
		req.Text = &text
	}
	if hx != "" {
		given++
		b, err := hex.DecodeString(strings.Join(strings.Fields(hx), ""))
		if err != nil {
			return fmt.Errorf("inject: --hex: %w", err)
		}
		req.Data = b
	}
	if b64 != "" {
		given++
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return fmt.Errorf("inject: --base64: %w", err)
		}
		req.Data = b
	}
	if given > 1 {
		return errors.New("inject: give one of --text, --hex and --base64")
	}
	req.Op, req.Timeout = "inject", timeoutStr
	return controlCall(sock, req, stderr)
}

// controlCall sends req on the control socket and reads the answer,
// passing waiting lines on to stderr.
func controlCall(sock string, req controlRequest, stderr io.Writer) error {
	nc, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		return fmt.Errorf("inject: is frametap running with --control %s? %w", sock, err)
	}
	defer nc.Close()
	line, err := json.Marshal(req)
	if err != nil {
		return err
	}
	if _, err := nc.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("inject: %w", err)
	}
	sc := bufio.NewScanner(nc)
	for sc.Scan() {
		var r controlReply
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return fmt.Errorf("inject: bad answer %q: %w", sc.Bytes(), err)
		}
		switch {
		case r.Waiting != "":
			fmt.Fprintln(stderr, "frametap inject:", r.Waiting)
		case r.Error != "":
			return errors.New(r.Error)
		case r.OK:
			return nil
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("inject: %w", err)
	}
	return errors.New("inject: frametap closed the control connection without an answer")
}
